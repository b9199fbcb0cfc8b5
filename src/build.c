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

struct build {
	struct common	 cm;		/* configuration, builders, --json */
	struct graph	 g;
	struct dispatch	 ds;
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
	if (serve_query_valid_paths(local, &all, 0, 0, &valid) == -1)
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
	char		*real, t[256];
	long		 k;

	if (line[0] == '\0')
		return 0;
	/* with --add-root it prints the root link, not the .drv */
	if ((real = realpath(line, NULL)) == NULL || !drv_path_valid(real)) {
		if (real == NULL)
			log_err("nix-instantiate printed \"%s\"",
			    text_printable(line, strlen(line), t, sizeof(t)));
		else
			log_errx("nix-instantiate printed \"%s\", not a "
			    "store derivation", text_printable(line,
			    strlen(line), t, sizeof(t)));
		free(real);
		return -1;
	}
	k = graph_add(g, real);
	free(real);
	return k == -1 ? -1 : 0;
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
	if (need_inst && instantiate(g, ia, gcdir) == -1)
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

int
cmd_build(int argc, char **argv)
{
	const struct usage	*u = usage_find("build");
	struct usage_opt	 o;
	struct build	 b;
	struct args	 ia = { NULL, 0, 0 };
	struct strlist	 exprs = { NULL, 0, 0 };
	struct conn	 local;
	struct insts	 is = { NULL, 0 };
	struct args	 na = { NULL, 0, 0 };	/* for the local nix */
	const char	*link = NULL, *file = NULL, *expr = NULL;
	size_t		 nroots, i;
	int		 r, rc = EXIT_ERROR, have_local = 0, k = 1;
	int		 keep_going = 0, sig, nixbuild = 0;
	int		 nolink = 0, print_paths = 0, logs = 0, oldstyle = 0;
	long		 jobs = 0;
	int64_t		 t0 = 0;
	char		 gcdir[PATH_MAX_LEN] = "";
	int		 runlock = -1;
	char		*end;

	memset(&b, 0, sizeof(b));
	memset(&o, 0, sizeof(o));
	common_init(&b.cm);
	if (args_add(&ia, "nix-instantiate") == -1)
		goto out;
	while ((r = usage_next(u, argc, argv, &k, &o)) != USAGE_END) {
		if (r == -1) {
			rc = EXIT_USAGE;
			goto out;
		}
		if (r == USAGE_OPERAND) {
			if (strlist_add(&exprs, o.arg[0]) == -1)
				goto out;
			continue;
		}
		if ((r = common_option(&b.cm, &o)) == -1) {
			rc = EXIT_USAGE;
			goto out;
		}
		if (r == 1)
			continue;
		if (strcmp(o.name, "-o") == 0)
			link = o.arg[0];
		else if (strcmp(o.name, "-f") == 0 ||
		    strcmp(o.name, "--expr") == 0) {
			*(o.name[1] == 'f' ? &file : &expr) = o.arg[0];
			nixbuild = 1;
		} else if (strcmp(o.name, "--impure") == 0 ||
		    strcmp(o.name, "--override-input") == 0) {
			if (args_add(&na, "%s", o.name) == -1 || (o.arg[0] &&
			    (args_add(&na, "%s", o.arg[0]) == -1 ||
			    args_add(&na, "%s", o.arg[1]) == -1)))
				goto out;
			nixbuild = 1;
		} else if (strcmp(o.name, "--no-link") == 0)
			nolink = 1;
		else if (strcmp(o.name, "--print-out-paths") == 0)
			print_paths = 1;
		else if (strcmp(o.name, "-L") == 0)
			logs = 1;
		else if (strcmp(o.name, "-j") == 0) {
			jobs = strtol(o.arg[0], &end, 10);
			if (*end != '\0' || jobs < 1 || jobs > WORKERS_MAX) {
				log_errx("build: -j takes a number from 1 to %d",
				    WORKERS_MAX);
				rc = EXIT_USAGE;
				goto out;
			}
		} else if (strcmp(o.name, "--keep-going") == 0)
			keep_going = 1;
		else if (strcmp(o.name, "--keep-failed") == 0) {
			if (conf_cmdline(&b.cm.conf, "keep-failed", "true",
			    o.name) == -1)
				goto out;
		} else if ((r = build_opt(&o, &ia)) == -1)
			goto out;
		else if (r == 1) {
			/* -A is nix-build's alone; --arg and --argstr go to
			 * the local nix too */
			if (strcmp(o.name, "-A") == 0)
				oldstyle = 1;
			else if (args_add(&na, "%s", o.name) == -1 ||
			    args_add(&na, "%s", o.arg[0]) == -1 ||
			    args_add(&na, "%s", o.arg[1]) == -1)
				goto out;
		}
	}
	if (exprs.n == 0 && file == NULL && expr == NULL)
		goto usage;
	if (file != NULL && expr != NULL) {
		log_errx("build: -f and --expr cannot go together (see "
		    "nix-offload build --help)");
		rc = EXIT_USAGE;
		goto out;
	}
	/* nix build's installables, or nix-build's words as before */
	for (i = 0; i < exprs.n; i++)
		if (inst_add(&is, exprs.v[i], file != NULL ||
		    expr != NULL) == -1)
			goto out;
	for (i = 0; i < is.n; i++)
		if (is.v[i].kind == INST_NIX || is.v[i].kind == INST_PATH ||
		    (is.v[i].kind == INST_DRV && strchr(exprs.v[i], '^')))
			nixbuild = 1;
	if (nixbuild && (oldstyle || old_one(&is) < is.n)) {
		log_errx("build: %s is nix-build's; with nix build's forms "
		    "(flake references, ^outputs, -f, --expr, --impure) name "
		    "what to build as nix build would", oldstyle ? "-A" :
		    is.v[old_one(&is)].arg);
		rc = EXIT_USAGE;
		goto out;
	}
	t0 = clock_ms();
	if (common_load(&b.cm) == -1) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (nixbuild) {
		if (nix_roots(&b.g, &is, &na, file, expr, gcdir,
		    sizeof(gcdir), &runlock) == -1)
			goto out;
	} else if (build_roots(&b.g, &exprs, &ia, gcdir, sizeof(gcdir),
	    &runlock) == -1)
		goto out;
	log_debug(2, "%zu derivations to build, at %lld ms", b.g.nnodes,
	    (long long)(clock_ms() - t0));
	nroots = b.g.nnodes;
	for (i = 0; i < nroots; i++)
		b.g.nodes[i].root = 1;
	if (graph_load(&b.g) == -1)
		goto out;
	if (nixbuild && inst_check_outputs(&is, &b.g) == -1)
		goto out;
	if (store_open(&local) == -1)
		goto out;
	have_local = 1;
	if (check_valid(&b.g, &local) == -1 ||
	    (nixbuild && inst_check_paths(&is, &local) == -1))
		goto out;
	store_close(&local);
	have_local = 0;
	graph_mark_needed(&b.g);
	log_debug(2, "%zu derivations in the graph, %zu to build, at %lld ms",
	    b.g.nnodes, b.g.total, (long long)(clock_ms() - t0));
	if (b.g.total > 0) {
		if (dispatch_check_fits(&b.g, &b.cm.ms) == -1)
			goto out;
		if (dispatch_init(&b.ds, &b.g, &b.cm.ms, jobs) == -1)
			goto out;
		b.ds.keep_going = keep_going;
		b.ds.json = b.cm.json;
		b.ds.tty = isatty(STDERR_FILENO);
		b.ds.try_down = 1;	/* a person, or a script: not Nix */
		b.ds.note_fd = runlock;
		b.ds.ws.substitutes = b.cm.conf.builders_use_substitutes;
		b.ds.ws.opts.max_silent_time = (uint64_t)b.cm.conf.max_silent_time;
		b.ds.ws.opts.timeout = (uint64_t)b.cm.conf.timeout;
		b.ds.ws.opts.max_log_size = (uint64_t)b.cm.conf.max_log_size;
		b.ds.ws.opts.keep_failed = b.cm.conf.keep_failed;
		/* nix build shows a failed build's last lines, all with -L */
		b.ds.ws.log_tail = nixbuild && !logs ?
		    conf_log_lines(&b.cm.conf) : 0;
		sig = dispatch_run(&b.ds);
		dispatch_free(&b.ds);
		if (sig != 0) {
			log_errx("interrupted");
			rc = 128 + sig;
			goto out;
		}
	}
	if (nixbuild && (b.ds.mask != 0 || b.ds.misc))
		rc = EXIT_ERROR;	/* nix build's status for any failure */
	else if (b.ds.mask != 0)
		rc = EXIT_BUILD_BITS | (int)b.ds.mask;
	else if (b.ds.misc)
		rc = EXIT_ERROR;
	else if (nixbuild) {
		if (!nolink && inst_links(&is, &b.g, link != NULL ? link :
		    "result") == -1)
			goto out;
		inst_print(&is, &b.g, b.cm.json, print_paths);
		rc = EXIT_OK;
	} else {
		for (i = 0; i < nroots; i++)
			if (b.g.nodes[i].state != N_LOCAL) {
				log_errx("%s: not built", b.g.nodes[i].name);
				goto out;
			}
		if (link != NULL && make_links(&b.g, nroots, link) == -1)
			goto out;
		print_results(&b.g, nroots, b.cm.json);
		rc = EXIT_OK;
	}
out:
	if (have_local)
		store_close(&local);
	rundir_run_close(runlock);
	graph_free(&b.g);
	common_free(&b.cm);
	args_free(&ia);
	args_free(&na);
	insts_free(&is);
	strlist_free(&exprs);
	return rc;
usage:
	usage_error("build");
	rc = EXIT_USAGE;
	goto out;
}
