/*
 * jetwire-migrate — apply jetwire's SQL migrations to a database.
 *
 *   jetwire-migrate [CONNINFO]            apply what is missing, print what was applied
 *   jetwire-migrate --status [CONNINFO]   print each migration: applied or pending
 *   jetwire-migrate --list                print the migrations built into this binary
 *
 * CONNINFO is a libpq connection string or URI ("host=... dbname=..." or
 * "postgresql://..."); without it, libpq's PG* environment variables apply.
 * The bridge applies the same migrations at start; this is for operators and
 * deploy scripts.  Exit status: 0 done, 1 failed, 2 usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: jetwire-migrate [CONNINFO]            apply missing migrations\n"
		"       jetwire-migrate --status [CONNINFO]   show applied / pending\n"
		"       jetwire-migrate --list                list the embedded migrations\n"
		"CONNINFO: libpq connection string or URI (default: PG* environment variables)\n");
	return 2;
}

static void print_applied(const struct jw_migration *m, void *arg)
{
	(void)arg;
	printf("applied %s\n", m->name);
	fflush(stdout);
}

static bool embedded(int version)
{
	for(size_t i = 0; i < jw_migration_count(); i++){
		if(jw_migration_at(i)->version == version){
			return true;
		}
	}
	return false;
}

static bool in_list(const int *v, size_t n, int version)
{
	for(size_t i = 0; i < n; i++){
		if(v[i] == version){
			return true;
		}
	}
	return false;
}

/* Versions in the database that this binary does not know: applied by a
 * newer jetwire.  Not an error (the schema is a superset), but worth saying. */
static void warn_unknown(const int *v, size_t n)
{
	for(size_t i = 0; i < n; i++){
		if(!embedded(v[i])){
			fprintf(stderr, "jetwire-migrate: warning: the database has migration %04d, "
					"unknown to this binary (applied by a newer jetwire?)\n", v[i]);
		}
	}
}

static int list(void)
{
	for(size_t i = 0; i < jw_migration_count(); i++){
		const struct jw_migration *m = jw_migration_at(i);
		printf("%s\t%zu bytes\n", m->name, m->sql_len);
	}
	return 0;
}

static int status(PGconn *conn)
{
	char err[2048];
	int *v = NULL;
	size_t n = 0;
	if(jw_migrate_applied_versions(conn, &v, &n, err, sizeof(err)) != 0){
		fprintf(stderr, "jetwire-migrate: %s\n", err);
		return 1;
	}
	size_t pending = 0;
	for(size_t i = 0; i < jw_migration_count(); i++){
		const struct jw_migration *m = jw_migration_at(i);
		bool done = in_list(v, n, m->version);
		pending += !done;
		printf("%-8s %s\n", done ? "applied" : "pending", m->name);
	}
	warn_unknown(v, n);
	printf("%zu pending\n", pending);
	free(v);
	return 0;
}

static int apply(PGconn *conn)
{
	char err[2048];
	int applied = 0;
	if(jw_migrate_ex(conn, print_applied, NULL, err, sizeof(err), &applied) != 0){
		fprintf(stderr, "jetwire-migrate: %s\n", err);
		if(applied){
			fprintf(stderr, "jetwire-migrate: %d migration(s) were applied before the failure\n", applied);
		}
		return 1;
	}
	int *v = NULL;
	size_t n = 0;
	if(jw_migrate_applied_versions(conn, &v, &n, err, sizeof(err)) == 0){
		warn_unknown(v, n);
		free(v);
	}
	size_t total = jw_migration_count();
	const char *latest = total ? jw_migration_at(total - 1)->name : "none";
	if(applied == 0){
		printf("up to date (latest %s)\n", latest);
	}else{
		printf("applied %d migration(s); up to date (latest %s)\n", applied, latest);
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum { APPLY, STATUS, LIST } mode = APPLY;
	const char *conninfo = NULL;
	for(int i = 1; i < argc; i++){
		if(!strcmp(argv[i], "--status")){
			mode = STATUS;
		}else if(!strcmp(argv[i], "--list")){
			mode = LIST;
		}else if(!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")){
			usage();
			return 0;
		}else if(argv[i][0] == '-' && argv[i][1] == '-'){
			fprintf(stderr, "jetwire-migrate: unknown option %s\n", argv[i]);
			return usage();
		}else if(conninfo){
			fprintf(stderr, "jetwire-migrate: one CONNINFO only\n");
			return usage();
		}else{
			conninfo = argv[i];
		}
	}
	if(mode == LIST){
		return conninfo ? usage() : list();
	}

	PGconn *conn = PQconnectdb(conninfo ? conninfo : "");
	if(!conn || PQstatus(conn) != CONNECTION_OK){
		/* libpq's message names host and port, never the password. */
		fprintf(stderr, "jetwire-migrate: connecting to PostgreSQL: %s",
				conn ? PQerrorMessage(conn) : "out of memory\n");
		PQfinish(conn);
		return 1;
	}
	int rc = mode == STATUS ? status(conn) : apply(conn);
	PQfinish(conn);
	return rc;
}
