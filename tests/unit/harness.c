/*
 * The harness of the unit tests: the counts, each case's line, the
 * comparisons every module's tests use, stderr caught for the cases that
 * check a message, and the scratch directory.  See harness.h.
 */
#include <sys/stat.h>

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "harness.h"

static int	 passed, failed;
static char	 why[4096];	/* the first reason the current case fails */
static char	 scratch[64];

const char *const fail_names[FAIL_KINDS] = {
	"FAIL_NONE", "FAIL_OTHER", "FAIL_UNREACHABLE", "FAIL_AUTH",
	"FAIL_HOSTKEY", "FAIL_NOREMOTE", "FAIL_BANNER", "FAIL_PROTOCOL",
	"FAIL_DROPPED", "FAIL_TIMEOUT"
};

/*
 * Note why the current case failed; the first reason is usually the
 * cause, and the one kept.  Returns 0, so that a check reads
 * "cond || no(...)".
 */
int
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

/* Whether the current case has a reason to fail yet. */
int
failing(void)
{
	return why[0] != '\0';
}

/*
 * The current case's line: "ok NAME" if good and no reason was noted,
 * else "FAIL NAME: why".  The next case starts clean.
 */
void
report(const char *name, int good)
{
	char	*p;

	if (good && why[0] == '\0') {
		printf("ok %s\n", name);
		passed++;
	} else {
		/* one line per case, whatever the message quotes */
		for (p = why; *p != '\0'; p++)
			if (*p == '\n')
				*p = '|';
			else if ((unsigned char)*p < 0x20 ||
			    (unsigned char)*p >= 0x7f)
				*p = '?';
		printf("FAIL %s: %s\n", name, why[0] ? why : "failed");
		failed++;
	}
	why[0] = '\0';
	/* children and stderr interleave: keep the order */
	fflush(stdout);
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	if (remove(path) == -1)
		perror(path);
	return 0;
}

/*
 * The end of main: the scratch directory removed if every case passed,
 * named if not; the counts; the exit status, 1 if anything failed.
 */
int
done(void)
{
	if (scratch[0] != '\0') {
		if (failed == 0)
			nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
		else
			printf("# scratch directory kept: %s\n", scratch);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed > 0;
}

/* s for a message: quoted, escaped, or NULL. */
static const char *
show(const char *s, char *b, size_t sz)
{
	char	 t[512];

	if (s == NULL)
		return "NULL";
	snprintf(b, sz, "\"%s\"", text_printable(s, strlen(s), t, sizeof(t)));
	return b;
}

/* Compare strings that may be NULL; field says which. */
int
same(const char *field, const char *got, const char *want)
{
	char	 g[520], w[520];

	if (got == NULL && want == NULL)
		return 1;
	if (got != NULL && want != NULL && strcmp(got, want) == 0)
		return 1;
	return no("%s: expected %s, got %s", field, show(want, w, sizeof(w)),
	    show(got, g, sizeof(g)));
}

/* Compare byte strings; the message shows both, escaped. */
int
same_mem(const char *field, const void *got, size_t gotlen,
    const void *want, size_t wantlen)
{
	char	 g[512], w[512];

	if (gotlen == wantlen && memcmp(got, want, gotlen) == 0)
		return 1;
	text_printable(want, wantlen, w, sizeof(w));
	text_printable(got, gotlen, g, sizeof(g));
	return no("%s: expected %zu bytes \"%s\", got %zu bytes \"%s\"",
	    field, wantlen, w, gotlen, g);
}

static const char *
kind(enum fail k)
{
	return (size_t)k < FAIL_KINDS && fail_names[k] != NULL ?
	    fail_names[k] : "?";
}

/* Compare a connection's failure kind with the one expected. */
int
same_fail(enum fail got, enum fail want)
{
	if (got == want)
		return 1;
	return no("c->f.kind %s, expected %s", kind(got), kind(want));
}

/*
 * What nix-offload says on stderr goes into a file for the rest of the
 * run (errors_capture), where last_error() finds its last message, with
 * "nix-offload: " dropped, for the cases that check a message.
 */
void
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

const char *
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

/*
 * stderr, all of it, between capture() and captured(), which returns it
 * (the caller frees it) and puts stderr back.
 */
static FILE	*cap;
static int	 saved_fd = -1;

void
capture(void)
{
	fflush(stderr);
	if ((cap = tmpfile()) == NULL || (saved_fd = dup(2)) == -1 ||
	    dup2(fileno(cap), 2) == -1) {
		perror("capture");
		exit(2);
	}
}

char *
captured(void)
{
	char	*buf;
	long	 n;

	fflush(stderr);
	dup2(saved_fd, 2);
	close(saved_fd);
	n = ftell(cap);
	if ((buf = calloc(1, (size_t)n + 1)) == NULL)
		exit(2);
	rewind(cap);
	if (n > 0 && fread(buf, 1, (size_t)n, cap) != (size_t)n)
		exit(2);
	fclose(cap);
	return buf;
}

/*
 * The program's scratch directory, made on first use: removed by done()
 * when every case passed, kept and named otherwise.
 */
const char *
scratch_dir(void)
{
	if (scratch[0] == '\0') {
		strlcpy(scratch, "/tmp/nix-offload-unit.XXXXXX",
		    sizeof(scratch));
		if (mkdtemp(scratch) == NULL) {
			perror("mkdtemp");
			exit(2);
		}
	}
	return scratch;
}
