/*
 * Change capture against a real PostgreSQL: the migrations (jw_migrate and
 * jetwire-migrate), the demo tables with capture attached, and plain SQL
 * through libpq, as any writer would do it.  No broker, no bridge: what is
 * checked is what lands in jetwire.outbox (and the NOTIFY wake-up).
 *
 * One throwaway cluster for the whole file (started in main, with
 * track_commit_timestamp on so commit order can be checked); each test
 * works in a database of its own.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "migrate.h"
#include "pg_harness.h"

static struct jw_pg pg;

/* ---- helpers ---- */

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static PGconn *connect_as(const char *db, const char *user)
{
	char ci[600];
	jw_pg_conninfo(&pg, db, user, ci, sizeof(ci));
	PGconn *c = PQconnectdb(ci);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect to %s as %s: %s", db,
			user ? user : "superuser", PQerrorMessage(c));
	PQsetNoticeProcessor(c, NULL, NULL);
	return c;
}

/* A fresh database for this test, and a superuser connection to it. */
static PGconn *new_db(const char *name, const char *owner)
{
	char err[1024];
	ck_assert_msg(jw_pg_create_db(&pg, name, owner, err, sizeof(err)) == 0, "%s", err);
	return connect_as(name, NULL);
}

static void exec_ok(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void exec_ok(PGconn *c, const char *fmt, ...)
{
	char *sql;
	va_list ap;
	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	va_end(ap);
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s\n-> %s", sql, PQerrorMessage(c));
	PQclear(r);
	free(sql);
}

/* Run `sql`, expect it to fail; returns "SQLSTATE: message" (caller frees). */
static char *exec_fails(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	ck_assert_msg(st == PGRES_FATAL_ERROR, "expected %s to fail, got %s", sql, PQresStatus(st));
	char *out;
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	ck_assert_int_ge(asprintf(&out, "%s: %s", state ? state : "?", msg ? msg : "?"), 0);
	PQclear(r);
	return out;
}

static long scalar_long(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long scalar_long(PGconn *c, const char *fmt, ...)
{
	char *sql;
	va_list ap;
	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	va_end(ap);
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s\n-> %s", sql,
			PQerrorMessage(c));
	long v = PQgetisnull(r, 0, 0) ? -1 : atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	free(sql);
	return v;
}

/* First column of the single row as a new string; NULL for SQL NULL. */
static char *scalar_text(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *scalar_text(PGconn *c, const char *fmt, ...)
{
	char *sql;
	va_list ap;
	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	va_end(ap);
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s\n-> %s", sql,
			PQerrorMessage(c));
	char *v = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	free(sql);
	return v;
}

#define assert_text(c, expected, ...) do { \
	char *got_ = scalar_text(c, __VA_ARGS__); \
	const char *exp_ = (expected); \
	if(exp_ == NULL){ \
		ck_assert_msg(got_ == NULL, "expected NULL, got '%s'", got_); \
	}else{ \
		ck_assert_msg(got_ && !strcmp(got_, exp_), "expected '%s', got '%s'", exp_, got_ ? got_ : "NULL"); \
	} \
	free(got_); \
} while(0)

static void migrate(PGconn *c)
{
	char err[2048];
	int applied = -1;
	ck_assert_msg(jw_migrate(c, err, sizeof(err), &applied) == 0, "%s", err);
}

static void load_file(PGconn *c, const char *rel)
{
	const char *src = getenv("JW_SOURCE_DIR");
	ck_assert_msg(src != NULL, "JW_SOURCE_DIR is not set (run through ctest)");
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", src, rel);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while((n = fread(chunk, 1, sizeof(chunk), f)) > 0){
		fwrite(chunk, 1, n, mem);
	}
	fclose(f);
	fclose(mem);
	PGresult *r = PQexec(c, buf);
	ExecStatusType st = PQresultStatus(r);
	ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", rel, PQerrorMessage(c));
	PQclear(r);
	free(buf);
}

/* Migrated database with the demo tables, capture attached, and a
 * customer (1), a merchant (1) and three drivers (1..3). */
static PGconn *demo_db(const char *name)
{
	PGconn *c = new_db(name, NULL);
	migrate(c);
	load_file(c, "schemas/demo/tables.sql");
	load_file(c, "schemas/demo/capture.sql");
	exec_ok(c, "INSERT INTO customers (id, name) VALUES (1, 'Ada');"
			"INSERT INTO merchants (id, name, pickup_lat, pickup_lng) VALUES (1, 'Fresh Press', 52.52, 13.405);"
			"INSERT INTO drivers (id, name, rating, vehicle_type) VALUES "
			"(1, 'Dee', 4.8, 'BIKE'), (2, 'Eli', 4.5, 'CAR'), (3, 'Fay', 4.9, 'VAN')");
	return c;
}

static void insert_order(PGconn *c, int id)
{
	exec_ok(c, "INSERT INTO orders (id, order_number, customer_id, merchant_id) VALUES (%d, 'ORD-%d', 1, 1)",
			id, id);
}

static long outbox_count(PGconn *c)
{
	return scalar_long(c, "SELECT count(*) FROM jetwire.outbox");
}

/* Wait up to timeout_ms for a notification on jetwire_outbox. */
static bool wait_notify(PGconn *c, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	for(;;){
		ck_assert_int_eq(PQconsumeInput(c), 1);
		PGnotify *n = PQnotifies(c);
		if(n){
			bool ours = !strcmp(n->relname, "jetwire_outbox");
			PQfreemem(n);
			if(ours){
				/* drain the rest */
				while((n = PQnotifies(c))){
					PQfreemem(n);
				}
				return true;
			}
			continue;
		}
		long left = deadline - now_ms();
		if(left <= 0){
			return false;
		}
		int sock = PQsocket(c);
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(sock, &rd);
		struct timeval tv = { left / 1000, (left % 1000) * 1000 };
		select(sock + 1, &rd, NULL, NULL, &tv);
	}
}

/* ---- migrations ---- */

struct applied_log {
	int versions[16];
	int n;
};

static void record_applied(const struct jw_migration *m, void *arg)
{
	struct applied_log *log = arg;
	if(log->n < 16){
		log->versions[log->n++] = m->version;
	}
}

