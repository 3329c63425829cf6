/*
 * The bridge end to end: a real PostgreSQL (pg_harness, one throwaway
 * cluster for the file, a database per test), a real mosquitto with the
 * plugin and acl/default.acl (harness), the real jetwire-bridge
 * (bridge_harness) and real MQTT clients (libmosquitto, QoS 1).  Every
 * change is made with plain SQL, as any writer would, and every payload is
 * checked field by field with json-c.
 *
 * "Nothing received" is never a bare sleep: a later change that the
 * observer CAN see is published first (the bridge publishes in outbox
 * order), and only then does the observer wait a fixed NEG_WAIT_MS for
 * anything that should not come.
 *
 * docs/bridge.md "## Tests" lists what each test proves.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge_harness.h"
#include "harness.h"
#include "jw_file.h"
#include "pg_harness.h"

#define POS_WAIT_MS 15000      /* an expected message */
#define NEG_WAIT_MS 1500       /* after a marker: what must not come */
#define OUTBOX_WAIT_MS 15000

/* The cluster shared by every test (started in main). */
static struct jw_pg PG;

/* One test's world. */
struct world {
	struct jw_pg *pg;
	char db[64];
	char conninfo[512];
	PGconn *conn;
	struct jw_broker broker;
	bool broker_up;
	struct jw_bridge bridge;
	bool bridge_started;
};

static struct world W;

/* test 9: every message received on order/#, driver/#, +/+/notifications */
static FILE *capture_file;

/* ---- small helpers ---- */

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
	}
}

static const char *env_or_fail(const char *name)
{
	const char *v = getenv(name);
	ck_assert_msg(v && *v, "environment variable %s is not set (run through ctest)", name);
	return v;
}

static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql(const char *fmt, ...)
{
	char *text;
	va_list ap;
	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&text, fmt, ap), 0);
	va_end(ap);
	PGresult *r = PQexec(W.conn, text);
	ExecStatusType st = PQresultStatus(r);
	ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s\n-> %s", text, PQerrorMessage(W.conn));
	PQclear(r);
	free(text);
}

/* First column of the single row, or NULL for SQL NULL (caller frees). */
static char *query_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *query_text(const char *fmt, ...)
{
	char *text;
	va_list ap;
	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&text, fmt, ap), 0);
	va_end(ap);
	PGresult *r = PQexec(W.conn, text);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s\n-> %s (%d rows)", text,
			PQerrorMessage(W.conn), PQntuples(r));
	char *v = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	free(text);
	return v;
}

static long query_long(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long query_long(const char *fmt, ...)
{
	char *text;
	va_list ap;
	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&text, fmt, ap), 0);
	va_end(ap);
	char *v = query_text("%s", text);
	ck_assert_msg(v != NULL, "%s returned NULL", text);
	long n = atol(v);
	free(v);
	free(text);
	return n;
}

static long outbox_rows(void)
{
	return query_long("SELECT count(*) FROM jetwire.outbox");
}

/* Wait until jetwire.outbox is empty: every change delivered and deleted. */
static void wait_outbox_empty(int line)
{
	int64_t deadline = jw_ms() + OUTBOX_WAIT_MS;
	long n;
	while ((n = outbox_rows()) != 0 && jw_ms() < deadline)
		sleep_ms(50);
	ck_assert_msg(n == 0, "line %d: jetwire.outbox still holds %ld row(s) after %d ms (bridge log %s)", line, n,
			OUTBOX_WAIT_MS, W.bridge.log_path);
}

static void load_sql_file(const struct jw_pg *pg, const char *db, const char *rel)
{
	char path[1024], err[2048], *text = NULL;
	size_t len;
	snprintf(path, sizeof(path), "%s/%s", env_or_fail("JW_SOURCE_DIR"), rel);
	ck_assert_msg(jw_read_file(path, 1 << 20, &text, &len, err, sizeof(err)) == 0, "%s", err);
	int rc = jw_pg_exec(pg, db, text, err, sizeof(err));
	free(text);
	ck_assert_msg(rc == 0, "%s: %.1500s", rel, err);
}

/* CREATE DATABASE, then jetwire-migrate on it. */
static void create_migrated_db(struct jw_pg *pg, const char *db)
{
	char err[2048], out[4096];
	memset(&W, 0, sizeof(W));
	W.pg = pg;
	snprintf(W.db, sizeof(W.db), "%s", db);
	ck_assert_msg(jw_pg_create_db(pg, db, NULL, err, sizeof(err)) == 0, "%s", err);
	jw_pg_conninfo(pg, db, NULL, W.conninfo, sizeof(W.conninfo));
	const char *args[] = {W.conninfo, NULL};
	int code = -1;
	ck_assert_msg(jw_run_program(env_or_fail("JW_MIGRATE"), args, NULL, 60000, out, sizeof(out), &code, err,
			sizeof(err)) == 0, "jetwire-migrate: %s", err);
	ck_assert_msg(code == 0, "jetwire-migrate exited %d: %s", code, out);
	ck_assert_msg(strstr(out, "up to date") != NULL, "jetwire-migrate said: %s", out);
	W.conn = PQconnectdb(W.conninfo);
	ck_assert_msg(PQstatus(W.conn) == CONNECTION_OK, "%s", PQerrorMessage(W.conn));
	PQsetNoticeProcessor(W.conn, NULL, NULL);
}

/* A migrated database with the demo tables, capture attached, and
 * customers 1..2, merchants 1..2, drivers 1..3. */
static void demo_db(struct jw_pg *pg, const char *db)
{
	create_migrated_db(pg, db);
	load_sql_file(pg, db, "schemas/demo/tables.sql");
	load_sql_file(pg, db, "schemas/demo/capture.sql");
	sql("INSERT INTO customers (id, name) VALUES (1, 'Ada'), (2, 'Bob');"
			"INSERT INTO merchants (id, name, pickup_lat, pickup_lng) VALUES "
			"(1, 'Fresh Press', 52.52, 13.405), (2, 'Clean Co', 52.50, 13.40);"
			"INSERT INTO drivers (id, name, rating, vehicle_type) VALUES "
			"(1, 'Dee', 4.8, 'BIKE'), (2, 'Eli', 4.5, 'CAR'), (3, 'Fay', 4.9, 'VAN')");
}

static void start_broker(void)
{
	jw_broker_start(&W.broker, NULL);
	W.broker_up = true;
}

static void bridge_opts(struct jw_bridge_opts *o, const char *extra_conf)
{
	memset(o, 0, sizeof(*o));
	o->database = W.conninfo;
	o->mqtt_port = W.broker.port;
	o->secret_path = W.broker.secret_path;
	o->extra_conf = extra_conf;
}

static void start_bridge(const char *extra_conf)
{
	struct jw_bridge_opts o;
	char err[2048];
	bridge_opts(&o, extra_conf);
	int rc = jw_bridge_start(&W.bridge, &o, err, sizeof(err));
	W.bridge_started = true;
	ck_assert_msg(rc == 0, "bridge: %s", err);
}

/* Demo database + broker + bridge. */
static void setup(const char *db, const char *bridge_conf)
{
	demo_db(&PG, db);
	start_broker();
	start_bridge(bridge_conf);
}

/* Stop everything; the bridge must exit 0 on SIGTERM (under the sanitizer
 * build that also means no leak report). */
static void finish(void)
{
	jw_client_destroy_all();
	if (W.bridge_started) {
		if (W.bridge.pid > 0) {
			int code = -1;
			char err[512];
			ck_assert_msg(jw_bridge_stop(&W.bridge, &code, err, sizeof(err)) == 0, "%s", err);
			ck_assert_msg(code == 0, "the bridge exited %d on SIGTERM (log %s)", code, W.bridge.log_path);
		}
		jw_bridge_cleanup(&W.bridge);
		W.bridge_started = false;
	}
	if (W.broker_up) {
		ck_assert_int_eq(jw_broker_stop(&W.broker), 0);
		W.broker_up = false;
	}
	if (W.conn) {
		PQfinish(W.conn);
		W.conn = NULL;
	}
}

