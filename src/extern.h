/*
 * nix-offload: send Nix builds to other machines over ssh.
 * The one internal header: limits, structures, and prototypes grouped by file.
 */
#ifndef EXTERN_H
#define EXTERN_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NIX_OFFLOAD_VERSION_STR	"0.1"

struct machine;
struct machines;
struct drv;

/* A list of strings (wire.c) */
struct strlist {
	char	**v;
	size_t	  n;
	size_t	  nalloc;
};

/*
 * Exit statuses (documented in nix-offload.1, EXIT STATUS).  The build
 * results 100..104 follow Nix; the connection failures are ours, one per
 * cause, so that scripts can tell them apart.
 */
enum exit_status {
	EXIT_OK = 0,
	EXIT_ERROR = 1,		/* anything not listed below */
	EXIT_USAGE = 2,		/* bad command line, URI or configuration */
	EXIT_UNREACHABLE = 3,	/* refused, unreachable, name unknown, timed out */
	EXIT_AUTH = 4,		/* the builder refused our identities */
	EXIT_HOSTKEY = 5,	/* host key unknown, changed, or not the pinned one */
	EXIT_NOREMOTE = 6,	/* nix-store not found on the builder */
	EXIT_BANNER = 7,	/* the remote shell printed text before the protocol */
	EXIT_PROTOCOL = 8,	/* not a serve protocol we speak */
	EXIT_DROPPED = 9,	/* the connection ended mid-conversation */
	EXIT_BUILD_FAILED = 100,
	EXIT_BUILD_TIMEOUT = 101,
	EXIT_BUILD_HASH = 102,
	EXIT_BUILD_NONDET = 104
};

/* Why a connection failed: set once, where the failure is reported. */
enum fail {
	FAIL_NONE = 0,
	FAIL_OTHER,
	FAIL_UNREACHABLE,
	FAIL_AUTH,
	FAIL_HOSTKEY,
	FAIL_NOREMOTE,
	FAIL_BANNER,
	FAIL_PROTOCOL,
	FAIL_DROPPED,
	FAIL_TIMEOUT,
	FAIL_KINDS	/* not a failure: how many there are, for tables */
};
/* After FAIL_OTHER: the builder failed, not the build nor this machine. */
#define FAIL_BUILDER(f)	((f) > FAIL_OTHER)

