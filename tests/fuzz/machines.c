/*
 * Fuzz target: builders specs and machines files (machines_parse), and
 * `nix-offload machines`, whose text output claims to be valid machines
 * entries: what parses is printed, parsed again and must come back the
 * same (FUZZ_ROUNDTRIP=0 turns that check off).
 *
 * The input is parsed as the file FILES/top, beside machines files to
 * include (FILES is /tmp/nix-offload-fuzz-machines, fixed so that seeds
 * can name it): a and b include each other, d1 ... d9 each the next one.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define SYSTEM	"x86_64-linux"
#define FILES	"/tmp/nix-offload-fuzz-machines"

/* Write FILES/name (fuzz_put: other runs may be reading it). */
static void
put(const char *name, const char *text)
{
	fuzz_put(FILES, name, text, strlen(text));
}

static void
setup(void)
{
	char	 name[8], text[128];
	int	 i;

	if (mkdir(FILES, 0700) == -1 && errno != EEXIST)
		abort();
	put("top", "");
	put("a", "hostA x86_64-linux\n@" FILES "/b\n");
	put("b", "hostB aarch64-linux - 2 ; @" FILES "/a\n");
	for (i = 1; i <= 9; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		snprintf(text, sizeof(text), "host%d\n@" FILES "/d%d\n", i,
		    i + 1);
		put(name, text);
	}
}

static char *
print(const struct machines *ms, size_t *len)
{
	char	*buf = NULL;
	FILE	*f;

	if ((f = open_memstream(&buf, len)) == NULL)
		abort();
	builders_print(f, ms, 0);
	if (fclose(f) != 0)
		abort();
	return buf;
}

static int
same_list(const struct strlist *a, const struct strlist *b)
{
	size_t	 i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Which field of machine i differs, or NULL. */
static const char *
differs(const struct machine *a, const struct machine *b)
{
	if (strcmp(a->uri_text, b->uri_text) != 0)
		return "uri";
	if (!same_list(&a->systems, &b->systems))
		return "systems";
	if (!same_str(a->ssh_key, b->ssh_key))
		return "ssh key";
	if (a->max_jobs != b->max_jobs)
		return "max jobs";
	if (a->speed_factor != b->speed_factor)
		return "speed factor";
	if (!same_list(&a->supported, &b->supported))
		return "supported features";
	if (!same_list(&a->mandatory, &b->mandatory))
		return "mandatory features";
	if (!same_str(a->host_key_b64, b->host_key_b64))
		return "host key";
	if (a->usable != b->usable)
		return "usable";
	return NULL;
}

static void
input(const uint8_t *data, size_t size)
{
	struct machines	 ms, again;
	const char	*what;
	char		*text;
	size_t		 len, i;

	if (machines_parse((const char *)data, size, FILES "/top", SYSTEM,
	    &ms) == -1) {
		if (ms.n != 0 || ms.v != NULL)
			abort();	/* -1 promises out empty */
		return;
	}
	builders_print(fuzz_null, &ms, 1);
	if (fuzz_roundtrip) {
		text = print(&ms, &len);
		if (machines_parse(text, len, "/fuzz/printed", SYSTEM,
		    &again) == -1)
			fuzz_fail("printed entries do not parse again:\n%s",
			    text);
		if (again.n != ms.n)
			fuzz_fail("%zu entries printed, %zu read back:\n%s",
			    ms.n, again.n, text);
		for (i = 0; i < ms.n; i++)
			if ((what = differs(&ms.v[i], &again.v[i])) != NULL)
				fuzz_fail("entry %zu: the %s changed when "
				    "printed and read back:\n%s", i + 1, what,
				    text);
		machines_free(&again);
		free(text);
	}
	machines_free(&ms);
}

const struct fuzz_target fuzz_target = { "machines", setup, input };
