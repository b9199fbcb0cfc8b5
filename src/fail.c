/*
 * Failures as values (struct failure): what kind, where, and the one line
 * that says it, filled where the failure is diagnosed; each kind's exit
 * status and name.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "extern.h"

void
fail_clear(struct failure *f)
{
	f->kind = FAIL_NONE;
	f->where[0] = f->msg[0] = '\0';
}

/*
 * f is a failure of this kind at where (a builder, or NULL): its message
 * "WHERE: " and fmt's text, one line (new lines become spaces).
 */
void
fail_vset(struct failure *f, enum fail kind, const char *where,
    const char *fmt, va_list ap)
{
	size_t	 n = 0;
	char	*p;

	f->kind = kind;
	snprintf(f->where, sizeof(f->where), "%s", where ? where : "");
	if (where != NULL)
		n = (size_t)snprintf(f->msg, sizeof(f->msg), "%s: ", where);
	if (n < sizeof(f->msg))
		vsnprintf(f->msg + n, sizeof(f->msg) - n, fmt, ap);
	for (p = f->msg; (p = strchr(p, '\n')) != NULL; )
		*p = ' ';
}

void
fail_set(struct failure *f, enum fail kind, const char *where,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fail_vset(f, kind, where, fmt, ap);
	va_end(ap);
}

/* The exit status for a connection that failed this way. */
int
fail_exit(enum fail f)
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
