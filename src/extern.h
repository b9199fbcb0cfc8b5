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
	FAIL_TIMEOUT
};

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
void		 log_quiet(int);
char		*log_printable(const void *, size_t, char *, size_t);

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
int		 exit_for(enum fail);

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
	unsigned	 version;	/* serve protocol version in use */
	unsigned	 remote_version; /* what the remote said it speaks */
	uint64_t	 nread;		/* bytes read from stdout */
	char		 errtail[CONN_ERRTAIL];	/* last bytes of its stderr */
	size_t		 errlen;
	size_t		 errline;	/* start of the unfinished stderr line */
	unsigned char	 rbuf[CONN_BUFSZ];
	size_t		 rpos, rlen;
	unsigned char	 wbuf[CONN_BUFSZ];
	size_t		 wlen;
	void		(*diagnose)(struct conn *, const char *);
};

/* ssh.c */
struct ssh_config {
	const char	*program;	/* NIX_OFFLOAD_SSH, default "ssh" */
	char		 ctldir[512];	/* private, 0700, per user */
	long		 persist;	/* ControlPersist seconds */
	long		 connect_timeout; /* seconds */
	long		 alive_interval; /* ServerAliveInterval seconds */
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
void		 wire_init(struct conn *, int, int, int, const char *);
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

struct strlist {
	char	**v;
	size_t	  n;
	size_t	  nalloc;
};
int		 strlist_add(struct strlist *, const char *);
void		 strlist_free(struct strlist *);
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
int		 serve_handshake(struct conn *);
int		 serve_query_valid_paths(struct conn *, const struct strlist *,
		    int, int, struct strlist *);

/* info.c */
int		 cmd_store_info(int, char **);

#endif /* EXTERN_H */
