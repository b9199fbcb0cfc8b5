/*
 * Picking a builder, as Nix does and then some: the system must be one of
 * the builder's, every required feature supported or mandatory there, and
 * every mandatory feature required; among those that fit, the one with the
 * least load per unit of speed wins.
 *
 * Slots: builder b has max-jobs slots, each a lock file in
 * <runtime dir>/slots.  A slot is held with a POSIX record lock on its
 * file, so every nix-offload process of this user counts the same slots,
 * and the kernel releases a dead process's slots.  Record locks are
 * per-process (F_GETLK does not see our own), so our own slots are also
 * counted in memory.  The lock covers two bytes: the process that takes
 * a slot holds one, the worker that builds in it the other (take_slot).
 * No wait for a slot is without a bound (sched_wait).
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "extern.h"

#define SCHED_WAIT_MS	20	/* between tries for a slot, at first */
#define SCHED_WAIT_MAX_MS 250	/* ... and at most */
#define SLOT_LOCK_LEN	2	/* bytes: the taker's and the worker's */
#define SCHED_SEEN_MAX	4096	/* slots and waiters status shows */

/*
 * Can builder m take a derivation for system with the required features?
 * If not, why says so (for the explanation when nothing fits).
 */
int
sched_fits(const struct machine *m, const char *system,
    const struct strlist *features, char *why, size_t sz)
{
	size_t	 i;

	if (!m->usable) {
		snprintf(why, sz, "%s", m->unusable_why ? m->unusable_why :
		    "not usable by nix-offload");
		return 0;
	}
	if (!strlist_has(&m->systems, system)) {
		char	 list[128] = "";
		for (i = 0; i < m->systems.n; i++) {
			if (i > 0)
				strlcat(list, ",", sizeof(list));
			strlcat(list, m->systems.v[i], sizeof(list));
		}
		snprintf(why, sz, "system %s is not one of its systems (%s)",
		    system, list);
		return 0;
	}
	for (i = 0; i < features->n; i++)
		if (!strlist_has(&m->supported, features->v[i]) &&
		    !strlist_has(&m->mandatory, features->v[i])) {
			snprintf(why, sz, "it does not support the required "
			    "feature %s", features->v[i]);
			return 0;
		}
	for (i = 0; i < m->mandatory.n; i++)
		if (!strlist_has(features, m->mandatory.v[i])) {
			snprintf(why, sz, "it only takes derivations that "
			    "require %s (a mandatory feature)",
			    m->mandatory.v[i]);
			return 0;
		}
	return 1;
}

/* The name of slot i of m in the runtime directory's "slots". */
static void
slot_name(const struct machine *m, long i, char *name, size_t sz)
{
	char	 key[17];

	rundir_key(m->uri_text, key);
	snprintf(name, sz, "%s.%ld", key, i);
}

/*
 * Who holds slot i of m, if another process does: its pid, else 0.
 * Not for our own slots: closing a descriptor of a slot file would drop
 * the locks we hold on it.
 */
static pid_t
holder(const struct machine *m, long i)
{
	char	 name[64];
	pid_t	 pid = 0;
	int	 fd;

	slot_name(m, i, name, sizeof(name));
	if ((fd = rundir_open("slots", name, O_RDWR, 0)) == -1)
		return 0;
	if (rundir_lock(fd, F_GETLK, F_WRLCK, 0, SLOT_LOCK_LEN, &pid) == -1)
		pid = 0;
	close(fd);
	return pid;
}

/* Slots of m in use, by us (mine[]) and by other processes. */
int
sched_load(const struct machine *m, const int *mine)
{
	long	 i;
	int	 n = 0;

	for (i = 0; i < m->max_jobs; i++)
		if ((mine != NULL && mine[i]) || holder(m, i) != 0)
			n++;
	return n;
}

