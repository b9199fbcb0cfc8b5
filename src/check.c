/*
 * nix-offload check [--json] [-j N] [--builders SPEC] [--option NAME VALUE]
 *
 * The doctor: probe every usable builder in parallel (at most N at a time,
 * each in a child process of its own, over the builder's control master)
 * and print a table.  A probe proves the builder is useful, not just up:
 * the handshake (serve protocol for ssh://, daemon protocol for ssh-ng://),
 * then a tiny path written to its store (AddToStoreNar) and read back (its
 * NAR hash must match), and, from a second session in parallel, the
 * remote Nix version, free disk and load.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "extern.h"

#define CHECK_JOBS_MAX		64
#define CHECK_INFO_MAX		2048	/* output of the info session */
#define CHECK_PATH_NAME		"nix-offload-check"
#define CHECK_DISK_KB_MAX	(1LL << 50)	/* an exbibyte free: more is a lie */
#define CHECK_CPUS_MAX		(1L << 20)
#define CHECK_LINE_MAX		4096	/* a line of the local nix's output */
#define CHECK_NIX_TIMEOUT	30	/* seconds the local nix may take */

struct probe {
	int		 done;
	int		 ok;
	enum fail	 kind;
	char		 error[1024];
	long		 latency_ms;
	unsigned	 proto, rproto;
	int		 ng;		/* the daemon protocol */
	int		 trust;		/* DAEMON_TRUST_*, for ng */
	char		 version[64];	/* as the builder wrote it: filter it */
	int		 writable;
	long long	 disk_free_kb;	/* -1: unknown */
	double		 load;		/* 1-minute load average, -1: unknown */
	long		 others;	/* slots other clients hold: -1 unknown */
	long		 cpus;		/* 0: unknown */
	char		 native[64];	/* its Nix system, from uname: "" */
};

static int
sink_wire(void *arg, const void *p, size_t n)
{
	return wire_write(arg, p, n);
}

static int
send_nar(void *arg, struct conn *c)
{
	const char	*text = arg;
	struct nar_sink	 s;

	nar_sink_init(&s, sink_wire, c);
	return nar_write_file(&s, text, strlen(text), 0);
}

/*
 * Write a small path that no builder has yet and read its info back: the
 * store takes writes, and what it stored is what we sent.
 */
static int
write_test(struct conn *c, const struct store_uri *u)
{
	char		 text[256], path[512], hash[80], b32[60], ca[96];
	unsigned char	 d[SHA256_LEN];
	struct nar_sink	 s;
	struct strlist	 want = { NULL, 0, 0 };
	struct path_info *pi = NULL, add;
	size_t		 n = 0;
	struct timespec	 ts;
	int		 rc = -1;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(text, sizeof(text), "nix-offload check of %.100s at %lld.%09ld "
	    "by pid %ld\n", u->display, (long long)ts.tv_sec, ts.tv_nsec,
	    (long)getpid());
	nar_sink_init(&s, NULL, NULL);
	nar_write_file(&s, text, strlen(text), 0);
	sha256_final(&s.hash, d);
	nix32_encode(d, SHA256_LEN, b32);
	snprintf(hash, sizeof(hash), "sha256:%s", b32);
	if (path_make(STORE_DIR, "source", d, CHECK_PATH_NAME, path,
	    sizeof(path)) == -1 || strlist_add(&want, path) == -1) {
		log_errx("%s: cannot make the test path", u->display);
		goto out;
	}
	/* AddToStoreNar, which every protocol we accept has (ImportPaths
	 * is missing from Nix 2.32.0 and 2.32.1) */
	memset(&add, 0, sizeof(add));
	add.path = path;
	add.deriver = "";
	add.nar_hash = hash;
	add.nar_size = s.size;
	/* content-addressed: an untrusted user's daemon takes it unsigned */
	snprintf(ca, sizeof(ca), "fixed:r:%s", hash);
	add.ca = ca;
	if (proto_add_begin(c, 1) == -1 ||
	    proto_add_nar(c, &add, send_nar, text) == -1 ||
	    proto_add_done(c, 1) == -1 ||
	    proto_infos(c, &want, &pi, &n) == -1)
		goto out;
	if (n != 1 || pi[0].nar_hash == NULL ||
	    strcmp(pi[0].nar_hash, hash) != 0 || pi[0].nar_size != s.size) {
		wire_error(c, FAIL_OTHER, "the builder's store did not keep a "
		    "test path: wrote %s (%llu bytes), read back %s", hash,
		    (unsigned long long)s.size,
		    n == 1 && pi[0].nar_hash ? pi[0].nar_hash : "nothing");
		goto out;
	}
	rc = 0;
out:
	serve_path_infos_free(pi, n);
	strlist_free(&want);
	return rc;
}

