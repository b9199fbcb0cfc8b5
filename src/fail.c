/*
 * Failures: what kind each is, its exit status and its name.
 */
#include "extern.h"

/* The exit status for a connection that failed this way. */
int
exit_for(enum fail f)
{
	switch (f) {
	case FAIL_NONE:
		return EXIT_OK;
	case FAIL_UNREACHABLE:
		return EXIT_UNREACHABLE;
	case FAIL_AUTH:
		return EXIT_AUTH;
	case FAIL_HOSTKEY:
		return EXIT_HOSTKEY;
	case FAIL_NOREMOTE:
		return EXIT_NOREMOTE;
	case FAIL_BANNER:
		return EXIT_BANNER;
	case FAIL_PROTOCOL:
		return EXIT_PROTOCOL;
	case FAIL_DROPPED:
	case FAIL_TIMEOUT:
		return EXIT_DROPPED;
	case FAIL_OTHER:
	case FAIL_KINDS:
		break;
	}
	return EXIT_ERROR;
}

/* In the order of enum fail: one name each, or this does not compile. */
static const char *const fail_names[] = {
	"none", "other", "unreachable", "auth", "hostkey", "no-remote-nix",
	"banner", "protocol", "dropped", "timeout"
};
typedef char fail_names_one_per_kind[
    sizeof(fail_names) / sizeof(fail_names[0]) == FAIL_KINDS ? 1 : -1];

/*
 * The name of a kind of failure, as --json prints it ("unreachable",
 * "no-remote-nix"...); "other" for a value that is not one.
 */
const char *
fail_name(enum fail f)
{
	if ((unsigned)f >= FAIL_KINDS)
		return fail_names[FAIL_OTHER];
	return fail_names[f];
}
