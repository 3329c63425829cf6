/*
 * demo_db — a database for the bridge's integration tests: created in a
 * throwaway cluster (pg_harness), migrated, with the demo tables and their
 * capture (schemas/demo/), ready for plain SQL.  Check-based: failures
 * abort the running test.
 */
#ifndef JW_DEMO_DB_H
#define JW_DEMO_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "bridge_harness.h"
#include "harness.h"
#include "pg_harness.h"

/* Run SQL (several statements allowed); the test fails on error. */
void jw_exec_ok(PGconn *c, const char *sql);

/* Run the SQL file at $JW_SOURCE_DIR/<rel>. */
void jw_exec_file(PGconn *c, const char *rel);

/* CREATE DATABASE name, migrate it (the embedded migrations), load
 * schemas/demo/tables.sql and capture.sql; the conninfo goes to conninfo.
 * Returns a superuser connection to it, notices silenced. */
PGconn *jw_demo_db(const struct jw_pg *pg, const char *name, char *conninfo, size_t len);

/* The bridge tests' stack: a demo database (jw_demo_db) with `seed_sql`
 * run in it (may be NULL), a broker with the plugin (`plugin_opts`:
 * mosquitto.conf lines, may be NULL) and the bridge (`bridge_conf`: more
 * config lines, may be NULL), started and resynced. */
struct jw_demo_stack {
	PGconn *db;
	struct jw_broker broker;
	struct jw_bridge bridge;
};
void jw_demo_stack_up(struct jw_demo_stack *s, const struct jw_pg *pg, const char *dbname, const char *seed_sql,
		const char *plugin_opts, const char *bridge_conf);
/* Stop the bridge (which must exit 0: under valgrind, no leak), every
 * client, the broker; close the database connection. */
void jw_demo_stack_down(struct jw_demo_stack *s);

#endif
