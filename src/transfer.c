/*
 * Copying closures between the local store and a builder.
 *
 * To a builder: one QueryValidPaths for the whole closure (lock = 1, so
 * the builder holds what it has against garbage collection for the
 * session), then every missing path as an AddToStoreNar, all sent in one
 * stream before the acknowledgements are read: one round trip, not one per
 * path.  NARs are read straight from /nix/store through a fixed buffer;
 * the receiving nix-store checks each against the hash our store recorded.
 * (ImportPaths would be one stream too, but Nix 2.8 holds each NAR whole
 * in memory there: twice as slow for a 200 MB path.)
 *
 * From a builder: the NARs of the missing paths are requested in batches
 * (DumpStorePath, pipelined), each validated and hashed on the way and fed
 * to the local store as an AddToStoreNar with the builder's hash and size,
 * which the local nix-store checks before it registers anything; we check
 * them too, and stop the stream at the first mismatch.
 *
 * What a builder says of a path is data: a build's fetch (transfer_fetch)
 * takes exactly the paths the caller names, each answered once, has the
 * caller vet every record (job.c puts in the deriver and content address
 * it knows), and refuses any reference that is neither among those paths
 * nor valid here.  `copy --from` is the user's own choice of a closure,
 * and gets the same reference check.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

#define COPY_PIPELINE	64	/* dump requests in flight */
#define COPY_ACKS_MAX	1024	/* unread acknowledgements (8 bytes each) */

/* Sort path infos so that every path comes after its references. */
static int
cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct path_info *)a)->path,
	    ((const struct path_info *)b)->path);
}

static int
topo_sort(struct path_info *v, size_t n, size_t **orderp)
{
	size_t	*order, *indeg, *stack, i, j, k, ns = 0, no = 0;

	qsort(v, n, sizeof(*v), cmp_info);
	order = calloc(n + 1, sizeof(*order));
	indeg = calloc(n + 1, sizeof(*indeg));
	stack = calloc(n + 1, sizeof(*stack));
	if (order == NULL || indeg == NULL || stack == NULL) {
		log_err("copy");
		goto fail;
	}
	/* indeg[i]: references of i inside the set, itself excluded */
	for (i = 0; i < n; i++)
		for (j = 0; j < v[i].refs.n; j++) {
			struct path_info key, *hit;
			key.path = v[i].refs.v[j];
			hit = bsearch(&key, v, n, sizeof(*v), cmp_info);
			if (hit != NULL && hit != &v[i])
				indeg[i]++;
		}
	for (i = 0; i < n; i++)
		if (indeg[i] == 0)
			stack[ns++] = i;
	while (ns > 0) {
		i = stack[--ns];
		order[no++] = i;
		/* paths referring to i lose one dependency */
		for (k = 0; k < n; k++) {
			if (indeg[k] == 0 || k == i)
				continue;
			for (j = 0; j < v[k].refs.n; j++)
				if (strcmp(v[k].refs.v[j], v[i].path) == 0) {
					if (--indeg[k] == 0)
						stack[ns++] = k;
					break;
				}
		}
	}
	if (no != n)
		goto fail;	/* the references form a cycle */
	free(indeg);
	free(stack);
	*orderp = order;
	return 0;
fail:
	free(order);
	free(indeg);
	free(stack);
	return -1;
}

static int
sink_wire(void *arg, const void *p, size_t n)
{
	return wire_write(arg, p, n);
}

/* One path on its way: where its NAR comes from, its info, the tally. */
struct xfer {
	struct conn		*src;		/* the builder, when fetching */
	const struct path_info	*pi;
	struct transfer_stats	*st;
};

/*
 * Send a local path's NAR.  The builder checks its hash against the one
 * our store recorded, so we need not hash it again: we check the size.
 */
