/*
 * nix-offload status [--json] [--watch] [--builders SPEC] [--option NAME
 * VALUE]
 *
 * What runs where, from the runtime directory alone: no builder is
 * contacted.  Every builder (those configured, and any other whose slots
 * a process holds) with its slots in use and free, what each slot is
 * doing (activity.c), the processes queued for a slot, and its backoff;
 * then each `build` run, with how far it has got.  The runtime directory
 * is per user: root's (the hook's, under a nix-daemon) is seen by root.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "extern.h"

#define STATUS_WATCH_MS		1000

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	stop = sig;
}

/*
 * For an ordinary user: the picture of the nix-daemon's hook, root's,
 * from the summary root keeps (pub.c), after the user's own in *text:
 * its lines, or in the JSON, "daemon":{"asOf":...,"status":{...}}.
 * Returns 0, or -1 (reported).
 */
static int
daemons(char **text, size_t *len, int json)
{
	char		*root, *nt, at[32];
	size_t		 rl, room;
	ssize_t		 n;
	int64_t		 when;
	int		 k;

	if ((n = pub_get(json ? "status.json" : "status.txt", &root,
	    &when)) == -1)
		return 0;
	rl = (size_t)n;
	if (json) {
		char	 err[256];
		while (rl > 0 && (root[rl - 1] == '\n' || root[rl - 1] == ' '))
			rl--;
		if (json_check(root, rl, err, sizeof(err)) == -1) {
			log_debug(1, "the daemon's status: %s", err);
			free(root);
			return 0;
		}
	} else
		rl = text_filter(root, rl, root, 0);
	clock_text(when / 1000, at, sizeof(at));
	room = *len + rl + 256;
	if ((nt = realloc(*text, room)) == NULL) {
		log_err("status");
		free(root);
		return -1;
	}
	*text = nt;
	if (json) {
		/* into the object, before its last "}" */
		while (*len > 0 && nt[*len - 1] != '}')
			(*len)--;
		if (*len > 0)
			(*len)--;
		k = snprintf(nt + *len, room - *len, ",\"daemon\":{\"asOf\":%lld,"
		    "\"status\":%.*s}}\n", (long long)(when / 1000), (int)rl,
		    root);
	} else
		k = snprintf(nt + *len, room - *len, "\nthe nix-daemon's build "
		    "hook (root), as of %s:\n%.*s", at, (int)rl, root);
	*len += k > 0 ? (size_t)k : 0;
	free(root);
	return 0;
}

int
cmd_status(int argc, char **argv)
{
	const struct usage	*u = usage_find("status");
	struct usage_opt	 o;
	struct common		 cm;
	char			*text = NULL;
	size_t			 len = 0, k;
	FILE			*f;
	int			 i = 1, r, watch = 0, tty, rc = EXIT_USAGE;

	memset(&o, 0, sizeof(o));
	common_init(&cm);
	while ((r = usage_next(u, argc, argv, &i, &o)) != USAGE_END) {
		if (r == -1)
			goto out;
		if (r == USAGE_OPERAND) {
			usage_error("status");
			goto out;
		}
		if (strcmp(o.name, "--watch") == 0)
			watch = 1;
		else if (common_option(&cm, &o) != 1)
			goto out;
	}
	if (common_load(&cm) == -1)
		goto out;
	rc = EXIT_ERROR;
	tty = isatty(STDOUT_FILENO);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (;;) {
		/* drawn whole, then shown at once: no flicker */
		if ((f = open_memstream(&text, &len)) == NULL) {
			log_err("status");
			goto out;
		}
		/* other clients' slots, from builders whose master is up */
		for (k = 0; k < cm.ms.n; k++)
			lease_refresh(&cm.ms.v[k]);
		r = seen_print(f, cm.json, &cm.ms);
		if (fclose(f) != 0 || r == -1 || daemons(&text, &len,
		    cm.json) == -1)
			goto out;
		if (watch && tty)
			fputs("\033[H\033[2J", stdout);
		fwrite(text, 1, len, stdout);
		if (watch && !tty && !cm.json)
			fputc('\n', stdout);
		fflush(stdout);
		free(text);
		text = NULL;
		if (!watch || stop || ferror(stdout))
			break;
		poll(NULL, 0, STATUS_WATCH_MS);
		if (stop)
			break;
	}
	rc = ferror(stdout) ? EXIT_ERROR : EXIT_OK;
out:
	free(text);
	common_free(&cm);
	return rc;
}
