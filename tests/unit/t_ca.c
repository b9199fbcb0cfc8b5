/*
 * Unit tests for src/ca.c: the content address of an output.
 */
#include <string.h>

#include "extern.h"
#include "harness.h"

#define PATH_A	"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo"

/*
 * ca_output: the content address of a fixed output, as Nix writes it
 * in a path info: the sha256 and sha1 of "hello\n", in base32 as
 * `nix-hash --to-base32` writes them.
 */
static const struct {
	const char	*name, *algo, *hash;
	int		 rc;
	const char	*want;
} ca_cases[] = {
	{ "ca_input_addressed", "", "", 0, "" },
	{ "ca_flat_sha256", "sha256",
	    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
	    0, "fixed:sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq" },
	{ "ca_recursive_sha256", "r:sha256",
	    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
	    0, "fixed:r:sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq" },
	{ "ca_text", "text:sha256",
	    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
	    0, "text:sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq" },
	{ "ca_sha1", "sha1", "f572d396fae9206628714fb2ce00f72e94f2258f", 0,
	    "fixed:sha1:iwjz551fyw0cxcjgf4l6c879zabd6wpm" },
	{ "ca_floating", "r:sha256", "", 0, "" },
	{ "ca_impure", "r:sha256", "impure", 0, "" },
	{ "ca_short_hash", "sha256", "5891b5b5", -1, "" },
	{ "ca_not_hex", "sha256",
	    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be0g",
	    -1, "" },
	{ "ca_upper_hex", "sha256",
	    "5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03",
	    -1, "" },
	{ "ca_blake3", "blake3",
	    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
	    -1, "" },
};

static void
test_output_ca(void)
{
	struct drv_output	 o;
	char			 out[CA_MAX];
	size_t			 i;
	int			 rc;

	for (i = 0; i < nitems(ca_cases); i++) {
		memset(&o, 0, sizeof(o));
		o.name = (char *)"out";
		o.path = (char *)PATH_A;
		o.hash_algo = (char *)ca_cases[i].algo;
		o.hash = (char *)ca_cases[i].hash;
		rc = ca_output(&o, out, sizeof(out));
		report(ca_cases[i].name, (rc == ca_cases[i].rc ||
		    no("returned %d", rc)) && (rc == -1 ||
		    same("ca", out, ca_cases[i].want)));
	}
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_output_ca();
	return done();
}
