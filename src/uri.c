/*
 * ssh:// and ssh-ng:// store URIs, as Nix accepts them for its SSH stores
 * (the serve protocol and the daemon protocol):
 *
 *	ssh[-ng]://[user@]host[:port][?name=value[&name=value]...]
 *
 * host may be an IPv6 literal in brackets.  Values are percent-decoded.
 * Everything is checked here, before any process is started: a host or
 * user that ssh could mistake for an option never gets that far.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

#define HOSTKEY_MAX	16384	/* decoded base64-ssh-public-host-key */

static char *
dup_range(const char *s, size_t n)
{
	char	*d = malloc(n + 1);

	if (d == NULL) {
		log_err("uri");
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) into a new string; NULL on a bad escape or NUL. */
static char *
pct_decode(const char *s, size_t n)
{
	char	*d, *o;
	size_t	 i;

	if ((d = o = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;
			if (i + 2 >= n) {
				free(d);
				return NULL;
			}
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(d);
				return NULL;
			}
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else
			*o++ = s[i];
	}
	*o = '\0';
	return d;
}

static int
valid_name(const char *s, const char *extra)
{
	if (*s == '\0' || *s == '-')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return 0;
	return 1;
}

/*
 * Decode a base64-ssh-public-host-key value into the key line ssh wants in
 * known_hosts ("type blob"; the comment is dropped).  Returns a string the
 * caller frees, or NULL with err saying why.
 */
char *
uri_hostkey_check(const char *b64, char *err, size_t errsz)
{
	unsigned char	 buf[HOSTKEY_MAX];
	ssize_t		 n;
	size_t		 i, tlen, blen;
	char		*line, *type, *blob;
	unsigned char	 scratch[HOSTKEY_MAX];

	n = base64_decode(b64, strlen(b64), buf, sizeof(buf) - 1);
	if (n < 0) {
		snprintf(err, errsz, "public host key \"%.40s%s\" is not valid base64 "
		    "(write it with: base64 -w0 /etc/ssh/ssh_host_ed25519_key.pub)",
		    b64, strlen(b64) > 40 ? "..." : "");
		return NULL;
	}
	while (n > 0 && isspace(buf[n - 1]))
		n--;
	buf[n] = '\0';
	for (i = 0; i < (size_t)n; i++)
		if (buf[i] < 0x20 || buf[i] >= 0x7f)
			goto bad;
	type = (char *)buf;
	tlen = strcspn(type, " ");
	if (tlen == 0 || type[tlen] != ' ')
		goto bad;
	for (i = 0; i < tlen; i++)
		if (!isalnum((unsigned char)type[i]) &&
		    strchr("-.@", type[i]) == NULL)
			goto bad;
	blob = type + tlen + 1;
	blen = strcspn(blob, " ");
	if (blen < 16 || base64_decode(blob, blen, scratch,
	    sizeof(scratch)) < 0)
		goto bad;
	if ((line = dup_range(type, tlen + 1 + blen)) == NULL)
		snprintf(err, errsz, "out of memory");
	return line;
bad:
	snprintf(err, errsz, "public host key does not decode to a key line "
	    "(\"ssh-ed25519 AAAA...\"); write it with: "
	    "base64 -w0 /etc/ssh/ssh_host_ed25519_key.pub");
	return NULL;
}

static int
parse_bool(const char *v, int *b)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*b = 1;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*b = 0;
	else
		return -1;
	return 0;
}

/* Parameters of Nix's ssh:// store that mean nothing to nix-offload. */
static const char *const ignored[] = {
	"max-connections", "log-fd", "path-info-cache-size", "trusted",
	"priority", "want-mass-query", "system-features", "store",
	"real", "state", "log", NULL
};

