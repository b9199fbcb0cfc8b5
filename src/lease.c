/*
 * Slots held on the builder itself, so that clients on several machines
 * share a builder's max-jobs.  A builder runs no daemon of ours: a lease
 * session (a POSIX shell on a second channel of the owned master) holds
 * each slot as a file under ~/.cache/nix-offload/slots there, made
 * exclusively (noclobber: O_EXCL), and removes it when the build ends or
 * its session does.  A client that dies takes its session with it (the shell reads
 * EOF and lets go); one whose link dies stops beating, and its slot is
 * taken back by the next client that finds it LEASE_STALE seconds old.
 * Waiters line up in tickets ("w.EPOCH.ID") so that clients get slots in
 * the order they asked.  A builder where the shell cannot run it (a
 * ForceCommand, no writable home) is said once, and its slots are then
 * counted on this machine only, as before.
 */
#include <sys/types.h>
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

#define LEASE_FD_SCAN	4096	/* descriptors the beater closes */
#define LEASE_POLL_MS	50	/* first pause before asking again */
#define LEASE_POLL_MAX_MS 400	/* ... and the longest */

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

/* Send a line of ours whole (one write: the beater's never cut it). */
static int
send_line(struct lease *l, const char *line)
{
	size_t	 n = strlen(line);

	return write(l->c.to, line, n) == (ssize_t)n ? 0 : -1;
}

/* Are m's slots to be held on the builder? */
static int
lease_shared(const struct machine *m)
{
	const char	*e = getenv("NIX_OFFLOAD_SHARED_SLOTS");

	return !m->local && !m->uri.private_slots &&
	    (e == NULL || strcmp(e, "0") != 0);
}

/* Others' slots on m as last seen, if seen in the last LEASE_FACT_TTL s. */
long
lease_others(const struct machine *m)
{
	char		 buf[64];
	long long	 k, t;

	if (!lease_shared(m) ||
	    ssh_fact_get(&m->uri, "others", buf, sizeof(buf)) == -1 ||
	    sscanf(buf, "%lld %lld", &k, &t) != 2 || k < 0 ||
	    (long long)time(NULL) - t > LEASE_FACT_TTL)
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
	char		 buf[64];
	long long	 k, t;
	long		 others;

	if (!lease_shared(m) || !ssh_master_up(&m->uri))
		return;
	if (ssh_fact_get(&m->uri, "others", buf, sizeof(buf)) == 0 &&
	    sscanf(buf, "%lld %lld", &k, &t) == 2 &&
	    (long long)time(NULL) - t <= LEASE_FACT_TTL)
		return;
	(void)lease_list(m, &others);
}

static void
others_seen(const struct machine *m, long k)
{
	char	 buf[64];

	snprintf(buf, sizeof(buf), "%ld %lld", k, (long long)time(NULL));
	ssh_fact_put(&m->uri, "others", buf);
}

/* The beater goes, and the session with it. */
static void
lease_end(struct lease *l, int kill)
{
	if (l->life != -1) {
		close(l->life);
		l->life = -1;
	}
	if (l->beater > 0) {
		while (waitpid(l->beater, NULL, 0) == -1 && errno == EINTR)
			;
		l->beater = -1;
	}
	if (l->c.pid != -1 || l->c.to != -1) {
		if (kill)
			ssh_kill(&l->c);
		else
			(void)ssh_close(&l->c);
	}
	l->up = 0;
	l->slot = -1;
}

/* The builder takes no leases (why): said once per master, then off. */
static void
lease_off(struct lease *l, const struct machine *m, const char *why)
{
	char	 q[256];

	if (ssh_fact_get(&m->uri, "lease-off", q, sizeof(q)) == -1) {
		log_warnx("%s: cannot hold slots on the builder (%s): its "
		    "slots are counted on this machine only", m->uri_text,
		    text_printable(why, strlen(why), q, sizeof(q)));
		ssh_fact_put(&m->uri, "lease-off", "1");
	}
	lease_end(l, 1);
}

/*
 * The beater: every LEASE_BEAT_S seconds a "beat" line, for as long as
 * the process that forked it lives (its end of life is open).
 */
