/*
 * migrate — apply jetwire's SQL migrations (schemas/migrations/NNNN_name.sql),
 * embedded in the binary at build time, to a PostgreSQL database.
 *
 * Each migration is applied once, in its own transaction, and recorded in
 * jetwire.schema_migrations (version, name, applied_at).  A session advisory
 * lock (JW_MIGRATE_LOCK_*) serialises two processes migrating the same
 * database, so two bridges starting together do not race.  Applying again is
 * a no-op.  Nothing is printed: failures are described in errbuf.
 */
#ifndef JW_MIGRATE_H
#define JW_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

/* pg_advisory_lock(JW_MIGRATE_LOCK_CLASS, JW_MIGRATE_LOCK_OBJECT): the
 * migration lock.  Class 0x6a657477 is "jetw"; object 1 is migrations (the
 * bridge's leader election is to use object 2; schemas/README.md). */
#define JW_MIGRATE_LOCK_CLASS 1785099383
#define JW_MIGRATE_LOCK_OBJECT 1

struct jw_migration {
	int version;          /* from the file name: 0002_capture_functions.sql -> 2 */
	const char *name;     /* "0002_capture_functions" */
	const char *sql;      /* the file's text, NUL-terminated */
	size_t sql_len;       /* bytes, without the NUL */
};

/* The migrations built into this binary, ascending by version.  The
 * returned pointers are static storage; jw_migration_at() returns NULL past
 * the end. */
size_t jw_migration_count(void);
const struct jw_migration *jw_migration_at(size_t i);

/* Called after a migration was committed (m is static storage). */
typedef void (*jw_migrate_applied_fn)(const struct jw_migration *m, void *arg);

/*
 * Apply every embedded migration the database has not recorded, ascending.
 * `conn` must be connected and idle (not inside a transaction); it is left
 * idle, with the lock released, on success and on failure.  Migrations run
 * with client_min_messages = warning (SET LOCAL), so their NOTICEs do not
 * reach the connection's notice processor.
 *
 * Returns 0 on success with *applied (if non-NULL) = how many were applied
 * now (0: already up to date).  Returns -1 on failure with a one-line
 * description in errbuf: what was attempted, and the server's message
 * (for a failing migration also its file and line, SQLSTATE, detail and
 * hint); *applied then counts the ones committed before the failure.
 */
int jw_migrate(PGconn *conn, char *errbuf, size_t errlen, int *applied);

/* The same, calling on_applied (may be NULL) after each committed migration. */
int jw_migrate_ex(PGconn *conn, jw_migrate_applied_fn on_applied, void *arg,
		char *errbuf, size_t errlen, int *applied);

/*
 * The versions recorded in jetwire.schema_migrations, ascending.  *versions
 * is a new array owned by the caller (free()), NULL when *n is 0 (also when
 * the table does not exist yet).  Returns 0, or -1 with errbuf.
 */
int jw_migrate_applied_versions(PGconn *conn, int **versions, size_t *n,
		char *errbuf, size_t errlen);

#endif
