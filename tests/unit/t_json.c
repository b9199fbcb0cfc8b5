/*
 * Unit tests for src/json.c: strings written for --json (json_string).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"
#include "harness.h"

/*
 * json_string
 */
static const struct {
	const char	*name, *in, *want;
} json_cases[] = {
	{ "json_plain", "abc", "\"abc\"" },
	{ "json_empty", "", "\"\"" },
	{ "json_quote", "a\"b", "\"a\\\"b\"" },
	{ "json_backslash", "a\\b", "\"a\\\\b\"" },
	{ "json_newline_tab", "a\nb\tc", "\"a\\nb\\tc\"" },
	{ "json_control", "\x01\r\x1f", "\"\\u0001\\u000d\\u001f\"" },
	{ "json_del", "\x7f", "\"\\u007f\"" },
	{ "json_utf8", "\xc3\xa9", "\"\xc3\xa9\"" },
	{ "json_slash", "/nix/store", "\"/nix/store\"" },
};

static void
test_json(void)
{
	char	*buf;
	size_t	 len, i;
	FILE	*f;

	for (i = 0; i < nitems(json_cases); i++) {
		buf = NULL;
		if ((f = open_memstream(&buf, &len)) == NULL)
			abort();
		json_string(f, json_cases[i].in);
		fclose(f);
		report(json_cases[i].name, same("json", buf,
		    json_cases[i].want));
		free(buf);
	}
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_json();
	return done();
}
