#ifndef CLMDB_BASELINE_H
#define CLMDB_BASELINE_H

// A raw-liblmdb baseline for LMDBWindowStore: the same key schema, the same segments and the same
// work per operation, with nothing in between. The benchmarks run it next to the Swift store so that
// "store rate / C rate" compares the Swift layer, not the machine's mood.
//
// Schema (mirrors StreamsState's LMDB key schema for short keys):
//   - one named database per time segment, "seg.<segment id>", segment id = timestamp / interval;
//   - stored key = [UInt16 big-endian key length][key bytes][Int64 big-endian timestamp, sign bit
//     flipped], so that one key's entries sort by time and unsigned byte order is numeric order;
//   - value = 8 bytes.
// Environment flags: MDB_WRITEMAP | MDB_NOSYNC.
//
// Every function returns 0 or an LMDB (or errno) error code; results come back through pointers.
// A handle is used from one thread at a time, always starts from an empty directory and keeps the
// list of its segments itself (as the store does), so lookups never call mdb_dbi_open. After an
// error, close it.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An LMDB environment plus its segment databases and stream time.
typedef struct clmdb_baseline clmdb_baseline;

/// The window semantics shared with the store.
typedef struct {
    /// Time span of one segment database, in ms.
    int64_t segment_interval_ms;
    /// An entry (k, t) is live while t + retention_ms > stream time.
    int64_t retention_ms;
    /// Maximum number of segment databases (mdb_env_set_maxdbs).
    unsigned int max_segments;
    /// LMDB map size in bytes (virtual; WRITEMAP grows the file as pages are used).
    size_t map_size;
} clmdb_baseline_options;

/// Opens (creating) an environment in the existing directory `path`.
int clmdb_baseline_open(const char *path, clmdb_baseline_options options, clmdb_baseline **out);

/// Closes the environment and frees the handle. Pending nothing: every call commits its own work.
void clmdb_baseline_close(clmdb_baseline *b);

/// Put-if-absent for `count` operations: operation i has key `keys + i * key_len`, timestamp
/// `timestamps_ms[i]` and value `values + i * 8`. For each: stream time advances to the timestamp;
/// the conflict range is [ts - window_ms, ts] clipped to live entries; every existing segment that
/// overlaps it (oldest first) is searched with one MDB_SET_RANGE to (key, range start) and a prefix
/// compare; when nothing is found the entry is mdb_put into the timestamp's segment. One write
/// transaction per `txn_batch` operations.
int clmdb_baseline_put_if_absent(
    clmdb_baseline *b, const uint8_t *keys, size_t key_len, const int64_t *timestamps_ms,
    const uint8_t *values, size_t count, size_t txn_batch, int64_t window_ms, size_t *inserted);

/// Plain puts (no lookup), one write transaction per `txn_batch` operations; used to build
/// fixtures and as the "restore" baseline.
int clmdb_baseline_put(
    clmdb_baseline *b, const uint8_t *keys, size_t key_len, const int64_t *timestamps_ms,
    const uint8_t *values, size_t count, size_t txn_batch);

/// The search half of put-if-absent for `count` keys, in one read transaction: counts the keys
/// with a live entry in [ts - window_ms, ts].
int clmdb_baseline_lookup(
    clmdb_baseline *b, const uint8_t *keys, size_t key_len, const int64_t *timestamps_ms, size_t count,
    int64_t window_ms, size_t *found);

/// Range fetch for `count` keys, in one read transaction: walks every live entry of the key in
/// [ts - window_ms, ts + window_ms] (MDB_SET_RANGE then MDB_NEXT while the prefix matches) and
/// copies its timestamp and value out. Counts the entries.
int clmdb_baseline_fetch(
    clmdb_baseline *b, const uint8_t *keys, size_t key_len, const int64_t *timestamps_ms, size_t count,
    int64_t window_ms, size_t *entries);

/// Deletes the entries (keys[i], timestamps_ms[i]) one by one with mdb_del, one write transaction
/// per `txn_batch`; missing entries are skipped. The "no segments" way to expire data.
int clmdb_baseline_delete_each(
    clmdb_baseline *b, const uint8_t *keys, size_t key_len, const int64_t *timestamps_ms, size_t count,
    size_t txn_batch, size_t *deleted);

/// Drops the segment database `segment_id` (mdb_drop(..., 1)) in one write transaction; a missing
/// segment is not an error.
int clmdb_baseline_drop_segment(clmdb_baseline *b, int64_t segment_id);

/// Number of entries over all segment databases.
int clmdb_baseline_entry_count(clmdb_baseline *b, size_t *count);

/// Bytes of the map in use: (last used page + 1) * page size.
int clmdb_baseline_bytes_used(clmdb_baseline *b, size_t *bytes);

/// The current stream time (largest timestamp written), or INT64_MIN.
int64_t clmdb_baseline_stream_time(const clmdb_baseline *b);

/// A static description of an error code (mdb_strerror).
const char *clmdb_baseline_strerror(int rc);

#ifdef __cplusplus
}
#endif

#endif