/* ---- MQTT side ---- */

static struct jw_client *client(const char *role, const char *sub, const char *suffix)
{
	return jw_connect_as(&W.broker, role, sub, suffix, 5);
}

static void subscribe(struct jw_client *c, const char *filter)
{
	int rc = jw_client_subscribe(c, filter, 1);
	ck_assert_msg(rc == 1, "subscribe %s: %d", filter, rc);
}

/* Subscribe; a refusal is as good as a grant (used by non-parties). */
static void subscribe_any(struct jw_client *c, const char *filter)
{
	int rc = jw_client_subscribe(c, filter, 1);
	ck_assert_msg(rc >= 0, "subscribe %s: no SUBACK", filter);
}

static bool recorded_topic(const char *topic)
{
	if (strncmp(topic, "order/", 6) == 0 || strncmp(topic, "driver/", 7) == 0)
		return true;
	const char *a = strchr(topic, '/');
	const char *b = a ? strchr(a + 1, '/') : NULL;
	return b && strcmp(b + 1, "notifications") == 0;
}

static void record(const char *topic, const char *payload)
{
	if (capture_file && payload && *payload && recorded_topic(topic)) {
		fprintf(capture_file, "%s\t%s\n", topic, payload);
		fflush(capture_file);
	}
}

/* The next message on `topic` (exact name), parsed; fails the test if none
 * comes within POS_WAIT_MS or it is not a JSON object. */
static json_object *recv_json(int line, struct jw_client *c, const char *topic)
{
	char *payload = jw_client_wait_message(c, topic, POS_WAIT_MS);
	if (!payload) {
		char *topics = jw_client_inbox_topics(c);
		ck_abort_msg("line %d: no message on %s within %d ms; inbox:\n%s(bridge log %s)", line, topic,
				POS_WAIT_MS, topics, W.bridge.log_path);
	}
	record(topic, payload);
	json_object *o = json_tokener_parse(payload);
	ck_assert_msg(o && json_object_is_type(o, json_type_object), "line %d: %s: not a JSON object: %s", line,
			topic, payload);
	free(payload);
	return o;
}

static const char *str_field(int line, json_object *o, const char *key)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, key, &v), "line %d: no \"%s\" in %s", line, key,
			json_object_to_json_string(o));
	if (!v)
		return NULL;
	ck_assert_msg(json_object_is_type(v, json_type_string), "line %d: \"%s\" is not a string or null in %s",
			line, key, json_object_to_json_string(o));
	return json_object_get_string(v);
}

static void expect_str(int line, json_object *o, const char *key, const char *want)
{
	const char *got = str_field(line, o, key);
	if (!want)
		ck_assert_msg(got == NULL, "line %d: \"%s\" is \"%s\", want null in %s", line, key, got,
				json_object_to_json_string(o));
	else
		ck_assert_msg(got && strcmp(got, want) == 0, "line %d: \"%s\" is %s%s%s, want \"%s\" in %s", line, key,
				got ? "\"" : "", got ? got : "null", got ? "\"" : "", want, json_object_to_json_string(o));
}

static int64_t int_field(int line, json_object *o, const char *key)
{
	json_object *v;
	ck_assert_msg(json_object_object_get_ex(o, key, &v) && v && json_object_is_type(v, json_type_int),
			"line %d: \"%s\" missing or not an integer in %s", line, key, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

/* "2026-11-25T22:50:01.123Z", and within a few minutes of now. */
static void expect_timestamp(int line, json_object *o, const char *key)
{
	const char *ts = str_field(line, o, key);
	ck_assert_msg(ts != NULL, "line %d: \"%s\" is null", line, key);
	static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	bool ok = strlen(ts) == strlen(pattern);
	for (size_t i = 0; ok && pattern[i]; i++)
		ok = pattern[i] == 'd' ? (ts[i] >= '0' && ts[i] <= '9') : ts[i] == pattern[i];
	ck_assert_msg(ok, "line %d: \"%s\" = \"%s\" is not RFC 3339 UTC with milliseconds", line, key, ts);
	struct tm tm = {0};
	ck_assert_msg(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) != NULL, "line %d: bad date %s", line, ts);
	long diff = (long)(timegm(&tm) - time(NULL));
	ck_assert_msg(labs(diff) < 600, "line %d: timestamp %s is %ld s from now", line, ts, diff);
}

static void expect_keys(int line, json_object *o, int n)
{
	ck_assert_msg(json_object_object_length(o) == n, "line %d: %d keys, want %d: %s", line,
			json_object_object_length(o), n, json_object_to_json_string(o));
}

/* order/{id}/status: {orderId, orderNumber, status, previousStatus, version, timestamp} */
static void expect_status_at(int line, struct jw_client *c, const char *id, const char *number,
		const char *status, const char *prev, int64_t version)
{
	char topic[256];
	snprintf(topic, sizeof(topic), "order/%s/status", id);
	json_object *o = recv_json(line, c, topic);
	expect_str(line, o, "orderId", id);
	expect_str(line, o, "orderNumber", number);
	expect_str(line, o, "status", status);
	expect_str(line, o, "previousStatus", prev);
	int64_t v = int_field(line, o, "version");
	ck_assert_msg(v == version, "line %d: %s version %lld, want %lld: %s", line, topic, (long long)v,
			(long long)version, json_object_to_json_string(o));
	expect_timestamp(line, o, "timestamp");
	expect_keys(line, o, 6);
	json_object_put(o);
}
#define EXPECT_STATUS(c, id, number, status, prev, version) \
	expect_status_at(__LINE__, (c), (id), (number), (status), (prev), (version))

/* order/{id}/driver: {orderId, driverId, role, name, rating, vehicleType,
 * version, timestamp}; driver NULL: unassigned (name, rating, vehicleType
 * null); rating < 0: null. */
static void expect_driver_at(int line, struct jw_client *c, const char *id, const char *driver, const char *role,
		const char *name, double rating, const char *vehicle, int64_t version)
{
	char topic[256];
	snprintf(topic, sizeof(topic), "order/%s/driver", id);
	json_object *o = recv_json(line, c, topic);
	expect_str(line, o, "orderId", id);
	expect_str(line, o, "driverId", driver);
	expect_str(line, o, "role", role);
	expect_str(line, o, "name", name);
	expect_str(line, o, "vehicleType", vehicle);
	json_object *r;
	ck_assert_msg(json_object_object_get_ex(o, "rating", &r), "line %d: no rating in %s", line,
			json_object_to_json_string(o));
	if (rating < 0) {
		ck_assert_msg(r == NULL, "line %d: rating should be null: %s", line, json_object_to_json_string(o));
	} else {
		ck_assert_msg(r && (json_object_is_type(r, json_type_double) || json_object_is_type(r, json_type_int)),
				"line %d: rating is not a number: %s", line, json_object_to_json_string(o));
		ck_assert_msg(fabs(json_object_get_double(r) - rating) < 1e-9, "line %d: rating %g, want %g", line,
				json_object_get_double(r), rating);
	}
	int64_t v = int_field(line, o, "version");
	ck_assert_msg(v == version, "line %d: %s version %lld, want %lld: %s", line, topic, (long long)v,
			(long long)version, json_object_to_json_string(o));
	expect_timestamp(line, o, "timestamp");
	expect_keys(line, o, 8);
	json_object_put(o);
}
#define EXPECT_DRIVER(c, id, driver, role, name, rating, vehicle, version) \
	expect_driver_at(__LINE__, (c), (id), (driver), (role), (name), (rating), (vehicle), (version))

/* Wait NEG_WAIT_MS, then fail if any message whose topic starts with
 * `prefix` is in the inbox. */
static void expect_none_at(int line, struct jw_client *c, const char *prefix)
{
	int n = jw_client_count_prefix(c, prefix, NEG_WAIT_MS);
	if (n != 0) {
		char *topics = jw_client_inbox_topics(c);
		ck_abort_msg("line %d: %d message(s) under '%s' that must not arrive; inbox:\n%s", line, n, prefix,
				topics);
	}
}
#define EXPECT_NONE(c, prefix) expect_none_at(__LINE__, (c), (prefix))

/* Wait until a message on `topic` is in the inbox and check its retain flag. */
static void expect_retained_at(int line, struct jw_client *c, const char *topic)
{
	int64_t deadline = jw_ms() + POS_WAIT_MS;
	while (jw_client_message_retained(c, topic) < 0 && jw_ms() < deadline)
		sleep_ms(10);
	int r = jw_client_message_retained(c, topic);
	ck_assert_msg(r == 1, "line %d: %s: %s", line, topic, r < 0 ? "no message" : "not flagged retained");
}
#define EXPECT_RETAINED(c, topic) expect_retained_at(__LINE__, (c), (topic))

/* The relations of `object` through an admin's listRelations. */
static json_object *list_relations(struct jw_client *admin, const char *object)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "{\"commands\":[{\"command\":\"listRelations\",\"object\":\"%s\"}]}", object);
	char *resp = jw_control(admin, cmd, 5000);
	ck_assert_msg(resp != NULL, "no answer to %s", cmd);
	json_object *doc = json_tokener_parse(resp);
	json_object *responses, *first, *rels;
	ck_assert_msg(doc && json_object_object_get_ex(doc, "responses", &responses) &&
			(first = json_object_array_get_idx(responses, 0)) &&
			json_object_object_get_ex(first, "relations", &rels) &&
			json_object_is_type(rels, json_type_array), "listRelations answered %s", resp);
	free(resp);
	json_object_get(rels);
	json_object_put(doc);
	return rels;
}

