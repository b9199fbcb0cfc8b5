/*
 * The ssh transport: the only file that knows ssh exists.
 *
 * Each conversation is a child `ssh ... -- host 'remote command'` with its
 * stdin, stdout and stderr on pipes.  All children for one builder share a
 * control master on a socket in a private directory we own, so after the
 * first one a conversation costs no SSH handshake.  We never read the
 * user's ControlMaster or ControlPath: ours come first on the command line,
 * and ssh takes the first value it sees.
 *
 * When a conversation fails, ssh's exit status and the tail of its stderr
 * say why; diagnose() turns them into one line that names the host and what
 * to do next.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "extern.h"

#define SSH_CLOSE_WAIT_MS	5000	/* for ssh to go after EOF or a kill */
#define SSH_HANDSHAKE_SLACK	20	/* seconds past the connect timeout */
#define PINNED_ALIAS		"nix-offload-pinned"
/*
 * Unanswered keepalives before a connection is dropped: a builder whose
 * link stops passing bytes is lost (SSH_ALIVE_MAX + 1) intervals after its
 * last word, 30 s at the default interval of 5 s.
 */
#define SSH_ALIVE_MAX		5
/* the builder's store program, for messages */
#define PROGRAM(c)		((c)->ng ? "nix-daemon" : "nix-store")
#define LINK_COMPRESS_BELOW	100000	/* kbit/s: ssh's zlib does 200 */
#define LINK_MEASURE_MIN	(4u << 20) /* bytes: fewer measure round trips */
#define LINK_FACT_TTL		86400	/* s: a link is measured again after a day */

struct ssh_config sshconf;
unsigned long	 ssh_sessions;

/* ssh's options that take an argument (OpenSSH 9's getopt string) */
#define SSH_ARG_FLAGS	"bceilmopBDEFIJLOPQRSWw"

/* Does "Key=value" or "Key value" set one of the control master's keys? */
static int
control_key(const char *opt)
{
	static const char *const keys[] = { "ControlPath", "ControlMaster",
	    "ControlPersist" };
	size_t	 i, n = strcspn(opt, "= \t");

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (n == strlen(keys[i]) && strncasecmp(opt, keys[i], n) == 0)
			return 1;
	return 0;
}

/*
 * NIX_SSHOPTS, less what would take our control master away: -M, -S PATH,
 * -O COMMAND and -o Control{Path,Master,Persist}=... (ssh lets -S win over
 * our -oControlPath, and then no master is ever found), and less any word
 * that is not an option (ssh would take it for the host, and read options
 * after it again).  Every word is looked at.  They are dropped with a
 * warning, not refused: NIX_SSHOPTS is shared with nix-copy-closure,
 * where such words are common.  Returns 0, or -1 (reported).
 */
static int
sshopts_filter(const struct args *in, struct args *out)
{
	size_t	 i;
	int	 rc = 0;

	for (i = 0; i < in->num; i++) {
		const char	*w = in->list[i], *p;
		char		 kept[64];
		size_t		 k = 0;
		int		 drop = 0;

		if (w[0] != '-' || w[1] == '\0' || strcmp(w, "--") == 0) {
			/* ssh would take it for the host, or end its
			 * options there: every word is looked at */
			log_warnx("NIX_SSHOPTS: ignoring \"%s\": not an "
			    "option", w);
			continue;
		}
		kept[k++] = '-';
		for (p = w + 1; *p != '\0'; p++) {
			const char	*arg;
			int		 inline_arg = p[1] != '\0';

			if (strchr(SSH_ARG_FLAGS, *p) == NULL) {
				if (*p == 'M')
					drop = 1;
				else if (k < sizeof(kept) - 1)
					kept[k++] = *p;
				continue;
			}
			arg = inline_arg ? p + 1 : i + 1 < in->num ?
			    in->list[++i] : "";
			if (k > 1)
				rc |= args_add(out, "%.*s", (int)k, kept);
			k = 0;
			if (*p == 'S' || *p == 'O' ||
			    (*p == 'o' && control_key(arg)))
				log_warnx("NIX_SSHOPTS: ignoring -%c %s: "
				    "nix-offload keeps a control master of its "
				    "own", *p, arg);
			else if (inline_arg)
				rc |= args_add(out, "-%s", p);
			else {
				rc |= args_add(out, "-%c", *p);
				rc |= args_add(out, "%s", arg);
			}
			break;
		}
		if (drop)
			log_warnx("NIX_SSHOPTS: ignoring -M: nix-offload keeps "
			    "a control master of its own");
		if (k > 1)
			rc |= args_add(out, "%.*s", (int)k, kept);
	}
	return rc == 0 ? 0 : -1;
}

