// Raw-liblmdb baseline for LMDBWindowStore; see include/clmdb_baseline.h for the schema.
#include "clmdb_baseline.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLMDB_MAX_KEY 1024
#define CLMDB_SEGMENTS_CAP 1024

typedef struct {
    int64_t id;
    MDB_dbi dbi;
    // This segment's cursor in the current transaction, opened on first use and kept until the
    // transaction ends (mdb_cursor_open mallocs; the store caches its cursors the same way).
    MDB_cursor *cursor;
} segment_slot;

struct clmdb_baseline {
    MDB_env *env;
    clmdb_baseline_options options;
    int64_t stream_time;
    // Open segment databases, sorted by id. Small (a handful of live segments), so linear search.
    segment_slot segments[CLMDB_SEGMENTS_CAP];
    size_t segment_count;
};

// ---- key schema ----------------------------------------------------------------------------------

static inline size_t encode_key(uint8_t *out, const uint8_t *key, size_t key_len, int64_t ts) {
    out[0] = (uint8_t)(key_len >> 8);
    out[1] = (uint8_t)key_len;
    memcpy(out + 2, key, key_len);
    uint64_t u = (uint64_t)ts ^ 0x8000000000000000ULL;
    uint8_t *t = out + 2 + key_len;
    for (int i = 7; i >= 0; i--) {
        t[i] = (uint8_t)u;
        u >>= 8;
    }
    return 2 + key_len + 8;
}

static inline int64_t decode_ts(const uint8_t *t) {
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = (u << 8) | t[i];
    return (int64_t)(u ^ 0x8000000000000000ULL);
}

// Floor division, so negative timestamps land in the right segment.
static inline int64_t segment_of(const clmdb_baseline *b, int64_t ts) {
    int64_t q = ts / b->options.segment_interval_ms;
    if ((ts % b->options.segment_interval_ms) < 0) q -= 1;
    return q;
}

// The earliest live timestamp at the current stream time.
static inline int64_t earliest_live(const clmdb_baseline *b) {
    if (b->stream_time == INT64_MIN) return INT64_MIN;
    return b->stream_time - b->options.retention_ms + 1;
}

// ---- segment databases ---------------------------------------------------------------------------

static segment_slot *find_segment(clmdb_baseline *b, int64_t id) {
    for (size_t i = 0; i < b->segment_count; i++) {
        if (b->segments[i].id == id) return &b->segments[i];
    }
    return NULL;
}

// The segment `id`; *out is NULL with rc 0 if it does not exist (and `create` is 0).
// The handle owns its environment, so the list is authoritative: a segment it does not list does
// not exist, and no lookup costs an mdb_dbi_open (as the store, which keeps its own segment list).
static int open_segment(clmdb_baseline *b, MDB_txn *txn, int64_t id, int create, segment_slot **out) {
    *out = find_segment(b, id);
    if (*out || !create) return 0;
    if (b->segment_count == CLMDB_SEGMENTS_CAP) return MDB_DBS_FULL;
    char name[32];
    snprintf(name, sizeof name, "seg.%lld", (long long)id);
    MDB_dbi dbi;
    int rc = mdb_dbi_open(txn, name, MDB_CREATE, &dbi);
    if (rc) return rc;
    segment_slot *slot = &b->segments[b->segment_count++];
    slot->id = id;
    slot->dbi = dbi;
    slot->cursor = NULL;
    *out = slot;
    return 0;
}

// The slot's cursor in the current transaction.
static inline int slot_cursor(MDB_txn *txn, segment_slot *slot, MDB_cursor **cursor) {
    if (!slot->cursor) {
        int rc = mdb_cursor_open(txn, slot->dbi, &slot->cursor);
        if (rc) return rc;
    }
    *cursor = slot->cursor;
    return 0;
}

// Forgets the cursors of the transaction that is ending. A read transaction's must be closed
// (`close`); LMDB frees a write transaction's itself when it commits or aborts.
static void release_cursors(clmdb_baseline *b, int close) {
    for (size_t i = 0; i < b->segment_count; i++) {
        if (close && b->segments[i].cursor) mdb_cursor_close(b->segments[i].cursor);
        b->segments[i].cursor = NULL;
    }
}

