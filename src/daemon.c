/*
 * The client side of Nix's daemon protocol (`nix-daemon --stdio`, the
 * store of an ssh-ng:// URI): handshake, the stream of messages before
 * every reply, then one function per operation, behind proto.c's
 * interface.  See shared/spec/daemon-protocol.md.
 *
 *	handshake: -> u64 DAEMON_MAGIC_1
 *	           <- u64 DAEMON_MAGIC_2, u64 their version
 *	           -> u64 our version, [1.38: our features], u64 0 (CPU
 *	              affinity), u64 0 (reserve space)
 *	           <- [1.38: their features], [1.33: str Nix version],
 *	              [1.35: u64 trust], messages until STDERR_LAST
 *	operation: -> u64 op, its arguments
 *	           <- messages (logs, activities) until STDERR_LAST and the
 *	              reply, or STDERR_ERROR and nothing else
 *
 * Unlike the serve protocol, a failed operation is said in band
 * (STDERR_ERROR) and the conversation goes on.  Several operations may be
 * sent before the first reply is read: the daemon answers in order.
 */
#include <stdlib.h>
#include <string.h>

#include "extern.h"

enum daemon_msg {
	STDERR_NEXT = 0x6f6c6d67,
	STDERR_READ = 0x64617461,
	STDERR_WRITE = 0x64617416,
	STDERR_LAST = 0x616c7473,
	STDERR_ERROR = 0x63787470,
	STDERR_START_ACTIVITY = 0x53545254,
	STDERR_STOP_ACTIVITY = 0x53544f50,
	STDERR_RESULT = 0x52534c54
};

#define RES_BUILD_LOG_LINE	101	/* an activity result: a log line */
#define RES_POST_BUILD_LOG_LINE	107	/* and one of the post-build hook */
#define FIELD_INT		0
#define FIELD_STRING		1