/*
 * Read the environment: which ssh, how long a master persists, timeouts,
 * NIX_SSHOPTS.  Returns 0, or -1 (reported).
 */
int
ssh_init(void)
{
	const char	*s;

	memset(&sshconf, 0, sizeof(sshconf));
	sshconf.program = getenv("NIX_OFFLOAD_SSH");
	if (sshconf.program == NULL || *sshconf.program == '\0')
		sshconf.program = "ssh";
	if (clock_env_number("NIX_OFFLOAD_PERSIST", 300, 0, 86400,
	    &sshconf.persist) == -1 ||
	    clock_env_number("NIX_OFFLOAD_CONNECT_TIMEOUT", 10, 1, 3600,
	    &sshconf.connect_timeout) == -1 ||
	    clock_env_number("NIX_OFFLOAD_ALIVE_INTERVAL", 5, 0, 3600,
	    &sshconf.alive_interval) == -1 ||
	    clock_env_number("NIX_OFFLOAD_IO_TIMEOUT", 300, 0, 86400,
	    &sshconf.io_timeout) == -1)
		return -1;
	if ((s = getenv("NIX_SSHOPTS")) != NULL) {
		struct args	 words = { NULL, 0, 0 };
		int		 rc;

		if (args_split(s, &words) == -1) {
			args_free(&words);
			log_errx("NIX_SSHOPTS cannot be split into words");
			return -1;
		}
		rc = sshopts_filter(&words, &sshconf.sshopts);
		args_free(&words);
		if (rc == -1)
			return -1;
	}
	rundir_init();
	return 0;
}

static int	 ctlname(const struct store_uri *, const char *, char *,
		    size_t, char *, size_t);
static int	 no_ssh(const struct store_uri *);

/* The name of u's link fact: one per builder, compressed or not. */
static void
linkname(const struct store_uri *u, char *name, size_t sz)
{
	struct store_uri	 v = *u;

	v.compress = COMPRESS_OFF;
	ctlname(&v, ".link", name, sz, NULL, 0);
}

/*
 * u's link's rate in kbit/s, as last measured within a day (transfers of
 * LINK_MEASURE_MIN bytes or more measure it), or 0 when not known.
 */
long long
ssh_link_kbit(const struct store_uri *u)
{
	char		 name[64], buf[32], *end;
	struct stat	 st;
	long long	 kbit;

	linkname(u, name, sizeof(name));
	if (rundir_read("", name, buf, sizeof(buf), &st) <= 0 ||
	    st.st_mtime + LINK_FACT_TTL < time(NULL))
		return 0;
	kbit = strtoll(buf, &end, 10);
	return end != buf && kbit > 0 ? kbit : 0;
}

/*
 * u's link's rate in kbit/s for an estimate: as measured (*measured set),
 * else LINK_RATE_GUESS.
 */
long long
ssh_link_rate(const struct store_uri *u, int *measured)
{
	long long	 kbit = ssh_link_kbit(u);

	*measured = kbit > 0;
	return kbit > 0 ? kbit : LINK_RATE_GUESS;
}

/*
 * Does u's connection compress (ssh -C)?  As compress= says, else when
 * its link was measured slower than ssh's compressor (LINK_COMPRESS_BELOW)
 * within a day: most store paths shrink 2-3 times, and random bytes go
 * through a compressor faster than through such a link.
 */
static int
compressing(const struct store_uri *u)
{
	long long	 kbit;

	if (u->compress != COMPRESS_AUTO)
		return u->compress == COMPRESS_ON;
	kbit = ssh_link_kbit(u);
	return kbit > 0 && kbit < LINK_COMPRESS_BELOW;
}

/*
 * bytes crossed c's link in ms: remembered as its rate when c may
 * measure it (compression chosen by the link, and off), and the transfer
 * was long enough for the rate to be the link's rather than its round
 * trips'.  The next connection compresses if the link is slow.
 */
