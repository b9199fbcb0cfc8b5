/*
 * Unit tests for src/nixver.c: the version in `nix-store --version`.
 */
#include <string.h>

#include "extern.h"
#include "harness.h"

/*
 * nixver_parse: the version in `nix-store --version`, whatever comes
 * around it.
 */

static const struct {
	const char	*name, *in;
	size_t		 sz;
	int		 rc;
	const char	*want;
} version_cases[] = {
	{ "version_plain", "nix-store (Nix) 2.8.0\n", 64, 0, "2.8.0" },
	{ "version_no_newline", "nix-store (Nix) 2.8.0", 64, 0, "2.8.0" },
	{ "version_crlf", "nix-store (Nix) 2.8.0\r\n", 64, 0, "2.8.0" },
	{ "version_word_only", "nix (Nix) 2.18.1 extra words", 64, 0,
	    "2.18.1" },
	{ "version_after_a_banner", "Welcome!\nnix-store (Nix) 2.3pre\n", 64,
	    0, "2.3pre" },
	{ "version_first_of_two", "(Nix) 1\n(Nix) 2\n", 64, 0, "1" },
	{ "version_fits_exactly", "(Nix) 1234567", 8, 0, "1234567" },
	{ "version_too_long", "(Nix) 12345678", 8, -1, "" },
	{ "version_empty_word", "nix-store (Nix) \n", 64, -1, "" },
	{ "version_empty_at_end", "nix-store (Nix) ", 64, -1, "" },
	{ "version_none", "nix-store 2.8.0\n", 64, -1, "" },
	{ "version_lower_case", "nix-store (nix) 2.8.0\n", 64, -1, "" },
	{ "version_no_space", "nix-store (Nix)2.8.0\n", 64, -1, "" },
	{ "version_empty_text", "", 64, -1, "" },
};

static void
test_version(void)
{
	char	 out[64];
	size_t	 i;
	int	 rc;

	for (i = 0; i < nitems(version_cases); i++) {
		memset(out, 'x', sizeof(out));
		rc = nixver_parse(version_cases[i].in, out,
		    version_cases[i].sz);
		report(version_cases[i].name, (rc == version_cases[i].rc ||
		    no("returned %d, expected %d", rc, version_cases[i].rc)) &&
		    same("out", out, version_cases[i].want));
	}
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_version();
	return done();
}