static int
send_local(void *arg, struct conn *c)
{
	struct xfer	*x = arg;
	struct nar_sink	 s;
	char		 file[PATH_MAX_LEN];

	nar_sink_init(&s, sink_wire, c);
	s.no_hash = 1;
	/* its files: under the real store directory of a store elsewhere */
	if (nar_dump_path(store_file(x->pi->path, file, sizeof(file)),
	    &s) == -1 || s.failed)
		return -1;
	if (s.size != x->pi->nar_size) {
		wire_error(c, FAIL_OTHER, "sending %s: it has changed in the "
		    "local store: its NAR is %llu bytes, the store says %llu; "
		    "run nix-store --verify --check-contents --repair",
		    x->pi->path, (unsigned long long)s.size,
		    (unsigned long long)x->pi->nar_size);
		return -1;
	}
	x->st->bytes += s.size;
	x->st->paths++;
	return 0;
}

/*
 * Is the NAR that went through s the one the builder announced for x's
 * path (its hash and size)?  Then it is counted, and 0 returned; else -1,
 * reported: the builder lied, and nothing of it may be kept (what says
 * which verb: "imported", "registered").
 */
static int
as_announced(struct xfer *x, struct nar_sink *s, const char *what)
{
	unsigned char	 h[SHA256_LEN];
	char		 b32[64], got[80], said[WIRE_HASH_MAX * 4 + 4];

	sha256_final(&s->hash, h);
	nix32_encode(h, SHA256_LEN, b32);
	snprintf(got, sizeof(got), "sha256:%s", b32);
	if (s->size != x->pi->nar_size || strcmp(x->pi->nar_hash, got) != 0) {
		wire_error(x->src, FAIL_PROTOCOL, "%s arrived with hash %s (%llu bytes), but the "
		    "builder said %s (%llu bytes): not %s", x->pi->path, got, (unsigned long long)s->size,
		    text_printable(x->pi->nar_hash, strlen(x->pi->nar_hash),
		    said, sizeof(said)), (unsigned long long)x->pi->nar_size,
		    what);
		return -1;
	}
	x->st->bytes += s->size;
	x->st->paths++;
	return 0;
}

/*
 * Pass a builder's NAR on to the local store, checking its hash and size
 * against what the builder said (the local nix-store checks them too).
 */
static int
recv_remote(void *arg, struct conn *local)
{
	struct xfer	*x = arg;
	struct nar_sink	 s;

	nar_sink_init(&s, sink_wire, local);
	if (proto_nar_read(x->src, x->pi->path, &s) == -1)
		return -1;
	return as_announced(x, &s, "imported");
}

/*
 * The path infos of exactly paths from src, which must have every one:
 * *pi gets n records (serve_path_infos_free).  Returns 0, or -1 (reported).
 */
static int
infos(struct conn *src, const struct strlist *paths, struct path_info **pi,
    size_t *n)
{
	size_t	 i;

	if (proto_infos(src, paths, pi, n) == -1)
		return -1;
	if (*n != paths->n) {
		wire_error(src, FAIL_PROTOCOL, "%zu of %zu paths to copy are "
		    "not valid there", paths->n - *n, paths->n);
		return -1;
	}
	for (i = 0; i < *n; i++)
		if ((*pi)[i].nar_hash == NULL) {
			wire_error(src, FAIL_PROTOCOL, "no hash for %s", (*pi)[i].path);
			return -1;
		}
	return 0;
}

/*
 * Do the references of the n records pi, fetched from src, hold?  Each
 * must be a store path, and among the records or valid at dst (asked with
 * lock, so that it stays valid while this session lasts).  Returns 0, or
 * -1 (reported, the builder blamed).
 */