START_TEST(migrations_apply_on_an_empty_database_and_a_second_run_applies_nothing)
{
	PGconn *c = new_db("t_migrate", NULL);
	size_t total = jw_migration_count();
	ck_assert_uint_ge(total, 2);
	for(size_t i = 1; i < total; i++){
		ck_assert_int_gt(jw_migration_at(i)->version, jw_migration_at(i - 1)->version);
	}
	ck_assert_ptr_null(jw_migration_at(total));

	char err[2048];
	int applied = -1;
	struct applied_log log = { .n = 0 };
	ck_assert_msg(jw_migrate_ex(c, record_applied, &log, err, sizeof(err), &applied) == 0, "%s", err);
	ck_assert_int_eq(applied, (int)total);
	ck_assert_int_eq(log.n, (int)total);
	for(int i = 0; i < log.n; i++){
		ck_assert_int_eq(log.versions[i], jw_migration_at((size_t)i)->version);
	}
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.schema_migrations"), (long)total);
	assert_text(c, "0001_capture", "SELECT name FROM jetwire.schema_migrations WHERE version = 1");
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.schema_migrations WHERE applied_at IS NULL"), 0);
	/* the pieces are there */
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM pg_proc WHERE proname = 'install_capture'"), 1);
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.wakeup WHERE armed"), 1);

	ck_assert_msg(jw_migrate(c, err, sizeof(err), &applied) == 0, "%s", err);
	ck_assert_int_eq(applied, 0);
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.schema_migrations"), (long)total);

	int *versions = NULL;
	size_t n = 0;
	ck_assert_msg(jw_migrate_applied_versions(c, &versions, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(n, total);
	ck_assert_int_eq(versions[0], 1);
	free(versions);
	/* the session is left idle and unlocked */
	ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), 0);
	PQfinish(c);
}
END_TEST

