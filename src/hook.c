/*
 * Nix's build hook, so that nix-build, nix build and the daemon forward
 * their builds through nix-offload (spec section 6).
 *
 *	nix-offload hook VERBOSITY		(also __build-remote, and
 *	libexec/nix-offload/build-hook VERBOSITY	for Nix 2.8's build-hook)
 *
 * Nix writes all its settings on our stdin, then "try" rounds; we answer
 * each on stderr with "# accept" + the builder, "# decline" or
 * "# postpone".  The answer comes from what we know (the builders, their
 * slots and queues): no connection is made before accepting, which is where Nix's
 * own hook spends a full SSH handshake per build while the daemon waits.
 * After an accept Nix sends the input closure and the wanted outputs and
 * closes our stdin; we copy, build (the log goes to fd 4), fetch the
 * outputs into the local store, whose locks Nix holds (NIX_HELD_LOCKS),
 * and exit: 0, 100 for a failed build, 101 for a timeout.
 */
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

#define HOOK_LOG_FD		4	/* the daemon's builder-log pipe */
#define HOOK_SETTINGS_MAX	4096	/* settings in the first message */
#define HOOK_ATTEMPTS		3	/* builders tried after an accept */

#define HOOK_NIX_MAX_MINOR	28	/* the last Nix 2.x with NIX_HELD_LOCKS */
#define HOOK_LIX_CAPNP_MINOR	94	/* Lix 2.x that speaks Cap'n Proto */

/* How the outputs reach the local store, by the local Nix's version. */
enum route {
	ROUTE_DECLINE = -1,	/* a hook protocol we do not speak */
	ROUTE_HELD_LOCKS,	/* through nix-store, NIX_HELD_LOCKS set */
	ROUTE_UNLOCKED		/* unpacked and registered (copy.c) */
};

/*
 * Has the person behind this build been told key already?  A build is the
 * Nix process that runs its hooks (getppid: nix-build, or the daemon's
 * process for one client), so all its hooks share what they said: the
 * first to claim key (a file of the runtime directory's told/, made with
 * O_EXCL) says it, the others need not.  When that cannot be known, it
 * is said again.  Returns 1 when told already.
 */
static int
told(const char *key)
{
	char	 name[64], digest[17];
	int	 fd;

	rundir_key(key, digest);
	snprintf(name, sizeof(name), "%ld.%s", (long)getppid(), digest);
	if ((fd = rundir_open("told", name, O_WRONLY | O_CREAT | O_EXCL,
	    0600)) == -1)
		return errno == EEXIST;
	close(fd);
	return 0;
}

/* What builds that are over were told: forgotten. */
static void
told_sweep(void)
{
	struct dirent	*e;
	DIR		*d;
	long		 pid;
	int		 dfd;
	char		*end;

	if ((dfd = rundir_dirfd("told")) == -1 || (dfd = dup(dfd)) == -1)
		return;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		pid = strtol(e->d_name, &end, 10);
		if (end != e->d_name && *end == '.' && pid > 0 &&
		    kill((pid_t)pid, 0) == -1 && errno == ESRCH)
			(void)rundir_unlink("told", e->d_name, 0);
	}
	closedir(d);
}

/*
 * Nix 2.29 dropped NIX_HELD_LOCKS: there, a hook in its own process cannot
 * import outputs whose locks Nix holds through the store (the import
 * would wait for ever), so the outputs take the unlocked route.  Lix 2.94
 * and newer speak Cap'n Proto to their hook.
 */
static enum route
nix_route(const char *v)
{
	int	 major, minor;

	if (v == NULL)
		return ROUTE_HELD_LOCKS;	/* unknown: try, as before */
	if (strncmp(v, "lix-", 4) == 0) {
		if (sscanf(v + 4, "%d.%d", &major, &minor) == 2 &&
		    (major > 2 || (major == 2 &&
		    minor >= HOOK_LIX_CAPNP_MINOR))) {
			log_errx("hook: Lix %s speaks Cap'n Proto to its build "
			    "hook, which nix-offload does not: declining, so "
			    "Lix builds as it would without nix-offload; use "
			    "`nix-offload build`, or Lix's own hook", v + 4);
			return ROUTE_DECLINE;
		}
		return ROUTE_HELD_LOCKS;
	}
	if (sscanf(v, "%d.%d", &major, &minor) == 2 && (major > 2 ||
	    (major == 2 && minor > HOOK_NIX_MAX_MINOR))) {
		log_debug(1, "hook: Nix %s: outputs are unpacked and "
		    "registered without the store's locks", v);
		return ROUTE_UNLOCKED;
	}
	log_debug(1, "hook: Nix %s: outputs are imported with "
	    "NIX_HELD_LOCKS", v);
	return ROUTE_HELD_LOCKS;
}

