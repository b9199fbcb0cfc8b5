/*
 * Running a local child (nix-store, nix-instantiate, rm): argv only, its
 * streams on pipes, read a line at a time with a bound on every wait.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "extern.h"

static void
set_cloexec(int fd)
{
	fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
}

/*
 * Run argv (searched in PATH) with its stdin, stdout and stderr on pipes:
 * fds[0] writes to its stdin, fds[1] reads its stdout, fds[2] its stderr.
 * No other descriptor of ours reaches it: a long-lived grandchild (an ssh
 * control master) must not hold Nix's pipes open.  Returns 0, or -1
 * (reported, with hint appended when the program does not exist) when it
 * cannot be started.
 */
unsigned long	 spawn_count;

int
spawn(char *const *argv, int fds[3], pid_t *pidp, const char *hint)
{
	int	 in[2] = { -1, -1 }, out[2] = { -1, -1 };
	int	 err[2] = { -1, -1 }, ex[2] = { -1, -1 };
	int	 e, i;
	ssize_t	 n;
	pid_t	 pid;

	if (pipe(in) == -1 || pipe(out) == -1 || pipe(err) == -1 ||
	    pipe(ex) == -1) {
		log_err("pipe");
		goto fail;
	}
	set_cloexec(in[1]);
	set_cloexec(out[0]);
	set_cloexec(err[0]);
	set_cloexec(ex[0]);
	set_cloexec(ex[1]);
	if ((pid = fork()) == -1) {
		log_err("fork");
		goto fail;
	}
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close_from(3, ex[1]);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		unsetenv("DISPLAY");
		unsetenv("SSH_ASKPASS");
		execvp(argv[0], argv);
		e = errno;
		(void)!write(ex[1], &e, sizeof(e));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	close(ex[1]);
	while ((n = read(ex[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	close(ex[0]);
	if (n == sizeof(e)) {
		log_errx("cannot run %s: %s%s", argv[0], strerror(e),
		    e == ENOENT && hint != NULL ? hint : "");
		waitpid(pid, NULL, 0);
		close(in[1]);
		close(out[0]);
		close(err[0]);
		errno = e;
		return -1;
	}
	fds[0] = in[1];
	fds[1] = out[0];
	fds[2] = err[0];
	*pidp = pid;
	spawn_count++;
	return 0;
fail:
	e = errno;
	for (i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (out[i] != -1)
			close(out[i]);
		if (err[i] != -1)
			close(err[i]);
		if (ex[i] != -1)
			close(ex[i]);
	}
	errno = e;
	return -1;
}

/* Reap pid, waiting at most until deadline (ms, 0: for ever); -1 if not. */
static int
reap(pid_t pid, int64_t deadline, int *status)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	pid_t		 r;

	for (;;) {
		r = waitpid(pid, status, deadline ? WNOHANG : 0);
		if (r == pid)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
		if (r == 0) {
			if (clock_ms() >= deadline)
				return -1;
			nanosleep(&ts, NULL);
		}
	}
}

/* A child's stream, read a line at a time (spawn_lines). */
struct stream {
	int		 fd;
	int		(*fn)(void *, const char *);	/* NULL: see below */
	char		 line[SPAWN_LINE_MAX + 1];
	size_t		 len;
	int		 bad;
};

/* n bytes of s's stream; n == 0: its end.  Returns 0, or -1 (fn failed). */
static int
stream_take(struct stream *st, const char *argv0, const char *buf, size_t n,
    void *arg)
{
	size_t	 i;
	int	 rc = 0;

	if (n == 0) {
		if (st->len == 0)
			return 0;
		buf = "\n";	/* a last line without one */
		n = 1;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (buf[i] == '\0' && !st->bad) {
				log_errx("%s printed a NUL byte", argv0);
				st->bad = 1;
			} else if (st->len == SPAWN_LINE_MAX && !st->bad) {
				log_errx("%s printed a line longer than %d "
				    "bytes", argv0, SPAWN_LINE_MAX);
				st->bad = 1;
			} else if (st->len < SPAWN_LINE_MAX)
				st->line[st->len++] = buf[i];
			continue;
		}
		st->line[st->len] = '\0';
		if (st->bad || st->fn(arg, st->line) == -1)
			rc = -1;
		st->len = 0;
		st->bad = 0;
	}
	return rc;
}

/*
 * Run argv as spawn() does, with an empty stdin, and read its stdout and
 * stderr together, so that a child filling one pipe never waits for us to
 * finish reading the other: each line of its stdout, without the newline,
 * goes to fn (NULL: dropped); its stderr is copied to ours as it comes,
 * or dropped with SPAWN_QUIET in flags, or, when errfn is not NULL, goes
 * to errfn a line at a time, as stdout's to fn.
 * timeout: seconds the child may stay silent, with its pipes open or after
 * closing them, before it is killed (0: no limit).  The child is always
 * reaped, and *status is its wait status (-1 when it was not started).
 * Returns 0 when it ran to its end and fn took every line; -1 (reported)
 * when it could not start, printed a line longer than SPAWN_LINE_MAX or
 * holding a NUL byte, timed out, or fn returned -1 (fn reports).
 */
int
spawn_streams(char *const *argv, const char *hint, int timeout, int flags,
    int (*fn)(void *, const char *), int (*errfn)(void *, const char *),
    void *arg, int *status)
{
	struct pollfd	 pfd[2];
	struct stream	*st;
	char		 buf[4096];
	ssize_t		 n;
	int64_t		 deadline = 0, left;
	int		 fds[3], rc = 0, timedout = 0, k;
	pid_t		 pid;

	*status = -1;
	if ((st = calloc(2, sizeof(*st))) == NULL) {
		log_err("%s", argv[0]);
		return -1;
	}
	st[0].fn = fn;
	st[1].fn = errfn;
	if (spawn(argv, fds, &pid, hint) == -1) {
		free(st);
		return -1;
	}
	close(fds[0]);
	pfd[0].fd = fds[1];
	pfd[1].fd = fds[2];
	pfd[0].events = pfd[1].events = POLLIN;
	if (timeout > 0)
		deadline = clock_ms() + (int64_t)timeout * 1000;
	while (pfd[0].fd != -1 || pfd[1].fd != -1) {
		left = -1;
		if (deadline && (left = deadline - clock_ms()) <= 0) {
			timedout = 1;
			break;
		}
		if ((k = poll(pfd, 2, left > INT_MAX ? INT_MAX :
		    (int)left)) <= 0) {
			if (k == -1 && errno != EINTR) {
				log_err("%s: poll", argv[0]);
				rc = -1;
				break;
			}
			continue;
		}
		for (k = 1; k >= 0; k--) {
			if (pfd[k].fd == -1 || pfd[k].revents == 0)
				continue;
			if ((n = read(pfd[k].fd, buf, sizeof(buf))) == -1 &&
			    (errno == EINTR || errno == EAGAIN))
				continue;
			if (n > 0 && deadline)
				deadline = clock_ms() + (int64_t)timeout * 1000;
			if (n <= 0) {
				close(pfd[k].fd);
				pfd[k].fd = -1;
				n = 0;
			}
			if (k == 1 && errfn == NULL) {
				if (n > 0 && !(flags & SPAWN_QUIET))
					log_child(buf, (size_t)n);
				continue;
			}
			if (st[k].fn == NULL)
				continue;
			if (stream_take(&st[k], argv[0], buf, (size_t)n,
			    arg) == -1)
				rc = -1;
		}
	}
	free(st);
	for (k = 0; k < 2; k++)
		if (pfd[k].fd != -1)
			close(pfd[k].fd);
	if (!timedout && reap(pid, deadline, status) == 0)
		return rc;
	/* silent too long: TERM, a moment to go, then KILL */
	log_errx("%s: no output for %d s, stopped", argv[0], timeout);
	kill(pid, SIGTERM);
	if (reap(pid, clock_ms() + 2000, status) == -1) {
		kill(pid, SIGKILL);
		reap(pid, 0, status);
	}
	return -1;
}

/* spawn_streams with the child's stderr copied as it comes. */
int
spawn_lines(char *const *argv, const char *hint, int timeout, int flags,
    int (*fn)(void *, const char *), void *arg, int *status)
{
	return spawn_streams(argv, hint, timeout, flags, fn, NULL, arg,
	    status);
}

struct first {
	char	*out;
	size_t	 sz;
};

static int
first(void *arg, const char *line)
{
	struct first	*f = arg;

	if (f->out[0] == '\0')
		strlcpy(f->out, line, f->sz);
	return 0;
}

/*
 * The first line argv prints on its stdout, into out; its stderr is
 * dropped, and it may take timeout seconds.  Returns 0 when it exited 0
 * with a line, else -1.
 */
int
spawn_first_line(char *const *argv, int timeout, char *out, size_t sz)
{
	struct first	 f = { out, sz };
	int		 status;

	out[0] = '\0';
	if (spawn_lines(argv, NULL, timeout, SPAWN_QUIET, first, &f,
	    &status) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || out[0] == '\0') {
		out[0] = '\0';
		return -1;
	}
	return 0;
}