static int
refs_hold(struct conn *src, struct conn *dst, const struct path_info *pi,
    size_t n)
{
	struct strlist	 ours = { NULL, 0, 0 }, outside = { NULL, 0, 0 };
	struct strlist	 valid = { NULL, 0, 0 };
	const char	*bad = NULL, *of = NULL;
	char		 q[WIRE_PATH_MAX * 4 + 4];
	size_t		 i, j;
	int		 rc = -1;

	for (i = 0; i < n; i++)
		if (strlist_add(&ours, pi[i].path) == -1)
			goto out;
	strlist_sort_uniq(&ours);
	for (i = 0; i < n && bad == NULL; i++)
		for (j = 0; j < pi[i].refs.n && bad == NULL; j++) {
			const char	*r = pi[i].refs.v[j];

			if (!path_valid(STORE_DIR, r)) {
				bad = r;
				of = pi[i].path;
			} else if (!strlist_in_set(&ours, r) &&
			    strlist_add(&outside, r) == -1)
				goto out;
		}
	if (bad != NULL) {
		wire_error(src, FAIL_PROTOCOL, "%s: the builder gave \"%s\" as a reference, "
		    "which is not a store path: not imported", of,
		    text_printable(bad, strlen(bad), q, sizeof(q)));
		goto out;
	}
	strlist_sort_uniq(&outside);
	if (outside.n > 0 &&
	    proto_valid(dst, &outside, 1, 0, &valid) == -1)
		goto out;
	strlist_sort_uniq(&valid);
	for (i = 0; i < n; i++)
		for (j = 0; j < pi[i].refs.n; j++)
			if (!strlist_in_set(&ours, pi[i].refs.v[j]) &&
			    !strlist_in_set(&valid, pi[i].refs.v[j])) {
				wire_error(src, FAIL_PROTOCOL, "%s: the builder gave %s as a "
				    "reference, which is neither in the local "
				    "store nor among the paths it sent: not "
				    "imported", pi[i].path,
				    pi[i].refs.v[j]);
				goto out;
			}
	rc = 0;
out:
	strlist_free(&ours);
	strlist_free(&outside);
	strlist_free(&valid);
	return rc;
}

/*
 * The n paths of pi, from src to dst as AddToStoreNar, dependencies
 * first, all in one stream.  When fetching from a builder, its NARs are
 * requested COPY_PIPELINE ahead.
 */
