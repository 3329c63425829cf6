/*
 * The real bridge (jetwire-bridge) as a child process for integration tests
 * and benchmarks: a private temp dir with its config file and its log
 * (stderr), started and stopped by PID.  No Check dependency: functions
 * return 0 / -1 with a one-line reason in errbuf, and the caller asserts.
 *
 * Binary: $JW_BRIDGE (CTest sets it).  The child dies with the process
 * that started it (PR_SET_PDEATHSIG).  JW_KEEP_TEST_DIRS=1 keeps the dir.
 */
#ifndef JW_BRIDGE_HARNESS_H
#define JW_BRIDGE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct jw_bridge {
	pid_t pid;             /* 0 when not running */
	char dir[256];
	char conf_path[320];
	char log_path[320];    /* the bridge's stderr, appended across restarts */
	bool valgrind;
	int starts;            /* how many times it was started (restarts included) */
};

struct jw_bridge_opts {
	const char *database;      /* libpq conninfo (required) */
	int mqtt_port;             /* broker port on 127.0.0.1 (required) */
	const char *secret_path;   /* jwt_secret_file: the broker's HMAC secret file */
	const char *extra_conf;    /* more "key value" lines for the config file */
	const char *const *env;    /* extra "NAME=VALUE" for the child, NULL-terminated; may be NULL */
	bool no_wait;              /* do not wait for "resync complete" */
	int wait_ms;               /* how long to wait for it (default 30000) */
	bool valgrind;             /* under valgrind (also if JW_VALGRIND=1) */
};

/* Write the config (stats_interval 1 unless extra_conf sets it) and start.
 * Unless no_wait, waits until the log says "resync complete" (or the child
 * exits: -1 with its exit status and the log's last line in errbuf). */
int jw_bridge_start(struct jw_bridge *br, const struct jw_bridge_opts *o, char *errbuf, size_t errlen);

/* Start again with the same config and dir (after stop or kill). */
int jw_bridge_restart(struct jw_bridge *br, bool wait_resync, char *errbuf, size_t errlen);

/* SIGTERM, wait up to 30 s (then SIGKILL); *exit_code = the exit status
 * (128+signal if killed).  Keeps the dir (see jw_bridge_cleanup). */
int jw_bridge_stop(struct jw_bridge *br, int *exit_code, char *errbuf, size_t errlen);

/* SIGKILL now and reap: a crash. */
int jw_bridge_kill(struct jw_bridge *br);

/* Is the bridge still running?  If it exited, reaps it, sets pid to 0
 * and *exit_code (may be NULL) to its exit status (128+signal). */
bool jw_bridge_alive(struct jw_bridge *br, int *exit_code);

/* Remove the dir (unless JW_KEEP_TEST_DIRS=1); stops the child first. */
void jw_bridge_cleanup(struct jw_bridge *br);

/* Occurrences of needle in the log; wait until there are at least n. */
int jw_bridge_log_count(const struct jw_bridge *br, const char *needle);
bool jw_bridge_log_wait(const struct jw_bridge *br, const char *needle, int n, int timeout_ms);

/* Run jetwire-bridge with `args` (NULL-terminated, without argv[0]) and
 * the extra env, wait for it (at most timeout_ms, then SIGKILL), capture
 * stdout+stderr into out.  Returns 0 with *exit_code, -1 on harness error. */
int jw_bridge_run_cli(const char *const *args, const char *const *env, int timeout_ms,
		char *out, size_t outlen, int *exit_code, char *errbuf, size_t errlen);

/* Run any program (e.g. $JW_MIGRATE) the same way: `prog` is a path,
 * args NULL-terminated without argv[0], env extra "NAME=VALUE"s. */
int jw_run_program(const char *prog, const char *const *args, const char *const *env, int timeout_ms,
		char *out, size_t outlen, int *exit_code, char *errbuf, size_t errlen);

#endif
