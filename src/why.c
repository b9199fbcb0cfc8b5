/*
 * nix-offload why [--json] [--builders SPEC] [--option NAME VALUE]
 *     [-A ATTR] [--arg NAME EXPR] [--argstr NAME STRING]
 *     DRV|FILE.nix|EXPR ...
 *
 * For each derivation named, builder by builder: does it fit, and if
 * not, why not (its system, a feature it lacks, a mandatory feature the
 * derivation does not require, down and until when, all slots in use,
 * not an ssh:// store); what its inputs in the local store weigh, and
 * how long sending them would take over each builder's link (as last
 * measured, else guessed); and which builder a build would take now.
 * From the configuration, the local store and the runtime directory: no
 * builder is contacted but to ask, over a master already up, how many
 * slots other clients hold.
 * The exit status is 0 when some builder fits every derivation named, 1
 * when one fits none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

static const char *const words[] = {
	[V_FREE] = "yes", [V_FULL] = "busy", [V_NOFIT] = "no",
	[V_DOWN] = "no", [V_SKIP] = "no"
};

/* Every output of d valid in the local store?  -1 when it cannot say. */
static int
built_here(struct conn *local, const struct drv *d)
{
	struct strlist	 outs = { NULL, 0, 0 }, valid = { NULL, 0, 0 };
	size_t		 i;
	int		 r = -1;

	for (i = 0; i < d->noutputs; i++)
		if (d->outputs[i].path[0] != '\0' &&
		    strlist_add(&outs, d->outputs[i].path) == -1)
			goto out;
	if (outs.n == 0 ||
	    proto_valid(local, &outs, 0, 0, &valid) == -1)
		goto out;
	r = valid.n == outs.n;
out:
	strlist_free(&outs);
	strlist_free(&valid);
	return r;
}

/*
 * What a builder would be sent for d: the closure of its inputs that is
 * in the local store, in NAR bytes and paths (*paths).  Returns the
 * bytes, or -1 when the local store cannot say.
 */
static long long
input_bytes(struct conn *local, const struct drv *d, size_t *paths)
{
	struct strlist	 in = { NULL, 0, 0 }, valid = { NULL, 0, 0 };
	struct strlist	 closure = { NULL, 0, 0 };
	struct path_info *pi = NULL;
	const struct drv_output *o;
	struct drv	 dep;
	size_t		 i, k, n = 0;
	long long	 sum = -1;

	*paths = 0;
	for (i = 0; i < d->srcs->n; i++)
		if (strlist_add(&in, d->srcs->v[i]) == -1)
			goto out;
	for (i = 0; i < d->ninputs; i++) {
		memset(&dep, 0, sizeof(dep));
		if (drv_read(d->inputs[i].path, &dep) == -1)
			goto out;
		for (k = 0; k < d->inputs[i].outputs->n; k++)
			if ((o = drv_output(&dep, d->inputs[i].outputs->v[k]))
			    != NULL && o->path[0] != '\0' &&
			    strlist_add(&in, o->path) == -1) {
				drv_free(&dep);
				goto out;
			}
		drv_free(&dep);
	}
	strlist_sort_uniq(&in);
	if (in.n > 0 && (proto_valid(local, &in, 0, 0, &valid) == -1 ||
	    (valid.n > 0 && (proto_closure(local, &valid, 0, &closure) == -1 ||
	    proto_infos(local, &closure, &pi, &n) == -1))))
		goto out;
	for (sum = 0, i = 0; i < n; i++)
		sum += (long long)(pi[i].nar_size < JOB_SIZE_HINT_MAX ?
		    pi[i].nar_size : JOB_SIZE_HINT_MAX);
	*paths = n;
out:
	serve_path_infos_free(pi, n);
	strlist_free(&in);
	strlist_free(&valid);
	strlist_free(&closure);
	return sum;
}

/*
 * Builder m's link for sending bytes: its rate in kbit/s as measured
 * (*measured), else as guessed, and the seconds bytes would take.
 */
static double
send_secs(const struct machine *m, long long bytes, long long *kbit,
    int *measured)
{
	*kbit = ssh_link_rate(&m->uri, measured);
	return (double)bytes * 8 / 1000 / (double)*kbit;
}

/*
 * Do inputs of bytes take HOLD_SECS or more to send to a builder that
 * fits?  Then a build places by what the builders hold (dispatch.c).
 */
