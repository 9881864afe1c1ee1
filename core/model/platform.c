/* platform.c - parsing, normalising, formatting and matching platforms. */
#include "core/model/platform.h"

#include "core/base/err.h"
#include "core/base/json.h"
#include "core/base/strvec.h"
#include "core/base/text.h"

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

/* A quoted piece of untrusted input: at most QUOTE_MAX bytes, then "...". */
#define QUOTE_MAX 80
#define QUOTE_BUF (QUOTE_MAX + 4)

static const char *quote(char *dst, const char *s, size_t len)
{
	text_clean(dst, QUOTE_BUF, s, len);
	return dst;
}

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

void platform_init(struct platform *p)
{
	p->os = NULL;
	p->arch = NULL;
	p->variant = NULL;
	p->os_version = NULL;
	strvec_init(&p->os_features);
}

void platform_release(struct platform *p)
{
	if (!p)
		return;
	free(p->os);
	free(p->arch);
	free(p->variant);
	free(p->os_version);
	strvec_clear(&p->os_features);
	platform_init(p);
}

int platform_copy(struct platform *out, const struct platform *src)
{
	struct platform p = PLATFORM_INIT;
	size_t i;
	int ret = ERR_NOMEM;

	platform_init(out);
	p.os = text_dup(src->os);
	p.arch = text_dup(src->arch);
	p.variant = text_dup(src->variant);
	p.os_version = text_dup(src->os_version);
	if ((src->os && !p.os) || (src->arch && !p.arch) || (src->variant && !p.variant) ||
	    (src->os_version && !p.os_version))
		goto out;
	for (i = 0; i < src->os_features.n; i++)
		if (strvec_push(&p.os_features, src->os_features.v[i]) < 0)
			goto out;
	*out = p;
	platform_init(&p);
	ret = 0;
out:
	platform_release(&p);
	return ret;
}

