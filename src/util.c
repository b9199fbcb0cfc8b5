/*
 * Small helpers: argv building, shell quoting and splitting, numbers from the
 * environment, a monotonic clock, failures' exit statuses and names, Nix's
 * version line, running a child.
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

/*
 * Append a printf-formatted word to a NULL-terminated argv.  Returns 0, or -1
 * (reported) when out of memory.
 */
int
args_add(struct args *a, const char *fmt, ...)
{
	va_list	 ap;
	char	*s, **l;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL) {
		log_err("args_add");
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (a->num + 2 > a->nalloc) {
		size_t	 na = a->nalloc ? a->nalloc * 2 : 16;
		if ((l = reallocarray(a->list, na, sizeof(*l))) == NULL) {
			log_err("args_add");
			free(s);
			return -1;
		}
		a->list = l;
		a->nalloc = na;
	}
	a->list[a->num++] = s;
	a->list[a->num] = NULL;
	return 0;
}

void
args_free(struct args *a)
{
	size_t	 i;

	for (i = 0; i < a->num; i++)
		free(a->list[i]);
	free(a->list);
	memset(a, 0, sizeof(*a));
}

static int
shell_safe(const char *s)
{
	/* zsh expands a leading = to a command's path */
	if (*s == '\0' || *s == '=')
		return 0;
	for (; *s != '\0'; s++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_@%+=:,./-", *s) == NULL)
			return 0;
	return 1;
}

/*
 * Quote one word for a POSIX shell: bare when it holds only safe
 * characters, else in single quotes with each ' written as '\''.
 * Returns a string the caller frees, or NULL (reported).
 */
char *
shell_quote(const char *s)
{
	size_t	 n = 3;
	char	*q, *o;
	const char *p;

	if (shell_safe(s))
		return strdup(s);
	for (p = s; *p != '\0'; p++)
		n += *p == '\'' ? 4 : 1;
	if ((q = malloc(n)) == NULL) {
		log_err("shell_quote");
		return NULL;
	}
	o = q;
	*o++ = '\'';
	for (p = s; *p != '\0'; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else
			*o++ = *p;
	}
	*o++ = '\'';
	*o = '\0';
	return q;
}

/* Quote each word and join them with spaces: one command line for a shell. */
char *
shell_join(char *const *words)
{
	char	*line = NULL, *q, *nl;
	size_t	 len = 0, ql;

	for (; *words != NULL; words++) {
		if ((q = shell_quote(*words)) == NULL) {
			free(line);
			return NULL;
		}
		ql = strlen(q);
		if ((nl = realloc(line, len + ql + 2)) == NULL) {
			log_err("shell_join");
			free(q);
			free(line);
			return NULL;
		}
		line = nl;
		if (len > 0)
			line[len++] = ' ';
		memcpy(line + len, q, ql + 1);
		len += ql;
		free(q);
	}
	return line != NULL ? line : strdup("");
}

/*
 * Split a string into words as a POSIX shell would, with quotes and
 * backslashes but no expansion of any kind (Nix does this for NIX_SSHOPTS
 * since 2.26).  Returns 0, or -1 (reported) on an unterminated quote.
 */
int
shell_split(const char *s, struct args *out)
{
	const char *orig = s;
	char	*w;
	size_t	 n = 0;
	int	 inword = 0;

	if ((w = malloc(strlen(s) + 1)) == NULL) {
		log_err("shell_split");
		return -1;
	}
	for (;;) {
		if (*s == '\0' || *s == ' ' || *s == '\t' || *s == '\n') {
			if (inword) {
				w[n] = '\0';
				if (args_add(out, "%s", w) == -1)
					goto fail;
				n = 0;
				inword = 0;
			}
			if (*s == '\0')
				break;
			s++;
			continue;
		}
		if (*s == '\\' && s[1] == '\n') {	/* a line continuation */
			s += 2;
			continue;
		}
		inword = 1;
		if (*s == '\\') {
			if (s[1] == '\0')
				goto bad;
			w[n++] = s[1];
			s += 2;
		} else if (*s == '\'') {
			for (s++; *s != '\'' ; s++) {
				if (*s == '\0')
					goto bad;
				w[n++] = *s;
			}
			s++;
		} else if (*s == '"') {
			for (s++; *s != '"'; s++) {
				if (*s == '\0')
					goto bad;
				if (*s == '\\' && s[1] != '\0' &&
				    strchr("$`\"\\\n", s[1]) != NULL) {
					s++;
					if (*s == '\n')
						continue;
				}
				w[n++] = *s;
			}
			s++;
		} else
			w[n++] = *s++;
	}
	free(w);
	return 0;
bad:
	log_errx("unterminated quote or trailing backslash in \"%s\"", orig);
fail:
	free(w);
	return -1;
}

/*
 * Read the integer environment variable name into *v, dflt when unset.
 * Returns 0, or -1 (reported) when it is not a number in [min, max].
 */
int
env_number(const char *name, long dflt, long min, long max, long *v)
{
	const char	*s = getenv(name);
	char		*end;
	long		 n;

	if (s == NULL || *s == '\0') {
		*v = dflt;
		return 0;
	}
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max) {
		log_errx("%s=%s: expected a whole number from %ld to %ld",
		    name, s, min, max);
		return -1;
	}
	*v = n;
	return 0;
}

