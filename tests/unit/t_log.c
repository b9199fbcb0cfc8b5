/*
 * Unit tests for src/log.c: errors and warnings as they reach stderr
 * (log_errx, log_warnx).
 */
#include "extern.h"
#include "harness.h"

static void
test_log(void)
{
	log_errx("unit %d", 42);
	report("log_errx", same("last", last_error(), "unit 42"));
	log_warnx("a warning");
	report("log_warnx", same("last", last_error(), "warning: a warning"));
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_log();
	return done();
}
