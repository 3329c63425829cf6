/*
 * jetwire-order-sim — move the demo's orders through their statuses, as the
 * platform's API would: plain SQL on the demo tables (schemas/demo/tables.sql),
 * one short transaction per step.  jetwire's capture triggers and the bridge
 * turn every change into MQTT messages; this program knows nothing of MQTT.
 *
 * One loop owns the connection: it computes the next deadline (an order's
 * next step, the next new order, the end of --duration, a reconnect), sleeps
 * until then (a signal cuts the sleep short), and acts.  Signals only set a
 * flag.  Usage and options: docs/order-sim.md, or --help.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jw_parse.h"
#include "order_sim_flow.h"

#define PROG "jetwire-order-sim"
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000
#define MAX_SLEEP_MS 1000

struct options {
	const char *database;
	double interval_s;
	long max_active;
	double step_s;
	double cancel_rate;
	double position_max_age_s;
	double duration_s;
	uint64_t seed;
	bool quiet;
};

/* An active order the simulator moves: when its next step is due, and in
 * which status (if any) it will be cancelled instead of advanced. */
struct sched {
	long long id;
	int64_t due_ms;
	enum os_status cancel_at;
	bool waiting_logged;   /* "waiting for a driver" said once */
	bool seen;             /* still active in the last scan */
};

struct counters {
	uint64_t created, transitions, delivered, cancelled, reconnects, errors;
};

static struct options opt;
static struct os_rng rng;
static struct counters cnt;
static struct sched *orders;
static size_t n_orders, cap_orders;
static PGconn *conn;
static bool has_positions;      /* jetwire.driver_position exists */
static bool created_first;      /* the first order goes to customer 1 / merchant 1 */
static volatile sig_atomic_t stop_signal;

/* ---------- time and logging ---------- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);   /* EINTR: a signal; the loop looks at the flag */
}

/* "2025-01-01T00:00:00.000Z jetwire-order-sim: " + message, one write. */
static void vlogline(const char *fmt, va_list ap)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char line[2048];
	int len = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ " PROG ": ",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			ts.tv_nsec / 1000000);
	if (len > 0 && (size_t)len < sizeof(line))
		vsnprintf(line + len, sizeof(line) - (size_t)len, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

/* Errors: always logged. */
static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlogline(fmt, ap);
	va_end(ap);
}

/* Transitions and progress: not with --quiet. */
static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
	if (opt.quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlogline(fmt, ap);
	va_end(ap);
}

/* The first line of libpq's message, without the "ERROR:  " noise. */
static const char *pq_msg(char *buf, size_t len)
{
	const char *m = conn ? PQerrorMessage(conn) : "no connection";
	if (strncmp(m, "ERROR:  ", 8) == 0)
		m += 8;
	snprintf(buf, len, "%s", m);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* ---------- arguments ---------- */

static int usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--database URL] [options]\n"
		"Moves the demo's orders through their statuses with SQL (schemas/demo/tables.sql).\n"
		"  --database URL          libpq URL or conninfo (default: $DATABASE_URL)\n"
		"  --interval S            a new order every S seconds while fewer than --max-active (20)\n"
		"  --max-active N          active orders at most, 0 = create none (5)\n"
		"  --step S                seconds between two steps of an order, randomised +-25 %% (8)\n"
		"  --cancel-rate P         share of orders cancelled before pickup, 0..1 (0.05)\n"
		"  --position-max-age S    driver positions older than this are not 'fresh' (300)\n"
		"  --duration S            stop after S seconds, 0 = at SIGINT/SIGTERM (0)\n"
		"  --seed N                random seed (default: time and pid)\n"
		"  --quiet                 log errors only, not every transition\n"
		"  --help                  this text\n"
		"Exit status: 0 stopped (signal or --duration), 1 fatal error, 2 bad arguments.\n");
	return 2;
}

static int bad_arg(const char *name, const char *value, const char *want)
{
	fprintf(stderr, PROG ": %s: expected %s, got '%s'\n", name, want, value);
	return 2;
}