/* The second session: version, free disk, load, cores; one shell line. */
static int
start_info(const struct store_uri *u, struct conn *ic)
{
	struct args	 w = { NULL, 0, 0 }, prog = { NULL, 0, 0 };
	char		*p = NULL, *script = NULL;
	int		 rc = -1;
	size_t		 len;

	if (args_split(u->remote_program ? u->remote_program : u->ng ?
	    "nix-daemon" : "nix-store", &prog) == -1 ||
	    (p = args_join(prog.list)) == NULL)
		goto out;
	len = strlen(p) + 200;
	if ((script = malloc(len)) == NULL)
		goto out;
	snprintf(script, len, "%s --version; df -Pk " STORE_DIR
	    " 2>/dev/null | tail -n 1; cat /proc/loadavg 2>/dev/null; "
	    "nproc 2>/dev/null; echo uname $(uname -sm)", p);
	if (args_add(&w, "sh") == -1 || args_add(&w, "-c") == -1 ||
	    args_add(&w, "%s", script) == -1)
		goto out;
	rc = ssh_open(u, w.list, ic, CONN_QUIET);
out:
	free(p);
	free(script);
	args_free(&w);
	args_free(&prog);
	return rc;
}

/* A count in decimal digits only, at most max.  Returns 0, or -1. */
static int
number(const char *s, long long max, long long *v)
{
	long long	 n = 0;

	if (*s == '\0')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (max - (*s - '0')) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	if (*s != '\0')
		return -1;
	*v = n;
	return 0;
}

/*
 * The 1-minute load average that starts a /proc/loadavg line: 1 to 6
 * digits, then perhaps a point and 1 to 3 digits, then a space or the end.
 * Anything else is no load at all, since the builder wrote it.  Sets *load
 * and returns 0, or returns -1.
 */
int
check_parse_load(const char *s, double *load)
{
	double	 v = 0, scale = 1;
	size_t	 i, f;

	for (i = 0; i < 7 && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (s[i] - '0');
	if (i == 0 || i == 7)
		return -1;
	if (s[i] == '.') {
		for (i++, f = 0; f < 4 && s[i] >= '0' && s[i] <= '9'; i++, f++) {
			scale /= 10;
			v += (s[i] - '0') * scale;
		}
		if (f == 0 || f == 4)
			return -1;
	}
	if (s[i] != '\0' && s[i] != ' ')
		return -1;
	*load = v;
	return 0;
}

/*
 * df -P's line for the store, "FS 1024-blocks Used Available Capacity
 * Mount", whatever FS is called ("/dev/sda1", "rpool/nix", "tmpfs", or
 * "-" in a container): its free kilobytes into *kb.  Returns 0, or -1
 * when line is not such a line.
 */
int
check_parse_df(const char *line, long long *kb)
{
	char		 fs[256], blocks[32], used[32], avail[32], cap[32];
	char		 mnt[2];
	long long	 n;
	size_t		 l;

	if (sscanf(line, "%255s %31s %31s %31s %31s %1s", fs, blocks, used,
	    avail, cap, mnt) != 6)
		return -1;
	l = strlen(cap);
	if ((cap[l - 1] != '%' && strcmp(cap, "-") != 0) ||
	    number(blocks, CHECK_DISK_KB_MAX, &n) == -1 ||
	    number(used, CHECK_DISK_KB_MAX, &n) == -1 ||
	    number(avail, CHECK_DISK_KB_MAX, &n) == -1)
		return -1;
	*kb = n;
	return 0;
}

/* Is line shaped like /proc/loadavg, "0.10 0.20 0.30 1/234 5678"? */
static int
loadavg(const char *line)
{
	char	 f[5][32], end[2];

	return sscanf(line, "%31s %31s %31s %31s %31s %1s", f[0], f[1], f[2],
	    f[3], f[4], end) == 5 && strchr(f[3], '/') != NULL;
}

/*
 * Everything here comes from the builder: the version is kept as written
 * (it is filtered where it is printed), the numbers only when they are
 * numbers.
 */
static void
finish_info(struct conn *ic, struct probe *r)
{
	char		 buf[CHECK_INFO_MAX], *line, *next;
	int		 k = 0;
	long long	 n;

	ic->timeout_ms = 10000;
	if (wire_read_all(ic, buf, sizeof(buf)) <= 0) {
		ssh_close(ic);
		return;
	}
	ssh_close(ic);
	for (line = buf; line != NULL && *line != '\0'; line = next, k++) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strstr(line, "(Nix) ") != NULL)
			(void)nixver_parse(line, r->version,
			    sizeof(r->version));
		else if (check_parse_df(line, &n) == 0)
			r->disk_free_kb = n;
		else if (loadavg(line) && r->load < 0)
			check_parse_load(line, &r->load);
		else if (r->cpus == 0 && number(line, CHECK_CPUS_MAX, &n) == 0)
			r->cpus = (long)n;
		else if (strncmp(line, "uname ", 6) == 0)
			(void)check_parse_uname(line + 6, r->native,
			    sizeof(r->native));
	}
}

