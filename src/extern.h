/*
 * nix-offload: send Nix builds to other machines over ssh.
 * The one internal header: limits, structures, and prototypes grouped by file.
 */
#ifndef EXTERN_H
#define EXTERN_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>

#define NIX_OFFLOAD_VERSION_STR	"0.1"

struct machine;
struct machines;
struct drv;

/* strlist.c: a list of strings */
struct strlist {
	char	**v;
	size_t	  n;
	size_t	  nalloc;
};
int		 strlist_add(struct strlist *, const char *);
int		 strlist_push(struct strlist *, char *);
void		 strlist_free(struct strlist *);
void		 strlist_sort_uniq(struct strlist *);
int		 strlist_has(const struct strlist *, const char *);
int		 strlist_in_set(const struct strlist *, const char *);

/*
 * Nix's exit status after failed builds is EXIT_BUILD_BITS with a bit for
 * each kind of failure that happened (job.c maps build results to them).
 */
#define EXIT_BUILD_BITS		0x60
#define EXIT_BIT_TIMEOUT	0x01
#define EXIT_BIT_HASH		0x02	/* an output was rejected */
#define EXIT_BIT_FAILED		0x04
#define EXIT_BIT_NONDET		0x08

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
	EXIT_BUILD_FAILED = EXIT_BUILD_BITS | EXIT_BIT_FAILED,	/* 100 */
	EXIT_BUILD_TIMEOUT = EXIT_BUILD_FAILED | EXIT_BIT_TIMEOUT, /* 101 */
	EXIT_BUILD_HASH = EXIT_BUILD_FAILED | EXIT_BIT_HASH,	/* 102 */
	EXIT_BUILD_NONDET = EXIT_BUILD_BITS | EXIT_BIT_NONDET	/* 104 */
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
void		 log_nix_json(int);
void		 log_info(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_status(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_status_end(void);
unsigned long long log_nix_start(const char *);
void		 log_nix_stop(unsigned long long);
int		 log_hook_answer(const char *, const char *);
void		 log_text(const char *);
void		 log_child(const void *, size_t);
void		 log_build(int, const void *, size_t);
void		 log_tail(const char *, size_t, long);

/* text.c: a peer's bytes made safe to show */
char		*text_printable(const void *, size_t, char *, size_t);
char		*text_clean(char *);
#define TEXT_COLOUR	0x1	/* text_filter keeps colours */
#define TEXT_NO_CR	0x2	/* and drops carriage returns */
size_t		 text_filter(const char *, size_t, char *, int);

/* usage.c: the commands, their help, their options and usage errors */
#define CMD_SSH		0x1	/* ssh_init() before it runs */
#define CMD_RUNDIR	0x2	/* and the runtime directory, checked */
struct usage {
	const char	*name;
	const char	*alias;		/* another name for it, or NULL */
	int		 needs;		/* CMD_SSH, CMD_RUNDIR */
	const char	*synopsis;	/* the words of nix-offload.1's SYNOPSIS */
	const char	*about;		/* one line */
	const char	*options;	/* lines of "-o words\twhat it does" */
};
/* an option as the command line gave it (usage_next) */
struct usage_opt {
	const char	*name;		/* its first name in the table */
	char		*arg[2];	/* its words, as many as it takes */
	char		 namebuf[32];
	int		 dashdash;	/* "--" was seen: operands only */
};
#define USAGE_END	0
#define USAGE_OPTION	1
#define USAGE_OPERAND	2
const struct usage *usage_find(const char *);
void		 usage_print(FILE *, const struct usage *);
void		 usage_error(const char *);
int		 usage_next(const struct usage *, int, char **, int *,
		    struct usage_opt *);

/* compat.c: the BSD functions, when libbsd is not used */
#ifndef HAVE_LIBBSD
size_t		 strlcpy(char *, const char *, size_t);
size_t		 strlcat(char *, const char *, size_t);
void		*reallocarray(void *, size_t, size_t);
#endif
void		 title_init(int, char *[]);
void		 title_set(const char *);
void		 close_from(int, int);

/* args.c: argv lists, and the shell's words */
struct args {
	char	**list;		/* NULL-terminated */
	size_t	  num;
	size_t	  nalloc;
};
int		 args_add(struct args *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 args_free(struct args *);
char		*args_quote(const char *);
char		*args_join(char *const *);
int		 args_split(const char *, struct args *);

/* clock.c: clocks, and numbers from the environment */
int		 clock_env_number(const char *, long, long, long, long *);
int64_t		 clock_ms(void);
int64_t		 clock_wall(void);
void		 clock_text(long long, char *, size_t);

/* fail.c: failures as values */
#define FAILURE_MSG_MAX	1024
/*
 * What went wrong, filled where it was diagnosed and passed up to whoever
 * records a builder's health, answers for a job, or prints it.
 */
struct failure {
	enum fail	 kind;		/* FAIL_NONE: nothing went wrong */
	char		 where[256];	/* the builder, or "" */
	char		 msg[FAILURE_MSG_MAX]; /* one line, "WHERE: ..." */
};
void		 fail_clear(struct failure *);
void		 fail_set(struct failure *, enum fail, const char *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
void		 fail_vset(struct failure *, enum fail, const char *,
		    const char *, va_list);
int		 fail_exit(enum fail);
const char	*fail_name(enum fail);

/* nixver.c: the local Nix's version */
int		 nixver_parse(const char *, char *, size_t);
int		 nixver_local(char *, size_t);
int		 nixver_at_least(const char *, int, int, int);

/* spawn.c: local children */
extern unsigned long spawn_count;	/* programs started by this process */
int		 spawn(char *const *, int[3], pid_t *, const char *);
#define SPAWN_LINE_MAX	65536	/* a line of a child's stdout (spawn_lines) */
#define SPAWN_QUIET	0x1	/* drop the child's stderr */
int		 spawn_lines(char *const *, const char *, int, int,
		    int (*)(void *, const char *), void *, int *);
int		 spawn_streams(char *const *, const char *, int, int,
		    int (*)(void *, const char *), int (*)(void *, const char *),
		    void *, int *);
int		 spawn_first_line(char *const *, int, char *, size_t);

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
int		 hash_hex_decode(const char *, size_t, unsigned char *);
size_t		 nix32_len(size_t);
void		 nix32_encode(const unsigned char *, size_t, char *);
int		 nix32_decode(const char *, unsigned char *, size_t);
ssize_t		 base64_decode(const char *, size_t, unsigned char *, size_t);

/* path.c: store paths */
#define STORE_DIR	"/nix/store"
#define PATH_MAX_LEN	4096
int		 path_name_valid(const char *, size_t);
int		 path_valid(const char *, const char *);
int		 path_make(const char *, const char *, const unsigned char *,
		    const char *, char *, size_t);

/* ---- nar.c: Nix archives (begin) ---- */
/*
 * What a NAR holds, as nar_copy reads it: each node, named as an entry of
 * the directory being read (NULL for the top one), a regular file's
 * contents, a directory's end.  Each returns 0, or -1 to stop the copy.
 */
struct nar_tree {
	int		(*dir)(void *, const char *);
	int		(*dir_end)(void *);
	int		(*file)(void *, const char *, int);	/* executable */
	int		(*data)(void *, const void *, size_t);
	int		(*file_end)(void *);
	int		(*link)(void *, const char *, const char *);
	void		*arg;
};
struct nar_sink {
	int		(*put)(void *, const void *, size_t);
	void		*arg;
	const struct nar_tree *tree;	/* nar_copy's events too, if not NULL */
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
#define JSON_KEY_MAX	256	/* object member names read whole */
int		 json_check(const char *, size_t, char *, size_t);
int		 json_object_next(const char *, size_t, size_t *, char *, size_t);
int		 json_skip(const char *, size_t, size_t *);
int		 json_string_dup(const char *, size_t, size_t *, size_t,
		    const char *, char **, char *, size_t);
void		 json_string(FILE *, const char *);
void		 json_list(FILE *, const struct strlist *);

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
#define DRV_ERR_MAX	512	/* a parse error message */
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
int		 drv_hash_modulo(const struct drv *, char *);
int		 drv_path_valid(const char *);
void		 drv_free(struct drv *);
const char	*drv_env(const struct drv *, const char *);
const struct drv_output *drv_output(const struct drv *, const char *);

int		 drv_name(const char *, char *, size_t);
/* ---- drv.c (end) ---- */

/* ca.c: content addresses */
#define CA_MAX		256	/* a content address, ca_output */
int		 ca_output(const struct drv_output *, char *, size_t);
int		 ca_path_matches(const char *, const char *,
		    const struct strlist *);

/* features.c: what a derivation asks of its builder */
int		 features_required(const struct drv *, struct strlist *);

/* uri.c: ssh:// store URIs */
#define URI_MAX		4096
#define COMPRESS_AUTO	0	/* no compress=: by the link's measured rate */
#define COMPRESS_ON	1
#define COMPRESS_OFF	2
struct store_uri {
	char	*user;		/* NULL: ssh's default */
	char	*host;		/* without IPv6 brackets */
	int	 port;		/* 0: ssh's default */
	char	*ssh_key;	/* ?ssh-key=, NULL if none */
	char	*host_key;	/* decoded pinned key line, NULL if none */
	int	 compress;	/* ?compress=: COMPRESS_AUTO unless said */
	char	*remote_program; /* NULL: nix-store */
	char	*remote_store;	/* NULL: the remote's default store */
	int	 ng;		/* ssh-ng://: the daemon protocol */
	int	 private_slots;	/* ?shared-slots=false: slots counted here */
	int	 local_store;	/* a local store as a builder (a path) */
	char	 display[URI_MAX]; /* ssh[-ng]://[user@]host[:port] */
};
int		 uri_parse(const char *, struct store_uri *);
int		 uri_check(const char *, struct store_uri *, char *, size_t);
void		 uri_free(struct store_uri *);
char		*uri_hostkey(const char *);
char		*uri_hostkey_check(const char *, char *, size_t);

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
	struct failure	 f;		/* why it failed, once diagnosed */
	int		 quiet;		/* f is not said on stderr too */
	char		 link[72];	/* its link's fact, "" if not measured */
	char		 why[256];	/* what wire.c saw go wrong */
	int		 echo_stderr;	/* copy the remote's stderr to ours */
	int		 echo_fd;	/* where: stderr, or Nix's log pipe */
	const char	*log_prefix;	/* before each line copied */
	char		 logline[1024]; /* the line being copied */
	size_t		 loglen;
	const struct proto *proto;	/* its protocol, from the handshake */
	int		 ng;		/* it speaks the daemon protocol */
	unsigned	 version;	/* the protocol's version in use */
	unsigned	 remote_version; /* what the remote said it speaks */
	char		 remote_nix[64]; /* its Nix's version, if it said */
	int		 trust;		/* DAEMON_TRUST_*: are we trusted */
	int		 framed;	/* writes go in frames (wire_frames_begin) */
	int		 builder;	/* a builder's: its round trips count */
	int		 here;		/* the local nix-daemon's socket */
	int		 adopted;	/* a session another process started:
					   its ssh's exit status is not ours */
	int		 sent;		/* sent since the last read: the next
					   wait for a reply is a round trip */
	int		 add_many;	/* daemon.c: an AddMultipleToStore is open */
	int		 options_sent;	/* daemon.c: SetOptions was sent */
	int		 options_pending; /* and its answer is not read yet */
	int		 by_drv;	/* the build asked for is of its .drv */
	size_t		 acks_pending;	/* answers to adds not read yet */
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
int		 rundir_run_open(char *, size_t);
void		 rundir_run_close(int);
void		 rundir_runs(void (*)(void *, const char *, int), void *);
int		 rundir_pub_write(const char *, const void *, size_t);
ssize_t		 rundir_pub_read(const char *, char *, size_t, int64_t *);

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
extern unsigned long ssh_sessions;	/* remote programs started */
int		 ssh_init(void);
int		 ssh_open(const struct store_uri *, char *const *, struct conn *,
		    int);
#define CONN_QUIET	0x1	/* a conversation's failure is not said */
#define CONN_DAEMON	0x2	/* store_open: the local nix-daemon will do */
#define CONN_WARM	0x4	/* job_open: a warm session from the broker */
int		 ssh_open_store(const struct store_uri *, struct conn *, int);
int		 ssh_master_up(const struct store_uri *);
int		 ssh_master_file(const struct store_uri *, const char *, char *,
		    size_t, char *, size_t);
int		 ssh_start_store(const struct store_uri *, struct conn *, int);
int		 ssh_wait_master(const struct store_uri *, struct conn *);
int		 ssh_fact_get(const struct store_uri *, const char *, char *,
		    size_t);
void		 ssh_fact_put(const struct store_uri *, const char *,
		    const char *);
int		 ssh_close(struct conn *);
void		 ssh_kill(struct conn *);
void		 ssh_link_note(const struct conn *, uint64_t, int64_t);
long long	 ssh_link_kbit(const struct store_uri *);
long long	 ssh_link_rate(const struct store_uri *, int *);
int		 ssh_adopt(const struct store_uri *, struct conn *, const int *,
		    const char *, int);
void		 ssh_state(const struct conn *, char *, size_t);
#define LINK_RATE_GUESS	100000	/* kbit/s of a link not measured yet */

/* wire.c: framed reads and writes on a struct conn */
extern uint64_t	 wire_round_trips;	/* with builders, by this process */
#define WIRE_STRING_MAX		(64u * 1024 * 1024)	/* any string */
#define REALISATION_MAX		(64u * 1024)	/* a realisation's JSON */
#define WIRE_PATH_MAX		4096	/* a store path */
#define WIRE_LIST_MAX		(1u << 20)	/* items in a list */
#define WIRE_GROW		65536	/* a string's first buffer */
#define WIRE_ITEM_COST		64	/* charged per string of a reply, besides
					   its bytes: malloc's header and
					   rounding, the list's pointer */
void		 wire_init(struct conn *, int, int, int, const char *);
void		 wire_echo(struct conn *, int, int, const char *);
void		 wire_echo_end(struct conn *);
void		 wire_lifeline(int);
void		 wire_discard(struct conn *);
int		 wire_write(struct conn *, const void *, size_t);
int		 wire_write_u64(struct conn *, uint64_t);
int		 wire_write_string(struct conn *, const void *, size_t);
int		 wire_write_str(struct conn *, const char *);
int		 wire_flush(struct conn *);
int		 wire_frames_begin(struct conn *);
int		 wire_frames_end(struct conn *);
void		 wire_log(struct conn *, const char *, size_t);
int		 wire_read(struct conn *, void *, size_t);
int		 wire_read_u64(struct conn *, uint64_t *);
int		 wire_read_string(struct conn *, size_t, char **, size_t *);
int		 wire_peek(struct conn *, size_t, int);
void		 wire_drain_stderr(struct conn *);
const char	*wire_last_message(const struct conn *, char *, size_t);
void		 wire_settle_stderr(struct conn *);
ssize_t		 wire_read_all(struct conn *, char *, size_t);
void		 wire_fail(struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 wire_error(struct conn *, enum fail, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 wire_reply_begin(struct conn *, uint64_t);
void		 wire_reply_end(struct conn *);
int		 wire_charge(struct conn *, uint64_t);

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
	int		 keep_failed;		/* from minor 7 */
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
	struct strlist	 built;	/* pairs: output name, path (the builder's) */
};
int		 build_output_add(struct build_result *, const char *,
		    const char *, char *, size_t);
void		 build_result_free(struct build_result *);
int		 serve_build_send(struct conn *, const char *,
		    const struct drv *, const struct strlist *,
		    const struct build_options *);
int		 serve_build_read(struct conn *, const char *,
		    const struct build_options *, struct build_result *);
int		 serve_handshake(struct conn *);
int		 serve_infos_ask(struct conn *, const struct strlist *);
int		 serve_infos_read(struct conn *, const struct strlist *,
		    struct path_info **, size_t *);
void		 serve_path_infos_free(struct path_info *, size_t);
int		 serve_add_nar(struct conn *, const struct path_info *,
		    int (*)(void *, struct conn *), void *);
int		 serve_add_nar_acks(struct conn *, size_t);
int		 serve_query_closure(struct conn *, const struct strlist *, int,
		    struct strlist *);
int		 serve_dump_request(struct conn *, const char *);
int		 serve_dump_read(struct conn *, const char *, struct nar_sink *);
int		 serve_query_valid_paths(struct conn *, const struct strlist *,
		    int, int, struct strlist *);

/* daemon.c: the client side of `nix-daemon --stdio`, for ssh-ng:// */
#define DAEMON_MAGIC_1		0x6e697863ULL
#define DAEMON_MAGIC_2		0x6478696fULL
#define DAEMON_VERSION		0x126	/* what we speak: 1.38 */
#define DAEMON_VERSION_MIN	0x122	/* the oldest we accept: 1.34, Nix 2.8 */
#define DAEMON_TRUST_UNKNOWN	0	/* the daemon did not say (before 1.35) */
#define DAEMON_TRUST_YES	1
#define DAEMON_TRUST_NOT	2
#define DAEMON_REPLY_MAX	SERVE_REPLY_MAX	/* what one reply may cost */
#define DAEMON_TEXT_MAX		(16u * 1024 * 1024) /* a message, a log line */
#define DAEMON_ERROR_MAX	4096	/* the daemon's error, as we keep it */
#define DAEMON_NAME_MAX		256	/* a feature, an error's type */
#define DAEMON_FEATURES_MAX	64	/* features of a handshake */
#define DAEMON_FIELDS_MAX	64	/* fields of an activity or result */
#define DAEMON_TRACES_MAX	1024	/* traces of an error */
#define DAEMON_MINOR(v)		((v) & 0xff)
enum daemon_op {
	OP_ADD_TEMP_ROOT = 11,
	OP_SET_OPTIONS = 19,
	OP_QUERY_PATH_INFO = 26,
	OP_QUERY_VALID_PATHS = 31,
	OP_BUILD_DERIVATION = 36,
	OP_NAR_FROM_PATH = 38,
	OP_ADD_TO_STORE_NAR = 39,
	OP_QUERY_DERIVATION_OUTPUT_MAP = 41,
	OP_REGISTER_DRV_OUTPUT = 42,
	OP_ADD_MULTIPLE_TO_STORE = 44,
	OP_BUILD_PATHS_WITH_RESULTS = 46
};
/* the daemon's error, as it said it (STDERR_ERROR) */
struct daemon_err {
	char	 msg[DAEMON_ERROR_MAX];
};
int		 daemon_handshake(struct conn *);
int		 daemon_messages(struct conn *, struct daemon_err *);
int		 daemon_reply(struct conn *, const char *);
void		 daemon_refused(struct conn *, const struct daemon_err *,
		    const char *);
int		 daemon_send_failed(struct conn *, const char *);
int		 daemon_register_realisation(struct conn *, const char *);
extern const struct proto daemon_proto;
/* dbuild.c: building over the daemon protocol */
int		 daemon_drv_first(struct conn *, const struct drv *);
int		 daemon_build_send(struct conn *, const char *,
		    const struct drv *, const struct strlist *,
		    const struct build_options *);
int		 daemon_build_read(struct conn *, const char *,
		    const struct build_options *, struct build_result *);

/* proto.c: one store interface, serve.c's and daemon.c's behind it */
struct proto {
	const char	*name;
	int		(*valid)(struct conn *, const struct strlist *, int, int,
			    struct strlist *);
	int		(*infos_ask)(struct conn *, const struct strlist *);
	int		(*infos_read)(struct conn *, const struct strlist *,
			    struct path_info **, size_t *);
	int		(*closure)(struct conn *, const struct strlist *, int,
			    struct strlist *);
	int		(*add_nar)(struct conn *, const struct path_info *,
			    int (*)(void *, struct conn *), void *);
	int		(*add_begin)(struct conn *, size_t);	/* or NULL */
	int		(*add_end)(struct conn *, size_t);	/* or NULL */
	int		(*add_acks)(struct conn *, size_t);
	int		(*nar_ask)(struct conn *, const char *);
	int		(*nar_read)(struct conn *, const char *, struct nar_sink *);
	int		(*build_send)(struct conn *, const char *,
			    const struct drv *, const struct strlist *,
			    const struct build_options *);
	int		(*build_read)(struct conn *, const char *,
			    const struct build_options *, struct build_result *);
	int		(*drv_first)(struct conn *, const struct drv *);
};
extern const struct proto serve_proto;
int		 proto_greeting(struct conn *, uint64_t, const char *);
int		 proto_handshake(struct conn *, int);
int		 proto_add_begin(struct conn *, size_t);
int		 proto_drv_first(struct conn *, const struct drv *);
int		 proto_build_wait(const struct conn *,
		    const struct build_options *);
int		 proto_valid(struct conn *, const struct strlist *, int, int,
		    struct strlist *);
int		 proto_infos(struct conn *, const struct strlist *,
		    struct path_info **, size_t *);
int		 proto_infos_ask(struct conn *, const struct strlist *);
int		 proto_infos_read(struct conn *, const struct strlist *,
		    struct path_info **, size_t *);
int		 proto_closure(struct conn *, const struct strlist *, int,
		    struct strlist *);
int		 proto_add_nar(struct conn *, const struct path_info *,
		    int (*)(void *, struct conn *), void *);
int		 proto_add_done(struct conn *, size_t);
int		 proto_add_later(struct conn *, size_t);
int		 proto_settle(struct conn *);
int		 proto_nar_copy(struct conn *, const char *, struct nar_sink *);
int		 proto_nar_ask(struct conn *, const char *);
int		 proto_nar_read(struct conn *, const char *, struct nar_sink *);
int		 proto_build(struct conn *, const char *, const struct drv *,
		    const struct strlist *, const struct build_options *,
		    struct build_result *);
int		 proto_build_send(struct conn *, const char *,
		    const struct drv *, const struct strlist *,
		    const struct build_options *);
int		 proto_build_read(struct conn *, const char *,
		    const struct build_options *, struct build_result *);

/* activity.c: notes on what runs where, for `status` */
#define ACT_NOTE_LEN	512
struct act_slot {
	pid_t		 pid;
	int64_t		 since;		/* ms: the job began */
	int64_t		 state_since;	/* ms: this state began */
	const char	*state;		/* connecting, idle, copying, ... */
	char		 drv[PATH_MAX_LEN];	/* "" for none */
	char		 uri[URI_MAX];
};
struct act_run {
	pid_t		 pid;
	int64_t		 since;		/* ms */
	size_t		 built, running, queued, total;
	uint64_t	 bytes;		/* copied, both ways */
	int64_t		 slowest_since;	/* ms, 0 when nothing runs */
	char		 slowest[DRV_NAME_MAX]; /* its name, "" for none */
};
void		 act_slot(int, const char *, const char *, const char *,
		    int64_t);
void		 act_run(int, const struct act_run *);
ssize_t		 act_read(int, char *);
int		 act_slot_parse(char *, size_t, int64_t, struct act_slot *,
		    const char **);
int		 act_run_parse(char *, size_t, int64_t, struct act_run *,
		    const char **);

/* sched.c: picking a builder, slot locks */
struct slot {
	size_t		 machine;	/* index in the machines */
	long		 index;		/* which of its slots */
	int		 fd;		/* the locked slot file, -1 when free */
};
struct sched {
	const struct machines *ms;
	int		**mine;		/* [machine][slot]: held by this process */
	int		 waitfd;	/* our place in a queue, -1 if none */
	char		 waitname[64];	/* its name in the slots directory */
	long		 slot_timeout;	/* seconds to wait for a slot */
};
/* what a builder is for one derivation, now (sched_judge) */
enum verdict { V_FREE, V_FULL, V_NOFIT, V_DOWN, V_SKIP };
#define SCHED_WHY_MAX	512	/* a reason: a health record's fits */
struct judgement {
	enum verdict	 v;
	int		 load;		/* slots in use */
	long		 down_for;	/* V_DOWN: seconds still to skip it */
	long		 failures;	/* in a row */
	long long	 until;		/* V_DOWN: when it comes back */
	double		 score;		/* (load + 1) / speed: lower wins */
	int		 waiters;	/* V_FULL: processes queued for it */
	double		 qscore;	/* V_FULL: (load + waiters + 1) / speed */
	char		 why[SCHED_WHY_MAX]; /* V_NOFIT: why; V_DOWN: error */
};
/* the builders' verdicts for one derivation, and the pick (sched_plan) */
enum plan_how {
	PLAN_NONE,	/* no builder fits, or all that fit are skipped */
	PLAN_NOW,	/* a free slot */
	PLAN_QUEUE,	/* all busy: the shortest queue */
	PLAN_RETRY	/* all that fit are down: tried once more by build */
};
struct plan {
	struct judgement *j;		/* [machine] */
	size_t		 n;
	int		 fits;		/* some builder fits at all */
	enum plan_how	 how;
	long		 pick;		/* the machine, -1 for none */
};
#define SCHED_TRY_DOWN	0x1	/* sched_pick: down builders are tried */
#define SCHED_LOCAL_FIRST 0x2	/* the local machine before the builders */
/* a slot or a waiter, as `status` sees it (sched_seen) */
struct slot_seen {
	char		 key[17];	/* rundir_key of the builder */
	long		 index;		/* the slot, -1 for a waiter */
	pid_t		 pid;		/* who holds it, or waits */
	int		 noted;		/* note is what the holder wrote */
	struct act_slot	 note;
};
void		 sched_init(struct sched *, const struct machines *);
void		 sched_free(struct sched *);
int		 sched_fits(const struct machine *, const char *,
		    const struct strlist *, char *, size_t);
int		 sched_load(const struct machine *, const int *);
void		 sched_judge(struct sched *, size_t, const char *,
		    const struct strlist *, const char *, struct judgement *);
void		 sched_say(const struct machine *, const struct judgement *,
		    char *, size_t);
int		 sched_plan(struct sched *, const char *, const struct strlist *,
		    const char *, int, struct plan *);
void		 sched_plan_free(struct plan *);
void		 sched_plan_line(const struct sched *, const struct plan *,
		    size_t, char *, size_t);
int		 sched_pick(struct sched *, const char *, const struct strlist *,
		    const char *, int, struct slot *, char *, size_t);
int		 sched_waiters(const struct machine *, pid_t *, int);
int		 sched_seen(struct slot_seen **, size_t *);
void		 sched_release(struct sched *, struct slot *);
int		 sched_queue(struct sched *, const char *,
		    const struct strlist *, const char *, struct slot *);
int		 sched_wait(struct sched *, struct slot *, long);
int		 sched_adopt(const struct slot *);

/* transfer.c: closures between the local store and a builder */
struct transfer_stats {
	uint64_t	 bytes;
	size_t		 paths;
};
int		 transfer_to(struct conn *, struct conn *, const struct strlist *, int,
		    struct transfer_stats *);
int		 transfer_from(struct conn *, struct conn *, const struct strlist *,
		    struct transfer_stats *);
/* what a fetch makes of a builder's record of a path (job.c) */
struct transfer_vet {
	int		(*fn)(void *, struct conn *, struct path_info *);
	void		*arg;
};
int		 transfer_fetch(struct conn *, struct conn *,
		    struct path_info *, size_t, const struct transfer_vet *,
		    int, struct transfer_stats *);

/* copy.c */
int		 cmd_copy(int, char **);

/* health.c: builders that failed, remembered across processes */
#define HEALTH_CAP		3600	/* the longest backoff, seconds */
#define HEALTH_FAILURES_MAX	1000	/* failures in a row we count */
#define HEALTH_REASON_MAX	448	/* a record's reason, cut between words */
int		 health_parse(const char *, size_t, long long, long *,
		    long long *, char *, size_t, const char **);
long		 health_wait(long, long);
int		 health_get(const struct machine *, long *, long long *, char *,
		    size_t);
long		 health_backoff(const struct machine *);
void		 health_failed(const struct machine *, const struct failure *,
		    int64_t);
void		 health_ok(const struct machine *);

/* enable.c */
int		 cmd_enable(int, char **);

/* store.c: the local store */
int		 store_open(struct conn *, int);
int		 store_spawn(struct conn *, int);
int		 store_daemon(struct conn *, int);
int		 store_key(char [17]);
void		 store_state(const struct conn *, char *, size_t);
int		 store_adopt(struct conn *, const int *, const char *, int);
int		 store_use(const char *);
int		 store_args(struct args *);
const char	*store_file(const char *, char *, size_t);
int		 store_close(struct conn *);
int		 store_realisations(const struct strlist *);
int		 store_add_root(const char *, const char *);
#define STORE_UNPACK_DEPTH	(NAR_DEPTH_MAX + 2)
struct store_unpack {			/* a NAR unpacked into dir/name */
	const char	*dir;
	const char	*name;
	struct nar_tree	 tree;		/* for the sink of nar_copy */
	int		 dirs[STORE_UNPACK_DEPTH]; /* [0]: dir; open ones */
	size_t		 depth;
	int		 file;		/* being written, -1 */
};
int		 store_unpack_begin(struct store_unpack *, const char *,
		    const char *);
int		 store_unpack_end(struct store_unpack *, int);
int		 store_register(const char *, size_t);
int		 store_remove(const char *, const char *);

/* info.c */
int		 cmd_store_info(int, char **);

/* check.c */
int		 cmd_check(int, char **);
int		 check_parse_load(const char *, double *);
int		 check_parse_df(const char *, long long *);
int		 check_parse_uname(const char *, char *, size_t);

/* graph.c: the derivations of one build, their edges and states */
#define GRAPH_NODES_MAX		(1u << 20)
enum node_state {
	N_SKIP,		/* outputs valid locally, or not needed */
	N_WAIT,		/* waiting for dependencies */
	N_READY,
	N_RUNNING,
	N_BUILT,	/* outputs exist on builder node->where */
	N_FETCHING,
	N_LOCAL,	/* outputs valid locally */
	N_FAILED
};
struct node {
	char		*path;		/* the .drv */
	char		 name[256];
	struct drv	 d;
	struct strlist	 features;
	size_t		*deps;		/* nodes of d.inputs, in order */
	size_t		 ndeps;
	size_t		*users;		/* nodes that depend on this one */
	size_t		 nusers;
	size_t		 nusers_alloc;
	int		 root;		/* named by the user: comes home */
	int		 valid;		/* all outputs valid locally */
	int		 needed;
	enum node_state	 state;
	size_t		 where;		/* the builder that has the outputs */
	uint64_t	 size;		/* their NAR bytes, as it said; 0: unknown */
	int		 attempts;	/* builders lost while it was there */
	int		 waiting;	/* unfinished dependencies */
};
struct graph {
	struct node	*nodes;
	size_t		 nnodes;
	size_t		 total;		/* needed: to build */
};
long		 graph_add(struct graph *, const char *);
int		 graph_load(struct graph *);
void		 graph_free(struct graph *);
int		 graph_inputs(const struct graph *, const struct node *,
		    struct strlist *);
int		 graph_outputs(const struct node *, struct strlist *);
void		 graph_set_valid(struct graph *, const struct strlist *);
void		 graph_mark_needed(struct graph *);
int		 graph_same_kind(const struct node *, const struct node *);
void		 graph_fail(struct graph *, size_t);
void		 graph_finished(struct graph *, size_t);
int		 graph_dep_failed(const struct graph *, const struct node *);
void		 graph_recount(struct graph *);
int		 graph_still_wanted(const struct graph *, size_t);
int		 graph_unfinished(const struct graph *);

/* lease.c: slots held on the builder, shared by its clients */
#define SCHED_SLOT_TIMEOUT	43200	/* s a queued process waits */
struct machine;
#define LEASE_STALE		30	/* s: a slot not beaten since is free */
#define LEASE_STALE_STR		"30"
#define LEASE_BEAT_S		10	/* s between beats */
#define LEASE_FACT_TTL		10	/* s: others' slots, as last seen */
struct lease {
	struct conn	 c;		/* to the builder's broker here */
	int		 up;		/* open, and the builder takes leases */
	int		 asked;		/* a "take" sent, its answer not read */
	long		 slot;		/* held, or -1 */
};
void		 lease_init(struct lease *);
int		 lease_open(struct lease *, const struct machine *, int);
int		 lease_take(struct lease *, const struct machine *);
void		 lease_ask(struct lease *, const struct machine *);
void		 lease_drop(struct lease *);
int		 lease_session_get(struct lease *, const struct machine *,
		    struct conn *, int);
int		 lease_session_put(struct lease *, const struct machine *,
		    struct conn *);
int		 lease_local_get(struct lease *, struct conn *, int);
int		 lease_local_put(struct lease *, struct conn *);
void		 lease_close(struct lease *);
long		 lease_others(const struct machine *);
void		 lease_refresh(const struct machine *);
int		 lease_list(const struct machine *, long *);

/* job.c: one build on one builder, for build's workers and the hook */
/* what builds cost: round trips with builders, processes started */
struct cost {
	uint64_t	 rtt;		/* round trips with builders */
	uint64_t	 here;		/* programs started here (ssh, nix-store) */
	uint64_t	 there;		/* programs started on builders */
};
void		 cost_now(struct cost *);
void		 cost_add(struct cost *, const struct cost *,
		    const struct cost *);
void		 cost_say(const char *, const struct cost *, size_t);
enum job_step { JOB_INPUTS, JOB_BUILD, JOB_OUTPUTS };
struct job_origin {			/* an output the builder was asked for */
	const char		*path;
	const char		*drvpath;	/* its derivation */
	const struct drv_output	*out;
};
struct job {
	const char	*host;		/* the builder, for messages */
	struct conn	*remote;	/* the caller's session with it */
	struct conn	 local;		/* the local store, once needed */
	int		 have_local;
	int		 local_warm;	/* local came from the lease broker */
	int		 substitutes;	/* builders-use-substitutes */
	int		 unlocked;	/* outputs home without path locks */
	struct build_options opts;
	int		 log_fd;	/* where the build log goes, -1: stderr */
	const char	*log_prefix;	/* before each line of it, or NULL */
	void		(*step)(void *, enum job_step, int); /* begins, ends */
	void		*arg;
	uint64_t	 bytes;		/* copied, both ways */
	uint64_t	 out_size;	/* the last build's outputs' NAR bytes,
					   as the builder said; 0: not said */
	int64_t		 ms[3];		/* per step, of the last job_run */
	long		 log_tail;	/* >0: no log, its last lines if it fails */
	int		 note_fd;	/* the slot's file, for notes, or -1 */
	const char	*drv;		/* the job's, for notes */
	int64_t		 since;		/* clock_wall: the job began */
	struct job_origin *origins;	/* what may come home (job_allow) */
	size_t		 norigins, origins_alloc;
	int		 origins_sorted;
	int		 quiet;		/* the local store's failures not said */
	const struct machine *m;	/* the builder (job_open), or NULL */
	int64_t		 began;		/* clock_wall: its session began */
	struct lease	 lease;		/* its slot, held on the builder */
};
#define JOB_SIZE_HINT_MAX	(1ULL << 40) /* an output's size, as a hint */
struct job_spec {
	const char		*name;		/* the derivation, for messages */
	const char		*drvpath;
	const struct drv	*drv;
	const struct strlist	*inputs;	/* BuildDerivation's inputs */
	const struct strlist	*send;		/* paths the builder needs */
	int			 closed;	/* send is a whole closure */
	const struct strlist	*fetch;		/* outputs to bring home */
	const struct strlist	*sized;		/* or, staying there, whose
						   sizes to ask with the build */
};
struct conf;
void		 job_init(struct job *, const char *, struct conn *);
void		 job_options(struct build_options *, const struct conf *);
int		 job_open(struct job *, const struct machine *, int);
int		 job_lost(struct job *);
int		 job_session_end(struct job *);
void		 job_note(struct job *, const char *);
int		 job_run(struct job *, const struct job_spec *,
		    struct build_result *);
int		 job_allow(struct job *, const char *, const struct drv *);
void		 job_free(struct job *);
int		 job_fetch(struct job *, const struct strlist *);
int		 job_fetch_built(struct job *, const char *, const struct drv *,
		    const struct strlist *, const struct build_result *);
int		 job_close(struct job *, int);
int		 job_hold(struct job *, const struct strlist *);
int		 job_ok(int);
unsigned	 job_fail_bits(int);
int		 job_hook_exit(int);

/* worker.c: build's worker processes, and both ends of their pipes */
#define WORKERS_MAX		256
#define WORKER_LINE_MAX		4096
#define WORKER_FETCH_MAX	256	/* nodes fetched by one job */
struct worker {
	pid_t		 pid;
	int		 cmd;		/* we write jobs here */
	int		 res;		/* and read answers here */
	struct slot	 slot;
	int		 busy;
	size_t		 node;
	int		 fetch;		/* the job is a fetch */
	int		 probe;		/* the job asks what it holds */
	size_t		 fnodes[WORKER_FETCH_MAX]; /* of that fetch */
	size_t		 nfnodes;
	int64_t		 started;
	int64_t		 born;		/* clock_wall: it began to connect */
	char		 buf[WORKER_LINE_MAX];
	size_t		 len;
	size_t		 taken;		/* of buf: the line worker_read gave */
	int		 up;		/* its session with the builder is */
};
struct workers {
	struct worker		*v;		/* WORKERS_MAX entries */
	size_t			 n;		/* used so far */
	const struct graph	*g;
	const struct machines	*ms;
	struct sched		*sched;
	int			 substitutes;	/* for each job */
	struct build_options	 opts;
	long			 log_tail;	/* see struct job */
	const struct strlist	*held;		/* Q asks for these (hold.c) */
};
struct answer {
	size_t		 node;
	struct cost	 cost;		/* of the job, its session's start too */
	int		 status;	/* BuildResult status, -1: job failed */
	struct failure	 f;		/* then why */
	uint64_t	 bytes;		/* copied */
	uint64_t	 out_size;	/* its outputs' NAR bytes, 0: unknown */
};
struct worker	*worker_start(struct workers *, struct slot *);
int		 worker_build(struct worker *, size_t, int);
int		 worker_fetch(struct worker *, const size_t *, size_t);
int		 worker_probe(struct worker *);
int		 worker_read(struct worker *, char **);
int		 worker_pending(const struct worker *);
void		 worker_answer(const struct workers *, struct worker *,
		    const char *, struct answer *);
void		 worker_retire(struct workers *, struct worker *);
void		 worker_lost(struct workers *, struct worker *);
void		 worker_stop_all(struct workers *, int);

/* hold.c: what the builders hold already of the inputs here */
#define HOLD_PATHS_MAX		65536	/* of the inputs' closure, asked */
#define HOLD_SECS		0.5	/* s: inputs here that take longer to
					   send to a builder are placed by
					   where they are held already */
struct hold {
	struct strlist	 paths;		/* the inputs' closure here, sorted */
	uint64_t	*size;		/* [path]: NAR bytes, as a hint */
	size_t		*refs;		/* references, as indices */
	size_t		*first;		/* [path]: its first in refs */
	uint64_t	 total;		/* bytes of them all */
	size_t		 nmach;
	unsigned char	**have;		/* [machine]: bitmap of paths held */
	int		*said;		/* [machine]: it answered */
	uint32_t	*mark;		/* [path]: for walking the closure */
	uint32_t	 gen;
	size_t		*stack;
	uint64_t	*cache;		/* [node][1 + machine]: hold_lacks */
};
int		 hold_init(struct hold *, size_t);
void		 hold_free(struct hold *);
int		 hold_load(struct hold *, struct conn *, const struct graph *);
int		 hold_index(struct hold *, struct path_info *, size_t);
int		 hold_write(int, const struct strlist *, const struct strlist *);
int		 hold_line(struct hold *, size_t, const char *);
void		 hold_said(struct hold *, size_t);
int		 hold_lacks(struct hold *, const struct graph *,
		    const struct node *, uint64_t *, uint64_t *);

/* dispatch.c: build's run, what goes where, builders lost */
#define DISPATCH_ATTEMPTS	3	/* builders one derivation may lose */
struct loss {				/* a builder given up, and since */
	enum fail	 why;		/* the first failure */
	char		 first[512];	/* and its message */
	int		 said;		/* the user has been told */
	size_t		 moved;		/* derivations another builder can take */
	char		 names[256];	/* the first few moved */
};
/* what happens in a run, for its caller to show (dispatch's event) */
enum dispatch_ev {
	DISPATCH_BUILDING,	/* node on m */
	DISPATCH_BUILT,		/* node on m, in ms */
	DISPATCH_FAILED,	/* node on m: its build failed */
	DISPATCH_FETCHED,	/* count outputs from m, in ms */
	DISPATCH_RETRYING,	/* m, down after failures, tried once more */
	DISPATCH_MOVED,		/* m went (why), count derivations moved */
	DISPATCH_TICK,		/* a second or an answer went by */
	DISPATCH_END		/* the run is over */
};
struct dispatch_event {
	enum dispatch_ev	 ev;
	const struct node	*node;
	const struct machine	*m;
	int64_t			 ms;
	size_t			 count;
	enum fail		 why;		/* DISPATCH_MOVED */
	const char		*names;		/* the first few moved */
};
struct dispatch {
	struct graph		*g;
	const struct machines	*ms;
	struct sched		 sched;
	struct workers		 ws;
	long			 jobs;		/* workers at most (-j) */
	int			 keep_going;
	void			(*event)(void *, struct dispatch *,
				    const struct dispatch_event *);
	void			*event_arg;
	int			 slot_wait;	/* a builder fit, had no free slot */
	char			*down;		/* [machine]: given up */
	struct loss		*loss;		/* [machine] */
	unsigned		 mask;		/* EXIT_BIT_* of failed builds */
	int			 misc;		/* a failure without a bit */
	size_t			 done, running;
	uint64_t		 copied;
	struct cost		 cost;		/* of the jobs, as answered */
	int			 try_down;	/* all down: try them once */
	char			*tried;		/* [machine]: so tried */
	int			 note_fd;	/* the run's note, or -1 */
	int64_t			 since;		/* clock_wall: the run began */
	struct hold		*hold;		/* the inputs here, or NULL */
	char			*probing;	/* [machine]: asked what it holds */
	int64_t			 probe_until;	/* clock_ms: answers waited for;
						   0: none asked, too light */
};
int		 dispatch_init(struct dispatch *, struct graph *,
		    const struct machines *, long);
void		 dispatch_tally(struct dispatch *, struct act_run *,
		    const struct worker **);
void		 dispatch_free(struct dispatch *);
int		 dispatch_check_fits(const struct graph *,
		    const struct machines *);
int		 dispatch_run(struct dispatch *);
void		 dispatch_answer(struct dispatch *, struct worker *,
		    const char *);

/* installable.c: what build is asked for, in nix build's words */
enum inst_kind {
	INST_OLD,	/* nix-build's: FILE.nix or an expression */
	INST_DRV,	/* a store derivation */
	INST_PATH,	/* an output path, there already */
	INST_NIX	/* for the local Nix: a flake's, -f's, --expr's */
};
struct inst {
	enum inst_kind	 kind;
	char		*arg;		/* as given, without ^OUTPUTS */
	char		*drv;		/* its derivation, once known */
	char		*path;		/* INST_PATH */
	int		 all;		/* ^* */
	struct strlist	 outputs;	/* ^NAME,NAME or Nix's choice */
	long		 node;		/* in the graph, -1 if none */
};
struct insts {
	struct inst	*v;
	size_t		 n;
};
int		 inst_add(struct insts *, const char *, int);
void		 insts_free(struct insts *);
int		 inst_resolve(struct insts *, const struct args *, int);
int		 inst_check_outputs(struct insts *, const struct graph *);
int		 inst_check_paths(const struct insts *, struct conn *);
int		 inst_links(const struct insts *, const struct graph *,
		    const char *);
void		 inst_print(const struct insts *, const struct graph *, int,
		    int);

/* build.c */
int		 cmd_build(int, char **);
struct usage_opt;
int		 build_opt(const struct usage_opt *, struct args *);
int		 build_roots(struct graph *, const struct strlist *,
		    struct args *, char *, size_t, int *);

/* seen.c: what runs where, as the runtime directory shows it */
int		 seen_print(FILE *, int, const struct machines *);

/* pub.c: root's summary, for the other users */
#define PUB_DUE		0	/* pub_update: if a second has gone by */
#define PUB_NOW		1	/* now */
#define PUB_LAST	2	/* now, and wait: the process ends */
void		 pub_update(const struct machines *, int);
ssize_t		 pub_get(const char *, char **, int64_t *);
int		 pub_load(const struct machine *);

/* status.c */
int		 cmd_status(int, char **);

/* why.c */
int		 cmd_why(int, char **);

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
	char		*build_hook;	/* NULL: not set, Nix's own */
	char		*builders;	/* NULL: @$NIX_CONF_DIR/machines */
	char		 builders_src[CONF_SRC_MAX]; /* FILE:LINE, --builders... */
	int		 builders_use_substitutes;
	long		 max_jobs;	/* "auto" resolved to the core count */
	char		*system;	/* the local system, e.g. x86_64-linux */
	char		*store;		/* Nix's store setting, NULL if none */
	struct strlist	 extra_platforms;
	struct strlist	 system_features;
	long		 max_silent_time; /* seconds, 0 = none */
	long		 timeout;	/* seconds, 0 = none */
	uint64_t	 max_log_size;	/* bytes, 0 = none */
	int		 keep_failed;	/* the builder keeps what failed */
	long		 log_lines;	/* of a failed build; -1: Nix's */
	struct strlist	 cmdline;	/* name, value, source: replayed last */
	int		 loaded;	/* conf_load has run */
};
struct stat;
void		 conf_init(struct conf *);
int		 conf_load(struct conf *);
int		 conf_set(struct conf *, const char *, const char *,
		    const char *);
int		 conf_cmdline(struct conf *, const char *, const char *,
		    const char *);
void		 conf_free(struct conf *);
int		 conf_value(const struct conf *, const char *, char *, size_t);
long		 conf_log_lines(const struct conf *);
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
	char		*uri_nix;	/* as Nix 2.31+ writes it back, if not
					   that: for `machines`; else NULL */
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
	int		 local;		/* this machine (local.c), not a builder */
	char		*unusable_why;	/* why not, when !usable */
};
struct machines {
	struct machine	*v;
	size_t		 n;
	char		 rules[64];	/* the Nix whose rules read them */
};
int		 machines_parse(const char *, size_t, const char *,
		    const char *, struct machines *);
int		 machines_parse_file(const char *, int, const char *,
		    struct machines *);
void		 machines_free(struct machines *);
const char	*machines_rules(const char *);

/* local.c: the local machine as a builder of `build` */
#define LOCAL_URI	"local"
int		 local_machine_add(struct machines *, const struct conf *);
int		 local_sched_flags(const struct drv *);
int		 local_build(struct job *, const struct job_spec *,
		    struct build_result *);

/* builders.c: the machines command */
int		 cmd_machines(int, char **);
void		 builders_print(FILE *, const struct machines *, int);

/* ---- configuration (end) ---- */

/* common.c: the start-up of the commands with builders */
struct common {
	struct conf	 conf;
	struct machines	 ms;
	int		 json;		/* --json */
};
void		 common_init(struct common *);
int		 common_option(struct common *, const struct usage_opt *);
int		 common_load(struct common *);
int		 common_machines(struct conf *, struct machines *);
void		 common_free(struct common *);

#endif /* EXTERN_H */
