/*
 * nix-offload build: build derivations on the builders and bring the
 * outputs home, as nix-build would build them here.
 *
 * The arguments become the roots of a graph (graph.c): store derivations
 * as given, the rest through nix-instantiate.  The local store is asked
 * once which outputs it has; every derivation still to build must fit
 * some builder; dispatch.c then runs the graph on the builders, through
 * workers (worker.c) that each run one job (job.c) at a time.  At the
 * end: -o links, the output paths (or --json), and Nix's exit status.
 */
#include <sys/wait.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

struct shown {
	int	 json;		/* no lines but on a terminal */
	int	 tty;		/* the live line */
	char	 last[DRV_NAME_MAX + URI_MAX + 64]; /* the last event */
};

/* A build, from its command line to its exit status. */
struct build {
	struct common	 cm;		/* configuration, builders, --json */
	struct graph	 g;
	struct dispatch	 ds;
	struct hold	 hold;		/* the inputs here, and who has them */
	struct shown	 shown;		/* its words */
	size_t		 nroots;	/* the first nodes of g */
	struct args	 ia;		/* nix-instantiate's words */
	struct args	 na;		/* the local nix's words */
	struct strlist	 exprs;		/* the installables as given */
	struct insts	 is;		/* and as nix build reads them */
	const char	*link;		/* -o */
	const char	*file;		/* -f */
	const char	*expr;		/* --expr */
	int		 nixbuild;	/* nix build's forms, not nix-build's */
	int		 oldstyle;	/* -A: nix-build's */
	int		 nolink, print_paths, logs, keep_going;
	long		 jobs;		/* -j */
	char		 gcdir[PATH_MAX_LEN];
	int		 runlock;
};

/* Which nodes have all their outputs in the local store already. */
static int
check_valid(struct graph *g, struct conn *local)
{
	struct strlist	 all = { NULL, 0, 0 }, valid = { NULL, 0, 0 };
	size_t		 i;
	int		 rc = -1;

	for (i = 0; i < g->nnodes; i++)
		if (graph_outputs(&g->nodes[i], &all) == -1)
			goto out;
	if (proto_valid(local, &all, 0, 0, &valid) == -1)
		goto out;
	strlist_sort_uniq(&valid);
	graph_set_valid(g, &valid);
	rc = 0;
out:
	strlist_free(&all);
	strlist_free(&valid);
	return rc;
}

/* A line nix-instantiate printed: the root link it made, or a .drv. */
static int
instantiated(void *arg, const char *line)
{
	struct graph	*g = arg;
	char		 real[PATH_MAX_LEN], t[256];
	ssize_t		 n;

	if (line[0] == '\0')
		return 0;
	/*
	 * With --add-root it prints the root link, not the .drv: the link
	 * names it (in a store under another root, the link's target is
	 * not there to be resolved).
	 */
	if ((n = readlink(line, real, sizeof(real) - 1)) == -1 ||
	    (size_t)n >= sizeof(real) - 1)
		strlcpy(real, line, sizeof(real));
	else
		real[n] = '\0';
	if (!drv_path_valid(real)) {
		log_errx("nix-instantiate printed \"%s\", not a store "
		    "derivation", text_printable(line, strlen(line), t,
		    sizeof(t)));
		return -1;
	}
	return graph_add(g, real) == -1 ? -1 : 0;
}

/*
 * nix-instantiate ARGS..., adding the .drv paths it prints as roots.  The
 * .drv files are GC roots for as long as we run (links in gcdir), so a
 * garbage collection meanwhile cannot take them.  Its stderr (warnings,
 * traces: any amount) goes to ours as it comes.  No time limit: evaluation
 * may be silent for long, and nix-build waits for it too.
 */
