/*
 * One store interface, the protocols behind it: what nix-offload does to
 * a store (which paths it has, their infos and closure, adding NARs,
 * fetching one, building) goes through the table of the conversation's
 * protocol, set when it was opened; its callers never know which
 * protocol it is.  serve.c's, for `nix-store --serve`, is the first.
 */
#include "extern.h"

int
proto_valid(struct conn *c, const struct strlist *paths, int lock,
    int substitute, struct strlist *valid)
{
	return c->proto->valid(c, paths, lock, substitute, valid);
}

int
proto_infos(struct conn *c, const struct strlist *paths,
    struct path_info **out, size_t *n)
{
	return c->proto->infos(c, paths, out, n);
}

int
proto_closure(struct conn *c, const struct strlist *paths,
    int include_outputs, struct strlist *closure)
{
	return c->proto->closure(c, paths, include_outputs, closure);
}

/* Add pi's path, its NAR from nar; acknowledged later (proto_add_done). */
int
proto_add_nar(struct conn *c, const struct path_info *pi,
    int (*nar)(void *, struct conn *), void *arg)
{
	return c->proto->add_nar(c, pi, nar, arg);
}

/* The last n proto_add_nar are done: wait for the store to say so. */
int
proto_add_done(struct conn *c, size_t n)
{
	return c->proto->add_done(c, n);
}

/* Ask for path's NAR (several may be asked before the first is read). */
int
proto_nar_ask(struct conn *c, const char *path)
{
	return c->proto->nar_ask(c, path);
}

/* Read the NAR of the oldest proto_nar_ask into sink, validated. */
int
proto_nar_read(struct conn *c, const char *path, struct nar_sink *sink)
{
	return c->proto->nar_read(c, path, sink);
}

int
proto_build(struct conn *c, const char *drvpath, const struct drv *d,
    const struct strlist *srcs, const struct build_options *o,
    struct build_result *r)
{
	return c->proto->build(c, drvpath, d, srcs, o, r);
}
