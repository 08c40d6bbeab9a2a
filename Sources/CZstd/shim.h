#ifndef KPID_CZSTD_SHIM_H
#define KPID_CZSTD_SHIM_H
#include <zstd.h>
#endif