START_TEST(applied_versions_of_an_unmigrated_database_are_none)
{
	PGconn *c = new_db("t_unmigrated", NULL);
	char err[1024];
	int *versions = (int *)&err;   /* must be reset */
	size_t n = 99;
	ck_assert_msg(jw_migrate_applied_versions(c, &versions, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(versions);
	PQfinish(c);
}
END_TEST

struct race {
	char db[64];
	int applied;
	int rc;
	char err[1024];
};

static void *migrate_thread(void *arg)
{
	struct race *r = arg;
	char ci[600];
	jw_pg_conninfo(&pg, r->db, NULL, ci, sizeof(ci));
	PGconn *c = PQconnectdb(ci);
	if(PQstatus(c) != CONNECTION_OK){
		snprintf(r->err, sizeof(r->err), "connect: %s", PQerrorMessage(c));
		r->rc = -1;
	}else{
		r->rc = jw_migrate(c, r->err, sizeof(r->err), &r->applied);
	}
	PQfinish(c);
	return NULL;
}

START_TEST(two_bridges_migrating_at_once_apply_each_migration_once)
{
	PGconn *c = new_db("t_race", NULL);
	struct race a = { .db = "t_race" }, b = { .db = "t_race" };
	pthread_t ta, tb;
	ck_assert_int_eq(pthread_create(&ta, NULL, migrate_thread, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, migrate_thread, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ck_assert_msg(a.rc == 0, "%s", a.err);
	ck_assert_msg(b.rc == 0, "%s", b.err);
	ck_assert_int_eq(a.applied + b.applied, (int)jw_migration_count());
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.schema_migrations"),
			(long)jw_migration_count());
	PQfinish(c);
}
END_TEST

START_TEST(migrate_refuses_a_connection_inside_a_transaction)
{
	PGconn *c = new_db("t_intx", NULL);
	exec_ok(c, "BEGIN");
	char err[1024] = "";
	int applied = -1;
	ck_assert_int_eq(jw_migrate(c, err, sizeof(err), &applied), -1);
	ck_assert_int_eq(applied, 0);
	ck_assert_msg(strstr(err, "inside a transaction") != NULL, "%s", err);
	exec_ok(c, "ROLLBACK");
	PQfinish(c);
}
END_TEST

START_TEST(migrate_failure_says_what_was_attempted_and_why)
{
	/* A role that may connect but not create anything in the database. */
	PGconn *su = new_db("t_denied", NULL);
	exec_ok(su, "CREATE ROLE jw_nobody LOGIN; REVOKE CREATE ON DATABASE t_denied FROM PUBLIC");
	PGconn *c = connect_as("t_denied", "jw_nobody");
	char err[2048] = "";
	int applied = -1;
	ck_assert_int_eq(jw_migrate(c, err, sizeof(err), &applied), -1);
	ck_assert_int_eq(applied, 0);
	ck_assert_msg(strstr(err, "creating schema jetwire") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "permission denied") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "42501") != NULL, "%s", err);
	ck_assert_msg(strchr(err, '\n') == NULL, "one line: %s", err);
	/* the lock was released */
	ck_assert_int_eq(scalar_long(su, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), 0);
	PQfinish(c);
	PQfinish(su);
}
END_TEST

START_TEST(a_failing_migration_is_reported_and_retried_whole)
{
	PGconn *c = new_db("t_fail", NULL);
	/* Something in the way of 0002: a function it replaces, with another
	 * return type. */
	exec_ok(c, "CREATE SCHEMA jetwire; CREATE FUNCTION jetwire.mapping_fields(entity text, "
			"required_only boolean DEFAULT false) RETURNS integer LANGUAGE sql AS 'SELECT 1'");
	char err[2048] = "";
	int applied = -1;
	ck_assert_int_eq(jw_migrate(c, err, sizeof(err), &applied), -1);
	ck_assert_int_eq(applied, 1);
	ck_assert_msg(strstr(err, "applying migration 0002_capture_functions "
			"(schemas/migrations/0002_capture_functions.sql") == err, "%s", err);
	ck_assert_msg(strstr(err, "cannot change return type of existing function (SQLSTATE 42P13)"), "%s", err);
	ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	/* 0001 stays, nothing of 0002 does */
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.schema_migrations"), 1);
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM pg_proc WHERE proname = 'install_capture'"), 0);

	exec_ok(c, "DROP FUNCTION jetwire.mapping_fields(text, boolean)");
	ck_assert_msg(jw_migrate(c, err, sizeof(err), &applied) == 0, "%s", err);
	ck_assert_int_eq(applied, (int)jw_migration_count() - 1);   /* all but 0001 */
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM pg_proc WHERE proname = 'install_capture'"), 1);
	PQfinish(c);
}
END_TEST

START_TEST(jetwire_migrate_applies_then_reports_up_to_date)
{
	PGconn *c = new_db("t_cli", NULL);
	const char *build = getenv("JW_BUILD_DIR");
	ck_assert_ptr_nonnull(build);
	char ci[600], cmd[1400], out[4096];
	jw_pg_conninfo(&pg, "t_cli", NULL, ci, sizeof(ci));
	for(int run = 0; run < 2; run++){
		snprintf(cmd, sizeof(cmd), "%s/bridge/jetwire-migrate \"%s\" 2>&1", build, ci);
		FILE *p = popen(cmd, "r");
		ck_assert_ptr_nonnull(p);
		size_t n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		int status = pclose(p);
		ck_assert_msg(status == 0, "exit %d: %s", status, out);
		if(run == 0){
			ck_assert_msg(strstr(out, "applied 0001_capture\n") != NULL, "%s", out);
			ck_assert_msg(strstr(out, "applied 0002_capture_functions\n") != NULL, "%s", out);
		}else{
			ck_assert_msg(strstr(out, "applied 0") == NULL, "%s", out);
			ck_assert_msg(strstr(out, "up to date") != NULL, "%s", out);
		}
	}
	snprintf(cmd, sizeof(cmd), "%s/bridge/jetwire-migrate --status \"%s\" 2>&1", build, ci);
	FILE *p = popen(cmd, "r");
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(strstr(out, "applied  0001_capture") && strstr(out, "0 pending"), "%s", out);
	/* unreachable database: non-zero, and the reason */
	snprintf(cmd, sizeof(cmd), "%s/bridge/jetwire-migrate \"host=127.0.0.1 port=1 connect_timeout=2\" 2>&1",
			build);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	ck_assert_int_ne(pclose(p), 0);
	ck_assert_msg(strstr(out, "connecting to PostgreSQL") != NULL, "%s", out);
	PQfinish(c);
}
END_TEST

/* ---- order capture ---- */

START_TEST(inserting_an_order_writes_one_outbox_row_with_version_1)
{
	PGconn *c = demo_db("t_insert");
	insert_order(c, 7);
	ck_assert_int_eq(outbox_count(c), 1);
	assert_text(c, "order|7|1|insert|public.orders",
			"SELECT concat_ws('|', entity, entity_id, version, op, source) FROM jetwire.outbox");
	assert_text(c, "ORD-7", "SELECT data->>'orderNumber' FROM jetwire.outbox");
	assert_text(c, "PENDING", "SELECT data->>'status' FROM jetwire.outbox");
	assert_text(c, "null", "SELECT jsonb_typeof(data->'previousStatus') FROM jetwire.outbox");
	assert_text(c, "1", "SELECT data->>'customerId' FROM jetwire.outbox");
	assert_text(c, "1", "SELECT data->>'merchantId' FROM jetwire.outbox");
	assert_text(c, NULL, "SELECT data->>'pickupDriverId' FROM jetwire.outbox");
	assert_text(c, NULL, "SELECT data->>'deliveryDriverId' FROM jetwire.outbox");
	/* exactly the documented fields */
	assert_text(c, "customerId,deliveryDriverId,merchantId,orderNumber,pickupDriverId,previousDeliveryDriverId,"
			"previousPickupDriverId,previousStatus,status",
			"SELECT string_agg(k, ',' ORDER BY k) FROM jetwire.outbox, jsonb_object_keys(data) k");
	ck_assert_int_eq(scalar_long(c, "SELECT version FROM jetwire.entity_version "
			"WHERE entity = 'order' AND entity_id = '7'"), 1);
	PQfinish(c);
}
END_TEST

START_TEST(status_update_writes_version_2_with_previous_status)
{
	PGconn *c = demo_db("t_update");
	insert_order(c, 7);
	exec_ok(c, "UPDATE orders SET status = 'CONFIRMED' WHERE id = 7");
	ck_assert_int_eq(outbox_count(c), 2);
	assert_text(c, "2|update|CONFIRMED|PENDING|ORD-7",
			"SELECT concat_ws('|', version, op, data->>'status', data->>'previousStatus', data->>'orderNumber') "
			"FROM jetwire.outbox ORDER BY id DESC LIMIT 1");
	PQfinish(c);
}
END_TEST

START_TEST(update_of_unmapped_columns_writes_nothing)
{
	PGconn *c = demo_db("t_unmapped");
	insert_order(c, 7);
	exec_ok(c, "UPDATE orders SET updated_at = now() - interval '1 hour', picked_up_at = now() WHERE id = 7");
	exec_ok(c, "UPDATE orders SET status = 'PENDING' WHERE id = 7");   /* same value */
	ck_assert_int_eq(outbox_count(c), 1);
	ck_assert_int_eq(scalar_long(c, "SELECT version FROM jetwire.entity_version WHERE entity_id = '7'"), 1);
	exec_ok(c, "UPDATE orders SET status = 'CONFIRMED', updated_at = now() WHERE id = 7");
	ck_assert_int_eq(outbox_count(c), 2);
	ck_assert_int_eq(scalar_long(c, "SELECT max(version) FROM jetwire.outbox"), 2);
	PQfinish(c);
}
END_TEST

START_TEST(driver_assignment_carries_the_driver_and_the_previous_one)
{
	PGconn *c = demo_db("t_assign");
	insert_order(c, 7);
	exec_ok(c, "UPDATE orders SET pickup_driver_id = 1, status = 'ASSIGNED_TO_DRIVER' WHERE id = 7");
	assert_text(c, "2|ASSIGNED_TO_DRIVER|1||",
			"SELECT concat_ws('|', version, data->>'status', data->>'pickupDriverId', "
			"coalesce(data->>'previousPickupDriverId', ''), coalesce(data->>'deliveryDriverId', '')) "
			"FROM jetwire.outbox ORDER BY id DESC LIMIT 1");
	/* reassignment: the previous driver is named, so its access can end */
	exec_ok(c, "UPDATE orders SET pickup_driver_id = 2 WHERE id = 7");
	assert_text(c, "3|2|1", "SELECT concat_ws('|', version, data->>'pickupDriverId', "
			"data->>'previousPickupDriverId') FROM jetwire.outbox ORDER BY id DESC LIMIT 1");
	/* delivery driver */
	exec_ok(c, "UPDATE orders SET delivery_driver_id = 3 WHERE id = 7");
	assert_text(c, "4|3||2", "SELECT concat_ws('|', version, data->>'deliveryDriverId', "
			"coalesce(data->>'previousDeliveryDriverId', ''), data->>'pickupDriverId') "
			"FROM jetwire.outbox ORDER BY id DESC LIMIT 1");
	/* unassignment */
	exec_ok(c, "UPDATE orders SET pickup_driver_id = NULL WHERE id = 7");
	assert_text(c, "5||2", "SELECT concat_ws('|', version, coalesce(data->>'pickupDriverId', ''), "
			"data->>'previousPickupDriverId') FROM jetwire.outbox ORDER BY id DESC LIMIT 1");
	PQfinish(c);
}
END_TEST

START_TEST(deleting_an_order_writes_a_delete_with_the_last_state)
{
	PGconn *c = demo_db("t_delete");
	insert_order(c, 7);
	exec_ok(c, "UPDATE orders SET pickup_driver_id = 1, status = 'ASSIGNED_TO_DRIVER' WHERE id = 7");
	exec_ok(c, "DELETE FROM orders WHERE id = 7");
	assert_text(c, "7|3|delete||ASSIGNED_TO_DRIVER|1|1|1",
			"SELECT concat_ws('|', entity_id, version, op, coalesce(data->>'status', ''), "
			"data->>'previousStatus', data->>'previousPickupDriverId', data->>'customerId', "
			"data->>'merchantId') FROM jetwire.outbox ORDER BY id DESC LIMIT 1");
	/* the version survives the row: a re-created id continues */
	insert_order(c, 7);
	ck_assert_int_eq(scalar_long(c, "SELECT version FROM jetwire.outbox ORDER BY id DESC LIMIT 1"), 4);
	PQfinish(c);
}
END_TEST

START_TEST(changing_an_order_id_writes_a_delete_and_an_insert)
{
	PGconn *c = demo_db("t_rekey");
	insert_order(c, 7);
	exec_ok(c, "UPDATE orders SET id = 8 WHERE id = 7");
	ck_assert_int_eq(outbox_count(c), 3);
	assert_text(c, "7:2:delete,8:1:insert", "SELECT string_agg(concat_ws(':', entity_id, version, op), ',' "
			"ORDER BY id) FROM jetwire.outbox WHERE id > (SELECT min(id) FROM jetwire.outbox)");
	PQfinish(c);
}
END_TEST

START_TEST(two_updates_in_one_transaction_write_consecutive_versions_in_order)
{
	PGconn *c = demo_db("t_twice");
	insert_order(c, 7);
	exec_ok(c, "BEGIN;"
			"UPDATE orders SET status = 'CONFIRMED' WHERE id = 7;"
			"UPDATE orders SET status = 'ASSIGNED_TO_DRIVER', pickup_driver_id = 1 WHERE id = 7;"
			"COMMIT");
	assert_text(c, "2:PENDING>CONFIRMED,3:CONFIRMED>ASSIGNED_TO_DRIVER",
			"SELECT string_agg(version || ':' || (data->>'previousStatus') || '>' || (data->>'status'), ',' "
			"ORDER BY id) FROM jetwire.outbox WHERE version > 1");
	PQfinish(c);
}
END_TEST

START_TEST(rolled_back_transaction_writes_nothing_and_leaves_no_gap)
{
	PGconn *c = demo_db("t_rollback");
	insert_order(c, 7);
	exec_ok(c, "BEGIN; UPDATE orders SET status = 'CONFIRMED' WHERE id = 7; ROLLBACK");
	exec_ok(c, "BEGIN; INSERT INTO orders (id, order_number, customer_id, merchant_id) "
			"VALUES (8, 'ORD-8', 1, 1); ROLLBACK");
	ck_assert_int_eq(outbox_count(c), 1);
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.entity_version"), 1);
	exec_ok(c, "UPDATE orders SET status = 'CANCELLED' WHERE id = 7");
	ck_assert_int_eq(scalar_long(c, "SELECT version FROM jetwire.outbox ORDER BY id DESC LIMIT 1"), 2);
	PQfinish(c);
}
END_TEST

START_TEST(truncate_writes_a_truncate_row)
{
	PGconn *c = demo_db("t_truncate");
	insert_order(c, 7);
	exec_ok(c, "TRUNCATE orders");
	assert_text(c, "order|truncate|0|public.orders", "SELECT concat_ws('|', entity, op, version, source) "
			"FROM jetwire.outbox ORDER BY id DESC LIMIT 1");
	PQfinish(c);
}
END_TEST

/* ---- concurrency ---- */

#define N_ORDERS 10
#define N_WORKERS 8
#define N_TXNS 40

struct worker {
	PGconn *c;
	int left;
	bool busy;
	int a, b;
	bool failed;
};

START_TEST(concurrent_transactions_get_versions_in_commit_order_without_gaps)
{
	PGconn *c = demo_db("t_concurrent");
	for(int i = 1; i <= N_ORDERS; i++){
		insert_order(c, i);
	}
	int updates[N_ORDERS + 1] = { 0 };
	struct worker w[N_WORKERS];
	unsigned seed = 12345;
	for(int i = 0; i < N_WORKERS; i++){
		w[i] = (struct worker){ .c = connect_as("t_concurrent", NULL), .left = N_TXNS };
	}
	/* Each transaction changes two orders, locking them in id order (no
	 * deadlock); the status cycles so every update is an event.  Orders
	 * overlap between connections, so transactions wait on each other and
	 * commit in an order unrelated to when they took their outbox ids. */
	const char *next = "CASE status WHEN 'PENDING' THEN 'CONFIRMED' WHEN 'CONFIRMED' THEN 'IN_PROCESS' "
			"ELSE 'PENDING' END";
	long deadline = now_ms() + 60000;
	for(;;){
		int active = 0;
		fd_set rd;
		FD_ZERO(&rd);
		int maxfd = -1;
		for(int i = 0; i < N_WORKERS; i++){
			struct worker *k = &w[i];
			if(!k->busy && k->left > 0){
				k->a = 1 + (int)(rand_r(&seed) % N_ORDERS);
				do{
					k->b = 1 + (int)(rand_r(&seed) % N_ORDERS);
				}while(k->b == k->a);
				if(k->a > k->b){
					int t = k->a;
					k->a = k->b;
					k->b = t;
				}
				char sql[800];
				snprintf(sql, sizeof(sql), "BEGIN; UPDATE orders SET status = %s WHERE id = %d; "
						"%sUPDATE orders SET status = %s WHERE id = %d; COMMIT",
						next, k->a, (i % 3 == 0) ? "SELECT pg_sleep(0.001); " : "", next, k->b);
				ck_assert_msg(PQsendQuery(k->c, sql) == 1, "%s", PQerrorMessage(k->c));
				k->busy = true;
			}
			if(k->busy){
				active++;
				int s = PQsocket(k->c);
				FD_SET(s, &rd);
				if(s > maxfd){
					maxfd = s;
				}
			}
		}
		if(!active){
			break;
		}
		ck_assert_msg(now_ms() < deadline, "concurrent transactions did not finish in 60 s");
		struct timeval tv = { 1, 0 };
		select(maxfd + 1, &rd, NULL, NULL, &tv);
		for(int i = 0; i < N_WORKERS; i++){
			struct worker *k = &w[i];
			if(!k->busy){
				continue;
			}
			ck_assert_int_eq(PQconsumeInput(k->c), 1);
			while(k->busy && !PQisBusy(k->c)){
				PGresult *r = PQgetResult(k->c);
				if(!r){
					k->busy = false;
					k->left--;
					ck_assert_msg(!k->failed, "a transaction failed: %s", PQerrorMessage(k->c));
					updates[k->a]++;
					updates[k->b]++;
					break;
				}
				ExecStatusType st = PQresultStatus(r);
				if(st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK){
					k->failed = true;
				}
				PQclear(r);
			}
		}
	}
	for(int i = 0; i < N_WORKERS; i++){
		PQfinish(w[i].c);
	}

	/* Every committed update is one row: 1 insert + its updates per order. */
	for(int i = 1; i <= N_ORDERS; i++){
		ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.outbox WHERE entity_id = '%d'", i),
				1 + updates[i]);
	}
	/* Versions per order are 1..n, no gap, no duplicate. */
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM (SELECT version, row_number() OVER "
			"(PARTITION BY entity_id ORDER BY version) AS rn FROM jetwire.outbox) s WHERE version <> rn"), 0);
	/* ... in commit order: a higher version never committed before a lower one. */
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.outbox WHERE pg_xact_commit_timestamp(xmin) IS NULL"), 0);
	ck_assert_int_eq(scalar_long(c,
			"SELECT count(*) FROM (SELECT xmin, pg_xact_commit_timestamp(xmin) AS ts, "
			" lag(xmin) OVER w AS pxmin, lag(pg_xact_commit_timestamp(xmin)) OVER w AS pts "
			" FROM jetwire.outbox WINDOW w AS (PARTITION BY entity_id ORDER BY version)) s "
			"WHERE pxmin IS NOT NULL AND NOT (xmin = pxmin) AND ts <= pts"), 0);
	/* ... chained: each previousStatus is the status of the version before. */
	ck_assert_int_eq(scalar_long(c,
			"SELECT count(*) FROM (SELECT version, data->>'previousStatus' AS prev, "
			" lag(data->>'status') OVER (PARTITION BY entity_id ORDER BY version) AS before "
			" FROM jetwire.outbox) s WHERE version > 1 AND prev IS DISTINCT FROM before"), 0);
	/* ... and the last version is the table's state and the stored version. */
	ck_assert_int_eq(scalar_long(c,
			"SELECT count(*) FROM orders o "
			"JOIN jetwire.entity_version ev ON ev.entity = 'order' AND ev.entity_id = o.id::text "
			"JOIN jetwire.outbox x ON x.entity_id = o.id::text AND x.version = ev.version "
			"WHERE x.data->>'status' = o.status"), N_ORDERS);
	PQfinish(c);
}
END_TEST

