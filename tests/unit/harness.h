/*
 * The harness of the table-driven unit tests (unit.c, nar.c, drv.c): each
 * case prints "ok NAME" or "FAIL NAME: why" on stdout, and main() ends
 * with the counts.  Included once per test program.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/*
 * What nix-offload says on stderr goes into a file for the rest of the
 * run (errors_capture), where last_error() finds its last message, with
 * "nix-offload: " dropped, for the cases that check a message.
 */
static void __attribute__((unused))
errors_capture(void)
{
	char	 tmpl[] = "/tmp/nix-offload-unit.XXXXXX";
	int	 fd;

	fflush(stderr);
	if ((fd = mkstemp(tmpl)) == -1 || unlink(tmpl) == -1 ||
	    dup2(fd, 2) == -1) {
		perror("errors_capture");
		exit(2);
	}
	close(fd);
}

static __attribute__((unused)) const char *
last_error(void)
{
	static char	 buf[8192];
	off_t		 end;
	ssize_t		 n;
	size_t		 want;
	char		*p;

	fflush(stderr);
	if ((end = lseek(2, 0, SEEK_END)) <= 0)
		return "";
	want = (size_t)end < sizeof(buf) - 1 ? (size_t)end : sizeof(buf) - 1;
	if ((n = pread(2, buf, want, end - (off_t)want)) <= 0)
		return "";
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	p = strrchr(buf, '\n');
	p = p != NULL ? p + 1 : buf;
	return strncmp(p, "nix-offload: ", 13) == 0 ? p + 13 : p;
}
