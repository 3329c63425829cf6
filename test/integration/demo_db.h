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

#include "pg_harness.h"

/* Run SQL (several statements allowed); the test fails on error. */
void jw_exec_ok(PGconn *c, const char *sql);

/* Run the SQL file at $JW_SOURCE_DIR/<rel>. */
void jw_exec_file(PGconn *c, const char *rel);

/* CREATE DATABASE name, migrate it (the embedded migrations), load
 * schemas/demo/tables.sql and capture.sql; the conninfo goes to conninfo.
 * Returns a superuser connection to it, notices silenced. */
PGconn *jw_demo_db(const struct jw_pg *pg, const char *name, char *conninfo, size_t len);

#endif
