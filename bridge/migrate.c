/*
 * migrate — apply the migrations embedded from schemas/migrations (see migrate.h).
 *
 * One session advisory lock around the whole run; one transaction per
 * migration (its SQL, then its row in jetwire.schema_migrations, then
 * COMMIT), so a failing migration leaves nothing half-applied and is retried
 * whole next time.
 */
#define _POSIX_C_SOURCE 200809L
#include "migrate.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)
#define LOCK_ARGS STR(JW_MIGRATE_LOCK_CLASS) ", " STR(JW_MIGRATE_LOCK_OBJECT)

static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	if(!errbuf || errlen == 0){
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	/* One line: libpq messages end with "\n" and may span lines. */
	size_t n = strlen(errbuf);
	while(n > 0 && (errbuf[n - 1] == '\n' || errbuf[n - 1] == ' ')){
		errbuf[--n] = '\0';
	}
	for(char *p = errbuf; *p; p++){
		if(*p == '\n' || *p == '\t'){
			*p = ' ';
		}
	}
}

/* The server's account of a failure: primary message, SQLSTATE, detail and
 * hint from the result, or the connection's message when there is no result
 * (connection lost, out of memory). */
static void describe(const PGconn *conn, const PGresult *res, char *out, size_t outlen)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if(!primary){
		const char *m = res ? PQresultErrorMessage(res) : "";
		if(!m || !*m){
			m = PQerrorMessage(conn);
		}
		snprintf(out, outlen, "%s", (m && *m) ? m : "unknown error");
		return;
	}
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	snprintf(out, outlen, "%s (SQLSTATE %s)%s%s%s%s", primary, state ? state : "?",
			detail ? "; DETAIL: " : "", detail ? detail : "",
			hint ? "; HINT: " : "", hint ? hint : "");
}

/* Run `sql`; true if the result has status `want`.  On failure errbuf says
 * "<what>: <server message>". */
static bool run(PGconn *conn, const char *sql, ExecStatusType want, const char *what,
		PGresult **out, char *errbuf, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	if(!res || PQresultStatus(res) != want){
		char why[1024];
		describe(conn, res, why, sizeof(why));
		set_err(errbuf, errlen, "%s: %s", what, why);
		PQclear(res);
		return false;
	}
	if(out){
		*out = res;
	}else{
		PQclear(res);
	}
	return true;
}

/* Line (1-based) of the character at 1-based `pos` in `sql` (the server
 * counts characters, not bytes). */