static void insert_order(int id, int customer, int merchant, const char *pickup)
{
	sql("INSERT INTO orders (id, order_number, customer_id, merchant_id, pickup_driver_id) "
			"VALUES (%d, 'ORD-%d', %d, %d, %s)", id, id, customer, merchant, pickup ? pickup : "NULL");
}

/* ---- 1. lifecycle ---- */

START_TEST(lifecycle_with_plain_sql_reaches_every_party_in_order)
{
	setup("t_lifecycle", NULL);
	struct jw_client *cust = client("customer", "1", NULL);
	struct jw_client *merch = client("merchant", "1", NULL);
	struct jw_client *drv = client("driver", "1", NULL);
	struct jw_client *parties[] = {cust, merch};
	struct jw_client *all[] = {cust, merch, drv};
	for (size_t i = 0; i < 3; i++) {
		subscribe(all[i], "order/+/status");
		subscribe(all[i], "order/+/driver");
	}

	insert_order(101, 1, 1, NULL);
	for (size_t i = 0; i < 2; i++)
		EXPECT_STATUS(parties[i], "101", "ORD-101", "PENDING", NULL, 1);

	sql("UPDATE orders SET status = 'CONFIRMED' WHERE id = 101");
	for (size_t i = 0; i < 2; i++)
		EXPECT_STATUS(parties[i], "101", "ORD-101", "CONFIRMED", "PENDING", 2);

	/* the driver is assigned: version 3 is a driver message only (no status change) */
	sql("UPDATE orders SET pickup_driver_id = 1 WHERE id = 101");
	for (size_t i = 0; i < 3; i++)
		EXPECT_DRIVER(all[i], "101", "1", "pickup", "Dee", 4.8, "BIKE", 3);

	/* from now on the driver gets the status too; its first one is version 4
	 * (wait_message returns the oldest: a leaked 1 or 2 would show here) */
	static const char *const steps[] = {"ASSIGNED_TO_DRIVER", "PICKED_UP", "IN_PROCESS", "READY_FOR_DELIVERY",
		"OUT_FOR_DELIVERY", "DELIVERED"};
	const char *prev = "CONFIRMED";
	int64_t version = 4;
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++, version++) {
		sql("UPDATE orders SET status = '%s' WHERE id = 101", steps[s]);
		for (size_t i = 0; i < 3; i++)
			EXPECT_STATUS(all[i], "101", "ORD-101", steps[s], prev, version);
		prev = steps[s];
	}
	/* DELIVERED (version 9) ends the order: the current driver message is
	 * republished with the terminal expiry */
	for (size_t i = 0; i < 3; i++)
		EXPECT_DRIVER(all[i], "101", "1", "pickup", "Dee", 4.8, "BIKE", 9);

	/* a late subscriber (new connection) gets the retained final state */
	struct jw_client *late = client("customer", "1", "late");
	subscribe(late, "order/101/#");
	EXPECT_RETAINED(late, "order/101/status");
	EXPECT_RETAINED(late, "order/101/driver");
	EXPECT_STATUS(late, "101", "ORD-101", "DELIVERED", "OUT_FOR_DELIVERY", 9);
	EXPECT_DRIVER(late, "101", "1", "pickup", "Dee", 4.8, "BIKE", 9);

	/* nothing else, no duplicates, on any connection */
	for (size_t i = 0; i < 3; i++)
		EXPECT_NONE(all[i], "order/");
	wait_outbox_empty(__LINE__);
	finish();
}
END_TEST

/* ---- 2. non-parties ---- */

START_TEST(non_parties_receive_nothing_whatever_the_filter)
{
	setup("t_nonparty", NULL);
	struct jw_client *party = client("customer", "1", NULL);
	subscribe(party, "order/+/status");
	static const char *const filters[] = {"#", "order/+/status", "+/+/+", "$share/g/order/#"};
	struct jw_client *obs[] = {client("customer", "2", NULL), client("driver", "2", NULL),
		client("merchant", "2", NULL)};
	for (size_t i = 0; i < 3; i++)
		for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++)
			subscribe_any(obs[i], filters[f]);

	/* order 201: customer 1, merchant 1, driver 1 */
	insert_order(201, 1, 1, "1");
	sql("UPDATE orders SET status = 'CONFIRMED' WHERE id = 201");
	EXPECT_STATUS(party, "201", "ORD-201", "PENDING", NULL, 1);
	EXPECT_STATUS(party, "201", "ORD-201", "CONFIRMED", "PENDING", 2);

	/* the marker: order 202 of customer 2, merchant 2, driver 2 reaches each
	 * observer (their own order), after 201's messages were sent */
	insert_order(202, 2, 2, "2");
	for (size_t i = 0; i < 3; i++) {
		char *got = jw_client_wait_message(obs[i], "order/202/status", POS_WAIT_MS);
		ck_assert_msg(got != NULL, "observer %zu did not get its own order 202", i);
		free(got);
	}
	for (size_t i = 0; i < 3; i++)
		EXPECT_NONE(obs[i], "order/201/");
	finish();
}
END_TEST

/* ---- 3. reassigning drivers ---- */

