#ifndef C_STREAMS_SYSTEM_SHIM_H
#define C_STREAMS_SYSTEM_SHIM_H

// What Swift cannot reach by itself: Linux calls that Swift's Glibc module does not declare
// (glibc declares them only under _GNU_SOURCE), and the CPU's CRC-32C instruction. Only
// StreamsEmbedded imports this module (Descriptor.swift and CRC32C.swift).

#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>

// Starts writeback of a file range without waiting for it (SYNC_FILE_RANGE_WRITE): a hint that
// lets the commit's fsync find the data already on its way to the device. Returns 0 or -1/errno.
static inline int c_streams_start_writeback(int fd, long long offset, long long length) {
    return sync_file_range(fd, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
}
#else
static inline int c_streams_start_writeback(int fd, long long offset, long long length) {
    (void)fd;
    (void)offset;
    (void)length;
    return 0;
}
#endif

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
// CRC-32C with SSE4.2's crc32 instruction, 8 bytes a step: the changelog checksums every stored
// record, and the slicing-by-8 table version was about 2% of an exactly-once run. Call only when
// c_streams_crc32c_hardware_available() says so; same result as the software version.
__attribute__((target("sse4.2"))) static inline uint32_t c_streams_crc32c_hardware(
    uint32_t crc, const void *bytes, size_t length) {
    const unsigned char *p = (const unsigned char *)bytes;
    uint64_t c = (uint32_t)~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    if (length >= 4) {
        uint32_t word;
        memcpy(&word, p, 4);
        c32 = __builtin_ia32_crc32si(c32, word);
        p += 4;
        length -= 4;
    }
    while (length > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *p);
        p += 1;
        length -= 1;
    }
    return ~c32;
}

static inline int c_streams_crc32c_hardware_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}
#else
static inline uint32_t c_streams_crc32c_hardware(uint32_t crc, const void *bytes, size_t length) {
    (void)bytes;
    (void)length;
    return crc;
}

static inline int c_streams_crc32c_hardware_available(void) { return 0; }
#endif

#endif