static int parse_args(int argc, char **argv)
{
	opt = (struct options){.interval_s = 20, .max_active = 5, .step_s = 8, .cancel_rate = 0.05,
		.position_max_age_s = 300, .duration_s = 0};
	opt.seed = (uint64_t)time(NULL) * 6364136223846793005ull ^ (uint64_t)getpid();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(a, "--quiet")) {
			opt.quiet = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, PROG ": unexpected argument '%s'\n", a);
			return usage(stderr);
		}
		const char *known[] = {"--database", "--interval", "--max-active", "--step", "--cancel-rate",
			"--position-max-age", "--duration", "--seed"};
		bool is_known = false;
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			is_known = is_known || !strcmp(a, known[k]);
		if (!is_known) {
			fprintf(stderr, PROG ": unknown option %s\n", a);
			return usage(stderr);
		}
		if (i + 1 >= argc) {
			fprintf(stderr, PROG ": %s needs a value\n", a);
			return usage(stderr);
		}
		const char *v = argv[++i];
		long l;
		if (!strcmp(a, "--database")) {
			if (!*v)
				return bad_arg(a, v, "a PostgreSQL URL or conninfo");
			opt.database = v;
		} else if (!strcmp(a, "--interval")) {
			if (!jw_parse_double(v, 0.05, 86400, &opt.interval_s))
				return bad_arg(a, v, "seconds 0.05..86400");
		} else if (!strcmp(a, "--max-active")) {
			if (!jw_parse_long(v, 0, 100000, &opt.max_active))
				return bad_arg(a, v, "an integer 0..100000");
		} else if (!strcmp(a, "--step")) {
			if (!jw_parse_double(v, 0.05, 86400, &opt.step_s))
				return bad_arg(a, v, "seconds 0.05..86400");
		} else if (!strcmp(a, "--cancel-rate")) {
			if (!jw_parse_double(v, 0, 1, &opt.cancel_rate))
				return bad_arg(a, v, "a probability 0..1");
		} else if (!strcmp(a, "--position-max-age")) {
			if (!jw_parse_double(v, 1, 86400 * 365.0, &opt.position_max_age_s))
				return bad_arg(a, v, "seconds >= 1");
		} else if (!strcmp(a, "--duration")) {
			if (!jw_parse_double(v, 0, 1e9, &opt.duration_s))
				return bad_arg(a, v, "seconds >= 0");
		} else if (!strcmp(a, "--seed")) {
			if (!jw_parse_long(v, 0, LONG_MAX, &l))
				return bad_arg(a, v, "an integer >= 0");
			opt.seed = (uint64_t)l;
		}
	}
	if (!opt.database) {
		const char *env = getenv("DATABASE_URL");
		if (!env || !*env) {
			fprintf(stderr, PROG ": no database: give --database URL or set DATABASE_URL\n");
			return 2;
		}
		opt.database = env;
	}
	char *perr = NULL;
	PQconninfoOption *ci = PQconninfoParse(opt.database, &perr);
	if (!ci) {
		char m[512];
		snprintf(m, sizeof(m), "%s", perr ? perr : "out of memory");
		m[strcspn(m, "\n")] = '\0';
		fprintf(stderr, PROG ": --database: not a PostgreSQL URL or conninfo: %s\n", m);
		PQfreemem(perr);
		return 2;
	}
	PQconninfoFree(ci);
	return 0;
}

/* ---------- the schedule ---------- */

static struct sched *find_order(long long id)
{
	for (size_t i = 0; i < n_orders; i++)
		if (orders[i].id == id)
			return &orders[i];
	return NULL;
}

