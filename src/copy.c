/*
 * nix-offload copy (--to|--from) URI [--include-outputs] PATH...: the
 * closures of the paths, to or from a builder, in one stream
 * (transfer.c), like nix-copy-closure.
 */
#include <stdlib.h>
#include <string.h>

#include "extern.h"

/*
 * A path as the user gave it (a store path, a path inside one, or a link
 * to one such as ./result) -> the store path, into out.
 */
static int
to_store_path(const char *arg, char *out, size_t sz)
{
	char		 buf[PATH_MAX_LEN];
	const char	*p = arg;
	size_t		 dl = strlen(STORE_DIR), n;

	if (strncmp(arg, STORE_DIR "/", dl + 1) != 0) {
		if (realpath(arg, buf) == NULL) {
			log_err("%s", arg);
			return -1;
		}
		p = buf;
	}
	n = strcspn(p + (strncmp(p, STORE_DIR "/", dl + 1) == 0 ? dl + 1 : 0),
	    "/");
	if (strncmp(p, STORE_DIR "/", dl + 1) != 0 || n + dl + 1 >= sz) {
		log_errx("%s is not in the Nix store (%s)", arg, STORE_DIR);
		return -1;
	}
	memcpy(out, p, dl + 1 + n);
	out[dl + 1 + n] = '\0';
	if (!path_valid(STORE_DIR, out)) {
		log_errx("%s is not a valid store path", out);
		return -1;
	}
	return 0;
}

/*
 * nix-offload copy (--to|--from) URI [--include-outputs] PATH...
 * Like nix-copy-closure: the closure of the paths, in one stream.
 */
int
cmd_copy(int argc, char **argv)
{
	struct usage_opt o;
	struct store_uri u;
	struct conn	 local, remote;
	struct strlist	 paths = { NULL, 0, 0 }, closure = { NULL, 0, 0 };
	struct transfer_stats st = { 0, 0 };
	const char	*uri = NULL;
	char		 sp[PATH_MAX_LEN];
	int		 to = -1, outputs = 0, i = 1, r, rc = EXIT_ERROR;
	int64_t		 t0;

	memset(&o, 0, sizeof(o));
	while ((r = usage_next(usage_find("copy"), argc, argv, &i,
	    &o)) != USAGE_END) {
		if (r == -1) {
			strlist_free(&paths);
			return EXIT_USAGE;
		}
		if (r == USAGE_OPTION && strcmp(o.name, "--include-outputs") == 0)
			outputs = 1;
		else if (r == USAGE_OPTION) {		/* --to, --from */
			to = o.name[2] == 't';
			uri = o.arg[0];
		} else if (to == 1 && to_store_path(o.arg[0], sp,
		    sizeof(sp)) == -1) {
			strlist_free(&paths);
			return EXIT_USAGE;
		} else if (strlist_add(&paths, to == 1 ? sp : o.arg[0]) == -1) {
			log_err("copy");
			strlist_free(&paths);
			return EXIT_ERROR;
		}
	}
	if (uri == NULL || paths.n == 0)
		goto usage;
	for (i = 0; to == 0 && (size_t)i < paths.n; i++)
		if (!path_valid(STORE_DIR, paths.v[i])) {
			log_errx("%s is not a store path", paths.v[i]);
			strlist_free(&paths);
			return EXIT_USAGE;
		}
	if (uri_parse(uri, &u) == -1) {
		strlist_free(&paths);
		return EXIT_USAGE;
	}
	t0 = clock_ms();
	if (store_open(&local, 0) == -1) {
		uri_free(&u);
		strlist_free(&paths);
		return EXIT_ERROR;
	}
	if (ssh_open_store(&u, &remote, 0) == -1) {
		rc = fail_exit(remote.f.kind);
		goto out_local;
	}
	if (to) {
		if (proto_closure(&local, &paths, outputs, &closure) == 0 &&
		    transfer_to(&local, &remote, &closure, 0, &st) == 0 &&
		    proto_settle(&remote) == 0)
			rc = EXIT_OK;
	} else {
		if (proto_closure(&remote, &paths, outputs, &closure) == 0 &&
		    transfer_from(&remote, &local, &closure, &st) == 0)
			rc = EXIT_OK;
	}
	if (rc != EXIT_OK) {
		if (remote.f.kind != FAIL_NONE)
			rc = fail_exit(remote.f.kind);
		ssh_kill(&remote);
	} else if (ssh_close(&remote) == -1)
		rc = EXIT_ERROR;
	if (rc == EXIT_OK)
		log_debug(1, "copied %zu of %zu paths (%.1f MiB) %s %s in %lld ms",
		    st.paths, closure.n, st.bytes / 1048576.0, to ? "to" : "from",
		    u.display, (long long)(clock_ms() - t0));
out_local:
	if (store_close(&local) == -1 && rc == EXIT_OK) {
		log_errx("local store: nix-store --serve failed");
		rc = EXIT_ERROR;
	}
	uri_free(&u);
	strlist_free(&paths);
	strlist_free(&closure);
	return rc;
usage:
	usage_error("copy");
	strlist_free(&paths);
	return EXIT_USAGE;
}
