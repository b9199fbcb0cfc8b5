/*
 * Slots held on the builder itself, so that clients on several machines
 * share a builder's max-jobs.  A builder runs no daemon of ours: a lease
 * session (a POSIX shell on a second channel of the owned master) holds
 * each slot as a file under ~/.cache/nix-offload/slots there, made
 * exclusively (noclobber: O_EXCL), and removes it when the build ends or
 * its session does.
 *
 * Here one broker per master holds that session for every process of the
 * user (a hook, a build's workers): they ask it over a socket in the
 * runtime directory, so a build costs a line each way and no process.  A
 * process that dies closes its socket and the broker lets its slots go at
 * once; a broker that dies (even by SIGKILL) closes the session, and the
 * shell lets every slot go; a broker idle for LEASE_BROKER_IDLE seconds
 * leaves.  One whose link dies stops beating, and its slots are taken
 * back by the next client that finds them LEASE_STALE seconds old.
 * Waiters line up in tickets ("w.EPOCH.ID") so that clients get slots in
 * the order they asked.  A builder where the shell cannot run it (a
 * ForceCommand, no writable home) is said once, and its slots are then
 * counted on this machine only, as before.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

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

#define LEASE_FD_SCAN	4096	/* descriptors the broker closes */
#define LEASE_POLL_MS	50	/* first pause before asking again */
#define LEASE_POLL_MAX_MS 400	/* ... and the longest */
#define LEASE_BROKER_IDLE 30	/* s a broker with no client stays */
#define LEASE_BROKER_START_MS 5000 /* ms a client waits for its broker */
#define LEASE_CLIENTS	64	/* processes one broker serves at once */
#define LEASE_CLIENT_SLOTS 4	/* slots one process holds at once */
#define LEASE_LINE_MAX	256	/* a line either way */
#define LEASE_OFF_SAY	3600	/* s between two warnings of a builder */
#define LEASE_GREET_S	30	/* s the shell takes to start, past ssh's */
#define LEASE_POOL	8	/* warm store sessions a broker keeps */
#define LEASE_POOL_AGE	60	/* s a session serves, from its start */
#define LEASE_POOL_IDLE	20	/* s an unused one is kept */
#define LEASE_LOCAL_AGE	10	/* s a local nix-store serves: what it was
				   asked it holds alive (temporary roots) */
#define LEASE_LOCAL_IDLE 1	/* s an unused local one is kept */
#define LEASE_SESSION_MS 5000	/* ms a client waits for a session */

/*
 * The builder's side.  $1 is this client's id, $2 this session's.  Lines
 * in: "take MAX" (answered "ok SLOT OTHERS" or "busy OTHERS"), "drop SLOT",
 * "beat", "list" (answered "in-use OTHERS MINE").  OTHERS counts the live
 * slots of other clients.  At EOF, every slot of this session goes.
 *
 * A slot is a file s.N made with noclobber (O_EXCL: one maker wins)
 * holding "CLIENT SESSION"; s.N.beat holds when its holder last said it
 * lives, empty until its first beat.  Builtins only where no one waits:
 * an uncontended take starts no process, a drop one (rm); the time (date)
 * is asked only to beat or to judge another's slot.  A slot's beat found
 * empty or missing is filled in with now by whoever finds it: its holder
 * has LEASE_STALE seconds from then to beat.
 */
static const char lease_script[] =
"umask 077; set -C; d=${HOME:-/nonexistent}/.cache/nix-offload/slots; "
"mkdir -p \"$d\" 2>/dev/null; "
"if ! [ -d \"$d\" ] || [ -L \"$d\" ] || ! [ -w \"$d\" ]; then "
"echo \"no $d is not a writable directory\"; exit 0; fi; "
"me=\"$1 $2\"; mine=; tk=; now=; n=0; "
"clock() { [ -n \"$now\" ] || now=$(date +%s); }; "
"stale() { b=; if [ -f \"$1\" ]; then read -r b <\"$1\"; "
"elif [ -z \"$2\" ]; then return 1; fi 2>/dev/null; case $b in "
"'') [ -n \"$2\" ] && { clock; echo $now >|\"$1\"; } 2>/dev/null; "
"return 1;; *[!0-9]*) return 0;; esac; clock; "
"[ $((now - b)) -gt " LEASE_STALE_STR " ]; }; "
"reap() { mv \"$1\" \"$d/.dead.$$\" 2>/dev/null && rm -f \"$d/.dead.$$\" \"$1.beat\"; }; "
"others() { n=0; for s in \"$d\"/s.*; do case $s in *.beat) continue;; esac; "
"[ -f \"$s\" ] || continue; x=; read -r x <\"$s\" 2>/dev/null; "
"case $x in \"$1 \"*) continue;; esac; "
"stale \"$s.beat\" fill || n=$((n + 1)); done; }; "
"echo nix-offload-lease 1; "
"while read -r c a; do now=; case $c in "
"take) first=y; for w in \"$d\"/w.*; do [ -f \"$w\" ] || continue; "
"[ \"$w\" = \"$tk\" ] && break; "
"if stale \"$w\"; then reap \"$w\"; else first=n; break; fi; done; "
"got=; i=0; while [ $first = y ] && [ $i -lt \"$a\" ]; do s=$d/s.$i; "
"if [ -f \"$s\" ] && stale \"$s.beat\" fill; then reap \"$s\"; fi; "
"if { echo \"$me\" >\"$s\"; } 2>/dev/null; then : >|\"$s.beat\"; "
"got=$i; break; fi; "
"i=$((i + 1)); done; others \"$1\"; "
"if [ -n \"$got\" ]; then mine=\"$mine $got\"; "
"[ -n \"$tk\" ] && rm -f \"$tk\"; tk=; echo \"ok $got $n\"; "
"else clock; [ -n \"$tk\" ] || tk=$d/w.$now.$1.$2; echo $now >|\"$tk\"; "
"echo \"busy $n\"; fi;; "
"drop) x=; read -r x <\"$d/s.$a\" 2>/dev/null; "
"[ \"$x\" = \"$me\" ] && rm -f \"$d/s.$a\" \"$d/s.$a.beat\"; m=; "
"for i in $mine; do [ \"$i\" = \"$a\" ] || m=\"$m $i\"; done; mine=$m;; "
"beat) clock; for i in $mine; do echo $now >|\"$d/s.$i.beat\"; done 2>/dev/null; "
"[ -n \"$tk\" ] && echo $now >|\"$tk\";; "
"list) k=0; for i in $mine; do k=$((k + 1)); done; others \"$1\"; "
"echo \"in-use $n $k\";; "
"esac; done; "
"for i in $mine; do x=; read -r x <\"$d/s.$i\" 2>/dev/null; "
"[ \"$x\" = \"$me\" ] && rm -f \"$d/s.$i\" \"$d/s.$i.beat\"; done; "
"[ -n \"$tk\" ] && rm -f \"$tk\"; exit 0";