static struct sched *add_order(long long id, int64_t due_ms)
{
	if (n_orders == cap_orders) {
		size_t cap = cap_orders ? cap_orders * 2 : 16;
		struct sched *grown = realloc(orders, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		orders = grown;
		cap_orders = cap;
	}
	struct sched *s = &orders[n_orders++];
	*s = (struct sched){.id = id, .due_ms = due_ms, .cancel_at = os_plan_cancel(&rng, opt.cancel_rate),
		.seen = true};
	return s;
}

static void remove_order(struct sched *s)
{
	size_t i = (size_t)(s - orders);
	orders[i] = orders[--n_orders];
}

/* The order due first, or NULL. */
static struct sched *next_due(void)
{
	struct sched *best = NULL;
	for (size_t i = 0; i < n_orders; i++)
		if (!best || orders[i].due_ms < best->due_ms)
			best = &orders[i];
	return best;
}

/* ---------- database ---------- */

static bool lost(void)
{
	return !conn || PQstatus(conn) == CONNECTION_BAD;
}

/* Run a statement; true if it succeeded.  `res` (optional) gets the
 * result, which the caller clears. */
static bool run_sql(const char *sql, int n, const char *const *params, PGresult **res)
{
	if (res)
		*res = NULL;
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		PQclear(r);
		return false;
	}
	if (res)
		*res = r;
	else
		PQclear(r);
	return true;
}

static void rollback(void)
{
	if (!lost())
		PQclear(PQexec(conn, "ROLLBACK"));
}

static void disconnect(void)
{
	if (conn)
		PQfinish(conn);
	conn = NULL;
}

/* Connect and check the tables.  0 ok, -1 retry later, 1 fatal. */
static int connect_db(void)
{
	const char *const keys[] = {"dbname", "application_name", NULL};
	const char *const vals[] = {opt.database, PROG, NULL};
	conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) != CONNECTION_OK) {
		char m[512];
		err("cannot connect to PostgreSQL: %s", pq_msg(m, sizeof(m)));
		disconnect();
		return -1;
	}
	PGresult *r;
	if (!run_sql("SELECT to_regclass('orders') IS NOT NULL, to_regclass('customers') IS NOT NULL, "
			"to_regclass('merchants') IS NOT NULL, to_regclass('drivers') IS NOT NULL, "
			"to_regclass('notifications') IS NOT NULL, to_regclass('jetwire.driver_position') IS NOT NULL",
			0, NULL, &r)) {
		char m[512];
		err("checking the tables: %s", pq_msg(m, sizeof(m)));
		disconnect();
		return -1;
	}
	static const char *const tables[] = {"orders", "customers", "merchants", "drivers", "notifications"};
	for (int i = 0; i < 5; i++) {
		if (strcmp(PQgetvalue(r, 0, i), "t") != 0) {
			err("the database has no table '%s': load the demo tables first "
					"(psql \"$DATABASE_URL\" -f schemas/demo/tables.sql)", tables[i]);
			PQclear(r);
			disconnect();
			return 1;
		}
	}
	bool had = has_positions;
	has_positions = strcmp(PQgetvalue(r, 0, 5), "t") == 0;
	PQclear(r);
	if (!has_positions && had != has_positions)
		err("warning: no table jetwire.driver_position (jetwire's migrations): drivers are picked "
				"without positions");
	return 0;
}

/* Schedule the active orders the simulator does not know yet (at start,
 * after a reconnect, orders inserted by someone else); forget those that
 * ended elsewhere.  false on a database error. */
static bool scan_active(int64_t now)
{
	PGresult *r;
	if (!run_sql("SELECT id FROM orders WHERE status NOT IN ('DELIVERED', 'CANCELLED') ORDER BY id", 0, NULL, &r))
		return false;
	for (size_t i = 0; i < n_orders; i++)
		orders[i].seen = false;
	for (int i = 0; i < PQntuples(r); i++) {
		long long id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		struct sched *s = find_order(id);
		if (s)
			s->seen = true;
		else if (!add_order(id, now + os_jitter_ms(&rng, opt.step_s)))
			err("out of memory: order %lld not scheduled", id);
	}
	PQclear(r);
	for (size_t i = 0; i < n_orders;) {
		if (!orders[i].seen)
			remove_order(&orders[i]);
		else
			i++;
	}
	return true;
}

