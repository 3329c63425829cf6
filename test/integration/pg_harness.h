/*
 * A throwaway PostgreSQL cluster for tests and benchmarks: initdb into a
 * private temp dir, a postmaster on 127.0.0.1 and a free port (plus a unix
 * socket in the dir), trust authentication, fsync off.  Stopped by PID and
 * removed.  No Check dependency: every function returns 0 / -1 with a
 * one-line reason in errbuf, and the caller asserts.
 *
 * Binaries: $JW_PG_BINDIR, else `pg_config --bindir`, else the highest
 * /usr/lib/postgresql/<N>/bin.  As root (initdb and postgres refuse to run
 * as root) the cluster runs as the `postgres` OS user: the dir is chowned to
 * it and the children drop privileges before exec.
 *
 * The postmaster dies with the process that started it (PR_SET_PDEATHSIG),
 * so a crashed test leaves no server behind.  Set JW_PG_KEEP=1 to keep the
 * dir (postgres.log) after jw_pg_stop().
 */
#ifndef JW_PG_HARNESS_H
#define JW_PG_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct jw_pg {
	pid_t pid;            /* the postmaster; 0 when not running */
	pid_t owner;          /* the process that started it (only it stops it) */
	int port;             /* TCP, 127.0.0.1 */
	char dir[256];        /* the temp dir: data/, socket, postgres.log */
	char datadir[300];
	char log_path[300];
	char bindir[256];
	char superuser[64];   /* the bootstrap superuser ("postgres") */
	char conninfo[512];   /* to the "postgres" database as the superuser */
	char extra_conf[1024];
	bool run_as_postgres; /* running as root: children setuid to postgres */
	uid_t uid;
	gid_t gid;
};

struct jw_pg_opts {
	/* Extra server settings, "name=value" separated by spaces or newlines,
	 * passed as -c options (e.g. "track_commit_timestamp=on"). */
	const char *settings;
};

/* initdb + start + wait until it accepts connections (up to 60 s).
 * `o` may be NULL. */
int jw_pg_start(struct jw_pg *pg, const struct jw_pg_opts *o, char *errbuf, size_t errlen);

/* Fast shutdown (SIGINT), wait, then remove the dir (unless JW_PG_KEEP=1).
 * Safe to call twice, and a no-op in a process other than the starter (a
 * forked test).  Returns -1 if the server had to be killed. */
int jw_pg_stop(struct jw_pg *pg, char *errbuf, size_t errlen);

/* For fault injection: send `sig` to the postmaster (SIGKILL: a crash;
 * SIGINT: fast shutdown) and wait for it to exit, keeping the data.
 * With SIGKILL, its children are killed too, as after an OOM kill. */
int jw_pg_halt(struct jw_pg *pg, int sig, char *errbuf, size_t errlen);

/* Start the postmaster again on the same data dir and port (after
 * jw_pg_halt), and wait until it accepts connections (crash recovery
 * included). */
int jw_pg_resume(struct jw_pg *pg, char *errbuf, size_t errlen);

/* Connection string for `dbname` as `user` (NULL: the superuser), into
 * buf.  Returns buf. */
char *jw_pg_conninfo(const struct jw_pg *pg, const char *dbname, const char *user,
		char *buf, size_t len);

/* CREATE DATABASE `name` (OWNER `owner` unless NULL), as the superuser. */
int jw_pg_create_db(const struct jw_pg *pg, const char *name, const char *owner,
		char *errbuf, size_t errlen);

/* Run `sql` (may hold several statements) in `dbname` as the superuser. */
int jw_pg_exec(const struct jw_pg *pg, const char *dbname, const char *sql,
		char *errbuf, size_t errlen);

#endif
