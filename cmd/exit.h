/* exit.h - hoist's exit statuses, the one place they are defined.
 *
 * The same table is in man/hoist.1.scd (EXIT STATUS); change both together.
 */
#ifndef HOIST_CMD_EXIT_H
#define HOIST_CMD_EXIT_H

enum exit_status {
	EXIT_OK = 0,		/* the command did what was asked */
	EXIT_FAIL = 1,		/* it failed: network, registry, disk, bad content */
	EXIT_USAGE = 2,		/* the command line was wrong; nothing was done */
};

#endif