static int
heavy(const struct machines *ms, const struct judgement *j, long long bytes)
{
	long long	 kbit;
	int		 measured;
	size_t		 i;

	for (i = 0; bytes > 0 && i < ms->n; i++)
		if (!ms->v[i].local && ms->v[i].usable &&
		    (j[i].v == V_FREE || j[i].v == V_FULL) &&
		    send_secs(&ms->v[i], bytes, &kbit, &measured) >= HOLD_SECS)
			return 1;
	return 0;
}

static void
explain(FILE *f, int json, struct sched *s, const char *path,
    const struct drv *d, const struct strlist *features, int here,
    long long bytes, size_t paths, int first, int *fits)
{
	long long		 kbit;
	int			 measured, lead;
	double			 secs;
	const struct machines	*ms = s->ms;
	struct plan		 p;
	const struct judgement	*j;
	char			 name[DRV_NAME_MAX], say[SCHED_WHY_MAX + 64];
	char			 at[32];
	size_t			 i;
	long			 pick;

	for (i = 0; i < ms->n; i++)	/* others' slots, as the builder says */
		lease_refresh(&ms->v[i]);
	if (sched_plan(s, d->platform, features, NULL, local_sched_flags(d),
	    &p) == -1) {
		*fits = 0;
		return;
	}
	j = p.j;
	pick = p.pick;
	/* built already: a build would not need a builder for it */
	if (p.how == PLAN_NONE && here != 1)
		*fits = 0;
	if (drv_name(path, name, sizeof(name)) == -1)
		strlcpy(name, path, sizeof(name));
	if (json) {
		fprintf(f, "%s{\"drvPath\":", first ? "" : ",");
		json_string(f, path);
		fputs(",\"name\":", f);
		json_string(f, name);
		fputs(",\"system\":", f);
		json_string(f, d->platform);
		fputs(",\"requiredFeatures\":", f);
		json_list(f, features);
		fprintf(f, ",\"builtHere\":%s", here == 1 ? "true" : "false");
		if (bytes >= 0)
			fprintf(f, ",\"inputBytes\":%lld,\"inputPaths\":%zu",
			    bytes, paths);
		fprintf(f, ",\"asksWhatBuildersHold\":%s",
		    heavy(ms, j, bytes) ? "true" : "false");
		fputs(",\"builders\":[", f);
		for (i = 0; i < ms->n; i++) {
			sched_say(&ms->v[i], &j[i], say, sizeof(say));
			fprintf(f, "%s{\"uri\":", i ? "," : "");
			json_string(f, ms->v[i].uri_text);
			fputs(",\"fits\":", f);
			json_string(f, j[i].v == V_DOWN ? "down" :
			    words[j[i].v]);
			fputs(",\"reason\":", f);
			json_string(f, say);
			fprintf(f, ",\"slotsInUse\":%d,\"maxJobs\":%ld",
			    j[i].load, ms->v[i].max_jobs);
			if (j[i].v == V_DOWN)
				fprintf(f, ",\"downUntil\":%lld", j[i].until);
			if (!ms->v[i].local && ms->v[i].usable) {
				secs = send_secs(&ms->v[i], bytes, &kbit,
				    &measured);
				fprintf(f, ",\"linkKbps\":%lld,\"linkMeasured\":"
				    "%s", kbit, measured ? "true" : "false");
				if (bytes >= 0)
					fprintf(f, ",\"sendSeconds\":%.3f", secs);
			}
			fputc('}', f);
		}
		fputs("],\"pick\":", f);
		if (p.how != PLAN_NONE) {
			fputs("{\"uri\":", f);
			json_string(f, ms->v[pick].uri_text);
			fprintf(f, ",\"how\":\"%s\"}", p.how == PLAN_NOW ?
			    "now" : p.how == PLAN_QUEUE ? "queue" : "retry");
		} else
			fputs("null", f);
		fputc('}', f);
		sched_plan_free(&p);
		return;
	}
	fprintf(f, "%s (%s): system %s", name, path, d->platform);
	for (i = 0; i < features->n; i++)
		fprintf(f, "%s%s", i ? "," : ", features ", features->v[i]);
	fputc('\n', f);
	for (i = 0; i < ms->n; i++) {
		sched_say(&ms->v[i], &j[i], say, sizeof(say));
		fprintf(f, "  %s: %s: %s\n", ms->v[i].uri_text, words[j[i].v],
		    say);
	}
	if (ms->n == 0)
		fputs("  no builders are configured (builders = ... in "
		    "nix.conf, or --builders)\n", f);
	/* what its inputs weigh, and what sending them costs where */
	if (bytes == 0)
		fputs("  inputs: none here to send\n", f);
	else if (bytes > 0) {
		fprintf(f, "  inputs: %.1f MB in %zu path%s here; sending them "
		    "all", bytes / 1e6, paths, paths == 1 ? "" : "s");
		for (i = 0, lead = 1; i < ms->n; i++) {
			if (ms->v[i].local || (j[i].v != V_FREE &&
			    j[i].v != V_FULL))
				continue;
			secs = send_secs(&ms->v[i], bytes, &kbit, &measured);
			fprintf(f, "%s %s ~%.1f s at %.1f Mbit/s (%s)",
			    lead ? ":" : ",", ms->v[i].uri_text, secs,
			    kbit / 1000.0, measured ? "measured" :
			    "not measured yet");
			lead = 0;
		}
		fputs(lead ? " takes no builder's link\n" : "\n", f);
		if (heavy(ms, j, bytes))
			fprintf(f, "  a build asks the builders which of them "
			    "they hold, and sends it where sending the rest "
			    "takes least, when that saves %.1f s or more\n",
			    HOLD_SECS);
	}
	if (here == 1)
		fputs("  its outputs are in the local store already: a build "
		    "would not build it\n", f);
	else if (p.how == PLAN_NOW)
		fprintf(f, "  a build now would take %s\n",
		    ms->v[pick].uri_text);
	else if (p.how == PLAN_QUEUE)
		fprintf(f, "  a build now would wait for a slot on %s\n",
		    ms->v[pick].uri_text);
	else if (p.how == PLAN_RETRY) {
		clock_text(j[pick].until, at, sizeof(at));
		fprintf(f, "  a build now would try %s once more, although it "
		    "is down; the hook skips it until %s\n",
		    ms->v[pick].uri_text, at);
	} else
		fputs("  no builder fits: a build would refuse it\n", f);
	sched_plan_free(&p);
}

