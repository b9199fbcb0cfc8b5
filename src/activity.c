/*
 * What runs where, for `status`: notes that `build` and the hook leave in
 * the runtime directory as they go, and their parsers.
 *
 * A slot's note lives in the slot's lock file (sched.c): who works the
 * slot, on which derivation, doing what, since when.  A run's note lives
 * in the lock file of its run directory (rundir.c): how far a `build` has
 * got.  Each is one line, written whole at offset 0 of a file of
 * ACT_NOTE_LEN bytes, NUL-padded; a reader reads until two reads agree.
 * A note counts only while its file is locked: the kernel drops a dead
 * process's locks, and with them what its notes say.
 *
 *	slot PID SINCE STATE-SINCE STATE DRV URI
 *	run PID SINCE BUILT RUNNING QUEUED TOTAL BYTES SLOWEST-SINCE SLOWEST
 *
 * Times are milliseconds since the epoch; DRV and SLOWEST are "-" for
 * none.  Notes are read by another process, perhaps long after: every
 * field is checked, as anything from a file is.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define ACT_READ_TRIES	5
#define ACT_FUTURE_MS	(86400LL * 1000)	/* clock skew taken on trust */

static const char *const states[] = {
	"connecting", "idle", "copying", "building", "fetching", NULL
};

/* Write a note, whole, over the last one in fd.  Errors are ignored. */
static void
note(int fd, const char *fmt, ...)
{
	char	 buf[ACT_NOTE_LEN];
	va_list	 ap;
	int	 n;

	if (fd == -1)
		return;
	memset(buf, 0, sizeof(buf));
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 1)
		return;		/* a note cut short would lie */
	buf[n] = '\n';
	(void)pwrite(fd, buf, sizeof(buf), 0);
}

/*
 * The slot whose lock file is fd is used by this process for state (one
 * of states[]) on drv (NULL: none) since since (ms), on the builder uri.
 */
void
act_slot(int fd, const char *uri, const char *state, const char *drv,
    int64_t since)
{
	note(fd, "slot %ld %lld %lld %s %s %s", (long)getpid(),
	    (long long)since, (long long)clock_wall(), state,
	    drv != NULL ? drv : "-", uri);
}

/* How far the run whose lock file is fd has got. */
void
act_run(int fd, const struct act_run *r)
{
	note(fd, "run %ld %lld %zu %zu %zu %zu %llu %lld %s", (long)getpid(),
	    (long long)r->since, r->built, r->running, r->queued, r->total,
	    (unsigned long long)r->bytes, (long long)r->slowest_since,
	    r->slowest[0] != '\0' ? r->slowest : "-");
}

/*
 * Read the note in fd into buf (ACT_NOTE_LEN bytes): the same twice, so
 * that a note being written is not taken half old, half new.  Returns
 * its length to the newline, or -1.
 */
ssize_t
act_read(int fd, char *buf)
{
	char	 again[ACT_NOTE_LEN];
	ssize_t	 n, m;
	int	 k;
	char	*nl;

	for (k = 0; k < ACT_READ_TRIES; k++) {
		if ((n = pread(fd, buf, ACT_NOTE_LEN, 0)) <= 0)
			return -1;
		if ((m = pread(fd, again, ACT_NOTE_LEN, 0)) == n &&
		    memcmp(buf, again, (size_t)n) == 0)
			break;
	}
	if (k == ACT_READ_TRIES ||
	    (nl = memchr(buf, '\n', (size_t)n)) == NULL)
		return -1;
	*nl = '\0';
	return nl - buf;
}

/* The next space-separated word of *p, NUL-terminated in place. */
static char *
word(char **p)
{
	char	*w = *p, *e;

	if (w == NULL || *w == '\0')
		return NULL;
	if ((e = strchr(w, ' ')) != NULL) {
		*e = '\0';
		*p = e + 1;
	} else
		*p = w + strlen(w);
	return w;
}

/* A decimal number of 1 to 19 digits, at most max. */
static int
number(const char *w, long long max, long long *v)
{
	char		*end;
	long long	 x;

	if (w == NULL || *w < '0' || *w > '9' || strlen(w) > 19)
		return -1;
	errno = 0;
	x = strtoll(w, &end, 10);
	if (*end != '\0' || errno != 0 || x > max)
		return -1;
	*v = x;
	return 0;
}