static void
beater(int to, int life)
{
	struct pollfd	 p = { life, POLLIN, 0 };
	long		 fd, max = sysconf(_SC_OPEN_MAX);

	/* hold nothing else open: another session's EOF must not wait */
	if (max < 0 || max > LEASE_FD_SCAN)
		max = LEASE_FD_SCAN;
	for (fd = 3; fd < max; fd++)
		if (fd != to && fd != life)
			(void)close((int)fd);
	for (;;) {
		if (poll(&p, 1, LEASE_BEAT_S * 1000) != 0)
			_exit(0);	/* the holder is gone, or let go */
		if (write(to, "beat\n", 5) != 5)
			_exit(0);
	}
}

/* An empty lease, holding nothing (lease_close is a no-op on it). */
void
lease_init(struct lease *l)
{
	memset(l, 0, sizeof(*l));
	wire_init(&l->c, -1, -1, -1, "");
	l->slot = -1;
	l->beater = -1;
	l->life = -1;
}

/*
 * Open m's lease session over its master, without waiting for it: with
 * take, its first "take" goes with it (the answer is read by lease_take,
 * so an uncontended slot costs no round trip of its own).  Returns 0;
 * a builder that cannot hold slots is said once (lease_off) when its
 * answer comes, and l is then a no-op.  Never fails the build.
 */
int
lease_open(struct lease *l, const struct machine *m, int take)
{
	struct args	 w = { NULL, 0, 0 };
	char		 id[17], sess[32], line[256];
	int		 life[2];

	lease_init(l);
	if (!lease_shared(m) ||
	    ssh_fact_get(&m->uri, "lease-off", line, sizeof(line)) == 0 ||
	    client_id(id, sizeof(id)) == -1)
		return 0;
	snprintf(sess, sizeof(sess), "%ld", (long)getpid());
	if (args_add(&w, "sh") | args_add(&w, "-c") |
	    args_add(&w, "%s", lease_script) | args_add(&w, "nix-offload-lease") |
	    args_add(&w, "%s", id) | args_add(&w, "%s", sess)) {
		args_free(&w);
		return 0;
	}
	if (ssh_open(&m->uri, w.list, &l->c, CONN_QUIET) == -1) {
		args_free(&w);
		lease_off(l, m, l->c.f.msg);
		return 0;
	}
	args_free(&w);
	if (pipe(life) == -1) {
		lease_off(l, m, strerror(errno));
		return 0;
	}
	(void)fcntl(life[1], F_SETFD, FD_CLOEXEC);
	(void)fcntl(life[0], F_SETFD, FD_CLOEXEC);
	if ((l->beater = fork()) == -1) {
		close(life[0]);
		close(life[1]);
		lease_off(l, m, strerror(errno));
		return 0;
	}
	if (l->beater == 0) {
		close(life[1]);
		beater(l->c.to, life[0]);
	}
	close(life[0]);
	l->life = life[1];
	l->up = 1;
	l->greeted = 0;
	if (take) {
		snprintf(line, sizeof(line), "take %ld\n", m->max_jobs);
		l->asked = send_line(l, line) == 0;
	}
	return 0;
}

/* The session's first line: ours, or why the builder cannot hold slots. */
static int
greeting(struct lease *l, const struct machine *m)
{
	char	 line[256];

	if (l->greeted)
		return 0;
	if (read_line(&l->c, line, sizeof(line)) == -1) {
		lease_off(l, m, "no answer from its shell");
		return -1;
	}
	if (strcmp(line, "nix-offload-lease 1") != 0) {
		lease_off(l, m, strncmp(line, "no ", 3) == 0 ? line + 3 : line);
		return -1;
	}
	l->greeted = 1;
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

	if (!l->up || l->slot != -1 || greeting(l, m) == -1)
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

/* End the session: the builder lets every slot of it go. */
void
lease_close(struct lease *l)
{
	lease_end(l, 0);
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
	if (greeting(&l, m) == 0 && send_line(&l, "list\n") == 0 &&
	    read_line(&l.c, line, sizeof(line)) == 0 &&
	    sscanf(line, "in-use %ld %ld", others, &mine) == 2 &&
	    *others >= 0) {
		others_seen(m, *others);
		rc = 0;
	}
	lease_close(&l);
	return rc;
}