/* The first message: u64 1, name, value ... u64 0. */
static int
read_settings(struct conn *in, struct conf *conf)
{
	uint64_t	 more;
	char		*name = NULL, *value = NULL;
	size_t		 n;

	for (n = 0;; n++) {
		if (wire_read_u64(in, &more) == -1) {
			if (n == 0 && in->eof && in->nread == 0)
				return 1;	/* Nix went before a word */
			goto fail;
		}
		if (more == 0)
			return 0;
		if (more != 1 || n >= HOOK_SETTINGS_MAX) {
			log_errx("hook: unexpected settings from Nix");
			return -1;
		}
		if (wire_read_string(in, WIRE_PATH_MAX, &name, NULL) == -1 ||
		    wire_read_string(in, WIRE_STRING_MAX, &value, NULL) == -1)
			goto fail;
		/* Nix sends every setting: we take those conf.c knows */
		if (conf_setting_known(name) && conf_set(conf, name, value,
		    "Nix's settings") == -1) {
			free(name);
			free(value);
			return -1;
		}
		free(name);
		free(value);
		name = value = NULL;
	}
fail:
	free(name);
	free(value);
	wire_fail(in, "reading Nix's settings");
	return -1;
}

/*
 * Can the hook bring drvpath's outputs home?  Those of an input-addressed
 * or fixed-output derivation, whose paths are known; and a floating
 * content-addressed one's, from where the builder says they went, once
 * Nix has resolved it (no input derivations: the outputs' ids are then
 * the hash of it alone).  An impure derivation's, or an unresolved one's,
 * not: said once, and declined, so that Nix builds it itself; nothing
 * here blames a builder.
 */
static int
known_outputs(const char *drvpath)
{
	struct drv	 d;
	size_t		 i;
	int		 floating = 0, impure = 0;

	if (drv_read(drvpath, &d) == -1)
		return 0;	/* reported */
	for (i = 0; i < d.noutputs; i++)
		if (d.outputs[i].path[0] == '\0') {
			floating = 1;
			impure |= strcmp(d.outputs[i].hash, "impure") == 0 ||
			    d.outputs[i].hash_algo[0] == '\0';
		}
	floating = floating && d.ninputs > 0;
	drv_free(&d);
	if ((floating || impure) && !told(drvpath))
		log_errx("hook: %s is %s: its outputs' paths are known only "
		    "once it is built, and nix-offload builds such a "
		    "derivation only %s; declining, so Nix builds it itself",
		    drvpath, impure ? "impure (or deferred)" :
		    "content-addressed with input derivations",
		    impure ? "when it is content-addressed" : "once Nix has "
		    "resolved it");
	return !floating && !impure;
}

/* Could Nix build this itself right now? (Then we decline rather than wait.) */
static int
can_build_locally(const struct conf *conf, int willing, const char *system,
    const struct strlist *features)
{
	size_t	 i;

	if (!willing)
		return 0;
	if (strcmp(system, conf->system) != 0 &&
	    !strlist_has(&conf->extra_platforms, system))
		return 0;
	for (i = 0; i < features->n; i++)
		if (!strlist_has(&conf->system_features, features->v[i]))
			return 0;
	return 1;
}

/*
 * NIX_HELD_LOCKS: the local nix-store may import the outputs Nix locked,
 * which are all the derivation's (an output Nix did not ask for comes
 * too when a wanted one refers to it).
 */
