/*
 * What `build` is asked for, in nix build's words: installables.
 *
 *	/nix/store/...drv[^OUTPUTS]	a store derivation
 *	/nix/store/...			an output path, built already
 *	FLAKEREF#ATTR[^OUTPUTS]		a flake's output (.#foo, /dir#foo,
 *					path:/dir#foo, nixpkgs#hello, .#)
 *	ATTR[^OUTPUTS]			with -f FILE or --expr EXPR
 *
 * where OUTPUTS is "*" or names separated by commas.  Anything else is
 * nix-build's (a FILE.nix, an expression), for nix-instantiate as before.
 *
 * The local Nix resolves flake and -f/--expr installables, all of them in
 * one `nix build --dry-run --json`: it evaluates, writes the .drv files,
 * picks the outputs as that version of Nix picks them (2.8 the one the
 * value names, later ones meta.outputsToInstall) and builds nothing.  The
 * ^OUTPUTS part is taken off first and applied here, so that it works
 * with a Nix that does not know it (2.8).
 */
#include <sys/wait.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define INST_BATCH	64	/* installables per nix call: its JSON line */

/* Schemes of flake references without a '#' (path:/dir, github:o/r). */
static const char *const flake_schemes[] = {
	"path:", "git+", "github:", "gitlab:", "sourcehut:", "tarball+",
	"file+", "flake:", "hg+", NULL
};

/* Does s look like a flake reference, as nix build would take it? */
static int
flake_like(const char *s)
{
	size_t	 i;

	if (strchr(s, '#') != NULL)
		return 1;
	for (i = 0; flake_schemes[i] != NULL; i++)
		if (strncmp(s, flake_schemes[i], strlen(flake_schemes[i])) == 0)
			return 1;
	return 0;
}

/*
 * Take "^OUTPUTS" off the end of arg, into in->outputs (or in->all).
 * Returns 0 (perhaps with nothing taken), or -1 (reported): an empty or
 * malformed list.
 */
static int
selector(struct inst *in, char *arg)
{
	char	*hat = strrchr(arg, '^'), *p, *e;

	if (hat == NULL)
		return 0;
	*hat++ = '\0';
	if (strcmp(hat, "*") == 0) {
		in->all = 1;
		return 0;
	}
	for (p = hat; ; p = e + 1) {
		if ((e = strchr(p, ',')) != NULL)
			*e = '\0';
		if (*p == '\0' || !path_name_valid(p, strlen(p))) {
			log_errx("%s^%s: \"%s\" is not an output name (^NAME,"
			    "NAME or ^*)", arg, hat, p);
			return -1;
		}
		if (strlist_add(&in->outputs, p) == -1)
			return -1;
		if (e == NULL)
			break;
	}
	return 0;
}

/*
 * Add the installable arg.  attr: it is an attribute path of -f FILE or
 * --expr (for the local Nix).  Returns 0, or -1 (reported).
 */
int
inst_add(struct insts *is, const char *arg, int attr)
{
	struct inst	*v, *in;
	char		*real = NULL, *base;

	if (is->n >= GRAPH_NODES_MAX) {
		log_errx("more than %u installables", GRAPH_NODES_MAX);
		return -1;
	}
	if ((v = reallocarray(is->v, is->n + 1, sizeof(*v))) == NULL) {
		log_err("build");
		return -1;
	}
	is->v = v;
	in = &is->v[is->n];
	memset(in, 0, sizeof(*in));
	in->node = -1;
	if ((in->arg = strdup(arg)) == NULL) {
		log_err("build");
		return -1;
	}
	is->n++;
	if (attr) {
		in->kind = INST_NIX;
		return selector(in, in->arg);
	}
	/* a store path, or one with ^OUTPUTS, or a link to one */
	if ((base = strdup(arg)) == NULL) {
		log_err("build");
		return -1;
	}
	if (strrchr(base, '^') != NULL && !flake_like(base))
		*strrchr(base, '^') = '\0';
	real = realpath(base, NULL);
	free(base);
	if (real != NULL && drv_path_valid(real)) {
		in->kind = INST_DRV;
		in->drv = real;
		return strchr(in->arg, '^') != NULL ? selector(in, in->arg) : 0;
	}
	if (real != NULL && strncmp(real, STORE_DIR "/",
	    strlen(STORE_DIR) + 1) == 0 && strchr(in->arg, '^') == NULL) {
		/* the top of a store path, not a file in one */
		char *slash = strchr(real + strlen(STORE_DIR) + 1, '/');
		if (slash != NULL)
			*slash = '\0';
		in->kind = INST_PATH;
		in->path = real;
		return 0;
	}
	free(real);
	if (flake_like(arg)) {
		in->kind = INST_NIX;
		return selector(in, in->arg);
	}
	in->kind = INST_OLD;
	return 0;
}

