/*
 * Unit tests for src/args.c: shell words quoted (args_quote, checked
 * through /bin/sh), joined (args_join) and split as a shell would
 * (args_split, for NIX_SSHOPTS).
 *
 * Cases marked "regression:" failed when they were written, for a defect
 * in src/ since fixed; they stay so that it does not come back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"
#include "harness.h"

/*
 * Shell words.  The strings below are what a shell must not interpret.
 */

static const char *const nasty[] = {
	"", " ", "'", "''", "\"", "\\", "\\'", "$HOME", "$(echo pwned)",
	"`echo pwned`", "a\nb", "x\n", "a\tb", ";ls", "|cat", "&", "&&", "*",
	"?", "[a]", "~", "~root", "#c", "!x", "{a,b}", "a=b", "%s%d", "-n",
	"--", "\x01\x7f", "\xc3\xa9t\xc3\xa9", "\xff", "it's", "a'b\"c\\d$e`f",
	"'\\''", "<in", ">out", "(sub)", "a  b",
};

static const struct {
	const char	*name, *in, *want;
} quote_cases[] = {
	{ "quote_safe", "nix-store", "nix-store" },
	{ "quote_safe_path", "/nix/store/x-1.2+y_z", "/nix/store/x-1.2+y_z" },
	{ "quote_safe_option", "-oBatchMode=yes", "-oBatchMode=yes" },
	{ "quote_safe_user_host", "u@h:22,x%", "u@h:22,x%" },
	{ "quote_empty", "", "''" },
	{ "quote_space", "a b", "'a b'" },
	{ "quote_single", "it's", "'it'\\''s'" },
	{ "quote_only_single", "'", "''\\'''" },
	{ "quote_subst", "$(id)", "'$(id)'" },
	{ "quote_backtick", "`id`", "'`id`'" },
	{ "quote_newline", "a\nb", "'a\nb'" },
	{ "quote_semicolon", "a;b", "'a;b'" },
	{ "quote_tilde", "~", "'~'" },
	{ "quote_glob", "*.c", "'*.c'" },
	{ "quote_double", "\"x\"", "'\"x\"'" },
};

/* Run a command line through /bin/sh (popen does) and keep its output. */
static size_t
sh_output(const char *cmd, char *out, size_t max)
{
	FILE	*f;
	size_t	 n;

	if ((f = popen(cmd, "r")) == NULL) {
		perror("popen");
		exit(2);
	}
	n = fread(out, 1, max, f);
	pclose(f);
	return n;
}

static void
test_shell_quote(void)
{
	struct args	 a;
	char		*q, *cmd, out[512], name[64];
	size_t		 i, n;
	int		 good;

	for (i = 0; i < nitems(quote_cases); i++) {
		q = args_quote(quote_cases[i].in);
		report(quote_cases[i].name, same("quoted", q,
		    quote_cases[i].want));
		free(q);
	}

	/*
	 * Properties: sh turns quote(s) back into s, byte for byte, and so
	 * does args_split.
	 */
	for (i = 0; i < nitems(nasty); i++) {
		if ((q = args_quote(nasty[i])) == NULL)
			abort();
		if ((cmd = malloc(strlen(q) + 16)) == NULL)
			abort();
		snprintf(cmd, strlen(q) + 16, "printf %%s %s", q);
		n = sh_output(cmd, out, sizeof(out));
		snprintf(name, sizeof(name), "quote_sh_%zu", i);
		report(name, same_mem("sh output", out, n, nasty[i],
		    strlen(nasty[i])));
		memset(&a, 0, sizeof(a));
		if (args_split(q, &a) == -1)
			good = no("args_split failed");
		else
			good = (a.num == 1 || no("%zu words", a.num)) &&
			    same("word", a.list[0], nasty[i]);
		snprintf(name, sizeof(name), "split_quote_%zu", i);
		report(name, good);
		args_free(&a);
		free(cmd);
		free(q);
	}
}

