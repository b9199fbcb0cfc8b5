/*
 * Fuzz target: the health record reader (health_parse), as a process
 * finds a record another one wrote, or someone planted.  What it accepts
 * must keep its promises: a count from 1 to HEALTH_FAILURES_MAX, an end no
 * later than the cap and its jitter, a reason with no control byte but
 * tabs, and the backoff computed from any accepted count (with any base
 * NIX_OFFLOAD_BACKOFF allows) stays within the cap.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define NOW	1700000000LL

static void
input(const uint8_t *data, size_t size)
{
	char		 reason[256];
	const char	*why = NULL, *p;
	long		 f, w;
	long long	 until;

	if (health_parse((const char *)data, size, NOW, &f, &until, reason,
	    sizeof(reason), &why) == -1) {
		if (why == NULL)
			abort();
		return;
	}
	if (f < 1 || f > HEALTH_FAILURES_MAX ||
	    until > NOW + HEALTH_CAP + HEALTH_CAP / 10 + 1)
		abort();
	for (p = reason; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f ||
		    *p == '\033')
			abort();
	w = health_wait((long)(size % (HEALTH_CAP + 1)), f);
	if (w < 0 || w > HEALTH_CAP)
		abort();
}

const struct fuzz_target fuzz_target = { "health", NULL, input };