START_TEST(reassigning_a_driver_moves_access)
{
	setup("t_reassign", NULL);
	struct jw_client *cust = client("customer", "1", NULL);
	struct jw_client *d1 = client("driver", "1", NULL);
	struct jw_client *d2 = client("driver", "2", NULL);
	struct jw_client *d3 = client("driver", "3", NULL);
	struct jw_client *all[] = {cust, d1, d2, d3};
	for (size_t i = 0; i < 4; i++) {
		subscribe(all[i], "order/+/status");
		subscribe(all[i], "order/+/driver");
	}

	insert_order(301, 1, 1, "1");
	EXPECT_STATUS(cust, "301", "ORD-301", "PENDING", NULL, 1);
	EXPECT_DRIVER(cust, "301", "1", "pickup", "Dee", 4.8, "BIKE", 1);
	EXPECT_STATUS(d1, "301", "ORD-301", "PENDING", NULL, 1);
	EXPECT_DRIVER(d1, "301", "1", "pickup", "Dee", 4.8, "BIKE", 1);

	/* driver 1 replaced by driver 2 */
	sql("UPDATE orders SET pickup_driver_id = 2 WHERE id = 301");
	EXPECT_DRIVER(cust, "301", "2", "pickup", "Eli", 4.5, "CAR", 2);
	EXPECT_DRIVER(d2, "301", "2", "pickup", "Eli", 4.5, "CAR", 2);
	sql("UPDATE orders SET status = 'CONFIRMED' WHERE id = 301");
	EXPECT_STATUS(cust, "301", "ORD-301", "CONFIRMED", "PENDING", 3);
	EXPECT_STATUS(d2, "301", "ORD-301", "CONFIRMED", "PENDING", 3);   /* its first status: 3 */

	/* marker for driver 1: a new order of its own */
	insert_order(302, 1, 1, "1");
	char *m = jw_client_wait_message(d1, "order/302/status", POS_WAIT_MS);
	ck_assert_msg(m != NULL, "driver 1 did not get its order 302");
	free(m);
	EXPECT_NONE(d1, "order/301/");

	/* a delivery driver joins: driver 3 */
	sql("UPDATE orders SET delivery_driver_id = 3 WHERE id = 301");
	EXPECT_DRIVER(cust, "301", "3", "delivery", "Fay", 4.9, "VAN", 4);
	EXPECT_DRIVER(d2, "301", "3", "delivery", "Fay", 4.9, "VAN", 4);
	EXPECT_DRIVER(d3, "301", "3", "delivery", "Fay", 4.9, "VAN", 4);

	/* driver 2 unassigned: the customer sees driverId null, driver 2 nothing more */
	sql("UPDATE orders SET pickup_driver_id = NULL WHERE id = 301");
	EXPECT_DRIVER(cust, "301", NULL, "pickup", NULL, -1, NULL, 5);
	EXPECT_DRIVER(d3, "301", NULL, "pickup", NULL, -1, NULL, 5);
	sql("UPDATE orders SET status = 'ASSIGNED_TO_DRIVER' WHERE id = 301");
	EXPECT_STATUS(cust, "301", "ORD-301", "ASSIGNED_TO_DRIVER", "CONFIRMED", 6);
	EXPECT_STATUS(d3, "301", "ORD-301", "ASSIGNED_TO_DRIVER", "CONFIRMED", 6);
	insert_order(303, 1, 1, "2");
	m = jw_client_wait_message(d2, "order/303/status", POS_WAIT_MS);
	ck_assert_msg(m != NULL, "driver 2 did not get its order 303");
	free(m);
	EXPECT_NONE(d2, "order/301/");
	finish();
}
END_TEST

/* ---- 4. cancel, expiry, end of access ---- */

START_TEST(cancelled_order_expires_and_access_ends)
{
	setup("t_cancel", "terminal_expiry 3");
	struct jw_client *admin = client("admin", "1", NULL);
	struct jw_client *cust = client("customer", "1", NULL);
	subscribe(cust, "order/+/status");

	insert_order(401, 1, 1, NULL);
	EXPECT_STATUS(cust, "401", "ORD-401", "PENDING", NULL, 1);
	json_object *rels = list_relations(admin, "order:401");
	ck_assert_msg(json_object_array_length(rels) == 2, "relations of order:401: %s", json_object_to_json_string(rels));
	json_object_put(rels);

	sql("UPDATE orders SET status = 'CANCELLED' WHERE id = 401");
	EXPECT_STATUS(cust, "401", "ORD-401", "CANCELLED", "PENDING", 2);
	int64_t cancelled_at = jw_ms();

	/* right away: retained for a new subscriber, relations with a ttl */
	struct jw_client *late1 = client("customer", "1", "late1");
	subscribe(late1, "order/401/status");
	EXPECT_RETAINED(late1, "order/401/status");
	EXPECT_STATUS(late1, "401", "ORD-401", "CANCELLED", "PENDING", 2);
	rels = list_relations(admin, "order:401");
	ck_assert_msg(json_object_array_length(rels) == 2, "relations of order:401: %s", json_object_to_json_string(rels));
	for (size_t i = 0; i < json_object_array_length(rels); i++) {
		json_object *exp;
		ck_assert_msg(json_object_object_get_ex(json_object_array_get_idx(rels, i), "expiresAt", &exp),
				"terminal relation without expiresAt: %s", json_object_to_json_string(rels));
	}
	json_object_put(rels);

	/* terminal_expiry 3: after 5 s the retained status is gone (mosquitto
	 * drops an expired retained message when a subscription finds it) */
	int64_t left = cancelled_at + 5000 - jw_ms();
	if (left > 0)
		sleep_ms((int)left);
	struct jw_client *late2 = client("customer", "1", "late2");
	subscribe_any(late2, "order/401/status");
	subscribe(admin, "order/401/#");     /* admins read everything: no ACL in the way */
	EXPECT_NONE(late2, "order/401/");
	EXPECT_NONE(admin, "order/401/");
	rels = list_relations(admin, "order:401");
	ck_assert_msg(json_object_array_length(rels) == 0, "relations of order:401 after expiry: %s",
			json_object_to_json_string(rels));
	json_object_put(rels);
	finish();
}
END_TEST

/* ---- 5. notifications ---- */

START_TEST(notifications_reach_only_their_user)
{
	setup("t_notify", NULL);
	struct jw_client *c1 = client("customer", "1", NULL);
	struct jw_client *c2 = client("customer", "2", NULL);
	subscribe(c1, "customer/1/notifications");
	subscribe(c2, "customer/2/notifications");
	subscribe_any(c2, "+/+/notifications");
	subscribe_any(c2, "customer/1/notifications");
	subscribe_any(c2, "#");

	char *id = query_text("INSERT INTO notifications (user_type, user_id, title, body, data) VALUES "
			"('customer', '1', 'Order ready', 'Your order ORD-9 is ready', '{\"orderId\": \"9\", \"n\": 1}') "
			"RETURNING id");
	json_object *o = recv_json(__LINE__, c1, "customer/1/notifications");
	expect_str(__LINE__, o, "id", id);
	expect_str(__LINE__, o, "title", "Order ready");
	expect_str(__LINE__, o, "body", "Your order ORD-9 is ready");
	expect_timestamp(__LINE__, o, "timestamp");
	json_object *data, *v;
	ck_assert_msg(json_object_object_get_ex(o, "data", &data) && json_object_is_type(data, json_type_object),
			"data is not an object: %s", json_object_to_json_string(o));
	ck_assert(json_object_object_get_ex(data, "orderId", &v) && strcmp(json_object_get_string(v), "9") == 0);
	ck_assert(json_object_object_get_ex(data, "n", &v) && json_object_get_int(v) == 1);
	expect_keys(__LINE__, o, 5);
	json_object_put(o);
	free(id);

	/* marker for customer 2: its own notification */
	sql("INSERT INTO notifications (user_type, user_id, title) VALUES ('customer', '2', 'Hi Bob')");
	o = recv_json(__LINE__, c2, "customer/2/notifications");
	expect_str(__LINE__, o, "title", "Hi Bob");
	expect_str(__LINE__, o, "body", "");
	json_object_put(o);
	EXPECT_NONE(c2, "customer/1/");

	/* not retained: a new connection of customer 1 gets nothing */
	struct jw_client *late = client("customer", "1", "late");
	subscribe(late, "customer/1/notifications");
	EXPECT_NONE(late, "customer/");
	EXPECT_NONE(c1, "customer/");
	finish();
}
END_TEST