static int
instantiate(struct graph *g, struct args *ia, const char *gcdir)
{
	int	 status, rc;

	if (args_add(ia, "--add-root") == -1 ||
	    args_add(ia, "%s/drv", gcdir) == -1 ||
	    args_add(ia, "--indirect") == -1)
		return -1;
	rc = spawn_lines(ia->list, " (install Nix)", 0, 0, instantiated, g,
	    &status);
	if (status == -1)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_errx("nix-instantiate failed (exit %d)",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	return rc;
}

/* -o LINK: GC-rooted links, as nix-build makes them (store_add_root). */
static int
make_links(const struct graph *g, size_t nroots, const char *link)
{
	size_t	 i, o;
	int	 rc = 0;

	for (i = 0; i < nroots; i++) {
		const struct node *n = &g->nodes[i];
		for (o = 0; o < n->d.noutputs; o++) {
			char	 name[PATH_MAX_LEN];

			snprintf(name, sizeof(name), "%s%s%.0zu%s%s", link,
			    i > 0 ? "-" : "", i > 0 ? i + 1 : 0,
			    strcmp(n->d.outputs[o].name, "out") ? "-" : "",
			    strcmp(n->d.outputs[o].name, "out") ?
			    n->d.outputs[o].name : "");
			if (store_add_root(name, n->d.outputs[o].path) == -1)
				rc = -1;
		}
	}
	return rc;
}

static void
print_results(const struct graph *g, size_t nroots, int json)
{
	size_t	 i, o;

	if (json)
		putchar('[');
	for (i = 0; i < nroots; i++) {
		const struct node *n = &g->nodes[i];
		if (json) {
			printf("%s{\"drvPath\":", i ? "," : "");
			json_string(stdout, n->path);
			printf(",\"outputs\":{");
		}
		for (o = 0; o < n->d.noutputs; o++) {
			if (json) {
				printf("%s", o ? "," : "");
				json_string(stdout, n->d.outputs[o].name);
				putchar(':');
				json_string(stdout, n->d.outputs[o].path);
			} else
				printf("%s\n", n->d.outputs[o].path);
		}
		if (json)
			printf("}}");
	}
	if (json)
		printf("]\n");
}

/*
 * -A ATTR, --arg NAME EXPR, --argstr NAME STRING, for nix-instantiate
 * (ia).  Returns 1 when o is one of them, 0 when not, -1 (reported) on
 * error.
 */
int
build_opt(const struct usage_opt *o, struct args *ia)
{
	if (strcmp(o->name, "-A") == 0)
		return args_add(ia, "-A") == -1 ||
		    args_add(ia, "%s", o->arg[0]) == -1 ? -1 : 1;
	if (strcmp(o->name, "--arg") == 0 || strcmp(o->name, "--argstr") == 0)
		return args_add(ia, "%s", o->name) == -1 ||
		    args_add(ia, "%s", o->arg[0]) == -1 ||
		    args_add(ia, "%s", o->arg[1]) == -1 ? -1 : 1;
	return 0;
}

/*
 * The roots of the graph g from the words DRV|FILE.nix|EXPR of the
 * command line: store derivations as given, the rest through
 * nix-instantiate ia (with its -A and --arg words).  The run's directory
 * is made, for the GC roots of what is instantiated (its path in gcdir,
 * its lock in *runlock, for rundir_run_close).  Returns 0, or -1
 * (reported).
 */
int
build_roots(struct graph *g, const struct strlist *exprs, struct args *ia,
    char *gcdir, size_t gcsz, int *runlock)
{
	size_t	 i;
	int	 r, need_inst = 0;

	/*
	 * roots first: store derivations as given, then what nix-instantiate
	 * says.  As nix-build does, an argument is a derivation when it
	 * resolves (symlinks and all) to a .drv in the store; a .drv
	 * anywhere else is refused before it is opened: it may be any file.
	 */
	for (i = 0; i < exprs->n; i++) {
		size_t	 l = strlen(exprs->v[i]);
		char	*real = realpath(exprs->v[i], NULL);
		int	 e = errno;

		if (real != NULL && drv_path_valid(real)) {
			r = graph_add(g, real) == -1;
			free(real);
			if (r)
				return -1;
			continue;
		}
		if (l > 4 && strcmp(exprs->v[i] + l - 4, ".drv") == 0) {
			if (real == NULL) {
				errno = e;
				log_err("%s", exprs->v[i]);
			} else if (strcmp(real, exprs->v[i]) == 0)
				log_errx("%s: not a store derivation (a .drv "
				    "in %s)", exprs->v[i], STORE_DIR);
			else
				log_errx("%s: resolves to %s, not a store "
				    "derivation (a .drv in %s)", exprs->v[i],
				    real, STORE_DIR);
			free(real);
			return -1;
		}
		free(real);
		need_inst = 1;
		if (access(exprs->v[i], F_OK) == 0) {
			if (args_add(ia, "%s", exprs->v[i]) == -1)
				return -1;
		} else if (args_add(ia, "-E") == -1 ||
		    args_add(ia, "%s", exprs->v[i]) == -1)
			return -1;
	}
	/* the run's directory: GC roots, and its note for `status` */
	if ((*runlock = rundir_run_open(gcdir, gcsz)) == -1)
		return -1;
	if (need_inst && (store_args(ia) == -1 ||
	    instantiate(g, ia, gcdir) == -1))
		return -1;
	return 0;
}

/* The first of is that only nix-build takes, or is->n. */
static size_t
old_one(const struct insts *is)
{
	size_t	 i;

	for (i = 0; i < is->n && is->v[i].kind != INST_OLD; i++)
		;
	return i;
}

/*
 * The roots of the graph g from nix build's installables is: the local
 * Nix resolves flakes' and -f's or --expr's (with the words of na), store
 * derivations are taken as they are.  The run's directory is made, as
 * build_roots makes it.  Returns 0, or -1 (reported).
 */
static int
nix_roots(struct graph *g, struct insts *is, struct args *na,
    const char *file, const char *expr, char *gcdir, size_t gcsz,
    int *runlock)
{
	size_t	 i;
	int	 whole = 0;
	long	 k;

	if ((*runlock = rundir_run_open(gcdir, gcsz)) == -1)
		return -1;
	if (file != NULL || expr != NULL) {
		if (args_add(na, file != NULL ? "--file" : "--expr") == -1 ||
		    args_add(na, "%s", file != NULL ? file : expr) == -1)
			return -1;
		/* no attribute: the value itself, or each of its values */
		if (is->n == 0) {
			if (inst_add(is, "", 1) == -1)
				return -1;
			whole = 1;
		}
	}
	if (inst_resolve(is, na, whole) == -1)
		return -1;
	for (i = 0; i < is->n; i++) {
		if (is->v[i].drv == NULL)
			continue;
		if ((k = graph_add(g, is->v[i].drv)) == -1)
			return -1;
		is->v[i].node = k;
	}
	return 0;
}

/*
 * One option of build's (o) into b.  Returns 0, or -1 (reported): with
 * *usage set when it is a usage error.
 */
static int
build_option(struct build *b, const struct usage_opt *o, int *usage)
{
	char	*end;
	int	 r;

	if ((r = common_option(&b->cm, o)) != 0) {
		*usage = r == -1;
		return r == -1 ? -1 : 0;
	}
	if (strcmp(o->name, "-o") == 0)
		b->link = o->arg[0];
	else if (strcmp(o->name, "--store") == 0) {
		if (conf_cmdline(&b->cm.conf, "store", o->arg[0],
		    "--store") == -1)
			return -1;
	}
	else if (strcmp(o->name, "-f") == 0 || strcmp(o->name, "--expr") == 0) {
		*(o->name[1] == 'f' ? &b->file : &b->expr) = o->arg[0];
		b->nixbuild = 1;
	} else if (strcmp(o->name, "--impure") == 0 ||
	    strcmp(o->name, "--override-input") == 0) {
		if (args_add(&b->na, "%s", o->name) == -1 || (o->arg[0] &&
		    (args_add(&b->na, "%s", o->arg[0]) == -1 ||
		    args_add(&b->na, "%s", o->arg[1]) == -1)))
			return -1;
		b->nixbuild = 1;
	} else if (strcmp(o->name, "--no-link") == 0)
		b->nolink = 1;
	else if (strcmp(o->name, "--print-out-paths") == 0)
		b->print_paths = 1;
	else if (strcmp(o->name, "-L") == 0)
		b->logs = 1;
	else if (strcmp(o->name, "-j") == 0) {
		b->jobs = strtol(o->arg[0], &end, 10);
		if (*end != '\0' || b->jobs < 1 || b->jobs > WORKERS_MAX) {
			log_errx("build: -j takes a number from 1 to %d",
			    WORKERS_MAX);
			*usage = 1;
			return -1;
		}
	} else if (strcmp(o->name, "--keep-going") == 0)
		b->keep_going = 1;
	else if (strcmp(o->name, "--keep-failed") == 0)
		return conf_cmdline(&b->cm.conf, "keep-failed", "true",
		    o->name) == -1 ? -1 : 0;
	else if ((r = build_opt(o, &b->ia)) == -1)
		return -1;
	/* -A is nix-build's alone; --arg and --argstr go to the local nix
	 * too */
	else if (strcmp(o->name, "-A") == 0)
		b->oldstyle = 1;
	else if (args_add(&b->na, "%s", o->name) == -1 ||
	    args_add(&b->na, "%s", o->arg[0]) == -1 ||
	    args_add(&b->na, "%s", o->arg[1]) == -1)
		return -1;
	return 0;
}

/*
 * build's command line into b: its options, and what to build in nix
 * build's words or nix-build's.  Returns 0, or -1 (reported) with the
 * exit status in *rc.
 */
static int
build_args(struct build *b, int argc, char **argv, int *rc)
{
	const struct usage	*u = usage_find("build");
	struct usage_opt	 o;
	size_t			 i;
	int			 r, k = 1, usage = 0;

	memset(&o, 0, sizeof(o));
	*rc = EXIT_USAGE;
	while ((r = usage_next(u, argc, argv, &k, &o)) != USAGE_END) {
		if (r == -1)
			return -1;
		if (r == USAGE_OPERAND) {
			if (strlist_add(&b->exprs, o.arg[0]) == -1)
				goto nomem;
		} else if (build_option(b, &o, &usage) == -1) {
			*rc = usage ? EXIT_USAGE : EXIT_ERROR;
			return -1;
		}
	}
	if (b->exprs.n == 0 && b->file == NULL && b->expr == NULL) {
		usage_error("build");
		return -1;
	}
	if (b->file != NULL && b->expr != NULL) {
		log_errx("build: -f and --expr cannot go together (see "
		    "nix-offload build --help)");
		return -1;
	}
	/* nix build's installables, or nix-build's words as before */
	for (i = 0; i < b->exprs.n; i++)
		if (inst_add(&b->is, b->exprs.v[i], b->file != NULL ||
		    b->expr != NULL) == -1)
			return -1;
	for (i = 0; i < b->is.n; i++)
		if (b->is.v[i].kind == INST_NIX || b->is.v[i].kind == INST_PATH ||
		    (b->is.v[i].kind == INST_DRV && strchr(b->exprs.v[i], '^')))
			b->nixbuild = 1;
	if (b->nixbuild && (b->oldstyle || old_one(&b->is) < b->is.n)) {
		log_errx("build: %s is nix-build's; with nix build's forms "
		    "(flake references, ^outputs, -f, --expr, --impure) name "
		    "what to build as nix build would", b->oldstyle ? "-A" :
		    b->is.v[old_one(&b->is)].arg);
		return -1;
	}
	return 0;
nomem:
	log_err("build");
	*rc = EXIT_ERROR;
	return -1;
}

/*
 * The graph of b: its roots (instantiated if need be), every derivation
 * they need, and which are built already.  Returns 0, or -1 (reported).
 */
static int
build_graph(struct build *b, int64_t t0)
{
	struct conn	 local;
	size_t		 i;
	int		 rc = -1;

	if (b->nixbuild) {
		if (nix_roots(&b->g, &b->is, &b->na, b->file, b->expr,
		    b->gcdir, sizeof(b->gcdir), &b->runlock) == -1)
			return -1;
	} else if (build_roots(&b->g, &b->exprs, &b->ia, b->gcdir,
	    sizeof(b->gcdir), &b->runlock) == -1)
		return -1;
	log_debug(2, "%zu derivations to build, at %lld ms", b->g.nnodes,
	    (long long)(clock_ms() - t0));
	b->nroots = b->g.nnodes;
	for (i = 0; i < b->nroots; i++)
		b->g.nodes[i].root = 1;
	if (graph_load(&b->g) == -1 ||
	    (b->nixbuild && inst_check_outputs(&b->is, &b->g) == -1) ||
	    store_open(&local, 0) == -1)
		return -1;
	if (check_valid(&b->g, &local) == 0 &&
	    (!b->nixbuild || inst_check_paths(&b->is, &local) == 0)) {
		graph_mark_needed(&b->g);
		if (hold_init(&b->hold, b->cm.ms.n) == 0 &&
		    hold_load(&b->hold, &local, &b->g) == 0)
			rc = 0;
	}
	store_close(&local);
	log_debug(2, "%zu derivations in the graph, %zu to build, at %lld ms",
	    b->g.nnodes, b->g.total, (long long)(clock_ms() - t0));
	return rc;
}

/*
 * The words of a run, as build shows them (dispatch's events): a line
 * per event, or on a terminal one live line, redrawn each second, as nix
 * build draws it: built/running/to build, queued, bytes moved, and the
 * derivation running longest (or the last event, when none runs).
 *
 *	[3/4/9 built, 2 queued, 1.2 MiB] building slow-7 on ssh://b, 6 s
 */
static void
live(struct shown *sh, struct dispatch *ds)
{
	struct act_run		 r;
	const struct worker	*w;
	char			 what[sizeof(r.slowest) + URI_MAX + 64];
	char			 queued[64] = "";

	dispatch_tally(ds, &r, &w);
	if (!sh->tty)
		return;
	if (w != NULL)
		snprintf(what, sizeof(what), "building %s on %s, %lld s%s",
		    r.slowest, ds->ms->v[w->slot.machine].uri_text,
		    (long long)(clock_ms() - w->started) / 1000,
		    r.running > 1 ? " (the longest)" : "");
	else
		snprintf(what, sizeof(what), "%s", sh->last);
	if (r.queued > 0)
		snprintf(queued, sizeof(queued), ", %zu queued", r.queued);
	log_status("[%zu/%zu/%zu built%s, %.1f MiB] %s", r.built, r.running,
	    r.total, queued, r.bytes / 1048576.0, what);
}

static void
shown_event(void *arg, struct dispatch *ds, const struct dispatch_event *e)
{
	struct shown	*sh = arg;
	const char	*uri = e->m != NULL ? e->m->uri_text : "";

	switch (e->ev) {
	case DISPATCH_BUILDING:
		snprintf(sh->last, sizeof(sh->last), "building %s on %s",
		    e->node->name, uri);
		break;
	case DISPATCH_BUILT:
		snprintf(sh->last, sizeof(sh->last), "built %s on %s in %lld "
		    "ms", e->node->name, uri, (long long)e->ms);
		break;
	case DISPATCH_FAILED:
		snprintf(sh->last, sizeof(sh->last), "failed %s on %s",
		    e->node->name, uri);
		break;
	case DISPATCH_FETCHED:
		snprintf(sh->last, sizeof(sh->last), "fetched %zu outputs from "
		    "%s in %lld ms", e->count, uri, (long long)e->ms);
		break;
	case DISPATCH_RETRYING:
		snprintf(sh->last, sizeof(sh->last), "trying %s, down after "
		    "failures, once more", uri);
		break;
	case DISPATCH_MOVED:
		log_warnx("builder %s %s; %zu derivation%s moved (%s)", uri,
		    e->why == FAIL_DROPPED ? "disconnected" :
		    e->why == FAIL_TIMEOUT ? "stopped answering" :
		    e->why != FAIL_PROTOCOL ? "is down" : e->m->uri.ng ?
		    "broke the daemon protocol" : "broke the serve protocol",
		    e->count, e->count == 1 ? "" : "s", e->names);
		return;
	case DISPATCH_TICK:
		live(sh, ds);
		return;
	case DISPATCH_END:
		if (sh->tty)
			log_status_end();
		if (verbose >= 1) {
			struct cost	 all = ds->cost, zero, mine;
			/* and this process's own (instantiating, the store) */
			memset(&zero, 0, sizeof(zero));
			cost_now(&mine);
			cost_add(&all, &zero, &mine);
			cost_say("build", &all, ds->g->total);
		}
		return;
	}
	if (!sh->tty && !sh->json)
		log_info("%s", sh->last);
	live(sh, ds);
}

/*
 * What is still to build, on the builders.  Returns 0, the signal's
 * number when one stopped it, or -1 (reported).
 */
static int
build_run(struct build *b)
{
	const struct conf	*c = &b->cm.conf;
	int			 sig;

	if (b->g.total == 0)
		return 0;
	if (dispatch_check_fits(&b->g, &b->cm.ms) == -1 ||
	    dispatch_init(&b->ds, &b->g, &b->cm.ms, b->jobs) == -1)
		return -1;
	b->ds.keep_going = b->keep_going;
	b->shown.json = b->cm.json;
	b->shown.tty = isatty(STDERR_FILENO);
	b->ds.event = shown_event;
	b->ds.event_arg = &b->shown;
	b->ds.try_down = 1;	/* a person, or a script: not Nix */
	b->ds.note_fd = b->runlock;
	b->ds.hold = &b->hold;
	b->ds.ws.held = &b->hold.paths;
	b->ds.ws.substitutes = c->builders_use_substitutes;
	job_options(&b->ds.ws.opts, c);
	/* nix build shows a failed build's last lines, all with -L */
	b->ds.ws.log_tail = b->nixbuild && !b->logs ? conf_log_lines(c) : 0;
	sig = dispatch_run(&b->ds);
	dispatch_free(&b->ds);
	return sig;
}

/*
 * The end, as nix build or nix-build ends: the exit status of what
 * failed, or the links and the output paths.
 */
static int
build_report(struct build *b)
{
	size_t	 i;

	if (b->nixbuild && (b->ds.mask != 0 || b->ds.misc))
		return EXIT_ERROR;	/* nix build's status for any failure */
	if (b->ds.mask != 0)
		return EXIT_BUILD_BITS | (int)b->ds.mask;
	if (b->ds.misc)
		return EXIT_ERROR;
	if (b->nixbuild) {
		if (!b->nolink && inst_links(&b->is, &b->g, b->link != NULL ?
		    b->link : "result") == -1)
			return EXIT_ERROR;
		inst_print(&b->is, &b->g, b->cm.json, b->print_paths);
		return EXIT_OK;
	}
	for (i = 0; i < b->nroots; i++)
		if (b->g.nodes[i].state != N_LOCAL) {
			log_errx("%s: not built", b->g.nodes[i].name);
			return EXIT_ERROR;
		}
	/* ./result, as nix-build makes it, unless --no-out-link */
	if (!b->nolink && make_links(&b->g, b->nroots, b->link != NULL ?
	    b->link : "result") == -1)
		return EXIT_ERROR;
	print_results(&b->g, b->nroots, b->cm.json);
	return EXIT_OK;
}

int
cmd_build(int argc, char **argv)
{
	struct build	*b;
	int64_t		 t0;
	int		 rc = EXIT_ERROR, sig;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		log_err("build");
		return EXIT_ERROR;
	}
	b->runlock = -1;
	common_init(&b->cm);
	if (args_add(&b->ia, "nix-instantiate") == -1 ||
	    build_args(b, argc, argv, &rc) == -1)
		goto out;
	rc = EXIT_USAGE;
	t0 = clock_ms();
	if (common_load(&b->cm) == -1 || store_use(b->cm.conf.store) == -1 ||
	    local_machine_add(&b->cm.ms, &b->cm.conf) == -1)
		goto out;
	rc = EXIT_ERROR;
	if (build_graph(b, t0) == -1 || (sig = build_run(b)) == -1)
		goto out;
	if (sig != 0) {
		log_errx("interrupted");
		rc = 128 + sig;
		goto out;
	}
	rc = build_report(b);
out:
	rundir_run_close(b->runlock);
	graph_free(&b->g);
	hold_free(&b->hold);
	common_free(&b->cm);
	args_free(&b->ia);
	args_free(&b->na);
	insts_free(&b->is);
	strlist_free(&b->exprs);
	free(b);
	return rc;
}