/*
 * Try to take a free slot of m.  Returns the slot's lock descriptor and
 * sets *index, or -1 if all are taken.
 *
 * A slot is taken by locking both bytes of its file at once; the taker
 * then lets byte 1 go, for the worker that will use the slot to lock it
 * (sched_adopt): the slot stays held while either process lives, so a
 * worker whose parent was killed still counts, and nobody can take the
 * slot between the two (taking needs both bytes).
 */
static int
take_slot(const struct machine *m, const int *mine, long *index)
{
	static int	 said;
	char		 name[64];
	long		 i;
	int		 fd;

	/* other clients' slots on the builder, as last seen, are not ours */
	for (i = 0; i < m->max_jobs - lease_others(m); i++) {
		if (mine != NULL && mine[i])
			continue;
		slot_name(m, i, name, sizeof(name));
		if ((fd = rundir_open("slots", name, O_RDWR | O_CREAT,
		    0600)) == -1) {
			/* a link, say: never followed, said once */
			if (!said++)
				log_err("%s/slots/%s", rundir_path(), name);
			continue;
		}
		if (rundir_lock(fd, F_SETLK, F_WRLCK, 0, SLOT_LOCK_LEN, NULL) == 0) {
			(void)rundir_lock(fd, F_SETLK, F_UNLCK, 1, 1, NULL);
			/* the last holder's note is not ours */
			act_slot(fd, m->uri_text, "connecting", NULL, clock_wall());
			*index = i;
			return fd;
		}
		close(fd);
	}
	return -1;
}

/*
 * In the process that works a slot (a fork of the one that took it, which
 * keeps its own lock): hold the slot as well, so that it stays taken
 * while this process lives, whatever happens to the taker.  Returns 0,
 * or -1 when the slot's descriptor is not usable.
 */
int
sched_adopt(const struct slot *slot)
{
	return slot->fd == -1 ? -1 :
	    rundir_lock(slot->fd, F_SETLK, F_WRLCK, 1, 1, NULL);
}

void
sched_init(struct sched *s, const struct machines *ms)
{
	size_t	 i;

	memset(s, 0, sizeof(*s));
	s->ms = ms;
	s->waitfd = -1;
	if (clock_env_number("NIX_OFFLOAD_SLOT_TIMEOUT", SCHED_SLOT_TIMEOUT, 1,
	    604800, &s->slot_timeout) == -1)
		s->slot_timeout = SCHED_SLOT_TIMEOUT;
	s->mine = calloc(ms->n ? ms->n : 1, sizeof(*s->mine));
	for (i = 0; s->mine != NULL && i < ms->n; i++)
		s->mine[i] = calloc((size_t)ms->v[i].max_jobs, sizeof(int));
}

void
sched_free(struct sched *s)
{
	size_t	 i;

	for (i = 0; s->mine != NULL && i < s->ms->n; i++)
		free(s->mine[i]);
	free(s->mine);
	memset(s, 0, sizeof(*s));
}

/*
 * Slots of m in use by others: the daemon's hook here (for an ordinary
 * user), other client machines (as the builder said).  The builder's
 * count takes in the hook's too when both log in as one user: the larger
 * of the two, not their sum.
 */
static int
elsewhere(const struct machine *m)
{
	int	 hook = pub_load(m);
	long	 others = lease_others(m);

	return others > hook ? (int)others : hook;
}

/*
 * What builder i is for a derivation of system with features, now: it
 * does not fit, is skipped (skip[i], the caller's), is down (backing off
 * after failures, see health.c), has a free slot, or is full.
 */