static int
held_locks(const struct drv *d)
{
	char	*v = NULL, *nv;
	size_t	 len = 0, i;

	for (i = 0; i < d->noutputs; i++) {
		size_t	 pl = strlen(d->outputs[i].path);
		if (pl == 0)
			continue;
		if ((nv = realloc(v, len + pl + 2)) == NULL) {
			free(v);
			log_err("hook");
			return -1;
		}
		v = nv;
		if (len > 0)
			v[len++] = ' ';
		memcpy(v + len, d->outputs[i].path, pl + 1);
		len += pl;
	}
	if (v != NULL && setenv("NIX_HELD_LOCKS", v, 1) == -1) {
		log_err("NIX_HELD_LOCKS");
		free(v);
		return -1;
	}
	free(v);
	return 0;
}

/* The builders of this hook, for root's summary (pub_update). */
static const struct machines	*builders;

/*
 * Progress in Nix's own form: an activity on our stderr around each copy,
 * which Nix shows as it shows its own hook's ("copying 3 paths to
 * 'ssh://...'"); and at each step, root's summary, for the users.
 */
static void
activity(void *arg, enum job_step step, int begin)
{
	static unsigned long long	 id;
	const struct machine		*m = arg;
	char				 text[URI_MAX + 128];

	if (begin && builders != NULL)
		pub_update(builders, PUB_NOW);
	if (step == JOB_BUILD)
		return;
	if (!begin) {
		log_nix_stop(id);
		return;
	}
	snprintf(text, sizeof(text), step == JOB_INPUTS ?
	    "copying dependencies to '%s'" : "copying outputs from '%s'",
	    m->uri_text);
	id = log_nix_start(text);
}

/*
 * Every builder that could build drvpath is down: say so once per build
 * and kind of derivation, and each builder's reason and when it comes
 * back once per build and incident (told): the person reads one message
 * per problem, however many derivations and hooks meet it.
 */
static void
say_down(struct sched *s, const char *drvpath, const char *platform,
    const struct strlist *features, const char *skip)
{
	struct plan		 p;
	char			 brief[4096], full[8192], at[32], key[8192];
	char			 one[SCHED_WHY_MAX + 64 + 3 * URI_MAX];
	size_t			 i;

	if (sched_plan(s, platform, features, skip, 0, &p) == -1)
		return;
	brief[0] = full[0] = '\0';
	snprintf(key, sizeof(key), "down %s", platform);
	for (i = 0; i < features->n; i++) {
		strlcat(key, i ? "," : " ", sizeof(key));
		strlcat(key, features->v[i], sizeof(key));
	}
	for (i = 0; i < p.n; i++) {
		const struct judgement	*j = &p.j[i];
		char			 inc[URI_MAX + 64];

		if (j->v != V_SKIP && j->v != V_DOWN)
			continue;
		snprintf(inc, sizeof(inc), " %s %lld", s->ms->v[i].uri_text,
		    j->until);
		strlcat(key, inc, sizeof(key));
		if (j->v == V_DOWN && !told(inc)) {
			strlcat(full, "\n  ", sizeof(full));
			sched_plan_line(s, &p, i, one, sizeof(one));
			strlcat(full, one, sizeof(full));
			continue;
		}
		clock_text(j->until, at, sizeof(at));
		snprintf(one, sizeof(one), "%s%s %s%s", brief[0] ? ", " : "",
		    s->ms->v[i].uri_text, j->v == V_SKIP ?
		    "failed in this hook" : "until ", j->v == V_SKIP ? "" : at);
		strlcat(brief, one, sizeof(brief));
	}
	sched_plan_free(&p);
	if (told(key) && full[0] == '\0')
		return;		/* said, for this kind of derivation */
	log_errx("every builder that could build %s is down%s%s%s%s", drvpath,
	    brief[0] ? ": " : "", brief, brief[0] ? " (why: above, or "
	    "`nix-offload status`)" : "", full);
}

/*
 * A failure, to the person behind the build: once per build (told), not
 * once per hook that met it (four hooks that meet a wrong host key at
 * once say it once).
 */
static void
say_failure(const struct failure *f)
{
	char	 key[FAILURE_MSG_MAX + 16];

	if (f->kind == FAIL_NONE)
		return;
	snprintf(key, sizeof(key), "fail %s", f->msg);
	if (told(key))
		log_debug(1, "%s", f->msg);
	else
		log_errx("%s", f->msg[0] != '\0' ? f->msg :
		    "the build failed without a message");
}