void
ssh_link_note(const struct conn *c, uint64_t bytes, int64_t ms)
{
	char		 buf[32];
	uint64_t	 kbit;

	if (c->link[0] == '\0' || bytes < LINK_MEASURE_MIN || ms <= 0)
		return;
	kbit = bytes * 8 / (uint64_t)ms;
	log_debug(1, "%s: its link measured at %.1f Mbit/s (%llu bytes in "
	    "%lld ms)%s", c->host, kbit / 1000.0, (unsigned long long)bytes,
	    (long long)ms, kbit < LINK_COMPRESS_BELOW ? ": compressed from "
	    "the next connection on" : "");
	snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)kbit);
	(void)rundir_write("", c->link, buf, strlen(buf));
}

/*
 * The name of a builder's control socket in the runtime directory (name),
 * and its path for ssh (path, if not NULL): a digest of everything that
 * makes two connections different, so that a builder reached with another
 * key, port or pinned host key gets a master of its own.
 */
static int
ctlname(const struct store_uri *u, const char *suffix, char *name,
    size_t namesz, char *path, size_t sz)
{
	struct sha256	 h;
	unsigned char	 d[SHA256_LEN];
	char		 hex[2 * SHA256_LEN + 1], port[16];
	const char	*parts[7];
	size_t		 i;
	struct sockaddr_un sun;

	snprintf(port, sizeof(port), "%d", u->port);
	parts[0] = u->user ? u->user : "";
	parts[1] = u->host;
	parts[2] = port;
	parts[3] = u->ssh_key ? u->ssh_key : "";
	parts[4] = u->host_key ? u->host_key : "";
	parts[5] = sshconf.program;
	parts[6] = compressing(u) ? "compress" : "";	/* a connection's own */
	sha256_init(&h);
	for (i = 0; i < 7; i++)
		sha256_update(&h, parts[i], strlen(parts[i]) + 1);
	for (i = 0; i < sshconf.sshopts.num; i++)
		sha256_update(&h, sshconf.sshopts.list[i],
		    strlen(sshconf.sshopts.list[i]) + 1);
	sha256_final(&h, d);
	hash_hex(d, 8, hex);
	snprintf(name, namesz, "%s%s", hex, suffix);
	if (path == NULL)
		return 0;
	/* ssh binds "path.XXXXXXXXXXXXXXXX" first: leave it room */
	if (rundir_name(name, path, sz) == -1)
		return -1;
	if (strlen(path) + 18 >= sizeof(sun.sun_path)) {
		log_errx("runtime directory %s: path too long for a socket "
		    "(set NIX_OFFLOAD_RUNTIME_DIR to a shorter one)",
		    rundir_path());
		return -1;
	}
	return 0;
}

/*
 * Is a control master for this builder (probably) running?  st, if not
 * NULL, gets its socket's stat.
 */
static int
master_up(const struct store_uri *u, struct stat *st)
{
	char		 name[64];
	struct stat	 s;
	int		 dfd;

	ctlname(u, "", name, sizeof(name), NULL, 0);
	if ((dfd = rundir_dirfd("")) == -1 ||
	    fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISSOCK(s.st_mode))
		return 0;
	if (st != NULL)
		*st = s;
	return 1;
}

int
ssh_master_up(const struct store_uri *u)
{
	/* this machine needs none: a session costs what a master's does */
	return no_ssh(u) || master_up(u, NULL);
}

/*
 * A small fact learned over this builder's current master (the remote Nix
 * version): kept beside the socket, and valid only while that master
 * lives, so it is never older than the connection that told it.
 * ssh_fact_get returns 0 and fills buf, or -1 when there is none.
 */
int
ssh_fact_get(const struct store_uri *u, const char *what, char *buf,
    size_t sz)
{
	char		 name[64 + RUNDIR_NAME_MAX];
	struct stat	 ss, fs;

	if (!master_up(u, &ss))
		return -1;
	ctlname(u, "", name, sizeof(name), NULL, 0);
	strlcat(name, ".", sizeof(name));
	strlcat(name, what, sizeof(name));
	if (rundir_read("", name, buf, sz, &fs) <= 0 ||
	    fs.st_mtim.tv_sec < ss.st_mtim.tv_sec ||
	    (fs.st_mtim.tv_sec == ss.st_mtim.tv_sec &&
	    fs.st_mtim.tv_nsec < ss.st_mtim.tv_nsec))
		return -1;
	return 0;
}