static int
param(struct store_uri *u, const char *uri, const char *p, size_t n,
    char *err, size_t errsz)
{
	const char	*eq = memchr(p, '=', n);
	char		*name, *val;
	size_t		 i;
	int		 rc = -1, b;

	if (eq == NULL || eq == p) {
		snprintf(err, errsz, "%s: malformed parameter \"%.*s\": expected name=value",
		    uri, (int)n, p);
		return -1;
	}
	name = dup_range(p, (size_t)(eq - p));
	val = pct_decode(eq + 1, n - (size_t)(eq - p) - 1);
	if (name == NULL || val == NULL) {
		snprintf(err, errsz, "%s: malformed parameter \"%.*s\": bad %%-escape",
		    uri, (int)n, p);
		goto out;
	}
	if (strcmp(name, "ssh-key") == 0) {
		if (*val == '\0') {
			snprintf(err, errsz, "%s: ssh-key is empty", uri);
			goto out;
		}
		free(u->ssh_key);
		u->ssh_key = val;
		val = NULL;
	} else if (strcmp(name, "base64-ssh-public-host-key") == 0) {
		free(u->host_key);
		if ((u->host_key = uri_hostkey_check(val, err, errsz)) == NULL)
			goto out;
	} else if (strcmp(name, "compress") == 0) {
		if (parse_bool(val, &b) == -1) {
			snprintf(err, errsz, "%s: compress=%s: expected true or false",
			    uri, val);
			goto out;
		}
		u->compress = b ? COMPRESS_ON : COMPRESS_OFF;
	} else if (strcmp(name, "shared-slots") == 0) {
		if (parse_bool(val, &b) == -1) {
			snprintf(err, errsz, "%s: shared-slots=%s: expected true "
			    "or false", uri, val);
			goto out;
		}
		u->private_slots = !b;
	} else if (strcmp(name, "remote-program") == 0) {
		if (strspn(val, " \t") == strlen(val)) {
			snprintf(err, errsz, "%s: remote-program is empty", uri);
			goto out;
		}
		free(u->remote_program);
		u->remote_program = val;
		val = NULL;
	} else if (strcmp(name, "remote-store") == 0) {
		free(u->remote_store);
		u->remote_store = *val != '\0' ? val : NULL;
		if (u->remote_store != NULL)
			val = NULL;
	} else {
		for (i = 0; ignored[i] != NULL; i++)
			if (strcmp(name, ignored[i]) == 0)
				break;
		if (ignored[i] != NULL)
			log_warnx("%s: parameter %s is ignored by nix-offload",
			    uri, name);
		else
			log_warnx("%s: unknown parameter %s, ignored", uri, name);
	}
	rc = 0;
out:
	free(name);
	free(val);
	return rc;
}

/*
 * Parse a store URI into u (zeroed first).  Returns 0, or -1 with err
 * saying why; u need not be freed after a failure.
 */
