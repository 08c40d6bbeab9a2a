#ifndef KPID_CSNAPPY_SHIM_H
#define KPID_CSNAPPY_SHIM_H
// Snappy's C API (libsnappy-dev): block format, as Prometheus remote write uses.
#include <snappy-c.h>
#endif
