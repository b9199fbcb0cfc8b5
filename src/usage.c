/*
 * The commands, one entry each: the words of its synopsis as
 * nix-offload.1 has them, a line on what it does and a line per option.
 * `nix-offload help`, `CMD --help`, every usage error and the parser of
 * every command's options (usage_next) work from it, so that none of
 * them can disagree with another (tests/help.sh holds the man page to
 * it).  main() has the functions that run them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

#define HELP_WIDTH	79	/* columns of help text */
#define HELP_NAME_IN	2	/* `nix-offload help`: a command's line... */
#define HELP_SYN_IN	8	/* its synopsis, wrapped */
#define HELP_ABOUT_IN	13	/* what it does */

/* `builder-options` in a synopsis */
#define BUILDER_OPTIONS \
	"--builders spec\tthe builders, instead of nix.conf's\n" \
	"--option name value\ta nix.conf setting, as Nix's --option\n"

/*
 * The commands, in the order `nix-offload help` lists them.  options:
 * a line per option, its words and what it does split by a tab, in the
 * synopsis's order; other names of the option follow its own after a
 * comma ("--keep-going, -k").
 */
static const struct usage cmds[] = {
	{ "build", NULL, CMD_SSH | CMD_RUNDIR,
	  "[builder-options] [-o link] [-j n] [--keep-going] [--keep-failed] "
	  "[--store uri] [--json] [-A attr] [--arg name expr] [--argstr name string] "
	  "[--impure] [--override-input input flakeref] [--no-link] "
	  "[--print-out-paths] [-L] [--expr expr | -f file] "
	  "installable | drv | file.nix | expr ...",
	  "build on the builders, as nix build or nix-build would here",
	  BUILDER_OPTIONS
	  "-o link, --out-link\tGC-rooted links to the outputs\n"
	  "-j n, --max-jobs\tat most n builds at once (default: slots)\n"
	  "--keep-going, -k\tgo on with what needs no failed build\n"
	  "--keep-failed, -K\tthe builder keeps a failed build's directory\n"
	  "--store uri\tthe local store to build into (nix build --store)\n"
	  "--json\tprint [{\"drvPath\":...,\"outputs\":{...}}]\n"
	  "-A attr\tthe attribute to build (nix-instantiate -A)\n"
	  "--arg name expr\tan argument for the function\n"
	  "--argstr name string\ta string argument\n"
	  "--impure\tevaluate impurely, as nix build\n"
	  "--override-input input flakeref\tas nix build\n"
	  "--no-link, --no-out-link\tno ./result links\n"
	  "--print-out-paths\tprint the output paths\n"
	  "-L, --print-build-logs\tthe build logs, not a failed one's tail\n"
	  "--expr expr\tinstallables are attributes of expr\n"
	  "-f file, --file\tinstallables are attributes of file\n" },
	{ "copy", NULL, CMD_SSH | CMD_RUNDIR,
	  "--to uri | --from uri [--include-outputs] path ...",
	  "copy closures to or from a builder, like nix-copy-closure",
	  "--to uri\tcopy to the store at uri\n"
	  "--from uri\tcopy from the store at uri\n"
	  "--include-outputs\tthe outputs of derivations in the closures too\n" },
	{ "check", NULL, CMD_SSH | CMD_RUNDIR,
	  "[--json] [-j n] [builder-options]",
	  "probe every builder: up, round trip, Nix, disk, load, writes",
	  "--json\tprint an array of objects, a builder each\n"
	  "-j n\tprobe at most n builders at once (default 16)\n"
	  BUILDER_OPTIONS },
	{ "machines", NULL, CMD_SSH,
	  "[--json] [builder-options]",
	  "the effective builders, where each came from, which are down",
	  "--json\tprint an array of objects, a builder each\n"
	  BUILDER_OPTIONS },
	{ "enable", NULL, CMD_SSH | CMD_RUNDIR,
	  "[builder-options] uri ... | --all",
	  "try builders that are down again at once",
	  BUILDER_OPTIONS
	  "--all\tevery builder\n" },
	{ "status", NULL, CMD_SSH | CMD_RUNDIR,
	  "[--json] [--watch] [builder-options]",
	  "what runs where, queued and down, without new connections",
	  "--json\tprint {\"builders\":[...],\"runs\":[...]}\n"
	  "--watch\tdraw it again every second, until interrupted\n"
	  BUILDER_OPTIONS },
	{ "why", NULL, CMD_SSH | CMD_RUNDIR,
	  "[--json] [builder-options] [-A attr] [--arg name expr] "
	  "[--argstr name string] drv | file.nix | expr ...",
	  "why each builder takes a derivation or not, and which would",
	  "--json\tprint an array of objects, a derivation each\n"
	  BUILDER_OPTIONS
	  "-A attr\tthe attribute (nix-instantiate -A)\n"
	  "--arg name expr\tan argument for the function (nix-instantiate)\n"
	  "--argstr name string\ta string argument (nix-instantiate)\n" },
	/* the hook checks the runtime directory itself: it must answer Nix */
	{ "hook", "__build-remote", CMD_SSH,
	  "verbosity",
	  "Nix's build hook; also run as .../libexec/nix-offload/build-hook",
	  "" },
	{ "store-info", "ping", CMD_SSH | CMD_RUNDIR,
	  "[--json] [--store] uri",
	  "connect to a store, print its protocol, Nix version and trust",
	  "--json\tprint one JSON object\n"
	  "--store\tthe URI follows (as in nix store info --store uri)\n" },
	{ "help", NULL, 0,
	  "[command]",
	  "this text, or a command's (as nix-offload command --help)",
	  "" },
	{ "version", NULL, 0,
	  "",
	  "print nix-offload's version",
	  "" },
	{ NULL, NULL, 0, NULL, NULL, NULL }
};

