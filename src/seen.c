/*
 * What runs where, as the runtime directory shows it (sched_seen, the
 * notes of activity.c, the health records, the runs of `build`): one
 * picture, as text or JSON, for `status` and for the summary root keeps
 * for the other users (pub.c).  No builder is contacted.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "extern.h"

#define SEEN_RUNS_MAX		256

/* "12 s", "3 min 4 s", "2 h 5 min": how long since ms (clock_wall). */
static void
ago(int64_t ms, char *buf, size_t sz)
{
	long long	 s = (clock_wall() - ms) / 1000;

	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, sz, "%lld s", s);
	else if (s < 3600)
		snprintf(buf, sz, "%lld min %lld s", s / 60, s % 60);
	else
		snprintf(buf, sz, "%lld h %lld min", s / 3600, s % 3600 / 60);
}

/* One builder, key: the slots and waiters of seen that are its. */
struct shown {
	const char		*uri;
	const struct machine	*m;	/* NULL: not configured here */
	char			 key[17];
};

static void
json_slot(FILE *f, const struct slot_seen *s, int *first)
{
	char	 name[DRV_NAME_MAX];

	fprintf(f, "%s{\"slot\":%ld,\"pid\":%ld,\"state\":", *first ? "" : ",",
	    s->index + 1, (long)(s->noted ? s->note.pid : s->pid));
	*first = 0;
	json_string(f, s->noted ? s->note.state : "unknown");
	if (s->noted && s->note.drv[0] != '\0') {
		if (drv_name(s->note.drv, name, sizeof(name)) == -1)
			strlcpy(name, s->note.drv, sizeof(name));
		fputs(",\"drvPath\":", f);
		json_string(f, s->note.drv);
		fputs(",\"name\":", f);
		json_string(f, name);
	} else
		fputs(",\"drvPath\":null,\"name\":null", f);
	if (s->noted)
		fprintf(f, ",\"since\":%lld,\"stateSince\":%lld",
		    (long long)(s->note.since / 1000),
		    (long long)(s->note.state_since / 1000));
	fputc('}', f);
}

static void
text_slot(FILE *f, const struct slot_seen *s)
{
	char	 name[DRV_NAME_MAX], t[64], at[32], safe[DRV_NAME_MAX * 4];

	if (!s->noted) {
		fprintf(f, "  slot %ld: taken by pid %ld\n", s->index + 1,
		    (long)s->pid);
		return;
	}
	if (s->note.drv[0] == '\0') {
		ago(s->note.state_since, t, sizeof(t));
		fprintf(f, "  slot %ld: %s for %s, pid %ld\n", s->index + 1,
		    s->note.state, t, (long)s->note.pid);
		return;
	}
	if (drv_name(s->note.drv, name, sizeof(name)) == -1)
		strlcpy(name, s->note.drv, sizeof(name));
	ago(s->note.since, t, sizeof(t));
	clock_text(s->note.since / 1000, at, sizeof(at));
	fprintf(f, "  slot %ld: %s %s, for %s (since %s), pid %ld\n",
	    s->index + 1, s->note.state, text_printable(name, strlen(name),
	    safe, sizeof(safe)), t, at, (long)s->note.pid);
}

/* The pids of the processes queued for a slot of builder key, by sep. */
static void
waiting(FILE *f, const char *key, const struct slot_seen *seen, size_t n,
    const char *sep)
{
	size_t	 i;
	int	 first = 1;

	for (i = 0; i < n; i++)
		if (strcmp(seen[i].key, key) == 0 && seen[i].index < 0) {
			fprintf(f, "%s%ld", first ? "" : sep, (long)seen[i].pid);
			first = 0;
		}
}

