/*
 * Unit tests for src/spawn.c: a child's stdout read line by line while its
 * stderr passes through (spawn_lines): floods, long and NUL lines, silent
 * children stopped, a program not found.
 */
#include <sys/wait.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "harness.h"

/* ---- spawn_lines: a child's stdout and stderr read together ---- */

struct lines {
	size_t	 n;
	char	 first[64], last[64];
	int	 fail_at;	/* fn returns -1 at this line (1-based), 0: never */
};

static int
take_line(void *arg, const char *line)
{
	struct lines	*l = arg;

	if (l->n++ == 0)
		strlcpy(l->first, line, sizeof(l->first));
	strlcpy(l->last, line, sizeof(l->last));
	return l->n == (size_t)l->fail_at ? -1 : 0;
}

/*
 * Run sh -c script through spawn_lines with our stderr in a file; its
 * lines counted into *errlines.  Returns spawn_lines' result.
 */
static int
lines_of(const char *script, int timeout, struct lines *l, int *status,
    size_t *errlines, int64_t *ms)
{
	char	*argv[] = { "sh", "-c", (char *)script, NULL };
	char	 path[] = "/tmp/unit-spawn.XXXXXX", buf[65536];
	int	 fd, saved, rc, c;
	ssize_t	 n;
	int64_t	 t0;

	*errlines = 0;
	if ((fd = mkstemp(path)) == -1)
		return no("mkstemp: %s", strerror(errno)), -2;
	unlink(path);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	alarm(60);	/* a hang fails the test instead */
	t0 = clock_ms();
	rc = spawn_lines(argv, NULL, timeout, 0, take_line, l, status);
	*ms = clock_ms() - t0;
	alarm(0);
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (c = 0; c < n; c++)
			*errlines += buf[c] == '\n';
		/* and on to the run's stderr, for last_error() */
		(void)!write(STDERR_FILENO, buf, (size_t)n);
	}
	close(fd);
	return rc;
}

static void
test_spawn_lines(void)
{
	struct lines	 l;
	size_t		 errl;
	int		 status, rc;
	int64_t		 ms;
	char		*argv[] = { "/nonexistent/prog", NULL };

	/* nix-instantiate's shape: a flood on stderr, then the answer */
	memset(&l, 0, sizeof(l));
	rc = lines_of("i=0; while [ $i -lt 200000 ]; do echo \"warning: "
	    "line $i\"; i=$((i+1)); done >&2; echo /nix/store/x.drv", 0, &l,
	    &status, &errl, &ms);
	report("spawn_lines_stderr_flood", (rc == 0 || no("rc %d", rc)) &&
	    (status == 0 || no("status %d", status)) &&
	    (errl == 200000 || no("%zu stderr lines", errl)) &&
	    (l.n == 1 || no("%zu lines", l.n)) &&
	    same("line", l.first, "/nix/store/x.drv"));

	/* both at once, and the other way round */
	memset(&l, 0, sizeof(l));
	rc = lines_of("awk 'BEGIN { for (i = 0; i < 200000; i++) { "
	    "print \"out \" i; print \"err \" i > \"/dev/stderr\" } }'; "
	    "awk 'BEGIN { for (i = 0; i < 100000; i++) print \"more \" i }'",
	    0, &l, &status, &errl, &ms);
	report("spawn_lines_interleaved", (rc == 0 || no("rc %d", rc)) &&
	    (errl == 200000 || no("%zu stderr lines", errl)) &&
	    (l.n == 300000 || no("%zu lines", l.n)) &&
	    same("first", l.first, "out 0") &&
	    same("last", l.last, "more 99999"));

	memset(&l, 0, sizeof(l));
	rc = lines_of("printf 'a\\n\\nb'; exit 3", 0, &l, &status, &errl,
	    &ms);
	report("spawn_lines_last_line_and_status", (rc == 0 ||
	    no("rc %d", rc)) && ((WIFEXITED(status) &&
	    WEXITSTATUS(status) == 3) || no("status %d", status)) && (l.n == 3 || no("%zu lines", l.n))
	    && same("last", l.last, "b"));

	memset(&l, 0, sizeof(l));
	l.fail_at = 1;
	rc = lines_of("echo a; echo b", 0, &l, &status, &errl, &ms);
	report("spawn_lines_fn_fails", (rc == -1 || no("rc %d", rc)) &&
	    (status == 0 || no("status %d", status)) &&
	    (l.n == 2 || no("%zu lines: not read to the end", l.n)));

	memset(&l, 0, sizeof(l));
	rc = lines_of("printf 'a\\000b\\nc\\n'", 0, &l, &status, &errl,
	    &ms);
	report("spawn_lines_nul", (rc == -1 || no("rc %d", rc)) &&
	    (l.n == 1 || no("%zu lines", l.n)) && same("line", l.first, "c") &&
	    same("message", last_error(), "sh printed a NUL byte"));

	memset(&l, 0, sizeof(l));
	rc = lines_of("head -c 66000 /dev/zero | tr '\\0' x; echo; echo ok",
	    0, &l, &status, &errl, &ms);
	report("spawn_lines_long_line", (rc == -1 || no("rc %d", rc)) &&
	    (l.n == 1 || no("%zu lines", l.n)) && same("line", l.first, "ok") &&
	    same("message", last_error(), "sh printed a line longer than 65536 "
	    "bytes"));

	memset(&l, 0, sizeof(l));
	rc = lines_of("echo started; exec sleep 30", 1, &l, &status, &errl,
	    &ms);
	report("spawn_lines_silent_child_stopped", (rc == -1 ||
	    no("rc %d", rc)) && (ms < 4000 || no("%lld ms", (long long)ms)) &&
	    (WIFSIGNALED(status) || no("status %d", status)) &&
	    same("message", last_error(), "sh: no output for 1 s, stopped"));

	memset(&l, 0, sizeof(l));
	rc = lines_of("exec >&- 2>&-; sleep 30", 1, &l, &status, &errl, &ms);
	report("spawn_lines_closed_pipes_reap_bounded", (rc == -1 ||
	    no("rc %d", rc)) && (ms < 4000 || no("%lld ms", (long long)ms)) &&
	    (WIFSIGNALED(status) || no("status %d", status)));

	rc = spawn_lines(argv, NULL, 0, 0, take_line, &l, &status);
	report("spawn_lines_not_found", (rc == -1 || no("rc %d", rc)) &&
	    (status == -1 || no("status %d", status)));
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_spawn_lines();
	return done();
}
