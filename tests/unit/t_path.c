/*
 * Unit tests for src/path.c: store paths made (path_make) against what
 * Nix 2.8 made for a file holding "hello\n" added to the store
 * /tmp/nt/store (spec appendix A), and store paths checked (path_valid).
 */
#include <string.h>

#include "extern.h"
#include "harness.h"
#include "bytes.h"

static void
test_path(void)
{
	struct buf	 nar;
	struct sha256	 h;
	unsigned char	 d[SHA256_LEN];
	char		 out[256];

	/* the NAR's hash, as a sink writing it counts it (t_nar_dump) */
	hello_nar(&nar);
	sha256_init(&h);
	sha256_update(&h, nar.b, nar.n);
	sha256_final(&h, d);
	report("path_make_source", (path_make("/tmp/nt/store", "source", d,
	    "hello.txt", out, sizeof(out)) == 0 || no("path_make failed")) &&
	    same("path", out,
	    "/tmp/nt/store/j3s4f1pb4f4z27ljs6pnpca8bdzm2j8l-hello.txt"));
	report("path_make_bad_name", path_make("/nix/store", "source", d,
	    "a b", out, sizeof(out)) == -1 || no("accepted \"a b\""));
	report("path_make_small", path_make("/nix/store", "source", d,
	    "x", out, 20) == -1 || no("overflowed a 20-byte buffer"));
	report("path_valid_yes", path_valid("/nix/store",
	    "/nix/store/j3s4f1pb4f4z27ljs6pnpca8bdzm2j8l-hello.txt") ||
	    no("rejected"));
	report("path_valid_other_dir", !path_valid("/nix/store",
	    "/tmp/nt/store/j3s4f1pb4f4z27ljs6pnpca8bdzm2j8l-hello.txt") ||
	    no("accepted"));
	report("path_valid_bad_hash", !path_valid("/nix/store",
	    "/nix/store/e3s4f1pb4f4z27ljs6pnpca8bdzm2j8l-hello.txt") ||
	    no("accepted an e in the hash"));
	report("path_valid_nested", !path_valid("/nix/store",
	    "/nix/store/j3s4f1pb4f4z27ljs6pnpca8bdzm2j8l-hello/x") ||
	    no("accepted a path below a store path"));
	report("path_valid_dotdot", !path_valid("/nix/store",
	    "/nix/store/j3s4f1pb4f4z27ljs6pnpca8bdzm2j8l-..") ||
	    no("accepted .."));
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_path();
	return done();
}