/* Insert one notification (part of the caller's transaction). */
static bool notify(const struct os_notice *n, const char *user_id, const char *order_id,
		const char *order_number, const char *status, const char *name)
{
	char body[512];
	snprintf(body, sizeof(body), n->body_fmt, order_number, name ? name : "");
	const char *p[] = {n->to, user_id, n->title, body, order_id, order_number, status};
	return run_sql("INSERT INTO notifications (user_type, user_id, title, body, data) "
			"VALUES ($1, $2, $3, $4, jsonb_build_object('orderId', $5::text, 'orderNumber', $6::text, "
			"'status', $7::text))",
			7, p, NULL);
}

/* A new PENDING order: a random customer and merchant (the first order of a
 * run: the first of each, so the demo's customer 1 has one at once), with a
 * note to the merchant.  One transaction.  false on a database error. */
static bool create_order(int64_t now)
{
	PGresult *r;
	if (!run_sql("SELECT count(*) FROM orders WHERE status NOT IN ('DELIVERED', 'CANCELLED')", 0, NULL, &r))
		return false;
	long active = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (active >= opt.max_active)
		return true;

	char c_pick[24], m_pick[24];
	snprintf(c_pick, sizeof(c_pick), "%" PRIu64, created_first ? os_rng_next(&rng) >> 2 : 0);
	snprintf(m_pick, sizeof(m_pick), "%" PRIu64, created_first ? os_rng_next(&rng) >> 2 : 0);
	const char *p[] = {c_pick, m_pick};
	if (!run_sql("BEGIN", 0, NULL, NULL))
		return false;
	if (!run_sql("WITH c AS (SELECT id, name FROM customers ORDER BY id "
			"         OFFSET ($1::bigint % GREATEST((SELECT count(*) FROM customers), 1)) LIMIT 1), "
			"m AS (SELECT id, name FROM merchants ORDER BY id "
			"      OFFSET ($2::bigint % GREATEST((SELECT count(*) FROM merchants), 1)) LIMIT 1), "
			"o AS (INSERT INTO orders (id, order_number, status, customer_id, merchant_id) "
			"      SELECT n.id, 'DJ-' || lpad(n.id::text, 6, '0'), 'PENDING', c.id, m.id "
			"      FROM (SELECT nextval(pg_get_serial_sequence('orders', 'id')) AS id) n, c, m "
			"      RETURNING id, order_number, customer_id, merchant_id) "
			"SELECT o.id, o.order_number, o.merchant_id::text, c.id, c.name, m.name FROM o, c, m",
			2, p, &r)) {
		rollback();
		return false;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		rollback();
		err("no customer or no merchant in the database: nothing to order "
				"(load schemas/demo/data.sql)");
		return true;
	}
	const char *id = PQgetvalue(r, 0, 0), *number = PQgetvalue(r, 0, 1), *merchant = PQgetvalue(r, 0, 2);
	struct os_notice n[2];
	int k = os_notices(OS_PENDING, n, 2);
	for (int i = 0; i < k; i++) {
		if (!notify(&n[i], merchant, id, number, "PENDING", PQgetvalue(r, 0, 4))) {
			PQclear(r);
			rollback();
			return false;
		}
	}
	if (!run_sql("COMMIT", 0, NULL, NULL)) {
		PQclear(r);
		return false;
	}
	created_first = true;
	cnt.created++;
	long long oid = strtoll(id, NULL, 10);
	info("order %s %s created: PENDING | customer %s (%s), merchant %s (%s)", id, number,
			PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4), merchant, PQgetvalue(r, 0, 5));
	PQclear(r);
	if (!find_order(oid) && !add_order(oid, now + os_jitter_ms(&rng, opt.step_s)))
		err("out of memory: order %lld not scheduled", oid);
	return true;
}

