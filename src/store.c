/*
 * The local store, spoken to as Nix itself would let another program: a
 * local `nix-store --serve --write`, over the same serve protocol as a
 * builder.  It takes care of locking, registration and validity, so no
 * path ever appears in the local store half-written.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define STORE_CLOSE_WAIT_MS	5000
#define STORE_DAEMON_WAIT_MS	10000	/* for the local daemon's greeting */

/*
 * The local store, as Nix's `store` setting names it: the default, or a
 * local store under another root (a path, or local?root=PATH, with real=
 * for its store directory), as nixos-install and `--store /mnt` use.
 * Every local nix-store is then given it, and store paths are read and
 * written under its real store directory.
 */
static char	 store_arg[PATH_MAX_LEN];	/* "": the default store */
static char	 store_real[PATH_MAX_LEN];	/* "": STORE_DIR itself */

/* The value of parameter name in uri's query, into buf; 0, or -1. */
static int
store_param(const char *uri, const char *name, char *buf, size_t sz)
{
	const char	*q = strchr(uri, '?'), *e;
	size_t		 n = strlen(name);

	for (; q != NULL; q = strchr(q + 1, '&'))
		if (strncmp(q + 1, name, n) == 0 && q[1 + n] == '=') {
			e = q + 2 + n;
			snprintf(buf, sz, "%.*s", (int)strcspn(e, "&"), e);
			return 0;
		}
	return -1;
}

/*
 * Use the store uri (Nix's `store` setting: PATH, local?root=PATH,
 * local://PATH as Nix 2.34 writes it; NULL or "auto": the default).
 * Stores that are not local ones under another root (daemon, unix://,
 * ssh://...) are left to nix-store, as the environment names them.
 * Returns 0, or -1 (said) for a root that is not an absolute path.
 */
int
store_use(const char *uri)
{
	char	 root[PATH_MAX_LEN] = "";

	store_arg[0] = store_real[0] = '\0';
	if (uri == NULL)
		return 0;
	if (uri[0] == '/')
		snprintf(root, sizeof(root), "%.*s", (int)strcspn(uri, "?"),
		    uri);
	else if (strncmp(uri, "local://", 8) == 0)	/* as 2.34 says it */
		snprintf(root, sizeof(root), "%.*s",
		    (int)strcspn(uri + 8, "?"), uri + 8);
	else if (strncmp(uri, "local", 5) != 0 ||
	    (uri[5] != '\0' && uri[5] != '?'))
		return 0;
	if (root[0] == '\0')
		(void)store_param(uri, "root", root, sizeof(root));
	if (store_param(uri, "real", store_real, sizeof(store_real)) == -1 &&
	    root[0] != '\0')
		snprintf(store_real, sizeof(store_real), "%s%s", root,
		    STORE_DIR);
	if ((root[0] != '\0' && root[0] != '/') ||
	    (store_real[0] != '\0' && store_real[0] != '/')) {
		log_errx("store %s: its root is not an absolute path", uri);
		store_real[0] = '\0';
		return -1;
	}
	strlcpy(store_arg, uri, sizeof(store_arg));
	log_debug(1, "local store: %s%s%s", uri, store_real[0] ? ", paths "
	    "under " : "", store_real);
	return 0;
}

/* --store and its value for a local nix-store, if the store is not its
 * default.  Returns 0, or -1. */
int
store_args(struct args *a)
{
	if (store_arg[0] == '\0')
		return 0;
	return args_add(a, "--store") | args_add(a, "%s", store_arg) ?
	    -1 : 0;
}

/* Where a store path's files are: path itself, or under the real store
 * directory of a store at another root (in buf). */
const char *
store_file(const char *path, char *buf, size_t sz)
{
	size_t	 n = strlen(STORE_DIR);

	if (store_real[0] == '\0' || strncmp(path, STORE_DIR, n) != 0 ||
	    (path[n] != '/' && path[n] != '\0'))
		return path;
	snprintf(buf, sz, "%s%s", store_real, path + n);
	return buf;
}

