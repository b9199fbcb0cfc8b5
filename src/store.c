/*
 * The local store, spoken to as Nix itself would let another program: a
 * local `nix-store --serve --write`, over the same serve protocol as a
 * builder.  It takes care of locking, registration and validity, so no
 * path ever appears in the local store half-written.
 */
#include <sys/wait.h>

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define STORE_CLOSE_WAIT_MS	5000

static void
diagnose(struct conn *c, const char *what)
{
	char	 line[600];
	char	*e, *s;

	if (c->to != -1) {
		close(c->to);
		c->to = -1;
	}
	if (c->pid != -1) {
		int64_t	 end = now_ms() + STORE_CLOSE_WAIT_MS;
		while (waitpid(c->pid, &c->status, WNOHANG) == 0 &&
		    now_ms() < end) {
			wire_drain_stderr(c);
			poll(NULL, 0, 10);
		}
		if (waitpid(c->pid, &c->status, WNOHANG) == 0) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &c->status, 0);
		}
		c->pid = -1;
	}
	wire_drain_stderr(c);
	e = c->errtail + c->errlen;
	while (e > c->errtail && (e[-1] == '\n' || e[-1] == ' '))
		e--;
	for (s = e; s > c->errtail && s[-1] != '\n'; s--)
		;
	log_printable(s, (size_t)(e - s), line, sizeof(line));
	if (strstr(c->errtail, "lacks a valid signature") != NULL) {
		/* a daemon's answer to a user it does not trust */
		log_errx("local store: %s: the local Nix refused what the "
		    "builder built: no key in its trusted-public-keys signed "
		    "it, and this user (uid %ld) is not in its trusted-users. "
		    "Build through the daemon (nix-offload as Nix's build "
		    "hook), have the builders sign their outputs "
		    "(secret-key-files) with a key trusted here, or add the "
		    "user to trusted-users (%s)", what, (long)getuid(), line);
		c->fail = FAIL_OTHER;
		return;
	}
	log_errx("local store: %s: %s%s%s", what, c->why[0] ? c->why : "failed",
	    line[0] ? ": " : "", line);
	c->fail = c->eof ? FAIL_DROPPED : FAIL_PROTOCOL;
}

/* Start the local nix-store --serve --write and shake hands. */
int
store_open(struct conn *c)
{
	char	*argv[] = { "nix-store", "--serve", "--write", NULL };
	int	 fds[3];
	pid_t	 pid;

	if (spawn(argv, fds, &pid, " (install Nix: nix-offload uses the "
	    "local nix-store)") == -1)
		return -1;
	wire_init(c, fds[0], fds[1], fds[2], "local store");
	c->pid = pid;
	c->diagnose = diagnose;
	c->timeout_ms = 0;	/* local: a slow disk is not a dead peer */
	if (serve_handshake(c) == -1) {
		store_close(c);
		return -1;
	}
	return 0;
}

/* Close stdin (the server exits at EOF) and reap it. */
int
store_close(struct conn *c)
{
	if (c->to != -1) {
		if (c->wlen > 0)
			wire_flush(c);
		close(c->to);
		c->to = -1;
	}
	if (c->pid != -1) {
		waitpid(c->pid, &c->status, 0);
		c->pid = -1;
	}
	if (c->from != -1)
		close(c->from);
	if (c->err != -1)
		close(c->err);
	c->from = c->err = -1;
	return WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0 ? 0 : -1;
}

/*
 * Ends a helper nix-store (stdin closed, reaped): 0 when it exited 0,
 * else -1, reported with what it said.
 */
static int
helper_close(struct conn *c, const char *what)
{
	int	 ok;

	if (c->to != -1 && c->wlen > 0 && wire_flush(c) == -1) {
		diagnose(c, what);	/* closes stdin, reaps it */
		store_close(c);
		return -1;
	}
	if (c->to != -1) {
		close(c->to);
		c->to = -1;
	}
	if (c->pid != -1) {
		waitpid(c->pid, &c->status, 0);
		c->pid = -1;
	}
	ok = WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0;
	if (!ok) {
		snprintf(c->why, sizeof(c->why), "nix-store exited with %d",
		    WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1);
		diagnose(c, what);
	}
	store_close(c);
	return ok ? 0 : -1;
}

static int
helper_open(struct conn *c, char *const *argv)
{
	int	 fds[3];
	pid_t	 pid;

	if (spawn(argv, fds, &pid, " (install Nix: nix-offload uses the "
	    "local nix-store)") == -1)
		return -1;
	wire_init(c, fds[0], fds[1], fds[2], "local store");
	c->pid = pid;
	c->timeout_ms = 0;
	return 0;
}

/*
 * Unpack a NAR into path with `nix-store --restore` (no store lock, no
 * registration): write the NAR on c, then store_restore_close.  A path
 * already there (left by an attempt that failed) is removed first.
 */
int
store_restore_open(struct conn *c, const char *path)
{
	char	*rm[] = { "rm", "-rf", "--", (char *)path, NULL };
	char	*argv[] = { "nix-store", "--restore", (char *)path, NULL };
	int	 status;

	if (!path_valid(STORE_DIR, path)) {
		log_errx("local store: %s is not a store path", path);
		return -1;
	}
	if (access(path, F_OK) == 0 && (spawn_lines(rm, NULL,
	    (int)sshconf.io_timeout, 0, NULL, NULL, &status) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)) {
		log_errx("local store: cannot remove %s, left by an attempt "
		    "that failed", path);
		return -1;
	}
	return helper_open(c, argv);
}

int
store_restore_close(struct conn *c, const char *path)
{
	char	 what[PATH_MAX_LEN + 32];

	snprintf(what, sizeof(what), "restoring %s", path);
	return helper_close(c, what);
}

/*
 * Make paths valid at once, as `nix-store --register-validity
 * --hash-given` does from text (for each path: path, hash, size, deriver,
 * the number of references and each).  No path lock is taken.
 */
int
store_register(const char *text, size_t len)
{
	char		*argv[] = { "nix-store", "--register-validity",
	    "--hash-given", NULL };
	struct conn	 c;

	if (helper_open(&c, argv) == -1)
		return -1;
	if (wire_write(&c, text, len) == -1) {
		diagnose(&c, "registering outputs");
		store_close(&c);
		return -1;
	}
	return helper_close(&c, "registering outputs");
}