/* After the commands in `nix-offload help`, as it always was. */
static const char help_tail[] =
"\n"
"where builder-options are --builders spec and --option name value.\n"
"\n"
"options:\n"
"  -v         say more (-v decisions, -vv protocol steps and the ssh\n"
"             command line, -vvvv ssh's own debug output)\n"
"\n"
"environment:\n"
"  NIX_SSHOPTS                  extra ssh options, split like a shell would\n"
"  NIX_OFFLOAD_SSH              the ssh program (default: ssh)\n"
"  NIX_OFFLOAD_RUNTIME_DIR      control sockets, slot locks, health (default:\n"
"                               root: /run/nix-offload; others:\n"
"                               $XDG_RUNTIME_DIR/nix-offload or\n"
"                               /tmp/nix-offload-UID); must be 0700, ours\n"
"  NIX_OFFLOAD_ROOT_RUNTIME_DIR root's, whose summary others read (default\n"
"                               /run/nix-offload)\n"
"  NIX_OFFLOAD_PERSIST          seconds an idle master stays (default 300)\n"
"  NIX_OFFLOAD_CONNECT_TIMEOUT  seconds to connect (default 10)\n"
"  NIX_OFFLOAD_ALIVE_INTERVAL   seconds between keepalives (default 15)\n"
"  NIX_OFFLOAD_IO_TIMEOUT       seconds a builder may be silent outside a\n"
"                               build (default 300)\n"
"  NIX_OFFLOAD_BACKOFF          seconds a failed builder is skipped, x3 for\n"
"                               each failure in a row (default 60)\n"
"  NIX_OFFLOAD_NIX_RULES        read builders specs as this Nix version\n"
"                               does (default: the installed one)\n"
"  NIX_OFFLOAD_SLOT_TIMEOUT     seconds to wait for a builder's slot that\n"
"                               other processes hold (default 43200)\n"
"  NIX_CONF_DIR, NIX_USER_CONF_FILES, XDG_CONFIG_HOME, XDG_CONFIG_DIRS,\n"
"  NIX_CONFIG                   where nix.conf is read, as Nix reads it\n"
"\n"
"exit status: 0 ok, 1 error, 2 usage or configuration, 3 unreachable,\n"
"4 authentication refused, 5 host key, 6 no nix-store on the builder,\n"
"7 shell banner, 8 protocol, 9 connection dropped; build: 100 a build\n"
"failed, 101 timed out, 102 hash mismatch, 104 not deterministic (as\n"
"Nix); see nix-offload(1).\n";

