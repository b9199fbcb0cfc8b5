/*
 * Fuzz target: the notes `status` reads (act_slot_parse, act_run_parse),
 * as it finds them in the runtime directory, written by another process,
 * a dead one, or someone else.  What is accepted must keep its promises:
 * a positive pid, times after 2001 and not a day past now, a known state,
 * a store derivation or none, a builder name of printable bytes without
 * spaces, a run's counts within GRAPH_NODES_MAX.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define NOW	1800000000000LL

static void
input(const uint8_t *data, size_t size)
{
	struct act_slot	 s;
	struct act_run	 r;
	char		*buf;
	const char	*why = NULL, *p;

	if (size > ACT_NOTE_LEN)
		return;
	/* a note as status reads one: NUL-terminated, parsed in place */
	buf = fuzz_text(data, size);
	if (act_slot_parse(buf, size, NOW, &s, &why) == 0) {
		if (s.pid < 1 || s.since < 1000000000000LL ||
		    s.since > NOW + 86400000LL || s.state == NULL ||
		    (s.drv[0] != '\0' && !drv_path_valid(s.drv)) ||
		    s.uri[0] == '\0')
			abort();
		for (p = s.uri; *p != '\0'; p++)
			if ((unsigned char)*p <= 0x20 || *p == 0x7f)
				abort();
	} else if (why == NULL)
		abort();
	buf = fuzz_text(data, size);
	why = NULL;
	if (act_run_parse(buf, size, NOW, &r, &why) == 0) {
		if (r.pid < 1 || r.built > GRAPH_NODES_MAX ||
		    r.total > GRAPH_NODES_MAX ||
		    (r.slowest[0] != '\0' &&
		    !path_name_valid(r.slowest, strlen(r.slowest))))
			abort();
	} else if (why == NULL)
		abort();
}

const struct fuzz_target fuzz_target = { "notes", NULL, input };
