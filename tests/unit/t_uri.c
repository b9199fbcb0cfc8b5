/*
 * Unit tests for src/uri.c: store URIs (uri_parse), their length limit,
 * and pinned host keys (uri_hostkey).
 *
 * Cases marked "regression:" failed when they were written, for a defect
 * in src/ since fixed; they stay so that it does not come back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"
#include "harness.h"

/* base64 of a real ed25519 public key line, comment and newline included */
#define HOSTKEY_B64	"c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFB" \
	"SU9Hd1pXdjZsUTlYaVR4cmpTT0xGZTBMTlFQeVVpM0tPK2FZaDRTUmlLcnYgdGVzdGJl" \
	"ZC1ob3N0MQo"
#define HOSTKEY		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOGwZWv6lQ9X" \
	"iTxrjSOLFe0LNQPyUi3KO+aYh4SRiKrv"

/*
 * uri_parse
 */

static const struct uri_case {
	const char	*name;
	const char	*uri;
	int		 rc;
	const char	*user, *host;
	int		 port;
	const char	*display, *ssh_key, *host_key;
	int		 compress;
	const char	*remote_program, *remote_store;
	int		 ng;
} uri_cases[] = {
	{ "uri_host", "ssh://host", .host = "host", .display = "ssh://host" },
	{ "uri_user", "ssh://user@host", .user = "user", .host = "host",
	    .display = "ssh://user@host" },
	{ "uri_user_chars", "ssh://a.b_c-d@h-1.x.org", .user = "a.b_c-d",
	    .host = "h-1.x.org", .display = "ssh://a.b_c-d@h-1.x.org" },
	{ "uri_port", "ssh://host:2222", .host = "host", .port = 2222,
	    .display = "ssh://host:2222" },
	{ "uri_port_1", "ssh://h:1", .port = 1, .display = "ssh://h:1" },
	{ "uri_port_65535", "ssh://h:65535", .port = 65535,
	    .display = "ssh://h:65535" },
	{ "uri_ipv6", "ssh://[::1]", .host = "::1", .display = "ssh://[::1]" },
	{ "uri_ipv6_port", "ssh://[::1]:22", .host = "::1", .port = 22,
	    .display = "ssh://[::1]:22" },
	/*
	 * regression: %25 is how a URI writes the "%" of an IPv6 zone (RFC 6874),
	 * and the host goes to ssh as is: ssh needs "fe80::1%eth0".
	 */
	{ "uri_ipv6_zone", "ssh://user@[fe80::1%25eth0]:22", .user = "user",
	    .host = "fe80::1%eth0", .port = 22,
	    .display = "ssh://user@[fe80::1%eth0]:22" },
	/* rows without a host are about the parameters of ssh://h */
	{ "uri_ssh_key", "ssh://h?ssh-key=/root/.ssh/id_ed25519",
	    .ssh_key = "/root/.ssh/id_ed25519" },
	{ "uri_ssh_key_pct", "ssh://h?ssh-key=%2Froot%2fk%20x",
	    .ssh_key = "/root/k x" },
	{ "uri_host_key", "ssh://h?base64-ssh-public-host-key=" HOSTKEY_B64 "=",
	    .host_key = HOSTKEY },
	/* the same, with its "=" percent-encoded as some tools write it */
	{ "uri_host_key_pct", "ssh://h?base64-ssh-public-host-key="
	    HOSTKEY_B64 "%3D", .host_key = HOSTKEY },
	{ "uri_compress_true", "ssh://h?compress=true", .compress = COMPRESS_ON },
	{ "uri_compress_false", "ssh://h?compress=false", .compress = COMPRESS_OFF },
	{ "uri_remote_program", "ssh://h?remote-program=/run/bin/nix-store",
	    .remote_program = "/run/bin/nix-store" },
	{ "uri_remote_store", "ssh://h?remote-store=local%3Froot%3D%2Ftmp%2Fx",
	    .remote_store = "local?root=/tmp/x" },
	{ "uri_remote_store_empty", "ssh://h?remote-store=", .rc = 0 },
	/* Nix's own parameters, and strangers: a warning, not an error */
	{ "uri_ignored_params", "ssh://h?max-connections=4&foo=bar", .rc = 0 },
	{ "uri_empty_query", "ssh://h?", .rc = 0 },
	{ "uri_everything", "ssh://u@[2001:db8::2]:2200?ssh-key=k&compress=1"
	    "&remote-program=nix-store&remote-store=auto", .user = "u",
	    .host = "2001:db8::2", .port = 2200,
	    .display = "ssh://u@[2001:db8::2]:2200", .ssh_key = "k",
	    .compress = 1, .remote_program = "nix-store",
	    .remote_store = "auto" },

	{ "uri_err_http", "http://x", .rc = -1 },
	{ "uri_ssh_ng", "ssh-ng://u@x:2200?remote-program=nix-daemon",
	    .user = "u", .host = "x", .port = 2200, .ng = 1,
	    .display = "ssh-ng://u@x:2200", .remote_program = "nix-daemon" },
	{ "uri_err_ssh_ng_slash", "ssh-ng://x/", .rc = -1 },
	{ "uri_err_ssh_ng_dash", "ssh-ng://-oProxyCommand=x", .rc = -1 },
	{ "uri_err_no_scheme", "host", .rc = -1 },
	{ "uri_err_empty", "", .rc = -1 },
	{ "uri_err_no_host", "ssh://", .rc = -1 },
	{ "uri_err_user_no_host", "ssh://user@", .rc = -1 },
	{ "uri_err_empty_user", "ssh://@h", .rc = -1 },
	/* ssh would take these for options */
	{ "uri_err_dash_host", "ssh://-oProxyCommand=x", .rc = -1 },
	{ "uri_err_dash_host_user", "ssh://u@-oProxyCommand=x", .rc = -1 },
	{ "uri_err_dash_user", "ssh://-l@h", .rc = -1 },
	{ "uri_err_dash_ipv6", "ssh://[-1::]", .rc = -1 },
	{ "uri_err_host_space", "ssh://a b", .rc = -1 },
	{ "uri_err_host_semicolon", "ssh://a;b", .rc = -1 },
	{ "uri_err_port_0", "ssh://h:0", .rc = -1 },
	{ "uri_err_port_65536", "ssh://h:65536", .rc = -1 },
	{ "uri_err_port_abc", "ssh://h:abc", .rc = -1 },
	{ "uri_err_port_empty", "ssh://h:", .rc = -1 },
	{ "uri_err_port_sign", "ssh://h:+22", .rc = -1 },
	{ "uri_err_port_neg", "ssh://h:-1", .rc = -1 },
	{ "uri_err_port_long", "ssh://h:123456789", .rc = -1 },
	{ "uri_err_path", "ssh://h/x", .rc = -1 },
	{ "uri_err_slash", "ssh://h/", .rc = -1 },
	{ "uri_err_fragment", "ssh://h#x", .rc = -1 },
	{ "uri_err_param_no_eq", "ssh://h?compress", .rc = -1 },
	{ "uri_err_param_no_name", "ssh://h?=x", .rc = -1 },
	{ "uri_err_pct_zz", "ssh://h?ssh-key=%zz", .rc = -1 },
	{ "uri_err_pct_short", "ssh://h?ssh-key=a%2", .rc = -1 },
	{ "uri_err_pct_bare", "ssh://h?ssh-key=a%", .rc = -1 },
	{ "uri_err_pct_nul", "ssh://h?ssh-key=a%00b", .rc = -1 },
	{ "uri_err_ssh_key_empty", "ssh://h?ssh-key=", .rc = -1 },
	{ "uri_err_remote_program_empty", "ssh://h?remote-program=%20",
	    .rc = -1 },
	{ "uri_err_compress_maybe", "ssh://h?compress=maybe", .rc = -1 },
	{ "uri_err_host_key_b64", "ssh://h?base64-ssh-public-host-key=!!!!",
	    .rc = -1 },
	{ "uri_err_host_key_not_key",
	    "ssh://h?base64-ssh-public-host-key=aGVsbG8gd29ybGQK", .rc = -1 },
	{ "uri_err_bracket", "ssh://[::1", .rc = -1 },
	{ "uri_err_bracket_user", "ssh://u@[::1:22", .rc = -1 },
	{ "uri_err_bracket_tail", "ssh://[::1]x", .rc = -1 },
	{ "uri_err_bracket_empty", "ssh://[]", .rc = -1 },
	{ "uri_err_bracket_not_ipv6", "ssh://[host]", .rc = -1 },
};

