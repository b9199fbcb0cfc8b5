/*
 * The client side of Nix's serve protocol (`nix-store --serve --write`):
 * handshake, then one function per command.  See
 * shared/spec/nix-protocols.md section 2.
 *
 *	handshake: -> u64 SERVE_MAGIC_1, u64 our version
 *	           <- u64 SERVE_MAGIC_2, u64 their version
 *
 * There is no in-band error reply: a server that fails prints on stderr and
 * exits, so every failure shows up here as EOF and the transport explains it.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"


/*
 * Open the conversation: exchange magic numbers and versions.  Sets
 * c->remote_version and c->version (the lower of both).  Returns 0, or -1
 * with the cause in c->f.
 */
int
serve_handshake(struct conn *c)
{
	uint64_t	 v;

	if (wire_write_u64(c, SERVE_MAGIC_1) == -1 ||
	    wire_write_u64(c, SERVE_VERSION) == -1 || wire_flush(c) == -1) {
		wire_fail(c, "sending the serve protocol greeting");
		return -1;
	}
	if (proto_greeting(c, SERVE_MAGIC_2, "serve") == -1)
		return -1;
	if (wire_read_u64(c, &v) == -1) {
		wire_fail(c, "during the serve handshake");
		return -1;
	}
	if (v > 0xffff || SERVE_MAJOR(v) != SERVE_MAJOR(SERVE_VERSION)) {
		wire_error(c, FAIL_PROTOCOL, "the remote speaks serve protocol version %llu.%llu "
		    "(0x%llx); nix-offload speaks %d.x",
		    (unsigned long long)(v >> 8), (unsigned long long)(v & 0xff),
		    (unsigned long long)v, SERVE_VERSION >> 8);
		return -1;
	}
	if (v < SERVE_VERSION_MIN) {
		wire_error(c, FAIL_PROTOCOL, "the remote's Nix is too old: it speaks serve "
		    "protocol %d.%d, nix-offload needs %d.%d or newer; upgrade "
		    "Nix on the builder", (int)(v >> 8), (int)(v & 0xff),
		    SERVE_VERSION_MIN >> 8, SERVE_VERSION_MIN & 0xff);
		return -1;
	}
	c->remote_version = (unsigned)v;
	c->version = v < SERVE_VERSION ? (unsigned)v : SERVE_VERSION;
	c->proto = &serve_proto;
	log_debug(2, "%s: serve protocol %u.%u (remote %u.%u)", c->host,
	    c->version >> 8, c->version & 0xff, c->remote_version >> 8,
	    c->remote_version & 0xff);
	return 0;
}

/*
 * Which of paths the remote has.  lock asks it to hold them against garbage
 * collection for the session, substitute to fetch them from its own
 * substituters first (both need --write).  The valid ones are added to
 * valid.
 */
int
serve_query_valid_paths(struct conn *c, const struct strlist *paths,
    int lock, int substitute, struct strlist *valid)
{
	int	 saved = c->timeout_ms, r;

	/* substituting is downloading, maybe for long: ssh's keepalive
	 * still tells a dead connection */
	if (substitute)
		c->timeout_ms = 0;
	wire_reply_begin(c, SERVE_REPLY_MAX);
	r = wire_write_u64(c, SERVE_QUERY_VALID_PATHS) == -1 ||
	    wire_write_u64(c, lock != 0) == -1 ||
	    wire_write_u64(c, substitute != 0) == -1 ||
	    wire_write_strings(c, paths) == -1 ||
	    wire_read_strings(c, WIRE_LIST_MAX, WIRE_PATH_MAX, valid) == -1;
	wire_reply_end(c);
	c->timeout_ms = saved;
	if (r) {
		wire_fail(c, "asking which of %zu paths are valid", paths->n);
		return -1;
	}
	if (valid->n > paths->n) {
		wire_error(c, FAIL_PROTOCOL, "asked about %zu paths, the remote named %zu valid", paths->n, valid->n);
		return -1;
	}
	return 0;
}

/*
 * Path infos for paths the remote has (it skips the ones it lacks), each
 * answered at most once, none that was not asked about: asked, then read
 * (serve_infos_read), so that other requests may go in the same round
 * trip.  *out gets an array of *n records, which the caller frees with
 * serve_path_infos_free.  The whole reply, records and lists, counts
 * against SERVE_REPLY_MAX.
 */
int
serve_infos_ask(struct conn *c, const struct strlist *paths)
{
	if (wire_write_u64(c, SERVE_QUERY_PATH_INFOS) == -1 ||
	    wire_write_strings(c, paths) == -1) {
		wire_fail(c, "asking for the path infos of %zu paths",
		    paths->n);
		return -1;
	}
	return 0;
}

