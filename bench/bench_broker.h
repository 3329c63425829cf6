/*
 * bench_broker — start and stop a real mosquitto for the benchmarks, with
 * or without the jetwire plugin, on a free 127.0.0.1 port; mint tokens for
 * it; read the broker process's CPU time and resident memory; and a small
 * synchronous libmosquitto client for setup work ($CONTROL pushes).
 *
 * No Check dependency: failures print a reason and return an error, or
 * (bb_die) stop every broker this process started and exit.
 *
 * Every broker started is registered; bb_stop() stops it by PID, and an
 * atexit handler plus SIGINT/SIGTERM handlers stop any still running, so an
 * interrupted benchmark leaves no broker behind.
 *
 * Paths: JW_MOSQUITTO, JW_PLUGIN, JW_SOURCE_DIR in the environment override
 * the values CMake compiled in.  JW_BENCH_BROKER_CONF (newline-separated
 * mosquitto.conf lines) is appended to every broker's configuration, e.g.
 * JW_BENCH_BROKER_CONF='set_tcp_nodelay true'.  JW_BENCH_KEEP=1 keeps the
 * brokers' temp directories (config, logs).
 */
#ifndef JW_BENCH_BROKER_H
#define JW_BENCH_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum bb_kind {
	BB_PLAIN,    /* no plugin, allow_anonymous true */
	BB_PLUGIN,   /* jetwire plugin, default policy unless acl_file is given */
};

enum bb_alg { BB_HS256, BB_RS256 };

struct bb_broker {
	pid_t pid;
	int port;
	enum bb_kind kind;
	enum bb_alg alg;
	char dir[128];
	char conf_path[192];
	char log_path[192];
	char stderr_path[192];
	char acl_path[192];
	char secret_path[192];
	char priv_path[192];      /* RS256: private key (for minting) */
	char pub_path[192];       /* RS256: public key (given to the plugin) */
	char secret[96];          /* HS256 secret, hex */
	unsigned char *privkey;   /* RS256 PEM private key, owned */
	size_t privkey_len;
};

struct bb_opts {
	enum bb_kind kind;
	enum bb_alg alg;           /* BB_PLUGIN only */
	const char *acl_file;      /* NULL: <source>/acl/default.acl */
	const char *extra_conf;    /* appended to mosquitto.conf (may be NULL) */
};

/* Start a broker and wait until it accepts connections.  Returns 0, or -1
 * with the reason on stderr (the broker, if any, is stopped). */
int bb_start(struct bb_broker *b, const struct bb_opts *o);
/* SIGTERM by PID, wait (SIGKILL after 10 s); removes the temp directory
 * unless JW_BENCH_KEEP=1.  Returns the exit status. */
int bb_stop(struct bb_broker *b);

/* Print a message, stop every registered broker, exit(2). */
void bb_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Token for the broker's algorithm and key: {"sub","userType","iat","exp"}.
 * Caller frees. */
char *bb_token(const struct bb_broker *b, const char *sub, const char *role, long ttl_s);

/* Resident set size of a process, in bytes (/proc/<pid>/statm); -1 on error.
 * pid 0: this process. */
long long bb_rss_bytes(pid_t pid);
/* User + system CPU seconds consumed by a process (/proc/<pid>/stat). */
double bb_cpu_seconds(pid_t pid);
/* The same split into user and system time; returns -1 on error. */
int bb_cpu_split(pid_t pid, double *user, double *sys);
/* Peak RSS (VmHWM) in bytes; -1 on error. */
long long bb_peak_rss_bytes(pid_t pid);

/* /proc/loadavg's line (without the newline), "?" if unreadable: printed
 * with every benchmark's figures, which move with other load. */
void bb_loadavg(char *buf, size_t len);

/* CLOCK_MONOTONIC seconds. */
double bb_now(void);
void bb_sleep_ms(int ms);
int bb_free_port(void);

const char *bb_mosquitto_path(void);
const char *bb_plugin_path(void);
const char *bb_source_dir(void);

/* Median and a percentile (0..100) of n doubles; sorts the array. */
double bb_median(double *v, size_t n);
double bb_percentile_sorted(const double *v, size_t n, double pct);

/* ---- a synchronous setup client (libmosquitto, threaded loop, MQTT 5) ---- */
struct bb_client;

/* Connect with username "jwt" and the token as password (password NULL:
 * anonymous).  Returns NULL with a reason on stderr if refused or no CONNACK
 * within 10 s. */
struct bb_client *bb_client_connect(int port, const char *client_id, const char *password);
void bb_client_close(struct bb_client *c);
/* Publish QoS 1 and wait for the PUBACK; returns its reason code (0 or 0x10
 * accepted), -1 on timeout. */
int bb_client_publish(struct bb_client *c, const char *topic, const void *payload, size_t len);
/* Wait for the next message on `topic`; returns its payload (caller frees)
 * or NULL on timeout. */
char *bb_client_wait(struct bb_client *c, const char *topic, int timeout_ms);
/* Publish a command document to $CONTROL/jetwire/v1 and wait for the
 * response; caller frees; NULL on failure. */
char *bb_control(struct bb_client *c, const char *json, int timeout_ms);
/* countRelations; -1 on failure. */
long bb_control_count(struct bb_client *c);

/* A growable string for building command documents. */
struct bb_buf {
	char *p;
	size_t len, cap;
};
void bb_buf_printf(struct bb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bb_buf_reset(struct bb_buf *b);
void bb_buf_free(struct bb_buf *b);

#endif
