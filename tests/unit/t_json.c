/*
 * Unit tests for src/json.c: strings written for --json (json_string),
 * and the reader's own calls on a checked text (json_find, json_type,
 * json_array_next, json_string_dup).  What the reader refuses is tested
 * through the structured attrs of a derivation, in t_features.c.
 */
#include <stdio.h>
#include <stdint.h>
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

/*
 * json.c's own calls on a checked text: members found by name, each
 * value's type, an array stepped through, strings read out of it.
 */
static int
json_api(void)
{
	static const char	 t[] = " { \"s\" : \"x\", \"n\": -1.5e3, "
	    "\"o\": {\"a\": [1]}, \"t\": true, \"f\": false, \"z\": null, "
	    "\"e\": [ ], \"a\": [ \"p\" , [2], \"q\\u00e9\" ], "
	    "\"a\": [\"last\"] } ";
	static const struct {
		const char	*key;
		enum json_type	 type;
	} m[] = {
		{ "s", JSON_STRING }, { "n", JSON_NUMBER }, { "o", JSON_OBJECT },
		{ "t", JSON_TRUE }, { "f", JSON_FALSE }, { "z", JSON_NULL },
		{ "e", JSON_ARRAY }, { "a", JSON_ARRAY }
	};
	char		 err[512], want[64], *s = NULL;
	size_t		 at, pos, len = sizeof(t) - 1, i;

	for (i = 0; i < nitems(m); i++) {
		if (json_find(t, len, m[i].key, &at, err, sizeof(err)) == -1)
			return no("%s", err);
		if (at == SIZE_MAX || json_type(t, len, at) != m[i].type)
			return no("member %s: type %d, want %d", m[i].key,
			    at == SIZE_MAX ? -1 : (int)json_type(t, len, at),
			    (int)m[i].type);
	}
	if (json_find(t, len, "x", &at, err, sizeof(err)) == -1 ||
	    at != SIZE_MAX)
		return no("found a member x");
	if (json_type(t, len, len) != JSON_NONE)
		return no("a type past the end");
	json_find(t, len, "s", &pos, err, sizeof(err));
	if (json_array_next(t, len, &pos) != -1)
		return no("a string stepped through as an array");
	json_find(t, len, "e", &pos, err, sizeof(err));
	if (json_array_next(t, len, &pos) != 0 || t[pos] != ',')
		return no("[ ]: not empty at once");
	/* the first of the two "a": the last is what json_find gives */
	pos = (size_t)(strstr(t, "[ \"p\"") - t);
	if (json_array_next(t, len, &pos) != 1 ||
	    json_string_dup(t, len, &pos, 16, "p", &s, err, sizeof(err)) == -1 ||
	    strcmp(s, "p") != 0)
		return no("first element: %s", s ? s : err);
	free(s);
	s = NULL;
	if (json_array_next(t, len, &pos) != 1 ||
	    json_type(t, len, pos) != JSON_ARRAY)
		return no("second element not an array");
	snprintf(want, sizeof(want), "offset %zu: expected '\"', got '['",
	    (size_t)(strstr(t, "[2]") - t));
	if (json_string_dup(t, len, &pos, 16, "an array", &s, err,
	    sizeof(err)) != -1 || s != NULL || strcmp(err, want) != 0)
		return no("an array read as a string: \"%s\"", err);
	pos += 3;
	snprintf(want, sizeof(want), "offset %zu: q longer than 2 bytes",
	    (size_t)(strstr(t, "\"q") - t));
	if (json_array_next(t, len, &pos) != 1 ||
	    json_string_dup(t, len, &pos, 2, "q", &s, err, sizeof(err)) != -1 ||
	    strcmp(err, want) != 0)
		return no("a long string: \"%s\"", err);
	if (json_string_dup(t, len, &pos, 3, "q", &s, err, sizeof(err)) == -1 ||
	    strcmp(s, "q\xc3\xa9") != 0)
		return no("\\u00e9: %s", err);
	free(s);
	if (json_array_next(t, len, &pos) != 0 || t[pos] != ',')
		return no("the end of the array not seen");
	return 1;
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_json();
	report("json: find, types, arrays, strings", json_api());
	return done();
}