/* The nearest AVAILABLE driver to the merchant's pickup point with a fresh
 * position (as the bridge's offers measure it, migration 0007), else any
 * AVAILABLE driver; locked for this transaction.  Returns the row (id,
 * name, km or NULL) or NULL if none; false on a database error. */
static bool pick_driver(const char *merchant_id, PGresult **out)
{
	*out = NULL;
	char age[32];
	snprintf(age, sizeof(age), "%.3f", opt.position_max_age_s);
	const char *p[] = {merchant_id, age};
	PGresult *r;
	bool ok;
	if (has_positions)
		ok = run_sql("SELECT d.id::text, d.name, "
				"  round((2 * 6371 * asin(sqrt(power(sin(radians(pos.lat - m.pickup_lat) / 2), 2) "
				"    + cos(radians(m.pickup_lat)) * cos(radians(pos.lat)) "
				"    * power(sin(radians(pos.lng - m.pickup_lng) / 2), 2))))::numeric, 2) AS km "
				"FROM drivers d "
				"CROSS JOIN (SELECT pickup_lat, pickup_lng FROM merchants WHERE id = $1::bigint) m "
				"LEFT JOIN jetwire.driver_position pos ON pos.driver_id = d.id::text "
				"  AND pos.lat IS NOT NULL AND pos.lng IS NOT NULL "
				"  AND pos.ts > now() - make_interval(secs => $2::float8) "
				"  AND pos.presence IS DISTINCT FROM 'offline' "
				"WHERE d.availability = 'AVAILABLE' "
				"ORDER BY km NULLS LAST, d.id LIMIT 1 FOR UPDATE OF d SKIP LOCKED",
				2, p, &r);
	else
		ok = run_sql("SELECT d.id::text, d.name, NULL::numeric AS km FROM drivers d "
				"WHERE d.availability = 'AVAILABLE' "
				"ORDER BY d.id LIMIT 1 FOR UPDATE OF d SKIP LOCKED",
				0, NULL, &r);
	if (!ok)
		return false;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return true;
	}
	*out = r;
	return true;
}

/* Release the drivers of order `id` that no other active order holds. */
static bool release_drivers(const char *id)
{
	const char *p[] = {id};
	return run_sql("UPDATE drivers d SET availability = 'AVAILABLE' "
			"FROM orders o WHERE o.id = $1::bigint "
			"AND d.id IN (o.pickup_driver_id, o.delivery_driver_id) AND d.availability = 'BUSY' "
			"AND NOT EXISTS (SELECT 1 FROM orders x WHERE x.id <> o.id "
			"  AND x.status NOT IN ('DELIVERED', 'CANCELLED') "
			"  AND d.id IN (x.pickup_driver_id, x.delivery_driver_id))",
			1, p, NULL);
}

/* One step of order `s`: read its status (locked), move it one status on
 * (or cancel it), in one transaction.  false on a database error. */