/* Milliseconds on a clock that never jumps. */
int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds since the epoch: for times other processes read. */
int64_t
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A time (seconds since the epoch) as a person reads it: "HH:MM:SS" if
 * today, else "YYYY-MM-DD HH:MM:SS", local time.
 */
void
clock_text(long long t, char *buf, size_t sz)
{
	struct tm	 tm, today;
	time_t		 tt = (time_t)t, now = time(NULL);

	if (localtime_r(&tt, &tm) == NULL || localtime_r(&now, &today) == NULL) {
		snprintf(buf, sz, "%lld", t);
		return;
	}
	strftime(buf, sz, tm.tm_year == today.tm_year &&
	    tm.tm_yday == today.tm_yday ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
}

/* Print a list of strings as a JSON array. */
void
json_list(FILE *f, const struct strlist *l)
{
	size_t	 i;

	fputc('[', f);
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			fputc(',', f);
		json_string(f, l->v[i]);
	}
	fputc(']', f);
}

/* Print s as a JSON string, quotes included. */
void
json_string(FILE *f, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

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

/*
 * The version in what `nix-store --version` prints, "nix-store (Nix)
 * 2.8.0\n": the word after the first "(Nix) ", up to a space, CR or LF,
 * copied into out as written (callers filter it where they show it).
 * Returns 0, or -1 with out empty when text has no such word or it does
 * not fit in sz bytes.  Prints nothing.
 */
int
nix_version_parse(const char *text, char *out, size_t sz)
{
	const char	*p;
	size_t		 n;

	if (sz > 0)
		out[0] = '\0';
	if ((p = strstr(text, "(Nix) ")) == NULL)
		return -1;
	p += 6;
	if ((n = strcspn(p, " \r\n")) == 0 || n >= sz)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

#define NIX_VERSION_CACHE	"local-nix-version"	/* in the runtime dir */
#define NIX_VERSION_TIMEOUT	10	/* seconds nix-store --version may take */


/*
 * The local Nix's version, "2.8.0" (or "lix-2.93.0" for Lix), into buf:
 * from the runtime directory's cache when nix-store has not changed
 * since, else from nix-store --version (a hook process runs per build:
 * the cache saves a process).  Returns 0, or -1 when there is no Nix, or
 * it does not say.
 */
int
nix_local_version(char *buf, size_t sz)
{
	char		 line[128], *p;
	char		*argv[] = { "nix-store", "--version", NULL };
	const char	*path = getenv("PATH");
	struct stat	 st;
	long long	 mtime = -1, cm, ino = -1, ci;

	/* which nix-store, and when it last changed */
	while (path != NULL && *path != '\0') {
		size_t	 l = strcspn(path, ":");
		char	 cand[PATH_MAX_LEN];
		snprintf(cand, sizeof(cand), "%.*s/nix-store", (int)l, path);
		if (stat(cand, &st) == 0) {
			mtime = (long long)st.st_mtime;
			ino = (long long)st.st_ino;
			break;
		}
		path += l + (path[l] == ':');
	}
	if (mtime != -1 && sz >= 64 && rundir_read("", NIX_VERSION_CACHE,
	    line, sizeof(line), NULL) > 0 &&
	    sscanf(line, "%lld %lld %63s", &cm, &ci, buf) == 3 &&
	    cm == mtime && ci == ino)
		return 0;
	if (mtime == -1)
		return -1;	/* no Nix here */
	if (spawn_first_line(argv, NIX_VERSION_TIMEOUT, line,
	    sizeof(line)) == -1)
		return -1;
	if ((p = strstr(line, "(Lix")) != NULL &&
	    (p = strstr(p, ") ")) != NULL) {
		p += 2;
		p[strcspn(p, " \r\n")] = '\0';
		snprintf(buf, sz, "lix-%s", p);
	} else if (nix_version_parse(line, buf, sz) == -1)
		return -1;
	if (mtime != -1) {
		char	 rec[128];
		int	 k = snprintf(rec, sizeof(rec), "%lld %lld %s\n", mtime,
		    ino, buf);
		if (k > 0 && (size_t)k < sizeof(rec))
			(void)rundir_write("", NIX_VERSION_CACHE, rec,
			    (size_t)k);
	}
	return 0;
}

/*
 * Is version v ("2.28.2", "lix-2.93.0") at least major.minor.patch?  Lix
 * counts as the Nix it forked from, 2.18.  An unknown version is the
 * newest.
 */
int
nix_version_at_least(const char *v, int major, int minor, int patch)
{
	int	 a = 0, b = 0, c = 0;

	if (strncmp(v, "lix-", 4) == 0)
		return 2 > major || (2 == major && (18 > minor ||
		    (18 == minor && 0 >= patch)));
	if (sscanf(v, "%d.%d.%d", &a, &b, &c) < 2)
		return 1;
	return a > major || (a == major && (b > minor ||
	    (b == minor && c >= patch)));
}

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
		long	 fd, max = sysconf(_SC_OPEN_MAX);

		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		if (max < 0 || max > 65536)
			max = 65536;
		for (fd = 3; fd < max; fd++)
			if (fd != ex[1])
				close((int)fd);
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
			if (now_ms() >= deadline)
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
		deadline = now_ms() + (int64_t)timeout * 1000;
	while (pfd[0].fd != -1 || pfd[1].fd != -1) {
		left = -1;
		if (deadline && (left = deadline - now_ms()) <= 0) {
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
				deadline = now_ms() + (int64_t)timeout * 1000;
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
	if (reap(pid, now_ms() + 2000, status) == -1) {
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