/*
 * `uname -sm` ("Linux x86_64", "Darwin arm64") -> the Nix system that
 * machine runs natively ("x86_64-linux", "aarch64-darwin"), into out.
 * Returns 0, or -1 when it is not such a line (out empty).
 */
int
check_parse_uname(const char *line, char *out, size_t sz)
{
	char	 os[32], cpu[32], end[2];
	size_t	 i;

	out[0] = '\0';
	if (sscanf(line, "%31s %31s %1s", os, cpu, end) != 2)
		return -1;
	for (i = 0; os[i] != '\0'; i++)
		if (os[i] >= 'A' && os[i] <= 'Z')
			os[i] = (char)(os[i] - 'A' + 'a');
		else if ((os[i] < 'a' || os[i] > 'z') &&
		    (os[i] < '0' || os[i] > '9'))
			return -1;
	for (i = 0; cpu[i] != '\0'; i++)
		if ((cpu[i] < 'a' || cpu[i] > 'z') &&
		    (cpu[i] < '0' || cpu[i] > '9') && cpu[i] != '_')
			return -1;
	/* as Nix names them */
	if (strcmp(cpu, "arm64") == 0)
		strlcpy(cpu, "aarch64", sizeof(cpu));
	else if (strcmp(cpu, "amd64") == 0)
		strlcpy(cpu, "x86_64", sizeof(cpu));
	else if (cpu[0] == 'i' && strcmp(cpu + 2, "86") == 0)
		strlcpy(cpu, "i686", sizeof(cpu));
	snprintf(out, sz, "%s-%s", cpu, os);
	return 0;
}

/* One builder, in a child process: fill in r. */
static void
probe(const struct machine *m, struct probe *r)
{
	struct conn	 c, ic;
	int		 have_ic = 0;
	int64_t		 t0 = clock_ms(), began = clock_wall();

	memset(r, 0, sizeof(*r));
	r->done = 1;
	r->disk_free_kb = -1;
	r->load = -1;
	/* in a child: the parent prints what failed, from r */
	if (ssh_start_store(&m->uri, &c, CONN_QUIET) == -1)
		goto fail;
	if (ssh_wait_master(&m->uri, &c))
		have_ic = start_info(&m->uri, &ic) == 0;
	if (proto_handshake(&c, m->uri.ng) == -1) {
		ssh_kill(&c);
		if (have_ic)
			ssh_kill(&ic);
		goto fail;
	}
	r->latency_ms = (long)(clock_ms() - t0);
	r->proto = c.version;
	r->rproto = c.remote_version;
	r->ng = m->uri.ng;
	r->trust = c.trust;
	strlcpy(r->version, c.remote_nix, sizeof(r->version));
	if (!have_ic)
		have_ic = start_info(&m->uri, &ic) == 0;
	if (write_test(&c, &m->uri) == -1) {
		ssh_kill(&c);
		if (have_ic)
			ssh_kill(&ic);
		goto fail;
	}
	r->writable = 1;
	health_ok(m);
	ssh_close(&c);
	/* the builder's own count of its slots, where it keeps one */
	if (lease_list(m, &r->others) == -1)
		r->others = -1;
	if (have_ic)
		finish_info(&ic, r);
	if (r->version[0] != '\0')	/* for store-info's next call */
		ssh_fact_put(&m->uri, "nixversion", r->version);
	r->ok = 1;
	return;
fail:
	if (c.f.kind == FAIL_NONE)
		fail_set(&c.f, FAIL_OTHER, m->uri.display, "failed without "
		    "a message");
	r->kind = c.f.kind;
	snprintf(r->error, sizeof(r->error), "%s", c.f.msg);
	text_clean(r->error);
	if (r->kind != FAIL_OTHER)
		health_failed(m, &c.f, began);
}