static int
add_nars(struct conn *src, struct conn *dst, struct path_info *pi, size_t n,
    int fetch, struct transfer_stats *st)
{
	size_t	 i, acks = 0, sent = 0, *order = NULL;
	int	 rc = -1;
	uint64_t b0 = st->bytes;
	int64_t	 t0 = clock_ms();

	if (topo_sort(pi, n, &order) == -1) {
		wire_error(src, fetch ? FAIL_PROTOCOL : FAIL_OTHER, "the "
		    "references of %zu paths form a cycle, or there is no "
		    "memory for them", n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct xfer	 x = { src, &pi[order[i]], st };

		if (acks == 0 && proto_add_begin(dst, n - i < COPY_ACKS_MAX ?
		    n - i : COPY_ACKS_MAX) == -1)
			goto out;
		for (; fetch && sent < n && sent < i + COPY_PIPELINE; sent++)
			if (proto_nar_ask(src, pi[order[sent]].path) == -1)
				goto out;
		if (proto_add_nar(dst, &pi[order[i]], fetch ? recv_remote :
		    send_local, &x) == -1)
			goto out;
		if (++acks == COPY_ACKS_MAX) {
			if (proto_add_done(dst, acks) == -1)
				goto out;
			acks = 0;
		}
	}
	/* a builder's answers come with its next one (the build's) */
	if ((fetch ? proto_add_done(dst, acks) :
	    proto_add_later(dst, acks)) == -1)
		goto out;
	ssh_link_note(fetch ? src : dst, st->bytes - b0, clock_ms() - t0);
	rc = 0;
out:
	free(order);
	return rc;
}

/*
 * Copy paths that dst lacks from src to dst: one QueryValidPaths on dst
 * (lock and substitute apply to a builder), one QueryPathInfos on src,
 * then every missing path (add_nars).  What comes from a builder has its
 * references checked first.
 */
static int
send_missing(struct conn *src, struct conn *dst, const struct strlist *paths,
    int lock, int substitute, int fetch, struct transfer_stats *st)
{
	struct strlist	 valid = { NULL, 0, 0 }, missing = { NULL, 0, 0 };
	struct path_info *pi = NULL;
	size_t		 n = 0, i;
	int		 rc = -1;

	if (paths->n == 0)
		return 0;
	if (proto_valid(dst, paths, lock, substitute, &valid) == -1)
		goto out;
	strlist_sort_uniq(&valid);
	for (i = 0; i < paths->n; i++)
		if (!strlist_in_set(&valid, paths->v[i]) &&
		    strlist_add(&missing, paths->v[i]) == -1)
			goto out;
	log_debug(1, "%s: has %zu of %zu paths, %zu to copy", dst->host,
	    valid.n, paths->n, missing.n);
	if (missing.n == 0) {
		rc = 0;
		goto out;
	}
	if (infos(src, &missing, &pi, &n) == -1 ||
	    (fetch && refs_hold(src, dst, pi, n) == -1) ||
	    add_nars(src, dst, pi, n, fetch, st) == -1)
		goto out;
	rc = 0;
out:
	serve_path_infos_free(pi, n);
	strlist_free(&valid);
	strlist_free(&missing);
	return rc;
}

/*
 * Make the builder have every path of closure (local paths, in any
 * order).  The builder holds what it has against garbage collection for
 * the session (lock), and with substitute fetches from its own
 * substituters first.  Its answers to the last paths sent are read with
 * its next answer, or by proto_settle: a request sent meanwhile (the
 * build) shares their round trip.
 */
int
transfer_to(struct conn *local, struct conn *remote, const struct strlist *closure,
    int substitute, struct transfer_stats *st)
{
	return send_missing(local, remote, closure, 1, substitute, 0, st);
}

/*
 * Bring paths (and nothing else: the caller passes a closure) from the
 * builder into the local store.
 */
int
transfer_from(struct conn *remote, struct conn *local, const struct strlist *paths,
    struct transfer_stats *st)
{
	return send_missing(remote, local, paths, 0, 0, 1, st);
}

/* Add printf-style text to the buffer *bp (length *lenp, size *capp). */
static int
append(char **bp, size_t *lenp, size_t *capp, const char *fmt, ...)
{
	va_list	 ap;
	char	*nb;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (*lenp + (size_t)n + 1 > *capp) {
		size_t	 cap = (*lenp + (size_t)n + 1) * 2;
		if ((nb = realloc(*bp, cap)) == NULL) {
			log_err("copy");
			return -1;
		}
		*bp = nb;
		*capp = cap;
	}
	va_start(ap, fmt);
	vsnprintf(*bp + *lenp, *capp - *lenp, fmt, ap);
	va_end(ap);
	*lenp += (size_t)n;
	return 0;
}

/*
 * Remove what unpack() unpacked of pi[0..n) before it failed, unless the
 * local store holds it as valid after all.
 */
static void
unpacked_undo(struct conn *local, const struct path_info *pi, size_t n)
{
	struct strlist	 paths = { NULL, 0, 0 }, valid = { NULL, 0, 0 };
	char		 dir[PATH_MAX_LEN];
	size_t		 i;

	for (i = 0; i < n; i++)
		if (strlist_add(&paths, pi[i].path) == -1)
			goto out;
	if (n > 0 && proto_valid(local, &paths, 0, 0,
	    &valid) == -1) {
		log_errx("local store: %zu unpacked paths are left unregistered "
		    "in %s: their validity is unknown", n, STORE_DIR);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!strlist_has(&valid, pi[i].path) &&
		    store_remove(store_file(STORE_DIR, dir, sizeof(dir)),
		    pi[i].path + strlen(STORE_DIR) + 1) == -1)
			log_errx("local store: cannot remove %s, unpacked "
			    "before the import failed", pi[i].path);
out:
	strlist_free(&paths);
	strlist_free(&valid);
}

/*
 * Bring the n paths of pi home without the store's path locks, for a
 * build hook on Nix 2.29 and newer, where Nix holds them for the whole
 * build and no other process may import them through the store.  Each is
 * unpacked in place (store_unpack, as `nix-store --restore` would), its
 * NAR checked on the way against the hash and size the builder gave, and
 * all are registered at once by `nix-store --register-validity
 * --hash-given`, from the records as vetted (the caller holds them as
 * temporary roots of local's session).  Whatever fails, nothing it
 * unpacked is left behind.  What this leaves out: signatures and content
 * addresses, which that registration cannot carry.
 */
static int
unpack(struct conn *remote, struct conn *local, const struct path_info *pi,
    size_t n, struct transfer_stats *st)
{
	struct store_unpack u;
	char		*text = NULL, dir[PATH_MAX_LEN];
	size_t		 i, j, len = 0, cap = 0, done = 0, sent;
	int		 k;
	uint64_t	 b0 = st->bytes;
	int64_t		 t0 = clock_ms();

	for (i = 0, sent = 0; i < n; i++) {
		struct xfer	 x = { remote, &pi[i], st };
		struct nar_sink	 s;

		/* NARs asked for ahead: one round trip for many */
		for (; sent < n && sent < i + COPY_PIPELINE; sent++)
			if (proto_nar_ask(remote, pi[sent].path) == -1)
				goto fail;
		if (store_unpack_begin(&u, store_file(STORE_DIR, dir,
		    sizeof(dir)), pi[i].path + strlen(STORE_DIR) + 1) == -1)
			goto fail;
		nar_sink_init(&s, NULL, NULL);
		s.tree = &u.tree;
		k = proto_nar_read(remote, pi[i].path, &s);
		if (k == 0)
			k = as_announced(&x, &s, "registered");
		/* removed again unless it is what the builder said */
		if (store_unpack_end(&u, k == 0) == -1 || k == -1)
			goto fail;
		done++;
		/* its record: path, hash, size, deriver, references */
		if (append(&text, &len, &cap, "%s\n%s\n%llu\n%s\n%zu\n",
		    pi[i].path, pi[i].nar_hash,
		    (unsigned long long)pi[i].nar_size, pi[i].deriver,
		    pi[i].refs.n) == -1)
			goto fail;
		for (j = 0; j < pi[i].refs.n; j++)
			if (append(&text, &len, &cap, "%s\n",
			    pi[i].refs.v[j]) == -1)
				goto fail;
	}
	ssh_link_note(remote, st->bytes - b0, clock_ms() - t0);
	if (store_register(text, len) == -1)
		goto fail;
	free(text);
	return 0;
fail:
	free(text);
	unpacked_undo(local, pi, done);
	return -1;
}

/*
 * Bring home from a builder the paths of its n records pi (changed: see
 * vet), each of which the local store lacks (the caller asked, with
 * lock: they are temporary roots of local's session, as is what they
 * refer to).  Each record goes through vet (which may refuse it, or put
 * in what the caller knows better: the deriver, the content address)
 * before any NAR moves; every reference must be a store path among the
 * records or valid here; then the NARs come through the local nix-store
 * (add_nars), or unpacked and registered without locks (unpack).
 * Returns 0, or -1 (remote->f says why, and whether the builder is to
 * blame).
 */
int
transfer_fetch(struct conn *remote, struct conn *local, struct path_info *pi,
    size_t n, const struct transfer_vet *vet, int unlocked,
    struct transfer_stats *st)
{
	size_t	 i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (!path_valid(STORE_DIR, pi[i].path)) {
			wire_error(remote, FAIL_PROTOCOL, "%s is not a store path",
			    pi[i].path);
			return -1;
		}
		if (pi[i].nar_hash == NULL) {
			wire_error(remote, FAIL_PROTOCOL, "no hash for %s",
			    pi[i].path);
			return -1;
		}
		if (vet != NULL && vet->fn(vet->arg, remote, &pi[i]) == -1)
			return -1;
	}
	if (refs_hold(remote, local, pi, n) == -1)
		return -1;
	return unlocked ? unpack(remote, local, pi, n, st) :
	    add_nars(remote, local, pi, n, 1, st);
}