void
ssh_fact_put(const struct store_uri *u, const char *what, const char *val)
{
	char	 name[64 + RUNDIR_NAME_MAX];

	ctlname(u, "", name, sizeof(name), NULL, 0);
	strlcat(name, ".", sizeof(name));
	strlcat(name, what, sizeof(name));
	(void)rundir_write("", name, val, strlen(val));
}

/*
 * The name in the runtime directory of something of u's master, what
 * (its lease broker's socket): beside the control socket, one per master.
 */
int
ssh_master_file(const struct store_uri *u, const char *what, char *name,
    size_t sz, char *path, size_t psz)
{
	ctlname(u, "", name, sz, NULL, 0);
	strlcat(name, ".", sz);
	strlcat(name, what, sz);
	return path == NULL ? 0 : rundir_name(name, path, psz);
}

/* Write the pinned key where ssh will look for it, under a fixed alias. */
static int
write_pinned(const struct store_uri *u, char *path, size_t sz)
{
	char	 name[64];
	size_t	 len;
	char	*line;

	if (ctlname(u, ".hostkey", name, sizeof(name), path, sz) == -1)
		return -1;
	len = strlen(PINNED_ALIAS) + strlen(u->host_key) + 3;
	if ((line = malloc(len)) == NULL) {
		log_err("pinned host key");
		return -1;
	}
	snprintf(line, len, "%s %s\n", PINNED_ALIAS, u->host_key);
	if (rundir_write("", name, line, strlen(line)) == -1) {
		log_err("cannot write the pinned host key to %s", path);
		free(line);
		return -1;
	}
	free(line);
	return 0;
}

/* The ssh command line, up to and including the remote command. */
static int
build_argv(const struct store_uri *u, const char *cmd, struct args *a)
{
	char	 sock[RUNDIR_PATH_MAX + 64], pinned[RUNDIR_PATH_MAX + 64];
	char	 name[64];
	size_t	 i;
	int	 rc = 0;

	if (ctlname(u, "", name, sizeof(name), sock, sizeof(sock)) == -1)
		return -1;
	if (u->host_key != NULL && write_pinned(u, pinned, sizeof(pinned)) == -1)
		return -1;
	/* Fixed: nothing forwarded, nothing asked, nothing run locally. */
	rc |= args_add(a, "%s", sshconf.program);
	rc |= args_add(a, "-x");
	rc |= args_add(a, "-a");
	rc |= args_add(a, "-T");
	rc |= args_add(a, "-e");
	rc |= args_add(a, "none");
	rc |= args_add(a, "-oBatchMode=yes");
	rc |= args_add(a, "-oPermitLocalCommand=no");
	rc |= args_add(a, "-oClearAllForwardings=yes");
	rc |= args_add(a, "-oForwardAgent=no");
	rc |= args_add(a, "-oForwardX11=no");
	rc |= args_add(a, "-oRequestTTY=no");
	/* Our master, never the user's. */
	rc |= args_add(a, "-oControlMaster=auto");
	rc |= args_add(a, "-oControlPath=%s", sock);
	if (sshconf.persist > 0)
		rc |= args_add(a, "-oControlPersist=%ld", sshconf.persist);
	else
		rc |= args_add(a, "-oControlPersist=no");
	if (u->host_key != NULL) {
		rc |= args_add(a, "-oUserKnownHostsFile=%s", pinned);
		rc |= args_add(a, "-oGlobalKnownHostsFile=/dev/null");
		rc |= args_add(a, "-oHostKeyAlias=" PINNED_ALIAS);
		rc |= args_add(a, "-oCheckHostIP=no");
	}
	rc |= args_add(a, "-oStrictHostKeyChecking=yes");
	if (u->ssh_key != NULL) {
		rc |= args_add(a, "-i");
		rc |= args_add(a, "%s", u->ssh_key);
	}
	if (u->port != 0) {
		rc |= args_add(a, "-p");
		rc |= args_add(a, "%d", u->port);
	}
	if (u->user != NULL) {
		rc |= args_add(a, "-l");
		rc |= args_add(a, "%s", u->user);
	}
	if (compressing(u)) {
		rc |= args_add(a, "-C");
		if (u->compress == COMPRESS_AUTO)
			log_debug(1, "%s: compressed: its link was measured "
			    "below %d Mbit/s", u->display,
			    LINK_COMPRESS_BELOW / 1000);
	}
	/* The user's words, then defaults that they may override. */
	for (i = 0; i < sshconf.sshopts.num; i++)
		rc |= args_add(a, "%s", sshconf.sshopts.list[i]);
	rc |= args_add(a, "-oConnectTimeout=%ld", sshconf.connect_timeout);
	if (sshconf.alive_interval > 0) {
		rc |= args_add(a, "-oServerAliveInterval=%ld",
		    sshconf.alive_interval);
		rc |= args_add(a, "-oServerAliveCountMax=%d", SSH_ALIVE_MAX);
	}
	if (verbose >= 4)
		rc |= args_add(a, "-v");
	rc |= args_add(a, "--");
	rc |= args_add(a, "%s", u->host);
	rc |= args_add(a, "%s", cmd);
	return rc == 0 ? 0 : -1;
}