/* Run the probes, at most jobs at a time; results land in res[i]. */
static int
probe_all(const struct machines *ms, struct probe *res, int jobs)
{
	pid_t	*pids;
	int	*fds;
	size_t	 next = 0, running = 0, i;

	if ((pids = calloc(ms->n, sizeof(*pids))) == NULL ||
	    (fds = calloc(ms->n, sizeof(*fds))) == NULL) {
		free(pids);
		log_err("check");
		return -1;
	}
	for (i = 0; i < ms->n; i++)
		fds[i] = -1;
	fflush(stdout);
	fflush(stderr);
	for (;;) {
		while (running < (size_t)jobs && next < ms->n) {
			int	 p[2];
			i = next++;
			if (!ms->v[i].usable)
				continue;
			if (pipe(p) == -1 || (pids[i] = fork()) == -1) {
				log_err("check: cannot start a probe");
				continue;
			}
			if (pids[i] == 0) {
				struct probe	 r;
				close(p[0]);
				probe(&ms->v[i], &r);
				(void)!write(p[1], &r, sizeof(r));
				_exit(0);
			}
			close(p[1]);
			fds[i] = p[0];
			running++;
		}
		if (running == 0)
			break;
		/* a result is written whole or not at all: read it at EOF */
		for (i = 0; i < ms->n; i++) {
			struct pollfd	 pfd;
			ssize_t		 n;

			if (fds[i] == -1)
				continue;
			pfd.fd = fds[i];
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 10) <= 0)
				continue;
			while ((n = read(fds[i], &res[i], sizeof(res[i]))) == -1 &&
			    errno == EINTR)
				;
			if (n != (ssize_t)sizeof(res[i])) {
				memset(&res[i], 0, sizeof(res[i]));
				res[i].done = 1;
				res[i].kind = FAIL_OTHER;
				snprintf(res[i].error, sizeof(res[i].error),
				    "%s: the probe died", ms->v[i].uri_text);
			}
			close(fds[i]);
			fds[i] = -1;
			waitpid(pids[i], NULL, 0);
			running--;
		}
	}
	free(pids);
	free(fds);
	return 0;
}

static void
print_json(const struct machines *ms, const struct probe *res)
{
	size_t		 i;
	long		 fails;
	long long	 until;

	putchar('[');
	for (i = 0; i < ms->n; i++) {
		const struct machine	*m = &ms->v[i];
		const struct probe	*r = &res[i];

		printf("%s{\"uri\":", i > 0 ? "," : "");
		json_string(stdout, m->uri_text);
		printf(",\"usable\":%s,\"ok\":%s", m->usable ? "true" : "false",
		    r->ok ? "true" : "false");
		if (!m->usable) {
			printf(",\"error\":");
			json_string(stdout, m->unusable_why ?
			    m->unusable_why : "not usable");
		} else if (!r->ok) {
			printf(",\"error\":");
			json_string(stdout, r->error);
			printf(",\"kind\":\"%s\"", fail_name(r->kind));
			if (health_get(m, &fails, &until, NULL, 0) == 0)
				printf(",\"health\":{\"failures\":%ld,"
				    "\"downSeconds\":%ld}", fails,
				    health_backoff(m));
		} else {
			printf(",\"latencyMs\":%ld,\"protocol\":\"%u.%u\","
			    "\"remoteProtocol\":\"%u.%u\",\"writable\":true",
			    r->latency_ms, r->proto >> 8, r->proto & 0xff,
			    r->rproto >> 8, r->rproto & 0xff);
			printf(",\"version\":");
			if (r->version[0] != '\0')
				json_string(stdout, r->version);
			else
				printf("null");
			if (r->ng)	/* as Nix's store info: a daemon's */
				printf(",\"trusted\":%s",
				    r->trust == DAEMON_TRUST_YES ? "true" :
				    r->trust == DAEMON_TRUST_NOT ? "false" :
				    "null");
			if (r->disk_free_kb >= 0)
				printf(",\"diskFreeBytes\":%lld",
				    r->disk_free_kb * 1024);
			else
				printf(",\"diskFreeBytes\":null");
			if (r->load >= 0)
				printf(",\"load\":%.2f", r->load);
			else
				printf(",\"load\":null");
			if (r->cpus > 0)
				printf(",\"cpus\":%ld", r->cpus);
			else
				printf(",\"cpus\":null");
			printf(",\"nativeSystem\":");
			if (r->native[0] != '\0')
				json_string(stdout, r->native);
			else
				printf("null");
			if (r->others >= 0)
				printf(",\"slotsByOthers\":%ld", r->others);
			else
				printf(",\"slotsByOthers\":null");
		}
		printf(",\"systems\":");
		json_list(stdout, &m->systems);
		printf(",\"supportedFeatures\":");
		json_list(stdout, &m->supported);
		printf(",\"mandatoryFeatures\":");
		json_list(stdout, &m->mandatory);
		printf("}");
	}
	printf("]\n");
}