/*
 * After the accept: copy, build, fetch on machine m.  Returns an exit
 * status; *retry is set when the builder, not the build, failed.
 */
static int
build_on(const struct machine *m, int note_fd, const struct conf *conf,
    const char *drvpath, const struct drv *d, const struct strlist *inputs,
    const struct strlist *wanted_outputs, enum route route, int *retry)
{
	struct conn		 remote;
	struct job		 job;
	struct job_spec		 s;
	struct build_result	 r;
	struct strlist		 outs = { NULL, 0, 0 };
	size_t			 i;
	int			 rc = EXIT_ERROR;

	*retry = 0;
	memset(&r, 0, sizeof(r));
	job_init(&job, m->uri_text, &remote);
	/* failures said here, once per build (say_failure) */
	job.quiet = 1;
	job.unlocked = route == ROUTE_UNLOCKED;
	if (job_open(&job, m, CONN_QUIET | CONN_WARM) == -1) {
		say_failure(&remote.f);
		*retry = 1;
		return EXIT_ERROR;
	}
	job.note_fd = note_fd;
	job.substitutes = conf->builders_use_substitutes;
	job_options(&job.opts, conf);
	job.log_fd = HOOK_LOG_FD;
	job.step = activity;
	job.arg = (void *)m;
	/* what the builder may give us: this derivation's outputs */
	if (job_allow(&job, drvpath, d) == -1)
		goto out;
	/* the paths known before the build; floating ones after it */
	for (i = 0; i < d->noutputs; i++)
		if (d->outputs[i].path[0] != '\0' &&
		    strlist_has(wanted_outputs, d->outputs[i].name) &&
		    strlist_add(&outs, d->outputs[i].path) == -1)
			goto out;
	memset(&s, 0, sizeof(s));
	s.name = drvpath;
	s.drvpath = drvpath;
	s.drv = d;
	/* Nix sends the whole input closure, to send as it is */
	s.send = inputs;
	s.closed = 1;
	s.inputs = d->ninputs > 0 ? inputs : d->srcs;
	s.fetch = &outs;
	if (job_run(&job, &s, &r) == -1) {
		say_failure(remote.f.kind != FAIL_NONE ? &remote.f :
		    &job.local.f);
		/* a builder that went away may be retried elsewhere */
		*retry = job_lost(&job);
		goto out;
	}
	if (!job_ok(r.status)) {
		rc = job_hook_exit(r.status);
		goto out;
	}
	if (job_fetch_built(&job, drvpath, d, wanted_outputs, &r) == -1) {
		say_failure(remote.f.kind != FAIL_NONE ? &remote.f :
		    &job.local.f);
		*retry = job_lost(&job);
		goto out;
	}
	if (job_session_end(&job) == -1)
		log_debug(1, "%s: the session did not end cleanly",
		    m->uri_text);
	if (job_close(&job, 1) == 0)
		rc = EXIT_OK;
	else if (job.local.f.kind != FAIL_NONE)
		say_failure(&job.local.f);
	else
		log_errx("local store: nix-store --serve did not end well");
	goto done;
out:
	ssh_kill(&remote);
	(void)job_close(&job, 0);
done:
	job_free(&job);
	build_result_free(&r);
	strlist_free(&outs);
	return rc;
}

/* One hook process: what Nix said, and what it is asked now. */
struct hook {
	struct conf	 conf;
	struct machines	 ms;
	struct sched	 sched;
	int		 have_sched;
	struct conn	 in;		/* Nix, on our stdin */
	enum route	 route;
	char		*down;		/* [machine]: lost after an accept */
	/* the build request being answered */
	uint64_t	 willing;	/* Nix could build it itself */
	char		*platform, *drvpath;
	struct strlist	 features;
	struct slot	 slot;		/* taken, or queued for (queued) */
	int		 queued;
};

/*
 * Nix's settings, and what follows from them: the builders, read as that
 * Nix reads them, and the route of the outputs.  Returns 1 when there is
 * nothing to do (declined for good, or Nix went), 0, or -1 (reported).
 */