/* ---- the wake-up ---- */

START_TEST(notify_wakes_a_listener_after_commit_and_not_after_rollback)
{
	PGconn *c = demo_db("t_notify");
	PGconn *l = connect_as("t_notify", NULL);
	exec_ok(l, "LISTEN jetwire_outbox");

	exec_ok(c, "BEGIN");
	insert_order(c, 1);
	ck_assert_msg(!wait_notify(l, 300), "notified before commit");
	exec_ok(c, "COMMIT");
	ck_assert_msg(wait_notify(l, 5000), "no notification after commit");

	exec_ok(c, "BEGIN; UPDATE orders SET status = 'CONFIRMED' WHERE id = 1; ROLLBACK");
	ck_assert_msg(!wait_notify(l, 300), "notified after rollback");

	/* notifications too */
	exec_ok(c, "INSERT INTO notifications (user_type, user_id, title) VALUES ('customer', '1', 'Hi')");
	ck_assert_msg(wait_notify(l, 5000), "no notification for a notification row");

	/* disarmed (the bridge is busy draining): no NOTIFY, the row is still written */
	exec_ok(c, "UPDATE jetwire.wakeup SET armed = false, changed_at = now()");
	exec_ok(c, "UPDATE orders SET status = 'CONFIRMED' WHERE id = 1");
	ck_assert_msg(!wait_notify(l, 300), "notified while disarmed");
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.outbox WHERE version = 2"), 1);
	/* ... except for a writer whose snapshot may predate the arming */
	exec_ok(c, "BEGIN ISOLATION LEVEL REPEATABLE READ; UPDATE orders SET status = 'IN_PROCESS' WHERE id = 1; "
			"COMMIT");
	ck_assert_msg(wait_notify(l, 5000), "a REPEATABLE READ writer did not notify while disarmed");
	exec_ok(c, "UPDATE jetwire.wakeup SET armed = true, changed_at = now()");
	exec_ok(c, "UPDATE orders SET status = 'CANCELLED' WHERE id = 1");
	ck_assert_msg(wait_notify(l, 5000), "no notification after re-arming");
	PQfinish(l);
	PQfinish(c);
}
END_TEST