/* The command called name, or by it as another name; NULL if none. */
const struct usage *
usage_find(const char *name)
{
	const struct usage	*c;

	for (c = cmds; c->name != NULL; c++)
		if (strcmp(name, c->name) == 0 ||
		    (c->alias != NULL && strcmp(name, c->alias) == 0))
			return c;
	return NULL;
}

/*
 * The length of the first unit of a synopsis, which a line may not break:
 * a word, a bracket with what it holds, or alternatives ("a | b") and a
 * repeat ("uri ...") with the words around them.
 */
static size_t
unit(const char *p)
{
	const char	*q;
	int		 depth = 0;

	for (q = p; *q != '\0'; q++) {
		if (*q == '[')
			depth++;
		else if (*q == ']')
			depth--;
		else if (*q == ' ' && depth == 0 && q[-1] != '|' &&
		    q[1] != '|' && strncmp(q + 1, "...", 3) != 0)
			break;
	}
	return (size_t)(q - p);
}

/*
 * words to f, each after a space, the cursor at column col: wrapped at
 * HELP_WIDTH between units, the lines after the first indented to column
 * indent.  Returns the column it ends at.
 */
static size_t
wrap(FILE *f, size_t col, size_t indent, const char *words)
{
	const char	*p, *q;
	size_t		 len;

	for (p = words; *p != '\0'; p = q) {
		while (*p == ' ')
			p++;
		len = unit(p);
		q = p + len;
		if (len == 0)
			break;
		if (col > indent && col + 1 + len > HELP_WIDTH) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", (int)len, p);
		col += len;
	}
	return col;
}

/* The width of the widest option's words, for a column. */
static size_t
options_width(const char *o)
{
	size_t	 k, w, max = 0;

	for (; *o != '\0'; o += k + (o[k] == '\n')) {
		k = strcspn(o, "\n");
		if ((w = strcspn(o, "\t\n")) > max)
			max = w;
	}
	return max;
}

/* "LEAD nix-offload NAME SYNOPSIS", wrapped under its first word. */
static void
usage_line(FILE *f, const char *lead, const char *name, const char *synopsis)
{
	size_t	 col;

	fprintf(f, "%s nix-offload %s", lead, name);
	col = strlen(lead) + strlen(" nix-offload ") + strlen(name);
	(void)wrap(f, col, col + 1, synopsis);
	fputc('\n', f);
}

/*
 * A command's help, as `nix-offload CMD --help` prints it: the usage
 * line, what it does, its options in a column.
 */
static void
help_one(FILE *f, const struct usage *c)
{
	const char	*o;
	size_t		 w, k, t;

	usage_line(f, "usage:", c->name, c->synopsis);
	if (c->alias != NULL)
		usage_line(f, "   or:", c->alias, c->synopsis);
	fprintf(f, "\n%s\n", c->about);
	if (c->options[0] == '\0')
		return;
	fputs("\noptions:\n", f);
	w = options_width(c->options);
	for (o = c->options; *o != '\0'; o += k + (o[k] == '\n')) {
		k = strcspn(o, "\n");
		t = strcspn(o, "\t\n");
		fprintf(f, "  %-*.*s", (int)w, (int)t, o);
		if (t < k)
			fprintf(f, "  %.*s", (int)(k - t - 1), o + t + 1);
		fputc('\n', f);
	}
}

/*
 * The help of command c to f; with c NULL, `nix-offload help`: every
 * command, the global option, the environment and the exit statuses.
 */
void
usage_print(FILE *f, const struct usage *c)
{
	size_t	 col;

	if (c != NULL) {
		help_one(f, c);
		return;
	}
	fputs("usage: nix-offload [-v...] command [arg ...]\n"
	    "       nix-offload command --help\n"
	    "\n"
	    "commands:\n", f);
	for (c = cmds; c->name != NULL; c++) {
		fprintf(f, "%*s%s", HELP_NAME_IN, "", c->name);
		col = HELP_NAME_IN + strlen(c->name);
		if (c->alias != NULL) {
			fprintf(f, " | %s", c->alias);
			col += 3 + strlen(c->alias);
		}
		col = wrap(f, col, HELP_SYN_IN, c->synopsis);
		if (col < HELP_ABOUT_IN - 1)
			fprintf(f, "%*s", (int)(HELP_ABOUT_IN - col), "");
		else
			fprintf(f, "\n%*s", HELP_ABOUT_IN, "");
		fprintf(f, "%s\n", c->about);
	}
	fputs(help_tail, f);
}