static int line_of(const char *sql, long pos)
{
	int line = 1;
	long chars = 0;
	for(const unsigned char *p = (const unsigned char *)sql; *p; p++){
		if((*p & 0xC0) != 0x80){
			if(++chars >= pos){
				break;
			}
		}
		if(*p == '\n'){
			line++;
		}
	}
	return line;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Does the schema / table exist?  (Checked before creating them: CREATE
 * SCHEMA IF NOT EXISTS needs the CREATE privilege on the database even when
 * the schema is there.) */
static int lookup_bookkeeping(PGconn *conn, bool *schema, bool *table, char *errbuf, size_t errlen)
{
	PGresult *res;
	if(!run(conn, "SELECT to_regnamespace('jetwire') IS NOT NULL, "
			"to_regclass('jetwire.schema_migrations') IS NOT NULL",
			PGRES_TUPLES_OK, "looking up jetwire.schema_migrations", &res, errbuf, errlen)){
		return -1;
	}
	*schema = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	*table = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	return 0;
}

static int read_versions(PGconn *conn, int **versions, size_t *n, char *errbuf, size_t errlen)
{
	PGresult *res;
	*versions = NULL;
	*n = 0;
	if(!run(conn, "SELECT version FROM jetwire.schema_migrations ORDER BY version",
			PGRES_TUPLES_OK, "reading jetwire.schema_migrations", &res, errbuf, errlen)){
		return -1;
	}
	int rows = PQntuples(res);
	if(rows > 0){
		*versions = malloc((size_t)rows * sizeof(int));
		if(!*versions){
			PQclear(res);
			set_err(errbuf, errlen, "reading jetwire.schema_migrations: out of memory");
			return -1;
		}
		for(int i = 0; i < rows; i++){
			(*versions)[i] = atoi(PQgetvalue(res, i, 0));
		}
		*n = (size_t)rows;
	}
	PQclear(res);
	return 0;
}

int jw_migrate_applied_versions(PGconn *conn, int **versions, size_t *n,
		char *errbuf, size_t errlen)
{
	bool schema = false, table = false;
	*versions = NULL;
	*n = 0;
	if(!conn || PQstatus(conn) != CONNECTION_OK){
		set_err(errbuf, errlen, "reading jetwire.schema_migrations: not connected to PostgreSQL: %s",
				conn ? PQerrorMessage(conn) : "no connection");
		return -1;
	}
	if(lookup_bookkeeping(conn, &schema, &table, errbuf, errlen) != 0){
		return -1;
	}
	if(!table){
		return 0;
	}
	return read_versions(conn, versions, n, errbuf, errlen);
}

/* Apply one migration in its own transaction. */
static int apply_one(PGconn *conn, const struct jw_migration *m, char *errbuf, size_t errlen)
{
	char what[160];
	snprintf(what, sizeof(what), "applying migration %s: BEGIN", m->name);
	if(!run(conn, "BEGIN", PGRES_COMMAND_OK, what, NULL, errbuf, errlen)){
		return -1;
	}
	/* NOTICEs such as "already exists, skipping" are noise here; the
	 * setting ends with the transaction. */
	snprintf(what, sizeof(what), "applying migration %s: SET LOCAL client_min_messages", m->name);
	if(!run(conn, "SET LOCAL client_min_messages = warning", PGRES_COMMAND_OK, what, NULL, errbuf, errlen)){
		PQclear(PQexec(conn, "ROLLBACK"));
		return -1;
	}

	/* The file may hold many statements: the simple query protocol runs
	 * them all, inside our transaction. */
	PGresult *res = PQexec(conn, m->sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if(st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY){
		char why[1024];
		describe(conn, res, why, sizeof(why));
		const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
		if(pos){
			set_err(errbuf, errlen, "applying migration %s (schemas/migrations/%s.sql, line %d): %s",
					m->name, m->name, line_of(m->sql, atol(pos)), why);
		}else{
			set_err(errbuf, errlen, "applying migration %s (schemas/migrations/%s.sql): %s",
					m->name, m->name, why);
		}
		PQclear(res);
		PQclear(PQexec(conn, "ROLLBACK"));
		return -1;
	}
	PQclear(res);

	char version[16];
	snprintf(version, sizeof(version), "%d", m->version);
	const char *params[2] = { version, m->name };
	res = PQexecParams(conn, "INSERT INTO jetwire.schema_migrations (version, name, applied_at) "
			"VALUES ($1::integer, $2, now())", 2, NULL, params, NULL, NULL, 0);
	if(!res || PQresultStatus(res) != PGRES_COMMAND_OK){
		char why[1024];
		describe(conn, res, why, sizeof(why));
		set_err(errbuf, errlen, "recording migration %s in jetwire.schema_migrations: %s", m->name, why);
		PQclear(res);
		PQclear(PQexec(conn, "ROLLBACK"));
		return -1;
	}
	PQclear(res);

	snprintf(what, sizeof(what), "applying migration %s: COMMIT", m->name);
	if(!run(conn, "COMMIT", PGRES_COMMAND_OK, what, NULL, errbuf, errlen)){
		PQclear(PQexec(conn, "ROLLBACK"));
		return -1;
	}
	return 0;
}

/* Everything done under the lock. */
static int migrate_locked(PGconn *conn, jw_migrate_applied_fn on_applied, void *arg,
		char *errbuf, size_t errlen, int *applied)
{
	bool schema = false, table = false;
	if(lookup_bookkeeping(conn, &schema, &table, errbuf, errlen) != 0){
		return -1;
	}
	if(!schema && !run(conn, "CREATE SCHEMA IF NOT EXISTS jetwire", PGRES_COMMAND_OK,
			"creating schema jetwire", NULL, errbuf, errlen)){
		return -1;
	}
	if(!table && !run(conn,
			"CREATE TABLE IF NOT EXISTS jetwire.schema_migrations ("
			" version    integer     PRIMARY KEY,"
			" name       text        NOT NULL,"
			" applied_at timestamptz NOT NULL DEFAULT now())",
			PGRES_COMMAND_OK, "creating table jetwire.schema_migrations", NULL, errbuf, errlen)){
		return -1;
	}

	int *done = NULL;
	size_t ndone = 0;
	if(read_versions(conn, &done, &ndone, errbuf, errlen) != 0){
		return -1;
	}
	int rc = 0;
	for(size_t i = 0; i < jw_migration_count(); i++){
		const struct jw_migration *m = jw_migration_at(i);
		if(ndone && bsearch(&m->version, done, ndone, sizeof(int), cmp_int)){
			continue;
		}
		if(apply_one(conn, m, errbuf, errlen) != 0){
			rc = -1;
			break;
		}
		if(applied){
			(*applied)++;
		}
		if(on_applied){
			on_applied(m, arg);
		}
	}
	free(done);
	return rc;
}

int jw_migrate_ex(PGconn *conn, jw_migrate_applied_fn on_applied, void *arg,
		char *errbuf, size_t errlen, int *applied)
{
	if(applied){
		*applied = 0;
	}
	if(!conn || PQstatus(conn) != CONNECTION_OK){
		set_err(errbuf, errlen, "migrating: not connected to PostgreSQL: %s",
				conn ? PQerrorMessage(conn) : "no connection");
		return -1;
	}
	if(PQtransactionStatus(conn) != PQTRANS_IDLE){
		set_err(errbuf, errlen, "migrating: the connection is inside a transaction "
				"(migrations run in transactions of their own)");
		return -1;
	}

	int rc = -1;
	if(run(conn, "SELECT pg_advisory_lock(" LOCK_ARGS ")", PGRES_TUPLES_OK,
			"taking the migration lock (pg_advisory_lock(" LOCK_ARGS "))", NULL, errbuf, errlen)){
		rc = migrate_locked(conn, on_applied, arg, errbuf, errlen, applied);
		/* A failed statement outside a transaction leaves the session idle;
		 * release the lock whatever happened (if the connection is gone, so
		 * is the lock). */
		if(PQtransactionStatus(conn) == PQTRANS_INERROR || PQtransactionStatus(conn) == PQTRANS_INTRANS){
			PQclear(PQexec(conn, "ROLLBACK"));
		}
		char unlock_err[512];
		if(!run(conn, "SELECT pg_advisory_unlock(" LOCK_ARGS ")", PGRES_TUPLES_OK,
				"releasing the migration lock", NULL, unlock_err, sizeof(unlock_err)) && rc == 0){
			set_err(errbuf, errlen, "%s", unlock_err);
			rc = -1;
		}
	}
	return rc;
}

int jw_migrate(PGconn *conn, char *errbuf, size_t errlen, int *applied)
{
	return jw_migrate_ex(conn, NULL, NULL, errbuf, errlen, applied);
}
