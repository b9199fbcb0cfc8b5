/*
 * nix-offload why [--json] [--builders SPEC] [--option NAME VALUE]
 *     [-A ATTR] [--arg NAME EXPR] [--argstr NAME STRING]
 *     DRV|FILE.nix|EXPR ...
 *
 * For each derivation named, builder by builder: does it fit, and if
 * not, why not (its system, a feature it lacks, a mandatory feature the
 * derivation does not require, down and until when, all slots in use,
 * not an ssh:// store); and which builder a build would take now.  From
 * the configuration and the runtime directory: no builder is contacted.
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

static void
explain(FILE *f, int json, struct sched *s, const char *path,
    const struct drv *d, const struct strlist *features, int here,
    int first, int *fits)
{
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
		fprintf(f, ",\"builtHere\":%s,\"builders\":[",
		    here == 1 ? "true" : "false");
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
	size_t		 i;
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
		explain(stdout, cm.json, &sched, g.nodes[i].path, &d, &features,
		    have_local ? built_here(&local, &d) : -1, i == 0, &fits);
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