static int
said(struct conn *c, const char *needle)
{
	return strstr(c->errtail, needle) != NULL;
}

/*
 * Wait up to ms for the child to exit, reading its stderr meanwhile.
 * Returns 1 when reaped.
 */
static int
reap(struct conn *c, int ms)
{
	int64_t		 deadline = clock_ms() + ms;
	struct pollfd	 pfd;
	pid_t		 r;

	while (c->pid != -1) {
		r = waitpid(c->pid, &c->status, WNOHANG);
		if (r == c->pid || (r == -1 && errno == ECHILD)) {
			c->pid = -1;
			break;
		}
		if (clock_ms() >= deadline)
			return 0;
		pfd.fd = c->err;
		pfd.events = POLLIN;
		if (c->err != -1 && poll(&pfd, 1, 20) > 0)
			wire_drain_stderr(c);
		else if (c->err == -1)
			poll(NULL, 0, 20);
	}
	/* what is left in the pipe, unless a master still holds it open */
	if (c->err != -1)
		wire_drain_stderr(c);
	return 1;
}

static void
close_fds(struct conn *c)
{
	if (c->to != -1)
		close(c->to);
	if (c->from != -1)
		close(c->from);
	if (c->err != -1)
		close(c->err);
	c->to = c->from = c->err = -1;
}

/* Stop the child now: no more waiting for it to finish on its own. */
void
ssh_kill(struct conn *c)
{
	if (c->pid != -1) {
		kill(c->pid, SIGTERM);
		if (!reap(c, SSH_CLOSE_WAIT_MS)) {
			kill(c->pid, SIGKILL);
			reap(c, SSH_CLOSE_WAIT_MS);
		}
	}
	close_fds(c);
}

/* Does a line of stderr look like ssh's own words about the connection? */
static int
ssh_said(const char *line)
{
	static const char *const words[] = { "Connection to ",
	    "closed by remote host", "Connection reset", "Broken pipe",
	    "Timeout, server", "client_loop:", "mux_client", "ssh: " };
	size_t	 i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(line, words[i]) != NULL)
			return 1;
	return 0;
}

/*
 * Explain a failed conversation: wait for ssh to exit, then read its status
 * and stderr.  One failure, in c->f (wire_error).
 */
