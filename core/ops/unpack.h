/* unpack.h - an image's layers applied to a directory (`hoist unpack`,
 * umoci unpack without the runtime bundle): bottom up, whiteouts removing
 * what lower layers put, and nothing ever written outside the directory.
 */
#ifndef HOIST_UNPACK_H
#define HOIST_UNPACK_H

struct err;
struct layout;
struct manifest;

enum unpack_flags {
	UNPACK_OWNERS = 1 << 0,		/* apply uid/gid (the caller is root) */
	UNPACK_DEVICES = 1 << 1,	/* create char/block devices (else skipped) */
	/* Extended attributes (pax SCHILY.xattr.*) are restored on files,
	 * directories and fifos: user.* always (files and directories only,
	 * as Linux allows), security.* and trusted.* only with this flag (the
	 * caller is root), after the owner is set (a chown drops
	 * security.capability); any other namespace, and any the file system
	 * does not support, is skipped and counted. */
	UNPACK_XATTRS_PRIVILEGED = 1 << 2,
	UNPACK_NO_XATTRS = 1 << 3,	/* restore none (nor count them) */
};

/* What unpack_image() did. */
struct unpack_stats {
	unsigned long entries;		/* entries created */
	unsigned long whiteouts;	/* whiteouts applied */
	unsigned long skipped_devices;
	unsigned long xattrs;		/* extended attributes restored */
	unsigned long skipped_xattrs;	/* not restored: namespace, privilege, support */
};

/* Unpacks image manifest `m` (layers in `l`) into the directory `dir`,
 * which must exist (an empty one, normally).  Every parent directory is
 * resolved with openat2(RESOLVE_IN_ROOT) from the root's fd, so a symlink
 * (also one planted by an earlier layer, absolute or with "..") resolves
 * inside DIR as it would in the container, never outside it; without
 * openat2 (ENOSYS) the walk refuses any symlink among the parents.  The
 * last component is created with O_NOFOLLOW/O_EXCL after removing what
 * was there; hard links are made from a target resolved the same way,
 * without following a symlink.  `out` may be NULL. */
int unpack_image(struct unpack_stats *out, struct layout *l, const struct manifest *m,
		 const char *dir, unsigned flags, struct err *e);

#endif