/* ---- 6. bad rows ---- */

START_TEST(bad_rows_are_dead_lettered_and_nothing_stalls)
{
	setup("t_badrows", NULL);
	struct jw_client *cust = client("customer", "1", NULL);
	subscribe(cust, "order/+/status");

	sql("ALTER TABLE orders DROP CONSTRAINT orders_status_check");
	sql("ALTER TABLE notifications DROP CONSTRAINT notifications_user_type_check");
	sql("INSERT INTO orders (id, order_number, status, customer_id, merchant_id) VALUES (601, 'ORD-601', 'BOGUS', 1, 1)");
	sql("INSERT INTO orders (id, order_number, customer_id, merchant_id) VALUES (602, repeat('x', 300), 1, 1)");
	sql("INSERT INTO notifications (user_type, user_id, title) VALUES ('robot', '1', 'beep')");
	/* a good change committed after the bad ones */
	insert_order(603, 1, 1, NULL);
	EXPECT_STATUS(cust, "603", "ORD-603", "PENDING", NULL, 1);

	ck_assert_msg(jw_bridge_log_wait(&W.bridge, "bad row moved to jetwire.dead_letter", 3, POS_WAIT_MS),
			"log has %d \"bad row moved\" lines (log %s)",
			jw_bridge_log_count(&W.bridge, "bad row moved to jetwire.dead_letter"), W.bridge.log_path);
	wait_outbox_empty(__LINE__);
	ck_assert_int_eq(query_long("SELECT count(*) FROM jetwire.dead_letter"), 3);

	char *reason = query_text("SELECT reason FROM jetwire.dead_letter WHERE entity = 'order' AND entity_id = '601'");
	ck_assert_msg(reason && strstr(reason, "unknown status 'BOGUS'"), "reason: %s", reason ? reason : "NULL");
	free(reason);
	char *status = query_text("SELECT data->>'status' FROM jetwire.dead_letter WHERE entity_id = '601'");
	ck_assert_str_eq(status, "BOGUS");
	free(status);
	reason = query_text("SELECT reason FROM jetwire.dead_letter WHERE entity = 'order' AND entity_id = '602'");
	ck_assert_msg(reason && strstr(reason, "orderNumber is 300 bytes"), "reason: %s", reason ? reason : "NULL");
	free(reason);
	reason = query_text("SELECT reason FROM jetwire.dead_letter WHERE entity = 'notification'");
	ck_assert_msg(reason && strstr(reason, "userType 'robot'"), "reason: %s", reason ? reason : "NULL");
	free(reason);

	/* the stream keeps flowing, and the bad orders never reached anyone */
	sql("UPDATE orders SET status = 'CONFIRMED' WHERE id = 603");
	EXPECT_STATUS(cust, "603", "ORD-603", "CONFIRMED", "PENDING", 2);
	EXPECT_NONE(cust, "order/60");
	wait_outbox_empty(__LINE__);
	finish();
}
END_TEST

/* ---- 7. a Prisma-style table ---- */

static const char prisma_schema[] =
	"CREATE TYPE \"OrderStatus\" AS ENUM ('PENDING', 'CONFIRMED', 'ASSIGNED_TO_DRIVER', 'PICKED_UP',"
	"  'IN_PROCESS', 'READY_FOR_DELIVERY', 'OUT_FOR_DELIVERY', 'DELIVERED', 'CANCELLED');"
	"CREATE TABLE \"Order\" (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), \"orderNumber\" text NOT NULL,"
	"  status \"OrderStatus\" NOT NULL DEFAULT 'PENDING', \"customerId\" text NOT NULL,"
	"  \"merchantId\" text NOT NULL, \"pickupDriverId\" text, \"deliveryDriverId\" text,"
	"  \"updatedAt\" timestamptz NOT NULL DEFAULT now());"
	"SELECT jetwire.install_capture('public.\"Order\"', 'order', '{"
	"  \"id\": \"id\", \"orderNumber\": \"orderNumber\", \"status\": \"status\","
	"  \"customerId\": \"customerId\", \"merchantId\": \"merchantId\","
	"  \"pickupDriverId\": \"pickupDriverId\", \"deliveryDriverId\": \"deliveryDriverId\"}');";

#define PRISMA_ID "6f1c2b8e-1d2a-4c59-9a55-3a1e7c0d9b11"

/* Only Prisma-style tables: "Order" (uuid id, enum status, text ids) and
 * "Driver" (text id) registered for the lookup. */
START_TEST(prisma_style_table_reaches_the_customer)
{
	create_migrated_db(&PG, "t_prisma");
	sql("%s", prisma_schema);
	sql("CREATE TABLE \"Driver\" (id text PRIMARY KEY, name text NOT NULL, rating double precision,"
			" \"vehicleType\" text);"
			"INSERT INTO \"Driver\" VALUES ('drv-a', 'Ana', 4.7, 'SCOOTER');"
			"SELECT jetwire.install_capture('public.\"Driver\"', 'driver', '{\"id\": \"id\", \"name\": \"name\","
			" \"rating\": \"rating\", \"vehicleType\": \"vehicleType\"}')");
	start_broker();
	start_bridge(NULL);
	struct jw_client *cust = client("customer", "cus-1", NULL);
	struct jw_client *drv = client("driver", "drv-a", NULL);
	subscribe(cust, "order/+/status");
	subscribe(cust, "order/+/driver");
	subscribe(drv, "order/+/status");

	sql("INSERT INTO \"Order\" (id, \"orderNumber\", \"customerId\", \"merchantId\") "
			"VALUES ('" PRISMA_ID "', 'PR-1', 'cus-1', 'mer-1')");
	EXPECT_STATUS(cust, PRISMA_ID, "PR-1", "PENDING", NULL, 1);
	sql("UPDATE \"Order\" SET status = 'CONFIRMED' WHERE id = '" PRISMA_ID "'");
	EXPECT_STATUS(cust, PRISMA_ID, "PR-1", "CONFIRMED", "PENDING", 2);
	sql("UPDATE \"Order\" SET \"pickupDriverId\" = 'drv-a' WHERE id = '" PRISMA_ID "'");
	EXPECT_DRIVER(cust, PRISMA_ID, "drv-a", "pickup", "Ana", 4.7, "SCOOTER", 3);
	/* an unmapped column: nothing */
	sql("UPDATE \"Order\" SET \"updatedAt\" = now() + interval '1 minute' WHERE id = '" PRISMA_ID "'");
	sql("UPDATE \"Order\" SET status = 'PICKED_UP' WHERE id = '" PRISMA_ID "'");
	EXPECT_STATUS(cust, PRISMA_ID, "PR-1", "PICKED_UP", "CONFIRMED", 4);
	EXPECT_STATUS(drv, PRISMA_ID, "PR-1", "PICKED_UP", "CONFIRMED", 4);
	EXPECT_NONE(cust, "order/");
	wait_outbox_empty(__LINE__);

	/* a restart resyncs from the table (joined with "Driver"): a late
	 * subscriber gets the state back */
	int code = -1;
	char err[2048];
	ck_assert_msg(jw_bridge_stop(&W.bridge, &code, err, sizeof(err)) == 0 && code == 0, "stop: %d %s", code, err);
	ck_assert_msg(jw_bridge_restart(&W.bridge, true, err, sizeof(err)) == 0, "restart: %s", err);
	ck_assert_int_eq(jw_bridge_log_count(&W.bridge, "resync: order skipped"), 0);
	struct jw_client *late = client("customer", "cus-1", "late");
	subscribe(late, "order/" PRISMA_ID "/#");
	EXPECT_STATUS(late, PRISMA_ID, "PR-1", "PICKED_UP", "CONFIRMED", 4);
	EXPECT_DRIVER(late, PRISMA_ID, "drv-a", "pickup", "Ana", 4.7, "SCOOTER", 4);
	finish();
}
END_TEST