/* A lower-case copy; "" for NULL. */
static char *lower_dup(const char *s)
{
	char *d = strdup(s ? s : ""), *p;

	if (d)
		for (p = d; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	return d;
}

/* Replaces *field with `val` (NULL for an empty value).  Takes ownership. */
static void set_field(char **field, char *val)
{
	free(*field);
	if (val && !*val) {
		free(val);
		val = NULL;
	}
	*field = val;
}

/* "v" + variant when the variant is all digits ("7" -> "v7"), else a copy. */
static char *variant_dup(const char *v)
{
	size_t n;
	char *d;

	if (!all_digits(v))
		return strdup(v);
	n = strlen(v);
	d = malloc(n + 2);
	if (d) {
		d[0] = 'v';
		memcpy(d + 1, v, n + 1);
	}
	return d;
}

int platform_normalize(struct platform *p)
{
	char *os = NULL, *arch = NULL, *variant = NULL, *nv = NULL;
	const char *na = NULL, *fixed = NULL;
	int clear_variant = 0, ret = ERR_NOMEM;

	if (p->os) {
		if (!(os = lower_dup(p->os)))
			goto out;
		if (!strcmp(os, "macos")) {
			free(os);
			if (!(os = strdup("darwin")))
				goto out;
		}
	}
	if (!p->arch) {
		ret = 0;
		goto out;
	}
	if (!(arch = lower_dup(p->arch)) || !(variant = lower_dup(p->variant)))
		goto out;

	if (!strcmp(arch, "x86_64") || !strcmp(arch, "x86-64") || !strcmp(arch, "amd64")) {
		na = "amd64";
		clear_variant = !strcmp(variant, "v1");
	} else if (!strcmp(arch, "i386") || !strcmp(arch, "i486") || !strcmp(arch, "i586") ||
		   !strcmp(arch, "i686")) {
		na = "386";
		clear_variant = 1;
	} else if (!strcmp(arch, "aarch64") || !strcmp(arch, "arm64")) {
		na = "arm64";
		if (!*variant || !strcmp(variant, "8") || !strcmp(variant, "v8") ||
		    !strcmp(variant, "8.0") || !strcmp(variant, "v8.0"))
			fixed = "v8";
	} else if (!strcmp(arch, "armhf")) {
		na = "arm";
		fixed = "v7";
	} else if (!strcmp(arch, "armel")) {
		na = "arm";
		fixed = "v6";
	} else if (!strcmp(arch, "arm")) {
		if (!*variant)
			fixed = "v7";
	}
	if (na) {
		free(arch);
		if (!(arch = strdup(na)))
			goto out;
	}
	if (clear_variant)
		nv = strdup("");
	else if (fixed)
		nv = strdup(fixed);
	else if (!strcmp(arch, "arm") || !strcmp(arch, "arm64"))
		nv = variant_dup(variant);
	else
		nv = strdup(variant);
	if (!nv)
		goto out;
	ret = 0;
out:
	if (ret == 0) {
		if (os)
			set_field(&p->os, os);
		if (arch) {
			set_field(&p->arch, arch);
			set_field(&p->variant, nv);
		}
		os = arch = nv = NULL;
	}
	free(os);
	free(arch);
	free(variant);
	free(nv);
	return ret;
}

/* Checks one part of "os/arch[/variant][:osversion]". */
static int check_part(struct err *e, const char *input, const char *what, const char *s,
		      size_t n, int allow_dot)
{
	char q[QUOTE_BUF], qp[QUOTE_BUF];
	size_t i;

	if (!n)
		return err_set(e, ERR_INVALID, "invalid platform '%s': the %s is empty "
			       "(use OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8)",
			       quote(q, input, strlen(input)), what);
	for (i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-' && !(allow_dot && s[i] == '.'))
			return err_set(e, ERR_INVALID, "invalid platform '%s': %s '%s' may "
				       "contain only letters, digits, '_', '-'%s",
				       quote(q, input, strlen(input)), what, quote(qp, s, n),
				       allow_dot ? " and '.'" : "");
	return 0;
}

int platform_parse(struct platform *out, const char *s, struct err *e)
{
	struct platform p = PLATFORM_INIT;
	const char *colon, *end, *part[3] = { NULL, NULL, NULL }, *slash;
	size_t len[3] = { 0, 0, 0 }, n = 0;
	char q[QUOTE_BUF];
	int ret;

	platform_init(out);
	if (!s || !*s) {
		ret = err_set(e, ERR_INVALID, "invalid platform '': the platform is empty "
			      "(use OS/ARCH[/VARIANT], e.g. linux/amd64)");
		goto out;
	}
	colon = strchr(s, ':');
	end = colon ? colon : s + strlen(s);
	part[0] = s;
	for (;;) {
		slash = memchr(part[n], '/', (size_t)(end - part[n]));
		len[n] = (size_t)((slash ? slash : end) - part[n]);
		n++;
		if (!slash)
			break;
		if (n == 3) {
			ret = err_set(e, ERR_INVALID, "invalid platform '%s': too many '/' "
				      "(use OS/ARCH[/VARIANT], e.g. linux/arm/v7)",
				      quote(q, s, strlen(s)));
			goto out;
		}
		part[n] = slash + 1;
	}
	if (n == 1 && len[0]) {
		ret = err_set(e, ERR_INVALID, "invalid platform '%s': no architecture "
			      "(use OS/ARCH, e.g. linux/amd64)", quote(q, s, strlen(s)));
		goto out;
	}
	if ((ret = check_part(e, s, "OS", part[0], len[0], 0)) < 0)
		goto out;
	if (n > 1 && (ret = check_part(e, s, "architecture", part[1], len[1], 0)) < 0)
		goto out;
	if (n > 2 && (ret = check_part(e, s, "variant", part[2], len[2], 1)) < 0)
		goto out;
	if (colon && (ret = check_part(e, s, "OS version", colon + 1, strlen(colon + 1), 1)) < 0)
		goto out;

	ret = ERR_NOMEM;
	p.os = strndup(part[0], len[0]);
	p.arch = strndup(part[1], len[1]);
	if (n > 2)
		p.variant = strndup(part[2], len[2]);
	if (colon)
		p.os_version = strdup(colon + 1);
	if (!p.os || !p.arch || (n > 2 && !p.variant) || (colon && !p.os_version) ||
	    platform_normalize(&p) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory parsing a platform");
		goto out;
	}
	*out = p;
	platform_init(&p);
	ret = 0;
out:
	platform_release(&p);
	return ret;
}

int platform_host(struct platform *out)
{
	struct platform p = PLATFORM_INIT;
	struct utsname u;
	const char *m;
	int ret = ERR_FAIL;

	platform_init(out);
	if (uname(&u) < 0)
		goto out;
	m = u.machine;
	ret = ERR_NOMEM;
	if (!(p.os = strdup(u.sysname)))
		goto out;
	/* 32-bit ARM kernels say "armv7l", "armv6l", "armv5tel", ... */
	if (!strncmp(m, "armv", 4) && m[4] >= '1' && m[4] <= '9') {
		char v[3] = { 'v', m[4], '\0' };
		p.arch = strdup("arm");
		p.variant = strdup(v);
		if (!p.variant)
			goto out;
	} else {
		p.arch = strdup(m);
	}
	if (!p.arch || platform_normalize(&p) < 0)
		goto out;
	*out = p;
	platform_init(&p);
	ret = 0;
out:
	platform_release(&p);
	return ret;
}

int platform_format(struct buf *out, const struct platform *p)
{
	int ret;

	if (!p->os || !p->arch)
		return ERR_INVALID;
	if ((ret = buf_addf(out, "%s/%s", p->os, p->arch)) < 0)
		return ret;
	if (p->variant && *p->variant && (ret = buf_addf(out, "/%s", p->variant)) < 0)
		return ret;
	if (p->os_version && *p->os_version && (ret = buf_addf(out, ":%s", p->os_version)) < 0)
		return ret;
	return 0;
}

int platform_match(const struct platform *want, const struct platform *have)
{
	struct platform w = PLATFORM_INIT, h = PLATFORM_INIT;
	int ok = 0;

	if (!want->os || !want->arch || !have->os || !have->arch)
		return 0;
	if (platform_copy(&w, want) < 0 || platform_normalize(&w) < 0 ||
	    platform_copy(&h, have) < 0 || platform_normalize(&h) < 0)
		goto out;
	ok = streq(w.os, h.os) && streq(w.arch, h.arch);
	if (ok && w.variant)
		ok = streq(w.variant, h.variant);
	if (ok && w.os_version)
		ok = streq(w.os_version, h.os_version);
out:
	platform_release(&w);
	platform_release(&h);
	return ok;
}

struct platform *platform_new(void)
{
	struct platform *p = malloc(sizeof(*p));

	if (p)
		platform_init(p);
	return p;
}

void platform_free(struct platform *p)
{
	if (!p)
		return;
	platform_release(p);
	free(p);
}

struct platform *platform_dup(const struct platform *src)
{
	struct platform *p = malloc(sizeof(*p));

	if (p && platform_copy(p, src) < 0) {
		free(p);
		p = NULL;
	}
	return p;
}

/* ---- JSON ---- */

int platform_from_json(struct platform *p, const struct json *j, const char *what,
				struct err *e)
{
	int rc;

	if ((rc = json_get_opt_str(&p->os, j, "os", 1, what, e)) < 0 ||
	    (rc = json_get_opt_str(&p->arch, j, "architecture", 1, what, e)) < 0 ||
	    (rc = json_get_opt_str(&p->variant, j, "variant", 0, what, e)) < 0 ||
	    (rc = json_get_opt_str(&p->os_version, j, "os.version", 0, what, e)) < 0 ||
	    (rc = json_get_str_array(&p->os_features, j, "os.features", what, e)) < 0)
		return rc;
	if (!p->os || !p->arch)
		return err_set(e, ERR_INVALID, "%s: 'os' and 'architecture' are required",
			       what);
	/* An empty optional field means "none". */
	if (p->variant && !*p->variant) {
		free(p->variant);
		p->variant = NULL;
	}
	if (p->os_version && !*p->os_version) {
		free(p->os_version);
		p->os_version = NULL;
	}
	return 0;
}

struct json *platform_to_json(const struct platform *p)
{
	struct json *o = json_new_object(), *arr;
	size_t i;

	if (!o)
		return NULL;
	if ((p->arch && json_set_str(o, "architecture", p->arch) < 0) ||
	    (p->os && json_set_str(o, "os", p->os) < 0) ||
	    (p->os_version && json_set_str(o, "os.version", p->os_version) < 0))
		goto fail;
	if (p->os_features.n) {
		if (!(arr = json_new_array()) || json_set(o, "os.features", arr) < 0)
			goto fail;
		for (i = 0; i < p->os_features.n; i++)
			if (json_append(arr, json_new_string(p->os_features.v[i])) < 0)
				goto fail;
	}
	if (p->variant && json_set_str(o, "variant", p->variant) < 0)
		goto fail;
	return o;
fail:
	json_free(o);
	return NULL;
}
