/*
 * Unit tests for src/hash.c: SHA-256 vectors (and a million "a" in odd
 * chunks), hex, Nix base32 (and the hash of a NAR, as Nix prints it),
 * base64.
 */
#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include "extern.h"
#include "harness.h"
#include "bytes.h"

/*
 * SHA-256, hex, Nix base32.
 */

static const struct {
	const char	*name, *msg;
	size_t		 repeat;	/* msg this many times (0: once) */
	const char	*want;
} sha_cases[] = {
	{ "sha256_empty", "", 0,
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "sha256_abc", "abc", 0,
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "sha256_448bit",
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
	"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "sha256_896bit", "abcdefghbcdefghicdefghijdefghijkefghijklfghijklm"
	    "ghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrs"
	    "tu", 0,
	"cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	/* lengths around the padding boundaries (sha256sum) */
	{ "sha256_a55", "a", 55,
	"9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
	{ "sha256_a56", "a", 56,
	"b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
	{ "sha256_a64", "a", 64,
	"ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
	{ "sha256_a120", "a", 120,
	"2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c" },
};

static void
test_sha256(void)
{
	/* odd sizes, so that updates straddle every block boundary */
	static const size_t	 chunks[] = { 1, 3, 7, 61, 64, 65, 127, 1000 };
	struct sha256		 h;
	unsigned char		 d[SHA256_LEN], a[1000];
	char			 hex[2 * SHA256_LEN + 1];
	size_t			 i, k, left, take;

	for (i = 0; i < nitems(sha_cases); i++) {
		sha256_init(&h);
		k = sha_cases[i].repeat ? sha_cases[i].repeat : 1;
		while (k-- > 0)
			sha256_update(&h, sha_cases[i].msg,
			    strlen(sha_cases[i].msg));
		sha256_final(&h, d);
		hash_hex(d, sizeof(d), hex);
		report(sha_cases[i].name, same("digest", hex,
		    sha_cases[i].want));
	}

	memset(a, 'a', sizeof(a));
	sha256_init(&h);
	for (left = 1000000, k = 0; left > 0; left -= take, k++) {
		take = chunks[k % nitems(chunks)];
		if (take > left)
			take = left;
		sha256_update(&h, a, take);
	}
	sha256_final(&h, d);
	hash_hex(d, sizeof(d), hex);
	report("sha256_million_a", same("digest", hex,
	"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

static void
test_hash_hex(void)
{
	static const unsigned char	 d[] = { 0x00, 0x01, 0xab, 0xff, 0x7e };
	char				 out[2 * sizeof(d) + 2];

	memset(out, 'X', sizeof(out));
	hash_hex(d, sizeof(d), out);
	report("hash_hex", same("hex", out, "0001abff7e"));
	hash_hex(d, 0, out);
	report("hash_hex_empty", same("hex", out, ""));
}

static const struct {
	const char		*name;
	const unsigned char	*d;
	size_t			 n;
	const char		*want;	/* from nix-hash --to-base32 */
} nix32_cases[] = {
	{ "nix32_one_byte_1", (const unsigned char *)"\x01", 1, "01" },
	{ "nix32_one_byte_ff", (const unsigned char *)"\xff", 1, "7z" },
	{ "nix32_sha1_empty", (const unsigned char *)"\xda\x39\xa3\xee\x5e"
	    "\x6b\x4b\x0d\x32\x55\xbf\xef\x95\x60\x18\x90\xaf\xd8\x07\x09", 20,
	    "143xibwh31h9bvxzalr0sjvbbvpa6ffs" },
	{ "nix32_sha256_empty", (const unsigned char *)"\xe3\xb0\xc4\x42\x98"
	    "\xfc\x1c\x14\x9a\xfb\xf4\xc8\x99\x6f\xb9\x24\x27\xae\x41\xe4\x64"
	    "\x9b\x93\x4c\xa4\x95\x99\x1b\x78\x52\xb8\x55", 32,
	    "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73" },
	{ "nix32_all_ones", (const unsigned char *)"\xff\xff\xff\xff\xff\xff"
	    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
	    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 32,
	    "1zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz" },
};

static void
test_nix32(void)
{
	struct buf	 nar;
	struct sha256	 h;
	unsigned char	 d[SHA256_LEN];
	char		 out[128], hex[2 * SHA256_LEN + 1];
	size_t		 i;

	report("nix32_len_32", nix32_len(32) == 52 ||
	    no("nix32_len(32) = %zu, expected 52", nix32_len(32)));
	report("nix32_len_20", nix32_len(20) == 32 ||
	    no("nix32_len(20) = %zu, expected 32", nix32_len(20)));
	for (i = 0; i < nitems(nix32_cases); i++) {
		memset(out, 'X', sizeof(out));
		nix32_encode(nix32_cases[i].d, nix32_cases[i].n, out);
		report(nix32_cases[i].name, same("nix32", out,
		    nix32_cases[i].want));
	}
	for (i = 0; i < nitems(nix32_cases); i++) {
		unsigned char	 back[64];
		char		 name[128];
		snprintf(name, sizeof(name), "%s decoded", nix32_cases[i].name);
		report(name, (nix32_decode(nix32_cases[i].want, back,
		    nix32_cases[i].n) == 0 && memcmp(back, nix32_cases[i].d,
		    nix32_cases[i].n) == 0) || no("not the bytes encoded"));
	}
	report("nix32_decode refuses e, o, u, t", nix32_decode(
	    "04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqe", d, 32) ==
	    -1 || no("decoded"));
	report("nix32_decode refuses the wrong length", nix32_decode(
	    "04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dq", d, 32) ==
	    -1 || no("decoded"));
	/* 52 characters hold 260 bits: the top 4 must be 0 */
	report("nix32_decode refuses bits past the end", nix32_decode(
	    "z4zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw", d, 32) ==
	    -1 || no("decoded"));

	hello_nar(&nar);
	report("nar_hello_len", nar.n == 120 ||
	    no("the NAR is %zu bytes, expected 120", nar.n));
	sha256_init(&h);
	sha256_update(&h, nar.b, nar.n);
	sha256_final(&h, d);
	hash_hex(d, sizeof(d), hex);
	report("nar_hello_hex", strncmp(hex, "1c37d01a", 8) == 0 ||
	    no("hex %s does not start with 1c37d01a", hex));
	nix32_encode(d, sizeof(d), out);
	report("nar_hello_nix32", same("nix32", out,
	    "04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw"));
}

/*
 * base64_decode
 */

static const struct {
	const char	*name, *in;
	size_t		 outsz;
	ssize_t		 rc;
	const char	*want;
} b64_cases[] = {
	{ "b64_empty", "", 16, 0, "" },
	{ "b64_pad0", "Zm9vYmFy", 16, 6, "foobar" },
	{ "b64_pad1", "Zm9vYmE=", 16, 5, "fooba" },
	{ "b64_pad2", "Zm9vYg==", 16, 4, "foob" },
	{ "b64_pad2_short", "Zg==", 16, 1, "f" },
	{ "b64_plus_slash", "+/+/", 16, 3, "\xfb\xff\xbf" },
	{ "b64_exact_fit", "Zm9vYmFy", 6, 6, "foobar" },
	{ "b64_err_char", "Zm9v!mFy", 16, -1, NULL },
	{ "b64_err_space", "Zm9 YmFy", 16, -1, NULL },
	{ "b64_err_urlsafe", "-_-_", 16, -1, NULL },
	{ "b64_err_len", "Zm9vYmE", 16, -1, NULL },
	{ "b64_err_len_newline", "Zm9v\n", 16, -1, NULL },
	{ "b64_err_no_pad", "Zg", 16, -1, NULL },
	{ "b64_err_pad_middle", "Zm9=YmFy", 16, -1, NULL },
	{ "b64_err_pad_then_data", "Zg=a", 16, -1, NULL },
	{ "b64_err_pad3", "Z===", 16, -1, NULL },
	{ "b64_err_pad4", "====", 16, -1, NULL },
	/* canonical encoders leave the spare bits zero */
	{ "b64_err_trailing_bits2", "Zm9vYh==", 16, -1, NULL },
	{ "b64_err_trailing_bits1", "Zm9vYmF=", 16, -1, NULL },
	{ "b64_err_too_small", "Zm9vYmFy", 5, -1, NULL },
	{ "b64_err_zero_out", "Zg==", 0, -1, NULL },
};

static void
test_base64(void)
{
	unsigned char	 out[32];
	ssize_t		 rc;
	size_t		 i;
	int		 good;

	for (i = 0; i < nitems(b64_cases); i++) {
		memset(out, 0xa5, sizeof(out));
		rc = base64_decode(b64_cases[i].in, strlen(b64_cases[i].in),
		    out, b64_cases[i].outsz);
		good = rc == b64_cases[i].rc || no("returned %zd, expected %zd",
		    rc, b64_cases[i].rc);
		if (good && rc > 0)
			good = same_mem("decoded", out, (size_t)rc,
			    b64_cases[i].want, strlen(b64_cases[i].want));
		/* nothing past outsz, even on the way to failing */
		if (good && b64_cases[i].outsz < sizeof(out) &&
		    out[b64_cases[i].outsz] != 0xa5)
			good = no("wrote past outsz");
		report(b64_cases[i].name, good);
	}
}

int
main(void)
{
	/* messages are checked through last_error(), not printed */
	errors_capture();

	test_sha256();
	test_hash_hex();
	test_nix32();
	test_base64();
	return done();
}
