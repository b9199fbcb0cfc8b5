/*
 * Content addresses, as Nix writes them in a path info: of a fixed output
 * ("fixed:r:sha256:..."), from what its .drv declares.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

/* A lower-case hex digit's value, or -1. */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * The content address a fixed output's path info carries, as Nix writes
 * it: "fixed:[r:]ALGO:HASH" (or "text:ALGO:HASH") with the hash in Nix's
 * base32, from the hex of the .drv.  "" for any other output.  Returns 0,
 * or -1 when the hash is not hex of the algorithm's length or out is
 * too small.
 */
int
ca_output(const struct drv_output *o, char *out, size_t sz)
{
	static const struct {
		const char	*name;
		size_t		 len;
	} algos[] = {
		{ "md5", 16 }, { "sha1", 20 }, { "sha256", 32 }, { "sha512", 64 }
	};
	unsigned char	 h[64];
	const char	*a = o->hash_algo, *kind = "fixed:";
	size_t		 i, n;

	out[0] = '\0';
	if (a[0] == '\0' || o->hash[0] == '\0' ||
	    strcmp(o->hash, "impure") == 0)
		return 0;
	if (strncmp(a, "text:", 5) == 0) {
		kind = "text:";
		a += 5;
	}
	for (i = 0; i < sizeof(algos) / sizeof(algos[0]); i++)
		if (strcmp(a + (strncmp(a, "r:", 2) == 0 ? 2 : 0),
		    algos[i].name) == 0)
			break;
	if (i == sizeof(algos) / sizeof(algos[0]))
		return -1;
	n = algos[i].len;
	if (strlen(o->hash) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		int	 hi = hexval(o->hash[2 * i]), lo = hexval(o->hash[2 * i + 1]);
		if (hi == -1 || lo == -1)
			return -1;
		h[i] = (unsigned char)(hi << 4 | lo);
	}
	if (strlen(kind) + strlen(a) + 1 + nix32_len(n) + 1 > sz)
		return -1;
	snprintf(out, sz, "%s%s:", kind, a);
	nix32_encode(h, n, out + strlen(out));
	return 0;
}

/*
 * Is path the store path Nix makes for content address ca ("fixed:r:
 * sha256:...", "fixed:ALGO:...", "text:sha256:...") with references refs
 * (a set, path itself among them for a self-reference)?  That is what a
 * builder's record of a content-addressed output must be: its path names
 * its contents.  Returns 1 or 0.
 */
int
ca_path_matches(const char *path, const char *ca, const struct strlist *refs)
{
	static const struct {
		const char	*name;
		size_t		 len;
	} algos[] = {
		{ "md5", 16 }, { "sha1", 20 }, { "sha256", 32 }, { "sha512", 64 }
	};
	struct sha256	 h;
	unsigned char	 d[64], md[SHA256_LEN];
	char		 hex[129], made[PATH_MAX_LEN], *type = NULL;
	const char	*a, *b32, *name;
	size_t		 i, al, tl;
	int		 text, rec, self = 0, ok;

	if (!path_valid(STORE_DIR, path))
		return 0;
	name = path + strlen(STORE_DIR) + 1 + 33;
	if ((text = strncmp(ca, "text:", 5) == 0))
		a = ca + 5;
	else if (strncmp(ca, "fixed:", 6) == 0)
		a = ca + 6;
	else
		return 0;
	if ((rec = strncmp(a, "r:", 2) == 0))
		a += 2;
	if ((b32 = strchr(a, ':')) == NULL)
		return 0;
	al = (size_t)(b32++ - a);
	for (i = 0; i < sizeof(algos) / sizeof(algos[0]); i++)
		if (strlen(algos[i].name) == al &&
		    strncmp(a, algos[i].name, al) == 0)
			break;
	if (i == sizeof(algos) / sizeof(algos[0]) ||
	    nix32_decode(b32, d, algos[i].len) == -1)
		return 0;
	if (text || (rec && algos[i].len == SHA256_LEN)) {
		if (text && (rec || algos[i].len != SHA256_LEN))
			return 0;
		/* "source" or "text", each reference, ":self" */
		for (i = 0, tl = 12; i < refs->n; i++)
			tl += strlen(refs->v[i]) + 1;
		if ((type = malloc(tl)) == NULL) {
			log_err("ca");
			return 0;
		}
		strlcpy(type, text ? "text" : "source", tl);
		for (i = 0; i < refs->n; i++) {
			if (strcmp(refs->v[i], path) == 0) {
				self = 1;
				continue;
			}
			strlcat(type, ":", tl);
			strlcat(type, refs->v[i], tl);
		}
		if (self && text) {
			free(type);
			return 0;
		}
		if (self)
			strlcat(type, ":self", tl);
		memcpy(md, d, SHA256_LEN);
	} else {
		/* any other fixed output: no references, its own digest */
		if (refs->n > 0)
			return 0;
		hash_hex(d, algos[i].len, hex);
		sha256_init(&h);
		sha256_update(&h, "fixed:out:", 10);
		if (rec)
			sha256_update(&h, "r:", 2);
		sha256_update(&h, algos[i].name, strlen(algos[i].name));
		sha256_update(&h, ":", 1);
		sha256_update(&h, hex, strlen(hex));
		sha256_update(&h, ":", 1);
		sha256_final(&h, md);
	}
	ok = path_make(STORE_DIR, type != NULL ? type : "output:out", md,
	    name, made, sizeof(made)) == 0 && strcmp(made, path) == 0;
	free(type);
	return ok;
}

/*
 * One of a build result's built outputs as both protocols send it: key
 * "sha256:HEX!NAME" and the realisation's JSON, whose "outPath" is a
 * store path's base name.  Appends NAME and the path to r->built (pairs).
 * A builder's words: nothing here trusts them, the caller checks the
 * path against what it asked for.  Returns 0, or -1 with a message in
 * err (errsz bytes).
 */
int
build_output_add(struct build_result *r, const char *key, const char *json,
    char *err, size_t errsz)
{
	const char	*name = strrchr(key, '!');
	char		*base = NULL, path[PATH_MAX_LEN], q[128];
	size_t		 at, len = strlen(json);

	if (name == NULL || !path_name_valid(name + 1, strlen(name + 1))) {
		snprintf(err, errsz, "a built output keyed \"%s\"",
		    text_printable(key, strlen(key), q, sizeof(q)));
		return -1;
	}
	if (json_find(json, len, "outPath", &at, err, errsz) == -1)
		return -1;
	if (at == SIZE_MAX || json_type(json, len, at) != JSON_STRING) {
		snprintf(err, errsz, "built output %s: no outPath", name + 1);
		return -1;
	}
	if (json_string_dup(json, len, &at, WIRE_PATH_MAX, "outPath", &base,
	    err, errsz) == -1)
		return -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", STORE_DIR, base) >=
	    sizeof(path) || !path_valid(STORE_DIR, path)) {
		snprintf(err, errsz, "built output %s: \"%s\" is not a store "
		    "path's name", name + 1, text_printable(base, strlen(base),
		    q, sizeof(q)));
		free(base);
		return -1;
	}
	free(base);
	if (strlist_add(&r->built, name + 1) == -1 ||
	    strlist_add(&r->built, path) == -1) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

/* Free what a build left in r, and empty it. */
void
build_result_free(struct build_result *r)
{
	free(r->error);
	strlist_free(&r->built);
	memset(r, 0, sizeof(*r));
}