/* This client's id: made once, kept in the runtime directory. */
static int
client_id(char *id, size_t sz)
{
	unsigned char	 r[8];
	ssize_t		 n;
	int		 fd;

	if ((n = rundir_read("", "lease-id", id, sz, NULL)) == 16 &&
	    strspn(id, "0123456789abcdef") == 16)
		return 0;
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1 ||
	    read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
		if (fd != -1)
			close(fd);
		log_err("/dev/urandom");
		return -1;
	}
	close(fd);
	hash_hex(r, sizeof(r), id);
	(void)rundir_write("", "lease-id", id, 16);
	return 0;
}

/* A line of the builder's (at most sz - 1 bytes) into buf.  0, or -1. */
static int
read_line(struct conn *c, char *buf, size_t sz)
{
	size_t	 n = 0;
	char	 ch;

	for (;;) {
		if (wire_read(c, &ch, 1) == -1)
			return -1;
		if (ch == '\n')
			break;
		if (n + 1 < sz)
			buf[n++] = ch;
	}
	buf[n] = '\0';
	return 0;
}


/* Are m's slots to be held on the builder? */
static int
lease_shared(const struct machine *m)
{
	const char	*e = getenv("NIX_OFFLOAD_SHARED_SLOTS");

	return !m->local && !m->uri.private_slots &&
	    (e == NULL || strcmp(e, "0") != 0);
}

/* Others' slots on m as seen in the last LEASE_FACT_TTL s, or -1. */
static long long
others_fresh(const struct machine *m)
{
	char		 buf[64];
	long long	 k, t;

	if (ssh_fact_get(&m->uri, "others", buf, sizeof(buf)) == -1 ||
	    sscanf(buf, "%lld %lld", &k, &t) != 2 || k < 0 ||
	    (long long)time(NULL) - t > LEASE_FACT_TTL)
		return -1;
	return k;
}

/* Others' slots on m as last seen (none when not seen lately). */
long
lease_others(const struct machine *m)
{
	long long	 k;

	if (!lease_shared(m) || (k = others_fresh(m)) == -1)
		return 0;
	return k > m->max_jobs ? m->max_jobs : (long)k;
}

/*
 * Others' slots on m afresh, for status and why, where a master is up
 * (one round trip over it) and what was seen is older than
 * LEASE_FACT_TTL: they show what the builder says, not what we last did.
 */
void
lease_refresh(const struct machine *m)
{
	long		 others;

	if (lease_shared(m) && ssh_master_up(&m->uri) &&
	    others_fresh(m) == -1)
		(void)lease_list(m, &others);
}

static void
others_seen(const struct machine *m, long k)
{
	char	 buf[64];

	snprintf(buf, sizeof(buf), "%ld %lld", k, (long long)time(NULL));
	ssh_fact_put(&m->uri, "others", buf);
}

/* The broker's socket is closed: it lets our slots go. */
static void
lease_end(struct lease *l)
{
	if (l->c.to != -1)
		close(l->c.to);
	l->c.to = l->c.from = -1;
	l->up = 0;
	l->slot = -1;
}