/* The answer to serve_infos_ask(paths), as serve_query_path_infos. */
int
serve_infos_read(struct conn *c, const struct strlist *paths,
    struct path_info **out, size_t *n)
{
	struct path_info	*v = NULL, *pi;
	char			*p = NULL, *seen = NULL;
	size_t			 i, k, at = 0;

	*out = NULL;
	*n = 0;
	/* which were answered: each may be, once */
	if (paths->n > 0 && (seen = calloc(paths->n, 1)) == NULL) {
		log_err("path infos");
		return -1;
	}
	wire_reply_begin(c, SERVE_REPLY_MAX);
	if (wire_flush(c) == -1)
		goto fail;
	for (;;) {
		if (wire_read_string(c, WIRE_PATH_MAX, &p, NULL) == -1)
			goto fail;
		if (*p == '\0')
			break;
		/* Nix answers in the order asked: look on from the last one */
		for (k = 0, i = at; k < paths->n; k++, i = (i + 1) % paths->n)
			if (strcmp(paths->v[i], p) == 0)
				break;
		at = k < paths->n ? (i + 1) % paths->n : at;
		if (k == paths->n || seen[i]) {
			char	 q[256];
			wire_error(c, FAIL_PROTOCOL, "the remote sent the path info of \"%s\"%s", text_printable(p, strlen(p), q, sizeof(q)),
			    k == paths->n ? ", which was not asked for" :
			    " twice");
			goto bad;
		}
		seen[i] = 1;
		if (wire_charge(c, sizeof(*v)) == -1)
			goto fail;
		if ((pi = reallocarray(v, *n + 1, sizeof(*v))) == NULL) {
			log_err("path infos");
			goto bad;
		}
		v = pi;
		pi = &v[(*n)++];
		memset(pi, 0, sizeof(*pi));
		pi->path = p;
		p = NULL;
		if (wire_read_string(c, WIRE_PATH_MAX, &pi->deriver, NULL) == -1 ||
		    wire_read_strings(c, WIRE_LIST_MAX, WIRE_PATH_MAX,
		    &pi->refs) == -1 ||
		    wire_read_u64(c, &pi->download_size) == -1 ||
		    wire_read_u64(c, &pi->nar_size) == -1)
			goto fail;
		if (SERVE_MINOR(c->version) >= 4 &&
		    (wire_read_string(c, WIRE_HASH_MAX, &pi->nar_hash,
		    NULL) == -1 ||
		    wire_read_string(c, WIRE_PATH_MAX, &pi->ca, NULL) == -1 ||
		    wire_read_strings(c, WIRE_LIST_MAX, WIRE_HASH_MAX,
		    &pi->sigs) == -1))
			goto fail;
	}
	wire_reply_end(c);
	free(p);
	free(seen);
	*out = v;
	return 0;
fail:
	wire_fail(c, "reading the path infos of %zu paths", paths->n);
bad:
	wire_reply_end(c);
	free(p);
	free(seen);
	serve_path_infos_free(v, *n);
	*n = 0;
	return -1;
}

void
serve_path_infos_free(struct path_info *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].deriver);
		strlist_free(&v[i].refs);
		free(v[i].nar_hash);
		free(v[i].ca);
		strlist_free(&v[i].sigs);
	}
	free(v);
}

/*
 * The closure of paths under references (with outputs of .drv paths),
 * appended to closure.  It may hold SERVE_CLOSURE_MAX paths more than
 * were asked about, each a store path.
 */
int
serve_query_closure(struct conn *c, const struct strlist *paths,
    int include_outputs, struct strlist *closure)
{
	size_t	 max, i, had = closure->n;
	int	 r;
	char	 q[256];

	max = paths->n < WIRE_LIST_MAX - SERVE_CLOSURE_MAX ?
	    paths->n + SERVE_CLOSURE_MAX : WIRE_LIST_MAX;
	wire_reply_begin(c, SERVE_REPLY_MAX);
	r = wire_write_u64(c, SERVE_QUERY_CLOSURE) == -1 ||
	    wire_write_u64(c, include_outputs != 0) == -1 ||
	    wire_write_strings(c, paths) == -1 ||
	    wire_read_strings(c, max, WIRE_PATH_MAX, closure) == -1;
	wire_reply_end(c);
	if (r) {
		wire_fail(c, "asking for the closure of %zu paths", paths->n);
		return -1;
	}
	for (i = had; i < closure->n; i++)
		if (!path_valid(STORE_DIR, closure->v[i])) {
			wire_error(c, FAIL_PROTOCOL, "asking for the closure of %zu paths: the "
			    "remote named \"%s\", which is not a store path", paths->n, text_printable(closure->v[i],
			    strlen(closure->v[i]), q, sizeof(q)));
			return -1;
		}
	return 0;
}

