/* units.c - durations and sizes.  See units.h. */
#include "core/base/units.h"

#include "core/base/buf.h"
#include "core/base/err.h"

#include <string.h>

#define UNITS_MAX ((int64_t)1 << 62)

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int units_parse_duration(int64_t *out, const char *s, struct err *e)
{
	static const struct { char c; int64_t mul; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 },
	};
	const char *p = s;
	int64_t total = 0, v;
	size_t i;

	if (!s || !*s)
		goto bad;
	while (*p) {
		if (!is_digit(*p))
			goto bad;
		for (v = 0; is_digit(*p); p++) {
			if (v > (UNITS_MAX - 9) / 10)
				goto bad;
			v = v * 10 + (*p - '0');
		}
		if (!*p && p != s && total == 0) {
			total = v;	/* a bare number: seconds */
			break;
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (*p == units[i].c)
				break;
		if (i == sizeof(units) / sizeof(units[0]) || v > (UNITS_MAX - total) / units[i].mul)
			goto bad;
		total += v * units[i].mul;
		p++;
	}
	*out = total;
	return 0;
bad:
	return err_set(e, ERR_INVALID, "invalid duration '%.64s': want a number and a unit "
		       "such as '90s', '30m', '12h', '7d' or '1h30m'", s ? s : "");
}

int units_parse_size(int64_t *out, const char *s, struct err *e)
{
	static const struct { const char *name; int64_t mul; } units[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1LL << 10 }, { "k", 1LL << 10 }, { "KiB", 1LL << 10 }, { "M", 1LL << 20 },
		{ "MiB", 1LL << 20 }, { "G", 1LL << 30 }, { "GiB", 1LL << 30 },
		{ "T", 1LL << 40 }, { "TiB", 1LL << 40 },
		{ "kB", 1000LL }, { "KB", 1000LL }, { "MB", 1000000LL }, { "GB", 1000000000LL },
		{ "TB", 1000000000000LL },
	};
	const char *p = s;
	int64_t whole = 0, frac = 0, frac_div = 1;
	size_t i;

	if (!s || !is_digit(*s))
		goto bad;
	for (; is_digit(*p); p++) {
		if (whole > (UNITS_MAX - 9) / 10)
			goto bad;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			goto bad;
		for (; is_digit(*p); p++)
			if (frac_div < 1000000000LL) {
				frac = frac * 10 + (*p - '0');
				frac_div *= 10;
			}
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(p, units[i].name))
			break;
	if (i == sizeof(units) / sizeof(units[0]) || whole > UNITS_MAX / units[i].mul)
		goto bad;
	/* frac / frac_div * mul without overflow: mul <= 2^40, frac_div <= 1e9 */
	*out = whole * units[i].mul + (int64_t)((double)frac / (double)frac_div *
						(double)units[i].mul);
	return 0;
bad:
	return err_set(e, ERR_INVALID, "invalid size '%.64s': want a number and an optional "
		       "unit such as '500M', '10G', '1.5GiB' or '200MB'", s ? s : "");
}

int units_format_size(struct buf *out, uint64_t bytes)
{
	static const char *const names[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int i = -1;

	if (bytes < 1024)
		return buf_addf(out, "%llu B", (unsigned long long)bytes);
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	return buf_addf(out, "%.1f %s", v, names[i]);
}