/* The builder takes no leases (why): said once per master, then off. */
static void
lease_off(struct lease *l, const struct machine *m, const char *why)
{
	char		 q[256], name[64 + RUNDIR_NAME_MAX];
	struct stat	 st;
	int		 fd;

	/* the first to make the fact says it (processes race here), once
	 * an hour at most */
	ssh_master_file(&m->uri, "lease-off", name, sizeof(name), NULL, 0);
	if ((fd = rundir_dirfd("")) != -1 &&
	    fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_mtime < time(NULL) - LEASE_OFF_SAY)
		(void)rundir_unlink("", name, 0);
	if ((fd = rundir_open("", name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) != -1) {
		(void)!write(fd, "1", 1);
		close(fd);
		log_warnx("%s: cannot hold slots on the builder (%s): its "
		    "slots are counted on this machine only", m->uri_text,
		    text_printable(why, strlen(why), q, sizeof(q)));
	}
	lease_end(l);
}

/* An empty lease, holding nothing (lease_close is a no-op on it). */
void
lease_init(struct lease *l)
{
	memset(l, 0, sizeof(*l));
	wire_init(&l->c, -1, -1, -1, "");
	l->slot = -1;
}

/* Write all of n bytes to a socket or pipe; 0, or -1. */
static int
put(int fd, const char *b, size_t n)
{
	ssize_t	 k;

	while (n > 0) {
		if ((k = send(fd, b, n, MSG_NOSIGNAL)) == -1 && errno == ENOTSOCK)
			k = write(fd, b, n);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Send a line of ours whole, to the broker. */
static int
send_line(struct lease *l, const char *line)
{
	return put(l->c.to, line, strlen(line));
}

static void	 broker(const struct machine *, int, int);

/* Send line with n descriptors (SCM_RIGHTS) on socket s.  0, or -1. */
static int
fds_send(int s, const char *line, const int *fds, int n)
{
	union {
		struct cmsghdr	 h;
		char		 b[CMSG_SPACE(3 * sizeof(int))];
	}		 u;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	size_t		 len = strlen(line);
	ssize_t		 k;

	memset(&msg, 0, sizeof(msg));
	memset(&u, 0, sizeof(u));
	iov.iov_base = (void *)line;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (n > 0) {
		msg.msg_control = u.b;
		msg.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)n * sizeof(int));
	}
	while ((k = sendmsg(s, &msg, MSG_NOSIGNAL)) == -1 && errno == EINTR)
		;
	if (k == -1)
		return -1;
	/* the descriptors went with the first byte: the rest, plainly */
	return (size_t)k == len ? 0 : put(s, line + k, len - (size_t)k);
}

/*
 * Read at most sz - 1 bytes from socket s, with up to 3 descriptors
 * passed along (into fds, *n of them; others closed).  Returns the bytes
 * read (0 at EOF), or -1.
 */
static ssize_t
fds_recv(int s, char *buf, size_t sz, int *fds, int *n)
{
	union {
		struct cmsghdr	 h;
		char		 b[CMSG_SPACE(8 * sizeof(int))];
	}		 u;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	ssize_t		 k;
	int		 got[8];
	size_t		 i, c;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = sz - 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.b;
	msg.msg_controllen = sizeof(u.b);
	if ((k = recvmsg(s, &msg, MSG_CMSG_CLOEXEC)) == -1)
		return -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		c = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (c > 8)
			c = 8;
		memcpy(got, CMSG_DATA(cm), c * sizeof(int));
		for (i = 0; i < c; i++)
			if (*n < 3)
				fds[(*n)++] = got[i];
			else
				close(got[i]);
	}
	return k;
}

/*
 * Ask the broker of lease l (open, with no "take" asked yet) for a
 * session of key: its three descriptors into fds and its handshake state
 * into state.  Returns 1 with them, 0 when the broker has none to give
 * (l stays usable), or -1 when the exchange failed (l is closed).
 */
static int
session_ask(struct lease *l, const char *key, int *fds, char *state,
    size_t sz)
{
	char		 line[LEASE_LINE_MAX], ask[32];
	size_t		 len = 0;
	ssize_t		 k;
	int		 n = 0, i;
	struct pollfd	 p;
	int64_t		 end = clock_ms() + LEASE_SESSION_MS;

	snprintf(ask, sizeof(ask), "session %s\n", key);
	if (!l->up || l->asked || l->slot != -1 || l->c.rpos != l->c.rlen ||
	    send_line(l, ask) == -1)
		return 0;
	p.fd = l->c.from;
	p.events = POLLIN;
	while (len == 0 || line[len - 1] != '\n') {
		if (clock_ms() >= end || len + 1 >= sizeof(line) ||
		    poll(&p, 1, (int)(end - clock_ms())) <= 0 ||
		    (k = fds_recv(l->c.from, line + len, sizeof(line) - len,
		    fds, &n)) <= 0) {
			if (len == 0 || line[len - 1] != '\n')
				goto broken;
			break;
		}
		len += (size_t)k;
	}
	line[len - 1] = '\0';
	if (strcmp(line, "none") == 0 && n == 0)
		return 0;
	if (strncmp(line, "session ", 8) != 0 || n != 3 ||
	    strlen(line + 8) >= sz)
		goto broken;
	/* one that ended, or speaks unasked, since the broker looked */
	p.fd = fds[1];
	if (poll(&p, 1, 0) != 0) {
		for (i = 0; i < n; i++)
			close(fds[i]);
		return 0;
	}
	strlcpy(state, line + 8, sz);
	return 1;
broken:
	for (i = 0; i < n; i++)
		close(fds[i]);
	lease_end(l);
	return -1;
}

/*
 * A warm session of m's store program from m's broker (lease l, open and
 * with no "take" asked yet), adopted in c (flags as for ssh_adopt): one
 * another process of ours used and gave back, or one the broker started
 * ahead.  Returns 0, or -1 when the broker has none to give (c is then
 * untouched; l stays usable) or the exchange failed (l is closed).
 */
int
lease_session_get(struct lease *l, const struct machine *m, struct conn *c,
    int flags)
{
	char		 key[17], state[LEASE_LINE_MAX];
	int		 fds[3];

	/* the broker may be another URI's of the same host: only sessions
	 * of this very URI (its store program, its options) will do */
	rundir_key(m->uri_text, key);
	if (session_ask(l, key, fds, state, sizeof(state)) != 1)
		return -1;
	if (ssh_adopt(&m->uri, c, fds, state, flags) == -1) {
		log_debug(1, "%s: a warm session failed (%s): opening one",
		    m->uri_text, c->f.msg);
		return -1;
	}
	log_debug(1, "%s: a session from the broker, %s", m->uri_text,
	    strcmp(state, "-") == 0 ? "new" : "warm: it served an earlier "
	    "build");
	return 0;
}