/*
 * Ask for the NAR of path (a request only: several may be sent before
 * their NARs are read, to save round trips).
 */
int
serve_dump_request(struct conn *c, const char *path)
{
	if (wire_write_u64(c, SERVE_DUMP_STORE_PATH) == -1 ||
	    wire_write_str(c, path) == -1) {
		wire_fail(c, "asking for %s", path);
		return -1;
	}
	return 0;
}

/*
 * Read the NAR answering a dump request into sink, validating it on the
 * way through a fixed buffer.  Returns 0, or -1 (reported).
 */
int
serve_dump_read(struct conn *c, const char *path, struct nar_sink *sink)
{
	if (wire_flush(c) == -1) {
		wire_fail(c, "asking for %s", path);
		return -1;
	}
	return proto_nar_copy(c, path, sink);
}

/*
 * Build a derivation on the remote (BuildDerivation): the derivation goes
 * over the wire as a BasicDerivation whose inputSrcs are srcs (the input
 * sources and the outputs of the input derivations; the remote takes
 * their closure itself).  Only sent: serve_build_read reads the result.
 */
int
serve_build_send(struct conn *c, const char *drvpath, const struct drv *d,
    const struct strlist *srcs, const struct build_options *o)
{
	struct strlist	 sorted = { NULL, 0, 0 };
	size_t		 j;
	int		 rc = -1;

	/* a set on the wire: sorted, without duplicates */
	for (j = 0; j < srcs->n; j++)
		if (strlist_add(&sorted, srcs->v[j]) == -1) {
			log_err("build");
			goto out;
		}
	strlist_sort_uniq(&sorted);
	if (wire_write_u64(c, SERVE_BUILD_DERIVATION) == -1 ||
	    wire_write_str(c, drvpath) == -1 ||
	    wire_write_u64(c, d->noutputs) == -1)
		goto fail;
	for (j = 0; j < d->noutputs; j++)
		if (wire_write_str(c, d->outputs[j].name) == -1 ||
		    wire_write_str(c, d->outputs[j].path) == -1 ||
		    wire_write_str(c, d->outputs[j].hash_algo) == -1 ||
		    wire_write_str(c, d->outputs[j].hash) == -1)
			goto fail;
	if (wire_write_strings(c, &sorted) == -1 ||
	    wire_write_str(c, d->platform) == -1 ||
	    wire_write_str(c, d->builder) == -1 ||
	    wire_write_strings(c, d->args) == -1 ||
	    wire_write_u64(c, d->nenv) == -1)
		goto fail;
	for (j = 0; j < d->nenv; j++)
		if (wire_write_str(c, d->env[j].key) == -1 ||
		    wire_write_str(c, d->env[j].value) == -1)
			goto fail;
	if (wire_write_u64(c, o->max_silent_time) == -1 ||
	    wire_write_u64(c, o->timeout) == -1)
		goto fail;
	if (SERVE_MINOR(c->version) >= 2 &&
	    wire_write_u64(c, o->max_log_size) == -1)
		goto fail;
	/* no repeats (refused since Nix 2.13), no determinism check */
	if (SERVE_MINOR(c->version) >= 3 &&
	    (wire_write_u64(c, 0) == -1 || wire_write_u64(c, 0) == -1))
		goto fail;
	/* keep-failed: the builder keeps the build directory of a failure */
	if (SERVE_MINOR(c->version) >= 7 &&
	    wire_write_u64(c, o->keep_failed != 0) == -1)
		goto fail;
	rc = 0;
	goto out;
fail:
	wire_fail(c, "building %s", drvpath);
out:
	strlist_free(&sorted);
	return rc;
}