static void
diagnose(struct conn *c, const char *what)
{
	char	 line[600];
	int	 code = -1;
	int	 early = c->nread < 16;	/* before the handshake completed */

	if (!c->eof && !c->timedout && strncmp(c->why, "write:", 6) != 0) {
		/* the peer broke the protocol: no point in waiting for it */
		ssh_kill(c);
		wire_error(c, FAIL_PROTOCOL, "%s: %s", what, c->why);
		return;
	}
	if (c->to != -1) {
		close(c->to);
		c->to = -1;
	}
	if (c->timedout)
		ssh_kill(c);
	else if (!reap(c, SSH_CLOSE_WAIT_MS))
		ssh_kill(c);
	if (c->pid == -1 && WIFEXITED(c->status))
		code = WEXITSTATUS(c->status);
	wire_last_message(c, line, sizeof(line));

	if (c->timedout) {
		wire_error(c, FAIL_TIMEOUT, "%s: no answer for %d s; the builder or the "
		    "network stopped responding", what,
		    c->timeout_ms / 1000);
	} else if (c->adopted && strstr(line, "error:") != NULL) {
		wire_error(c, FAIL_OTHER, "%s: the remote %s failed: %s",
		    what, PROGRAM(c), line);
	} else if (c->adopted) {
		/* whose exit status says more is the broker's child */
		wire_error(c, FAIL_DROPPED, "%s: the connection to the builder "
		    "was lost (its session ended%s%s)", what, line[0] ? ": " :
		    "", line);
	} else if (code == 255 && (said(c, "Permission denied") ||
	    said(c, "Too many authentication failures") ||
	    said(c, "no mutual signature"))) {
		wire_error(c, FAIL_AUTH, "the builder refused our identities "
		    "(%s): load the key it accepts into ssh-agent%s, or name "
		    "it with ?ssh-key=PATH; ssh runs with BatchMode=yes and "
		    "cannot ask for a passphrase", line,
		    getenv("SSH_AUTH_SOCK") ? "" : " (SSH_AUTH_SOCK is not set)");
	} else if (code == 255 && (said(c, "Host key verification failed") ||
	    said(c, "IDENTIFICATION HAS CHANGED") ||
	    said(c, "host key is known for") ||
	    said(c, "Host key for"))) {
		if (said(c, PINNED_ALIAS))
			wire_error(c, FAIL_HOSTKEY, "the builder's host key is "
			    "not the pinned one (base64-ssh-public-host-key): "
			    "it was reinstalled or this is not the builder; if "
			    "its new key is genuine, pin the output of "
			    "`base64 -w0 /etc/ssh/ssh_host_ed25519_key.pub` "
			    "run on it");
		else if (said(c, "IDENTIFICATION HAS CHANGED"))
			wire_error(c, FAIL_HOSTKEY, "the builder's host key "
			    "differs from the one in known_hosts: if the "
			    "change is expected, remove the old key with "
			    "`ssh-keygen -R %s` as uid %u and connect once by "
			    "hand", c->hostname, (unsigned)geteuid());
		else
			wire_error(c, FAIL_HOSTKEY, "the builder's host key is "
			    "not known: add it to ~/.ssh/known_hosts of uid %u "
			    "(check "
			    "`ssh-keyscan %s` against the builder) or pin it "
			    "with ?base64-ssh-public-host-key=",
			    (unsigned)geteuid(), c->hostname);
	} else if (code == 255 && early && (said(c, "Connection refused") ||
	    said(c, "timed out") || said(c, "No route to host") ||
	    said(c, "Network is unreachable") ||
	    said(c, "Could not resolve") || said(c, "not known") ||
	    said(c, "name resolution") || said(c, "banner exchange") ||
	    said(c, "kex_exchange_identification") ||
	    said(c, "Connection reset") || said(c, "Connection closed by"))) {
		wire_error(c, FAIL_UNREACHABLE, "cannot reach the builder: "
		    "%s%s", line,
		    said(c, "timed out") ? " (connect timeout "
		    "NIX_OFFLOAD_CONNECT_TIMEOUT)" : "");
	} else if ((code == 127 || code == 126) && early) {
		wire_error(c, FAIL_NOREMOTE, "%s was not found on the builder "
		    "(remote exit %d: %s): the PATH of non-interactive login "
		    "shells on the builder must contain Nix (see \"Remote "
		    "Builds\" in Nix's manual), or name the program with "
		    "?remote-program=/nix/var/nix/profiles/default/bin/"
		    "%s", PROGRAM(c), code, line, PROGRAM(c));
	} else if (code == 255 && !early) {
		/* the last line is often the remote's (a build log), not ssh's */
		wire_error(c, FAIL_DROPPED, "%s: the connection to the builder "
		    "was lost (ssh exit 255%s%s)", what, ssh_said(line) ? ": " : "",
		    ssh_said(line) ? line : "");
	} else if (code == 255) {
		wire_error(c, FAIL_UNREACHABLE, "%s: ssh failed: %s", what,
		    line[0] ? line : "(no message)");
	} else if (early && c->nread == 0) {
		if (code == -1)
			wire_error(c, FAIL_OTHER, "%s: ssh was killed by "
			    "signal %d", what, WTERMSIG(c->status));
		else	/* the builder's program does not serve: its failure */
			wire_error(c, FAIL_NOREMOTE, "the remote command exited "
			    "with status %d before the %s protocol started: "
			    "%s", code, c->ng ? "daemon" : "serve",
			    line[0] ? line : "(no message)");
	} else if (code > 0 && strstr(line, "error:") != NULL) {
		/* the remote program refused the request: its words say why */
		wire_error(c, FAIL_OTHER, "%s: the remote %s failed: %s",
		    what, PROGRAM(c), line);
	} else {
		wire_error(c, FAIL_DROPPED, "%s: the connection closed (remote "
		    "exit %d)%s%s", what, code, line[0] ? ": " : "", line);
	}
}

