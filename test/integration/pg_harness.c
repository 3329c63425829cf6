/*
 * pg_harness — a throwaway PostgreSQL cluster (see pg_harness.h).
 */
#define _GNU_SOURCE
#include "pg_harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 30000

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
	if(errbuf && errlen){
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
		size_t n = strlen(errbuf);
		while(n && (errbuf[n - 1] == '\n' || errbuf[n - 1] == ' ')){
			errbuf[--n] = '\0';
		}
	}
	return -1;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while(nanosleep(&ts, &ts) == -1 && errno == EINTR){
	}
}

static bool executable(const char *dir, const char *prog)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, prog);
	return access(path, X_OK) == 0;
}

/* $JW_PG_BINDIR, `pg_config --bindir`, or the highest /usr/lib/postgresql/N/bin
 * that holds initdb and postgres. */
static int find_bindir(char *out, size_t len)
{
	const char *env = getenv("JW_PG_BINDIR");
	if(env && *env){
		snprintf(out, len, "%s", env);
		return executable(out, "initdb") && executable(out, "postgres") ? 0 : -1;
	}
	FILE *p = popen("pg_config --bindir 2>/dev/null", "r");
	if(p){
		char line[256] = "";
		bool got = fgets(line, sizeof(line), p) != NULL;
		pclose(p);
		line[strcspn(line, "\r\n")] = '\0';
		if(got && *line && executable(line, "initdb") && executable(line, "postgres")){
			snprintf(out, len, "%s", line);
			return 0;
		}
	}
	DIR *d = opendir("/usr/lib/postgresql");
	int best = -1;
	if(d){
		struct dirent *e;
		while((e = readdir(d))){
			char *end;
			long v = strtol(e->d_name, &end, 10);
			char bin[300];
			snprintf(bin, sizeof(bin), "/usr/lib/postgresql/%s/bin", e->d_name);
			if(end != e->d_name && !*end && v > best && executable(bin, "initdb")
					&& executable(bin, "postgres")){
				best = (int)v;
			}
		}
		closedir(d);
	}
	if(best < 0){
		return -1;
	}
	snprintf(out, len, "/usr/lib/postgresql/%d/bin", best);
	return 0;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if(fd < 0){
		return -1;
	}
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int port = -1;
	if(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0
			&& getsockname(fd, (struct sockaddr *)&a, &alen) == 0){
		port = ntohs(a.sin_port);
	}
	close(fd);
	return port;
}

/* The last `max` bytes of the log, on one line, for error messages. */
static void log_tail(const struct jw_pg *pg, char *out, size_t max)
{
	out[0] = '\0';
	FILE *f = fopen(pg->log_path, "r");
	if(!f){
		return;
	}
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	long from = size > (long)max - 1 ? size - ((long)max - 1) : 0;
	fseek(f, from, SEEK_SET);
	size_t n = fread(out, 1, max - 1, f);
	out[n] = '\0';
	fclose(f);
	for(char *c = out; *c; c++){
		if(*c == '\n' || *c == '\t'){
			*c = ' ';
		}
	}
}

/* fork + (drop privileges) + exec, stdout/stderr appended to the log.
 * `own_group`: the child leads a process group (so a crash can kill the
 * postmaster and its backends at once). */