static void
diagnose(struct conn *c, const char *what)
{
	char	 line[600];

	if (c->to != -1) {
		close(c->to);
		c->to = -1;
	}
	if (c->pid != -1) {
		int64_t	 end = clock_ms() + STORE_CLOSE_WAIT_MS;
		while (waitpid(c->pid, &c->status, WNOHANG) == 0 &&
		    clock_ms() < end) {
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
	wire_last_message(c, line, sizeof(line));
	if (strstr(c->errtail, "lacks a valid signature") != NULL ||
	    strstr(c->errtail, "lacks a signature by a trusted key") != NULL) {
		/*
		 * A daemon's answer to a user it does not trust: Nix 2.8 to
		 * 2.11 say the first, 2.12 on (and Lix) the second.
		 */
		wire_error(c, FAIL_OTHER, "%s: the local Nix refused what the "
		    "builder built: no key in its trusted-public-keys signed "
		    "it, and this user (uid %ld) is not in its trusted-users. "
		    "Build through the daemon (nix-offload as Nix's build "
		    "hook), have the builders sign their outputs "
		    "(secret-key-files) with a key trusted here, or add the "
		    "user to trusted-users (%s)", what, (long)getuid(), line);
		return;
	}
	if (strstr(c->errtail, "ca hash mismatch importing path") != NULL) {
		/*
		 * Nix 2.17 stopped hashing where an output refers to itself
		 * (RewritingSink lost its matches): such an output built on
		 * one side of 2.17 fails the other side's check.
		 */
		wire_error(c, FAIL_OTHER, "%s: the local Nix refused a "
		    "content-addressed output that refers to itself: Nix 2.17 "
		    "changed how such outputs are hashed, so one built by a "
		    "Nix older than 2.17 cannot be added to a store of 2.17 or "
		    "newer, nor the other way round; build it on a builder "
		    "whose Nix is on the same side of 2.17 as this machine's "
		    "(%s)", what, line);
		return;
	}
	wire_error(c, c->eof ? FAIL_DROPPED : FAIL_PROTOCOL, "%s: %s%s%s", what,
	    c->why[0] ? c->why : "failed", line[0] ? ": " : "", line);
}

/*
 * A local nix-store with argv on c; local: a slow disk is not a dead peer.
 * With CONN_QUIET in flags, c's failure is kept in c->f and not said.
 */
static int
helper_open(struct conn *c, char *const *argv, int flags)
{
	struct args	 a = { NULL, 0, 0 };
	int		 fds[3], rc = 0;
	pid_t		 pid;
	size_t		 i;

	wire_init(c, -1, -1, -1, "local store");
	c->quiet = (flags & CONN_QUIET) != 0;
	for (i = 0; argv[i] != NULL; i++)
		rc |= args_add(&a, "%s", argv[i]);
	if (rc != 0 || store_args(&a) == -1 || spawn(a.list, fds, &pid,
	    " (install Nix: nix-offload uses the local nix-store)") == -1) {
		args_free(&a);
		wire_error(c, FAIL_OTHER, "cannot start nix-store");
		return -1;
	}
	args_free(&a);
	wire_init(c, fds[0], fds[1], fds[2], "local store");
	c->quiet = (flags & CONN_QUIET) != 0;
	c->pid = pid;
	c->timeout_ms = 0;
	return 0;
}

/*
 * The local nix-daemon, when one answers on its socket: the same store
 * as a nix-store would open, with no process to start (the daemon forks
 * one for us).  Only for the default store, and only where nothing needs
 * a path lock that the caller holds (NIX_HELD_LOCKS cannot cross a
 * socket).  Returns 0, or -1 when there is none or it did not shake hands
 * (said at -v only: nix-store is then started as before).
 */
static int
daemon_local(struct conn *c, int flags)
{
	struct sockaddr_un	 sa;
	const char		*env, *dir;
	int			 fd, fd2;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	env = getenv("NIX_REMOTE");
	if (store_arg[0] != '\0' || (env != NULL && *env != '\0' &&
	    strcmp(env, "daemon") != 0 && strcmp(env, "auto") != 0))
		return -1;
	if ((env = getenv("NIX_DAEMON_SOCKET_PATH")) != NULL && *env != '\0')
		(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", env);
	else {
		dir = getenv("NIX_STATE_DIR");
		(void)snprintf(sa.sun_path, sizeof(sa.sun_path),
		    "%s/daemon-socket/socket", dir != NULL && *dir == '/' ?
		    dir : "/nix/var/nix");
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		log_debug(2, "local store: no nix-daemon at %s (%s)",
		    sa.sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		close(fd);
		return -1;
	}
	wire_init(c, fd2, fd, -1, "local store");
	c->here = 1;
	c->quiet = 1;
	c->timeout_ms = STORE_DAEMON_WAIT_MS;
	if (daemon_handshake(c) == -1) {
		log_debug(1, "local store: the nix-daemon at %s: %s; starting "
		    "nix-store instead", sa.sun_path, c->f.msg);
		store_close(c);
		return -1;
	}
	c->quiet = (flags & CONN_QUIET) != 0;
	c->timeout_ms = 0;	/* as nix-store's: a slow disk is not dead */
	log_debug(1, "local store: the nix-daemon at %s", sa.sun_path);
	return 0;
}

/*
 * Start the local nix-store --serve --write, without a word to it: for a
 * process that hands it over (the lease broker's warm sessions).
 */
int
store_spawn(struct conn *c, int flags)
{
	char	*argv[] = { "nix-store", "--serve", "--write", NULL };

	if (helper_open(c, argv, flags) == -1)
		return -1;
	c->diagnose = diagnose;
	return 0;
}

/*
 * Start the local nix-store --serve --write and shake hands; with
 * CONN_DAEMON in flags, the local nix-daemon instead if one answers.
 */
int
store_open(struct conn *c, int flags)
{
	if ((flags & CONN_DAEMON) && daemon_local(c, flags) == 0)
		return 0;
	if (store_spawn(c, flags) == -1)
		return -1;
	if (serve_handshake(c) == -1) {
		store_close(c);
		return -1;
	}
	return 0;
}

/*
 * The local nix-daemon only (see daemon_local): 0, or -1 when none
 * answers.
 */
int
store_daemon(struct conn *c, int flags)
{
	return daemon_local(c, flags);
}

/*
 * Which local store a nix-store --serve of ours would open, as a key
 * (rundir_key): its arguments and the environment it would read, so that
 * a warm one is handed only to a process that would start the same.
 * Returns 0, or -1 (key empty) when there is no memory.
 */
int
store_key(char key[17])
{
	static const char *const vars[] = {
		"NIX_REMOTE", "NIX_STORE_DIR", "NIX_STATE_DIR", "NIX_CONF_DIR",
		"NIX_CONFIG", "NIX_USER_CONF_FILES", "NIX_DATA_DIR",
		"NIX_LOG_DIR", "NIX_HELD_LOCKS", "PATH", "HOME",
		"XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "XDG_DATA_HOME"
	};
	struct sha256	 h;
	unsigned char	 d[SHA256_LEN];
	char		*buf = NULL;
	size_t		 len = 0, i;
	const char	*v;
	FILE		*f;

	key[0] = '\0';
	if ((f = open_memstream(&buf, &len)) == NULL)
		return -1;
	fprintf(f, "local nix-store --serve --write %s %u", store_arg,
	    (unsigned)geteuid());
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if ((v = getenv(vars[i])) != NULL)
			fprintf(f, "%c%s=%s", '\0', vars[i], v);
		else
			fprintf(f, "%c%s", '\0', vars[i]);
	if (fclose(f) != 0) {
		free(buf);
		return -1;
	}
	sha256_init(&h);
	sha256_update(&h, buf, len);
	sha256_final(&h, d);
	hash_hex(d, 8, key);	/* as rundir_key */
	free(buf);
	return 0;
}

/* What a process adopting c's session needs of its handshake, into buf. */
void
store_state(const struct conn *c, char *buf, size_t sz)
{
	snprintf(buf, sz, "%u %u", c->version, c->remote_version);
}

/*
 * A local nix-store --serve started by another process (store_spawn),
 * its descriptors fds, in c: with state "-" a new one, hands shaken now,
 * else one that served before and shook hands then (store_state).
 * Returns 0, or -1 (c->f).
 */
int
store_adopt(struct conn *c, const int *fds, const char *state, int flags)
{
	unsigned	 v, rv;
	int		 n = 0;

	wire_init(c, fds[0], fds[1], fds[2], "local store");
	c->quiet = (flags & CONN_QUIET) != 0;
	c->diagnose = diagnose;
	c->timeout_ms = 0;
	if (strcmp(state, "-") == 0) {
		if (serve_handshake(c) == -1) {
			store_close(c);
			return -1;
		}
		return 0;
	}
	if (sscanf(state, "%u %u%n", &v, &rv, &n) != 2 || state[n] != '\0' ||
	    v > 0xffff || rv > 0xffff) {
		wire_error(c, FAIL_OTHER, "a warm session's state is not ours");
		store_close(c);
		return -1;
	}
	c->version = v;
	c->remote_version = rv;
	c->proto = &serve_proto;
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

/*
 * Unpack a NAR into DIR/NAME ourselves, as `nix-store --restore` would but
 * without a process: through nar_copy's tree events (nar.c has checked
 * every name: not empty, ".", "..", nor holding "/" or NUL; sorted and
 * unique), each node made relative to its directory's descriptor with
 * O_EXCL and O_NOFOLLOW, so that nothing already there is followed or
 * written through.  Modes are 0444 or 0555; registration canonicalises
 * them, owner and times as for any output.
 */
static int
parent(struct store_unpack *u)
{
	return u->dirs[u->depth];
}

static const char *
name_of(struct store_unpack *u, const char *name)
{
	return name != NULL ? name : u->name;
}

static int
failed(struct store_unpack *u, const char *what, const char *name)
{
	log_err("local store: %s/%s: %s %s", u->dir, u->name, what,
	    name != NULL ? name : "");
	return -1;
}

static int
un_dir(void *arg, const char *name)
{
	struct store_unpack	*u = arg;
	int			 fd;

	if (u->depth + 1 >= STORE_UNPACK_DEPTH)
		return failed(u, "too deep at", name);
	if (mkdirat(parent(u), name_of(u, name), 0755) == -1 ||
	    (fd = openat(parent(u), name_of(u, name), O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return failed(u, "cannot make the directory", name);
	u->dirs[++u->depth] = fd;
	return 0;
}

static int
un_dir_end(void *arg)
{
	struct store_unpack	*u = arg;

	if (u->depth == 0)
		return -1;
	close(u->dirs[u->depth--]);
	return 0;
}

static int
un_file(void *arg, const char *name, int executable)
{
	struct store_unpack	*u = arg;

	if ((u->file = openat(parent(u), name_of(u, name), O_WRONLY |
	    O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    executable ? 0555 : 0444)) == -1)
		return failed(u, "cannot make the file", name);
	return 0;
}

static int
un_data(void *arg, const void *p, size_t n)
{
	struct store_unpack	*u = arg;
	const char		*b = p;
	ssize_t			 w;

	while (n > 0) {
		if ((w = write(u->file, b, n)) == -1) {
			if (errno == EINTR)
				continue;
			return failed(u, "cannot write a file", NULL);
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
un_file_end(void *arg)
{
	struct store_unpack	*u = arg;
	int			 rc = close(u->file);

	u->file = -1;
	return rc == -1 ? failed(u, "cannot write a file", NULL) : 0;
}

static int
un_link(void *arg, const char *name, const char *target)
{
	struct store_unpack	*u = arg;

	if (symlinkat(target, parent(u), name_of(u, name)) == -1)
		return failed(u, "cannot make the link", name);
	return 0;
}

/*
 * Remove dir/name and all in it (spawned rm, argv only): name is one
 * entry of dir, never "." or "..".  0 or -1.
 */
int
store_remove(const char *dir, const char *name)
{
	char	 path[PATH_MAX_LEN];
	char	*rm[] = { "rm", "-rf", "--", path, NULL };
	int	 status;

	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path) || spawn_lines(rm, NULL, (int)sshconf.io_timeout, 0,
	    NULL, NULL, &status) == -1)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * Ready to unpack into dir/name, which must not exist: a path left
 * there by an attempt that failed is removed first.  The NAR's events go
 * to u->tree.  Returns 0, or -1 (reported).
 */
int
store_unpack_begin(struct store_unpack *u, const char *dir, const char *name)
{
	memset(u, 0, sizeof(*u));
	u->dir = dir;
	u->name = name;
	u->file = -1;
	u->tree.dir = un_dir;
	u->tree.dir_end = un_dir_end;
	u->tree.file = un_file;
	u->tree.data = un_data;
	u->tree.file_end = un_file_end;
	u->tree.link = un_link;
	u->tree.arg = u;
	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strlen(dir) + 1 + strlen(name) >= PATH_MAX_LEN) {
		log_errx("local store: \"%s\" is not a name to unpack to",
		    name);
		return -1;
	}
	if ((u->dirs[0] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_err("local store: %s", dir);
		return -1;
	}
	if (faccessat(u->dirs[0], name, F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
	    store_remove(dir, name) == -1) {
		log_errx("local store: cannot remove %s/%s, left by an attempt "
		    "that failed", dir, name);
		close(u->dirs[0]);
		return -1;
	}
	return 0;
}

/*
 * The end of an unpacking: descriptors closed, and, unless ok, what was
 * unpacked removed.  Returns 0, or -1 when that removal failed.
 */
int
store_unpack_end(struct store_unpack *u, int ok)
{
	if (u->file != -1)
		close(u->file);
	while (u->depth > 0)
		close(u->dirs[u->depth--]);
	close(u->dirs[0]);
	u->file = -1;
	return ok ? 0 : store_remove(u->dir, u->name);
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

	if (helper_open(&c, argv, 0) == -1)
		return -1;
	if (wire_write(&c, text, len) == -1) {
		diagnose(&c, "registering outputs");
		store_close(&c);
		return -1;
	}
	return helper_close(&c, "registering outputs");
}

/*
 * Register realisations (their JSON texts) in the local store, as Nix's
 * hook does for the floating outputs it brought home.  nix-store has no
 * command for it: a nix-daemon --stdio of our own on the store speaks the
 * daemon protocol, which has.  Returns 0, or -1 (reported).
 */
int
store_realisations(const struct strlist *json)
{
	char		*argv[] = { "nix-daemon", "--stdio",
	    "--extra-experimental-features", "ca-derivations", NULL };
	struct conn	 c;
	size_t		 i;
	int		 rc = -1;

	if (json->n == 0)
		return 0;
	if (helper_open(&c, argv, 0) == -1)
		return -1;
	c.diagnose = diagnose;
	if (daemon_handshake(&c) == 0) {
		for (i = 0; i < json->n; i++)
			if (daemon_register_realisation(&c, json->v[i]) == -1)
				break;
		rc = i == json->n ? 0 : -1;
	}
	if (store_close(&c) == -1 && rc == 0) {
		log_errx("local store: nix-daemon --stdio did not end well "
		    "after registering realisations");
		rc = -1;
	}
	return rc;
}

/*
 * A GC-rooted link at link to path, as nix-build and nix build make
 * them: nix-store --realise --add-root --indirect.  Its own messages say
 * why it failed; one silent for longer than NIX_OFFLOAD_IO_TIMEOUT is
 * stopped.  Returns 0, or -1 (reported).
 */
int
store_add_root(const char *link, const char *path)
{
	struct args	 a = { NULL, 0, 0 };
	int		 status, rc;

	if (args_add(&a, "nix-store") | args_add(&a, "--realise") |
	    args_add(&a, "--add-root") | args_add(&a, "%s", link) |
	    args_add(&a, "--indirect") | args_add(&a, "%s", path) ||
	    store_args(&a) == -1) {
		args_free(&a);
		log_err("%s", link);
		return -1;
	}
	rc = spawn_lines(a.list, NULL, (int)sshconf.io_timeout, 0, NULL, NULL,
	    &status);
	args_free(&a);
	if (rc == -1 && status == -1)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_errx("cannot make the GC root %s", link);
		return -1;
	}
	return 0;
}