/* ---- attaching to other tables ---- */

static const char *prisma_mapping = "'{\"id\": \"id\", \"orderNumber\": \"orderNumber\", \"status\": \"status\", "
	"\"customerId\": \"customerId\", \"merchantId\": \"merchantId\", "
	"\"pickupDriverId\": \"pickupDriverId\", \"deliveryDriverId\": \"deliveryDriverId\"}'";

START_TEST(prisma_style_table_is_captured_through_its_mapping)
{
	PGconn *c = new_db("t_prisma", NULL);
	migrate(c);
	exec_ok(c, "CREATE TYPE \"OrderStatus\" AS ENUM ('PENDING', 'CONFIRMED', 'ASSIGNED_TO_DRIVER', 'PICKED_UP', "
			"'IN_PROCESS', 'READY_FOR_DELIVERY', 'OUT_FOR_DELIVERY', 'DELIVERED', 'CANCELLED');"
			"CREATE TABLE \"Order\" ("
			" \"id\" uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
			" \"orderNumber\" text NOT NULL,"
			" \"status\" \"OrderStatus\" NOT NULL DEFAULT 'PENDING',"
			" \"customerId\" text NOT NULL,"
			" \"merchantId\" text NOT NULL,"
			" \"pickupDriverId\" text,"
			" \"deliveryDriverId\" text,"
			" \"totalAmount\" numeric(10,2),"
			" \"createdAt\" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,"
			" \"updatedAt\" timestamp(3) NOT NULL)");
	exec_ok(c, "SELECT jetwire.install_capture('\"Order\"', 'order', %s)", prisma_mapping);
	exec_ok(c, "INSERT INTO \"Order\" (\"id\", \"orderNumber\", \"customerId\", \"merchantId\", \"updatedAt\") "
			"VALUES ('6f1c1d3e-8a53-4a52-9b0e-3f1e2d4c5b6a', 'DJ-1001', 'cus_1', 'mer_1', now())");
	exec_ok(c, "UPDATE \"Order\" SET \"status\" = 'ASSIGNED_TO_DRIVER', \"pickupDriverId\" = 'drv_9', "
			"\"updatedAt\" = now()");
	exec_ok(c, "UPDATE \"Order\" SET \"totalAmount\" = 19.90, \"updatedAt\" = now()");   /* unmapped */
	ck_assert_int_eq(outbox_count(c), 2);
	assert_text(c, "6f1c1d3e-8a53-4a52-9b0e-3f1e2d4c5b6a|1|insert|DJ-1001|PENDING|cus_1|mer_1|public.\"Order\"",
			"SELECT concat_ws('|', entity_id, version, op, data->>'orderNumber', data->>'status', "
			"data->>'customerId', data->>'merchantId', source) FROM jetwire.outbox ORDER BY id LIMIT 1");
	assert_text(c, "2|ASSIGNED_TO_DRIVER|PENDING|drv_9",
			"SELECT concat_ws('|', version, data->>'status', data->>'previousStatus', data->>'pickupDriverId') "
			"FROM jetwire.outbox ORDER BY id DESC LIMIT 1");
	assert_text(c, "order", "SELECT entity FROM jetwire.capture WHERE table_name = '\"Order\"'::regclass");
	PQfinish(c);
}
END_TEST

