#ifndef KPID_CZLIB_SHIM_H
#define KPID_CZLIB_SHIM_H
#include <zlib.h>

/// inflateInit2 is a macro (it passes the library version and struct size); Swift cannot call it.
/// windowBits 15 + 32: accept both zlib and gzip headers.
static inline int kpid_inflate_init(z_stream *stream) {
    return inflateInit2(stream, 15 + 32);
}

/// deflateInit2 for a gzip stream (windowBits 15 + 16): zlib writes a header with no name and
/// a zero modification time, so the same input gives the same bytes.
static inline int kpid_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
#endif