static int
hook_setup(struct hook *h)
{
	char	 ver[64];
	int	 r;

	conf_init(&h->conf);
	h->conf.loaded = 1;	/* Nix sends what it read: we read no file */
	wire_init(&h->in, -1, STDIN_FILENO, -1, "Nix");
	if ((r = read_settings(&h->in, &h->conf)) != 0)
		return r;
	/* Nix's store may be under another root (nix build --store /mnt) */
	if (store_use(h->conf.store) == -1)
		return -1;
	if (nixver_local(ver, sizeof(ver)) == -1)
		ver[0] = '\0';
	(void)machines_rules(ver[0] ? ver : NULL);
	if (h->conf.builders != NULL && machines_parse(h->conf.builders,
	    strlen(h->conf.builders), h->conf.builders_src, h->conf.system,
	    &h->ms) == -1)
		return -1;
	/* without a runtime directory of our own, nothing is safe to do */
	if (h->ms.n == 0 || rundir_fd() == -1 ||
	    (h->route = nix_route(ver[0] ? ver : NULL)) == ROUTE_DECLINE) {
		log_hook_answer("decline-permanently", NULL);
		return 1;
	}
	sched_init(&h->sched, &h->ms);
	h->have_sched = 1;
	builders = &h->ms;
	told_sweep();
	if ((h->down = calloc(h->ms.n, 1)) == NULL) {
		log_err("hook");
		return -1;
	}
	return 0;
}

/* Read Nix's next "try": 1, or 0 when Nix is done with us, -1 (said). */
static int
next_request(struct hook *h)
{
	char	*cmd = NULL;
	int	 r;

	r = wire_read_string(&h->in, 16, &cmd, NULL) == 0 &&
	    strcmp(cmd, "try") == 0;
	free(cmd);
	if (!r)
		return 0;
	free(h->platform);
	free(h->drvpath);
	h->platform = h->drvpath = NULL;
	strlist_free(&h->features);
	if (wire_read_u64(&h->in, &h->willing) == -1 ||
	    wire_read_string(&h->in, DRV_NAME_MAX, &h->platform, NULL) == -1 ||
	    wire_read_string(&h->in, WIRE_PATH_MAX, &h->drvpath, NULL) == -1 ||
	    wire_read_strings(&h->in, DRV_FEATURES_MAX, DRV_NAME_MAX,
	    &h->features) == -1) {
		wire_fail(&h->in, "reading a build request");
		return -1;
	}
	return 1;
}

/*
 * Answer Nix's requests until one is accepted (1), with a slot taken or
 * queued for in h->slot; 0 when Nix is done with us, -1 on error.
 */
static int
hook_decide(struct hook *h)
{
	char	 why[16384], key[8192];
	size_t	 i;
	int	 r;

	while ((r = next_request(h)) == 1) {
		if (!known_outputs(h->drvpath)) {
			log_hook_answer("decline", NULL);
			continue;
		}
		r = sched_pick(&h->sched, h->platform, &h->features, h->down, 0,
		    &h->slot, why, sizeof(why));
		if (r == 1)
			return 1;
		if (can_build_locally(&h->conf, h->willing != 0, h->platform,
		    &h->features))
			log_hook_answer("decline", NULL);
		else if (r == -2) {
			say_down(&h->sched, h->drvpath, h->platform,
			    &h->features, h->down);
			log_hook_answer("decline", NULL);
		} else if (r == 0) {
			/*
			 * Every fitting builder is busy.  Nix 2.8 asks a
			 * postponed hook again only after poll-interval
			 * (5 s): accept, and wait for a slot ourselves, in
			 * the shortest queue.
			 */
			if (sched_queue(&h->sched, h->platform, &h->features,
			    h->down, &h->slot) == 0) {
				h->queued = 1;
				return 1;
			}
			log_hook_answer("postpone", NULL);
		} else {
			/* say why once per build and kind of derivation */
			snprintf(key, sizeof(key), "nofit %s", h->platform);
			for (i = 0; i < h->features.n; i++) {
				strlcat(key, i ? "," : " ", sizeof(key));
				strlcat(key, h->features.v[i], sizeof(key));
			}
			if (!told(key))
				log_errx("no builder can build %s (system %s):%s",
				    h->drvpath, h->platform, why);
			log_hook_answer("decline", NULL);
		}
	}
	return r;
}

