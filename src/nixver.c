/*
 * The local Nix's version: read from `nix-store --version`, cached in the
 * runtime directory, and compared.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

/*
 * The version in what `nix-store --version` prints, "nix-store (Nix)
 * 2.8.0\n": the word after the first "(Nix) ", up to a space, CR or LF,
 * copied into out as written (callers filter it where they show it).
 * Returns 0, or -1 with out empty when text has no such word or it does
 * not fit in sz bytes.  Prints nothing.
 */
int
nixver_parse(const char *text, char *out, size_t sz)
{
	const char	*p;
	size_t		 n;

	if (sz > 0)
		out[0] = '\0';
	if ((p = strstr(text, "(Nix) ")) == NULL)
		return -1;
	p += 6;
	if ((n = strcspn(p, " \r\n")) == 0 || n >= sz)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

#define NIX_VERSION_CACHE	"local-nix-version"	/* in the runtime dir */
#define NIX_VERSION_TIMEOUT	10	/* seconds nix-store --version may take */


/*
 * The local Nix's version, "2.8.0" (or "lix-2.93.0" for Lix), into buf:
 * from the runtime directory's cache when nix-store has not changed
 * since, else from nix-store --version (a hook process runs per build:
 * the cache saves a process).  Returns 0, or -1 when there is no Nix, or
 * it does not say.
 */
int
nixver_local(char *buf, size_t sz)
{
	char		 line[128], *p;
	char		*argv[] = { "nix-store", "--version", NULL };
	const char	*path = getenv("PATH");
	struct stat	 st;
	long long	 mtime = -1, cm, ino = -1, ci;

	/* which nix-store, and when it last changed */
	while (path != NULL && *path != '\0') {
		size_t	 l = strcspn(path, ":");
		char	 cand[PATH_MAX_LEN];
		snprintf(cand, sizeof(cand), "%.*s/nix-store", (int)l, path);
		if (stat(cand, &st) == 0) {
			mtime = (long long)st.st_mtime;
			ino = (long long)st.st_ino;
			break;
		}
		path += l + (path[l] == ':');
	}
	if (mtime != -1 && sz >= 64 && rundir_read("", NIX_VERSION_CACHE,
	    line, sizeof(line), NULL) > 0 &&
	    sscanf(line, "%lld %lld %63s", &cm, &ci, buf) == 3 &&
	    cm == mtime && ci == ino)
		return 0;
	if (mtime == -1)
		return -1;	/* no Nix here */
	if (spawn_first_line(argv, NIX_VERSION_TIMEOUT, line,
	    sizeof(line)) == -1)
		return -1;
	if ((p = strstr(line, "(Lix")) != NULL &&
	    (p = strstr(p, ") ")) != NULL) {
		p += 2;
		p[strcspn(p, " \r\n")] = '\0';
		snprintf(buf, sz, "lix-%s", p);
	} else if (nixver_parse(line, buf, sz) == -1)
		return -1;
	if (mtime != -1) {
		char	 rec[128];
		int	 k = snprintf(rec, sizeof(rec), "%lld %lld %s\n", mtime,
		    ino, buf);
		if (k > 0 && (size_t)k < sizeof(rec))
			(void)rundir_write("", NIX_VERSION_CACHE, rec,
			    (size_t)k);
	}
	return 0;
}

/*
 * Is version v ("2.28.2", "lix-2.93.0") at least major.minor.patch?  Lix
 * counts as the Nix it forked from, 2.18.  An unknown version is the
 * newest.
 */
int
nixver_at_least(const char *v, int major, int minor, int patch)
{
	int	 a = 0, b = 0, c = 0;

	if (strncmp(v, "lix-", 4) == 0)
		return 2 > major || (2 == major && (18 > minor ||
		    (18 == minor && 0 >= patch)));
	if (sscanf(v, "%d.%d.%d", &a, &b, &c) < 2)
		return 1;
	return a > major || (a == major && (b > minor ||
	    (b == minor && c >= patch)));
}
