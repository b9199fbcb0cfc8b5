/*
 * nix-offload store-info [--json] [--store] URI
 *
 * Like `nix store info --store URI`: connect, complete the handshake, and
 * say what the builder speaks.  A daemon (ssh-ng://) says its Nix version
 * and whether we are trusted in its handshake.  Over ssh:// the remote
 * Nix version comes from a
 * second session over the same master (`nix-store --version`) and is
 * remembered for the master's lifetime, so a warm call costs one session.
 * A cold call (no master yet) does not wait for it: that would make it
 * slower than Nix's, which pays one SSH handshake and nothing else.  It
 * leaves a detached child to learn the version over the new master for
 * the calls that follow.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define VERSION_OUT_MAX	256

static int
start_version(const struct store_uri *u, struct conn *vc)
{
	struct args	 w = { NULL, 0, 0 };
	int		 rc;

	if (args_split(u->remote_program ? u->remote_program : "nix-store",
	    &w) == -1 || args_add(&w, "--version") == -1) {
		args_free(&w);
		return -1;
	}
	/* the version is a bonus: its failures are not said */
	rc = ssh_open(u, w.list, vc, CONN_QUIET);
	args_free(&w);
	return rc;
}

/* "nix-store (Nix) 2.8.0\n" -> "2.8.0"; out is empty if it is not that. */
static void
finish_version(struct conn *vc, char *out, size_t sz)
{
	char	 buf[VERSION_OUT_MAX];

	out[0] = '\0';
	vc->timeout_ms = 10000;
	if (wire_read_all(vc, buf, sizeof(buf)) > 0)
		(void)nixver_parse(buf, out, sz);
	if (ssh_close(vc) == -1 || out[0] == '\0')
		log_debug(1, "%s: could not learn the remote Nix version",
		    vc->host);
}

/* Learn the version in the background, for the next call (see above). */
static void
learn_version_later(const struct store_uri *u)
{
	struct conn	 vc;
	char		 version[64];
	pid_t		 pid;
	int		 fd;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) != 0)
		return;		/* init reaps it: we do not wait */
	setsid();
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (start_version(u, &vc) == 0) {
		finish_version(&vc, version, sizeof(version));
		if (version[0] != '\0')
			ssh_fact_put(u, "nixversion", version);
	}
	_exit(0);
}

int
cmd_store_info(int argc, char **argv)
{
	struct store_uri u;
	struct conn	 c, vc;
	const char	*arg = NULL;
	char		 version[64] = "", shown[4 * sizeof(version)];
	struct usage_opt o;
	int		 json = 0, i = 1, r, k, have_vc = 0, cached, master;
	int64_t		 t0;

	memset(&o, 0, sizeof(o));
	while ((r = usage_next(usage_find("store-info"), argc, argv, &i,
	    &o)) != USAGE_END) {
		if (r == -1)
			return EXIT_USAGE;
		if (r == USAGE_OPTION)
			json |= strcmp(o.name, "--json") == 0;	/* --store: */
		else if (arg == NULL)			/* the URI follows */
			arg = o.arg[0];
		else {
			log_errx("store-info: one store URI at a time");
			return EXIT_USAGE;
		}
	}
	if (arg == NULL) {
		usage_error("store-info");
		return EXIT_USAGE;
	}
	if (uri_parse(arg, &u) == -1)
		return EXIT_USAGE;
	t0 = clock_ms();
	/* a daemon says its version itself */
	cached = u.ng ||
	    ssh_fact_get(&u, "nixversion", version, sizeof(version)) == 0;
	master = ssh_master_up(&u);
	/* with --json, a failure is said in the JSON */
	if ((k = ssh_start_store(&u, &c, json ? CONN_QUIET : 0)) == 0) {
		/* warm: the version session runs beside the serve session */
		if (!cached && master)
			have_vc = start_version(&u, &vc) == 0;
		k = proto_handshake(&c, u.ng);
	}
	if (k == -1) {
		int rc = fail_exit(c.f.kind != FAIL_NONE ? c.f.kind : FAIL_OTHER);
		ssh_kill(&c);
		if (have_vc)
			ssh_kill(&vc);
		if (json) {
			printf("{\"url\":");
			json_string(stdout, u.display);
			printf(",\"ok\":false,\"error\":");
			json_string(stdout, c.f.msg);
			printf(",\"kind\":\"%s\"}\n", fail_name(c.f.kind));
		}
		uri_free(&u);
		return rc;
	}
	if (have_vc) {
		finish_version(&vc, version, sizeof(version));
		if (version[0] != '\0')
			ssh_fact_put(&u, "nixversion", version);
	}
	ssh_close(&c);
	if (u.ng)
		strlcpy(version, c.remote_nix, sizeof(version));
	/* after the close: the child must not hold the session's pipes */
	if (!cached && !master && ssh_master_up(&u))
		learn_version_later(&u);
	if (json) {
		printf("{\"url\":");
		json_string(stdout, u.display);
		printf(",\"ok\":true,\"protocol\":\"%u.%u\","
		    "\"remoteProtocol\":\"%u.%u\",\"version\":",
		    c.version >> 8, c.version & 0xff,
		    c.remote_version >> 8, c.remote_version & 0xff);
		if (version[0] != '\0')
			json_string(stdout, version);
		else
			printf("null");
		/* as Nix's: only a daemon knows whether we are trusted */
		if (c.trust != DAEMON_TRUST_UNKNOWN)
			printf(",\"trusted\":%s", c.trust == DAEMON_TRUST_YES ?
			    "true" : "false");
		printf(",\"latencyMs\":%lld}\n", (long long)(clock_ms() - t0));
	} else {
		printf("Store URL: %s\n", u.display);
		printf("Protocol: %u.%u", c.version >> 8, c.version & 0xff);
		if (c.remote_version != c.version)
			printf(" (remote speaks %u.%u)", c.remote_version >> 8,
			    c.remote_version & 0xff);
		printf("\n");
		/* the builder's words, maybe from a cache: filtered */
		if (version[0] != '\0')
			printf("Version: %s\n", text_printable(version,
			    strlen(version), shown, sizeof(shown)));
		if (c.trust != DAEMON_TRUST_UNKNOWN)
			printf("Trusted: %d\n", c.trust == DAEMON_TRUST_YES);
	}
	uri_free(&u);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
}