static int
uri_case_check(const struct uri_case *t)
{
	struct store_uri	*u;
	int			 rc, good;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		abort();
	rc = uri_parse(t->uri, u);
	good = rc == t->rc || no("returned %d, expected %d", rc, t->rc);
	if (good && rc == 0)
		good = same("user", u->user, t->user) &&
		    same("host", u->host, t->host ? t->host : "h") &&
		    (u->port == t->port ||
		    no("port: expected %d, got %d", t->port, u->port)) &&
		    same("display", u->display,
		    t->display ? t->display : "ssh://h") &&
		    same("ssh_key", u->ssh_key, t->ssh_key) &&
		    (u->ng == t->ng ||
		    no("ng: expected %d, got %d", t->ng, u->ng)) &&
		    same("host_key", u->host_key, t->host_key) &&
		    (u->compress == t->compress ||
		    no("compress: expected %d, got %d", t->compress,
		    u->compress)) &&
		    same("remote_program", u->remote_program,
		    t->remote_program) &&
		    same("remote_store", u->remote_store, t->remote_store);
	if (rc == 0)
		uri_free(u);
	/* after uri_free, and after a failure ("need not be freed") */
	if (good && (u->user != NULL || u->host != NULL || u->ssh_key != NULL ||
	    u->host_key != NULL || u->remote_program != NULL ||
	    u->remote_store != NULL))
		good = no("pointers left in the struct");
	free(u);
	return good;
}

