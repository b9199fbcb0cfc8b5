/*
 * Unit tests for src/health.c: health records as another process finds
 * them (health_parse), and the backoff (health_wait).
 */
#include <stdio.h>
#include <string.h>

#include "extern.h"
#include "harness.h"

/*
 * Health records, as a process that finds them reads them at time NOW:
 * anything but a count 1..HEALTH_FAILURES_MAX and an end within the cap
 * (plus jitter) is ignored, never obeyed.
 */
#define NOW	1000000LL
static const struct {
	const char	*name;
	const char	*in;
	int		 ok;
	long		 failures;
	long long	 until;
	const char	*reason;
} health_cases[] = {
	{ "health_plain", "3 1000100 cannot reach it\n", 1, 3, 1000100,
	    "cannot reach it" },
	{ "health_no_reason", "1 1000000 \n", 1, 1, 1000000, "" },
	{ "health_no_space_reason", "1 999999\n", 1, 1, 999999, "" },
	{ "health_past", "7 5 old\n", 1, 7, 5, "old" },
	{ "health_cap_edge", "2 1003961 x\n", 1, 2, 1003961, "x" },
	{ "health_beyond_cap", "2 1003962 x\n", 0, 0, 0, NULL },
	{ "health_clock_stepped_back", "1 99203880636 x\n", 0, 0, 0, NULL },
	{ "health_zero_count", "0 1000100 x\n", 0, 0, 0, NULL },
	{ "health_negative_count", "-1 1000100 x\n", 0, 0, 0, NULL },
	{ "health_negative_until", "1 -1000100 x\n", 0, 0, 0, NULL },
	{ "health_huge_count", "1001 1000100 x\n", 0, 0, 0, NULL },
	{ "health_long_max_count", "9223372036854775807 1000100 x\n", 0, 0,
	    0, NULL },
	{ "health_overflow", "99999999999999999999999 5 x\n", 0, 0, 0, NULL },
	{ "health_garbage", "\x7f\x01 garbage", 0, 0, 0, NULL },
	{ "health_empty", "", 0, 0, 0, NULL },
	{ "health_one_number", "2\n", 0, 0, 0, NULL },
	{ "health_truncated", "2 1000100", 0, 0, 0, NULL },
	{ "health_tab", "2\t1000100 x\n", 0, 0, 0, NULL },
	{ "health_plus", "+2 1000100 x\n", 0, 0, 0, NULL },
	{ "health_escapes", "2 1000100 a\033]0;title\007b\033[2Jc\n", 1, 2,
	    1000100, "abc" },
	{ "health_two_lines", "2 1000100 a\nb\n", 1, 2, 1000100, "a" },
};

static const struct {
	long	 base, n, want;
} wait_cases[] = {
	{ 60, 1, 60 }, { 60, 2, 180 }, { 60, 3, 540 }, { 60, 4, 1620 },
	{ 60, 5, 3600 }, { 60, 1000, 3600 }, { 0, 1000, 0 }, { 0, 1, 0 },
	{ 1, 1000000000L, 3600 }, { 3600, 1, 3600 }, { 1, 0, 1 },
};

static void
test_health(void)
{
	size_t		 i;
	long		 f;
	long long	 u;
	char		 reason[128], name[64];
	const char	*why;
	int		 r, good;

	for (i = 0; i < nitems(health_cases); i++) {
		f = -5;
		u = -5;
		reason[0] = '\0';
		why = NULL;
		r = health_parse(health_cases[i].in,
		    strlen(health_cases[i].in), NOW, &f, &u, reason,
		    sizeof(reason), &why);
		if (!health_cases[i].ok)
			good = (r == -1 || no("accepted: %ld %lld", f, u)) &&
			    (why != NULL || no("no reason given"));
		else
			good = (r == 0 || no("refused: %s", why)) &&
			    (f == health_cases[i].failures ||
			    no("failures %ld", f)) &&
			    (u == health_cases[i].until || no("until %lld", u)) &&
			    same("reason", reason, health_cases[i].reason);
		report(health_cases[i].name, good);
	}
	for (i = 0; i < nitems(wait_cases); i++) {
		long	 w = health_wait(wait_cases[i].base, wait_cases[i].n);
		snprintf(name, sizeof(name), "health_wait_%ld_%ld",
		    wait_cases[i].base, wait_cases[i].n);
		report(name, w == wait_cases[i].want ||
		    no("%ld, expected %ld", w, wait_cases[i].want));
	}
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_health();
	return done();
}