static pid_t spawn(const struct jw_pg *pg, char *const argv[], bool own_group)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if(pid != 0){
		return pid;
	}
	/* child: only async-signal-safe calls until exec */
	if(own_group){
		setpgid(0, 0);
	}
	if(pg->run_as_postgres){
		if(setgroups(0, NULL) != 0 || setgid(pg->gid) != 0 || setuid(pg->uid) != 0){
			_exit(126);
		}
	}
	/* After setuid (a credential change clears it).  SIGQUIT = immediate
	 * shutdown for a postmaster. */
	prctl(PR_SET_PDEATHSIG, SIGQUIT);
	if(getppid() != parent){
		_exit(125);
	}
	int fd = open(pg->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	int nul = open("/dev/null", O_RDONLY);
	if(fd < 0 || nul < 0 || chdir(pg->dir) != 0){
		_exit(124);
	}
	dup2(nul, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	execv(argv[0], argv);
	_exit(127);
}

/* Wait for `pid` up to timeout_ms; true if it exited (status in *status). */
static bool wait_exit(pid_t pid, long timeout_ms, int *status)
{
	long deadline = now_ms() + timeout_ms;
	for(;;){
		pid_t r = waitpid(pid, status, WNOHANG);
		if(r == pid || (r < 0 && errno == ECHILD)){
			return true;
		}
		if(now_ms() > deadline){
			return false;
		}
		sleep_ms(10);
	}
}

static int run_initdb(struct jw_pg *pg, char *errbuf, size_t errlen)
{
	char prog[300], user[80];
	snprintf(prog, sizeof(prog), "%s/initdb", pg->bindir);
	snprintf(user, sizeof(user), "--username=%s", pg->superuser);
	char *argv[] = { prog, "-D", pg->datadir, user, "--auth=trust", "--encoding=UTF8",
		"--locale=C", "--no-sync", "--no-instructions", NULL };
	pid_t pid = spawn(pg, argv, false);
	if(pid < 0){
		return fail(errbuf, errlen, "fork for initdb: %s", strerror(errno));
	}
	int status = 0;
	if(!wait_exit(pid, 120000, &status)){
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return fail(errbuf, errlen, "initdb did not finish in 120 s (log %s)", pg->log_path);
	}
	if(!WIFEXITED(status) || WEXITSTATUS(status) != 0){
		char tail[600];
		log_tail(pg, tail, sizeof(tail));
		return fail(errbuf, errlen, "initdb failed (status %d): %s", status, tail);
	}
	return 0;
}

/* Start the postmaster and wait until it answers.  Returns 1 if the port
 * was taken (the caller may retry with another), 0 ok, -1 error. */
static int start_postmaster(struct jw_pg *pg, char *errbuf, size_t errlen)
{
	char prog[300], port[16];
	snprintf(prog, sizeof(prog), "%s/postgres", pg->bindir);
	snprintf(port, sizeof(port), "%d", pg->port);

	char *argv[64];
	int argc = 0;
	argv[argc++] = prog;
	argv[argc++] = "-D";
	argv[argc++] = pg->datadir;
	argv[argc++] = "-p";
	argv[argc++] = port;
	argv[argc++] = "-k";
	argv[argc++] = pg->dir;
	static char *fixed[] = {
		"listen_addresses=127.0.0.1",
		"fsync=off",            /* a process crash loses nothing; only an OS crash would */
		"full_page_writes=off",
		"logging_collector=off",
		"log_min_messages=warning",
	};
	for(size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++){
		argv[argc++] = "-c";
		argv[argc++] = fixed[i];
	}
	/* extra settings: split a private copy on whitespace */
	char extra[sizeof(pg->extra_conf)];
	snprintf(extra, sizeof(extra), "%s", pg->extra_conf);
	for(char *save = NULL, *tok = strtok_r(extra, " \t\r\n", &save); tok;
			tok = strtok_r(NULL, " \t\r\n", &save)){
		if(argc > 60){
			return fail(errbuf, errlen, "too many extra settings");
		}
		argv[argc++] = "-c";
		argv[argc++] = tok;
	}
	argv[argc] = NULL;

	pg->pid = spawn(pg, argv, true);
	if(pg->pid < 0){
		pg->pid = 0;
		return fail(errbuf, errlen, "fork for postgres: %s", strerror(errno));
	}

	char ping[600];
	snprintf(ping, sizeof(ping), "%s connect_timeout=2", pg->conninfo);
	long deadline = now_ms() + READY_TIMEOUT_MS;
	for(;;){
		int status;
		if(waitpid(pg->pid, &status, WNOHANG) == pg->pid){
			pg->pid = 0;
			char tail[800];
			log_tail(pg, tail, sizeof(tail));
			if(strstr(tail, "could not bind") || strstr(tail, "already in use")){
				return 1;
			}
			return fail(errbuf, errlen, "postgres exited at start (status %d): %s", status, tail);
		}
		if(PQping(ping) == PQPING_OK){
			return 0;
		}
		if(now_ms() > deadline){
			char tail[800];
			log_tail(pg, tail, sizeof(tail));
			kill(-pg->pid, SIGKILL);
			waitpid(pg->pid, &status, 0);
			pg->pid = 0;
			return fail(errbuf, errlen, "postgres did not accept connections within %d s: %s",
					READY_TIMEOUT_MS / 1000, tail);
		}
		sleep_ms(25);
	}
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_dir(const char *dir)
{
	if(*dir){
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
}

static void quote_value(char *out, size_t len, const char *v)
{
	size_t o = 0;
	if(len < 3){
		if(len){
			out[0] = '\0';
		}
		return;
	}
	out[o++] = '\'';
	for(; *v && o + 3 < len; v++){
		if(*v == '\'' || *v == '\\'){
			out[o++] = '\\';
		}
		out[o++] = *v;
	}
	out[o++] = '\'';
	out[o] = '\0';
}

char *jw_pg_conninfo(const struct jw_pg *pg, const char *dbname, const char *user,
		char *buf, size_t len)
{
	char db[160], u[160];
	quote_value(db, sizeof(db), dbname ? dbname : "postgres");
	quote_value(u, sizeof(u), user ? user : pg->superuser);
	snprintf(buf, len, "host=127.0.0.1 port=%d dbname=%s user=%s", pg->port, db, u);
	return buf;
}

int jw_pg_start(struct jw_pg *pg, const struct jw_pg_opts *o, char *errbuf, size_t errlen)
{
	memset(pg, 0, sizeof(*pg));
	snprintf(pg->superuser, sizeof(pg->superuser), "postgres");
	if(o && o->settings){
		if(strlen(o->settings) >= sizeof(pg->extra_conf)){
			return fail(errbuf, errlen, "settings too long");
		}
		snprintf(pg->extra_conf, sizeof(pg->extra_conf), "%s", o->settings);
	}
	if(find_bindir(pg->bindir, sizeof(pg->bindir)) != 0){
		return fail(errbuf, errlen, "no PostgreSQL server binaries (initdb, postgres): set JW_PG_BINDIR, "
				"or install the Debian package postgresql");
	}
	if(geteuid() == 0){
		struct passwd *pw = getpwnam("postgres");
		if(!pw){
			return fail(errbuf, errlen, "running as root, and there is no 'postgres' OS user to run "
					"initdb/postgres as (they refuse root)");
		}
		pg->run_as_postgres = true;
		pg->uid = pw->pw_uid;
		pg->gid = pw->pw_gid;
	}

	snprintf(pg->dir, sizeof(pg->dir), "/tmp/jetwire-pg-XXXXXX");
	if(!mkdtemp(pg->dir)){
		int e = errno;
		pg->dir[0] = '\0';
		return fail(errbuf, errlen, "mkdtemp /tmp/jetwire-pg-XXXXXX: %s", strerror(e));
	}
	if(pg->run_as_postgres && chown(pg->dir, pg->uid, pg->gid) != 0){
		int e = errno;
		remove_dir(pg->dir);
		return fail(errbuf, errlen, "chown %s to postgres: %s", pg->dir, strerror(e));
	}
	snprintf(pg->datadir, sizeof(pg->datadir), "%s/data", pg->dir);
	snprintf(pg->log_path, sizeof(pg->log_path), "%s/postgres.log", pg->dir);
	pg->owner = getpid();

	if(run_initdb(pg, errbuf, errlen) != 0){
		remove_dir(pg->dir);
		return -1;
	}
	for(int attempt = 0;; attempt++){
		pg->port = free_port();
		if(pg->port <= 0){
			remove_dir(pg->dir);
			return fail(errbuf, errlen, "no free TCP port on 127.0.0.1: %s", strerror(errno));
		}
		jw_pg_conninfo(pg, "postgres", NULL, pg->conninfo, sizeof(pg->conninfo));
		int rc = start_postmaster(pg, errbuf, errlen);
		if(rc == 0){
			return 0;
		}
		if(rc < 0 || attempt == 4){
			if(rc > 0){
				fail(errbuf, errlen, "postgres could not bind a port in 5 attempts (log %s)", pg->log_path);
			}
			remove_dir(pg->dir);
			return -1;
		}
	}
}

int jw_pg_halt(struct jw_pg *pg, int sig, char *errbuf, size_t errlen)
{
	if(pg->pid <= 0){
		return 0;
	}
	if(getpid() != pg->owner){
		return fail(errbuf, errlen, "jw_pg_halt: only the process that started the server may stop it");
	}
	int status;
	/* SIGKILL takes the whole process group (postmaster and backends), as a
	 * crash would; a lone killed postmaster would leave backends holding
	 * its shared memory, and the next start would refuse. */
	kill(sig == SIGKILL ? -pg->pid : pg->pid, sig);
	bool exited = wait_exit(pg->pid, STOP_TIMEOUT_MS, &status);
	if(!exited){
		kill(-pg->pid, SIGKILL);
		waitpid(pg->pid, &status, 0);
	}
	pg->pid = 0;
	if(!exited){
		return fail(errbuf, errlen, "postgres did not exit within %d s of signal %d; killed",
				STOP_TIMEOUT_MS / 1000, sig);
	}
	return 0;
}

int jw_pg_resume(struct jw_pg *pg, char *errbuf, size_t errlen)
{
	if(pg->pid > 0){
		return fail(errbuf, errlen, "jw_pg_resume: the server is running");
	}
	/* The same port: clients reconnect to where they were.  After a crash
	 * the old socket may linger briefly. */
	for(int attempt = 0; attempt < 50; attempt++){
		int rc = start_postmaster(pg, errbuf, errlen);
		if(rc <= 0){
			return rc;
		}
		sleep_ms(100);
	}
	return fail(errbuf, errlen, "postgres could not bind port %d again", pg->port);
}

int jw_pg_stop(struct jw_pg *pg, char *errbuf, size_t errlen)
{
	if(pg->owner != getpid()){
		return 0;
	}
	int rc = jw_pg_halt(pg, SIGINT, errbuf, errlen);
	const char *keep = getenv("JW_PG_KEEP");
	if(!(keep && *keep == '1')){
		remove_dir(pg->dir);
	}
	pg->dir[0] = '\0';
	pg->owner = 0;
	return rc;
}

int jw_pg_exec(const struct jw_pg *pg, const char *dbname, const char *sql,
		char *errbuf, size_t errlen)
{
	char ci[600];
	jw_pg_conninfo(pg, dbname, NULL, ci, sizeof(ci));
	PGconn *c = PQconnectdb(ci);
	if(PQstatus(c) != CONNECTION_OK){
		fail(errbuf, errlen, "connecting to %s: %s", dbname, PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	int rc = 0;
	if(st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY){
		rc = fail(errbuf, errlen, "in %s: %s: %s", dbname, sql, PQerrorMessage(c));
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

int jw_pg_create_db(const struct jw_pg *pg, const char *name, const char *owner,
		char *errbuf, size_t errlen)
{
	char ci[600];
	jw_pg_conninfo(pg, "postgres", NULL, ci, sizeof(ci));
	PGconn *c = PQconnectdb(ci);
	if(PQstatus(c) != CONNECTION_OK){
		fail(errbuf, errlen, "connecting to postgres: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	char *qname = PQescapeIdentifier(c, name, strlen(name));
	char *qowner = owner ? PQescapeIdentifier(c, owner, strlen(owner)) : NULL;
	char sql[512];
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s%s%s", qname ? qname : "\"?\"",
			qowner ? " OWNER " : "", qowner ? qowner : "");
	PQfreemem(qname);
	PQfreemem(qowner);
	PGresult *r = PQexec(c, sql);
	int rc = 0;
	if(PQresultStatus(r) != PGRES_COMMAND_OK){
		rc = fail(errbuf, errlen, "%s: %s", sql, PQerrorMessage(c));
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}
