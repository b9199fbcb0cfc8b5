/*
 * Unit tests for src/fail.c: the names of the kinds of failure.
 */
#include <stddef.h>

#include "extern.h"
#include "harness.h"

static void
test_fail_name(void)
{
	static const char *const want[] = {
		"none", "other", "unreachable", "auth", "hostkey",
		"no-remote-nix", "banner", "protocol", "dropped", "timeout"
	};
	size_t	 i;
	int	 ok = nitems(want) == FAIL_KINDS ||
		    no("%d kinds, %zu names here", FAIL_KINDS, nitems(want));

	for (i = 0; ok && i < nitems(want); i++)
		ok = same(fail_names[i], fail_name((enum fail)i), want[i]);
	report("fail_name", ok && same("FAIL_KINDS", fail_name(FAIL_KINDS),
	    "other"));
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_fail_name();
	return done();
}