static void forget_segment(clmdb_baseline *b, int64_t id) {
    for (size_t i = 0; i < b->segment_count; i++) {
        if (b->segments[i].id == id) {
            b->segments[i] = b->segments[b->segment_count - 1];
            b->segment_count--;
            return;
        }
    }
}

// ---- lookups -------------------------------------------------------------------------------------

// Searches the live entries of `key` in [from, to]: one MDB_SET_RANGE per existing overlapping
// segment, oldest first, on the segment's cached cursor. *found_ts is set when found (returns 0
// either way; MDB_NOTFOUND is not an error).
static int search(clmdb_baseline *b, MDB_txn *txn, const uint8_t *key, size_t key_len, int64_t from,
                  int64_t to, int *found, int64_t *found_ts) {
    *found = 0;
    int64_t live = earliest_live(b);
    if (from < live) from = live;
    if (from > to) return 0;
    uint8_t buf[CLMDB_MAX_KEY + 10];
    const size_t prefix = 2 + key_len;
    for (int64_t seg = segment_of(b, from), last = segment_of(b, to); seg <= last; seg++) {
        segment_slot *slot = find_segment(b, seg);
        if (!slot) continue;
        MDB_cursor *cursor;
        int rc = slot_cursor(txn, slot, &cursor);
        if (rc) return rc;
        MDB_val k = {encode_key(buf, key, key_len, from), buf}, v;
        rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == prefix + 8 && memcmp(k.mv_data, buf, prefix) == 0) {
            int64_t ts = decode_ts((const uint8_t *)k.mv_data + prefix);
            if (ts <= to) {
                *found = 1;
                *found_ts = ts;
            }
        }
        if (rc && rc != MDB_NOTFOUND) return rc;
        if (*found) return 0;
    }
    return 0;
}

// ---- public API ----------------------------------------------------------------------------------

int clmdb_baseline_open(const char *path, clmdb_baseline_options options, clmdb_baseline **out) {
    *out = NULL;
    if (options.segment_interval_ms <= 0 || options.retention_ms <= 0) return EINVAL;
    clmdb_baseline *b = calloc(1, sizeof *b);
    if (!b) return ENOMEM;
    b->options = options;
    b->stream_time = INT64_MIN;
    int rc = mdb_env_create(&b->env);
    if (rc) goto fail;
    if ((rc = mdb_env_set_maxdbs(b->env, options.max_segments))) goto fail;
    if ((rc = mdb_env_set_mapsize(b->env, options.map_size))) goto fail;
    if ((rc = mdb_env_open(b->env, path, MDB_WRITEMAP | MDB_NOSYNC, 0644))) goto fail;
    *out = b;
    return 0;
fail:
    if (b->env) mdb_env_close(b->env);
    free(b);
    return rc;
}

void clmdb_baseline_close(clmdb_baseline *b) {
    if (!b) return;
    mdb_env_close(b->env);
    free(b);
}

int clmdb_baseline_put_if_absent(clmdb_baseline *b, const uint8_t *keys, size_t key_len,
                                 const int64_t *timestamps_ms, const uint8_t *values, size_t count,
                                 size_t txn_batch, int64_t window_ms, size_t *inserted) {
    *inserted = 0;
    if (key_len > CLMDB_MAX_KEY || txn_batch == 0) return EINVAL;
    uint8_t buf[CLMDB_MAX_KEY + 10];
    size_t done = 0;
    while (done < count) {
        size_t end = done + txn_batch < count ? done + txn_batch : count;
        MDB_txn *txn;
        int rc = mdb_txn_begin(b->env, NULL, 0, &txn);
        if (rc) return rc;
        for (size_t i = done; i < end; i++) {
            const uint8_t *key = keys + i * key_len;
            int64_t ts = timestamps_ms[i];
            if (ts > b->stream_time) b->stream_time = ts;
            if (ts < earliest_live(b)) continue;  // already expired: could never be read
            int found;
            int64_t found_ts;
            rc = search(b, txn, key, key_len, ts - window_ms, ts, &found, &found_ts);
            if (rc) goto abort;
            if (found) continue;
            // Put through the segment's cursor, which the search usually left on the right leaf
            // page, so LMDB skips the descent (the store does the same).
            segment_slot *slot;
            MDB_cursor *cursor;
            if ((rc = open_segment(b, txn, segment_of(b, ts), 1, &slot))) goto abort;
            if ((rc = slot_cursor(txn, slot, &cursor))) goto abort;
            MDB_val k = {encode_key(buf, key, key_len, ts), buf};
            MDB_val v = {8, (void *)(values + i * 8)};
            if ((rc = mdb_cursor_put(cursor, &k, &v, 0))) goto abort;
            (*inserted)++;
        }
        release_cursors(b, 0);
        if ((rc = mdb_txn_commit(txn))) return rc;
        done = end;
        continue;
    abort:
        release_cursors(b, 0);
        mdb_txn_abort(txn);  // the handle is unusable now (see the header)
        return rc;
    }
    return 0;
}