void
sched_judge(struct sched *s, size_t i, const char *system,
    const struct strlist *features, const char *skip, struct judgement *j)
{
	const struct machine	*m = &s->ms->v[i];

	memset(j, 0, sizeof(*j));
	if (!sched_fits(m, system, features, j->why, sizeof(j->why))) {
		j->v = V_NOFIT;
		return;
	}
	if (skip != NULL && skip[i]) {
		j->v = V_SKIP;
		return;
	}
	if (health_get(m, &j->failures, &j->until, j->why,
	    sizeof(j->why)) == 0 &&
	    (j->down_for = (long)(j->until - (long long)time(NULL))) > 0)
		j->v = V_DOWN;
	else
		j->down_for = 0;
	/* and, for an ordinary user, the slots of the daemon's hook */
	j->load = sched_load(m, s->mine != NULL ? s->mine[i] : NULL) +
	    elsewhere(m);
	j->score = (j->load + 1) / m->speed_factor;
	if (j->v != V_DOWN)
		j->v = j->load < m->max_jobs ? V_FREE : V_FULL;
	if (j->v == V_FULL) {
		j->waiters = sched_waiters(m, NULL, 0);
		j->qscore = (j->load + j->waiters + 1) / m->speed_factor;
	}
}

/*
 * What j says of builder m, in words, into buf: why it does not fit, how
 * long it is down and why, or how busy it is.
 */
void
sched_say(const struct machine *m, const struct judgement *j, char *buf,
    size_t sz)
{
	char	 at[32];
	long	 others;

	switch (j->v) {
	case V_NOFIT:
		snprintf(buf, sz, "%s", j->why);
		break;
	case V_SKIP:
		snprintf(buf, sz, "failed during this run");
		break;
	case V_DOWN:
		clock_text(j->until, at, sizeof(at));
		snprintf(buf, sz, "down until %s (%ld s more) after %ld "
		    "failure%s in a row: %s", at, j->down_for, j->failures,
		    j->failures == 1 ? "" : "s", j->why);
		break;
	case V_FULL:
		snprintf(buf, sz, "fits, but all %ld slot%s in use", m->max_jobs,
		    m->max_jobs == 1 ? " is" : "s are");
		break;
	case V_FREE:
		snprintf(buf, sz, "fits, %ld of %ld slot%s free",
		    m->max_jobs - j->load, m->max_jobs,
		    m->max_jobs == 1 ? "" : "s");
		break;
	}
	if ((j->v == V_FULL || j->v == V_FREE) && (others = lease_others(m)) > 0)
		snprintf(buf + strlen(buf), sz - strlen(buf), " (%ld in use by "
		    "other clients)", others);
}

/*
 * The plan for a derivation of system with features, now: each builder's
 * verdict (sched_judge) and the pick, without side effects.  skip[i] (skip
 * may be NULL) leaves builder i out: the caller's, lost or unwanted; with
 * SCHED_TRY_DOWN in flags a builder that is down counts as up.  The pick:
 * the free builder of least load per unit of speed (PLAN_NOW); else, all
 * busy, the shortest queue, slots in use and waiters per unit of speed
 * (PLAN_QUEUE); else, all that fit down, the least loaded of them
 * (PLAN_RETRY: `build` tries it once more, the hook does not); else none.
 * The local machine (local.c) comes after the builders in each step, as
 * Nix asks its hook first, but before them with SCHED_LOCAL_FIRST (a
 * derivation that prefers a local build).  Returns 0, or -1 (reported) when there is no memory; sched_plan_free
 * frees p.
 */
int
sched_plan(struct sched *s, const char *system, const struct strlist *features,
    const char *skip, int flags, struct plan *p)
{
	static const enum verdict order[] = { V_FREE, V_FULL, V_DOWN };
	static const enum plan_how how[] = { PLAN_NOW, PLAN_QUEUE, PLAN_RETRY };
	struct judgement	*j;
	size_t			 i, k;
	double			 best = 0, score;
	int			 pass, local_pass = flags & SCHED_LOCAL_FIRST ?
				    0 : 1;

	memset(p, 0, sizeof(*p));
	p->pick = -1;
	p->n = s->ms->n;
	if ((p->j = calloc(p->n ? p->n : 1, sizeof(*p->j))) == NULL) {
		log_err("sched");
		return -1;
	}
	for (i = 0; i < p->n; i++) {
		j = &p->j[i];
		sched_judge(s, i, system, features, skip, j);
		if (j->v != V_NOFIT)
			p->fits = 1;
		if (j->v == V_DOWN && (flags & SCHED_TRY_DOWN)) {
			j->v = j->load < s->ms->v[i].max_jobs ? V_FREE : V_FULL;
			j->qscore = j->score;
		}
	}
	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		for (pass = 0; pass < 2 && p->pick == -1; pass++)
			for (i = 0; i < p->n; i++) {
				if (p->j[i].v != order[k] ||
				    (pass == local_pass) != s->ms->v[i].local)
					continue;
				score = order[k] == V_FULL ?
				    p->j[i].qscore : p->j[i].score;
				if (p->pick == -1 || score < best) {
					p->pick = (long)i;
					best = score;
				}
			}
		if (p->pick != -1) {
			p->how = how[k];
			break;
		}
	}
	return 0;
}