static bool advance(struct sched *s, int64_t now)
{
	char id[24];
	snprintf(id, sizeof(id), "%lld", s->id);
	const char *pid[] = {id};
	if (!run_sql("BEGIN", 0, NULL, NULL))
		return false;
	PGresult *o;
	if (!run_sql("SELECT o.status, o.order_number, o.customer_id::text, o.merchant_id::text, "
			"o.pickup_driver_id::text, o.delivery_driver_id::text, c.name "
			"FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = $1::bigint FOR UPDATE OF o",
			1, pid, &o)) {
		rollback();
		return false;
	}
	if (PQntuples(o) == 0) {   /* deleted meanwhile */
		PQclear(o);
		rollback();
		remove_order(s);
		return true;
	}
	enum os_status cur = os_status_parse(PQgetvalue(o, 0, 0));
	if (cur == OS_UNKNOWN || os_status_terminal(cur)) {
		if (cur == OS_UNKNOWN)
			err("order %s: status '%s' is not one the simulator moves; leaving the order alone", id,
					PQgetvalue(o, 0, 0));
		PQclear(o);
		rollback();
		remove_order(s);
		return true;
	}
	enum os_status to = s->cancel_at == cur ? OS_CANCELLED : os_status_next(cur);
	const char *number = PQgetvalue(o, 0, 1), *customer = PQgetvalue(o, 0, 2), *merchant = PQgetvalue(o, 0, 3);
	const char *customer_name = PQgetvalue(o, 0, 6);

	/* a driver for ASSIGNED_TO_DRIVER (pickup) and OUT_FOR_DELIVERY (delivery) */
	char role = os_status_assigns(to);
	PGresult *d = NULL;
	char detail[160] = "";
	if (role) {
		if (!pick_driver(merchant, &d)) {
			PQclear(o);
			rollback();
			return false;
		}
		if (!d) {
			PQclear(o);
			rollback();
			if (!s->waiting_logged)
				info("order %s %s: no AVAILABLE driver for %s; waiting", id, number, os_status_name(to));
			s->waiting_logged = true;
			s->due_ms = now + os_jitter_ms(&rng, opt.step_s);
			return true;
		}
		const char *pdrv[] = {PQgetvalue(d, 0, 0)};
		const char *pd[] = {id, PQgetvalue(d, 0, 0), os_status_name(to)};
		bool ok = run_sql("UPDATE drivers SET availability = 'BUSY' WHERE id = $1::bigint", 1, pdrv, NULL)
			&& run_sql(role == 'p'
					? "UPDATE orders SET status = $3, pickup_driver_id = $2::bigint WHERE id = $1::bigint"
					: "UPDATE orders SET status = $3, delivery_driver_id = $2::bigint WHERE id = $1::bigint",
				3, pd, NULL);
		if (!ok) {
			PQclear(d);
			PQclear(o);
			rollback();
			return false;
		}
		if (PQgetisnull(d, 0, 2))
			snprintf(detail, sizeof(detail), " | %s driver %s (%s, no fresh position)",
					role == 'p' ? "pickup" : "delivery", PQgetvalue(d, 0, 0), PQgetvalue(d, 0, 1));
		else
			snprintf(detail, sizeof(detail), " | %s driver %s (%s, %s km from the merchant)",
					role == 'p' ? "pickup" : "delivery", PQgetvalue(d, 0, 0), PQgetvalue(d, 0, 1),
					PQgetvalue(d, 0, 2));
	} else {
		const char *pu[] = {id, os_status_name(to)};
		if (!run_sql("UPDATE orders SET status = $2 WHERE id = $1::bigint", 2, pu, NULL)) {
			PQclear(o);
			rollback();
			return false;
		}
	}
	if (os_status_terminal(to)) {
		if (!release_drivers(id)) {
			PQclear(d);
			PQclear(o);
			rollback();
			return false;
		}
		if (!PQgetisnull(o, 0, 4) || !PQgetisnull(o, 0, 5))
			snprintf(detail, sizeof(detail), " | drivers released");
	}

	/* notes to the customer, the merchant, the driver just assigned */
	struct os_notice n[2];
	int k = os_notices(to, n, 2);
	for (int i = 0; i < k; i++) {
		const char *user = !strcmp(n[i].to, "customer") ? customer
			: !strcmp(n[i].to, "merchant") ? merchant : d ? PQgetvalue(d, 0, 0) : NULL;
		const char *name = d ? PQgetvalue(d, 0, 1) : customer_name;
		if (user && !notify(&n[i], user, id, number, os_status_name(to), name)) {
			PQclear(d);
			PQclear(o);
			rollback();
			return false;
		}
	}
	PQclear(d);
	if (!run_sql("COMMIT", 0, NULL, NULL)) {
		PQclear(o);
		return false;
	}
	cnt.transitions++;
	if (to == OS_DELIVERED)
		cnt.delivered++;
	if (to == OS_CANCELLED)
		cnt.cancelled++;
	info("order %s %s %s -> %s%s", id, number, os_status_name(cur), os_status_name(to), detail);
	PQclear(o);
	s->waiting_logged = false;
	if (os_status_terminal(to))
		remove_order(s);
	else
		s->due_ms = now + os_jitter_ms(&rng, opt.step_s);
	return true;
}

