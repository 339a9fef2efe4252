#ifndef C_STREAMS_SYSTEM_SHIM_H
#define C_STREAMS_SYSTEM_SHIM_H

// Linux calls that Swift's Glibc module does not declare, because glibc declares them only under
// _GNU_SOURCE. Only StreamsEmbedded's Descriptor.swift imports this module.

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

#endif