static void
join(const struct strlist *l, char *out, size_t sz)
{
	size_t	 i;

	out[0] = '\0';
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			strlcat(out, ",", sz);
		strlcat(out, l->v[i], sz);
	}
	if (l->n == 0)
		strlcpy(out, "-", sz);
}

static void
print_table(const struct machines *ms, const struct probe *res)
{
	char		 cells[9][256];
	int		 w[9] = { 7, 6, 3, 5, 3, 7, 8, 4, 4 }, k;
	size_t		 i, pass;
	long		 fails, left;
	long long	 until;
	static const char *const head[9] = { "BUILDER", "STATUS", "RTT",
	    "PROTO", "NIX", "SYSTEMS", "FEATURES", "DISK", "LOAD" };

	/* twice: once to size the columns, once to print */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			for (k = 0; k < 9; k++)
				printf("%-*s%s", k < 8 ? w[k] : 0, head[k],
				    k < 8 ? "  " : "\n");
		}
		for (i = 0; i < ms->n; i++) {
			const struct machine	*m = &ms->v[i];
			const struct probe	*r = &res[i];
			char			 f1[96], f2[96];

			for (k = 0; k < 9; k++)
				strlcpy(cells[k], "-", sizeof(cells[k]));
			snprintf(cells[0], sizeof(cells[0]), "%s", m->uri_text);
			strlcpy(cells[1], !m->usable ? "skipped" :
			    r->ok ? "up" : "down", sizeof(cells[1]));
			join(&m->systems, cells[5], sizeof(cells[5]));
			join(&m->supported, f1, sizeof(f1));
			join(&m->mandatory, f2, sizeof(f2));
			if (m->mandatory.n > 0)
				snprintf(cells[6], sizeof(cells[6]),
				    "%s (mandatory %s)", f1, f2);
			else
				strlcpy(cells[6], f1, sizeof(cells[6]));
			if (r->ok) {
				snprintf(cells[2], sizeof(cells[2]), "%ldms",
				    r->latency_ms);
				snprintf(cells[3], sizeof(cells[3]), "%u.%u",
				    r->proto >> 8, r->proto & 0xff);
				if (r->version[0])
					text_printable(r->version,
					    strlen(r->version), cells[4],
					    sizeof(cells[4]));
				if (r->disk_free_kb >= 0)
					snprintf(cells[7], sizeof(cells[7]),
					    "%.1fG", r->disk_free_kb / 1048576.0);
				if (r->load >= 0 && r->cpus > 0)
					snprintf(cells[8], sizeof(cells[8]),
					    "%.2f/%ld", r->load, r->cpus);
				else if (r->load >= 0)
					snprintf(cells[8], sizeof(cells[8]),
					    "%.2f", r->load);
			}
			for (k = 0; k < 9; k++) {
				int len = (int)strlen(cells[k]);
				if (pass == 0 && len > w[k])
					w[k] = len;
				if (pass == 1)
					printf("%-*s%s", k < 8 ? w[k] : 0,
					    cells[k], k < 8 ? "  " : "\n");
			}
			if (pass == 1 && !m->usable)
				printf("  %s\n", m->unusable_why ?
				    m->unusable_why : "not usable");
			else if (pass == 1 && r->ok && r->trust ==
			    DAEMON_TRUST_NOT)
				printf("  its user is not in the builder's "
				    "trusted-users: what it is sent must be "
				    "signed by a key it trusts, or "
				    "content-addressed\n");
			else if (pass == 1 && r->ok && r->others > 0)
				printf("  %ld of %ld slot%s in use by other "
				    "clients\n", r->others, m->max_jobs,
				    m->max_jobs == 1 ? "" : "s");
			else if (pass == 1 && !r->ok) {
				printf("  %s\n", r->error);
				if ((left = health_backoff(m)) > 0 &&
				    health_get(m, &fails, &until, NULL, 0) == 0)
					printf("  builds skip it for %ld s "
					    "(%ld failure%s in a row); "
					    "`nix-offload enable %s` tries "
					    "it now\n", left, fails,
					    fails == 1 ? "" : "s",
					    m->uri_text);
			}
		}
	}
}