/*
 * After the accept: Nix's inputs and wanted outputs, then the build, on
 * another builder if the one taken fails (HOOK_ATTEMPTS in all).  Returns
 * the hook's exit status.
 */
static int
hook_build(struct hook *h)
{
	struct strlist	 inputs = { NULL, 0, 0 }, outputs = { NULL, 0, 0 };
	struct drv	 d;
	int		 rc = EXIT_ERROR, r, attempt, retry;

	memset(&d, 0, sizeof(d));
	if (wire_read_strings(&h->in, WIRE_LIST_MAX, WIRE_PATH_MAX,
	    &inputs) == -1 || wire_read_strings(&h->in, DRV_OUTPUTS_MAX,
	    DRV_NAME_MAX, &outputs) == -1) {
		wire_fail(&h->in, "reading the inputs of %s", h->drvpath);
		goto out;
	}
	if (drv_read(h->drvpath, &d) == -1 ||
	    (h->route == ROUTE_HELD_LOCKS && held_locks(&d) == -1))
		goto out;
	if (h->queued) {
		log_debug(1, "waiting for a slot on %s",
		    h->ms.v[h->slot.machine].uri_text);
		if (sched_wait(&h->sched, &h->slot,
		    h->sched.slot_timeout) == -1)
			goto out;
	}
	for (attempt = 1;; attempt++) {
		log_debug(1, "building %s on %s", h->drvpath,
		    h->ms.v[h->slot.machine].uri_text);
		rc = build_on(&h->ms.v[h->slot.machine], h->slot.fd, &h->conf,
		    h->drvpath, &d, &inputs, &outputs, h->route, &retry);
		if (!retry || attempt == HOOK_ATTEMPTS)
			break;
		/* that builder is gone: take a slot on another, waiting */
		h->down[h->slot.machine] = 1;
		sched_release(&h->sched, &h->slot);
		r = sched_pick(&h->sched, h->platform, &h->features, h->down,
		    0, &h->slot, NULL, 0);
		if (r < 0 || (r == 0 && sched_queue(&h->sched, h->platform,
		    &h->features, h->down, &h->slot) == -1)) {
			log_errx("no other builder is up to build %s",
			    h->drvpath);
			break;
		}
		if (r == 0 && sched_wait(&h->sched, &h->slot,
		    h->sched.slot_timeout) == -1)
			break;
		log_warnx("trying %s instead",
		    h->ms.v[h->slot.machine].uri_text);
	}
out:
	drv_free(&d);
	strlist_free(&inputs);
	strlist_free(&outputs);
	return rc;
}

int
cmd_hook(int argc, char **argv)
{
	struct hook	 h;
	struct cost	 spent;
	long		 v;
	int		 r, rc = EXIT_ERROR;

	memset(&h, 0, sizeof(h));
	h.slot.fd = -1;
	h.route = ROUTE_HELD_LOCKS;
	/* Nix's verbosity: 3 (info) is the default, 5 (chatty) is -v */
	if (argc > 1 && (v = strtol(argv[argc - 1], NULL, 10)) > 4)
		verbose = (int)(v - 4);
	/*
	 * Every line to Nix is a JSON log line (but the answers): under a
	 * daemon only those reach the person who runs the build; a plain
	 * line before the accept goes to the daemon's log.
	 */
	log_nix_json(1);
	if ((r = hook_setup(&h)) != 0 || (r = hook_decide(&h)) != 1) {
		rc = r >= 0 ? EXIT_OK : EXIT_ERROR;
		goto out;
	}
	(void)log_hook_answer("accept", h.ms.v[h.slot.machine].uri_text);
	pub_update(&h.ms, PUB_NOW);
	rc = hook_build(&h);
	cost_now(&spent);
	cost_say("hook", &spent, 1);
out:
	if (h.slot.fd != -1)
		sched_release(&h.sched, &h.slot);
	/* root's summary, for the users of the daemon */
	if (h.have_sched)
		pub_update(&h.ms, PUB_LAST);
	if (h.have_sched)
		sched_free(&h.sched);
	free(h.down);
	free(h.platform);
	free(h.drvpath);
	strlist_free(&h.features);
	machines_free(&h.ms);
	conf_free(&h.conf);
	return rc;
}