void
sched_plan_free(struct plan *p)
{
	free(p->j);
	p->j = NULL;
}

/*
 * What builder i of p is, for a person, into buf: "URI (SOURCE): WHY", and
 * for a builder that is down, how to try it now.
 */
void
sched_plan_line(const struct sched *s, const struct plan *p, size_t i,
    char *buf, size_t sz)
{
	const struct machine	*m = &s->ms->v[i];
	char			 r[SCHED_WHY_MAX + 64];

	sched_say(m, &p->j[i], r, sizeof(r));
	snprintf(buf, sz, "%s (%s): %s%s%s%s", m->uri_text, m->source, r,
	    p->j[i].v == V_DOWN ? "; `nix-offload enable " : "",
	    p->j[i].v == V_DOWN ? m->uri_text : "",
	    p->j[i].v == V_DOWN ? "` tries it now" : "");
}

/*
 * Pick a builder for a derivation (sched_plan) and take one of its slots.
 * Returns 1 with *slot filled, 0 when builders fit but all their slots
 * are taken, -2 when the builders that fit are all skipped or down, or -1
 * when none fits: then why (if not NULL) tells, builder by builder, a
 * line "\n  URI (SOURCE): WHY" for each that does not fit or is down.
 */
int
sched_pick(struct sched *s, const char *system, const struct strlist *features,
    const char *skip, int flags, struct slot *slot, char *why, size_t whysz)
{
	struct plan	 p;
	char		 line[SCHED_WHY_MAX + 64 + 2 * URI_MAX];
	size_t		 i;
	int		 rc;

	if (why != NULL)
		why[0] = '\0';
	if (s->mine == NULL || rundir_dirfd("slots") == -1 ||
	    sched_plan(s, system, features, skip, flags, &p) == -1)
		return -1;
	for (i = 0; why != NULL && i < p.n; i++)
		if (p.j[i].v == V_NOFIT || p.j[i].v == V_DOWN) {
			sched_plan_line(s, &p, i, line, sizeof(line));
			strlcat(why, "\n  ", whysz);
			strlcat(why, line, whysz);
		}
	if (!p.fits)
		rc = -1;
	else if (p.how == PLAN_QUEUE)
		rc = 0;
	else if (p.how != PLAN_NOW)
		rc = -2;	/* all that fit are down */
	else {
		slot->machine = (size_t)p.pick;
		if ((slot->fd = take_slot(&s->ms->v[p.pick], s->mine[p.pick],
		    &slot->index)) == -1)
			rc = 0;	/* lost a race with another process */
		else {
			s->mine[p.pick][slot->index] = 1;
			log_debug(1, "%s: slot %ld of %ld (load %.2f per unit "
			    "of speed)", s->ms->v[p.pick].uri_text,
			    slot->index + 1, s->ms->v[p.pick].max_jobs,
			    p.j[p.pick].score);
			rc = 1;
		}
	}
	sched_plan_free(&p);
	return rc;
}

/*
 * Waiting for a slot of m: each waiting process holds a lock on a file
 * "<slot name>.w<pid>" of its own, so that every process can count the
 * queue, and a dead waiter's file is seen as stale and removed.  Returns
 * how many wait; the first max of their pids go into pids.
 */