static const char *demo_order_mapping = "'{\"id\": \"id\", \"orderNumber\": \"order_number\", "
	"\"status\": \"status\", \"customerId\": \"customer_id\", \"merchantId\": \"merchant_id\", "
	"\"pickupDriverId\": \"pickup_driver_id\", \"deliveryDriverId\": \"delivery_driver_id\"}'";

static long capture_triggers(PGconn *c, const char *table)
{
	return scalar_long(c, "SELECT count(*) FROM pg_trigger WHERE tgrelid = '%s'::regclass "
			"AND NOT tgisinternal AND tgname LIKE 'jetwire%%'", table);
}

START_TEST(installing_twice_is_idempotent)
{
	PGconn *c = demo_db("t_install_twice");
	ck_assert_int_eq(capture_triggers(c, "orders"), 3);
	exec_ok(c, "SELECT jetwire.install_capture('orders', 'order', %s)", demo_order_mapping);
	exec_ok(c, "SELECT jetwire.install_capture('public.orders', 'order', %s)", demo_order_mapping);
	ck_assert_int_eq(capture_triggers(c, "orders"), 3);
	ck_assert_int_eq(capture_triggers(c, "notifications"), 1);
	ck_assert_int_eq(capture_triggers(c, "drivers"), 0);    /* looked up, not captured */
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.capture"), 4);   /* + drivers, merchants: looked up */
	insert_order(c, 7);
	exec_ok(c, "UPDATE orders SET status = 'CONFIRMED' WHERE id = 7");
	ck_assert_int_eq(outbox_count(c), 2);
	PQfinish(c);
}
END_TEST

START_TEST(uninstall_removes_triggers_and_registry_and_capture_stops)
{
	PGconn *c = demo_db("t_uninstall");
	insert_order(c, 7);
	assert_text(c, "t", "SELECT jetwire.uninstall_capture('orders')");
	ck_assert_int_eq(capture_triggers(c, "orders"), 0);
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.capture WHERE table_name = 'orders'::regclass"), 0);
	exec_ok(c, "UPDATE orders SET status = 'CONFIRMED' WHERE id = 7");
	insert_order(c, 8);
	exec_ok(c, "DELETE FROM orders WHERE id = 8");
	exec_ok(c, "TRUNCATE orders");
	ck_assert_int_eq(outbox_count(c), 1);   /* only the insert from before */
	assert_text(c, "f", "SELECT jetwire.uninstall_capture('orders')");
	/* the demo's own trigger is untouched */
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM pg_trigger WHERE tgname = 'demo_orders_touch'"), 1);
	/* notifications are still captured */
	exec_ok(c, "INSERT INTO notifications (user_type, user_id, title) VALUES ('driver', '2', 'x')");
	ck_assert_int_eq(outbox_count(c), 2);
	PQfinish(c);
}
END_TEST

START_TEST(install_with_a_missing_column_fails_naming_the_column)
{
	PGconn *c = demo_db("t_bad_mapping");
	exec_ok(c, "SELECT jetwire.uninstall_capture('orders')");
	char *e = exec_fails(c, "SELECT jetwire.install_capture('orders', 'order', '{\"id\": \"id\", "
			"\"orderNumber\": \"order_number\", \"status\": \"status\", \"customerId\": \"customer_id\", "
			"\"merchantId\": \"merchant_id\", \"pickupDriverId\": \"pickup_driver\"}')");
	ck_assert_msg(strstr(e, "42703: ") == e, "%s", e);
	ck_assert_msg(strstr(e, "table public.orders has no column \"pickup_driver\" (mapped from \"pickupDriverId\")"),
			"%s", e);
	free(e);
	ck_assert_int_eq(capture_triggers(c, "orders"), 0);
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.capture WHERE table_name = 'orders'::regclass"), 0);

	/* case matters: the Prisma mapping on the snake_case table */
	e = exec_fails(c, "SELECT jetwire.install_capture('orders', 'order', '{\"id\": \"id\", "
			"\"orderNumber\": \"orderNumber\", \"status\": \"status\", \"customerId\": \"customer_id\", "
			"\"merchantId\": \"merchant_id\"}')");
	ck_assert_msg(strstr(e, "no column \"orderNumber\""), "%s", e);
	free(e);
	/* a required field left out */
	e = exec_fails(c, "SELECT jetwire.install_capture('orders', 'order', '{\"id\": \"id\", \"status\": \"status\", "
			"\"customerId\": \"customer_id\", \"merchantId\": \"merchant_id\"}')");
	ck_assert_msg(strstr(e, "has no \"orderNumber\""), "%s", e);
	free(e);
	/* a misspelt field */
	e = exec_fails(c, "SELECT jetwire.install_capture('orders', 'order', '{\"id\": \"id\", "
			"\"orderNumber\": \"order_number\", \"status\": \"status\", \"customerId\": \"customer_id\", "
			"\"merchantId\": \"merchant_id\", \"pickupDriverID\": \"pickup_driver_id\"}')");
	ck_assert_msg(strstr(e, "unknown field \"pickupDriverID\""), "%s", e);
	free(e);
	/* an unknown entity, and something that is not a table */
	e = exec_fails(c, "SELECT jetwire.install_capture('orders', 'invoice', '{}')");
	ck_assert_msg(strstr(e, "unknown entity 'invoice'"), "%s", e);
	free(e);
	exec_ok(c, "CREATE VIEW orders_view AS SELECT * FROM orders");
	e = exec_fails(c, "SELECT jetwire.install_capture('orders_view', 'order', '{}')");
	ck_assert_msg(strstr(e, "orders_view is not a table"), "%s", e);
	free(e);
	PQfinish(c);
}
END_TEST