int
uri_check(const char *s, struct store_uri *u, char *err, size_t errsz)
{
	const char	*auth, *end, *at, *h, *hend, *q, *p, *amp;
	size_t		 len = strlen(s), skip;
	char		 port[8];

	memset(u, 0, sizeof(*u));
	if (len >= URI_MAX) {
		snprintf(err, errsz, "store URI longer than %d bytes", URI_MAX);
		return -1;
	}
	if (strncmp(s, "ssh://", 6) == 0)
		skip = 6;
	else if (strncmp(s, "ssh-ng://", 9) == 0) {
		skip = 9;
		u->ng = 1;
	} else {
		const char *colon = strstr(s, "://");
		if (colon != NULL)
			snprintf(err, errsz, "%s: unsupported scheme %.*s://: nix-offload "
			    "speaks to ssh:// and ssh-ng:// stores only", s,
			    (int)(colon - s), s);
		else
			snprintf(err, errsz, "%s: not a store URI: expected ssh://HOST "
			    "(did you mean ssh://%s?)", s, s);
		return -1;
	}
	auth = s + skip;
	end = auth + strcspn(auth, "?/#");
	if (*end == '/' || *end == '#') {
		snprintf(err, errsz, "%s: unexpected \"%c\" after the host: expected "
		    "%.*s[user@]host[:port][?params]", s, *end, (int)skip, s);
		return -1;
	}
	at = NULL;
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		if ((u->user = dup_range(auth, (size_t)(at - auth))) == NULL)
			goto fail;
		if (!valid_name(u->user, "._-")) {
			snprintf(err, errsz, "%s: invalid user name \"%s\"", s, u->user);
			goto fail;
		}
		h = at + 1;
	} else
		h = auth;
	if (*h == '[') {
		if ((hend = memchr(h, ']', (size_t)(end - h))) == NULL) {
			snprintf(err, errsz, "%s: unterminated [ in IPv6 address", s);
			goto fail;
		}
		/* a zone is written %25 (fe80::1%25eth0), or raw */
		u->host = dup_range(h + 1, (size_t)(hend - h - 1));
		if (u->host == NULL)
			goto fail;
		if ((p = strstr(u->host, "%25")) != NULL)
			memmove((char *)p + 1, p + 3, strlen(p + 3) + 1);
		if (!valid_name(u->host, ":.%") ||
		    strchr(u->host, ':') == NULL) {
			snprintf(err, errsz, "%s: invalid IPv6 address \"%s\"", s, u->host);
			goto fail;
		}
		p = hend + 1;
	} else {
		hend = memchr(h, ':', (size_t)(end - h));
		if (hend == NULL)
			hend = end;
		if ((u->host = dup_range(h, (size_t)(hend - h))) == NULL)
			goto fail;
		if (*u->host == '\0') {
			snprintf(err, errsz, "%s: empty host name", s);
			goto fail;
		}
		if (*u->host == '-') {
			snprintf(err, errsz, "%s: host name \"%s\" starts with \"-\"",
			    s, u->host);
			goto fail;
		}
		if (!valid_name(u->host, ".-_")) {
			snprintf(err, errsz, "%s: invalid host name \"%s\"", s, u->host);
			goto fail;
		}
		p = hend;
	}
	if (p < end) {
		size_t	 n;
		char	*e;
		long	 v;

		if (*p != ':' || (n = (size_t)(end - p - 1)) == 0 ||
		    n >= sizeof(port)) {
			snprintf(err, errsz, "%s: expected :PORT after the host", s);
			goto fail;
		}
		memcpy(port, p + 1, n);
		port[n] = '\0';
		v = strtol(port, &e, 10);
		if (*e != '\0' || !isdigit((unsigned char)port[0]) ||
		    v < 1 || v > 65535) {
			snprintf(err, errsz, "%s: port \"%s\" is not a number from 1 to "
			    "65535", s, port);
			goto fail;
		}
		u->port = (int)v;
	}
	for (q = *end == '?' ? end + 1 : end; *q != '\0'; q = amp) {
		amp = q + strcspn(q, "&");
		if (amp > q && param(u, s, q, (size_t)(amp - q), err,
		    errsz) == -1)
			goto fail;
		if (*amp == '&')
			amp++;
	}
	snprintf(u->display, sizeof(u->display), "%s://%s%s%s%s%s%s%s",
	    u->ng ? "ssh-ng" : "ssh", u->user ? u->user : "", u->user ? "@" : "",
	    strchr(u->host, ':') ? "[" : "", u->host,
	    strchr(u->host, ':') ? "]" : "", u->port ? ":" : "",
	    u->port ? port : "");
	return 0;
fail:
	uri_free(u);
	return -1;
}

void
uri_free(struct store_uri *u)
{
	free(u->user);
	free(u->host);
	free(u->ssh_key);
	free(u->host_key);
	free(u->remote_program);
	free(u->remote_store);
	memset(u, 0, sizeof(*u));
}

/* uri_check, its failure said. */
int
uri_parse(const char *s, struct store_uri *u)
{
	char	 err[URI_MAX + 256];

	if (uri_check(s, u, err, sizeof(err)) == 0)
		return 0;
	log_errx("%s", err);
	return -1;
}

/* uri_hostkey_check, its failure said. */
char *
uri_hostkey(const char *b64)
{
	char	 err[512], *k;

	if ((k = uri_hostkey_check(b64, err, sizeof(err))) == NULL)
		log_errx("%s", err);
	return k;
}
