#ifndef KPID_CZLIB_SHIM_H
#define KPID_CZLIB_SHIM_H
#include <zlib.h>

/// inflateInit2 is a macro (it passes the library version and struct size); Swift cannot call it.
/// windowBits 15 + 32: accept both zlib and gzip headers.
static inline int kpid_inflate_init(z_stream *stream) {
    return inflateInit2(stream, 15 + 32);
}
#endif
