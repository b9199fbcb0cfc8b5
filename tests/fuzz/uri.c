/*
 * Fuzz target: the small parsers of strings from the command line, the
 * environment and machines files: store URIs (uri_parse), pinned host
 * keys (uri_hostkey) and NIX_SSHOPTS (args_split).  The input, up to
 * its first NUL, goes to each.  What args_split reads is quoted again
 * with args_join, which must split back into the same words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static void
split_join_split(const char *s)
{
	struct args	 a, b;
	char		*line;
	size_t		 i;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (args_split(s, &a) == -1) {
		args_free(&a);
		return;
	}
	if (a.num == 0) {
		args_free(&a);
		return;
	}
	if ((line = args_join(a.list)) == NULL)
		abort();
	if (args_split(line, &b) == -1 || a.num != b.num)
		fuzz_fail("args_join's line does not split into the same %zu "
		    "words: \"%s\"", a.num, line);
	for (i = 0; i < a.num; i++)
		if (strcmp(a.list[i], b.list[i]) != 0)
			fuzz_fail("word %zu, \"%s\", came back as \"%s\" from "
			    "\"%s\"", i, a.list[i], b.list[i], line);
	free(line);
	args_free(&a);
	args_free(&b);
}

static void
input(const uint8_t *data, size_t size)
{
	struct store_uri	 u;
	char			*s, *key;

	s = fuzz_text(data, size);
	if (uri_parse(s, &u) == 0) {
		if (u.host == NULL || u.port < 0 || u.port > 65535 ||
		    strlen(u.display) >= sizeof(u.display))
			abort();
		uri_free(&u);
	}
	if ((key = uri_hostkey(s)) != NULL)
		free(key);
	split_join_split(s);
}

const struct fuzz_target fuzz_target = { "uri", NULL, input };