/* The value of "build-hook = VALUE" among show-config's lines. */
static int
hook_line(void *arg, const char *line)
{
	if (strncmp(line, "build-hook = ", 13) == 0)
		strlcpy(arg, line + 13, CHECK_LINE_MAX);
	return 0;
}

/*
 * Will Nix run the build hook the configuration names?  Nix 2.25 to 2.33
 * put their own in place of a build-hook set in nix.conf (fixed in 2.34);
 * NIX_CONFIG and --option still work.  When the configuration names
 * nix-offload's hook and the local Nix says it runs another, say so in
 * one line, and give the fix: the setting in nix-daemon's environment.
 */
static void
check_hook(const struct conf *c)
{
	char	*show[] = { "nix", "--extra-experimental-features",
	    "nix-command", "config", "show", "build-hook", NULL };
	char	*old[] = { "nix", "--extra-experimental-features",
	    "nix-command", "show-config", NULL };
	char	 runs[CHECK_LINE_MAX] = "", line[CHECK_LINE_MAX + 64];
	char	 version[64] = "", hook[CHECK_LINE_MAX], shown[CHECK_LINE_MAX];
	int	 status;

	if (c->build_hook == NULL) {
		log_warnx("the configuration sets no build-hook: Nix's builds "
		    "go to the builders through Nix's own hook, not "
		    "nix-offload's; to have them go through nix-offload, set "
		    "build-hook = PREFIX/libexec/nix-offload/build-hook (see "
		    "nix-offload(1), THE BUILD HOOK)");
		return;
	}
	if (strstr(c->build_hook, "nix-offload") == NULL)
		return;
	/* nix config show NAME (2.20 on), else show-config (2.8 on) */
	if (spawn_first_line(show, CHECK_NIX_TIMEOUT, runs, sizeof(runs)) == -1) {
		if (spawn_lines(old, NULL, CHECK_NIX_TIMEOUT, SPAWN_QUIET,
		    hook_line, runs, &status) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			runs[0] = '\0';
	}
	if (runs[0] == '\0') {
		log_debug(1, "check: cannot learn which build hook Nix runs");
		return;
	}
	if (strcmp(runs, c->build_hook) == 0) {
		log_debug(1, "check: Nix runs the build hook %s", runs);
		return;
	}
	if (nixver_local(version, sizeof(version)) == -1)
		version[0] = '\0';
	text_printable(c->build_hook, strlen(c->build_hook), hook, sizeof(hook));
	text_printable(runs, strlen(runs), shown, sizeof(shown));
	log_warnx("the configuration sets build-hook = %s, but Nix%s%s runs "
	    "%s instead: Nix 2.25 to 2.33 ignore build-hook in nix.conf "
	    "(2.34 honours it). Give it to nix-daemon in its environment, "
	    "with a systemd drop-in such as "
	    "/etc/systemd/system/nix-daemon.service.d/nix-offload.conf, then "
	    "systemctl daemon-reload and restart nix-daemon (without a "
	    "daemon: --option build-hook on the command line):", hook,
	    version[0] ? " " : "", version, shown);
	snprintf(line, sizeof(line), "[Service]\nEnvironment=\"NIX_CONFIG="
	    "build-hook = %s\"\n", hook);
	log_text(line);
}

/*
 * A builder whose declared systems leave out the one it runs (uname):
 * said, with what to do.  The others it declares (i686-linux on an
 * x86_64, an emulated one) are its admin's business.
 */
static void
check_systems(const struct machines *ms, const struct probe *res)
{
	size_t	 i;
	char	 sys[512];

	for (i = 0; i < ms->n; i++) {
		if (!res[i].ok || res[i].native[0] == '\0' ||
		    strlist_has(&ms->v[i].systems, res[i].native))
			continue;
		join(&ms->v[i].systems, sys, sizeof(sys));
		log_warnx("%s (%s) declares %s, but runs %s: derivations for "
		    "%s go there only to be emulated (binfmt), or this is not "
		    "the machine meant; add %s to its systems (field 2), or "
		    "name the right host", ms->v[i].uri_text, ms->v[i].source,
		    sys[0] ? sys : "no system", res[i].native, sys[0] ? sys :
		    "them", res[i].native);
	}
}

/*
 * An ordinary user on a nix-daemon install: the daemon's builds go to
 * the builders from its hook, which runs as root, with root's ssh keys,
 * known_hosts and configuration.  Said, with the hook's own picture from
 * root's summary (pub.c) when there is one.
 */
static void
check_daemon(void)
{
	char		*root, at[32];
	ssize_t		 n;
	int64_t		 when;
	struct stat	 st;

	if (geteuid() == 0 || stat("/nix/var/nix/daemon-socket/socket",
	    &st) == -1 || !S_ISSOCK(st.st_mode))
		return;
	printf("note: builds through the nix-daemon reach the builders from "
	    "its build hook, which runs as root, with root's ssh keys, "
	    "known_hosts and configuration: this check is what uid %u "
	    "reaches; `sudo nix-offload check` tests what the hook reaches\n",
	    (unsigned)geteuid());
	if ((n = pub_get("status.txt", &root, &when)) == -1)
		return;
	clock_text(when / 1000, at, sizeof(at));
	printf("the hook's own picture, as of %s:\n", at);
	fwrite(root, 1, text_filter(root, (size_t)n, root, 0), stdout);
	free(root);
}

int
cmd_check(int argc, char **argv)
{
	const struct usage	*u = usage_find("check");
	struct usage_opt	 o;
	struct common		 cm;
	struct probe		*res = NULL;
	long			 jobs = 0;
	int			 i = 1, rc = EXIT_USAGE, r, usable = 0, up = 0;
	size_t			 k;
	char			*end;

	memset(&o, 0, sizeof(o));
	common_init(&cm);
	while ((r = usage_next(u, argc, argv, &i, &o)) != USAGE_END) {
		if (r == -1)
			goto out;
		if (r == USAGE_OPERAND) {
			usage_error("check");
			goto out;
		}
		if (strcmp(o.name, "-j") == 0) {
			jobs = strtol(o.arg[0], &end, 10);
			if (*end != '\0' || jobs < 1 || jobs > CHECK_JOBS_MAX) {
				log_errx("check: -j takes a number from 1 to %d",
				    CHECK_JOBS_MAX);
				goto out;
			}
		} else if (common_option(&cm, &o) != 1)
			goto out;
	}
	if (common_load(&cm) == -1)
		goto out;
	if ((res = calloc(cm.ms.n ? cm.ms.n : 1, sizeof(*res))) == NULL) {
		log_err("check");
		rc = EXIT_ERROR;
		goto out;
	}
	if (jobs == 0)
		jobs = cm.ms.n < 16 ? (long)cm.ms.n : 16;
	if (jobs == 0)
		jobs = 1;
	probe_all(&cm.ms, res, (int)jobs);
	for (k = 0; k < cm.ms.n; k++) {
		if (!cm.ms.v[k].usable)
			continue;
		usable++;
		up += res[k].ok;
	}
	if (cm.json)
		print_json(&cm.ms, res);
	else if (cm.ms.n == 0)
		printf("no builders configured (builders = %s)\n",
		    cm.conf.builders ? cm.conf.builders : "");
	else
		print_table(&cm.ms, res);
	rc = up == usable ? EXIT_OK : EXIT_ERROR;
	if (!cm.json && cm.ms.n > 0)
		printf("%d of %d usable builders up\n", up, usable);
	fflush(stdout);
	check_systems(&cm.ms, res);
	check_hook(&cm.conf);
	check_daemon();
	if (fflush(stdout) != 0)
		rc = EXIT_ERROR;
out:
	free(res);
	common_free(&cm);
	return rc;
}