static void
test_shell_join(void)
{
	static char	*none[] = { NULL };
	static char	*plain[] = { "nix-store", "--serve", "--write", NULL };
	static char	*mixed[] = { "a b", "c", "", NULL };
	char		*j, *cmd, out[2048], want[2048];
	size_t		 i, n, len, wl = 0;
	char		*all[nitems(nasty) + 1];

	j = args_join(none);
	report("join_none", same("joined", j, ""));
	free(j);
	j = args_join(plain);
	report("join_plain", same("joined", j, "nix-store --serve --write"));
	free(j);
	j = args_join(mixed);
	report("join_mixed", same("joined", j, "'a b' c ''"));
	free(j);

	/* Property: sh sees the same words, empty ones included. */
	for (i = 0; i < nitems(nasty); i++) {
		all[i] = (char *)nasty[i];
		wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "[%s]",
		    nasty[i]);
	}
	all[i] = NULL;
	if ((j = args_join(all)) == NULL) {
		report("join_sh", no("args_join returned NULL"));
		return;
	}
	len = strlen(j) + 32;
	if ((cmd = malloc(len)) == NULL)
		abort();
	snprintf(cmd, len, "printf '[%%s]' %s", j);
	n = sh_output(cmd, out, sizeof(out));
	report("join_sh", same_mem("sh output", out, n, want, wl));
	free(cmd);
	free(j);
}

static const struct {
	const char	*name, *in;
	int		 rc;
	size_t		 n;
	const char	*w[6];
} split_cases[] = {
	{ "split_plain", "a b c", 0, 3, { "a", "b", "c" } },
	{ "split_empty", "", 0, 0, { NULL } },
	{ "split_blank", " \t\n ", 0, 0, { NULL } },
	{ "split_spaces_tabs", "  a \t\t b\n", 0, 2, { "a", "b" } },
	{ "split_single", "'a b' c", 0, 2, { "a b", "c" } },
	{ "split_single_literal", "'a\\b \"$x\"'", 0, 1, { "a\\b \"$x\"" } },
	{ "split_single_escaped", "'it'\\''s'", 0, 1, { "it's" } },
	{ "split_double", "\"a \\\" \\\\ \\$ \\` b\"", 0, 1,
	    { "a \" \\ $ ` b" } },
	{ "split_double_other_bs", "\"a\\b\"", 0, 1, { "a\\b" } },
	{ "split_double_no_expand", "\"$x `y` $(z)\"", 0, 1,
	    { "$x `y` $(z)" } },
	{ "split_double_newline", "\"a\\\nb\"", 0, 1, { "ab" } },
	{ "split_backslash", "a\\ b \\'c\\\"", 0, 2, { "a b", "'c\"" } },
	{ "split_adjacent", "a'b'\"c\"d", 0, 1, { "abcd" } },
	{ "split_empty_single", "''", 0, 1, { "" } },
	{ "split_empty_double", "\"\"", 0, 1, { "" } },
	{ "split_empty_middle", "a '' b", 0, 3, { "a", "", "b" } },
	{ "split_continuation", "a\\\nb", 0, 1, { "ab" } },
	/*
	 * regression: a backslash-newline between words is removed by the shell;
	 * args_split makes an empty word of it.
	 */
	{ "split_continuation_between", "a \\\n b", 0, 2, { "a", "b" } },
	{ "split_proxyjump", "-o \"ProxyJump=a b\" -p 22", 0, 4,
	    { "-o", "ProxyJump=a b", "-p", "22" } },
	{ "split_err_single", "-o 'abc", -1, 0, { NULL } },
	{ "split_err_double", "\"abc", -1, 0, { NULL } },
	{ "split_err_double_escaped", "\"abc\\\"", -1, 0, { NULL } },
	{ "split_err_backslash", "abc\\", -1, 0, { NULL } },
};

static void
test_shell_split(void)
{
	struct args	 a;
	size_t		 i, k;
	int		 rc, good;

	for (i = 0; i < nitems(split_cases); i++) {
		memset(&a, 0, sizeof(a));
		rc = args_split(split_cases[i].in, &a);
		good = rc == split_cases[i].rc ||
		    no("returned %d, expected %d", rc, split_cases[i].rc);
		if (good && rc == 0) {
			good = a.num == split_cases[i].n ||
			    no("%zu words, expected %zu", a.num,
			    split_cases[i].n);
			for (k = 0; good && k < a.num; k++)
				good = same("word", a.list[k],
				    split_cases[i].w[k]);
			if (good && a.num > 0 && a.list[a.num] != NULL)
				good = no("list not NULL-terminated");
		}
		args_free(&a);
		report(split_cases[i].name, good);
	}

	/*
	 * regression: the message for an unterminated quote quotes what is left of
	 * the input at that point (nothing), not the input: the user of
	 * NIX_SSHOPTS cannot see what was wrong.
	 */
	memset(&a, 0, sizeof(a));
	args_split("-o 'ProxyJump=x", &a);
	args_free(&a);
	report("split_err_message", strstr(last_error(), "ProxyJump=x") != NULL ||
	    no("the error \"%s\" does not show the input", last_error()));
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_shell_quote();
	test_shell_join();
	test_shell_split();
	return done();
}
