#ifndef C_STREAMS_LMDB_SHIM_H
#define C_STREAMS_LMDB_SHIM_H

// The one C header of swift-dedup's LMDB binding. Only the StreamsLMDB target imports it.
#include <lmdb.h>

#endif