int clmdb_baseline_put(clmdb_baseline *b, const uint8_t *keys, size_t key_len, const int64_t *timestamps_ms,
                       const uint8_t *values, size_t count, size_t txn_batch) {
    if (key_len > CLMDB_MAX_KEY || txn_batch == 0) return EINVAL;
    uint8_t buf[CLMDB_MAX_KEY + 10];
    size_t done = 0;
    while (done < count) {
        size_t end = done + txn_batch < count ? done + txn_batch : count;
        MDB_txn *txn;
        int rc = mdb_txn_begin(b->env, NULL, 0, &txn);
        if (rc) return rc;
        for (size_t i = done; i < end; i++) {
            int64_t ts = timestamps_ms[i];
            if (ts > b->stream_time) b->stream_time = ts;
            segment_slot *slot;
            if ((rc = open_segment(b, txn, segment_of(b, ts), 1, &slot))) goto abort;
            MDB_val k = {encode_key(buf, keys + i * key_len, key_len, ts), buf};
            MDB_val v = {8, (void *)(values + i * 8)};
            if ((rc = mdb_put(txn, slot->dbi, &k, &v, 0))) goto abort;
        }
        if ((rc = mdb_txn_commit(txn))) return rc;
        done = end;
        continue;
    abort:
        mdb_txn_abort(txn);
        return rc;
    }
    return 0;
}

int clmdb_baseline_lookup(clmdb_baseline *b, const uint8_t *keys, size_t key_len, const int64_t *timestamps_ms,
                          size_t count, int64_t window_ms, size_t *found_count) {
    *found_count = 0;
    if (key_len > CLMDB_MAX_KEY) return EINVAL;
    MDB_txn *txn;
    int rc = mdb_txn_begin(b->env, NULL, MDB_RDONLY, &txn);
    if (rc) return rc;
    for (size_t i = 0; i < count; i++) {
        int found;
        int64_t found_ts;
        int64_t ts = timestamps_ms[i];
        rc = search(b, txn, keys + i * key_len, key_len, ts - window_ms, ts, &found, &found_ts);
        if (rc) {
            release_cursors(b, 1);
            mdb_txn_abort(txn);
            return rc;
        }
        *found_count += (size_t)found;
    }
    release_cursors(b, 1);
    return mdb_txn_commit(txn);
}

int clmdb_baseline_fetch(clmdb_baseline *b, const uint8_t *keys, size_t key_len, const int64_t *timestamps_ms,
                         size_t count, int64_t window_ms, size_t *entries) {
    *entries = 0;
    if (key_len > CLMDB_MAX_KEY) return EINVAL;
    uint8_t buf[CLMDB_MAX_KEY + 10];
    const size_t prefix = 2 + key_len;
    volatile int64_t sink_ts = 0;
    volatile uint64_t sink_value = 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(b->env, NULL, MDB_RDONLY, &txn);
    if (rc) return rc;
    int64_t live = earliest_live(b);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *key = keys + i * key_len;
        int64_t from = timestamps_ms[i] - window_ms, to = timestamps_ms[i] + window_ms;
        if (from < live) from = live;
        for (int64_t seg = segment_of(b, from), last = segment_of(b, to); from <= to && seg <= last; seg++) {
            segment_slot *slot = find_segment(b, seg);
            if (!slot) continue;
            MDB_cursor *cursor;
            if ((rc = slot_cursor(txn, slot, &cursor))) goto fail;
            MDB_val k = {encode_key(buf, key, key_len, from), buf}, v;
            rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
            while (rc == 0 && k.mv_size == prefix + 8 && memcmp(k.mv_data, buf, prefix) == 0) {
                int64_t ts = decode_ts((const uint8_t *)k.mv_data + prefix);
                if (ts > to) break;
                uint64_t value;
                memcpy(&value, v.mv_data, v.mv_size < 8 ? v.mv_size : 8);
                sink_ts = ts;
                sink_value = value;
                (*entries)++;
                rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
            }
            if (rc && rc != MDB_NOTFOUND) goto fail;
            rc = 0;
        }
    }
    (void)sink_ts;
    (void)sink_value;
    release_cursors(b, 1);
    return mdb_txn_commit(txn);