START_TEST(notification_insert_is_captured)
{
	PGconn *c = demo_db("t_notification");
	exec_ok(c, "INSERT INTO notifications (id, user_type, user_id, title, body, data) VALUES "
			"(5, 'customer', '42', 'Order picked up', 'Your laundry is on its way', '{\"orderId\": \"7\"}')");
	assert_text(c, "notification|5|1|insert|public.notifications",
			"SELECT concat_ws('|', entity, entity_id, version, op, source) FROM jetwire.outbox");
	assert_text(c, "customer|42|Order picked up|Your laundry is on its way|7|object",
			"SELECT concat_ws('|', data->>'userType', data->>'userId', data->>'title', data->>'body', "
			"data->'data'->>'orderId', jsonb_typeof(data->'data')) FROM jetwire.outbox");
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.outbox WHERE data->>'createdAt' IS NOT NULL"), 1);
	/* updates and deletes of notifications are not events */
	exec_ok(c, "UPDATE notifications SET read_at = now(), title = 'x'; DELETE FROM notifications");
	ck_assert_int_eq(outbox_count(c), 1);
	PQfinish(c);
}
END_TEST

START_TEST(row_with_a_null_mapped_id_is_written_with_version_0)
{
	PGconn *c = new_db("t_null_id", NULL);
	migrate(c);
	exec_ok(c, "CREATE TABLE legacy_orders (ref text, number text, state text, buyer text, shop text)");
	exec_ok(c, "SELECT jetwire.install_capture('legacy_orders', 'order', '{\"id\": \"ref\", "
			"\"orderNumber\": \"number\", \"status\": \"state\", \"customerId\": \"buyer\", \"merchantId\": \"shop\"}')");
	exec_ok(c, "INSERT INTO legacy_orders VALUES (NULL, 'L-1', 'PENDING', 'c1', 'm1'), "
			"(NULL, 'L-2', 'PENDING', 'c2', 'm1'), ('r3', 'L-3', 'PENDING', 'c3', 'm1')");
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.outbox WHERE entity_id IS NULL AND version = 0"), 2);
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.outbox WHERE entity_id = 'r3' AND version = 1"), 1);
	ck_assert_int_eq(scalar_long(c, "SELECT count(*) FROM jetwire.entity_version"), 1);
	/* unmapped optional fields are null */
	assert_text(c, NULL, "SELECT data->>'pickupDriverId' FROM jetwire.outbox WHERE entity_id = 'r3'");
	PQfinish(c);
}
END_TEST