/* The Prisma-style "Order" (text driver ids) next to the demo tables,
 * whose registered driver table has bigint ids. */
START_TEST(prisma_style_table_next_to_the_demo_tables)
{
	demo_db(&PG, "t_prisma_mixed");
	sql("%s", prisma_schema);
	start_broker();
	/* KNOWN BRIDGE BUG (reported, not fixed here): jetwire.resync_sql()
	 * (schemas/migrations/0003_bridge.sql) joins "Order"."pickupDriverId"
	 * (text) with drivers.id (bigint) without a cast: "opening the resync
	 * cursor: ERROR: operator does not exist: bigint = text".  The bridge
	 * then reconnects and retries every backoff_initial_ms forever (the
	 * backoff resets at each successful connect) and never streams: no
	 * order of any table is delivered.  This test asserts the correct
	 * behaviour and fails until that is fixed. */
	start_bridge(NULL);
	struct jw_client *cust = client("customer", "1", NULL);
	subscribe(cust, "order/+/status");
	subscribe(cust, "order/+/driver");
	sql("INSERT INTO \"Order\" (id, \"orderNumber\", \"customerId\", \"merchantId\", \"pickupDriverId\") "
			"VALUES ('" PRISMA_ID "', 'PR-1', '1', '1', '2')");
	EXPECT_STATUS(cust, PRISMA_ID, "PR-1", "PENDING", NULL, 1);
	EXPECT_DRIVER(cust, PRISMA_ID, "2", "pickup", "Eli", 4.5, "CAR", 1);
	insert_order(701, 1, 1, "1");
	EXPECT_STATUS(cust, "701", "ORD-701", "PENDING", NULL, 1);
	EXPECT_DRIVER(cust, "701", "1", "pickup", "Dee", 4.8, "BIKE", 1);
	finish();
}
END_TEST

/* ---- 8. restart ---- */