int
sched_waiters(const struct machine *m, pid_t *pids, int max)
{
	char		 key[17];
	DIR		*d;
	struct dirent	*e;
	size_t		 kl;
	int		 n = 0, fd, dfd;
	pid_t		 pid;

	rundir_key(m->uri_text, key);
	kl = strlen(key);
	if ((dfd = rundir_dirfd("slots")) == -1 || (dfd = dup(dfd)) == -1)
		return 0;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return 0;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, key, kl) != 0 ||
		    strncmp(e->d_name + kl, ".w", 2) != 0)
			continue;
		if ((fd = rundir_open("slots", e->d_name, O_RDWR, 0)) == -1)
			continue;
		if (rundir_lock(fd, F_GETLK, F_WRLCK, 0, 0, &pid) == 0 &&
		    pid != 0) {
			if (n < max)
				pids[n] = pid;
			n++;
		}
		else if (rundir_lock(fd, F_SETLK, F_WRLCK, 0, 0, NULL) == 0)
			(void)rundir_unlink("slots", e->d_name, 0); /* gone */
		close(fd);
	}
	closedir(d);
	return n;
}

/*
 * All fitting builders are busy: join the shortest queue, as sched_plan
 * picks it (skipping as sched_pick does).  Returns 0 with slot->machine
 * set and the wait registered (finish it with sched_wait), or -1.
 */
int
sched_queue(struct sched *s, const char *system,
    const struct strlist *features, const char *skip, struct slot *slot)
{
	struct plan	 p;
	size_t		 best;
	int		 fd, up;
	char		 key[17];

	if (rundir_dirfd("slots") == -1 ||
	    sched_plan(s, system, features, skip, 0, &p) == -1)
		return -1;
	best = (size_t)p.pick;
	up = p.how == PLAN_NOW || p.how == PLAN_QUEUE;
	sched_plan_free(&p);
	if (!up)
		return -1;
	rundir_key(s->ms->v[best].uri_text, key);
	snprintf(s->waitname, sizeof(s->waitname), "%s.w%ld", key,
	    (long)getpid());
	(void)rundir_unlink("slots", s->waitname, 0);
	if ((fd = rundir_open("slots", s->waitname, O_RDWR | O_CREAT | O_EXCL,
	    0600)) == -1) {
		log_err("%s/slots/%s", rundir_path(), s->waitname);
		return -1;
	}
	if (rundir_lock(fd, F_SETLK, F_WRLCK, 0, 0, NULL) == -1) {
		log_err("%s/slots/%s", rundir_path(), s->waitname);
		close(fd);
		return -1;
	}
	slot->machine = best;
	slot->index = -1;
	slot->fd = -1;
	s->waitfd = fd;
	return 0;
}

/*
 * Wait for whichever slot of slot->machine frees first, for at most
 * timeout seconds: by trying them all, more slowly as the wait grows
 * (a lock wait in the kernel would wait on one slot only, and for ever).
 * Returns 0 with the slot taken, or -1 (reported, with who holds the
 * slots) when the time is up.
 */
int
sched_wait(struct sched *s, struct slot *slot, long timeout)
{
	const struct machine	*m = &s->ms->v[slot->machine];
	int64_t			 deadline = clock_ms() + (int64_t)timeout * 1000;
	int			 pause = SCHED_WAIT_MS, rc = 0;

	while ((slot->fd = take_slot(m, s->mine[slot->machine],
	    &slot->index)) == -1) {
		if (clock_ms() >= deadline) {
			char	 who[256] = "", one[32];
			long	 i;
			pid_t	 pid;

			for (i = 0; i < m->max_jobs; i++)
				if (!s->mine[slot->machine][i] &&
				    (pid = holder(m, i)) != 0) {
					snprintf(one, sizeof(one), "%s%ld",
					    who[0] ? ", " : "", (long)pid);
					strlcat(who, one, sizeof(who));
				}
			log_errx("%s: no slot came free in %ld s (held by "
			    "process%s %s; NIX_OFFLOAD_SLOT_TIMEOUT)",
			    m->uri_text, timeout, strchr(who, ',') ? "es" : "",
			    who[0] ? who : "of this process");
			rc = -1;
			break;
		}
		poll(NULL, 0, pause);
		if (pause < SCHED_WAIT_MAX_MS)
			pause += pause / 4 + 1;
	}
	if (rc == 0)
		s->mine[slot->machine][slot->index] = 1;
	if (s->waitfd != -1) {
		(void)rundir_unlink("slots", s->waitname, 0);
		close(s->waitfd);
		s->waitfd = -1;
	}
	return rc;
}