/* The result of serve_build_send into r; r->error is allocated. */
int
serve_build_read(struct conn *c, const char *drvpath,
    const struct build_options *o, struct build_result *r)
{
	uint64_t	 n, i, v;
	char		*k = NULL, *val = NULL, err[256];
	int		 rc = -1, saved = c->timeout_ms;

	memset(r, 0, sizeof(*r));
	if (wire_flush(c) == -1)
		goto fail;
	/* the build runs now, silent for as long as the builder allows */
	c->timeout_ms = proto_build_wait(c, o);
	if (wire_read_u64(c, &v) == -1 ||
	    wire_read_string(c, WIRE_STRING_MAX, &r->error, NULL) == -1)
		goto fail;
	c->timeout_ms = saved;
	text_clean(r->error);
	if (v > BUILD_STATUS_MAX) {
		wire_error(c, FAIL_PROTOCOL, "building %s: unknown result status %llu",
		    drvpath, (unsigned long long)v);
		goto out;
	}
	r->status = (int)v;
	if (SERVE_MINOR(c->version) >= 3) {
		if (wire_read_u64(c, &r->times_built) == -1 ||
		    wire_read_u64(c, &v) == -1 ||
		    wire_read_u64(c, &r->start) == -1 ||
		    wire_read_u64(c, &r->stop) == -1)
			goto fail;
		r->nondet = v != 0;
	}
	/* builtOutputs: 2.8-2.10 servers send it to every client */
	if (SERVE_MINOR(c->version) >= 6 || c->remote_version >= 0x206) {
		if (wire_read_u64(c, &n) == -1)
			goto fail;
		if (n > DRV_OUTPUTS_MAX) {
			wire_error(c, FAIL_PROTOCOL, "building %s: %llu built outputs, over the "
			    "limit of %d", drvpath,
			    (unsigned long long)n, DRV_OUTPUTS_MAX);
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (wire_read_string(c, WIRE_PATH_MAX, &k, NULL) == -1 ||
			    wire_read_string(c, REALISATION_MAX, &val,
			    NULL) == -1)
				goto fail;
			if (build_output_add(r, k, val, err,
			    sizeof(err)) == -1) {
				wire_error(c, FAIL_PROTOCOL, "building %s: %s",
				    drvpath, err);
				goto out;
			}
			free(k);
			free(val);
			k = val = NULL;
		}
	}
	rc = 0;
	goto out;
fail:
	wire_fail(c, "building %s", drvpath);
out:
	c->timeout_ms = saved;
	free(k);
	free(val);
	return rc;
}

/*
 * Add one path with AddToStoreNar, without waiting for its
 * acknowledgement: the caller sends many and collects the answers with
 * serve_add_nar_acks, so a closure costs one round trip.  The remote
 * reads exactly pi->nar_size bytes and checks them against pi->nar_hash
 * before it registers anything, and the NAR streams through (ImportPaths,
 * in Nix 2.8, holds each NAR whole in memory first).
 */
int
serve_add_nar(struct conn *c, const struct path_info *pi,
    int (*nar)(void *, struct conn *), void *arg)
{
	if (wire_write_u64(c, SERVE_ADD_TO_STORE_NAR) == -1 ||
	    wire_write_str(c, pi->path) == -1 ||
	    wire_write_str(c, pi->deriver ? pi->deriver : "") == -1 ||
	    wire_write_str(c, pi->nar_hash) == -1 ||
	    wire_write_strings(c, &pi->refs) == -1 ||
	    wire_write_u64(c, 0) == -1 ||		/* registration time: now */
	    wire_write_u64(c, pi->nar_size) == -1 ||
	    wire_write_u64(c, 0) == -1 ||		/* not ultimately trusted */
	    wire_write_strings(c, &pi->sigs) == -1 ||
	    wire_write_str(c, pi->ca ? pi->ca : "") == -1)
		goto fail;
	if (nar(arg, c) == -1) {
		if (c->why[0] != '\0')
			goto fail;
		/* the sender failed, and said why */
		if (c->f.kind == FAIL_NONE)
			fail_set(&c->f, FAIL_OTHER, c->host, "sending %s: "
			    "the sender stopped", pi->path);
		return -1;
	}
	return 0;
fail:
	wire_fail(c, "sending %s", pi->path);
	return -1;
}

/* Read n acknowledgements of serve_add_nar. */
int
serve_add_nar_acks(struct conn *c, size_t n)
{
	uint64_t	 ack;

	if (wire_flush(c) == -1) {
		wire_fail(c, "adding paths");
		return -1;
	}
	for (; n > 0; n--) {
		if (wire_read_u64(c, &ack) == -1) {
			wire_fail(c, "adding paths");
			return -1;
		}
		if (ack != 1) {
			wire_error(c, FAIL_PROTOCOL, "a path was acknowledged with %llu, "
			    "expected 1", (unsigned long long)ack);
			return -1;
		}
	}
	return 0;
}

/* The serve protocol, behind proto.c's interface. */
const struct proto serve_proto = {
	.name = "serve",
	.valid = serve_query_valid_paths,
	.infos_ask = serve_infos_ask,
	.infos_read = serve_infos_read,
	.closure = serve_query_closure,
	.add_nar = serve_add_nar,
	.add_acks = serve_add_nar_acks,
	.nar_ask = serve_dump_request,
	.nar_read = serve_dump_read,
	.build_send = serve_build_send,
	.build_read = serve_build_read
};