/*
 * A warm local nix-store --serve from the broker of lease l, adopted in
 * c: one another build of ours used and gave back, or one the broker
 * started ahead; only one that opens the store this process would
 * (store_key).  Returns 0, or -1 as lease_session_get.
 */
int
lease_local_get(struct lease *l, struct conn *c, int flags)
{
	char		 key[17], state[LEASE_LINE_MAX];
	int		 fds[3];

	if (store_key(key) == -1 ||
	    session_ask(l, key, fds, state, sizeof(state)) != 1)
		return -1;
	if (store_adopt(c, fds, state, flags) == -1) {
		log_debug(1, "local store: a warm session failed (%s): "
		    "starting nix-store", c->f.msg);
		return -1;
	}
	log_debug(1, "local store: a session from the broker, %s",
	    strcmp(state, "-") == 0 ? "new" : "warm: it served an earlier "
	    "build");
	return 0;
}

/*
 * Give c's session of key, in state, back to the broker of lease l: only
 * one the broker started (not our child), its conversation finished and
 * nothing left unread.  c is closed here when it was taken (the session
 * left running).  Returns 0, or -1 when it was not taken: the caller
 * closes c as usual.
 */
static int
session_give(struct lease *l, const char *key, struct conn *c,
    const char *state)
{
	char	 line[LEASE_LINE_MAX];
	int	 fds[3];

	/* only the broker's: a hook's own child dies with its process
	 * group, which Nix kills when the build ends */
	if (!l->up || c->pid != -1 || c->to == -1 || c->from == -1 ||
	    c->err == -1 ||
	    c->wlen > 0 || c->rpos != c->rlen || c->eof || c->timedout ||
	    c->f.kind != FAIL_NONE || c->proto == NULL || c->framed ||
	    c->add_many || c->options_pending || c->acks_pending > 0)
		return -1;
	wire_drain_stderr(c);
	if (c->err == -1)
		return -1;
	snprintf(line, sizeof(line), "back %s %s\n", key, state);
	fds[0] = c->to;
	fds[1] = c->from;
	fds[2] = c->err;
	if (fds_send(l->c.to, line, fds, 3) == -1)
		return -1;
	/* ours go; the broker's keep the session */
	close(c->to);
	close(c->from);
	close(c->err);
	c->to = c->from = c->err = -1;
	return 0;
}

/* Give c's session with m's store program back (session_give). */
int
lease_session_put(struct lease *l, const struct machine *m, struct conn *c)
{
	char	 state[160], key[17];

	ssh_state(c, state, sizeof(state));
	rundir_key(m->uri_text, key);
	return session_give(l, key, c, state);
}

/* Give c's session with the local nix-store back (session_give). */
int
lease_local_put(struct lease *l, struct conn *c)
{
	char	 state[64], key[17];

	store_state(c, state, sizeof(state));
	if (store_key(key) == -1)
		return -1;
	return session_give(l, key, c, state);
}

/*
 * Start m's broker, unless one runs or starts (its lock is held): a
 * grandchild, in a session of its own, that outlives us.  0, or -1.
 */
