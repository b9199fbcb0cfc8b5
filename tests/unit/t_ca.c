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

/*
 * Records of content-addressed paths as Nix 2.8 made them (nix path-info
 * --json): floating outputs plain, self-referencing and referring to
 * others, a text file referring to another, a flat fixed output.
 */
static const struct {
	const char	*name, *path, *ca, *refs;
} paths[] = {
	{ "floating", "/nix/store/4vwy1b1vb90sg9lprmhh2mjcxqianp89-fl-plain",
	  "fixed:r:sha256:1w3pjl8f4jzrmlz8a4d8bix6hzbi0i3dhjs3l005mhfcb6kpj1x8",
	  "" },
	{ "floating, self", "/nix/store/gvzrsgl8x0wwbxjb6jy2y1vi23w1wb67-fl-self",
	  "fixed:r:sha256:0w7wichd498hmdz6xzzvcdcr6lsy9268v7hnqh4wz5czzszbl4kn",
	  "/nix/store/gvzrsgl8x0wwbxjb6jy2y1vi23w1wb67-fl-self" },
	{ "floating, refs", "/nix/store/h9drrgnysygiqd8pyxri25c3fdjk1l8v-fl-refs",
	  "fixed:r:sha256:1pzqg5dzb5cv04lnsr5s52v0415bn55aj2mc1h60vllkvl7xrqyb",
	  "/nix/store/4vwy1b1vb90sg9lprmhh2mjcxqianp89-fl-plain "
	  "/nix/store/9p0nl625gm5mli8h2xfsgma0zz31g9yc-t.txt "
	  "/nix/store/h9drrgnysygiqd8pyxri25c3fdjk1l8v-fl-refs" },
	{ "text", "/nix/store/60ckwg4vjnjsdlmbpsahh43099mlbhqg-t2.txt",
	  "text:sha256:0jjd7ix6vbzznh97x68fhr8vm8bnrcaavxfapwq1cxdmcya850kb",
	  "/nix/store/9p0nl625gm5mli8h2xfsgma0zz31g9yc-t.txt" },
	{ "flat", "/nix/store/9liyy15g91y7bykigbmwwgqafw83z57g-fod-flat",
	  "fixed:sha256:1xk2hhjr0f2n4adj1h688wlz59xpl86y1r8bd2pjasg8gy16mikb",
	  "" },
};

/* refs, space-separated, as a strlist */
static void
split(const char *refs, struct strlist *l)
{
	char	 buf[1024], *p, *w;

	memset(l, 0, sizeof(*l));
	strlcpy(buf, refs, sizeof(buf));
	for (p = buf; (w = strtok(p, " ")) != NULL; p = NULL)
		strlist_add(l, w);
}

static void
test_path_matches(void)
{
	struct strlist	 l, none = { NULL, 0, 0 };
	char		 name[128], ca[256];
	size_t		 i;

	for (i = 0; i < nitems(paths); i++) {
		split(paths[i].refs, &l);
		snprintf(name, sizeof(name), "%s: the path Nix made",
		    paths[i].name);
		report(name, ca_path_matches(paths[i].path, paths[i].ca, &l) ||
		    no("no match"));
		/* a builder that names another path, or leaves out a
		 * reference, or changes the hash, is caught */
		snprintf(name, sizeof(name), "%s: another name", paths[i].name);
		report(name, !ca_path_matches("/nix/store/"
		    "4vwy1b1vb90sg9lprmhh2mjcxqianp89-other", paths[i].ca,
		    &l) || no("matched"));
		if (l.n > 0) {
			snprintf(name, sizeof(name), "%s: no references",
			    paths[i].name);
			report(name, !ca_path_matches(paths[i].path,
			    paths[i].ca, &none) || no("matched"));
		}
		strlcpy(ca, paths[i].ca, sizeof(ca));
		ca[strlen(ca) - 1] = ca[strlen(ca) - 1] == '0' ? '1' : '0';
		snprintf(name, sizeof(name), "%s: another hash", paths[i].name);
		report(name, !ca_path_matches(paths[i].path, ca, &l) ||
		    no("matched"));
		strlist_free(&l);
	}
	split("/nix/store/9p0nl625gm5mli8h2xfsgma0zz31g9yc-t.txt", &l);
	report("a flat fixed output with a reference", !ca_path_matches(
	    paths[4].path, paths[4].ca, &l) || no("matched"));
	strlist_free(&l);
	report("an unknown kind", !ca_path_matches(paths[0].path,
	    "nar:sha256:1w3pjl8f4jzrmlz8a4d8bix6hzbi0i3dhjs3l005mhfcb6kpj1x8",
	    &none) || no("matched"));
	report("not a store path", !ca_path_matches("/tmp/x", paths[0].ca,
	    &none) || no("matched"));
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_output_ca();
	test_path_matches();
	return done();
}