fail:
    release_cursors(b, 1);
    mdb_txn_abort(txn);
    return rc;
}

int clmdb_baseline_delete_each(clmdb_baseline *b, const uint8_t *keys, size_t key_len, const int64_t *timestamps_ms,
                               size_t count, size_t txn_batch, size_t *deleted) {
    *deleted = 0;
    if (key_len > CLMDB_MAX_KEY || txn_batch == 0) return EINVAL;
    uint8_t buf[CLMDB_MAX_KEY + 10];
    size_t done = 0;
    while (done < count) {
        size_t end = done + txn_batch < count ? done + txn_batch : count;
        MDB_txn *txn;
        int rc = mdb_txn_begin(b->env, NULL, 0, &txn);
        if (rc) return rc;
        for (size_t i = done; i < end; i++) {
            int64_t ts = timestamps_ms[i];
            segment_slot *slot = find_segment(b, segment_of(b, ts));
            if (!slot) continue;
            MDB_val k = {encode_key(buf, keys + i * key_len, key_len, ts), buf};
            rc = mdb_del(txn, slot->dbi, &k, NULL);
            if (rc == 0) (*deleted)++;
            else if (rc != MDB_NOTFOUND) goto abort;
        }
        if ((rc = mdb_txn_commit(txn))) return rc;
        done = end;
        continue;
    abort:
        mdb_txn_abort(txn);
        return rc;
    }
    return 0;
}

int clmdb_baseline_drop_segment(clmdb_baseline *b, int64_t segment_id) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(b->env, NULL, 0, &txn);
    if (rc) return rc;
    segment_slot *slot = find_segment(b, segment_id);
    if (!slot) {
        mdb_txn_abort(txn);
        return 0;
    }
    if ((rc = mdb_drop(txn, slot->dbi, 1))) goto abort;
    forget_segment(b, segment_id);
    return mdb_txn_commit(txn);
abort:
    mdb_txn_abort(txn);
    return rc;
}

int clmdb_baseline_entry_count(clmdb_baseline *b, size_t *count) {
    *count = 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(b->env, NULL, MDB_RDONLY, &txn);
    if (rc) return rc;
    MDB_dbi main_dbi;
    MDB_cursor *cursor;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) || (rc = mdb_cursor_open(txn, main_dbi, &cursor))) {
        mdb_txn_abort(txn);
        return rc;
    }
    // Every named database is a key of the main database.
    MDB_val k, v;
    char name[64];
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        if (k.mv_size >= sizeof name) continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = 0;
        MDB_dbi dbi;
        MDB_stat st;
        if (mdb_dbi_open(txn, name, 0, &dbi) == 0 && mdb_stat(txn, dbi, &st) == 0) *count += st.ms_entries;
    }
    mdb_cursor_close(cursor);
    // Commit, not abort: handles this transaction opened stay valid (abort would close them).
    int commit_rc = mdb_txn_commit(txn);
    return rc == MDB_NOTFOUND ? commit_rc : rc;
}

int clmdb_baseline_bytes_used(clmdb_baseline *b, size_t *bytes) {
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(b->env, &info);
    if (rc) return rc;
    if ((rc = mdb_env_stat(b->env, &st))) return rc;
    *bytes = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
    return 0;
}

int64_t clmdb_baseline_stream_time(const clmdb_baseline *b) { return b->stream_time; }

const char *clmdb_baseline_strerror(int rc) { return mdb_strerror(rc); }