void
insts_free(struct insts *is)
{
	size_t	 i;

	for (i = 0; i < is->n; i++) {
		free(is->v[i].arg);
		free(is->v[i].drv);
		free(is->v[i].path);
		strlist_free(&is->v[i].outputs);
	}
	free(is->v);
	is->v = NULL;
	is->n = 0;
}

/* The answer of `nix build --dry-run --json`, taken in order. */
struct dryrun {
	struct insts	*is;
	size_t		 next;		/* the installable it is about */
	size_t		 end;		/* one past the batch */
	int		 whole;		/* -f/--expr alone: each value one */
	size_t		 got;
	int		 listing;	/* in what a dry run would build */
};

/* One object of the answer: {"drvPath":...,"outputs":{NAME:...}}. */
static int
take_one(struct dryrun *a, const char *t, size_t len, size_t pos)
{
	struct inst	*in;
	char		 key[JSON_KEY_MAX], err[128], *drv = NULL;
	size_t		 p2;
	struct strlist	 outs = { NULL, 0, 0 };
	int		 r;

	if (a->whole && a->next == a->end) {
		/* the expression gave more values: one installable each */
		if (inst_add(a->is, a->is->v[a->end - 1].arg, 1) == -1)
			return -1;
		a->end++;
	}
	if (a->next >= a->end) {
		log_errx("nix build --dry-run --json named more derivations "
		    "than it was asked about");
		return -1;
	}
	in = &a->is->v[a->next++];
	while ((r = json_object_next(t, len, &pos, key, sizeof(key))) == 1) {
		if (strcmp(key, "drvPath") == 0) {
			free(drv);
			drv = NULL;
			if (json_string_dup(t, len, &pos, PATH_MAX_LEN,
			    "drvPath", &drv, err, sizeof(err)) == -1)
				goto bad;
		} else if (strcmp(key, "outputs") == 0 &&
		    json_type(t, len, pos) == JSON_OBJECT) {
			p2 = pos;
			while (json_object_next(t, len, &p2, key,
			    sizeof(key)) == 1) {
				if (strlist_add(&outs, key) == -1 ||
				    json_skip(t, len, &p2) == -1)
					goto bad;
			}
			pos = p2;
		} else if (json_skip(t, len, &pos) == -1)
			goto bad;
	}
	if (r == -1 || drv == NULL || !drv_path_valid(drv)) {
		log_errx("%s: the local Nix did not name its derivation (is it "
		    "a derivation, not a store path or a value?)", in->arg);
		goto out;
	}
	in->drv = drv;
	drv = NULL;
	/* Nix's choice of outputs, unless ^ said which */
	if (in->outputs.n == 0 && !in->all) {
		strlist_free(&in->outputs);
		in->outputs = outs;
		outs.v = NULL;
		outs.n = 0;
	}
	a->got++;
	strlist_free(&outs);
	return 0;
bad:
	log_errx("nix build --dry-run --json: an answer not understood");
out:
	free(drv);
	strlist_free(&outs);
	return -1;
}

/* A line nix printed on its stdout: the JSON array, one object each. */
static int
answered(void *arg, const char *line)
{
	struct dryrun	*a = arg;
	size_t		 len = strlen(line), pos = 0;
	char		 err[128];
	int		 r;

	if (line[0] != '[')
		return 0;	/* not the answer */
	if (json_check(line, len, err, sizeof(err)) == -1) {
		log_errx("nix build --dry-run --json printed what is not "
		    "JSON: %s", err);
		return -1;
	}
	while ((r = json_array_next(line, len, &pos)) == 1) {
		if (json_type(line, len, pos) != JSON_OBJECT ||
		    take_one(a, line, len, pos) == -1)
			return -1;
		if (json_skip(line, len, &pos) == -1)
			return -1;
	}
	return r == 0 ? 0 : -1;
}

/*
 * A line of nix's stderr: what the dry run would build or fetch is not
 * for the user (nix-offload says what it builds); the rest (warnings,
 * evaluation errors, traces) is, as nix prints it.
 */
