#ifndef KPID_CPROTOBUFC_SHIM_H
#define KPID_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif
