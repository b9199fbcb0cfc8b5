/*
 * SHA-256 (FIPS 180-4), hex, Nix's base32 and base64 decoding.
 */
#include <string.h>

#include "extern.h"

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROR(x, n)	(((x) >> (n)) | ((x) << (32 - (n))))

static void
block(struct sha256 *c, const unsigned char *p)
{
	uint32_t	 w[64], a, b, cc, d, e, f, g, h, t1, t2;
	int		 i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^
		    (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^
		    (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = c->state[0]; b = c->state[1]; cc = c->state[2]; d = c->state[3];
	e = c->state[4]; f = c->state[5]; g = c->state[6]; h = c->state[7];
	for (i = 0; i < 64; i++) {
		t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
		    ((e & f) ^ (~e & g)) + K[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
		    ((a & b) ^ (a & cc) ^ (b & cc));
		h = g; g = f; f = e; e = d + t1;
		d = cc; cc = b; b = a; a = t1 + t2;
	}
	c->state[0] += a; c->state[1] += b; c->state[2] += cc;
	c->state[3] += d; c->state[4] += e; c->state[5] += f;
	c->state[6] += g; c->state[7] += h;
}

void
sha256_init(struct sha256 *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
	};

	memcpy(c->state, iv, sizeof(iv));
	c->count = 0;
}

void
sha256_update(struct sha256 *c, const void *data, size_t n)
{
	const unsigned char	*p = data;
	size_t			 have = c->count % 64, take;

	c->count += n;
	if (have > 0) {
		take = 64 - have < n ? 64 - have : n;
		memcpy(c->buf + have, p, take);
		p += take;
		n -= take;
		if (have + take < 64)
			return;
		block(c, c->buf);
	}
	for (; n >= 64; p += 64, n -= 64)
		block(c, p);
	memcpy(c->buf, p, n);
}

void
sha256_final(struct sha256 *c, unsigned char out[SHA256_LEN])
{
	uint64_t	 bits = c->count * 8;
	unsigned char	 pad[72];
	size_t		 padlen = 64 - (c->count + 8) % 64;
	int		 i;

	memset(pad, 0, sizeof(pad));
	pad[0] = 0x80;
	for (i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
	sha256_update(c, pad, padlen + 8);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->state[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->state[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->state[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->state[i];
	}
}

static int
hexdigit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Lower-case hex of n bytes into out, which holds 2n + 1. */
void
hash_hex(const unsigned char *d, size_t n, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Read 2n hex digits (either case) into n bytes.  Returns 0, or -1. */
int
hash_hex_decode(const char *s, size_t n, unsigned char *out)
{
	size_t	 i;
	int	 hi, lo;

	for (i = 0; i < n; i++) {
		hi = hexdigit(s[2 * i]);
		lo = hi == -1 ? -1 : hexdigit(s[2 * i + 1]);
		if (lo == -1)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return s[2 * n] == '\0' ? 0 : -1;
}

/* Characters in the Nix base32 form of n bytes. */
size_t
nix32_len(size_t n)
{
	return (n * 8 + 4) / 5;
}

/*
 * Nix's base32: the digest read as a little-endian bit string, printed from
 * the most significant 5-bit group down, in an alphabet without e, o, u, t.
 * out holds nix32_len(n) + 1.
 */
void
nix32_encode(const unsigned char *d, size_t n, char *out)
{
	static const char	 abc[] = "0123456789abcdfghijklmnpqrsvwxyz";
	size_t			 len = nix32_len(n), k;

	for (k = 0; k < len; k++) {
		size_t		 g = len - 1 - k, b = g * 5, i = b / 8;
		unsigned	 j = b % 8, v;

		v = d[i] >> j;
		if (i + 1 < n)
			v |= (unsigned)d[i + 1] << (8 - j);
		out[k] = abc[v & 31];
	}
	out[len] = '\0';
}

/*
 * The n bytes whose Nix base32 form is s (nix32_len(n) characters).
 * Returns 0, or -1 when s is not that (a character outside the alphabet,
 * the wrong length, bits set past the digest's end).
 */
int
nix32_decode(const char *s, unsigned char *d, size_t n)
{
	static const char	 abc[] = "0123456789abcdfghijklmnpqrsvwxyz";
	size_t			 len = nix32_len(n), k;
	const char		*c;

	if (strlen(s) != len)
		return -1;
	memset(d, 0, n);
	for (k = 0; k < len; k++) {
		size_t		 g = len - 1 - k, b = g * 5, i = b / 8;
		unsigned	 j = b % 8, v;

		if ((c = strchr(abc, s[k])) == NULL || *c == '\0')
			return -1;
		v = (unsigned)(c - abc);
		d[i] |= (unsigned char)(v << j);
		if (j > 3) {
			if (i + 1 < n)
				d[i + 1] |= (unsigned char)(v >> (8 - j));
			else if (v >> (8 - j) != 0)
				return -1;
		}
	}
	return 0;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode standard base64 (padding required when the length asks for it).
 * Returns the number of bytes written to out, or -1 if s is not base64 or
 * the result does not fit in outsz.
 */
ssize_t
base64_decode(const char *s, size_t n, unsigned char *out, size_t outsz)
{
	size_t		 i, o = 0;
	uint32_t	 acc = 0;
	int		 bits = 0, pad = 0, v;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] == '=') {
			if (i < n - 2)
				return -1;
			pad++;
			continue;
		}
		if (pad > 0 || (v = b64val((unsigned char)s[i])) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outsz)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* the bits left over must be zero, as a canonical encoder writes */
	if ((acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (ssize_t)o;
}