/*
 * A builder named plain localhost (no user, no port) is this machine:
 * Nix runs its store program itself, without ssh, and so do we.
 */
static int
no_ssh(const struct store_uri *u)
{
	return strcmp(u->host, "localhost") == 0 && u->user == NULL &&
	    u->port == 0;
}

/*
 * c, a session of u's store program on fds (its stdin, stdout, stderr):
 * said as u, its failures diagnosed here; over ssh (by_ssh) its link is
 * measured when compression is left to it.
 */
static void
session_init(const struct store_uri *u, struct conn *c, const int *fds,
    int flags, int by_ssh)
{
	wire_init(c, fds[0], fds[1], fds[2], u->display);
	c->quiet = (flags & CONN_QUIET) != 0;
	c->ng = u->ng;
	c->builder = 1;
	c->diagnose = diagnose;
	strlcpy(c->hostname, u->host, sizeof(c->hostname));
	if (by_ssh && u->compress == COMPRESS_AUTO && !compressing(u))
		linkname(u, c->link, sizeof(c->link));
}

/*
 * Run words (quoted for the remote shell) on the builder, with c connected
 * to its stdin, stdout and stderr; with CONN_QUIET in flags, c's failure
 * is kept in c->f and not said.  Returns 0, or -1 (c->f).
 */
int
ssh_open(const struct store_uri *u, char *const *words, struct conn *c,
    int flags)
{
	struct args	 a = { NULL, 0, 0 };
	char		*cmd, *argline;
	pid_t		 pid;
	int		 fds[3], here = no_ssh(u), rc = 0;
	size_t		 i;

	wire_init(c, -1, -1, -1, u->display);
	c->quiet = (flags & CONN_QUIET) != 0;
	if (here)	/* the words themselves, no shell, no master */
		for (i = 0; words[i] != NULL; i++)
			rc |= args_add(&a, "%s", words[i]);
	else if ((cmd = args_join(words)) == NULL)
		rc = -1;
	else {
		rc = build_argv(u, cmd, &a);
		free(cmd);
	}
	if (rc != 0) {
		args_free(&a);
		wire_error(c, FAIL_OTHER, "cannot make the %scommand line",
		    here ? "" : "ssh ");
		return -1;
	}
	if (verbose >= 2 && (argline = args_join(a.list)) != NULL) {
		log_debug(2, "%s: %s%s", u->display, here ? "runs here: " : "",
		    argline);
		free(argline);
	}
	if (spawn(a.list, fds, &pid, here ? " (install Nix, or put its "
	    "programs on the PATH)" : " (install OpenSSH's client, or set "
	    "NIX_OFFLOAD_SSH)") == -1) {
		wire_error(c, FAIL_OTHER, "cannot start %s", here ?
		    a.list[0] : "ssh");
		args_free(&a);
		return -1;
	}
	args_free(&a);
	session_init(u, c, fds, flags, !here);
	c->pid = pid;
	ssh_sessions += !here;
	/* connecting, then a remote that may be slow to start, but not
	 * silent for longer than NIX_OFFLOAD_IO_TIMEOUT */
	c->timeout_ms = (int)((here ? 0 : sshconf.connect_timeout) +
	    (sshconf.io_timeout > 0 && sshconf.io_timeout <
	    SSH_HANDSHAKE_SLACK ? sshconf.io_timeout : SSH_HANDSHAKE_SLACK)) *
	    1000;
	return 0;
}

/*
 * Start the builder's store program, as Nix does, without waiting for it:
 * for ssh://, `nix-store --serve --write`, for ssh-ng://, `nix-daemon
 * --stdio` (remote-program names another, --store remote-store).
 */
int
ssh_start_store(const struct store_uri *u, struct conn *c, int flags)
{
	struct args	 w = { NULL, 0, 0 };
	int		 rc = 0;

	if (args_split(u->remote_program ? u->remote_program : u->ng ?
	    "nix-daemon" : "nix-store", &w) == -1)
		return -1;
	if (u->ng)
		rc |= args_add(&w, "--stdio");
	else {
		rc |= args_add(&w, "--serve");
		rc |= args_add(&w, "--write");
	}
	if (u->remote_store != NULL) {
		rc |= args_add(&w, "--store");
		rc |= args_add(&w, "%s", u->remote_store);
	}
	/* as Nix's hook sets for a local store, whatever max-jobs says */
	if (u->local_store) {
		rc |= args_add(&w, "--max-jobs");
		rc |= args_add(&w, "1");
	}
	if (rc == 0)
		rc = ssh_open(u, w.list, c, flags);
	args_free(&w);
	return rc == 0 ? 0 : -1;
}