/* A time in ms since the epoch: after 2001, and not much after now. */
static int
when(const char *w, int64_t now, int64_t *t)
{
	long long	 v;

	if (number(w, LLONG_MAX, &v) == -1 || v < 1000000000000LL ||
	    v > now + ACT_FUTURE_MS)
		return -1;
	*t = v;
	return 0;
}

/*
 * Parse a slot's note (the line, without its newline, len bytes; it is
 * changed), read at now.  Returns 0, or -1 with *why.
 */
int
act_slot_parse(char *line, size_t len, int64_t now, struct act_slot *s,
    const char **why)
{
	char		*p = line, *w;
	long long	 v;
	size_t		 i;

	memset(s, 0, sizeof(*s));
	*why = "not \"slot PID SINCE STATE-SINCE STATE DRV URI\"";
	if (memchr(line, '\0', len) != NULL || (w = word(&p)) == NULL ||
	    strcmp(w, "slot") != 0)
		return -1;
	if (number(word(&p), INT_MAX, &v) == -1 || v < 1)
		return -1;
	s->pid = (pid_t)v;
	*why = "a time out of range";
	if (when(word(&p), now, &s->since) == -1 ||
	    when(word(&p), now, &s->state_since) == -1)
		return -1;
	*why = "an unknown state";
	if ((w = word(&p)) == NULL)
		return -1;
	for (i = 0; states[i] != NULL && strcmp(states[i], w) != 0; i++)
		;
	if (states[i] == NULL)
		return -1;
	s->state = states[i];
	*why = "a derivation that is not a store derivation";
	if ((w = word(&p)) == NULL || (strcmp(w, "-") != 0 &&
	    (!drv_path_valid(w) || strlen(w) >= sizeof(s->drv))))
		return -1;
	if (strcmp(w, "-") != 0)
		strlcpy(s->drv, w, sizeof(s->drv));
	*why = "a builder that is not printable";
	if (*p == '\0' || strlen(p) >= sizeof(s->uri))
		return -1;
	for (w = p; *w != '\0'; w++)
		if ((unsigned char)*w < 0x21 || *w == 0x7f)
			return -1;
	strlcpy(s->uri, p, sizeof(s->uri));
	return 0;
}

/* Parse a run's note, as act_slot_parse does. */
int
act_run_parse(char *line, size_t len, int64_t now, struct act_run *r,
    const char **why)
{
	char		*p = line, *w;
	long long	 v[5];
	int		 k;

	memset(r, 0, sizeof(*r));
	*why = "not \"run PID SINCE BUILT RUNNING QUEUED TOTAL BYTES "
	    "SLOWEST-SINCE SLOWEST\"";
	if (memchr(line, '\0', len) != NULL || (w = word(&p)) == NULL ||
	    strcmp(w, "run") != 0)
		return -1;
	if (number(word(&p), INT_MAX, &v[0]) == -1 || v[0] < 1)
		return -1;
	r->pid = (pid_t)v[0];
	if (when(word(&p), now, &r->since) == -1)
		return -1;
	for (k = 0; k < 4; k++)
		if (number(word(&p), GRAPH_NODES_MAX, &v[k]) == -1)
			return -1;
	r->built = (size_t)v[0];
	r->running = (size_t)v[1];
	r->queued = (size_t)v[2];
	r->total = (size_t)v[3];
	if (number(word(&p), LLONG_MAX, &v[4]) == -1)
		return -1;
	r->bytes = (uint64_t)v[4];
	if ((w = word(&p)) != NULL && strcmp(w, "0") == 0)
		r->slowest_since = 0;
	else if (when(w, now, &r->slowest_since) == -1)
		return -1;
	if ((w = word(&p)) == NULL || *p != '\0' ||
	    (strcmp(w, "-") != 0 && !path_name_valid(w, strlen(w))))
		return -1;
	if (strcmp(w, "-") != 0)
		strlcpy(r->slowest, w, sizeof(r->slowest));
	return 0;
}