START_TEST(changes_made_while_the_bridge_is_down_arrive_after_restart)
{
	setup("t_restart", NULL);
	struct jw_client *cust = client("customer", "1", NULL);
	subscribe(cust, "order/+/status");
	subscribe(cust, "customer/1/notifications");
	insert_order(801, 1, 1, NULL);
	EXPECT_STATUS(cust, "801", "ORD-801", "PENDING", NULL, 1);
	wait_outbox_empty(__LINE__);

	int code = -1;
	char err[2048];
	ck_assert_msg(jw_bridge_stop(&W.bridge, &code, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(code, 0);
	ck_assert_int_eq(jw_bridge_log_count(&W.bridge, "stopped |"), 1);

	sql("UPDATE orders SET status = 'CONFIRMED' WHERE id = 801");
	sql("UPDATE orders SET status = 'PICKED_UP' WHERE id = 801");
	sql("INSERT INTO notifications (user_type, user_id, title) VALUES ('customer', '1', 'while you were out')");
	ck_assert_int_eq(outbox_rows(), 3);
	EXPECT_NONE(cust, "order/");

	ck_assert_msg(jw_bridge_restart(&W.bridge, true, err, sizeof(err)) == 0, "restart: %s", err);
	ck_assert_int_eq(W.bridge.starts, 2);
	/* every transition, in order, none coalesced (the resync only restores
	 * the relations of an order whose changes wait in the outbox) */
	EXPECT_STATUS(cust, "801", "ORD-801", "CONFIRMED", "PENDING", 2);
	EXPECT_STATUS(cust, "801", "ORD-801", "PICKED_UP", "CONFIRMED", 3);
	json_object *o = recv_json(__LINE__, cust, "customer/1/notifications");
	expect_str(__LINE__, o, "title", "while you were out");
	json_object_put(o);
	wait_outbox_empty(__LINE__);
	EXPECT_NONE(cust, "order/");
	finish();
}
END_TEST

/* ---- 9. payloads against the JSON Schemas ---- */

/* Move every message of `topic` from the inbox into the capture file. */
static int drain(struct jw_client *c, const char *topic)
{
	int n = 0;
	char *p;
	while ((p = jw_client_wait_message(c, topic, 0)) != NULL) {
		record(topic, p);
		if (*p)
			n++;
		free(p);
	}
	return n;
}

START_TEST(every_payload_matches_its_json_schema)
{
	setup("t_schema", NULL);
	char path[512];
	snprintf(path, sizeof(path), "%s/payloads.tsv", W.bridge.dir);
	capture_file = fopen(path, "w");
	ck_assert_ptr_nonnull(capture_file);

	struct jw_client *cust = client("customer", "1", NULL);
	struct jw_client *drv1 = client("driver", "1", NULL);
	struct jw_client *drv2 = client("driver", "2", NULL);
	struct jw_client *admin = client("admin", "1", NULL);
	subscribe(cust, "order/+/status");
	subscribe(cust, "order/+/driver");
	subscribe(cust, "customer/1/notifications");
	subscribe(drv1, "order/#");
	subscribe(drv1, "driver/1/#");
	subscribe(drv2, "order/#");
	/* order/901/# only: the empty retained clears of the deleted order 902
	 * go to nobody (harness.c's on_message passes a NULL payload to memcpy
	 * for an empty message, which UBSan aborts on) */
	subscribe(admin, "order/901/#");

	insert_order(901, 1, 1, NULL);
	sql("UPDATE orders SET status = 'CONFIRMED' WHERE id = 901");
	sql("UPDATE orders SET pickup_driver_id = 1 WHERE id = 901");
	sql("UPDATE orders SET status = 'ASSIGNED_TO_DRIVER' WHERE id = 901");
	sql("UPDATE orders SET status = 'PICKED_UP' WHERE id = 901");
	sql("UPDATE orders SET status = 'IN_PROCESS', delivery_driver_id = 2 WHERE id = 901");
	sql("UPDATE orders SET status = 'OUT_FOR_DELIVERY', pickup_driver_id = NULL WHERE id = 901");
	sql("INSERT INTO notifications (user_type, user_id, title, body, data) VALUES "
			"('customer', '1', 'On its way', 'ORD-901 is out for delivery', '{\"orderId\": \"901\"}'),"
			"('driver', '1', 'Thanks', '', '{}')");
	insert_order(902, 1, 1, NULL);
	sql("DELETE FROM orders WHERE id = 902");   /* empty retained clears: skipped by the validator */
	sql("UPDATE orders SET status = 'DELIVERED' WHERE id = 901");
	/* the last change is the marker for everyone */
	EXPECT_STATUS(admin, "901", "ORD-901", "PENDING", NULL, 1);
	for (int v = 2; v < 9; v++) {
		char *p = jw_client_wait_message(admin, "order/901/status", POS_WAIT_MS);
		ck_assert_msg(p != NULL, "admin: status %d of 901 missing", v);
		record("order/901/status", p);
		bool last = strstr(p, "\"DELIVERED\"") != NULL;
		free(p);
		if (last)
			break;
	}
	wait_outbox_empty(__LINE__);
	sleep_ms(NEG_WAIT_MS);

	static const char *const topics[] = {"order/901/status", "order/901/driver", "order/902/status",
		"order/902/driver", "customer/1/notifications", "driver/1/notifications"};
	struct jw_client *clients[] = {cust, drv1, drv2, admin};
	int n = 0;
	for (size_t i = 0; i < 4; i++) {
		for (size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++)
			n += drain(clients[i], topics[t]);
		/* every message received was recorded */
		int left = jw_client_count_messages(clients[i], NULL, 0);
		if (left) {
			char *inbox = jw_client_inbox_topics(clients[i]);
			ck_abort_msg("client %zu: unexpected messages:\n%s", i, inbox);
		}
	}
	fclose(capture_file);
	capture_file = NULL;
	ck_assert_msg(n >= 20, "only %d payloads recorded", n);

	char schemas[1024], script[1024], out[16384], err[1024];
	snprintf(schemas, sizeof(schemas), "%s/schemas/json", env_or_fail("JW_SOURCE_DIR"));
	snprintf(script, sizeof(script), "%s/test/schema/validate_payloads.py", env_or_fail("JW_SOURCE_DIR"));
	const char *args[] = {script, schemas, path, "--require-some", NULL};
	int code = -1;
	ck_assert_msg(jw_run_program("/usr/bin/python3", args, NULL, 60000, out, sizeof(out), &code, err,
			sizeof(err)) == 0, "%s", err);
	ck_assert_msg(code == 0, "validate_payloads.py exited %d:\n%s(payloads in %s)", code, out, path);
	finish();
}
END_TEST

/* ---- 10. stats ---- */

static json_object *get_obj(json_object *o, const char *key)
{
	json_object *v = NULL;
	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

START_TEST(stats_are_published_retained)
{
	/* stats_interval given here: the harness must not write its default too */
	setup("t_stats", "stats_interval 1\nlog_interval 1");
	insert_order(1001, 1, 1, NULL);
	sql("UPDATE orders SET status = 'CONFIRMED' WHERE id = 1001");
	wait_outbox_empty(__LINE__);

	/* log_interval 1: a log line with each publish; after one, the broker
	 * holds the retained document */
	ck_assert_msg(jw_bridge_log_wait(&W.bridge, "stats | ", 1, POS_WAIT_MS), "no stats log line");
	struct jw_client *admin = client("admin", "1", NULL);
	subscribe(admin, "jetwire/bridge/stats");
	EXPECT_RETAINED(admin, "jetwire/bridge/stats");
	bool ok = false;
	char last[4096] = "";
	int64_t deadline = jw_ms() + POS_WAIT_MS;
	while (!ok && jw_ms() < deadline) {
		char *p = jw_client_wait_message(admin, "jetwire/bridge/stats", 3000);
		if (!p)
			continue;
		snprintf(last, sizeof(last), "%s", p);
		json_object *doc = json_tokener_parse(p);
		free(p);
		ck_assert_msg(doc != NULL, "stats are not JSON: %s", last);
		json_object *totals = get_obj(doc, "totals"), *backlog = get_obj(doc, "backlog");
		json_object *changes = totals ? get_obj(totals, "changes") : NULL;
		json_object *rows = backlog ? get_obj(backlog, "rows") : NULL;
		ck_assert_msg(changes && rows && get_obj(doc, "timestamp") && get_obj(doc, "publishLatencyMs"),
				"stats document lacks fields: %s", last);
		ok = json_object_get_int64(changes) >= 2 && json_object_get_int64(rows) == 0;
		json_object_put(doc);
	}
	ck_assert_msg(ok, "no stats with totals.changes >= 2 and backlog.rows == 0; last: %s", last);
	/* customers do not see them */
	struct jw_client *cust = client("customer", "1", NULL);
	subscribe_any(cust, "jetwire/bridge/stats");
	EXPECT_NONE(cust, "jetwire/");
	finish();
}
END_TEST

/* ---- 11. command line and configuration ---- */

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static int run_cli(const char *const *args, const char *const *env, char *out, size_t outlen)
{
	int code = -1;
	char err[1024];
	ck_assert_msg(jw_bridge_run_cli(args, env, 30000, out, outlen, &code, err, sizeof(err)) == 0, "%s", err);
	return code;
}

START_TEST(command_line_and_configuration_errors)
{
	char dir[] = "/tmp/jetwire-cli-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char secret[300], good[300], unknown[300], nodb[300], conf[1024], out[8192];
	snprintf(secret, sizeof(secret), "%s/jwt.secret", dir);
	write_text(secret, "0123456789abcdef0123456789abcdef0123456789abcdef\n", 0600);

	snprintf(good, sizeof(good), "%s/good.conf", dir);
	snprintf(conf, sizeof(conf), "# ok\ndatabase host=127.0.0.1 dbname=nothing\nmqtt_port 1883\njwt_secret_file %s\n",
			secret);
	write_text(good, conf, 0600);
	const char *check_good[] = {"-c", good, "--check-config", NULL};
	int code = run_cli(check_good, NULL, out, sizeof(out));
	ck_assert_msg(code == 0 && strstr(out, "configuration OK"), "exit %d: %s", code, out);

	snprintf(unknown, sizeof(unknown), "%s/unknown.conf", dir);
	snprintf(conf, sizeof(conf), "database x\nmqtt_prot 1883\njwt_secret_file %s\n", secret);
	write_text(unknown, conf, 0600);
	const char *check_unknown[] = {"-c", unknown, "--check-config", NULL};
	code = run_cli(check_unknown, NULL, out, sizeof(out));
	char want[400];
	snprintf(want, sizeof(want), "%s:2: unknown option", unknown);
	ck_assert_msg(code == 2 && strstr(out, want) && strstr(out, "mqtt_port"), "exit %d: %s", code, out);
	/* a normal start refuses it the same way */
	const char *start_unknown[] = {"-c", unknown, NULL};
	code = run_cli(start_unknown, NULL, out, sizeof(out));
	ck_assert_msg(code == 2 && strstr(out, want), "exit %d: %s", code, out);

	snprintf(nodb, sizeof(nodb), "%s/nodb.conf", dir);
	snprintf(conf, sizeof(conf), "jwt_secret_file %s\n", secret);
	write_text(nodb, conf, 0600);
	const char *check_nodb[] = {"-c", nodb, "--check-config", NULL};
	const char *no_db_env[] = {"JETWIRE_BRIDGE_DATABASE=", NULL};
	code = run_cli(check_nodb, no_db_env, out, sizeof(out));
	ck_assert_msg(code == 2 && strstr(out, "database: required"), "exit %d: %s", code, out);
	/* ... which the environment can supply */
	const char *db_env[] = {"JETWIRE_BRIDGE_DATABASE=host=127.0.0.1 dbname=x", NULL};
	code = run_cli(check_nodb, db_env, out, sizeof(out));
	ck_assert_msg(code == 0 && strstr(out, "configuration OK"), "exit %d: %s", code, out);

	const char *bad_port[] = {"JETWIRE_BRIDGE_MQTT_PORT=x", NULL};
	code = run_cli(check_good, bad_port, out, sizeof(out));
	ck_assert_msg(code == 2 && strstr(out, "JETWIRE_BRIDGE_MQTT_PORT"), "exit %d: %s", code, out);
	const char *start_good[] = {"-c", good, NULL};
	code = run_cli(start_good, bad_port, out, sizeof(out));
	ck_assert_msg(code == 2 && strstr(out, "JETWIRE_BRIDGE_MQTT_PORT"), "exit %d: %s", code, out);

	const char *bogus_arg[] = {"-c", good, "--bogus", NULL};
	code = run_cli(bogus_arg, NULL, out, sizeof(out));
	ck_assert_msg(code == 2 && strstr(out, "--bogus"), "exit %d: %s", code, out);

	/* a group-writable secret is refused before anything runs */
	chmod(secret, 0620);
	code = run_cli(check_good, NULL, out, sizeof(out));
	ck_assert_msg(code == 2 && strstr(out, "writable by group or others"), "exit %d: %s", code, out);

	remove(secret);
	remove(good);
	remove(unknown);
	remove(nodb);
	rmdir(dir);
}
END_TEST

/* ---- 12. unreachable database or broker ---- */

START_TEST(unreachable_database_is_retried_until_it_comes)
{
	/* a cluster of this test's own: only its starter may halt it */
	static struct jw_pg pg2;
	char err[2048];
	ck_assert_msg(jw_pg_start(&pg2, NULL, err, sizeof(err)) == 0, "%s", err);
	demo_db(&pg2, "t_nodb");
	insert_order(1201, 1, 1, NULL);     /* committed before the bridge ever ran */
	PQfinish(W.conn);
	W.conn = NULL;
	start_broker();
	struct jw_client *cust = client("customer", "1", NULL);
	subscribe(cust, "order/+/status");

	ck_assert_msg(jw_pg_halt(&pg2, SIGINT, err, sizeof(err)) == 0, "%s", err);
	struct jw_bridge_opts o;
	bridge_opts(&o, "backoff_initial_ms 100\nbackoff_max_ms 500");
	o.no_wait = true;
	ck_assert_msg(jw_bridge_start(&W.bridge, &o, err, sizeof(err)) == 0, "%s", err);
	W.bridge_started = true;
	ck_assert_msg(jw_bridge_log_wait(&W.bridge, "cannot connect to PostgreSQL", 3, POS_WAIT_MS),
			"no repeated \"cannot connect to PostgreSQL\" (log %s)", W.bridge.log_path);
	ck_assert_msg(jw_bridge_log_count(&W.bridge, "retry_in=") >= 3, "no retry_in in the log");
	int code;
	ck_assert_msg(jw_bridge_alive(&W.bridge, &code), "the bridge exited (%d) without a database", code);

	ck_assert_msg(jw_pg_resume(&pg2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(jw_bridge_log_wait(&W.bridge, "resync complete", 1, 30000), "no resync after the database "
			"came back (log %s)", W.bridge.log_path);
	EXPECT_STATUS(cust, "1201", "ORD-1201", "PENDING", NULL, 1);
	W.conn = PQconnectdb(W.conninfo);
	ck_assert_msg(PQstatus(W.conn) == CONNECTION_OK, "%s", PQerrorMessage(W.conn));
	sql("UPDATE orders SET status = 'CONFIRMED' WHERE id = 1201");
	EXPECT_STATUS(cust, "1201", "ORD-1201", "CONFIRMED", "PENDING", 2);
	wait_outbox_empty(__LINE__);
	ck_assert_msg(jw_bridge_alive(&W.bridge, &code), "the bridge exited (%d)", code);
	finish();
	ck_assert_msg(jw_pg_stop(&pg2, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

START_TEST(unreachable_broker_is_retried_until_it_comes)
{
	demo_db(&PG, "t_nobroker");
	start_broker();
	ck_assert_int_eq(jw_broker_halt(&W.broker, SIGTERM), 0);   /* keeps its port and secret */

	char err[2048];
	struct jw_bridge_opts o;
	bridge_opts(&o, "backoff_initial_ms 100\nbackoff_max_ms 500");
	o.no_wait = true;
	ck_assert_msg(jw_bridge_start(&W.bridge, &o, err, sizeof(err)) == 0, "%s", err);
	W.bridge_started = true;
	ck_assert_msg(jw_bridge_log_wait(&W.bridge, "cannot connect to the broker", 3, POS_WAIT_MS),
			"no repeated \"cannot connect to the broker\" (log %s)", W.bridge.log_path);
	int code;
	ck_assert_msg(jw_bridge_alive(&W.bridge, &code), "the bridge exited (%d) without a broker", code);
	insert_order(1202, 1, 1, NULL);     /* waits in the outbox */
	sleep_ms(300);
	ck_assert_int_eq(outbox_rows(), 1);

	ck_assert_int_eq(jw_broker_resume(&W.broker), 0);
	ck_assert_msg(jw_bridge_log_wait(&W.bridge, "resync complete", 1, 30000), "no resync after the broker "
			"came (log %s)", W.bridge.log_path);
	wait_outbox_empty(__LINE__);
	struct jw_client *cust = client("customer", "1", NULL);
	subscribe(cust, "order/+/status");
	EXPECT_STATUS(cust, "1202", "ORD-1202", "PENDING", NULL, 1);
	ck_assert_msg(jw_bridge_alive(&W.bridge, &code), "the bridge exited (%d)", code);
	finish();
}
END_TEST

/* ---- 13. SIGTERM ---- */

START_TEST(sigterm_while_idle_exits_0_promptly)
{
	setup("t_sigterm", NULL);
	sleep_ms(500);
	int64_t t0 = jw_ms();
	int code = -1;
	char err[512];
	ck_assert_msg(jw_bridge_stop(&W.bridge, &code, err, sizeof(err)) == 0, "%s", err);
	int64_t took = jw_ms() - t0;
	ck_assert_int_eq(code, 0);
	ck_assert_msg(took < 5000, "SIGTERM took %lld ms", (long long)took);
	ck_assert_int_eq(jw_bridge_log_count(&W.bridge, "signal 15"), 1);
	ck_assert_int_eq(jw_bridge_log_count(&W.bridge, "stopped |"), 1);
	finish();
}
END_TEST

/* ---- main ---- */

/* Brokers of a test that failed half-way outlive it (Check's child exits
 * at the failed assertion): as the subreaper we inherit them, and end
 * them here by pid. */
static void end_orphans(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	int pid;
	while (fscanf(f, "%d", &pid) == 1) {
		/* zombies (a bridge killed with its test) only need reaping */
		char stat_path[64], state = '?';
		snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", pid);
		FILE *st = fopen(stat_path, "r");
		if (st) {
			if (fscanf(st, "%*d (%*[^)]) %c", &state) != 1)
				state = '?';
			fclose(st);
		}
		if (pid > 0 && state != 'Z' && kill(pid, SIGTERM) == 0)
			fprintf(stderr, "it_bridge: ended a leftover child of a failed test (pid %d)\n", pid);
	}
	fclose(f);
	sleep_ms(200);
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
}

/* JW_ONLY=substring runs only the tests whose name contains it. */
static void add_test(TCase *tc, const TTest *t)
{
	const char *only = getenv("JW_ONLY");
	if (!only || !*only || strstr(t->name, only))
		tcase_add_test(tc, t);
}

int main(void)
{
	char err[2048];
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (jw_pg_start(&PG, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "it_bridge: PostgreSQL: %s\n", err);
		return EXIT_FAILURE;
	}
	Suite *s = suite_create("bridge");
	TCase *tf = tcase_create("flow");
	tcase_set_timeout(tf, 120);
	add_test(tf, lifecycle_with_plain_sql_reaches_every_party_in_order);
	add_test(tf, non_parties_receive_nothing_whatever_the_filter);
	add_test(tf, reassigning_a_driver_moves_access);
	add_test(tf, cancelled_order_expires_and_access_ends);
	add_test(tf, notifications_reach_only_their_user);
	add_test(tf, bad_rows_are_dead_lettered_and_nothing_stalls);
	add_test(tf, prisma_style_table_reaches_the_customer);
	add_test(tf, prisma_style_table_next_to_the_demo_tables);
	add_test(tf, every_payload_matches_its_json_schema);
	add_test(tf, stats_are_published_retained);
	suite_add_tcase(s, tf);

	TCase *tl = tcase_create("lifecycle");
	tcase_set_timeout(tl, 120);
	add_test(tl, changes_made_while_the_bridge_is_down_arrive_after_restart);
	add_test(tl, command_line_and_configuration_errors);
	add_test(tl, unreachable_database_is_retried_until_it_comes);
	add_test(tl, unreachable_broker_is_retried_until_it_comes);
	add_test(tl, sigterm_while_idle_exits_0_promptly);
	suite_add_tcase(s, tl);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (jw_pg_stop(&PG, err, sizeof(err)) != 0)
		fprintf(stderr, "it_bridge: stopping PostgreSQL: %s\n", err);
	end_orphans();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
