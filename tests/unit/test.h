/* test.h - the unit-test harness: one binary per module.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_STR(a, "b"); CHECK_RC(rc, 0); }
 *   int main(void) { RUN(name); ...; return test_done(); }
 *
 * Prints "ok - module: name" or "not ok - module: name" per test, which
 * tests/run counts.  Failure details go to stderr.
 */
#ifndef HOIST_TEST_H
#define HOIST_TEST_H

#include <stdio.h>
#include <string.h>

static int test_cur_failed;
static int test_n_passed;
static int test_n_failed;

#define TEST(name) static void name(void)

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		test_cur_failed = 1; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (!a_ || !b_ || strcmp(a_, b_)) { \
		fprintf(stderr, "%s:%d: check failed: %s == %s ('%s' vs '%s')\n", \
			__FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
		test_cur_failed = 1; \
	} \
} while (0)

#define CHECK_RC(rc, want) do { \
	long rc_ = (long)(rc), want_ = (long)(want); \
	if (rc_ != want_) { \
		fprintf(stderr, "%s:%d: check failed: %s == %s (%ld vs %ld)\n", \
			__FILE__, __LINE__, #rc, #want, rc_, want_); \
		test_cur_failed = 1; \
	} \
} while (0)

static inline void test_run(const char *name, void (*fn)(void))
{
	test_cur_failed = 0;
	fn();
	fflush(stderr);
	printf("%s - %s: %s\n", test_cur_failed ? "not ok" : "ok", TEST_MODULE, name);
	fflush(stdout);
	if (test_cur_failed)
		test_n_failed++;
	else
		test_n_passed++;
}

#define RUN(name) test_run(#name, name)

static inline int test_done(void)
{
	return test_n_failed ? 1 : 0;
}

#endif
