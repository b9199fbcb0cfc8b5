/*
 * Builder health, remembered across processes: a builder that fails to
 * connect, or drops a session, is skipped by every nix-offload process of
 * the user for a while, a while that grows with each failure in a row
 * (Hydra's 60 s x 3^(n-1), capped at an hour, with 10% jitter so that
 * many processes do not all come back at once).  A success clears it.
 *
 * The state of a builder is a small file, <runtime dir>/health/<digest>:
 * "FAILURES UNTIL REASON", written whole and renamed into place.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "extern.h"

#define HEALTH_CAP	3600	/* the longest backoff, seconds */
#define HEALTH_LINE_MAX	512

static int
health_path(const struct machine *m, char *path, size_t sz)
{
	struct sha256	 h;
	unsigned char	 d[SHA256_LEN];
	char		 hex[2 * SHA256_LEN + 1];

	sha256_init(&h);
	sha256_update(&h, m->uri_text, strlen(m->uri_text));
	sha256_final(&h, d);
	hash_hex(d, 8, hex);
	return (size_t)snprintf(path, sz, "%s/health/%s", sshconf.ctldir,
	    hex) < sz ? 0 : -1;
}

/* Read m's state: 0 with *failures, *until (epoch seconds), or -1 if none. */
int
health_get(const struct machine *m, long *failures, long long *until,
    char *reason, size_t rsz)
{
	char	 path[700], line[HEALTH_LINE_MAX];
	FILE	*f;
	int	 n = 0;

	if (health_path(m, path, sizeof(path)) == -1 ||
	    (f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) != NULL)
		n = sscanf(line, "%ld %lld", failures, until);
	fclose(f);
	if (n != 2 || *failures < 1)
		return -1;
	if (reason != NULL && rsz > 0) {
		char	*p = line;
		int	 field;
		for (field = 0; field < 2 && p != NULL; field++)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		snprintf(reason, rsz, "%s", p != NULL ? p : "");
		reason[strcspn(reason, "\n")] = '\0';
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

/* m failed to connect or dropped a session: back off for longer. */
void
health_failed(const struct machine *m, const char *reason)
{
	char		 path[700], tmp[760], dir[600];
	long		 failures = 0, base, wait, i;
	long long	 until;
	FILE		*f;

	if (env_number("NIX_OFFLOAD_BACKOFF", 60, 0, HEALTH_CAP, &base) == -1)
		base = 60;
	if (health_get(m, &failures, &until, NULL, 0) == -1)
		failures = 0;
	failures++;
	for (wait = base, i = 1; i < failures && wait < HEALTH_CAP; i++)
		wait *= 3;
	if (wait > HEALTH_CAP)
		wait = HEALTH_CAP;
	/* +-10%: processes that failed together come back apart */
	srand((unsigned)(getpid() ^ time(NULL)));
	if (wait >= 10)
		wait += (long)(rand() % (wait / 5 + 1)) - wait / 10;
	snprintf(dir, sizeof(dir), "%s/health", sshconf.ctldir);
	if ((mkdir(sshconf.ctldir, 0700) == -1 && errno != EEXIST) ||
	    (mkdir(dir, 0700) == -1 && errno != EEXIST) ||
	    health_path(m, path, sizeof(path)) == -1)
		return;
	snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "%ld %lld %s\n", failures, (long long)time(NULL) + wait,
	    reason != NULL ? reason : "");
	if (fclose(f) != 0 || rename(tmp, path) == -1)
		unlink(tmp);
	log_debug(1, "%s: failure %ld in a row: skipped for %ld s", m->uri_text,
	    failures, wait);
}

/* m worked: forget its failures. */
void
health_ok(const struct machine *m)
{
	char	 path[700];

	if (health_path(m, path, sizeof(path)) == 0)
		unlink(path);
}

/*
 * nix-offload enable [--builders SPEC] [--option NAME VALUE] URI... | --all
 * Forget the failures of builders, so that they are tried at once.
 */
int
cmd_enable(int argc, char **argv)
{
	struct conf	 conf;
	struct machines	 ms = { NULL, 0 };
	struct strlist	 uris = { NULL, 0, 0 };
	size_t		 i, j;
	int		 all = 0, r, rc = EXIT_OK, k;

	conf_init(&conf);
	for (k = 1; k < argc; k++) {
		if ((r = conf_option(&conf, argc, argv, &k)) == -1)
			goto usage;
		if (r == 1)
			continue;
		if (strcmp(argv[k], "--all") == 0)
			all = 1;
		else if (argv[k][0] == '-')
			goto usage;
		else if (strlist_add(&uris, argv[k]) == -1) {
			rc = EXIT_ERROR;
			goto out;
		}
	}
	if (!all && uris.n == 0)
		goto usage;
	if (builders_load(&conf, &ms) == -1) {
		rc = EXIT_USAGE;
		goto out;
	}
	for (j = 0; j < uris.n; j++) {
		for (i = 0; i < ms.n; i++)
			if (strcmp(ms.v[i].uri_text, uris.v[j]) == 0)
				break;
		if (i == ms.n) {
			log_errx("enable: %s is not one of the builders (see "
			    "nix-offload machines)", uris.v[j]);
			rc = EXIT_USAGE;
		}
	}
	for (i = 0; i < ms.n; i++)
		if (all || strlist_has(&uris, ms.v[i].uri_text))
			health_ok(&ms.v[i]);
out:
	machines_free(&ms);
	conf_free(&conf);
	strlist_free(&uris);
	return rc;
usage:
	log_errx("usage: nix-offload enable [--builders SPEC] [--option NAME "
	    "VALUE] URI... | --all");
	rc = EXIT_USAGE;
	goto out;
}