/* Skip an activity's or a result's fields; a log line's is kept in *line. */
static int
fields(struct conn *c, char **line)
{
	uint64_t	 n, i, type, v;
	char		*s;

	if (wire_read_u64(c, &n) == -1)
		return -1;
	if (n > DAEMON_FIELDS_MAX) {
		snprintf(c->why, sizeof(c->why), "%llu fields in a message, "
		    "over the limit of %d", (unsigned long long)n,
		    DAEMON_FIELDS_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (wire_read_u64(c, &type) == -1)
			return -1;
		if (type == FIELD_INT) {
			if (wire_read_u64(c, &v) == -1)
				return -1;
			continue;
		}
		if (type != FIELD_STRING) {
			snprintf(c->why, sizeof(c->why), "a message field of "
			    "unknown type %llu", (unsigned long long)type);
			return -1;
		}
		if (wire_read_string(c, DAEMON_TEXT_MAX, &s, NULL) == -1)
			return -1;
		if (line != NULL && *line == NULL && i == 0)
			*line = s;
		else
			free(s);
	}
	return 0;
}

/* A line of the builder's log, to show and keep as remote stderr is. */
static void
log_line(struct conn *c, const char *s)
{
	size_t	 n = strlen(s);

	wire_log(c, s, n);
	if (n == 0 || s[n - 1] != '\n')
		wire_log(c, "\n", 1);
}

/*
 * The daemon's STDERR_ERROR, into e: at 1.26 and later a structured
 * error (type, level, name, message, no position, traces), before a
 * string and a status.  Its escape sequences go (text_clean).
 */
static int
read_error(struct conn *c, struct daemon_err *e)
{
	uint64_t	 v, n, i;
	char		*s = NULL, *msg = NULL;

	if (DAEMON_MINOR(c->version) < 26) {
		if (wire_read_string(c, DAEMON_TEXT_MAX, &msg, NULL) == -1 ||
		    wire_read_u64(c, &v) == -1)
			goto fail;
	} else {
		if (wire_read_string(c, DAEMON_NAME_MAX, &s, NULL) == -1 ||
		    wire_read_u64(c, &v) == -1)
			goto fail;
		free(s);
		s = NULL;
		if (wire_read_string(c, DAEMON_NAME_MAX, &s, NULL) == -1 ||
		    wire_read_string(c, DAEMON_TEXT_MAX, &msg, NULL) == -1 ||
		    wire_read_u64(c, &v) == -1)
			goto fail;
		if (v != 0) {
			snprintf(c->why, sizeof(c->why), "an error with a "
			    "position, which the protocol does not send");
			goto fail;
		}
		if (wire_read_u64(c, &n) == -1)
			goto fail;
		if (n > DAEMON_TRACES_MAX) {
			snprintf(c->why, sizeof(c->why), "an error with %llu "
			    "traces, over the limit of %d",
			    (unsigned long long)n, DAEMON_TRACES_MAX);
			goto fail;
		}
		for (i = 0; i < n; i++) {
			free(s);
			s = NULL;
			if (wire_read_u64(c, &v) == -1 || v != 0 ||
			    wire_read_string(c, DAEMON_TEXT_MAX, &s,
			    NULL) == -1) {
				if (v != 0)
					snprintf(c->why, sizeof(c->why), "an "
					    "error trace with a position");
				goto fail;
			}
		}
	}
	text_clean(msg);
	/* Nix's own words start "error: " when they are whole */
	strlcpy(e->msg, strncmp(msg, "error: ", 7) == 0 ? msg + 7 : msg,
	    sizeof(e->msg));
	free(s);
	free(msg);
	return 0;
fail:
	free(s);
	free(msg);
	return -1;
}

/*
 * The messages before a reply, until STDERR_LAST: log lines are shown (as
 * ssh:// builders' stderr is), activities skipped.  Returns 0 when the
 * reply follows; 1 when the daemon refused the operation, its words in e;
 * -1 when the conversation broke (c->why, not said yet).
 */
int
daemon_messages(struct conn *c, struct daemon_err *e)
{
	uint64_t	 tag, v;
	char		*s;
	int		 r;

	for (;;) {
		if (wire_read_u64(c, &tag) == -1)
			return -1;
		s = NULL;
		switch (tag) {
		case STDERR_LAST:
			return 0;
		case STDERR_ERROR:
			return read_error(c, e) == -1 ? -1 : 1;
		case STDERR_NEXT:
			if (wire_read_string(c, DAEMON_TEXT_MAX, &s, NULL) == -1)
				return -1;
			log_line(c, s);
			break;
		case STDERR_START_ACTIVITY:
			/* id, level, type, text, fields, parent */
			r = wire_read_u64(c, &v) == -1 ||
			    wire_read_u64(c, &v) == -1 ||
			    wire_read_u64(c, &v) == -1 ||
			    wire_read_string(c, DAEMON_TEXT_MAX, &s, NULL) == -1 ||
			    fields(c, NULL) == -1 ||
			    wire_read_u64(c, &v) == -1;
			free(s);
			s = NULL;
			if (r)
				return -1;
			break;
		case STDERR_STOP_ACTIVITY:
			if (wire_read_u64(c, &v) == -1)
				return -1;
			break;
		case STDERR_RESULT:
			if (wire_read_u64(c, &v) == -1 ||
			    wire_read_u64(c, &v) == -1 ||
			    fields(c, v == RES_BUILD_LOG_LINE ||
			    v == RES_POST_BUILD_LOG_LINE ? &s : NULL) == -1) {
				free(s);
				return -1;
			}
			if (s != NULL)
				log_line(c, s);
			break;
		default:
			/* STDERR_READ and _WRITE answer operations we never send */
			snprintf(c->why, sizeof(c->why), "a message of unknown "
			    "type 0x%llx", (unsigned long long)tag);
			return -1;
		}
		free(s);
	}
}

/*
 * What the daemon's refusal means for the user, and what to do: its own
 * words, and for the refusals of an untrusted user, the remedies.
 */
void
daemon_refused(struct conn *c, const struct daemon_err *e, const char *what)
{
	if (c->here)
		wire_error(c, FAIL_OTHER, "%s: the local nix-daemon refused: "
		    "%s", what, e->msg);
	else if (strstr(e->msg, "lacks a signature by a trusted key") != NULL ||
	    strstr(e->msg, "lacks a valid signature") != NULL)
		wire_error(c, FAIL_OTHER, "%s: the builder's nix-daemon refused: "
		    "%s; the builder's user is not in its trusted-users, so "
		    "what it is sent must be signed by a key in its "
		    "trusted-public-keys (secret-key-files here), or be "
		    "content-addressed; or add the user to trusted-users on "
		    "the builder", what, e->msg);
	else if (strstr(e->msg, "not privileged") != NULL ||
	    strstr(e->msg, "not in 'trusted-users'") != NULL)
		wire_error(c, FAIL_OTHER, "%s: the builder's nix-daemon refused: "
		    "%s; add the builder's user to trusted-users on the "
		    "builder", what, e->msg);
	else
		wire_error(c, FAIL_OTHER, "%s: the builder's nix-daemon "
		    "failed: %s", what, e->msg);
}

/*
 * Wait for the reply to the operation doing what: 0 when it follows, -1
 * when it failed (said, in c->f).
 */
int
daemon_reply(struct conn *c, const char *what)
{
	struct daemon_err	 e;
	int		 r;

	if ((r = daemon_messages(c, &e)) == 0)
		return 0;
	if (r == 1)
		daemon_refused(c, &e, what);
	else
		wire_fail(c, "%s", what);
	return -1;
}

int
daemon_send_failed(struct conn *c, const char *what)
{
	wire_fail(c, "%s", what);
	return -1;
}

/*
 * Open the conversation.  Sets c->remote_version, c->version (the lower
 * of both), c->remote_nix and c->trust where the daemon says them.
 * Returns 0, or -1 with the cause in c->f.
 */
int
daemon_handshake(struct conn *c)
{
	struct strlist	 feats = { NULL, 0, 0 };
	uint64_t	 v;
	char		*s = NULL;

	if (wire_write_u64(c, DAEMON_MAGIC_1) == -1 || wire_flush(c) == -1)
		return daemon_send_failed(c, "sending the daemon protocol greeting");
	if (proto_greeting(c, DAEMON_MAGIC_2, "daemon") == -1)
		return -1;
	if (wire_read_u64(c, &v) == -1) {
		wire_fail(c, "during the daemon handshake");
		return -1;
	}
	if (v > 0xffff || (v >> 8) != (DAEMON_VERSION >> 8)) {
		wire_error(c, FAIL_PROTOCOL, "the builder's nix-daemon speaks "
		    "protocol %llu.%llu; nix-offload speaks %d.x",
		    (unsigned long long)(v >> 8), (unsigned long long)(v & 0xff),
		    DAEMON_VERSION >> 8);
		return -1;
	}
	if (v < DAEMON_VERSION_MIN) {
		wire_error(c, FAIL_PROTOCOL, "the builder's nix-daemon is too "
		    "old: it speaks protocol %d.%d, nix-offload needs %d.%d "
		    "(Nix 2.8) or newer; upgrade Nix on the builder, or use "
		    "it as ssh://", (int)(v >> 8), (int)(v & 0xff),
		    DAEMON_VERSION_MIN >> 8, DAEMON_VERSION_MIN & 0xff);
		return -1;
	}
	c->remote_version = (unsigned)v;
	c->version = v < DAEMON_VERSION ? (unsigned)v : DAEMON_VERSION;
	c->ng = 1;
	c->trust = DAEMON_TRUST_UNKNOWN;
	/* our version, no features, no CPU affinity, no space reserved */
	if (wire_write_u64(c, DAEMON_VERSION) == -1 ||
	    (DAEMON_MINOR(c->version) >= 38 && wire_write_u64(c, 0) == -1) ||
	    wire_write_u64(c, 0) == -1 || wire_write_u64(c, 0) == -1 ||
	    wire_flush(c) == -1)
		return daemon_send_failed(c, "during the daemon handshake");
	wire_reply_begin(c, DAEMON_FEATURES_MAX * (WIRE_ITEM_COST +
	    DAEMON_NAME_MAX) + WIRE_ITEM_COST + sizeof(c->remote_nix));
	if ((DAEMON_MINOR(c->version) >= 38 && wire_read_strings(c,
	    DAEMON_FEATURES_MAX, DAEMON_NAME_MAX, &feats) == -1) ||
	    (DAEMON_MINOR(c->version) >= 33 && wire_read_string(c,
	    sizeof(c->remote_nix) - 1, &s, NULL) == -1) ||
	    (DAEMON_MINOR(c->version) >= 35 && wire_read_u64(c, &v) == -1)) {
		wire_reply_end(c);
		strlist_free(&feats);
		free(s);
		wire_fail(c, "during the daemon handshake");
		return -1;
	}
	wire_reply_end(c);
	strlist_free(&feats);
	if (s != NULL) {
		strlcpy(c->remote_nix, text_clean(s), sizeof(c->remote_nix));
		free(s);
	}
	if (DAEMON_MINOR(c->version) >= 35) {
		if (v > DAEMON_TRUST_NOT) {
			wire_error(c, FAIL_PROTOCOL, "during the daemon "
			    "handshake: trust status %llu, expected 0 to 2",
			    (unsigned long long)v);
			return -1;
		}
		c->trust = (int)v;
	}
	if (daemon_reply(c, "during the daemon handshake") == -1)
		return -1;
	c->proto = &daemon_proto;
	log_debug(2, "%s: daemon protocol %u.%u (remote %u.%u), Nix %s, %s",
	    c->host, c->version >> 8, c->version & 0xff,
	    c->remote_version >> 8, c->remote_version & 0xff,
	    c->remote_nix[0] ? c->remote_nix : "(not said)",
	    c->trust == DAEMON_TRUST_YES ? "trusted" :
	    c->trust == DAEMON_TRUST_NOT ? "not trusted" : "trust not said");
	return 0;
}

/*
 * Which of paths the daemon has; with lock, all are made temporary roots
 * first (AddTempRoot: held for the session); with substitute, it fetches
 * them from its substituters first.  All in one round trip.
 */
static int
valid(struct conn *c, const struct strlist *paths, int lock, int substitute,
    struct strlist *out)
{
	uint64_t	 one;
	size_t		 i;
	int		 saved = c->timeout_ms, rc = -1;
	char		 what[128];

	snprintf(what, sizeof(what), "asking which of %zu paths are valid",
	    paths->n);
	for (i = 0; lock && i < paths->n; i++)
		if (wire_write_u64(c, OP_ADD_TEMP_ROOT) == -1 ||
		    wire_write_str(c, paths->v[i]) == -1)
			return daemon_send_failed(c, what);
	if (wire_write_u64(c, OP_QUERY_VALID_PATHS) == -1 ||
	    wire_write_strings(c, paths) == -1 ||
	    (DAEMON_MINOR(c->version) >= 27 &&
	    wire_write_u64(c, substitute != 0) == -1) || wire_flush(c) == -1)
		return daemon_send_failed(c, what);
	for (i = 0; lock && i < paths->n; i++) {
		if (daemon_reply(c, what) == -1)
			return -1;
		if (wire_read_u64(c, &one) == -1)
			return daemon_send_failed(c, what);
	}
	/* substituting is downloading, maybe for long */
	if (substitute)
		c->timeout_ms = 0;
	wire_reply_begin(c, DAEMON_REPLY_MAX);
	if (daemon_reply(c, what) == 0) {
		if (wire_read_strings(c, WIRE_LIST_MAX, WIRE_PATH_MAX,
		    out) == -1)
			wire_fail(c, "%s", what);
		else if (out->n > paths->n)
			wire_error(c, FAIL_PROTOCOL, "asked about %zu paths, "
			    "the daemon named %zu valid", paths->n, out->n);
		else
			rc = 0;
	}
	wire_reply_end(c);
	c->timeout_ms = saved;
	return rc;
}

/* "sha256:<nix32>" of a NAR hash the daemon wrote in hex, into *out. */
static int
nar_hash(struct conn *c, const char *path, char *hex, char **out)
{
	unsigned char	 d[SHA256_LEN];
	char		 b32[64], q[256];

	if (strncmp(hex, "sha256:", 7) == 0)
		hex += 7;
	if (strlen(hex) != 2 * SHA256_LEN ||
	    hash_hex_decode(hex, SHA256_LEN, d) == -1) {
		wire_error(c, FAIL_PROTOCOL, "the daemon gave %s the NAR hash "
		    "\"%s\", not a SHA-256 in hex", path,
		    text_printable(hex, strlen(hex), q, sizeof(q)));
		return -1;
	}
	nix32_encode(d, SHA256_LEN, b32);
	if ((*out = malloc(7 + strlen(b32) + 1)) == NULL) {
		log_err("path infos");
		return -1;
	}
	memcpy(*out, "sha256:", 7);
	strcpy(*out + 7, b32);
	return 0;
}

/* One QueryPathInfo reply: 0 and *have, or -1 (said). */
static int
read_info(struct conn *c, const char *path, struct path_info *pi, int *have)
{
	uint64_t	 v, t;
	char		*hex = NULL;
	int		 r;

	*have = 0;
	if (daemon_reply(c, "asking for path infos") == -1)
		return -1;
	if (wire_read_u64(c, &v) == -1)
		goto fail;
	if (v == 0)
		return 0;
	if (v != 1) {
		wire_error(c, FAIL_PROTOCOL, "asking for the path info of %s: "
		    "validity %llu, expected 0 or 1", path,
		    (unsigned long long)v);
		return -1;
	}
	memset(pi, 0, sizeof(*pi));
	if (wire_charge(c, sizeof(*pi)) == -1 ||
	    (pi->path = strdup(path)) == NULL ||
	    wire_read_string(c, WIRE_PATH_MAX, &pi->deriver, NULL) == -1 ||
	    wire_read_string(c, WIRE_HASH_MAX, &hex, NULL) == -1 ||
	    wire_read_strings(c, WIRE_LIST_MAX, WIRE_PATH_MAX, &pi->refs) == -1 ||
	    wire_read_u64(c, &t) == -1 ||
	    wire_read_u64(c, &pi->nar_size) == -1 ||
	    wire_read_u64(c, &t) == -1 ||
	    wire_read_strings(c, WIRE_LIST_MAX, WIRE_HASH_MAX, &pi->sigs) == -1 ||
	    wire_read_string(c, WIRE_PATH_MAX, &pi->ca, NULL) == -1)
		goto fail;
	*have = 1;
	r = nar_hash(c, path, hex, &pi->nar_hash);
	free(hex);
	return r;
fail:
	*have = pi->path != NULL;
	free(hex);
	wire_fail(c, "reading the path info of %s", path);
	return -1;
}

/* Ask for the path infos of paths (QueryPathInfo each, read later). */
static int
ask_infos(struct conn *c, const struct strlist *paths)
{
	size_t	 i;

	for (i = 0; i < paths->n; i++)
		if (wire_write_u64(c, OP_QUERY_PATH_INFO) == -1 ||
		    wire_write_str(c, paths->v[i]) == -1)
			return daemon_send_failed(c, "asking for path infos");
	return 0;
}

/*
 * The replies to ask_infos(paths): records for the paths the daemon has,
 * in the order asked; *out gets *n of them (serve_path_infos_free).  The
 * replies count against DAEMON_REPLY_MAX.
 */
static int
read_infos(struct conn *c, const struct strlist *paths,
    struct path_info **out, size_t *n)
{
	struct path_info	*v;
	size_t			 i;
	int			 have;

	*out = NULL;
	*n = 0;
	if (paths->n == 0)
		return 0;
	if ((v = calloc(paths->n, sizeof(*v))) == NULL) {
		log_err("path infos");
		return -1;
	}
	wire_reply_begin(c, DAEMON_REPLY_MAX);
	for (i = 0; i < paths->n; i++) {
		if (read_info(c, paths->v[i], &v[*n], &have) == -1) {
			*n += (size_t)have;
			wire_reply_end(c);
			serve_path_infos_free(v, *n);
			*n = 0;
			return -1;
		}
		*n += (size_t)have;
	}
	wire_reply_end(c);
	*out = v;
	return 0;
}

/* The outputs of the .drv of the reply to QueryDerivationOutputMap. */
static int
read_outputs(struct conn *c, struct strlist *next)
{
	uint64_t	 n, i;
	char		*name, *path;

	if (daemon_reply(c, "asking for a derivation's outputs") == -1)
		return -1;
	if (wire_read_u64(c, &n) == -1)
		goto fail;
	if (n > DRV_OUTPUTS_MAX) {
		wire_error(c, FAIL_PROTOCOL, "a derivation with %llu outputs, "
		    "over the limit of %d", (unsigned long long)n,
		    DRV_OUTPUTS_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (wire_read_string(c, DRV_NAME_MAX, &name, NULL) == -1)
			goto fail;
		free(name);
		if (wire_read_string(c, WIRE_PATH_MAX, &path, NULL) == -1)
			goto fail;
		if (*path == '\0')
			free(path);
		else if (strlist_push(next, path) == -1) {
			free(path);
			log_err("closure");
			return -1;
		}
	}
	return 0;
fail:
	wire_fail(c, "reading a derivation's outputs");
	return -1;
}

static int
is_drv(const char *p)
{
	size_t	 n = strlen(p);

	return n > 4 && strcmp(p + n - 4, ".drv") == 0;
}

/*
 * The closure of paths (with the outputs of .drv paths), appended to
 * closure: the daemon protocol has no such query, so it is walked here,
 * one round trip per level, the path infos of a whole level asked at
 * once.  Paths the daemon lacks are left out.  At most SERVE_CLOSURE_MAX
 * paths more than asked.
 */
static int
closure(struct conn *c, const struct strlist *paths, int include_outputs,
    struct strlist *closure)
{
	struct strlist	 seen = { NULL, 0, 0 }, level = { NULL, 0, 0 };
	struct strlist	 next = { NULL, 0, 0 };
	struct path_info *pi = NULL;
	size_t		 n = 0, i, j, max, drvs;
	int		 rc = -1, first = 1;

	max = paths->n + SERVE_CLOSURE_MAX;
	for (i = 0; i < paths->n; i++)
		if (strlist_add(&level, paths->v[i]) == -1)
			goto out;
	strlist_sort_uniq(&level);
	while (level.n > 0) {
		for (i = 0; i < level.n; i++)
			if (strlist_add(&seen, level.v[i]) == -1)
				goto out;
		strlist_sort_uniq(&seen);
		if (seen.n > max) {
			wire_error(c, FAIL_PROTOCOL, "the closure of %zu paths "
			    "passed %zu paths", paths->n, max);
			goto out;
		}
		if (ask_infos(c, &level) == -1)
			goto out;
		for (i = drvs = 0; include_outputs && i < level.n; i++)
			if (is_drv(level.v[i])) {
				if (wire_write_u64(c,
				    OP_QUERY_DERIVATION_OUTPUT_MAP) == -1 ||
				    wire_write_str(c, level.v[i]) == -1) {
					daemon_send_failed(c, "asking for outputs");
					goto out;
				}
				drvs++;
			}
		if (read_infos(c, &level, &pi, &n) == -1)
			goto out;
		/* what was asked must be there, as the serve protocol has it */
		if (first && n < level.n) {
			for (i = 0; i < n && strcmp(pi[i].path,
			    level.v[i]) == 0; i++)
				;
			wire_error(c, FAIL_OTHER, "path '%s' is not valid on "
			    "the builder", level.v[i]);
			goto out;
		}
		first = 0;
		for (i = 0; i < drvs; i++)
			if (read_outputs(c, &next) == -1)
				goto out;
		for (i = 0; i < n; i++) {
			if (strlist_add(closure, pi[i].path) == -1)
				goto out;
			for (j = 0; j < pi[i].refs.n; j++)
				if (strlist_add(&next, pi[i].refs.v[j]) == -1)
					goto out;
		}
		serve_path_infos_free(pi, n);
		pi = NULL;
		n = 0;
		strlist_free(&level);
		strlist_sort_uniq(&next);
		for (i = 0; i < next.n; i++) {
			if (!path_valid(STORE_DIR, next.v[i])) {
				char	 q[256];
				wire_error(c, FAIL_PROTOCOL, "the daemon named "
				    "\"%s\" in a closure, which is not a store "
				    "path", text_printable(next.v[i],
				    strlen(next.v[i]), q, sizeof(q)));
				goto out;
			}
			if (!strlist_in_set(&seen, next.v[i]) &&
			    strlist_add(&level, next.v[i]) == -1)
				goto out;
		}
		strlist_free(&next);
	}
	rc = 0;
out:
	if (rc == -1 && c->f.kind == FAIL_NONE)
		log_err("closure");
	serve_path_infos_free(pi, n);
	strlist_free(&seen);
	strlist_free(&level);
	strlist_free(&next);
	return rc;
}

/* A path's record as AddToStoreNar and AddMultipleToStore send it. */
static int
write_info(struct conn *c, const struct path_info *pi, int keyed)
{
	return (keyed && wire_write_str(c, pi->path) == -1) ||
	    wire_write_str(c, pi->deriver ? pi->deriver : "") == -1 ||
	    wire_write_str(c, pi->nar_hash) == -1 ||
	    wire_write_strings(c, &pi->refs) == -1 ||
	    wire_write_u64(c, 0) == -1 ||		/* registration time: now */
	    wire_write_u64(c, pi->nar_size) == -1 ||
	    wire_write_u64(c, 0) == -1 ||		/* not ultimately trusted */
	    wire_write_strings(c, &pi->sigs) == -1 ||
	    wire_write_str(c, pi->ca ? pi->ca : "") == -1 ? -1 : 0;
}

/*
 * n paths follow: one path goes as AddToStoreNar, more as one
 * AddMultipleToStore, whose stream holds them all.  Signatures are
 * checked by the daemon only for an untrusted user (it insists).
 */
static int
add_begin(struct conn *c, size_t n)
{
	c->add_many = n > 1;
	if (!c->add_many)
		return 0;
	if (wire_write_u64(c, OP_ADD_MULTIPLE_TO_STORE) == -1 ||
	    wire_write_u64(c, 0) == -1 ||		/* no repair */
	    wire_write_u64(c, 1) == -1 ||		/* don't check sigs */
	    wire_frames_begin(c) == -1 || wire_write_u64(c, n) == -1)
		return daemon_send_failed(c, "adding paths");
	return 0;
}

static int
add_nar(struct conn *c, const struct path_info *pi,
    int (*nar)(void *, struct conn *), void *arg)
{
	if (!c->add_many &&
	    (wire_write_u64(c, OP_ADD_TO_STORE_NAR) == -1 ||
	    wire_write_str(c, pi->path) == -1 ||
	    write_info(c, pi, 0) == -1 ||
	    wire_write_u64(c, 0) == -1 ||		/* no repair */
	    wire_write_u64(c, 1) == -1 ||		/* don't check sigs */
	    wire_frames_begin(c) == -1))
		return daemon_send_failed(c, "sending a path");
	if (c->add_many && write_info(c, pi, 1) == -1)
		return daemon_send_failed(c, "sending a path");
	if (nar(arg, c) == -1) {
		if (c->why[0] != '\0')
			return daemon_send_failed(c, "sending a path");
		if (c->f.kind == FAIL_NONE)
			fail_set(&c->f, FAIL_OTHER, c->host, "sending %s: "
			    "the sender stopped", pi->path);
		return -1;
	}
	if (!c->add_many && wire_frames_end(c) == -1)
		return daemon_send_failed(c, "sending a path");
	return 0;
}

/* The stream of add_begin's n paths ends: one answer will say so. */
static int
add_end(struct conn *c, size_t n)
{
	if (n == 0)
		return 0;
	if (c->add_many && wire_frames_end(c) == -1)
		return daemon_send_failed(c, "adding paths");
	c->add_many = 0;
	return 1;
}

/* The daemon's answers to k adding requests: did it take the paths? */
static int
add_acks(struct conn *c, size_t k)
{
	if (wire_flush(c) == -1)
		return daemon_send_failed(c, "adding paths");
	for (; k > 0; k--)
		if (daemon_reply(c, "adding paths") == -1)
			return -1;
	return 0;
}

/*
 * Register a realisation (its JSON, as Nix writes it) in the store behind
 * c: RegisterDrvOutput, which takes the JSON at every protocol we speak.
 * Returns 0, or -1 (in c->f).
 */
int
daemon_register_realisation(struct conn *c, const char *json)
{
	if (wire_write_u64(c, OP_REGISTER_DRV_OUTPUT) == -1 ||
	    wire_write_str(c, json) == -1 || wire_flush(c) == -1)
		return daemon_send_failed(c, "registering a realisation");
	return daemon_reply(c, "registering a realisation");
}

/* Ask for path's NAR (NarFromPath; read later, in order). */
static int
nar_ask(struct conn *c, const char *path)
{
	if (wire_write_u64(c, OP_NAR_FROM_PATH) == -1 ||
	    wire_write_str(c, path) == -1)
		return daemon_send_failed(c, "asking for a path");
	return 0;
}

/* The NAR of the oldest nar_ask, after its messages, into sink, validated. */
static int
nar_read(struct conn *c, const char *path, struct nar_sink *sink)
{
	char			 what[PATH_MAX_LEN + 32];

	snprintf(what, sizeof(what), "asking for %s", path);
	if (wire_flush(c) == -1)
		return daemon_send_failed(c, what);
	if (daemon_reply(c, what) == -1)
		return -1;
	return proto_nar_copy(c, path, sink);
}

/* The daemon protocol, behind proto.c's interface. */
const struct proto daemon_proto = {
	.name = "daemon",
	.valid = valid,
	.infos_ask = ask_infos,
	.infos_read = read_infos,
	.closure = closure,
	.add_begin = add_begin,
	.add_nar = add_nar,
	.add_end = add_end,
	.add_acks = add_acks,
	.nar_ask = nar_ask,
	.nar_read = nar_read,
	.build_send = daemon_build_send,
	.build_read = daemon_build_read,
	.drv_first = daemon_drv_first
};
