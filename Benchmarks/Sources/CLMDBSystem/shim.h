#ifndef CLMDB_SYSTEM_SHIM_H
#define CLMDB_SYSTEM_SHIM_H

// liblmdb for the benchmarks' C baseline; found through `pkg-config lmdb`.
#include <lmdb.h>

#endif
