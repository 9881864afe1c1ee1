/* fs.h - small file-system helpers the other modules share.
 *
 * System-call wrappers that retry what POSIX lets fail part-way (EINTR,
 * short writes), so that callers do not each write the loop again.
 */
#ifndef HOIST_FS_H
#define HOIST_FS_H

#include <stddef.h>

/* Writes all `n` bytes of `p` to `fd`, retrying short writes and EINTR.
 * 0, or -1 with errno set by the write that failed. */
int fs_write_all(int fd, const void *p, size_t n);

#endif