/*
 * A usage error of command name, through log.c: its synopsis and where
 * to read more.
 */
void
usage_error(const char *name)
{
	const struct usage	*c;

	if ((c = usage_find(name)) == NULL) {
		log_errx("unknown command \"%s\" (see nix-offload --help)",
		    name);
		return;
	}
	log_errx("usage: nix-offload %s%s%s (see nix-offload %s --help)",
	    c->name, c->synopsis[0] != '\0' ? " " : "", c->synopsis, c->name);
}

/*
 * Does the options line at o (up to its tab) give the option word w?
 * Its names are its first word and what follows each ", "; *arity gets
 * how many words the option takes (those after its first name).
 */
static int
names(const char *o, const char *w, int *arity)
{
	size_t	 len = strcspn(o, "\t\n"), k, wl = strlen(w);
	const char *p, *end = o + len;
	int	 n = 0, hit = 0;

	/* "-o link, --out-link": the first segment's words */
	k = strcspn(o, ",\t\n");
	for (p = o; p < o + k; p += strspn(p, " ")) {
		size_t	 l = strcspn(p, " ,\t\n");
		if (l == 0)
			break;
		if (n == 0 && l == wl && strncmp(p, w, l) == 0)
			hit = 1;
		n++;
		p += l;
	}
	*arity = n > 0 ? n - 1 : 0;
	/* and the other names */
	for (p = o + k; p < end && *p == ','; ) {
		p += 1 + strspn(p + 1, " ");
		k = strcspn(p, ",\t\n");
		if (k == wl && strncmp(p, w, k) == 0)
			hit = 1;
		p += k;
	}
	return hit;
}

/*
 * The next word of a command's arguments, argv[*i] on (*i starts at 1):
 * an option of the command's table, with its words (USAGE_OPTION), or an
 * operand (USAGE_OPERAND, in o->arg[0]); USAGE_END after the last.
 * -v, -vv... and --verbose (any command's) are taken here; after "--"
 * every word is an operand.  o->name is the option's first name in the
 * table, whichever name was used.  o starts zeroed, and is given again to
 * every call for the same command line.  Returns -1 (said in one line, with
 * where to read more) for an unknown option or missing words.
 */
int
usage_next(const struct usage *c, int argc, char **argv, int *i,
    struct usage_opt *o)
{
	const char	*w, *line;
	size_t		 k;
	int		 arity, j;

	o->name = NULL;
	o->arg[0] = o->arg[1] = NULL;
	for (; *i < argc; (*i)++) {
		w = argv[*i];
		if (o->dashdash || w[0] != '-' || w[1] == '\0') {
			o->arg[0] = argv[(*i)++];
			return USAGE_OPERAND;
		}
		if (strcmp(w, "--") == 0) {
			o->dashdash = 1;
			continue;
		}
		if (strcmp(w, "--verbose") == 0) {
			verbose++;
			continue;
		}
		if (w[1] == 'v' && strspn(w + 1, "v") == strlen(w + 1)) {
			verbose += (int)strlen(w + 1);
			continue;
		}
		for (line = c->options; *line != '\0';
		    line += k + (line[k] == '\n')) {
			k = strcspn(line, "\n");
			if (!names(line, w, &arity))
				continue;
			if (*i + arity >= argc) {
				log_errx("%s: %s needs %d word%s after it (see "
				    "nix-offload %s --help)", c->name, w, arity,
				    arity == 1 ? "" : "s", c->name);
				return -1;
			}
			o->name = o->namebuf;
			snprintf(o->namebuf, sizeof(o->namebuf), "%.*s",
			    (int)strcspn(line, " ,\t\n"), line);
			for (j = 0; j < arity; j++)
				o->arg[j] = argv[*i + 1 + j];
			*i += 1 + arity;
			return USAGE_OPTION;
		}
		log_errx("%s: unknown option %s (see nix-offload %s --help)",
		    c->name, w, c->name);
		return -1;
	}
	return USAGE_END;
}