/* One builder: its slots, its queue, its health. */
static void
builder(FILE *f, int json, const struct shown *b, struct slot_seen *seen,
    size_t nseen, int first)
{
	char		 reason[HEALTH_REASON_MAX], at[32], safe[URI_MAX * 4];
	size_t		 i;
	long		 inuse = 0, nwait = 0, failures, others;
	long long	 until, left = 0;
	int		 down = 0, one = 1;

	for (i = 0; i < nseen; i++)
		if (strcmp(seen[i].key, b->key) == 0) {
			inuse += seen[i].index >= 0;
			nwait += seen[i].index < 0;
		}
	/* and other clients' on the builder, as last seen */
	others = b->m != NULL ? lease_others(b->m) : 0;
	inuse += others;
	if (b->m != NULL && health_get(b->m, &failures, &until, reason,
	    sizeof(reason)) == 0) {
		down = 1;
		left = until - (long long)time(NULL);
	}
	if (json) {
		fprintf(f, "%s{\"uri\":", first ? "" : ",");
		json_string(f, b->uri);
		if (b->m != NULL)
			fprintf(f, ",\"maxJobs\":%ld,\"free\":%ld",
			    b->m->max_jobs, b->m->max_jobs > inuse ?
			    b->m->max_jobs - inuse : 0);
		else
			fputs(",\"maxJobs\":null,\"free\":null", f);
		fprintf(f, ",\"inUse\":%ld,\"byOthers\":%ld,\"slots\":[",
		    inuse, others);
		for (i = 0; i < nseen; i++)
			if (strcmp(seen[i].key, b->key) == 0 &&
			    seen[i].index >= 0)
				json_slot(f, &seen[i], &one);
		fputs("],\"waiting\":[", f);
		waiting(f, b->key, seen, nseen, ",");
		fputs("],\"health\":", f);
		if (down) {
			fprintf(f, "{\"failures\":%ld,\"until\":%lld,"
			    "\"downSeconds\":%lld,\"reason\":", failures, until,
			    left > 0 ? left : 0);
			json_string(f, reason);
			fputc('}', f);
		} else
			fputs("null", f);
		fputc('}', f);
		return;
	}
	fputs(text_printable(b->uri, strlen(b->uri), safe, sizeof(safe)), f);
	if (b->m != NULL && !b->m->usable)
		fprintf(f, ": unusable: %s", b->m->unusable_why);
	else if (b->m != NULL) {
		fprintf(f, ": %ld of %ld slot%s in use", inuse, b->m->max_jobs,
		    b->m->max_jobs == 1 ? "" : "s");
		if (others > 0)
			fprintf(f, ", %ld by other client%s", others,
			    others == 1 ? "" : "s");
	} else
		fprintf(f, ": %ld slot%s in use (not a builder of this "
		    "configuration)", inuse, inuse == 1 ? "" : "s");
	if (nwait > 0) {
		fprintf(f, ", %ld waiting (pid%s ", nwait, nwait == 1 ? "" :
		    "s");
		waiting(f, b->key, seen, nseen, ", ");
		fputc(')', f);
	}
	fputc('\n', f);
	for (i = 0; i < nseen; i++)
		if (strcmp(seen[i].key, b->key) == 0 && seen[i].index >= 0)
			text_slot(f, &seen[i]);
	if (down && left > 0) {
		clock_text(until, at, sizeof(at));
		fprintf(f, "  down until %s (%lld s more) after %ld failure%s "
		    "in a row: %s\n", at, left, failures, failures == 1 ? "" :
		    "s", reason);
	} else if (down)
		fprintf(f, "  failed %ld time%s in a row, to be tried again: "
		    "%s\n", failures, failures == 1 ? "" : "s", reason);
}

/* The runs of `build` that are alive, and their notes. */
struct runs {
	struct act_run	*v;
	size_t		 n, max;
};

static void
run_seen(void *arg, const char *name, int lock)
{
	struct runs	*r = arg;
	char		 buf[ACT_NOTE_LEN];
	const char	*why;
	ssize_t		 len;
	pid_t		 pid;

	if (lock == -1 || r->n == r->max ||
	    rundir_lock(lock, F_GETLK, F_WRLCK, 0, 0, &pid) == -1 ||
	    pid == 0 || (len = act_read(lock, buf)) <= 0)
		return;		/* over, or no note yet */
	if (act_run_parse(buf, (size_t)len, clock_wall(), &r->v[r->n],
	    &why) == 0)
		r->n++;
	else
		log_debug(1, "%s/%s/lock: ignoring its note: %s",
		    rundir_path(), name, why);
}