static int
said(void *arg, const char *line)
{
	struct dryrun	*a = arg;
	const char	*p = line;

	/* "this derivation will be built:", "these 2 paths will be ..." */
	if (strncmp(p, "this ", 5) == 0)
		p += 5;
	else if (strncmp(p, "these ", 6) == 0) {
		p += 6;
		p += strspn(p, "0123456789");
		if (*p == ' ')
			p++;
	}
	if (p != line && (strncmp(p, "derivation", 10) == 0 ||
	    strncmp(p, "path", 4) == 0) && strstr(p, " will be ") != NULL) {
		a->listing = 1;
		return 0;
	}
	if (a->listing && strncmp(line, "  " STORE_DIR "/",
	    strlen(STORE_DIR) + 3) == 0)
		return 0;
	a->listing = 0;
	log_child(line, strlen(line));
	log_child("\n", 1);
	return 0;
}

/*
 * Resolve the INST_NIX installables of is with the local Nix: nix build
 * --dry-run --json with the words of nixargs (--impure, --override-input,
 * --arg, -f or --expr, ...).  Its errors (evaluation, a missing flake)
 * are shown as it prints them.  whole: -f or --expr was given with no
 * attribute path, so each value the expression gives is one installable.
 * Returns 0, or -1 (reported).
 */
int
inst_resolve(struct insts *is, const struct args *nixargs, int whole)
{
	struct dryrun	 a;
	struct args	 cmd = { NULL, 0, 0 };
	size_t		 i, first, k;
	int		 status, rc = -1;

	for (first = 0; first < is->n; first = i) {
		for (; first < is->n && is->v[first].kind != INST_NIX; first++)
			;
		if (first == is->n)
			break;
		args_free(&cmd);
		if (args_add(&cmd, "nix") == -1 ||
		    args_add(&cmd, "--extra-experimental-features") == -1 ||
		    args_add(&cmd, "nix-command flakes") == -1 ||
		    args_add(&cmd, "--quiet") == -1 ||
		    args_add(&cmd, "build") == -1 ||
		    args_add(&cmd, "--dry-run") == -1 ||
		    args_add(&cmd, "--json") == -1 ||
		    args_add(&cmd, "--no-link") == -1 ||
		    store_args(&cmd) == -1)
			goto out;
		for (k = 0; k < nixargs->num; k++)
			if (args_add(&cmd, "%s", nixargs->list[k]) == -1)
				goto out;
		/* a batch of consecutive ones: the answer comes in order */
		for (i = first; i < is->n && i < first + INST_BATCH &&
		    is->v[i].kind == INST_NIX; i++)
			if (!whole && args_add(&cmd, "%s", is->v[i].arg) == -1)
				goto out;
		memset(&a, 0, sizeof(a));
		a.is = is;
		a.next = first;
		a.end = i;
		a.whole = whole;
		if (spawn_streams(cmd.list, " (install Nix)", 0, 0, answered,
		    said, &a, &status) == -1 && (status == -1 ||
		    (WIFEXITED(status) && WEXITSTATUS(status) == 0)))
			goto out;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			log_errx("nix could not say what to build (exit %d)",
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			goto out;
		}
		if (a.next != a.end) {
			log_errx("nix build --dry-run --json named %zu "
			    "derivations for %zu installables", a.got,
			    a.end - first);
			goto out;
		}
		i = a.end;	/* whole: it may have grown */
	}
	rc = 0;
out:
	args_free(&cmd);
	return rc;
}

/*
 * Which outputs each installable stands for, now that the graph has read
 * the derivations: those ^ named (each must be one of the derivation's),
 * all of them for ^* or a bare .drv, else Nix's choice; sorted by name,
 * as nix build lists and links them.  Returns 0, or -1 (reported).
 */
int
inst_check_outputs(struct insts *is, const struct graph *g)
{
	size_t	 i, k, o;

	for (i = 0; i < is->n; i++) {
		struct inst		*in = &is->v[i];
		const struct drv	*d;
		const struct drv_output	*out;

		if (in->node < 0)
			continue;
		d = &g->nodes[in->node].d;
		if (in->all || in->outputs.n == 0) {
			strlist_free(&in->outputs);
			for (o = 0; o < d->noutputs; o++)
				if (strlist_add(&in->outputs,
				    d->outputs[o].name) == -1)
					return -1;
		}
		for (k = 0; k < in->outputs.n; k++) {
			if ((out = drv_output(d, in->outputs.v[k])) == NULL) {
				log_errx("%s: %s has no output \"%s\"", in->arg,
				    in->drv, in->outputs.v[k]);
				return -1;
			}
			if (out->path[0] == '\0') {
				log_errx("%s: the path of output %s of %s is "
				    "known only once it is built "
				    "(content-addressed): nix-offload cannot "
				    "build it", in->arg, in->outputs.v[k],
				    in->drv);
				return -1;
			}
		}
		strlist_sort_uniq(&in->outputs);
	}
	return 0;
}

