/*
 * Builder health, remembered across processes: a builder that fails to
 * connect, or drops a session, is skipped by every nix-offload process of
 * the user for a while, a while that grows with each failure in a row
 * (Hydra's 60 s x 3^(n-1), capped at an hour, with 10% jitter so that
 * many processes do not all come back at once).  A success clears it.
 *
 * The state of a builder is a small file, <runtime dir>/health/<digest>:
 * "FAILURES UNTIL REASON", written whole and renamed into place.  One
 * incident counts once: a failure of an attempt that began before the
 * record was last written (its mtime) is that failure again, seen by
 * another process (four hooks started together against a builder whose
 * host key is wrong make one failure, not four).
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "extern.h"

#define HEALTH_LINE_MAX	(HEALTH_REASON_MAX + 64)

/*
 * Parse a health record, "FAILURES UNTIL REASON\n", read at time now.
 * A record is trusted for nothing: FAILURES must be 1..HEALTH_FAILURES_MAX
 * and UNTIL no later than now plus the longest backoff and its jitter (a
 * later one was written by a clock that stepped back, or by someone
 * else).  Returns 0, or -1 with *why saying what is wrong.
 */
int
health_parse(const char *buf, size_t len, long long now, long *failures,
    long long *until, char *reason, size_t rsz, const char **why)
{
	const char	*p = buf, *end = buf + len;
	long long	 v[2];
	int		 k;

	for (k = 0; k < 2; k++) {
		const char	*d = p;

		for (v[k] = 0; p < end && *p >= '0' && *p <= '9'; p++) {
			if (v[k] > (LLONG_MAX - 9) / 10) {
				*why = "a number out of range";
				return -1;
			}
			v[k] = v[k] * 10 + (*p - '0');
		}
		/* a space after each number; the reason may be empty */
		if (p == d || p == end ||
		    (*p != ' ' && !(k == 1 && *p == '\n'))) {
			*why = "not \"FAILURES UNTIL REASON\"";
			return -1;
		}
		if (*p == ' ')
			p++;
	}
	if (v[0] < 1 || v[0] > HEALTH_FAILURES_MAX) {
		*why = "a failure count out of range";
		return -1;
	}
	if (v[1] > now + HEALTH_CAP + HEALTH_CAP / 10 + 1) {
		*why = "a backoff longer than the cap";
		return -1;
	}
	*failures = (long)v[0];
	*until = v[1];
	if (reason != NULL && rsz > 0) {
		const char	*nl = memchr(p, '\n', (size_t)(end - p));
		size_t		 n = (size_t)((nl != NULL ? nl : end) - p);

		snprintf(reason, rsz, "%.*s", (int)n, p);
		text_clean(reason);	/* a terminal will show it */
		reason[strcspn(reason, "\n")] = '\0';
	}
	return 0;
}

/*
 * Seconds to skip a builder after its n-th failure in a row: base x
 * 3^(n-1), at most HEALTH_CAP.
 */
long
health_wait(long base, long n)
{
	long	 wait = base, i;

	for (i = 1; i < n && wait > 0 && wait < HEALTH_CAP; i++)
		wait *= 3;
	return wait > HEALTH_CAP ? HEALTH_CAP : wait;
}

/* Read m's state: 0 with *failures, *until (epoch seconds), or -1 if none. */
int
health_get(const struct machine *m, long *failures, long long *until,
    char *reason, size_t rsz)
{
	char		 key[17], line[HEALTH_LINE_MAX];
	const char	*why;
	ssize_t		 n;

	rundir_key(m->uri_text, key);
	if ((n = rundir_read("health", key, line, sizeof(line), NULL)) <= 0)
		return -1;
	if (health_parse(line, (size_t)n, (long long)time(NULL), failures,
	    until, reason, rsz, &why) == -1) {
		log_debug(1, "%s: ignoring its health record %s/health/%s: %s",
		    m->uri_text, rundir_path(), key, why);
		return -1;
	}
	return 0;
}

/*
 * Seconds m is still to be skipped, 0 if it may be tried.
 */
long
health_backoff(const struct machine *m)
{
	long		 failures;
	long long	 until, now = (long long)time(NULL);

	if (health_get(m, &failures, &until, NULL, 0) == -1 || until <= now)
		return 0;
	return (long)(until - now);
}

/*
 * m failed to connect or dropped a session, as f says, in an attempt that
 * began at since (clock_wall, ms; 0: count it whatever): back off longer,
 * unless the failure is one recorded already.
 */
void
health_failed(const struct machine *m, const struct failure *f,
    int64_t since)
{
	char		 key[17], line[HEALTH_LINE_MAX], clean[FAILURE_MSG_MAX];
	long		 failures = 0, base, wait;
	long long	 until;
	struct stat	 st;
	int		 n;

	rundir_key(m->uri_text, key);
	if (since > 0 && rundir_read("health", key, line, sizeof(line),
	    &st) > 0 && (int64_t)st.st_mtim.tv_sec * 1000 +
	    st.st_mtim.tv_nsec / 1000000 >= since &&
	    health_get(m, &failures, &until, NULL, 0) == 0) {
		log_debug(1, "%s: failed as recorded already (failure %ld): "
		    "one incident", m->uri_text, failures);
		return;
	}

	if (clock_env_number("NIX_OFFLOAD_BACKOFF", 60, 0, HEALTH_CAP, &base) == -1)
		base = 60;
	if (health_get(m, &failures, &until, NULL, 0) == -1)
		failures = 0;
	if (failures < HEALTH_FAILURES_MAX)
		failures++;
	wait = health_wait(base, failures);
	/* +-10%: processes that failed together come back apart */
	srand((unsigned)(getpid() ^ time(NULL)));
	if (wait >= 10)
		wait += (long)(rand() % (wait / 5 + 1)) - wait / 10;
	/* the record is one line, its reason cut to fit, between words */
	snprintf(clean, sizeof(clean), "%s", f->msg[0] != '\0' ? f->msg :
	    "failed without a message");
	if (strlen(clean) > HEALTH_REASON_MAX - 1) {
		char	*sp;
		clean[HEALTH_REASON_MAX - 4] = '\0';
		if ((sp = strrchr(clean, ' ')) != NULL &&
		    sp > clean + HEALTH_REASON_MAX / 2)
			*sp = '\0';
		strlcat(clean, "...", sizeof(clean));
	}
	for (n = 0; clean[n] != '\0'; n++)
		if (clean[n] == '\n' || clean[n] == '\r')
			clean[n] = ' ';
	n = snprintf(line, sizeof(line), "%ld %lld %s\n", failures,
	    (long long)time(NULL) + wait, clean);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)rundir_write("health", key, line, (size_t)n);
	log_debug(1, "%s: failure %ld in a row: skipped for %ld s", m->uri_text,
	    failures, wait);
}

/* m worked: forget its failures. */
void
health_ok(const struct machine *m)
{
	char	 key[17];

	rundir_key(m->uri_text, key);
	(void)rundir_unlink("health", key, 0);
}
