/*
 * Golden files of the configuration tests: see golden.h.
 *
 * The golden files name each other as @DATA@/...: a relative @FILE is read
 * from /, so they need absolute paths.  They are used from a copy of data/
 * in the scratch directory, with @DATA@ made real there, and put back in
 * what is compared or rewritten.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "harness.h"
#include "golden.h"

char		 golden_data[PATH_MAX];
static int	 update;		/* -u: rewrite, do not compare */

/* What a golden env file may set: each unset before one is read. */
static const char *const envvars[] = {
	"NIX_CONF_DIR", "NIX_USER_CONF_FILES", "NIX_CONFIG", "XDG_CONFIG_HOME",
	"XDG_CONFIG_DIRS", "NIX_REMOTE_SYSTEMS", "HOME"
};

/* snprintf that gives up on truncation: test paths must fit */
void
xsnprintf(char *buf, size_t sz, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sz) {
		fprintf(stderr, "unit: a test path is too long\n");
		exit(2);
	}
}

/*
 * Before any case: "-u" in argv makes golden_check rewrite; the
 * configurations are read as Nix 2.8, whatever is installed
 * (tests/machines.sh holds them to it); data/ is copied into the scratch
 * directory as golden_data, @DATA@ made real.  Run from tests/.
 */
void
golden_init(int argc, char *argv[])
{
	char	 cmd[4 * PATH_MAX];

	if (argc > 1 && strcmp(argv[1], "-u") == 0)
		update = 1;
	setenv("NIX_OFFLOAD_NIX_RULES", "2.8.0", 1);
	if (access("data/machines", F_OK) == -1) {
		fprintf(stderr, "%s: run me from tests/\n", argv[0]);
		exit(2);
	}
	xsnprintf(golden_data, sizeof(golden_data), "%s/data", scratch_dir());
	xsnprintf(cmd, sizeof(cmd), "cp -R data '%s' && find '%s' -type f "
	    "-exec sed -i 's|@DATA@|%s|g' {} +", golden_data, golden_data,
	    golden_data);
	if (system(cmd) != 0) {
		fprintf(stderr, "%s: could not copy data/ to %s\n", argv[0],
		    golden_data);
		exit(2);
	}
}

/* s with every from replaced by to; the caller frees it. */
static char *
subst(const char *s, const char *from, const char *to)
{
	size_t	 n = 1, fl = strlen(from), tl = strlen(to);
	const char *p;
	char	*out, *o;

	for (p = s; (p = strstr(p, from)) != NULL; p += fl)
		n++;
	if ((out = o = malloc(strlen(s) + n * tl + 1)) == NULL)
		exit(2);
	while ((p = strstr(s, from)) != NULL) {
		memcpy(o, s, (size_t)(p - s));
		o += p - s;
		memcpy(o, to, tl);
		o += tl;
		s = p + fl;
	}
	strcpy(o, s);
	return out;
}

/* A file's text, @DATA@ expanded (the caller frees it); NULL if none. */
char *
golden_read(const char *path)
{
	char	*buf, *s;
	size_t	 len;

	if (conf_read_file(path, CONF_FILE_MAX, &buf, &len, NULL) == -1)
		return NULL;
	s = subst(buf, "@DATA@", golden_data);
	free(buf);
	return s;
}

/* Write text to path (@DATA@ put back), or remove path when text is NULL. */
static void
spit(const char *path, const char *text)
{
	FILE	*f;
	char	*s;

	if (text == NULL) {
		unlink(path);
		return;
	}
	s = subst(text, golden_data, "@DATA@");
	if ((f = fopen(path, "w")) == NULL || fputs(s, f) == EOF ||
	    fclose(f) == EOF) {
		perror(path);
		exit(2);
	}
	free(s);
}

/*
 * Compare what came (NULL: nothing) with what the golden file path says
 * (absent: nothing), through no(); what names it in the message.  With -u,
 * the file is rewritten instead.
 */
void
golden_check(const char *path, const char *got, const char *what)
{
	char	*want;

	if (update) {
		spit(path, got);
		return;
	}
	want = golden_read(path);
	if (want == NULL && got != NULL)
		no("%s: no %s expected, got: %s", path, what, got);
	else if (want != NULL && got == NULL)
		no("%s: expected %s \"%s\", got none", path, what, want);
	else if (want != NULL && strcmp(want, got) != 0)
		no("%s: %s differs:\nwant: %s\ngot:  %s", path, what, want,
		    got);
	free(want);
}

/* "" for none, else the text: for golden files that may be absent. */
const char *
golden_opt(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

/* The builders as `nix-offload machines [--json]` lists them; freed by
 * the caller. */
char *
golden_listing(const struct machines *ms, int json)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		exit(2);
	builders_print(f, ms, json);
	fclose(f);
	return buf;
}

/* Unset every variable a golden env file may set. */
void
golden_env_clear(void)
{
	size_t	 i;

	for (i = 0; i < nitems(envvars); i++)
		unsetenv(envvars[i]);
}

/*
 * Set the environment from the golden env file in dir (VAR=VALUE lines,
 * "\n" for a newline), after golden_env_clear(); 0, or -1 if none.
 */
int
golden_env(const char *dir)
{
	char	 path[PATH_MAX], *text, *line, *next, *eq, *val;

	golden_env_clear();
	xsnprintf(path, sizeof(path), "%s/env", dir);
	if ((text = golden_read(path)) == NULL)
		return -1;
	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '#' || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		val = subst(eq + 1, "\\n", "\n");
		setenv(line, val, 1);
		free(val);
	}
	free(text);
	return 0;
}