/* Output paths named as installables must be in the local store. */
int
inst_check_paths(const struct insts *is, struct conn *local)
{
	struct strlist	 paths = { NULL, 0, 0 }, valid = { NULL, 0, 0 };
	size_t		 i;
	int		 rc = -1;

	for (i = 0; i < is->n; i++)
		if (is->v[i].kind == INST_PATH &&
		    strlist_add(&paths, is->v[i].path) == -1)
			goto out;
	if (paths.n > 0 &&
	    proto_valid(local, &paths, 0, 0, &valid) == -1)
		goto out;
	for (i = 0; i < paths.n; i++)
		if (!strlist_has(&valid, paths.v[i])) {
			log_errx("%s: not in the local store: nix-offload "
			    "builds derivations (name its .drv, or what "
			    "evaluates to it)", paths.v[i]);
			goto out;
		}
	rc = 0;
out:
	strlist_free(&paths);
	strlist_free(&valid);
	return rc;
}

/* The path of output name of node n (inst_check_outputs: there is one). */
static const char *
out_path(const struct graph *g, long n, const char *name)
{
	const struct drv_output	*o = drv_output(&g->nodes[n].d, name);

	return o != NULL ? o->path : "";
}

/*
 * nix build's links, GC roots: BASE for the first installable's out,
 * BASE-NAME for its other outputs, BASE-I and BASE-I-NAME for the I-th
 * (from 0) after it.  Returns 0, or -1 if one could not be made.
 */
int
inst_links(const struct insts *is, const struct graph *g, const char *base)
{
	char	 link[PATH_MAX_LEN], num[32];
	size_t	 i, k;
	int	 rc = 0;

	for (i = 0; i < is->n; i++) {
		const struct inst *in = &is->v[i];

		num[0] = '\0';
		if (i > 0)
			snprintf(num, sizeof(num), "-%zu", i);
		if (in->kind == INST_PATH) {
			snprintf(link, sizeof(link), "%s%s", base, num);
			if (store_add_root(link, in->path) == -1)
				rc = -1;
			continue;
		}
		for (k = 0; k < in->outputs.n; k++) {
			const char *o = in->outputs.v[k];
			snprintf(link, sizeof(link), "%s%s%s%s", base, num,
			    strcmp(o, "out") ? "-" : "", strcmp(o, "out") ?
			    o : "");
			if (store_add_root(link, out_path(g, in->node, o)) == -1)
				rc = -1;
		}
	}
	return rc;
}

/*
 * What nix build prints: with json, [{"drvPath":...,"outputs":{...}}]
 * ({"path":...} for an output path); with paths, each output path on a
 * line of its own.
 */
void
inst_print(const struct insts *is, const struct graph *g, int json,
    int paths)
{
	size_t	 i, k;

	if (json) {
		putchar('[');
		for (i = 0; i < is->n; i++) {
			const struct inst *in = &is->v[i];
			fputs(i ? ",{" : "{", stdout);
			if (in->kind == INST_PATH) {
				fputs("\"path\":", stdout);
				json_string(stdout, in->path);
				putchar('}');
				continue;
			}
			fputs("\"drvPath\":", stdout);
			json_string(stdout, in->drv);
			fputs(",\"outputs\":{", stdout);
			for (k = 0; k < in->outputs.n; k++) {
				fputs(k ? "," : "", stdout);
				json_string(stdout, in->outputs.v[k]);
				putchar(':');
				json_string(stdout, out_path(g, in->node,
				    in->outputs.v[k]));
			}
			fputs("}}", stdout);
		}
		puts("]");
	}
	if (paths)
		for (i = 0; i < is->n; i++) {
			const struct inst *in = &is->v[i];
			if (in->kind == INST_PATH)
				puts(in->path);
			for (k = 0; in->kind != INST_PATH &&
			    k < in->outputs.n; k++)
				puts(out_path(g, in->node, in->outputs.v[k]));
		}
}
