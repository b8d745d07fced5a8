// Linux calls the Swift Glibc module does not expose: renameat2(2) with RENAME_EXCHANGE.
#ifndef SMART_SYNC_CLINUXSHIMS_SHIM_H
#define SMART_SYNC_CLINUXSHIMS_SHIM_H

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

/// RENAME_EXCHANGE from <linux/fs.h>: atomically swap two paths.
static const unsigned int ss_rename_exchange = (1 << 1);

/// renameat2(2) through syscall(2), so it works with any glibc. Sets errno to ENOSYS where unsupported.
static inline int ss_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
                               unsigned int flags) {
#if defined(__linux__) && defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
#else
    errno = ENOSYS;
    return -1;
#endif
}

#endif
