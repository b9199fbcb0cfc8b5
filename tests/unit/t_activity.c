/*
 * Unit tests for src/activity.c: the notes `status` reads, written by
 * another process (act_slot_parse, act_run_parse), and one written and
 * read back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "harness.h"

/* ---- activity notes: what `status` reads, written by another process ---- */

#define WNOW	1800000000000LL		/* ms */
#define DRVP	"/nix/store/00000000000000000000000000000000-hello.drv"

static const struct {
	const char	*name, *in;
	int		 ok;
	const char	*state, *drv, *uri;
} slot_cases[] = {
	{ "note_slot", "slot 42 1799999999000 1799999999500 building " DRVP
	    " ssh://mac", 1, "building", DRVP, "ssh://mac" },
	{ "note_slot_idle", "slot 42 1799999999000 1799999999500 idle - "
	    "ssh://u@h:22?ssh-key=/k", 1, "idle", "", "ssh://u@h:22?ssh-key=/k" },
	{ "note_slot_state", "slot 42 1799999999000 1799999999500 sleeping - "
	    "ssh://mac", 0, NULL, NULL, NULL },
	{ "note_slot_pid0", "slot 0 1799999999000 1799999999500 idle - "
	    "ssh://mac", 0, NULL, NULL, NULL },
	{ "note_slot_pid_big", "slot 99999999999 1799999999000 1799999999500 "
	    "idle - ssh://mac", 0, NULL, NULL, NULL },
	{ "note_slot_future", "slot 42 1900000000000 1799999999500 idle - "
	    "ssh://mac", 0, NULL, NULL, NULL },
	{ "note_slot_seconds", "slot 42 1799999999 1799999999 idle - "
	    "ssh://mac", 0, NULL, NULL, NULL },
	{ "note_slot_not_drv", "slot 42 1799999999000 1799999999500 building "
	    "/etc/passwd ssh://mac", 0, NULL, NULL, NULL },
	{ "note_slot_escape", "slot 42 1799999999000 1799999999500 idle - "
	    "ssh://mac\033[2J", 0, NULL, NULL, NULL },
	{ "note_slot_no_uri", "slot 42 1799999999000 1799999999500 idle -",
	    0, NULL, NULL, NULL },
	{ "note_slot_space_uri", "slot 42 1799999999000 1799999999500 idle - "
	    "ssh://a b", 0, NULL, NULL, NULL },
	{ "note_slot_sign", "slot -4 1799999999000 1799999999500 idle - "
	    "ssh://mac", 0, NULL, NULL, NULL },
	{ "note_slot_run", "run 42 1799999999000 1 2 3 9 0 0 -", 0, NULL,
	    NULL, NULL },
	{ "note_slot_empty", "", 0, NULL, NULL, NULL },
};

static const struct {
	const char	*name, *in;
	int		 ok;
	size_t		 built, total;
	const char	*slowest;
} run_cases[] = {
	{ "note_run", "run 42 1799999999000 1 2 3 9 1048576 1799999999100 "
	    "slow-3", 1, 1, 9, "slow-3" },
	{ "note_run_idle", "run 42 1799999999000 0 0 0 9 0 0 -", 1, 0, 9, "" },
	{ "note_run_name", "run 42 1799999999000 0 0 0 9 0 1799999999100 "
	    "a/b", 0, 0, 0, NULL },
	{ "note_run_trailing", "run 42 1799999999000 0 0 0 9 0 0 - x", 0, 0, 0,
	    NULL },
	{ "note_run_huge", "run 42 1799999999000 0 0 0 99999999999 0 0 -", 0,
	    0, 0, NULL },
	{ "note_run_short", "run 42 1799999999000 0 0", 0, 0, 0, NULL },
};

static void
test_notes(void)
{
	struct act_slot	 sl;
	struct act_run	 r;
	char		 buf[ACT_NOTE_LEN], path[] = "/tmp/nix-offload-unit.XXXXXX";
	const char	*why;
	ssize_t		 n;
	size_t		 i;
	int		 fd, good;

	for (i = 0; i < nitems(slot_cases); i++) {
		strlcpy(buf, slot_cases[i].in, sizeof(buf));
		why = NULL;
		if (act_slot_parse(buf, strlen(buf), WNOW, &sl, &why) == -1)
			good = !slot_cases[i].ok || no("refused: %s", why);
		else
			good = (slot_cases[i].ok || no("accepted")) &&
			    same("state", sl.state, slot_cases[i].state) &&
			    same("drv", sl.drv, slot_cases[i].drv) &&
			    same("uri", sl.uri, slot_cases[i].uri) &&
			    (sl.pid == 42 || no("pid %ld", (long)sl.pid));
		report(slot_cases[i].name, good && (slot_cases[i].ok ||
		    why != NULL || no("no reason given")));
	}
	for (i = 0; i < nitems(run_cases); i++) {
		strlcpy(buf, run_cases[i].in, sizeof(buf));
		why = NULL;
		if (act_run_parse(buf, strlen(buf), WNOW, &r, &why) == -1)
			good = !run_cases[i].ok || no("refused: %s", why);
		else
			good = (run_cases[i].ok || no("accepted")) &&
			    (r.built == run_cases[i].built || no("built")) &&
			    (r.total == run_cases[i].total || no("total")) &&
			    same("slowest", r.slowest, run_cases[i].slowest);
		report(run_cases[i].name, good);
	}
	/* written whole over a longer one, read back as written */
	if ((fd = mkstemp(path)) == -1) {
		report("note_round_trip", no("mkstemp: %s", strerror(errno)));
		return;
	}
	unlink(path);
	act_slot(fd, "ssh://a-much-longer-builder-name.example", "building",
	    DRVP, clock_wall());
	act_slot(fd, "ssh://mac", "idle", NULL, clock_wall());
	n = act_read(fd, buf);
	good = (n > 0 || no("unread")) && (act_slot_parse(buf, (size_t)n,
	    clock_wall(), &sl, &why) == 0 || no("refused: %s", why)) &&
	    same("uri", sl.uri, "ssh://mac") && same("state", sl.state, "idle") &&
	    (sl.pid == getpid() || no("pid %ld", (long)sl.pid));
	report("note_round_trip", good);
	close(fd);
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_notes();
	return done();
}
