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
 * counted in memory.
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
#define SCHED_WAIT_MS	20	/* between tries for a slot */

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

static int
slot_path(const struct machine *m, long i, char *path, size_t sz)
{
	struct sha256	 h;
	unsigned char	 d[SHA256_LEN];
	char		 hex[2 * SHA256_LEN + 1];

	sha256_init(&h);
	sha256_update(&h, m->uri_text, strlen(m->uri_text));
	sha256_final(&h, d);
	hash_hex(d, 8, hex);
	return (size_t)snprintf(path, sz, "%s/slots/%s.%ld", sshconf.ctldir,
	    hex, i) < sz ? 0 : -1;
}

static int
slots_dir(void)
{
	char	 dir[600];

	if (mkdir(sshconf.ctldir, 0700) == -1 && errno != EEXIST)
		goto fail;
	snprintf(dir, sizeof(dir), "%s/slots", sshconf.ctldir);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		goto fail;
	return 0;
fail:
	log_err("cannot create %s/slots", sshconf.ctldir);
	return -1;
}

/* Is slot i of m held by another process? */
static int
held_elsewhere(const struct machine *m, long i)
{
	char		 path[700];
	struct flock	 fl;
	int		 fd, held;

	if (slot_path(m, i, path, sizeof(path)) == -1 ||
	    (fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	held = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	close(fd);
	return held;
}

/* Slots of m in use, by us (mine[]) and by other processes. */
int
sched_load(const struct machine *m, const int *mine)
{
	long	 i;
	int	 n = 0;

	for (i = 0; i < m->max_jobs; i++)
		if ((mine != NULL && mine[i]) || held_elsewhere(m, i))
			n++;
	return n;
}

/*
 * Try to take a free slot of m.  Returns the slot's lock descriptor and
 * sets *index, or -1 if all are taken.
 */
static int
take_slot(const struct machine *m, const int *mine, long *index)
{
	char		 path[700];
	struct flock	 fl;
	long		 i;
	int		 fd;

	for (i = 0; i < m->max_jobs; i++) {
		if (mine != NULL && mine[i])
			continue;
		if (slot_path(m, i, path, sizeof(path)) == -1 ||
		    (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
			continue;
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_SETLK, &fl) == 0) {
			*index = i;
			return fd;
		}
		close(fd);
	}
	return -1;
}

void
sched_init(struct sched *s, const struct machines *ms)
{
	size_t	 i;

	memset(s, 0, sizeof(*s));
	s->ms = ms;
	s->waitfd = -1;
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
 * Pick a builder for a derivation and take one of its slots.  Returns 1
 * with *slot filled, 0 when builders fit but all their slots are taken,
 * -2 when the builders that fit are all down (skipped, see health.c), or
 * -1 when none fits: then why (if not NULL) tells, builder by builder.
 */
int
sched_pick(struct sched *s, const char *system, const struct strlist *features,
    struct slot *slot, char *why, size_t whysz)
{
	size_t		 i, best = 0;
	double		 bestscore = 0;
	int		 fits = 0, any = 0, up = 0;
	long		 wait;
	char		 r[SCHED_WHY_MAX];

	if (why != NULL)
		why[0] = '\0';
	if (s->mine == NULL || slots_dir() == -1)
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
		if (s->down != NULL && s->down(s->arg, i))
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
	char		 base[700], dir[600], path[1400];
	const char	*name;
	DIR		*d;
	struct dirent	*e;
	struct flock	 fl;
	size_t		 bl;
	int		 n = 0, fd;

	if (slot_path(m, 0, base, sizeof(base)) == -1)
		return 0;
	name = strrchr(base, '/') + 1;
	bl = strlen(name) - 1;		/* "<hash>." */
	snprintf(dir, sizeof(dir), "%s/slots", sshconf.ctldir);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, name, bl) != 0 || e->d_name[bl] != 'w')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
			continue;
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			n++;
		else if (fcntl(fd, F_SETLK, &fl) == 0)
			unlink(path);	/* its waiter is gone */
		close(fd);
	}
	closedir(d);
	return n;
}

/*
 * All fitting builders are busy: join the shortest queue (slots in use
 * plus waiters, per unit of speed).  Returns 0 with slot->machine set and
 * the wait registered (finish it with sched_wait), or -1.
 */
int
sched_queue(struct sched *s, const char *system,
    const struct strlist *features, struct slot *slot)
{
	size_t		 i, best = 0;
	double		 bestscore = 0, score;
	int		 any = 0, fd;
	char		 r[SCHED_WHY_MAX], path[700];
	struct flock	 fl;

	if (slots_dir() == -1)
		return -1;
	for (i = 0; i < s->ms->n; i++) {
		const struct machine *m = &s->ms->v[i];
		if (!sched_fits(m, system, features, r, sizeof(r)) ||
		    (s->down != NULL && s->down(s->arg, i)) ||
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
	if (slot_path(&s->ms->v[best], 0, path, sizeof(path)) == -1)
		return -1;
	snprintf(strrchr(path, '.') + 1, 24, "w%ld", (long)getpid());
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		log_err("%s", path);
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == -1) {
		log_err("%s", path);
		close(fd);
		return -1;
	}
	slot->machine = best;
	slot->index = -1;
	slot->fd = -1;
	s->waitfd = fd;
	snprintf(s->waitpath, sizeof(s->waitpath), "%s", path);
	return 0;
}

/*
 * Wait for a slot of slot->machine: in the kernel, on one of its slot
 * files (picked by pid, so that waiters spread over the slots), not by
 * polling: dozens of hooks may wait at once.
 */
int
sched_wait(struct sched *s, struct slot *slot)
{
	const struct machine	*m = &s->ms->v[slot->machine];
	char			 path[700];
	struct flock		 fl;
	long			 k;
	int			 fd;

	while ((slot->fd = take_slot(m, s->mine[slot->machine],
	    &slot->index)) == -1) {
		k = (long)getpid() % m->max_jobs;
		if (slot_path(m, k, path, sizeof(path)) == -1 ||
		    (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC,
		    0600)) == -1) {
			poll(NULL, 0, SCHED_WAIT_MS);
			continue;
		}
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_SETLKW, &fl) == 0 &&
		    !(s->mine[slot->machine][k])) {
			slot->fd = fd;
			slot->index = k;
			break;
		}
		close(fd);
	}
	s->mine[slot->machine][slot->index] = 1;
	if (s->waitfd != -1) {
		unlink(s->waitpath);
		close(s->waitfd);
		s->waitfd = -1;
	}
	return 0;
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