void
sched_release(struct sched *s, struct slot *slot)
{
	if (slot->fd == -1)
		return;
	close(slot->fd);	/* releases the record lock */
	s->mine[slot->machine][slot->index] = 0;
	slot->fd = -1;
}

/* By builder, then slots in order, then waiters. */
static int
seen_order(const void *a, const void *b)
{
	const struct slot_seen	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	if ((x->index < 0) != (y->index < 0))
		return x->index < 0 ? 1 : -1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/*
 * Every slot file of the runtime directory that a process holds, and
 * every live waiter, as seen now, into *v (to free), *n of them: what
 * `status` shows.  Returns 0, or -1 (reported).
 */
int
sched_seen(struct slot_seen **v, size_t *n)
{
	struct slot_seen	*s;
	struct dirent		*e;
	DIR			*d;
	char			 buf[ACT_NOTE_LEN], *dot, *end;
	const char		*why;
	ssize_t			 len;
	size_t			 cap = 0;
	int			 dfd, fd, rc = -1;
	pid_t			 pid;

	*v = NULL;
	*n = 0;
	if ((dfd = rundir_dirfd("slots")) == -1 || (dfd = dup(dfd)) == -1)
		return -1;
	if ((d = fdopendir(dfd)) == NULL) {
		log_err("%s/slots", rundir_path());
		close(dfd);
		return -1;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		long	 index;

		len = 0;
		why = "";
		/* KEY.N, a slot, or KEY.wPID, a waiter: KEY is 16 hex digits */
		if (strlen(e->d_name) < 18 || e->d_name[16] != '.' ||
		    strspn(e->d_name, "0123456789abcdef") != 16)
			continue;
		dot = e->d_name + 16;
		index = strtol(dot + 1 + (dot[1] == 'w'), &end, 10);
		if (*end != '\0' || index < 0 || !isdigit((unsigned char)
		    dot[1 + (dot[1] == 'w')]))
			continue;
		if ((fd = rundir_open("slots", e->d_name, O_RDONLY |
		    O_NONBLOCK, 0)) == -1)
			continue;
		if (rundir_lock(fd, F_GETLK, F_WRLCK, 0, 0, &pid) == -1 ||
		    pid == 0) {
			close(fd);
			continue;
		}
		if (*n == cap) {
			struct slot_seen *nv;
			if (cap == SCHED_SEEN_MAX) {
				close(fd);
				break;
			}
			cap = cap ? cap * 2 : 16;
			if ((nv = reallocarray(*v, cap, sizeof(**v))) == NULL) {
				log_err("status");
				close(fd);
				goto out;
			}
			*v = nv;
		}
		s = &(*v)[(*n)++];
		memset(s, 0, sizeof(*s));
		memcpy(s->key, e->d_name, 16);
		s->index = dot[1] == 'w' ? -1 : index;
		s->pid = dot[1] == 'w' ? (pid_t)index : pid;
		if (s->index != -1 && (len = act_read(fd, buf)) > 0 &&
		    act_slot_parse(buf, (size_t)len, clock_wall(), &s->note,
		    &why) == 0)
			s->noted = 1;
		else if (s->index != -1 && len > 0)
			log_debug(1, "%s/slots/%s: ignoring its note: %s",
			    rundir_path(), e->d_name, why);
		close(fd);
	}
	if (*n > 1)
		qsort(*v, *n, sizeof(**v), seen_order);
	rc = 0;
out:
	closedir(d);
	return rc;
}