int
cmd_why(int argc, char **argv)
{
	const struct usage	*u = usage_find("why");
	struct usage_opt	 o;
	struct common	 cm;
	struct graph	 g;
	struct sched	 sched;
	struct args	 ia = { NULL, 0, 0 };
	struct strlist	 exprs = { NULL, 0, 0 };
	struct conn	 local;
	char		 gcdir[PATH_MAX_LEN] = "";
	size_t		 i, paths = 0;
	long long	 bytes;
	int		 k = 1, r, rc = EXIT_USAGE, runlock = -1;
	int		 fits = 1, have_local = 0, have_sched = 0;

	memset(&g, 0, sizeof(g));
	memset(&o, 0, sizeof(o));
	common_init(&cm);
	if (args_add(&ia, "nix-instantiate") == -1)
		goto out;
	while ((r = usage_next(u, argc, argv, &k, &o)) != USAGE_END) {
		if (r == -1)
			goto out;
		if (r == USAGE_OPERAND) {
			if (strlist_add(&exprs, o.arg[0]) == -1)
				goto out;
		} else if ((r = common_option(&cm, &o)) == -1 ||
		    (r == 0 && build_opt(&o, &ia) != 1))
			goto out;
	}
	if (exprs.n == 0) {
		usage_error("why");
		goto out;
	}
	if (common_load(&cm) == -1 || local_machine_add(&cm.ms, &cm.conf) == -1)
		goto out;
	rc = EXIT_ERROR;
	if (build_roots(&g, &exprs, &ia, gcdir, sizeof(gcdir),
	    &runlock) == -1)
		goto out;
	sched_init(&sched, &cm.ms);
	have_sched = 1;
	/* what is built already is worth saying, not worth failing for */
	have_local = store_open(&local, 0) == 0;
	if (cm.json)
		putchar('[');
	for (i = 0; i < g.nnodes; i++) {
		struct drv	 d;
		struct strlist	 features = { NULL, 0, 0 };

		memset(&d, 0, sizeof(d));
		if (drv_read(g.nodes[i].path, &d) == -1 ||
		    features_required(&d, &features) == -1) {
			drv_free(&d);
			goto out;
		}
		bytes = have_local ? input_bytes(&local, &d, &paths) : -1;
		explain(stdout, cm.json, &sched, g.nodes[i].path, &d, &features,
		    have_local ? built_here(&local, &d) : -1, bytes, paths,
		    i == 0, &fits);
		drv_free(&d);
		strlist_free(&features);
	}
	if (cm.json)
		puts("]");
	rc = fits ? EXIT_OK : EXIT_ERROR;
out:
	if (have_local)
		store_close(&local);
	if (have_sched)
		sched_free(&sched);
	rundir_run_close(runlock);
	graph_free(&g);
	common_free(&cm);
	args_free(&ia);
	strlist_free(&exprs);
	return rc;
}
