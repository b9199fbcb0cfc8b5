/*
 * The harness of the table-driven unit tests (unit.c, nar.c, drv.c): each
 * case prints "ok NAME" or "FAIL NAME: why" on stdout, and main() ends
 * with the counts.  Included once per test program.
 */
#include <stdarg.h>
#include <stdio.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* AddressSanitizer reserves terabytes of address space and shadow memory:
 * tests of memory limits and footprints are skipped under it. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN	1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN	0
#endif

static int	 passed, failed;
static char	 why[2048];

static int	 no(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Note why the current case failed; the first reason is usually the cause. */
static int
no(const char *fmt, ...)
{
	va_list	 ap;

	if (why[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	return 0;
}

static void
report(const char *name, int good)
{
	char	*p;

	if (good && why[0] == '\0') {
		printf("ok %s\n", name);
		passed++;
	} else {
		/* one line per case, whatever the message quotes */
		for (p = why; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		printf("FAIL %s: %s\n", name, why[0] ? why : "failed");
		failed++;
	}
	why[0] = '\0';
	/* children and stderr interleave: keep the order */
	fflush(stdout);
}