START_TEST(capture_works_for_a_non_superuser_owner_and_any_writer)
{
	char err[1024];
	ck_assert_msg(jw_pg_exec(&pg, "postgres",
			"CREATE ROLE jw_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;"
			"CREATE ROLE jw_api LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION", err, sizeof(err)) == 0,
			"%s", err);
	PGconn *su = new_db("t_roles", "jw_app");
	exec_ok(su, "REVOKE ALL ON DATABASE t_roles FROM PUBLIC; GRANT CONNECT ON DATABASE t_roles TO jw_api");

	/* the owner: migrations, tables, capture */
	PGconn *app = connect_as("t_roles", "jw_app");
	assert_text(app, "f", "SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
	assert_text(app, "f", "SELECT rolreplication FROM pg_roles WHERE rolname = current_user");
	migrate(app);
	load_file(app, "schemas/demo/tables.sql");
	load_file(app, "schemas/demo/capture.sql");
	exec_ok(app, "INSERT INTO customers (id, name) VALUES (1, 'Ada');"
			"INSERT INTO merchants (id, name, pickup_lat, pickup_lng) VALUES (1, 'M', 1, 2)");
	insert_order(app, 1);
	ck_assert_int_eq(outbox_count(app), 1);
	assert_text(app, "jw_app", "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'jetwire'");

	/* an application role that may only write the orders table */
	exec_ok(app, "GRANT USAGE ON SCHEMA public TO jw_api;"
			"GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO jw_api;"
			"GRANT SELECT ON customers, merchants, drivers TO jw_api");
	PGconn *api = connect_as("t_roles", "jw_api");
	exec_ok(api, "UPDATE orders SET status = 'CONFIRMED' WHERE id = 1");
	exec_ok(api, "INSERT INTO orders (id, order_number, customer_id, merchant_id) VALUES (2, 'ORD-2', 1, 1)");
	exec_ok(api, "DELETE FROM orders WHERE id = 2");
	ck_assert_int_eq(outbox_count(app), 4);
	assert_text(app, "2|CONFIRMED", "SELECT version || '|' || (data->>'status') FROM jetwire.outbox "
			"WHERE entity_id = '1' ORDER BY id DESC LIMIT 1");
	/* ... which can neither read the outbox nor forge rows through the
	 * capture functions */
	char *e = exec_fails(api, "SELECT count(*) FROM jetwire.outbox");
	ck_assert_msg(strstr(e, "42501") == e, "%s", e);
	free(e);
	e = exec_fails(api, "SELECT jetwire.install_capture('orders', 'order', '{}')");
	ck_assert_msg(strstr(e, "42501") == e, "%s", e);
	free(e);
	exec_ok(app, "GRANT CREATE ON SCHEMA public TO jw_api");
	exec_ok(api, "CREATE TABLE forged (id text)");
	e = exec_fails(api, "CREATE TRIGGER f AFTER INSERT ON forged FOR EACH ROW "
			"EXECUTE FUNCTION jetwire.capture_order('id','id','id','id','id','','')");
	ck_assert_msg(strstr(e, "42501") == e, "%s", e);
	free(e);

	/* a second table owner, with the grants docs/capture.md lists */
	exec_ok(su, "CREATE ROLE jw_tables LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;"
			"GRANT CONNECT ON DATABASE t_roles TO jw_tables");
	exec_ok(app, "GRANT CREATE ON SCHEMA public TO jw_tables;"
			"GRANT USAGE ON SCHEMA jetwire TO jw_tables;"
			"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA jetwire TO jw_tables;"
			"GRANT SELECT, INSERT, UPDATE, DELETE ON jetwire.capture TO jw_tables");
	PGconn *tables = connect_as("t_roles", "jw_tables");
	exec_ok(tables, "CREATE TABLE shop_orders (id text PRIMARY KEY, no text, st text, cust text, merch text)");
	exec_ok(tables, "SELECT jetwire.install_capture('shop_orders', 'order', '{\"id\": \"id\", "
			"\"orderNumber\": \"no\", \"status\": \"st\", \"customerId\": \"cust\", \"merchantId\": \"merch\"}')");
	exec_ok(tables, "INSERT INTO shop_orders VALUES ('s1', 'S-1', 'PENDING', 'c', 'm')");
	assert_text(app, "public.shop_orders|1", "SELECT source || '|' || version FROM jetwire.outbox "
			"WHERE entity_id = 's1'");
	assert_text(tables, "t", "SELECT jetwire.uninstall_capture('shop_orders')");

	PQfinish(tables);
	PQfinish(api);
	PQfinish(app);
	PQfinish(su);
}
END_TEST

/* ---- durability ---- */

START_TEST(committed_changes_survive_a_postgres_crash)
{
	/* A cluster of its own: this test kills it. */
	struct jw_pg own;
	char err[2048];
	ck_assert_msg(jw_pg_start(&own, NULL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(jw_pg_create_db(&own, "crash", NULL, err, sizeof(err)) == 0, "%s", err);
	char ci[600];
	jw_pg_conninfo(&own, "crash", NULL, ci, sizeof(ci));
	PGconn *c = PQconnectdb(ci);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	migrate(c);
	load_file(c, "schemas/demo/tables.sql");
	load_file(c, "schemas/demo/capture.sql");
	exec_ok(c, "INSERT INTO customers (id, name) VALUES (1, 'Ada');"
			"INSERT INTO merchants (id, name, pickup_lat, pickup_lng) VALUES (1, 'M', 1, 2)");
	insert_order(c, 1);
	exec_ok(c, "UPDATE orders SET status = 'CONFIRMED' WHERE id = 1");
	PQfinish(c);

	ck_assert_msg(jw_pg_halt(&own, SIGKILL, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(PQping(ci), PQPING_NO_RESPONSE);
	ck_assert_msg(jw_pg_resume(&own, err, sizeof(err)) == 0, "%s", err);

	c = PQconnectdb(ci);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	ck_assert_int_eq(outbox_count(c), 2);
	exec_ok(c, "UPDATE orders SET status = 'CANCELLED' WHERE id = 1");
	ck_assert_int_eq(scalar_long(c, "SELECT max(version) FROM jetwire.outbox"), 3);
	PQfinish(c);
	ck_assert_msg(jw_pg_stop(&own, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

int main(void)
{
	char err[2048];
	struct jw_pg_opts opts = { .settings = "track_commit_timestamp=on max_connections=60" };
	if(jw_pg_start(&pg, &opts, err, sizeof(err)) != 0){
		fprintf(stderr, "it_capture: cannot start PostgreSQL: %s\n", err);
		return EXIT_FAILURE;
	}

	Suite *s = suite_create("capture");
	TCase *tm = tcase_create("migrations");
	tcase_set_timeout(tm, 60);
	tcase_add_test(tm, migrations_apply_on_an_empty_database_and_a_second_run_applies_nothing);
	tcase_add_test(tm, applied_versions_of_an_unmigrated_database_are_none);
	tcase_add_test(tm, two_bridges_migrating_at_once_apply_each_migration_once);
	tcase_add_test(tm, migrate_refuses_a_connection_inside_a_transaction);
	tcase_add_test(tm, migrate_failure_says_what_was_attempted_and_why);
	tcase_add_test(tm, a_failing_migration_is_reported_and_retried_whole);
	tcase_add_test(tm, jetwire_migrate_applies_then_reports_up_to_date);
	suite_add_tcase(s, tm);

	TCase *to = tcase_create("orders");
	tcase_set_timeout(to, 60);
	tcase_add_test(to, inserting_an_order_writes_one_outbox_row_with_version_1);
	tcase_add_test(to, status_update_writes_version_2_with_previous_status);
	tcase_add_test(to, update_of_unmapped_columns_writes_nothing);
	tcase_add_test(to, driver_assignment_carries_the_driver_and_the_previous_one);
	tcase_add_test(to, deleting_an_order_writes_a_delete_with_the_last_state);
	tcase_add_test(to, changing_an_order_id_writes_a_delete_and_an_insert);
	tcase_add_test(to, two_updates_in_one_transaction_write_consecutive_versions_in_order);
	tcase_add_test(to, rolled_back_transaction_writes_nothing_and_leaves_no_gap);
	tcase_add_test(to, truncate_writes_a_truncate_row);
	tcase_add_test(to, concurrent_transactions_get_versions_in_commit_order_without_gaps);
	tcase_add_test(to, notify_wakes_a_listener_after_commit_and_not_after_rollback);
	suite_add_tcase(s, to);

	TCase *ti = tcase_create("install");
	tcase_set_timeout(ti, 60);
	tcase_add_test(ti, prisma_style_table_is_captured_through_its_mapping);
	tcase_add_test(ti, installing_twice_is_idempotent);
	tcase_add_test(ti, uninstall_removes_triggers_and_registry_and_capture_stops);
	tcase_add_test(ti, install_with_a_missing_column_fails_naming_the_column);
	tcase_add_test(ti, notification_insert_is_captured);
	tcase_add_test(ti, row_with_a_null_mapped_id_is_written_with_version_0);
	tcase_add_test(ti, capture_works_for_a_non_superuser_owner_and_any_writer);
	tcase_add_test(ti, committed_changes_survive_a_postgres_crash);
	suite_add_tcase(s, ti);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if(jw_pg_stop(&pg, err, sizeof(err)) != 0){
		fprintf(stderr, "it_capture: stopping PostgreSQL: %s\n", err);
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