/* log.c */
extern int	 verbose;
void		 log_warnx(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_errx(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_err(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_debug(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
const char	*log_last(void);
void		 log_clear(void);
int		 log_quiet(int);
void		 log_nix_json(int);
char		*log_printable(const void *, size_t, char *, size_t);
char		*log_clean(char *);

/* compat.c: the BSD functions, when libbsd is not used */
#ifndef HAVE_LIBBSD
size_t		 strlcpy(char *, const char *, size_t);
size_t		 strlcat(char *, const char *, size_t);
void		*reallocarray(void *, size_t, size_t);
#endif

/* util.c */
struct args {
	char	**list;		/* NULL-terminated */
	size_t	  num;
	size_t	  nalloc;
};
int		 args_add(struct args *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 args_free(struct args *);
char		*shell_quote(const char *);
char		*shell_join(char *const *);
int		 shell_split(const char *, struct args *);
int		 env_number(const char *, long, long, long, long *);
int64_t		 now_ms(void);
void		 json_string(FILE *, const char *);
void		 json_list(FILE *, const struct strlist *);
int		 exit_for(enum fail);
const char	*fail_name(enum fail);
int		 nix_version_parse(const char *, char *, size_t);
int		 spawn(char *const *, int[3], pid_t *, const char *);
#define SPAWN_LINE_MAX	8192	/* a line of a child's stdout (spawn_lines) */
int		 spawn_lines(char *const *, const char *, int,
		    int (*)(void *, const char *), void *, int *);

/* hash.c */
#define SHA256_LEN	32
struct sha256 {
	uint32_t	state[8];
	uint64_t	count;
	unsigned char	buf[64];
};
void		 sha256_init(struct sha256 *);
void		 sha256_update(struct sha256 *, const void *, size_t);
void		 sha256_final(struct sha256 *, unsigned char[SHA256_LEN]);
void		 hash_hex(const unsigned char *, size_t, char *);
size_t		 nix32_len(size_t);
void		 nix32_encode(const unsigned char *, size_t, char *);
ssize_t		 base64_decode(const char *, size_t, unsigned char *, size_t);

/* path.c: store paths */
#define STORE_DIR	"/nix/store"
#define PATH_MAX_LEN	4096
int		 path_name_valid(const char *, size_t);
int		 path_valid(const char *, const char *);
int		 path_make(const char *, const char *, const unsigned char *,
		    const char *, char *, size_t);

/* ---- nar.c: Nix archives (begin) ---- */
struct nar_sink {
	int		(*put)(void *, const void *, size_t);
	void		*arg;
	struct sha256	 hash;
	uint64_t	 size;
	int		 failed;
	int		 no_hash;	/* someone else checks the hash */
};
void		 nar_sink_init(struct nar_sink *,
		    int (*)(void *, const void *, size_t), void *);
void		 nar_sink_put(struct nar_sink *, const void *, size_t);
int		 nar_write_file(struct nar_sink *, const void *, size_t, int);

#define NAR_MAGIC	"nix-archive-1"
#define NAR_TAG_MAX	32	/* a token: "(", "type", "contents"... */
#define NAR_NAME_MAX	255	/* an entry name */
#define NAR_TARGET_MAX	4095	/* a symlink target */
#define NAR_DEPTH_MAX	256	/* nested directories (Nix 2.35: 64) */
#define NAR_BUF_SIZE	65536	/* file contents go through this */
#define NAR_PATH_MAX	4096	/* a file's path, when dumping */
#define NAR_CONTENTS_MAX INT64_MAX /* a file's size: the largest off_t */

/* Reads exactly n bytes into buf and returns 0, or returns -1. */
struct nar_source {
	int		(*read)(void *, void *, size_t);
	void		*arg;
};
int		 nar_copy(struct nar_source *, struct nar_sink *, char *,
		    size_t);
int		 nar_dump_path(const char *, struct nar_sink *);
/* ---- nar.c (end) ---- */

/* json.c: JSON text, checked whole (the structured attrs of a .drv) */
#define JSON_DEPTH_MAX	128	/* nesting of arrays and objects */
enum json_type {
	JSON_NONE,	/* past the end */
	JSON_OBJECT,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL
};
int		 json_find(const char *, size_t, const char *, size_t *, char *,
		    size_t);
enum json_type	 json_type(const char *, size_t, size_t);
int		 json_array_next(const char *, size_t, size_t *);
int		 json_string_dup(const char *, size_t, size_t *, size_t,
		    const char *, char **, char *, size_t);

/* ---- drv.c: .drv files (begin) ---- */
#define DRV_FILE_MAX	(64u * 1024 * 1024)	/* a .drv file */
#define DRV_STRING_MAX	WIRE_STRING_MAX	/* builder, an arg, env name, value */
#define DRV_PATH_MAX	4096	/* an output, inputDrv or inputSrc path */
#define DRV_NAME_MAX	256	/* output name, platform, hash algo, hash,
				   system feature */
#define DRV_OUTPUTS_MAX	1024	/* outputs; outputs used of one inputDrv */
#define DRV_INPUTS_MAX	(1u << 20)	/* inputDrvs; inputSrcs */
#define DRV_ARGS_MAX	(1u << 20)
#define DRV_ENV_MAX	(1u << 20)
#define DRV_FEATURES_MAX 1024	/* requiredSystemFeatures */
struct drv_output {
	char		*name;
	char		*path;		/* "" if not known in advance */
	char		*hash_algo;	/* "" or [r:|text:]sha256 ... */
	char		*hash;		/* "", hex, or "impure" */
};
struct drv_input {
	char		*path;		/* the input's .drv */
	struct strlist	*outputs;	/* the outputs of it that are used */
};
struct drv_env {
	char		*key;
	char		*value;
};
/*
 * The lists are in the file's order.  The strlists are pointers, never NULL
 * once parsed.
 */
struct drv {
	struct drv_output *outputs;	/* at least one */
	size_t		 noutputs;
	struct drv_input *inputs;	/* inputDrvs */
	size_t		 ninputs;
	struct strlist	*srcs;		/* inputSrcs */
	char		*platform;
	char		*builder;
	struct strlist	*args;
	struct drv_env	*env;
	size_t		 nenv;
	char		*file;		/* drv_read's path, for messages */
};
int		 drv_parse(const char *, size_t, struct drv *, char *, size_t);
int		 drv_read(const char *, struct drv *);
int		 drv_path_valid(const char *);
void		 drv_free(struct drv *);
const char	*drv_env(const struct drv *, const char *);
int		 drv_name(const char *, char *, size_t);
int		 drv_required_features(const struct drv *, struct strlist *);
/* ---- drv.c (end) ---- */

/* uri.c: ssh:// store URIs */
#define URI_MAX		4096
struct store_uri {
	char	*user;		/* NULL: ssh's default */
	char	*host;		/* without IPv6 brackets */
	int	 port;		/* 0: ssh's default */
	char	*ssh_key;	/* ?ssh-key=, NULL if none */
	char	*host_key;	/* decoded pinned key line, NULL if none */
	int	 compress;	/* ?compress=true */
	char	*remote_program; /* NULL: nix-store */
	char	*remote_store;	/* NULL: the remote's default store */
	char	 display[URI_MAX]; /* ssh://[user@]host[:port], for messages */
};
int		 uri_parse(const char *, struct store_uri *);
void		 uri_free(struct store_uri *);
char		*hostkey_parse(const char *);

/*
 * A conversation with a remote program over pipes.  Only ssh.c knows that
 * ssh is at the other end; wire.c frames the bytes, serve.c speaks the
 * protocol.
 */
#define CONN_ERRTAIL	4096	/* how much of the remote's stderr we keep */
#define CONN_BUFSZ	65536
struct conn {
	const char	*host;		/* for messages */
	char		 hostname[256]; /* the bare host, for hints */
	pid_t		 pid;		/* the ssh child, -1 when reaped */
	int		 status;	/* its wait status, once reaped */
	int		 to;		/* our end of its stdin, -1 when closed */
	int		 from;		/* our end of its stdout */
	int		 err;		/* our end of its stderr, -1 at EOF */
	int		 timeout_ms;	/* for each read; 0 waits forever */
	int		 eof;		/* stdout reached EOF */
	int		 timedout;	/* a read timed out */
	enum fail	 fail;		/* why it failed, once reported */
	char		 why[256];	/* what wire.c saw go wrong */
	int		 echo_stderr;	/* copy the remote's stderr to ours */
	int		 echo_fd;	/* where: stderr, or Nix's log pipe */
	const char	*log_prefix;	/* before each line copied */
	char		 logline[1024]; /* the line being copied */
	size_t		 loglen;
	unsigned	 version;	/* serve protocol version in use */
	unsigned	 remote_version; /* what the remote said it speaks */
	uint64_t	 nread;		/* bytes read from stdout */
	uint64_t	 reply_max;	/* what the reply being read may cost
					   (wire_reply_begin); 0: not counted */
	uint64_t	 reply_cost;	/* what it has cost so far */
	char		 errtail[CONN_ERRTAIL];	/* last bytes of its stderr */
	size_t		 errlen;
	size_t		 errline;	/* start of the unfinished stderr line */
	unsigned char	 rbuf[CONN_BUFSZ];
	size_t		 rpos, rlen;
	unsigned char	 wbuf[CONN_BUFSZ];
	size_t		 wlen;
	void		(*diagnose)(struct conn *, const char *);
};

/* rundir.c: the runtime directory, checked once, files opened in it */
#define RUNDIR_PATH_MAX	512
#define RUNDIR_NAME_MAX	256
struct stat;
void		 rundir_init(void);
const char	*rundir_path(void);
int		 rundir_fd(void);
int		 rundir_dirfd(const char *);
int		 rundir_open(const char *, const char *, int, mode_t);
int		 rundir_unlink(const char *, const char *, int);
int		 rundir_write(const char *, const char *, const void *, size_t);
ssize_t		 rundir_read(const char *, const char *, char *, size_t,
		    struct stat *);
int		 rundir_name(const char *, char *, size_t);
void		 rundir_key(const char *, char *);
int		 rundir_lock(int, int, short, off_t, off_t, pid_t *);

/* ssh.c */
struct ssh_config {
	const char	*program;	/* NIX_OFFLOAD_SSH, default "ssh" */
	long		 persist;	/* ControlPersist seconds */
	long		 connect_timeout; /* seconds */
	long		 alive_interval; /* ServerAliveInterval seconds */
	long		 io_timeout;	/* seconds a builder may be silent
					   outside a build (0 = forever) */
	struct args	 sshopts;	/* NIX_SSHOPTS, split */
};
extern struct ssh_config sshconf;
int		 ssh_init(void);
int		 ssh_open(const struct store_uri *, char *const *, struct conn *);
int		 ssh_open_serve(const struct store_uri *, struct conn *);
int		 ssh_master_up(const struct store_uri *);
int		 ssh_start_serve(const struct store_uri *, struct conn *);
int		 ssh_wait_master(const struct store_uri *, struct conn *);
int		 ssh_fact_get(const struct store_uri *, const char *, char *,
		    size_t);
void		 ssh_fact_put(const struct store_uri *, const char *,
		    const char *);
int		 ssh_close(struct conn *);
void		 ssh_kill(struct conn *);

/* wire.c: framed reads and writes on a struct conn */
#define WIRE_STRING_MAX		(64u * 1024 * 1024)	/* any string */
#define WIRE_PATH_MAX		4096	/* a store path */
#define WIRE_LIST_MAX		(1u << 20)	/* items in a list */
#define WIRE_GROW		65536	/* a string's first buffer */
#define WIRE_ITEM_COST		64	/* charged per string of a reply, besides
					   its bytes: malloc's header and
					   rounding, the list's pointer */
void		 wire_init(struct conn *, int, int, int, const char *);
void		 wire_lifeline(int);
int		 wire_write(struct conn *, const void *, size_t);
int		 wire_write_u64(struct conn *, uint64_t);
int		 wire_write_string(struct conn *, const void *, size_t);
int		 wire_write_str(struct conn *, const char *);
int		 wire_flush(struct conn *);
int		 wire_read(struct conn *, void *, size_t);
int		 wire_read_u64(struct conn *, uint64_t *);
int		 wire_read_string(struct conn *, size_t, char **, size_t *);
int		 wire_peek(struct conn *, size_t, int);
void		 wire_drain_stderr(struct conn *);
ssize_t		 wire_read_all(struct conn *, char *, size_t);
void		 wire_fail(struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 wire_reply_begin(struct conn *, uint64_t);
void		 wire_reply_end(struct conn *);
int		 wire_charge(struct conn *, uint64_t);

int		 strlist_add(struct strlist *, const char *);
void		 strlist_free(struct strlist *);
void		 strlist_sort_uniq(struct strlist *);
int		 strlist_has(const struct strlist *, const char *);
int		 wire_write_strings(struct conn *, const struct strlist *);
int		 wire_read_strings(struct conn *, size_t, size_t, struct strlist *);

/* serve.c: the client side of `nix-store --serve` */
#define SERVE_MAGIC_1		0x390c9debULL
#define SERVE_MAGIC_2		0x5452eecbULL
#define SERVE_VERSION		0x207	/* what we speak: 2.7 */
#define SERVE_VERSION_MIN	0x205	/* the oldest remote we accept */
#define SERVE_MAJOR(v)		((v) & 0xff00)
#define SERVE_MINOR(v)		((v) & 0x00ff)
enum serve_cmd {
	SERVE_QUERY_VALID_PATHS = 1,
	SERVE_QUERY_PATH_INFOS = 2,
	SERVE_DUMP_STORE_PATH = 3,
	SERVE_IMPORT_PATHS = 4,
	SERVE_EXPORT_PATHS = 5,
	SERVE_BUILD_PATHS = 6,
	SERVE_QUERY_CLOSURE = 7,
	SERVE_BUILD_DERIVATION = 8,
	SERVE_ADD_TO_STORE_NAR = 9
};
#define SERVE_EXPORT_MAGIC	0x4558494eULL	/* "NIXE" */
/*
 * What one reply may cost us, counted as it is read: the bytes of its
 * strings, WIRE_ITEM_COST per string, and each record's struct.  64 MiB
 * holds the path infos of some 35 000 paths of the usual shape (a dozen
 * references, a signature), or three closures of SERVE_CLOSURE_MAX paths
 * of the longest kind.
 */
#define SERVE_REPLY_MAX		(64u * 1024 * 1024)
/*
 * Paths a closure may hold beyond the ones asked about.  The closure of a
 * whole NixOS system, build-time inputs and all, is a few thousand to a
 * few tens of thousands of paths; 65536 more than asked is already far
 * from anything one copy moves, yet costs at most ~20 MiB (paths of 255
 * bytes), and answering with more is a lie we can refuse from the count
 * alone, before reading one path.
 */
#define SERVE_CLOSURE_MAX	65536
#define WIRE_HASH_MAX		1024	/* a hash or signature text */
struct path_info {
	char		*path;
	char		*deriver;	/* "" if none */
	struct strlist	 refs;
	uint64_t	 download_size;
	uint64_t	 nar_size;
	char		*nar_hash;	/* "sha256:<nix32>", NULL below 2.4 */
	char		*ca;		/* "" if none */
	struct strlist	 sigs;
};
struct build_options {
	uint64_t	 max_silent_time;	/* seconds, 0 = none */
	uint64_t	 timeout;		/* seconds, 0 = none */
	uint64_t	 max_log_size;		/* bytes, 0 = none */
};
enum build_status {			/* BuildResult status on the wire */
	BUILD_BUILT = 0, BUILD_SUBSTITUTED = 1, BUILD_ALREADY_VALID = 2,
	BUILD_PERMANENT_FAILURE = 3, BUILD_INPUT_REJECTED = 4,
	BUILD_OUTPUT_REJECTED = 5, BUILD_TRANSIENT_FAILURE = 6,
	BUILD_CACHED_FAILURE = 7, BUILD_TIMED_OUT = 8, BUILD_MISC_FAILURE = 9,
	BUILD_DEPENDENCY_FAILED = 10, BUILD_LOG_LIMIT_EXCEEDED = 11,
	BUILD_NOT_DETERMINISTIC = 12, BUILD_RESOLVES_TO_ALREADY_VALID = 13,
	BUILD_NO_SUBSTITUTERS = 14
};
#define BUILD_STATUS_MAX	14
struct build_result {
	int		 status;
	char		*error;	/* "" on success */
	uint64_t	 times_built;
	int		 nondet;
	uint64_t	 start, stop;
};
int		 serve_build_derivation(struct conn *, const char *,
		    const struct drv *, const struct strlist *,
		    const struct build_options *, struct build_result *);
int		 serve_handshake(struct conn *);
int		 serve_query_path_infos(struct conn *, const struct strlist *,
		    struct path_info **, size_t *);
void		 serve_path_infos_free(struct path_info *, size_t);
int		 serve_import_begin(struct conn *);
int		 serve_import_path(struct conn *, const char *,
		    const struct strlist *, const char *,
		    int (*)(void *, struct conn *), void *);
int		 serve_import_end(struct conn *);
int		 serve_add_nar(struct conn *, const struct path_info *,
		    int (*)(void *, struct conn *), void *);
int		 serve_add_nar_acks(struct conn *, size_t);
int		 serve_query_closure(struct conn *, const struct strlist *, int,
		    struct strlist *);
int		 serve_dump_request(struct conn *, const char *);
int		 serve_dump_read(struct conn *, const char *, struct nar_sink *);
int		 serve_query_valid_paths(struct conn *, const struct strlist *,
		    int, int, struct strlist *);

/* sched.c: picking a builder, slot locks */
struct slot {
	size_t		 machine;	/* index in the machines */
	long		 index;		/* which of its slots */
	int		 fd;		/* the locked slot file, -1 when free */
};
struct sched {
	const struct machines *ms;
	int		**mine;		/* [machine][slot]: held by this process */
	int		(*down)(void *, size_t); /* skip a builder (health) */
	void		*arg;
	int		 waitfd;	/* our place in a queue, -1 if none */
	char		 waitname[64];	/* its name in the slots directory */
	long		 slot_timeout;	/* seconds to wait for a slot */
};
void		 sched_init(struct sched *, const struct machines *);
void		 sched_free(struct sched *);
int		 sched_fits(const struct machine *, const char *,
		    const struct strlist *, char *, size_t);
int		 sched_load(const struct machine *, const int *);
int		 sched_pick(struct sched *, const char *, const struct strlist *,
		    struct slot *, char *, size_t);
void		 sched_release(struct sched *, struct slot *);
int		 sched_queue(struct sched *, const char *,
		    const struct strlist *, struct slot *);
int		 sched_wait(struct sched *, struct slot *, long);
int		 sched_adopt(const struct slot *);

/* copy.c: closures between the local store and a builder */
struct copy_stats {
	uint64_t	 bytes;
	size_t		 paths;
};
int		 copy_to(struct conn *, struct conn *, const struct strlist *, int,
		    struct copy_stats *);
int		 copy_from(struct conn *, struct conn *, const struct strlist *,
		    struct copy_stats *);
int		 cmd_copy(int, char **);

/* health.c: builders that failed, remembered across processes */
#define HEALTH_CAP		3600	/* the longest backoff, seconds */
#define HEALTH_FAILURES_MAX	1000	/* failures in a row we count */
int		 health_parse(const char *, size_t, long long, long *,
		    long long *, char *, size_t, const char **);
long		 health_wait(long, long);
int		 health_get(const struct machine *, long *, long long *, char *,
		    size_t);
long		 health_backoff(const struct machine *);
void		 health_failed(const struct machine *, const char *);
void		 health_ok(const struct machine *);
int		 cmd_enable(int, char **);

/* store.c: the local store */
int		 store_open(struct conn *);
int		 store_close(struct conn *);

/* info.c */
int		 cmd_store_info(int, char **);

/* check.c */
int		 cmd_check(int, char **);
int		 check_parse_load(const char *, double *);

/* build.c */
int		 cmd_build(int, char **);

/* hook.c */
int		 cmd_hook(int, char **);

/* ---- configuration: conf.c, machines.c, builders.c (begin) ---- */

#define CONF_SRC_MAX	1100	/* "FILE:LINE" */
#define CONF_FILE_MAX	(1024 * 1024)	/* a nix.conf or machines file */
#define CONF_LINE_MAX	65536	/* one line of either, or one setting */
#define CONF_DEPTH_MAX	16	/* nested nix.conf includes */
#define CONF_FILES_MAX	64	/* user nix.conf files */
#define CONF_NUM_MAX	2147483647L	/* max-jobs, timeouts */

/*
 * The nix.conf settings nix-offload uses, as Nix would see them.  Lists
 * are sets: sorted, without duplicates, as Nix keeps them.
 */
struct conf {
	char		*builders;	/* NULL: @$NIX_CONF_DIR/machines */
	char		 builders_src[CONF_SRC_MAX]; /* FILE:LINE, --builders... */
	int		 builders_use_substitutes;
	long		 max_jobs;	/* "auto" resolved to the core count */
	char		*system;	/* the local system, e.g. x86_64-linux */
	struct strlist	 extra_platforms;
	struct strlist	 system_features;
	long		 max_silent_time; /* seconds, 0 = none */
	long		 timeout;	/* seconds, 0 = none */
	uint64_t	 max_log_size;	/* bytes, 0 = none */
	struct strlist	 cmdline;	/* name, value, source: replayed last */
	int		 loaded;	/* conf_load has run */
};
struct stat;
void		 conf_init(struct conf *);
int		 conf_load(struct conf *);
int		 conf_set(struct conf *, const char *, const char *,
		    const char *);
int		 conf_option(struct conf *, int, char **, int *);
void		 conf_free(struct conf *);
int		 conf_value(const struct conf *, const char *, char *, size_t);
int		 conf_setting_known(const char *);
int		 conf_path(char *, size_t, const char *);
int		 conf_read_file(const char *, size_t, char **, size_t *,
		    struct stat *);

#define MACHINES_MAX		1024	/* builders, all files together */
#define MACHINES_FIELDS		8	/* fields of one entry */
#define MACHINES_DEPTH_MAX	8	/* machines files being read at once */
#define MACHINES_LIST_MAX	256	/* systems or features of one entry */
#define MACHINES_JOBS_MAX	4096	/* field 4 */
#define MACHINES_SPEED_MAX	1000000.0 /* field 5 */
#define MACHINES_SPEED_MIN	0.000001 /* field 5: prints back in plain decimals */
#define MACHINES_ERRORS_MAX	10	/* bad entries reported before giving up */

/* One builder, from a builders spec or a machines file. */
struct machine {
	char		*uri_text;	/* as written, ssh:// added if bare */
	struct store_uri uri;		/* valid when usable */
	struct strlist	 systems;
	char		*ssh_key;	/* field 3, NULL if none */
	long		 max_jobs;
	double		 speed_factor;
	struct strlist	 supported;	/* supported features */
	struct strlist	 mandatory;	/* mandatory features */
	char		*host_key_b64;	/* field 8, NULL if none */
	char		 source[CONF_SRC_MAX]; /* FILE:LINE or --builders */
	int		 usable;	/* nix-offload can talk to it */
	char		*unusable_why;	/* why not, when !usable */
};
struct machines {
	struct machine	*v;
	size_t		 n;
};
int		 machines_parse(const char *, size_t, const char *,
		    const char *, struct machines *);
int		 machines_parse_file(const char *, int, const char *,
		    struct machines *);
void		 machines_free(struct machines *);
int		 builders_load(struct conf *, struct machines *);
void		 builders_print(FILE *, const struct machines *, int);
int		 cmd_machines(int, char **);

/* ---- configuration (end) ---- */

#endif /* EXTERN_H */
