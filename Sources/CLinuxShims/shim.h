// Linux calls the Swift Glibc module does not expose: renameat2(2) with RENAME_EXCHANGE, syncfs(2),
// sync_file_range(2) (the object store's batched durability), getdents64(2) (the scan's listing), the FICLONE ioctl
// (reflinks) and extended attributes (directory metadata kept across a switch); for the process runner, glibc's
// GNU-only posix_spawn file actions and pidfd_open(2); a thread's name (prctl, variadic in C).
#ifndef SMART_SYNC_CLINUXSHIMS_SHIM_H
#define SMART_SYNC_CLINUXSHIMS_SHIM_H

#ifndef __linux__
#error "smart-sync is Linux only: see \"Linux only\" in docs/ARCHITECTURE.md"
#endif

// No <fcntl.h> or <errno.h>: <fcntl.h> brings `struct stat`, and a second module defining it makes Swift's
// MemberImportVisibility name this module, not Glibc, as the owner of `stat`'s fields in some builds.
#include <spawn.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

/// syncfs(2): flush the file system holding `fd`.
static inline int ss_syncfs(int fd) {
    return (int)syscall(SYS_syncfs, fd);
}

/// prctl(PR_SET_NAME): names the calling thread (its first 15 bytes) for `top -H`, `ps -L` and debuggers.
static inline void ss_set_thread_name(const char *name) {
    (void)syscall(SYS_prctl, 15 /* PR_SET_NAME */, name, 0L, 0L, 0L);
}

/// sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE): start writeback of the whole file without waiting for it.
/// A hint only: its result is ignored.
static inline void ss_start_writeback(int fd) {
    (void)syscall(SYS_sync_file_range, fd, (long long)0, (long long)0, 2u /* SYNC_FILE_RANGE_WRITE */);
}

/// RENAME_EXCHANGE from <linux/fs.h>: atomically swap two paths.
static const unsigned int ss_rename_exchange = (1 << 1);

/// renameat2(2) through syscall(2), so it works with any glibc (ENOSYS from a kernel older than 3.15).
static inline int ss_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
                               unsigned int flags) {
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}

/// ioctl(dst, FICLONE, src): make `dst` share `src`'s data extents (a reflink: no data copied, no inode shared).
/// Fails with EOPNOTSUPP, EXDEV, EINVAL or ENOTTY where the file systems cannot.
static inline int ss_ficlone(int dst, int src) {
    return ioctl(dst, 0x40049409 /* FICLONE = _IOW(0x94, 9, int) */, src);
}

/// Extended attributes of an open file (POSIX ACLs are the `system.posix_acl_*` ones): flistxattr(2),
/// fgetxattr(2), fsetxattr(2).
static inline long ss_flistxattr(int fd, char *list, unsigned long size) {
    return (long)flistxattr(fd, list, size);
}

static inline long ss_fgetxattr(int fd, const char *name, void *value, unsigned long size) {
    return (long)fgetxattr(fd, name, value, size);
}

static inline int ss_fsetxattr(int fd, const char *name, const void *value, unsigned long size) {
    return fsetxattr(fd, name, value, size, 0);
}

/// llistxattr(2): the extended attribute names of `path` itself (not following a final symlink).
static inline long ss_llistxattr(const char *path, char *list, unsigned long size) {
    return (long)llistxattr(path, list, size);
}

static inline int ss_fremovexattr(int fd, const char *name) {
    return fremovexattr(fd, name);
}

/// glibc's GNU extensions to posix_spawn (glibc 2.29 and 2.34) and pipe2(2), declared here because glibc's
/// headers show them only under _GNU_SOURCE.
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

/// In the child, before exec: change to `path`.
static inline int ss_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

/// In the child, before exec: close every descriptor from `from` up (none of ours leaks into a child).
static inline int ss_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

extern int pipe2(int fds[2], int flags);

/// pipe2(fds, flags) (the caller passes O_CLOEXEC): a pipe whose ends no child inherits unless it is handed them
/// on purpose.
static inline int ss_pipe2(int fds[2], int flags) {
    return pipe2(fds, flags);
}

/// glibc's mallopt(3), declared here rather than through <malloc.h> (which brings <stdio.h>'s types into a second
/// module).
extern int mallopt(int param, int value);

/// mallopt(M_MMAP_THRESHOLD, bytes): allocations of `bytes` or more get their own mapping, returned to the system
/// when freed. Setting it also stops glibc from raising the threshold on its own (up to 32 MiB) after such a block is
/// freed. Returns 1 on success.
static inline int ss_set_mmap_threshold(int bytes) {
    return mallopt(-3 /* M_MMAP_THRESHOLD */, bytes);
}

extern int malloc_trim(unsigned long pad);

/// malloc_trim(0): gives the system back the free pages inside every arena of the heap, not only at its top.
static inline void ss_malloc_trim(void) {
    (void)malloc_trim(0);
}

/// pidfd_open(2) (Linux 5.3): a descriptor that polls readable when the process exits; -1 with errno otherwise.
static inline int ss_pidfd_open(int pid) {
    return (int)syscall(434 /* SYS_pidfd_open */, pid, 0u);
}

/// getdents64(2): the next entries of the directory open on `fd`, as `struct linux_dirent64` records (d_ino u64,
/// d_off s64, d_reclen u16, d_type u8, then the NUL-terminated name) packed into `buffer`; the bytes filled, 0 at
/// the end, -1 with errno. What readdir(3) calls, without its DIR stream (an fcntl and a 32 KiB allocation each).
static inline long ss_getdents64(int fd, void *buffer, unsigned long count) {
    return (long)syscall(SYS_getdents64, fd, buffer, count);
}

/// statx(2) with STATX_MNT_ID (Linux 5.8) of `path` in `dirfd`, following symlinks as stat(2) does: the id of the mount
/// holding it into `*id`, 0; -1 where that fails or the kernel does not report the id (older than 5.8). A bind mount
/// of a directory of the same file system has its parent's `st_dev` but a mount id of its own. `struct statx` is
/// read by its offsets (stx_mask at 0, stx_mnt_id at 144 of 256 bytes): <linux/stat.h> would give Swift a second
/// `statx`.
static inline int ss_mount_id(int dirfd, const char *path, unsigned long long *id) {
    unsigned long long buffer[32] = {0};  // 256 bytes, 8-aligned
    if (syscall(SYS_statx, dirfd, path, 0, 0x1000u /* STATX_MNT_ID */, buffer) != 0) return -1;
    if ((((const unsigned int *)buffer)[0] & 0x1000u) == 0) return -1;
    *id = buffer[144 / 8];
    return 0;
}

#endif