/*
 * Start the store program and complete the handshake: the handshake is
 * our proof that the builder is ready.  Reads then wait
 * NIX_OFFLOAD_IO_TIMEOUT at most (a build makes its own rule).
 */
int
ssh_open_store(const struct store_uri *u, struct conn *c, int flags)
{
	if (ssh_start_store(u, c, flags) == -1)
		return -1;
	if (proto_handshake(c, u->ng) == -1) {
		ssh_kill(c);
		return -1;
	}
	/* from now on a builder that says nothing for this long is stuck */
	c->timeout_ms = (int)sshconf.io_timeout * 1000;
	return 0;
}

/*
 * A session of u's store program that another of our processes started
 * (the lease broker, lease.c), on fds (its stdin, stdout and stderr, now
 * ours), adopted in c: no process to start here.  Its ssh is not our
 * child: c->pid is -1, and closing c ends it.  state is "-" for a session
 * whose handshake is still to do (done here), else what ssh_state wrote
 * of one that served another process before.  Returns 0, or -1 with c's
 * descriptors closed (c->f says why).
 */
int
ssh_adopt(const struct store_uri *u, struct conn *c, const int *fds,
    const char *state, int flags)
{
	unsigned	 v, rv;
	int		 trust, n = 0;

	session_init(u, c, fds, flags, 1);
	c->adopted = 1;
	if (strcmp(state, "-") == 0) {
		c->timeout_ms = (int)(sshconf.connect_timeout +
		    SSH_HANDSHAKE_SLACK) * 1000;
		if (proto_handshake(c, u->ng) == -1) {
			close_fds(c);
			return -1;
		}
	} else if (sscanf(state, "%u %u %d %n", &v, &rv, &trust, &n) != 3 ||
	    n == 0 || v > 0xffff || rv > 0xffff || trust < DAEMON_TRUST_UNKNOWN ||
	    trust > DAEMON_TRUST_NOT) {
		wire_error(c, FAIL_OTHER, "a warm session's state is not ours");
		close_fds(c);
		return -1;
	} else {
		c->version = v;
		c->remote_version = rv;
		c->trust = trust;
		if (strcmp(state + n, "-") != 0)
			strlcpy(c->remote_nix, state + n, sizeof(c->remote_nix));
		c->proto = u->ng ? &daemon_proto : &serve_proto;
	}
	c->timeout_ms = (int)sshconf.io_timeout * 1000;
	return 0;
}

/* What a process adopting c's session needs of its handshake, into buf. */
void
ssh_state(const struct conn *c, char *buf, size_t sz)
{
	snprintf(buf, sz, "%u %u %d %s", c->version, c->remote_version,
	    c->trust, c->remote_nix[0] != '\0' && strchr(c->remote_nix, ' ') ==
	    NULL ? c->remote_nix : "-");
}

/*
 * While c connects, wait for its master's socket to appear (so that a
 * second session can share the connection), for c's first reply, or for
 * its end.  Returns 1 if the master is up.
 */
int
ssh_wait_master(const struct store_uri *u, struct conn *c)
{
	int64_t	 deadline = clock_ms() + (int64_t)c->timeout_ms;

	while (clock_ms() < deadline) {
		if (ssh_master_up(u))
			return 1;
		if (wire_peek(c, 1, 10) > 0 || c->eof || c->err == -1)
			break;
	}
	return ssh_master_up(u);
}

/*
 * End a conversation: close its stdin so the remote finishes, and reap
 * ssh.  Returns 0 if it exited with status 0.
 */
int
ssh_close(struct conn *c)
{
	char	 b[4096];

	if (c->to != -1) {
		if (c->wlen > 0)
			wire_flush(c);
		close(c->to);
		c->to = -1;
	}
	/* unread output would keep a remote blocked in write() */
	while (c->from != -1 && read(c->from, b, sizeof(b)) > 0)
		;
	if (!reap(c, SSH_CLOSE_WAIT_MS))
		ssh_kill(c);
	close_fds(c);
	return c->pid == -1 && WIFEXITED(c->status) &&
	    WEXITSTATUS(c->status) == 0 ? 0 : -1;
}