static void
run_line(FILE *f, int json, const struct act_run *r, int first)
{
	char	 t[64], s[64];

	if (json) {
		fprintf(f, "%s{\"pid\":%ld,\"since\":%lld,\"built\":%zu,"
		    "\"running\":%zu,\"queued\":%zu,\"total\":%zu,"
		    "\"bytes\":%llu,\"slowest\":", first ? "" : ",",
		    (long)r->pid, (long long)(r->since / 1000), r->built,
		    r->running, r->queued, r->total,
		    (unsigned long long)r->bytes);
		if (r->slowest[0] != '\0') {
			fputs("{\"name\":", f);
			json_string(f, r->slowest);
			fprintf(f, ",\"since\":%lld}",
			    (long long)(r->slowest_since / 1000));
		} else
			fputs("null", f);
		fputc('}', f);
		return;
	}
	ago(r->since, t, sizeof(t));
	fprintf(f, "  pid %ld: %zu of %zu built, %zu running, %zu queued, "
	    "%.1f MiB copied, for %s", (long)r->pid, r->built, r->total,
	    r->running, r->queued, r->bytes / 1048576.0, t);
	if (r->slowest[0] != '\0') {
		ago(r->slowest_since, s, sizeof(s));
		fprintf(f, "; longest running: %s, %s", r->slowest, s);
	}
	fputc('\n', f);
}

/*
 * One picture of it all, to f, as text or JSON: every builder of ms (and
 * any other whose slots a process holds) with its slots, queue and
 * backoff, then each `build` run.  Returns 0, or -1 (reported).
 */
int
seen_print(FILE *f, int json, const struct machines *ms)
{
	struct slot_seen	*seen;
	struct shown		 b;
	struct act_run		*rv;
	struct runs		 runs;
	size_t			 nseen, i, j, nruns;
	int			 first = 1;

	if (sched_seen(&seen, &nseen) == -1)
		return -1;
	if ((rv = calloc(SEEN_RUNS_MAX, sizeof(*rv))) == NULL) {
		log_err("status");
		free(seen);
		return -1;
	}
	runs.v = rv;
	runs.n = 0;
	runs.max = SEEN_RUNS_MAX;
	rundir_runs(run_seen, &runs);
	nruns = runs.n;
	if (json)
		fputs("{\"builders\":[", f);
	for (i = 0; i < ms->n; i++) {
		b.uri = ms->v[i].uri_text;
		b.m = &ms->v[i];
		rundir_key(b.uri, b.key);
		builder(f, json, &b, seen, nseen, first);
		first = 0;
	}
	/* slots held for builders not configured here (another --builders) */
	for (i = 0; i < nseen; i++) {
		int	 known = 0;

		for (j = 0; j < ms->n && !known; j++) {
			rundir_key(ms->v[j].uri_text, b.key);
			known = strcmp(b.key, seen[i].key) == 0;
		}
		for (j = 0; j < i && !known; j++)
			known = strcmp(seen[j].key, seen[i].key) == 0;
		if (known)
			continue;
		b.m = NULL;
		b.uri = NULL;
		strlcpy(b.key, seen[i].key, sizeof(b.key));
		for (j = i; j < nseen && b.uri == NULL; j++)
			if (strcmp(seen[j].key, b.key) == 0 && seen[j].noted)
				b.uri = seen[j].note.uri;
		if (b.uri == NULL)
			continue;	/* only waiters: no name to show */
		builder(f, json, &b, seen, nseen, first);
		first = 0;
	}
	if (json)
		fputs("],\"runs\":[", f);
	else if (ms->n == 0 && first)
		fputs("no builders are configured, and no slot is in use\n",
		    f);
	if (!json && nruns > 0)
		fprintf(f, "build run%s:\n", nruns == 1 ? "" : "s");
	for (i = 0; i < nruns; i++)
		run_line(f, json, &rv[i], i == 0);
	if (json)
		fputs("]}\n", f);
	free(rv);
	free(seen);
	return 0;
}