static int
broker_start(const struct machine *m)
{
	char		 name[64 + RUNDIR_NAME_MAX];
	int		 lock, dfd, ls;
	pid_t		 pid;
	struct sockaddr_un sun;

	ssh_master_file(&m->uri, "lease.lock", name, sizeof(name), NULL, 0);
	if ((lock = rundir_open("", name, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	if (flock(lock, LOCK_EX | LOCK_NB) == -1) {
		close(lock);
		return 0;	/* one runs, or is starting */
	}
	/* ours: a socket left by one that died goes, and ours is bound */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (ssh_master_file(&m->uri, "lease", name, sizeof(name),
	    sun.sun_path, sizeof(sun.sun_path)) == -1 ||
	    (dfd = rundir_dirfd("")) == -1) {
		close(lock);
		return -1;
	}
	(void)unlinkat(dfd, name, 0);
	if ((ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(ls, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(ls, LEASE_CLIENTS) == -1) {
		log_err("%s: lease broker socket", m->uri_text);
		if (ls != -1)
			close(ls);
		close(lock);
		return -1;
	}
	if ((pid = fork()) == -1) {
		close(ls);
		close(lock);
		return -1;
	}
	if (pid == 0) {
		(void)setsid();
		if (fork() == 0)
			broker(m, ls, lock);
		_exit(0);
	}
	close(ls);
	close(lock);	/* the broker's copy holds the lock */
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	return 0;
}

/* Connect to m's broker, starting it if none runs.  The socket, or -1. */
static int
broker_connect(const struct machine *m)
{
	char		 name[64 + RUNDIR_NAME_MAX];
	struct sockaddr_un sun;
	int64_t		 end = clock_ms() + LEASE_BROKER_START_MS;
	int		 fd, started = 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (ssh_master_file(&m->uri, "lease", name, sizeof(name),
	    sun.sun_path, sizeof(sun.sun_path)) == -1)
		return -1;
	for (;;) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			return -1;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
		close(fd);
		if (clock_ms() >= end)
			return -1;
		if (!started++ && broker_start(m) == -1)
			return -1;
		(void)poll(NULL, 0, 10);
		if (started > 20)	/* one that was leaving: again */
			started = 0;
	}
}

/*
 * Open our lease with m's broker: with take, its first "take" goes at
 * once (the answer is read by lease_take, so an uncontended slot costs no
 * wait of its own).  Returns 0; a builder that cannot hold slots is said
 * once (lease_off), and l is then a no-op.  Never fails the build.
 */
int
lease_open(struct lease *l, const struct machine *m, int take)
{
	char	 line[LEASE_LINE_MAX];
	int	 fd, tries;

	lease_init(l);
	if (!lease_shared(m) ||
	    ssh_fact_get(&m->uri, "lease-off", line, sizeof(line)) == 0)
		return 0;
	for (tries = 0; tries < 2; tries++) {
		if ((fd = broker_connect(m)) == -1) {
			lease_off(l, m, "no lease broker here");
			return 0;
		}
		wire_init(&l->c, fd, fd, -1, m->uri.display);
		/* its first line is the builder's: it may be connecting */
		l->c.timeout_ms = (int)(sshconf.connect_timeout +
		    LEASE_GREET_S) * 1000;
		l->up = 1;
		if (read_line(&l->c, line, sizeof(line)) == 0)
			break;
		lease_end(l);	/* a broker that was leaving: again */
	}
	if (!l->up) {
		lease_off(l, m, "its lease broker did not answer");
		return 0;
	}
	if (strcmp(line, "nix-offload-lease 1") != 0) {
		lease_off(l, m, strncmp(line, "no ", 3) == 0 ? line + 3 : line);
		return 0;
	}
	if (take) {
		snprintf(line, sizeof(line), "take %ld\n", m->max_jobs);
		l->asked = send_line(l, line) == 0;
	}
	return 0;
}

/*
 * Take a slot on m's builder, waiting (at most timeout seconds) while
 * other clients hold them all.  Returns 0 with a slot held (or with
 * nothing to hold: l is not up), or -1 (reported) when the time is up or
 * the session broke.
 */
int
lease_take(struct lease *l, const struct machine *m)
{
	int64_t		 deadline;
	long		 timeout;
	char		 cmd[64], line[256];
	long		 slot, others;
	int		 pause = LEASE_POLL_MS, said = 0;

	if (!l->up || l->slot != -1)
		return 0;
	if (clock_env_number("NIX_OFFLOAD_SLOT_TIMEOUT", SCHED_SLOT_TIMEOUT, 1,
	    604800, &timeout) == -1)
		timeout = SCHED_SLOT_TIMEOUT;
	deadline = clock_ms() + (int64_t)timeout * 1000;
	snprintf(cmd, sizeof(cmd), "take %ld\n", m->max_jobs);
	for (;;) {
		if ((!l->asked && send_line(l, cmd) == -1) ||
		    read_line(&l->c, line, sizeof(line)) == -1) {
			lease_off(l, m, "its lease session ended");
			return 0;
		}
		l->asked = 0;
		if (sscanf(line, "ok %ld %ld", &slot, &others) == 2 &&
		    slot >= 0 && slot < m->max_jobs) {
			l->slot = slot;
			others_seen(m, others);
			return 0;
		}
		if (sscanf(line, "busy %ld", &others) != 1) {
			lease_off(l, m, line);
			return 0;
		}
		others_seen(m, others);
		if (others > 0 && !said++)
			log_info("%s: %ld of %ld slot%s in use by other "
			    "clients: waiting", m->uri_text, others,
			    m->max_jobs, m->max_jobs == 1 ? "" : "s");
		if (clock_ms() >= deadline) {
			log_errx("%s: no slot on the builder after %ld s (%ld "
			    "of %ld held by other clients)", m->uri_text,
			    timeout, others, m->max_jobs);
			return -1;
		}
		(void)poll(NULL, 0, pause);
		if ((pause *= 2) > LEASE_POLL_MAX_MS)
			pause = LEASE_POLL_MAX_MS;
	}
}

/* Ask for a slot without waiting: lease_take reads the answer. */
void
lease_ask(struct lease *l, const struct machine *m)
{
	char	 cmd[64];

	if (!l->up || l->slot != -1 || l->asked)
		return;
	snprintf(cmd, sizeof(cmd), "take %ld\n", m->max_jobs);
	l->asked = send_line(l, cmd) == 0;
}

/* Let the slot go (no answer to wait for). */
void
lease_drop(struct lease *l)
{
	char	 cmd[64];

	if (!l->up || l->slot == -1)
		return;
	snprintf(cmd, sizeof(cmd), "drop %ld\n", l->slot);
	(void)send_line(l, cmd);
	l->slot = -1;
}

/* Done: the broker lets every slot we hold go. */
void
lease_close(struct lease *l)
{
	lease_end(l);
}

/*
 * Slots of m's builder in use, from one answer of a new session: by other
 * clients (*others) and all.  Returns 0, or -1 when it takes no leases.
 */
int
lease_list(const struct machine *m, long *others)
{
	struct lease	 l;
	char		 line[256];
	long		 mine;
	int		 rc = -1;

	if (lease_open(&l, m, 0) == -1 || !l.up)
		return -1;
	if (send_line(&l, "list\n") == 0 &&
	    read_line(&l.c, line, sizeof(line)) == 0 &&
	    sscanf(line, "in-use %ld %ld", others, &mine) == 2 &&
	    *others >= 0) {
		others_seen(m, *others);
		rc = 0;
	}
	lease_close(&l);
	return rc;
}

/*
 * The broker: m's lease session, shared by the user's processes here.
 * Each client is sent the session's first line, then its "take", "drop"
 * and "list" lines go to the builder's shell, whose answers come back in
 * order; a client's slots are dropped when it closes.  It beats every
 * LEASE_BEAT_S seconds and leaves when its session ends or no client has
 * been there for LEASE_BROKER_IDLE seconds.  Never returns.
 *
 * It also keeps store sessions warm for processes that open one each (the
 * hook): "session KEY" is answered "session STATE" with the session's
 * three descriptors (one given back before, else one started now, its
 * handshake left to the client: STATE "-"), or "none"; "back KEY STATE"
 * with the descriptors gives one back.  KEY (rundir_key of the URI as
 * written) must be the broker's own: a broker serves a host, and another
 * URI of it may name another store program or other options.  A session
 * serves for LEASE_POOL_AGE seconds from its start, is kept
 * LEASE_POOL_IDLE seconds unused, and one that says anything while kept
 * is dropped: the next process would read it as an answer.  So the
 * builder starts a store program once per run of builds, not once per
 * build, and ssh here once too.
 *
 * KEY may also be the local store's (store_key: the store a nix-store
 * --serve of the broker's would open, and the environment it reads): a
 * local nix-store --serve --write, kept the same way for the hook on Nix
 * 2.29+ without a daemon (its outputs come home without Nix's locks),
 * LEASE_LOCAL_AGE and LEASE_LOCAL_IDLE seconds, as what it was asked it
 * holds alive as temporary roots meanwhile.
 */
struct bclient {
	int		 fd;		/* -1: free */
	unsigned	 gen;		/* which client of fd this is */
	char		 in[LEASE_LINE_MAX];
	size_t		 n;
	long		 slot[LEASE_CLIENT_SLOTS];
	int		 nslot;
	int		 rfd[3];	/* descriptors passed with its line */
	int		 nrfd;
};

struct bsess {
	int		 fd[3];		/* the session's stdin, stdout, stderr */
	int		 local;		/* the local nix-store, not the builder's */
	char		 state[160];	/* as ssh_state, store_state wrote it */
	int64_t		 born;		/* clock_ms: started */
	int64_t		 idle;		/* clock_ms: given back */
};

static struct bsess	 bp[LEASE_POOL];
static int		 bpn;
static const struct machine *bm;
static char		 bkey[17];	/* rundir_key of bm's URI */
static char		 lkey[17];	/* store_key: the local store's */
static int64_t		 bborn[LEASE_CLIENTS][2]; /* of sessions handed out, the
					   builder's and the local store's */

struct bwait {
	int		 who;		/* client index */
	unsigned	 gen;
};

static struct bclient	 bc[LEASE_CLIENTS];
static struct bwait	 bq[LEASE_CLIENTS * 2];
static size_t		 bqn;

static void
bdrop(int to, long slot)
{
	char	 cmd[64];

	snprintf(cmd, sizeof(cmd), "drop %ld\n", slot);
	(void)put(to, cmd, strlen(cmd));
}

/* Descriptors a client passed and no line of it took: closed. */
static void
bfds_close(struct bclient *b)
{
	int	 i;

	for (i = 0; i < b->nrfd; i++)
		close(b->rfd[i]);
	b->nrfd = 0;
}

static void
bclose(int to, struct bclient *b)
{
	int	 i;

	for (i = 0; i < b->nslot; i++)
		bdrop(to, b->slot[i]);
	bfds_close(b);
	close(b->fd);
	b->fd = -1;
	b->nslot = 0;
	b->n = 0;
}

/* Kept session i ends: its descriptors closed, so its ssh ends too. */
static void
bpool_drop(int i)
{
	int	 k;

	for (k = 0; k < 3; k++)
		close(bp[i].fd[k]);
	bp[i] = bp[--bpn];
}

/* ms a kept session serves, from its start */
static int64_t
pool_age(int local)
{
	return (int64_t)(local ? LEASE_LOCAL_AGE : LEASE_POOL_AGE) * 1000;
}

/*
 * Kept sessions that are too old, unused too long, or that said anything
 * (or ended) while kept go; ssh processes of ours that ended are reaped.
 */
static void
bpool_tick(int64_t now)
{
	struct pollfd	 p[2];
	int		 i;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	for (i = 0; i < bpn; ) {
		p[0].fd = bp[i].fd[1];
		p[1].fd = bp[i].fd[2];
		p[0].events = p[1].events = POLLIN;
		if (now - bp[i].born >= pool_age(bp[i].local) ||
		    now - bp[i].idle >= (bp[i].local ? LEASE_LOCAL_IDLE :
		    LEASE_POOL_IDLE) * 1000 || poll(p, 2, 0) != 0)
			bpool_drop(i);
		else
			i++;
	}
}

/*
 * Client who asks for a session (of the builder's store program, or with
 * local, of the local nix-store): a kept one, else one started now.
 */
static int
bsession(int who, int local)
{
	struct bclient	*b = &bc[who];
	struct conn	 c;
	char		 line[LEASE_LINE_MAX];
	int		 fds[3], rc, i;

	bpool_tick(clock_ms());
	/* the one given back last: the warmest */
	for (i = bpn - 1; i >= 0 && bp[i].local != local; i--)
		;
	if (i >= 0) {
		snprintf(line, sizeof(line), "session %s\n", bp[i].state);
		rc = fds_send(b->fd, line, bp[i].fd, 3);
		bborn[who][local] = bp[i].born;
		bpool_drop(i);
		return rc;
	}
	if ((local ? store_spawn(&c, CONN_QUIET) :
	    ssh_start_store(&bm->uri, &c, CONN_QUIET)) == -1)
		return put(b->fd, "none\n", 5);
	fds[0] = c.to;
	fds[1] = c.from;
	fds[2] = c.err;
	rc = fds_send(b->fd, "session -\n", fds, 3);
	bborn[who][local] = clock_ms();
	close(c.to);
	close(c.from);
	close(c.err);
	return rc;	/* its ssh is reaped in bpool_tick */
}

/* Client who gives a session back, its descriptors passed with the line. */
static int
bback(int who, const char *state, int local)
{
	struct bclient	*b = &bc[who];
	int64_t		 now = clock_ms();
	int		 i;

	if (b->nrfd != 3 || strlen(state) >= sizeof(bp[0].state)) {
		bfds_close(b);
		return 0;
	}
	if (bborn[who][local] == 0 ||
	    now - bborn[who][local] >= pool_age(local)) {
		bfds_close(b);		/* served long enough */
		return 0;
	}
	if (bpn == LEASE_POOL)
		bpool_drop(0);
	for (i = 0; i < 3; i++)
		bp[bpn].fd[i] = b->rfd[i];
	b->nrfd = 0;
	strlcpy(bp[bpn].state, state, sizeof(bp[bpn].state));
	bp[bpn].local = local;
	bp[bpn].born = bborn[who][local];
	bp[bpn].idle = now;
	bpn++;
	bborn[who][local] = 0;
	return 0;
}

/* A client's line: forwarded, or (a drop of a slot not its) not. */
static int
bline(int to, int who, char *line)
{
	struct bclient	*b = &bc[who];
	char		 cmd[64];
	long		 v;
	int		 i;

	if (sscanf(line, "take %ld", &v) == 1 && v > 0 && v <= 100000) {
		if (bqn == sizeof(bq) / sizeof(bq[0]))
			return -1;
		snprintf(cmd, sizeof(cmd), "take %ld\n", v);
	} else if (strcmp(line, "list") == 0) {
		if (bqn == sizeof(bq) / sizeof(bq[0]))
			return -1;
		strlcpy(cmd, "list\n", sizeof(cmd));
	} else if (strncmp(line, "session ", 8) == 0)
		return strcmp(line + 8, bkey) == 0 ? bsession(who, 0) :
		    lkey[0] != '\0' && strcmp(line + 8, lkey) == 0 ?
		    bsession(who, 1) :
		    put(b->fd, "none\n", 5);
	else if (strncmp(line, "back ", 5) == 0) {
		if ((strncmp(line + 5, bkey, 16) != 0 && (lkey[0] == '\0' ||
		    strncmp(line + 5, lkey, 16) != 0)) || line[21] != ' ') {
			bfds_close(b);
			return 0;
		}
		return bback(who, line + 22, strncmp(line + 5, lkey, 16) == 0);
	}
	else if (sscanf(line, "drop %ld", &v) == 1) {
		for (i = 0; i < b->nslot && b->slot[i] != v; i++)
			;
		if (i == b->nslot)
			return 0;
		b->slot[i] = b->slot[--b->nslot];
		bdrop(to, v);
		return 0;
	} else
		return -1;
	bq[bqn].who = who;
	bq[bqn++].gen = b->gen;
	return put(to, cmd, strlen(cmd));
}

/* The builder's answer, to the client that asked (if it is still here). */
static void
banswer(int to, const char *line)
{
	struct bwait	 w;
	struct bclient	*b;
	long		 slot, k;
	char		 out[LEASE_LINE_MAX + 1];

	if (bqn == 0)
		return;
	w = bq[0];
	memmove(bq, bq + 1, --bqn * sizeof(bq[0]));
	b = &bc[w.who];
	if (sscanf(line, "ok %ld %ld", &slot, &k) == 2) {
		if (b->fd == -1 || b->gen != w.gen ||
		    b->nslot == LEASE_CLIENT_SLOTS) {
			bdrop(to, slot);	/* it left meanwhile */
			if (b->fd == -1 || b->gen != w.gen)
				return;
		} else
			b->slot[b->nslot++] = slot;
	}
	if (b->fd == -1 || b->gen != w.gen)
		return;
	snprintf(out, sizeof(out), "%s\n", line);
	if (put(b->fd, out, strlen(out)) == -1)
		bclose(to, b);
}

static void
broker(const struct machine *m, int ls, int lock)
{
	struct pollfd	 p[LEASE_CLIENTS + 3];
	struct args	 w = { NULL, 0, 0 };
	struct conn	 c;
	char		 id[17], sess[32], greet[LEASE_LINE_MAX];
	char		 rb[LEASE_LINE_MAX], buf[LEASE_LINE_MAX + 2], *e;
	size_t		 rn = 0, np;
	int64_t		 now, beat, idle;
	long		 fd, max = sysconf(_SC_OPEN_MAX);
	int		 i, k, nfd, up = 0, devnull;
	ssize_t		 r;
	unsigned	 gen = 0;

	/* hold nothing of the process that started us, nor live by it,
	 * nor pass for it */
	wire_lifeline(-1);
	bm = m;
	rundir_key(m->uri_text, bkey);
	snprintf(greet, sizeof(greet), "nix-offload: lease broker for %s",
	    m->uri_text);
	title_set(greet);
	(void)unsetenv("NIX_HELD_LOCKS");	/* the hook's, of its outputs */
	(void)store_key(lkey);		/* the local store it would start */
	if (max < 0 || max > LEASE_FD_SCAN)
		max = LEASE_FD_SCAN;
	for (fd = 3; fd < max; fd++)
		if (fd != ls && fd != lock && fd != rundir_fd())
			(void)close((int)fd);
	if ((devnull = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(devnull, 0);
		(void)dup2(devnull, 1);
		(void)dup2(devnull, 2);
		if (devnull > 2)
			close(devnull);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	for (i = 0; i < LEASE_CLIENTS; i++)
		bc[i].fd = -1;
	strlcpy(greet, "no session", sizeof(greet));
	snprintf(sess, sizeof(sess), "%ld", (long)getpid());
	wire_init(&c, -1, -1, -1, m->uri.display);
	if (client_id(id, sizeof(id)) == 0 &&
	    !(args_add(&w, "sh") | args_add(&w, "-c") |
	    args_add(&w, "%s", lease_script) |
	    args_add(&w, "nix-offload-lease") | args_add(&w, "%s", id) |
	    args_add(&w, "%s", sess)) &&
	    ssh_open(&m->uri, w.list, &c, CONN_QUIET) == 0) {
		if (read_line(&c, greet, sizeof(greet)) == -1) {
			strlcpy(greet, "no answer from its shell: ",
			    sizeof(greet));
			strlcat(greet, c.why, sizeof(greet));
		}
		up = strcmp(greet, "nix-offload-lease 1") == 0;
	} else if (c.f.kind != FAIL_NONE) {
		strlcpy(greet, "no ", sizeof(greet));
		strlcat(greet, c.f.msg, sizeof(greet));
	}
	args_free(&w);
	now = clock_ms();
	beat = now + LEASE_BEAT_S * 1000;
	idle = now;
	for (;;) {
		nfd = 0;
		p[nfd].fd = ls;
		p[nfd++].events = POLLIN;
		p[nfd].fd = up ? c.from : -1;
		p[nfd++].events = POLLIN;
		p[nfd].fd = up ? c.err : -1;
		p[nfd++].events = POLLIN;
		for (i = 0; i < LEASE_CLIENTS; i++) {
			p[nfd].fd = bc[i].fd;
			p[nfd++].events = POLLIN;
		}
		now = clock_ms();
		k = 0;
		for (i = 0; i < LEASE_CLIENTS; i++)
			k += bc[i].fd != -1;
		if (k > 0 || bqn > 0)
			idle = now;
		else if (now - idle >= LEASE_BROKER_IDLE * 1000)
			break;
		if (poll(p, (nfds_t)nfd, 1000) == -1 && errno != EINTR)
			break;
		now = clock_ms();
		bpool_tick(now);
		if (up && now >= beat) {
			if (put(c.to, "beat\n", 5) == -1)
				break;
			beat = now + LEASE_BEAT_S * 1000;
		}
		if (p[2].revents != 0)
			wire_drain_stderr(&c);
		/* the builder's answers, a line each */
		if (p[1].revents != 0) {
			r = read(c.from, rb + rn, sizeof(rb) - 1 - rn);
			if (r <= 0 && (r == 0 || errno != EINTR))
				break;	/* the session ended: so do we */
			rn += (size_t)(r > 0 ? r : 0);
			while ((e = memchr(rb, '\n', rn)) != NULL) {
				*e = '\0';
				banswer(c.to, rb);
				np = (size_t)(e + 1 - rb);
				memmove(rb, e + 1, rn - np);
				rn -= np;
			}
			if (rn == sizeof(rb) - 1)
				break;	/* not our shell's line */
		}
		/* new clients: the first line, the builder's */
		if (p[0].revents & POLLIN) {
			int nc = accept(ls, NULL, NULL);
			for (i = 0; nc != -1 && i < LEASE_CLIENTS &&
			    bc[i].fd != -1; i++)
				;
			if (nc != -1 && i == LEASE_CLIENTS)
				close(nc);
			else if (nc != -1) {
				(void)fcntl(nc, F_SETFD, FD_CLOEXEC);
				bc[i].fd = nc;
				bc[i].gen = ++gen;
				bc[i].n = 0;
				bc[i].nslot = 0;
				bc[i].nrfd = 0;
				bborn[i][0] = bborn[i][1] = 0;
				snprintf(buf, sizeof(buf), "%s\n", greet);
				if (put(nc, buf, strlen(buf)) == -1 || !up)
					bclose(c.to, &bc[i]);
			}
		}
		for (i = 0; i < LEASE_CLIENTS; i++) {
			struct bclient *b = &bc[i];
			if (b->fd == -1 || p[3 + i].revents == 0 ||
			    p[3 + i].fd != b->fd)
				continue;
			r = fds_recv(b->fd, b->in + b->n, sizeof(b->in) - b->n,
			    b->rfd, &b->nrfd);
			if (r <= 0) {
				if (r == -1 && errno == EINTR)
					continue;
				bclose(c.to, b);	/* it left */
				continue;
			}
			b->n += (size_t)r;
			while (b->fd != -1 &&
			    (e = memchr(b->in, '\n', b->n)) != NULL) {
				*e = '\0';
				if (bline(c.to, i, b->in) == -1) {
					bclose(c.to, b);
					break;
				}
				np = (size_t)(e + 1 - b->in);
				memmove(b->in, e + 1, b->n - np);
				b->n -= np;
			}
			if (b->fd != -1 && b->n == sizeof(b->in) - 1)
				bclose(c.to, b);
		}
	}
	/* gone before our lock: a client then starts another */
	{
		char name[64 + RUNDIR_NAME_MAX];
		int dfd = rundir_dirfd("");
		ssh_master_file(&m->uri, "lease", name, sizeof(name), NULL, 0);
		if (dfd != -1)
			(void)unlinkat(dfd, name, 0);
	}
	close(ls);
	while (bpn > 0)
		bpool_drop(bpn - 1);
	for (i = 0; i < LEASE_CLIENTS; i++)
		if (bc[i].fd != -1)
			close(bc[i].fd);
	if (c.to != -1)
		close(c.to);	/* the shell lets every slot go */
	_exit(0);
}
