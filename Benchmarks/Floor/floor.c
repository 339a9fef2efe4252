// The C floor of `make bench-peers` (issue 12): the least work that deduplicates the benchmark's
// JSON Lines by order.id, keeping the first occurrence in file order. It maps each input, splits
// lines with memchr, finds the key with memmem (`"order":{"id":"` up to the next quote, the
// layout `dedup generate` writes), keeps the keys in an open-addressing hash set that points into
// the mapped files, and writes first occurrences to one file and duplicates to another through
// 1 MiB buffers. No JSON parsing (escapes, other key layouts and invalid lines are not handled),
// no window, no durability (no fsync): a floor, not a peer.
//
// Usage: floor OUTPUT DUPLICATES INPUT...
// Prints "kept K duplicates D lines L" on standard output. Exit status 65 if a line lacks the key,
// 74 on an I/O error.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char needle[] = "\"order\":{\"id\":\"";

typedef struct {
    int fd;
    const char *path;
    char *buf;
    size_t used;
} Out;

enum { OUT_BUF = 1 << 20 };

static void out_flush(Out *o) {
    size_t done = 0;
    while (done < o->used) {
        ssize_t n = write(o->fd, o->buf + done, o->used - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "floor: cannot write %s: %s; check free space and permissions\n", o->path,
                    strerror(errno));
            exit(74);
        }
        done += (size_t)n;
    }
    o->used = 0;
}

static inline void out_line(Out *o, const char *p, size_t n) {
    if (o->used + n > OUT_BUF) out_flush(o);
    if (n > OUT_BUF) {  // a line longer than the buffer goes straight out
        Out direct = {o->fd, o->path, (char *)p, n};
        out_flush(&direct);
        return;
    }
    memcpy(o->buf + o->used, p, n);
    o->used += n;
}

static Out out_open(const char *path) {
    Out o = {open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), path, malloc(OUT_BUF), 0};
    if (o.fd < 0 || o.buf == NULL) {
        fprintf(stderr, "floor: cannot create %s: %s; check the directory exists and is writable\n", path,
                strerror(errno));
        exit(74);
    }
    return o;
}

// Open addressing, linear probing; a slot holds the key's hash and a pointer into a mapped input
// (the inputs stay mapped until exit). Grows at half full.
typedef struct {
    uint64_t hash;
    const char *key;
    uint32_t len;
} Slot;

static Slot *slots;
static size_t mask, count;

static inline uint64_t hash_key(const char *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    return h | 1;  // 0 marks an empty slot
}

static void grow(void) {
    size_t cap = (mask + 1) * 2;
    Slot *next = calloc(cap, sizeof(Slot));
    if (next == NULL) {
        fprintf(stderr, "floor: out of memory at %zu keys\n", count);
        exit(70);
    }
    for (size_t i = 0; i <= mask; i++) {
        if (slots[i].hash == 0) continue;
        size_t j = slots[i].hash & (cap - 1);
        while (next[j].hash != 0) j = (j + 1) & (cap - 1);
        next[j] = slots[i];
    }
    free(slots);
    slots = next;
    mask = cap - 1;
}

// Returns 1 if the key was new (and inserts it), 0 if it was already there.
static inline int insert(const char *key, uint32_t len) {
    uint64_t h = hash_key(key, len);
    size_t i = h & mask;
    while (slots[i].hash != 0) {
        if (slots[i].hash == h && slots[i].len == len && memcmp(slots[i].key, key, len) == 0) return 0;
        i = (i + 1) & mask;
    }
    slots[i] = (Slot){h, key, len};
    if (++count * 2 > mask + 1) grow();
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: floor OUTPUT DUPLICATES INPUT...\n");
        return 64;
    }
    mask = (1u << 16) - 1;
    slots = calloc(mask + 1, sizeof(Slot));
    Out kept = out_open(argv[1]), dups = out_open(argv[2]);
    size_t nkept = 0, ndups = 0, nlines = 0;
    for (int a = 3; a < argc; a++) {
        const char *path = argv[a];
        int fd = open(path, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            fprintf(stderr, "floor: cannot read %s: %s; check the path\n", path, strerror(errno));
            return 74;
        }
        if (st.st_size == 0) continue;
        const char *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (base == MAP_FAILED) {
            fprintf(stderr, "floor: cannot map %s: %s\n", path, strerror(errno));
            return 74;
        }
        madvise((void *)base, (size_t)st.st_size, MADV_SEQUENTIAL);
        const char *p = base, *end = base + st.st_size;
        size_t line = 0;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *eol = nl ? nl : end;  // a last line without a newline still counts
            line++;
            const char *k = memmem(p, (size_t)(eol - p), needle, sizeof needle - 1);
            const char *q = k ? memchr(k + sizeof needle - 1, '"', (size_t)(eol - k - (sizeof needle - 1))) : NULL;
            if (q == NULL) {
                fprintf(stderr, "floor: %s:%zu: no \"order\":{\"id\":\"…\"} in the line; the floor reads only what "
                        "`dedup generate` writes\n", path, line);
                return 65;
            }
            const char *key = k + sizeof needle - 1;
            size_t n = nl ? (size_t)(nl + 1 - p) : (size_t)(end - p);
            if (insert(key, (uint32_t)(q - key))) {
                out_line(&kept, p, n);
                nkept++;
            } else {
                out_line(&dups, p, n);
                ndups++;
            }
            nlines++;
            p = eol + 1;
        }
        close(fd);  // the mapping stays: the set points into it
    }
    out_flush(&kept);
    out_flush(&dups);
    if (close(kept.fd) != 0 || close(dups.fd) != 0) {
        fprintf(stderr, "floor: cannot close the output: %s\n", strerror(errno));
        return 74;
    }
    printf("kept %zu duplicates %zu lines %zu\n", nkept, ndups, nlines);
    return 0;
}
