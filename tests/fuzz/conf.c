/*
 * Fuzz target: nix.conf (conf_load), and the builders spec it sets
 * (common_machines).  The input is $NIX_CONF_DIR/nix.conf, in the
 * target's scratch directory (fuzz.h), beside a few files to include:
 * inc.conf (settings), loop.conf (includes nix.conf: a cycle), c1.conf
 * ... c17.conf (each includes the next: too deep) and machines.  An input
 * that begins with the line "NIX_CONFIG" is, after it, $NIX_CONFIG
 * instead, up to its first NUL.  What loads is printed setting by
 * setting, as `nix show-config` would, loaded again as NIX_CONFIG and
 * must show the same (FUZZ_ROUNDTRIP=0: no check).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static const char *const names[] = {
	"builders", "builders-use-substitutes", "extra-platforms",
	"max-build-log-size", "max-jobs", "max-silent-time", "system",
	"system-features", "timeout"
};
#define NNAMES	(sizeof(names) / sizeof(names[0]))
#define VALMAX	(CONF_LINE_MAX + PATH_MAX)
#define CHAIN	(CONF_DEPTH_MAX + 1)
#define ENVMARK	"NIX_CONFIG\n"

/*
 * NIX_CONFIG, set once with putenv and rewritten in place: setenv would
 * keep every old value, and the process would grow with each input.
 */
static char	 envbuf[sizeof("NIX_CONFIG=") + CONF_FILE_MAX];
#define ENVTEXT	(envbuf + sizeof("NIX_CONFIG=") - 1)
#define ENVROOM	(sizeof(envbuf) - sizeof("NIX_CONFIG=") + 1)

static void
setup(void)
{
	static const char inc[] = "max-jobs = 3\nextra-system-features = "
	    "kvm\nbuilders = @machines\n";
	static const char loop[] = "include nix.conf\n";
	static const char machines[] = "ssh://a x86_64-linux - 2\n";
	char		 name[16], text[64];
	int		 i;

	fuzz_put(fuzz_dir, "inc.conf", inc, sizeof(inc) - 1);
	fuzz_put(fuzz_dir, "loop.conf", loop, sizeof(loop) - 1);
	fuzz_put(fuzz_dir, "machines", machines, sizeof(machines) - 1);
	for (i = 1; i <= CHAIN; i++) {
		snprintf(name, sizeof(name), "c%d.conf", i);
		snprintf(text, sizeof(text), "timeout = %d\ninclude c%d.conf\n",
		    i, i + 1);
		fuzz_put(fuzz_dir, name, text, strlen(text));
	}
	strlcpy(envbuf, "NIX_CONFIG=", sizeof(envbuf));
	if (putenv(envbuf) != 0)
		abort();
}

/* Every setting as `nix show-config` prints it: "name = value\n"... */
static char *
show(const struct conf *c)
{
	char	*buf = NULL, *val;
	size_t	 len, i;
	FILE	*f;

	if ((val = malloc(VALMAX)) == NULL ||
	    (f = open_memstream(&buf, &len)) == NULL)
		abort();
	for (i = 0; i < NNAMES; i++) {
		if (conf_value(c, names[i], val, VALMAX) == -1)
			fuzz_fail("conf_value(%s) failed", names[i]);
		fprintf(f, "%s = %s\n", names[i], val);
	}
	if (fclose(f) != 0)
		abort();
	free(val);
	return buf;
}

static void
input(const uint8_t *data, size_t size)
{
	struct conf	 c;
	struct machines	 ms;
	char		*shown, *again;
	size_t		 mark = sizeof(ENVMARK) - 1, n;

	ENVTEXT[0] = '\0';
	if (size >= mark && memcmp(data, ENVMARK, mark) == 0) {
		fuzz_put(fuzz_dir, "nix.conf", "", 0);
		n = size - mark < ENVROOM - 1 ? size - mark : ENVROOM - 1;
		memcpy(ENVTEXT, data + mark, n);
		ENVTEXT[n] = '\0';
	} else
		fuzz_put(fuzz_dir, "nix.conf", data, size);
	conf_init(&c);
	if (conf_load(&c) == -1) {
		conf_free(&c);
		return;
	}
	shown = show(&c);
	if (common_machines(&c, &ms) == 0)
		machines_free(&ms);
	else if (ms.n != 0 || ms.v != NULL)
		abort();
	conf_free(&c);

	if (fuzz_roundtrip) {
		/* no nix.conf this time: only what was shown */
		fuzz_put(fuzz_dir, "nix.conf", "", 0);
		if (strlcpy(ENVTEXT, shown, ENVROOM) >= ENVROOM) {
			free(shown);
			return;		/* too long for NIX_CONFIG */
		}
		conf_init(&c);
		if (conf_load(&c) == -1)
			fuzz_fail("the settings shown do not load again:\n%s",
			    shown);
		again = show(&c);
		if (strcmp(shown, again) != 0)
			fuzz_fail("shown:\n%sshown after loading that:\n%s",
			    shown, again);
		free(again);
		conf_free(&c);
	}
	free(shown);
}

const struct fuzz_target fuzz_target = { "conf", setup, input };
