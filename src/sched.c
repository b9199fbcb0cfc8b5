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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define SCHED_WHY_MAX	256
#define SCHED_WAIT_MS	20	/* between tries for a slot, at first */
#define SCHED_WAIT_MAX_MS 250	/* ... and at most */
#define SCHED_SLOT_TIMEOUT 43200 /* seconds a queued process waits */
#define SLOT_LOCK_LEN	2	/* bytes: the taker's and the worker's */

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

	for (i = 0; i < m->max_jobs; i++) {
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
	if (env_number("NIX_OFFLOAD_SLOT_TIMEOUT", SCHED_SLOT_TIMEOUT, 1,
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
 * Pick a builder for a derivation and take one of its slots, skipping the
 * builders i with skip[i] set (skip may be NULL): the caller's, lost or
 * unwanted.  Returns 1 with *slot filled, 0 when builders fit but all
 * their slots are taken, -2 when the builders that fit are all skipped or
 * down (see health.c), or -1 when none fits: then why (if not NULL)
 * tells, builder by builder.
 */
int
sched_pick(struct sched *s, const char *system, const struct strlist *features,
    const char *skip, struct slot *slot, char *why, size_t whysz)
{
	size_t		 i, best = 0;
	double		 bestscore = 0;
	int		 fits = 0, any = 0, up = 0;
	long		 wait;
	char		 r[SCHED_WHY_MAX];

	if (why != NULL)
		why[0] = '\0';
	if (s->mine == NULL || rundir_dirfd("slots") == -1)
		return -1;
	for (i = 0; i < s->ms->n; i++) {
		const struct machine	*m = &s->ms->v[i];
		double			 score;
		int			 load;

		if (!sched_fits(m, system, features, r, sizeof(r))) {
			if (why != NULL) {
				char	 line[SCHED_WHY_MAX + 2 * CONF_SRC_MAX];
				snprintf(line, sizeof(line), "\n  %s (%s): %s",
				    m->uri_text, m->source, r);
				strlcat(why, line, whysz);
			}
			continue;
		}
		fits = 1;
		if (skip != NULL && skip[i])
			continue;
		if ((wait = health_backoff(m)) > 0) {
			if (why != NULL) {
				char	 line[SCHED_WHY_MAX + 2 * CONF_SRC_MAX];
				char	 reason[256] = "";
				long	 f;
				long long u;
				health_get(m, &f, &u, reason, sizeof(reason));
				snprintf(line, sizeof(line), "\n  %s (%s): down, "
				    "skipped for %ld s more after %ld failures "
				    "(%s); `nix-offload enable %s` tries it now",
				    m->uri_text, m->source, wait, f, reason,
				    m->uri_text);
				strlcat(why, line, whysz);
			}
			continue;
		}
		up = 1;
		load = sched_load(m, s->mine[i]);
		if (load >= m->max_jobs)
			continue;
		score = (load + 1) / m->speed_factor;
		if (!any || score < bestscore) {
			best = i;
			bestscore = score;
			any = 1;
		}
	}
	if (!fits)
		return -1;
	if (!up)
		return -2;	/* all that fit are down */
	if (!any)
		return 0;
	slot->machine = best;
	if ((slot->fd = take_slot(&s->ms->v[best], s->mine[best],
	    &slot->index)) == -1)
		return 0;	/* lost a race with another process */
	s->mine[best][slot->index] = 1;
	log_debug(1, "%s: slot %ld of %ld (load %.2f per unit of speed)",
	    s->ms->v[best].uri_text, slot->index + 1, s->ms->v[best].max_jobs,
	    bestscore);
	return 1;
}

/*
 * Waiting for a slot of m: each waiting process holds a lock on a file
 * "<slot name>.w<pid>" of its own, so that every process can count the
 * queue, and a dead waiter's file is seen as stale and removed.
 */
static int
waiters(const struct machine *m)
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
		if (rundir_lock(fd, F_GETLK, F_WRLCK, 0, 0, &pid) == 0 && pid != 0)
			n++;
		else if (rundir_lock(fd, F_SETLK, F_WRLCK, 0, 0, NULL) == 0)
			(void)rundir_unlink("slots", e->d_name, 0); /* gone */
		close(fd);
	}
	closedir(d);
	return n;
}

/*
 * All fitting builders are busy: join the shortest queue (slots in use
 * plus waiters, per unit of speed), skipping as sched_pick does.  Returns
 * 0 with slot->machine set and the wait registered (finish it with
 * sched_wait), or -1.
 */
int
sched_queue(struct sched *s, const char *system,
    const struct strlist *features, const char *skip, struct slot *slot)
{
	size_t		 i, best = 0;
	double		 bestscore = 0, score;
	int		 any = 0, fd;
	char		 r[SCHED_WHY_MAX], key[17];

	if (rundir_dirfd("slots") == -1)
		return -1;
	for (i = 0; i < s->ms->n; i++) {
		const struct machine *m = &s->ms->v[i];
		if (!sched_fits(m, system, features, r, sizeof(r)) ||
		    (skip != NULL && skip[i]) ||
		    health_backoff(m) > 0)
			continue;
		score = (sched_load(m, s->mine[i]) + waiters(m) + 1) /
		    m->speed_factor;
		if (!any || score < bestscore) {
			best = i;
			bestscore = score;
			any = 1;
		}
	}
	if (!any)
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
	int64_t			 deadline = now_ms() + (int64_t)timeout * 1000;
	int			 pause = SCHED_WAIT_MS, rc = 0;

	while ((slot->fd = take_slot(m, s->mine[slot->machine],
	    &slot->index)) == -1) {
		if (now_ms() >= deadline) {
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