/* The length limit: one byte over is refused, one under is not. */
static void
test_uri_long(void)
{
	struct store_uri	 u;
	char			 s[URI_MAX + 1];

	memcpy(s, "ssh://", 6);
	memset(s + 6, 'a', URI_MAX - 6);
	s[URI_MAX] = '\0';
	report("uri_err_too_long", uri_parse(s, &u) == -1 ||
	    no("a %d-byte URI was accepted", URI_MAX));
	s[URI_MAX - 1] = '\0';
	report("uri_long_ok", uri_parse(s, &u) == 0 ||
	    no("a %d-byte URI was refused", URI_MAX - 1));
	uri_free(&u);
}

/*
 * uri_hostkey: base64 of a key line to "type blob".  The table holds the
 * decoded text; the test encodes it.
 */

static void
b64enc(const unsigned char *p, size_t n, char *out)
{
	static const char	 abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t			 i;
	uint32_t		 v;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*out++ = abc[v >> 18];
		*out++ = abc[(v >> 12) & 63];
		*out++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
		*out++ = i + 2 < n ? abc[v & 63] : '=';
	}
	*out = '\0';
}

#define ED_BLOB	"AAAAC3NzaC1lZDI1NTE5AAAAIOGwZWv6lQ9XiTxrjSOLFe0LNQPyUi3KO+aY" \
	"h4SRiKrv"

static const struct {
	const char	*name, *line, *want;	/* want NULL: refused */
} hostkey_cases[] = {
	{ "hostkey_comment", "ssh-ed25519 " ED_BLOB " root@h\n",
	    "ssh-ed25519 " ED_BLOB },
	{ "hostkey_bare", "ssh-ed25519 " ED_BLOB, "ssh-ed25519 " ED_BLOB },
	{ "hostkey_crlf", "ssh-ed25519 " ED_BLOB "\r\n",
	    "ssh-ed25519 " ED_BLOB },
	{ "hostkey_cert_type", "ssh-ed25519-cert-v01@openssh.com " ED_BLOB,
	    "ssh-ed25519-cert-v01@openssh.com " ED_BLOB },
	{ "hostkey_err_text", "hello world\n", NULL },
	{ "hostkey_err_type_only", "ssh-ed25519\n", NULL },
	{ "hostkey_err_empty", "", NULL },
	{ "hostkey_err_short_blob", "ssh-ed25519 AAAA\n", NULL },
	{ "hostkey_err_blob_not_b64", "ssh-ed25519 !!!!!!!!!!!!!!!!!!!!!!!!\n",
	    NULL },
	{ "hostkey_err_two_lines", "ssh-ed25519 " ED_BLOB "\nssh-rsa "
	    ED_BLOB "\n", NULL },
	{ "hostkey_err_leading_space", " ssh-ed25519 " ED_BLOB, NULL },
	{ "hostkey_err_type_chars", "ssh;ed25519 " ED_BLOB, NULL },
	{ "hostkey_err_control", "ssh-ed25519 " ED_BLOB " a\033b", NULL },
};

static void
test_hostkey(void)
{
	char		 b64[512], *got;
	size_t		 i;

	for (i = 0; i < nitems(hostkey_cases); i++) {
		const char *line = hostkey_cases[i].line;

		b64enc((const unsigned char *)line, strlen(line), b64);
		got = uri_hostkey(b64);
		report(hostkey_cases[i].name,
		    same("key", got, hostkey_cases[i].want));
		free(got);
	}
	got = uri_hostkey("not base64!");
	report("hostkey_err_b64", same("key", got, NULL));
	free(got);
}

int
main(void)
{
	size_t	 i;

	/* messages are checked through last_error(), not printed */
	errors_capture();

	for (i = 0; i < nitems(uri_cases); i++)
		report(uri_cases[i].name, uri_case_check(&uri_cases[i]));
	test_uri_long();
	test_hostkey();
	return done();
}
