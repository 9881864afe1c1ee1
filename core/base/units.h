/* units.h - durations and sizes given on command lines, and sizes shown.
 *
 * Durations: one or more <number><unit> groups, units s, m, h, d, w
 * ("90s", "1h30m", "7d"); a bare number is seconds.  Sizes: a number with
 * an optional unit: B; K, M, G, T and KiB, MiB, GiB, TiB (powers of 1024);
 * kB, MB, GB, TB (powers of 1000).  Fractions are accepted for sizes
 * ("1.5G").  Units are case-sensitive except that "k" and "K" are both
 * accepted.  Everything above 2^62 is refused.
 */
#ifndef HOIST_UNITS_H
#define HOIST_UNITS_H

#include <stdint.h>

struct buf;
struct err;

/* Seconds into *out; ERR_INVALID naming the input otherwise. */
int units_parse_duration(int64_t *out, const char *s, struct err *e);
/* Bytes into *out; ERR_INVALID naming the input otherwise. */
int units_parse_size(int64_t *out, const char *s, struct err *e);
/* Appends "512 B", "1.5 KiB", "12.3 MiB", "2.0 GiB". 0 or ERR_NOMEM. */
int units_format_size(struct buf *out, uint64_t bytes);

#endif