/* A failed statement: the connection is gone (reconnect) or the statement
 * was refused (log it; the order is tried again at its next step). */
static void db_failed(const char *what, struct sched *s, int64_t now)
{
	char m[512];
	pq_msg(m, sizeof(m));
	if (lost()) {
		err("lost the connection to PostgreSQL (%s): %s; reconnecting", what, m);
		disconnect();
		return;
	}
	cnt.errors++;
	err("%s: %s", what, m);
	if (s)
		s->due_ms = now + os_jitter_ms(&rng, opt.step_s);
}

int main(int argc, char **argv)
{
	int rc = parse_args(argc, argv);
	if (rc != 0)
		return rc;
	os_rng_seed(&rng, opt.seed);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);   /* no SA_RESTART: a signal ends the sleep */
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	info("started | interval=%gs step=%gs max_active=%ld cancel_rate=%g seed=%" PRIu64, opt.interval_s,
			opt.step_s, opt.max_active, opt.cancel_rate, opt.seed);
	int64_t start = mono_ms();
	int64_t end = opt.duration_s > 0 ? start + (int64_t)(opt.duration_s * 1000) : INT64_MAX;
	int64_t next_create = start;
	int64_t next_connect = start;
	int backoff = BACKOFF_MIN_MS;
	bool ever_connected = false;
	int exit_code = 0;

	while (!stop_signal) {
		int64_t now = mono_ms();
		if (now >= end)
			break;
		if (!conn) {
			if (now < next_connect) {
				sleep_ms(next_connect - now < end - now ? next_connect - now : end - now);
				continue;
			}
			int c = connect_db();
			if (c > 0) {
				exit_code = 1;
				break;
			}
			if (c < 0) {
				int wait = (int)(backoff * (0.5 + 0.5 * os_rng_unit(&rng)));
				next_connect = mono_ms() + wait;
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			backoff = BACKOFF_MIN_MS;
			if (ever_connected)
				cnt.reconnects++;
			info("connected to PostgreSQL%s%s", ever_connected ? " again" : "",
					has_positions ? "" : " (no driver positions)");
			ever_connected = true;
			if (!scan_active(now)) {
				db_failed("reading the active orders", NULL, now);
				continue;
			}
		}
		if (now >= next_create) {
			next_create = now + (int64_t)(opt.interval_s * 1000);
			if (!scan_active(now)) {
				db_failed("reading the active orders", NULL, now);
				continue;
			}
			if (opt.max_active > 0 && !create_order(now)) {
				db_failed("creating an order", NULL, now);
				continue;
			}
		}
		struct sched *s = next_due();
		if (s && s->due_ms <= now) {
			char what[64];
			snprintf(what, sizeof(what), "order %lld", s->id);
			long long id = s->id;
			if (!advance(s, now)) {
				/* advance() may have moved entries; look the order up again */
				db_failed(what, find_order(id), now);
			}
			continue;
		}
		int64_t wake = next_create;
		if (s && s->due_ms < wake)
			wake = s->due_ms;
		if (end < wake)
			wake = end;
		if (wake - now > MAX_SLEEP_MS)
			wake = now + MAX_SLEEP_MS;
		sleep_ms(wake - now);
	}

	disconnect();
	free(orders);
	info("stopped | created=%" PRIu64 " transitions=%" PRIu64 " delivered=%" PRIu64 " cancelled=%" PRIu64
			" reconnects=%" PRIu64 " errors=%" PRIu64, cnt.created, cnt.transitions, cnt.delivered,
			cnt.cancelled, cnt.reconnects, cnt.errors);
	return exit_code;
}
