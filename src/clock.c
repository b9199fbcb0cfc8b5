/*
 * Clocks: a monotonic one for timeouts, the wall clock for what other
 * processes read, and times as a person reads them; and the numbers of
 * nix-offload's own environment variables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "extern.h"

/*
 * Read the integer environment variable name into *v, dflt when unset.
 * Returns 0, or -1 (reported) when it is not a number in [min, max].
 */
int
clock_env_number(const char *name, long dflt, long min, long max, long *v)
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
clock_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds since the epoch: for times other processes read. */
int64_t
clock_wall(void)
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
