// Linux calls the Swift Glibc module does not expose: renameat2(2) with RENAME_EXCHANGE, syncfs(2),
// sync_file_range(2) (the object store's batched durability), the FICLONE ioctl (reflinks) and extended
// attributes (directory metadata kept across a switch).
#ifndef SMART_SYNC_CLINUXSHIMS_SHIM_H
#define SMART_SYNC_CLINUXSHIMS_SHIM_H

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#endif

/// syncfs(2): flush the file system holding `fd`. Falls back to sync(2) where syncfs is missing.
static inline int ss_syncfs(int fd) {
#if defined(__linux__) && defined(SYS_syncfs)
    return (int)syscall(SYS_syncfs, fd);
#else
    (void)fd;
    sync();
    return 0;
#endif
}

/// sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE): start writeback of the whole file without waiting for it.
/// A hint only: does nothing where unsupported.
static inline void ss_start_writeback(int fd) {
#if defined(__linux__) && defined(SYS_sync_file_range)
    (void)syscall(SYS_sync_file_range, fd, (long long)0, (long long)0, 2u /* SYNC_FILE_RANGE_WRITE */);
#else
    (void)fd;
#endif
}

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

/// ioctl(dst, FICLONE, src): make `dst` share `src`'s data extents (a reflink: no data copied, no inode shared).
/// Fails with EOPNOTSUPP, EXDEV, EINVAL or ENOTTY where the file systems cannot; ENOSYS off Linux.
static inline int ss_ficlone(int dst, int src) {
#if defined(__linux__)
    return ioctl(dst, 0x40049409 /* FICLONE = _IOW(0x94, 9, int) */, src);
#else
    (void)dst;
    (void)src;
    errno = ENOSYS;
    return -1;
#endif
}

/// Extended attributes of an open file (POSIX ACLs are the `system.posix_acl_*` ones): flistxattr(2),
/// fgetxattr(2), fsetxattr(2). ENOTSUP off Linux.
static inline long ss_flistxattr(int fd, char *list, unsigned long size) {
#if defined(__linux__)
    return (long)flistxattr(fd, list, size);
#else
    (void)fd; (void)list; (void)size;
    errno = ENOTSUP;
    return -1;
#endif
}

static inline long ss_fgetxattr(int fd, const char *name, void *value, unsigned long size) {
#if defined(__linux__)
    return (long)fgetxattr(fd, name, value, size);
#else
    (void)fd; (void)name; (void)value; (void)size;
    errno = ENOTSUP;
    return -1;
#endif
}

static inline int ss_fsetxattr(int fd, const char *name, const void *value, unsigned long size) {
#if defined(__linux__)
    return fsetxattr(fd, name, value, size, 0);
#else
    (void)fd; (void)name; (void)value; (void)size;
    errno = ENOTSUP;
    return -1;
#endif
}

/// llistxattr(2): the extended attribute names of `path` itself (not following a final symlink).
static inline long ss_llistxattr(const char *path, char *list, unsigned long size) {
#if defined(__linux__)
    return (long)llistxattr(path, list, size);
#else
    (void)path; (void)list; (void)size;
    errno = ENOTSUP;
    return -1;
#endif
}

static inline int ss_fremovexattr(int fd, const char *name) {
#if defined(__linux__)
    return fremovexattr(fd, name);
#else
    (void)fd; (void)name;
    errno = ENOTSUP;
    return -1;
#endif
}

#endif
