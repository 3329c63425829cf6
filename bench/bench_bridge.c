/*
 * bench_bridge — the bridge end to end: committed PostgreSQL order updates
 * turned into retained MQTT messages by the real jetwire-bridge, through a
 * real mosquitto with the jetwire plugin.  One run, one PostgreSQL, one
 * database:
 *
 *  1. baseline: W writer threads, each on its own libpq connection, doing
 *     single-statement autocommit
 *         UPDATE orders SET status = <next status> WHERE id = <random>
 *     as fast as they can for S seconds, with capture NOT installed and no
 *     bridge: updates/s.
 *  2. capture installed (schemas/demo/capture.sql), still no bridge: the
 *     same workload, to separate the triggers' own cost from the bridge's;
 *     once with the wake-up armed (as the migration leaves it: NOTIFY on
 *     every commit) and once disarmed.  The outbox rows they leave are the
 *     backlog the bridge drains when it starts: rows/s with no writers.
 *  3. broker + plugin and the bridge running (default batch_size and
 *     mqtt_inflight): the same flat-out workload.  The outbox backlog
 *     (count(*) of jetwire.outbox) is sampled at the start and end of the
 *     window (and every 0.5 s between); the bridge's drain rate is
 *         (committed - (backlog_end - backlog_start)) / window.
 *     "Keeps up" = the backlog grew by at most max(2,500 rows, 5% of the
 *     rows committed): 2,500 is what the bridge holds by design while it
 *     works (up to 4 batches awaiting PUBACK plus one queued, batch_size
 *     500).  Sustained rate = min(writer rate, drain rate).
 *     The bridge's resident memory (VmRSS, VmHWM) is read at the end.
 *  4. only if the backlog grew: paced runs (the same W writers, rate-
 *     limited to a total R) for S/2 seconds each, R found by bisection
 *     between 0.5 x the measured drain rate and the flat-out writer rate,
 *     starting at the drain rate; the outbox is drained before each.  The
 *     highest R that keeps up (same rule) gives the sustained rate.
 *  5. latency: an MQTT subscriber (admin token, order/+/status, QoS 0)
 *     timestamps every live message; one writer connection, paced at
 *     100/s and then 1,000/s for S seconds each, runs
 *         BEGIN; UPDATE orders ...; SELECT version FROM jetwire.entity_version ...; COMMIT
 *     (one round trip) and timestamps the moment COMMIT returns.  Latency =
 *     receive time - commit-returned time for the same (order id, version);
 *     both clocks are CLOCK_MONOTONIC of this one process.  An update not
 *     received within 5 s counts as missing (must be 0).
 *
 * Figures are printed with their ratio to the baseline, and the issue's
 * targets with "met"/"MISSED"; nothing fails on a timer.  Exit status 2 if
 * something could not be set up, 1 if something broke during the run (a
 * writer error, a missing delivery, the bridge exited or logged errors),
 * else 0.
 *
 * PostgreSQL is the throwaway cluster of test/integration/pg_harness.c:
 * fsync=off and full_page_writes=off (commits do not wait for the disk), on
 * 127.0.0.1 TCP like the bridge.  Paths: JW_BRIDGE (else the build tree's
 * jetwire-bridge), JW_MOSQUITTO, JW_PLUGIN, JW_SOURCE_DIR (or --source-dir),
 * JW_PG_BINDIR.  JW_KEEP_TEST_DIRS=1 keeps the bridge's dir (log), JW_PG_KEEP=1
 * PostgreSQL's, JW_BENCH_KEEP=1 the broker's.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_broker.h"
#include "bridge_harness.h"
#include "jw_file.h"
#include "migrate.h"
#include "pg_harness.h"

#ifndef BENCH_BRIDGE
#define BENCH_BRIDGE ""
#endif

#define DB_NAME "jwbench"
#define MISSING_AFTER_S 5.0
#define HELD_BY_DESIGN 2500     /* (4 + 1) x batch_size 500: rows the bridge holds while working */
#define DRAIN_TIMEOUT_S 180.0

/* The next non-terminal status: every update changes the captured status
 * (an update that sets the same value is not a change), and no order ends. */
#define NEXT_STATUS \
	"CASE status WHEN 'PENDING' THEN 'CONFIRMED' WHEN 'CONFIRMED' THEN 'ASSIGNED_TO_DRIVER'" \
	" WHEN 'ASSIGNED_TO_DRIVER' THEN 'PICKED_UP' WHEN 'PICKED_UP' THEN 'IN_PROCESS'" \
	" WHEN 'IN_PROCESS' THEN 'READY_FOR_DELIVERY' WHEN 'READY_FOR_DELIVERY' THEN 'OUT_FOR_DELIVERY'" \
	" ELSE 'PENDING' END"

struct opts {
	double seconds;
	int orders;
	int writers;
	int steps;
	bool quick;
};

static struct opts O = {.seconds = 10, .orders = 1000, .writers = 8, .steps = 4};

static struct jw_pg g_pg;
static bool g_pg_up;
static struct jw_bridge g_br;
static bool g_br_up;
static char g_ci[512];
static int g_rc;             /* 1 once something broke during the run */

/* ---- failure and cleanup ---- */

static void print_bridge_log_tail(void)
{
	if(!g_br_up || !g_br.log_path[0]) return;
	FILE *f = fopen(g_br.log_path, "r");
	if(f == NULL) return;
	char buf[3000];
	if(fseek(f, 0, SEEK_END) == 0){
		long size = ftell(f);
		if(size > (long)sizeof(buf) - 1) fseek(f, size - (long)sizeof(buf) + 1, SEEK_SET);
		else fseek(f, 0, SEEK_SET);
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	fprintf(stderr, "---- end of the bridge's log (%s) ----\n%s----\n", g_br.log_path, buf);
}

static void cleanup(void)
{
	if(g_br_up){
		g_br_up = false;
		jw_bridge_cleanup(&g_br);
	}
	if(g_pg_up){
		char err[256];
		g_pg_up = false;
		jw_pg_stop(&g_pg, err, sizeof(err));
	}
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_bridge_log_tail();
	bb_die("%s", msg);   /* stops the broker; exit() runs cleanup() */
}

/* ---- time ---- */

static void sleep_until(double t)
{
	struct timespec ts;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	if(ts.tv_nsec >= 1000000000L){
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR){
	}
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* ---- PostgreSQL ---- */

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *db_open(void)
{
	PGconn *c = PQconnectdb(g_ci);
	if(PQstatus(c) != CONNECTION_OK) die("cannot connect to PostgreSQL: %s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	return c;
}

static void db_exec(PGconn *c, const char *what, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if(st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK){
		die("%s: %s", what, PQerrorMessage(c));
	}
	PQclear(r);
}

static long long db_scalar(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if(PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1){
		die("%s: %s", sql, PQerrorMessage(c));
	}
	long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

static void db_show(PGconn *c, const char *setting, char *out, size_t len)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SHOW %s", setting);
	PGresult *r = PQexec(c, sql);
	snprintf(out, len, "%s", PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "?");
	PQclear(r);
}

static long long backlog(PGconn *mon)
{
	return db_scalar(mon, "SELECT count(*) FROM jetwire.outbox");
}

static void load_sql_file(PGconn *c, const char *rel)
{
	char path[1024], err[512], *text = NULL;
	size_t len;
	snprintf(path, sizeof(path), "%s/%s", bb_source_dir(), rel);
	if(jw_read_file(path, 1 << 22, &text, &len, err, sizeof(err)) != 0){
		die("%s (set JW_SOURCE_DIR or --source-dir)", err);
	}
	db_exec(c, rel, text);
	free(text);
}

/* VACUUM the tables the writers and the bridge churn, and checkpoint, so
 * every timed phase starts from the same state. */
static void settle(PGconn *c, bool capture)
{
	db_exec(c, "VACUUM", "VACUUM ANALYZE orders");
	if(capture){
		db_exec(c, "VACUUM", "VACUUM ANALYZE jetwire.outbox");
		db_exec(c, "VACUUM", "VACUUM ANALYZE jetwire.entity_version");
	}
	db_exec(c, "CHECKPOINT", "CHECKPOINT");
}

/* Wait until the outbox holds at most `limit` rows; false on timeout. */
static bool wait_drained(PGconn *mon, long long limit, double timeout_s, double *waited, long long *left)
{
	double t0 = bb_now();
	for(;;){
		long long b = backlog(mon);
		if(left) *left = b;
		if(b <= limit){
			if(waited) *waited = bb_now() - t0;
			return true;
		}
		if(bb_now() - t0 > timeout_s){
			if(waited) *waited = bb_now() - t0;
			return false;
		}
		bb_sleep_ms(50);
	}
}

/* ---- the writers ---- */

struct writer {
	pthread_t th;
	PGconn *conn;
	uint64_t rng;
	double rate;           /* this thread's updates/s; 0: flat out */
	double t_start, t_end, t_done;
	long committed, errors;
	char err[300];
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char idbuf[24];
	const char *vals[1] = {idbuf};
	sleep_until(w->t_start);
	double next = w->t_start;
	for(;;){
		double now = bb_now();
		if(now >= w->t_end) break;
		if(w->rate > 0){
			if(next > now){
				if(next >= w->t_end) break;
				sleep_until(next);
			}
			next += 1.0 / w->rate;
		}
		snprintf(idbuf, sizeof(idbuf), "%d", 1 + (int)(xorshift(&w->rng) % (uint64_t)O.orders));
		PGresult *r = PQexecPrepared(w->conn, "upd", 1, vals, NULL, NULL, 0);
		if(PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdTuples(r), "1") == 0){
			w->committed++;
		}else{
			if(w->errors == 0){
				snprintf(w->err, sizeof(w->err), "%s", PQresultStatus(r) == PGRES_COMMAND_OK
						? "an UPDATE changed no row" : PQerrorMessage(w->conn));
			}
			w->errors++;
		}
		PQclear(r);
	}
	w->t_done = bb_now();
	return NULL;
}

struct window {
	double target;         /* total paced rate; 0: flat out */
	double secs;           /* the writers' window */
	long committed, errors;
	double rate;           /* committed / secs */
	bool sampled;          /* backlog measured */
	long long b_start, b_end, b_max;
	double b_secs;         /* between the start and end samples */
	double drain;          /* rows removed from the outbox per second */
	long long tolerance;
	bool keeps_up;
	double bridge_cpu, broker_cpu;   /* seconds used during the window */
};

static struct writer *g_writers;

static void run_window(double total_rate, double seconds, PGconn *mon, pid_t bridge_pid,
		pid_t broker_pid, struct window *out)
{
	memset(out, 0, sizeof(*out));
	out->target = total_rate;
	out->sampled = mon != NULL;
	double cpu_b0 = bridge_pid > 0 ? bb_cpu_seconds(bridge_pid) : 0;
	double cpu_m0 = broker_pid > 0 ? bb_cpu_seconds(broker_pid) : 0;
	double t0 = bb_now();
	if(mon) out->b_start = out->b_max = backlog(mon);
	double ts = bb_now() + 0.02, te = ts + seconds;
	for(int i = 0; i < O.writers; i++){
		struct writer *w = &g_writers[i];
		w->rate = total_rate > 0 ? total_rate / O.writers : 0;
		w->t_start = ts;
		w->t_end = te;
		w->committed = w->errors = 0;
		w->err[0] = '\0';
		if(pthread_create(&w->th, NULL, writer_main, w) != 0) die("pthread_create failed");
	}
	if(mon){
		for(;;){
			double left = te - bb_now();
			if(left <= 0.05) break;
			bb_sleep_ms(left > 0.5 ? 500 : (int)(left * 1000));
			long long b = backlog(mon);
			if(b > out->b_max) out->b_max = b;
		}
	}
	double done = ts;
	for(int i = 0; i < O.writers; i++){
		struct writer *w = &g_writers[i];
		pthread_join(w->th, NULL);
		out->committed += w->committed;
		out->errors += w->errors;
		if(w->t_done > done) done = w->t_done;
		if(w->errors){
			fprintf(stderr, "bench: writer %d: %ld failed update(s), first: %s\n", i, w->errors, w->err);
		}
	}
	out->secs = done - ts;
	out->rate = out->secs > 0 ? (double)out->committed / out->secs : 0;
	if(mon){
		out->b_end = backlog(mon);
		if(out->b_end > out->b_max) out->b_max = out->b_end;
		out->b_secs = bb_now() - t0;
		long long growth = out->b_end - out->b_start;
		out->drain = (double)(out->committed - growth) / out->b_secs;
		long long pct = (long long)(0.05 * (double)out->committed);
		out->tolerance = pct > HELD_BY_DESIGN ? pct : HELD_BY_DESIGN;
		out->keeps_up = growth <= out->tolerance;
	}
	if(bridge_pid > 0) out->bridge_cpu = bb_cpu_seconds(bridge_pid) - cpu_b0;
	if(broker_pid > 0) out->broker_cpu = bb_cpu_seconds(broker_pid) - cpu_m0;
	if(out->errors) g_rc = 1;
}

static double sustained_of(const struct window *w)
{
	return w->drain < w->rate ? w->drain : w->rate;
}

static void print_window(const char *label, const struct window *w)
{
	if(w->target > 0) printf("  %-26s target %7.0f/s: ", label, w->target);
	else printf("  %-26s flat out:       ", label);
	printf("%8ld updates in %5.2f s = %7.0f updates/s", w->committed, w->secs, w->rate);
	if(w->errors) printf(" (%ld FAILED)", w->errors);
	if(w->sampled){
		printf("; backlog %lld -> %lld (max %lld), drain %7.0f rows/s, %s", w->b_start, w->b_end,
				w->b_max, w->drain, w->keeps_up ? "keeps up" : "falls behind");
	}
	printf("\n");
	fflush(stdout);
}

/* ---- the subscriber ---- */

struct rec {
	long long id, version;
	double t;
};

struct sub {
	struct mosquitto *m;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int connack;           /* -2 waiting */
	bool subscribed;
	struct rec *recs;
	size_t n, cap, overflow, retained, unparsed;
	char stats[4096];      /* the last jetwire/bridge/stats payload */
};

static struct sub g_sub = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .connack = -2};

static void sub_on_connect(struct mosquitto *m, void *obj, int rc)
{
	(void)m;
	struct sub *s = obj;
	pthread_mutex_lock(&s->lock);
	s->connack = rc;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void sub_on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
	(void)m;
	(void)mid;
	struct sub *s = obj;
	pthread_mutex_lock(&s->lock);
	s->subscribed = n >= 1 && granted[0] < 0x80;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void sub_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	(void)m;
	double t = bb_now();
	struct sub *s = obj;
	if(strcmp(msg->topic, "jetwire/bridge/stats") == 0){
		pthread_mutex_lock(&s->lock);
		size_t len = (size_t)msg->payloadlen < sizeof(s->stats) - 1 ? (size_t)msg->payloadlen : sizeof(s->stats) - 1;
		memcpy(s->stats, msg->payload, len);
		s->stats[len] = '\0';
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if(msg->retain){
		pthread_mutex_lock(&s->lock);
		s->retained++;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	/* order/<id>/status, {"orderId":..., "version":N, ...} */
	char *end = NULL;
	long long id = strncmp(msg->topic, "order/", 6) == 0 ? strtoll(msg->topic + 6, &end, 10) : -1;
	char buf[2048];
	size_t len = (size_t)msg->payloadlen < sizeof(buf) - 1 ? (size_t)msg->payloadlen : sizeof(buf) - 1;
	memcpy(buf, msg->payload, len);
	buf[len] = '\0';
	const char *v = strstr(buf, "\"version\":");
	pthread_mutex_lock(&s->lock);
	if(id < 0 || end == NULL || *end != '/' || v == NULL){
		s->unparsed++;
	}else if(s->n < s->cap){
		s->recs[s->n++] = (struct rec){id, strtoll(v + 10, NULL, 10), t};
	}else{
		s->overflow++;
	}
	pthread_mutex_unlock(&s->lock);
}

static void sub_start(struct sub *s, int port, const char *token, size_t cap)
{
	s->recs = calloc(cap, sizeof(*s->recs));
	s->cap = cap;
	if(s->recs == NULL) die("out of memory");
	s->m = mosquitto_new("bench-bridge-subscriber", true, s);
	if(s->m == NULL) die("mosquitto_new failed");
	mosquitto_int_option(s->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(s->m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(s->m, sub_on_connect);
	mosquitto_subscribe_callback_set(s->m, sub_on_subscribe);
	mosquitto_message_callback_set(s->m, sub_on_message);
	mosquitto_username_pw_set(s->m, "jwt", token);
	if(mosquitto_connect(s->m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS
			|| mosquitto_loop_start(s->m) != MOSQ_ERR_SUCCESS){
		die("the subscriber cannot connect to the broker");
	}
	double deadline = bb_now() + 10;
	pthread_mutex_lock(&s->lock);
	while(s->connack == -2 && bb_now() < deadline){
		pthread_mutex_unlock(&s->lock);
		bb_sleep_ms(10);
		pthread_mutex_lock(&s->lock);
	}
	int rc = s->connack;
	pthread_mutex_unlock(&s->lock);
	if(rc != 0) die("the subscriber was refused (CONNACK %d)", rc);
	char *subs[] = {"order/+/status", "jetwire/bridge/stats"};
	if(mosquitto_subscribe_multiple(s->m, NULL, 2, subs, 0, 0, NULL) != MOSQ_ERR_SUCCESS){
		die("subscribe failed");
	}
	deadline = bb_now() + 10;
	pthread_mutex_lock(&s->lock);
	while(!s->subscribed && bb_now() < deadline){
		pthread_mutex_unlock(&s->lock);
		bb_sleep_ms(10);
		pthread_mutex_lock(&s->lock);
	}
	bool ok = s->subscribed;
	pthread_mutex_unlock(&s->lock);
	if(!ok) die("the subscription to order/+/status was refused");
}

static void sub_stop(struct sub *s)
{
	if(s->m == NULL) return;
	mosquitto_disconnect(s->m);
	mosquitto_loop_stop(s->m, false);
	mosquitto_destroy(s->m);
	s->m = NULL;
	free(s->recs);
	s->recs = NULL;
}

/* ---- latency ---- */

struct latency {
	double target, achieved, secs;
	size_t updates, delivered, missing, duplicates, unexpected, overflow;
	double p50, p99, max, min, mean;
	bool have_bridge;
	long long bridge_samples, bridge_p50, bridge_p99, bridge_max;
};

static int cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	if(x->id != y->id) return x->id < y->id ? -1 : 1;
	if(x->version != y->version) return x->version < y->version ? -1 : 1;
	return (x->t > y->t) - (x->t < y->t);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One paced writer on `c`; every update's (id, version, commit-returned time). */
static void latency_phase(PGconn *c, PGconn *mon, double rate, double seconds, struct latency *out)
{
	memset(out, 0, sizeof(*out));
	out->target = rate;
	double waited;
	long long left;
	if(!wait_drained(mon, 0, DRAIN_TIMEOUT_S, &waited, &left)){
		die("the outbox did not drain before the latency phase: %lld rows left after %.0f s", left, waited);
	}
	bb_sleep_ms(200);
	pthread_mutex_lock(&g_sub.lock);
	g_sub.n = 0;
	g_sub.overflow = 0;
	g_sub.stats[0] = '\0';
	pthread_mutex_unlock(&g_sub.lock);

	size_t cap = (size_t)(rate * seconds) + 16;
	struct rec *w = calloc(cap, sizeof(*w));
	if(w == NULL) die("out of memory");
	uint64_t rng = 0x2545f4914f6cdd1dULL ^ (uint64_t)(rate * 7919);
	size_t n = 0;
	double t0 = bb_now() + 0.02, te = t0 + seconds, next = t0;
	sleep_until(t0);
	while(n < cap){
		double now = bb_now();
		if(now >= te) break;
		if(next > now){
			if(next >= te) break;
			sleep_until(next);
		}
		next += 1.0 / rate;
		long long id = 1 + (long long)(xorshift(&rng) % (uint64_t)O.orders);
		char q[1024];
		snprintf(q, sizeof(q),
				"BEGIN; UPDATE orders SET status = " NEXT_STATUS " WHERE id = %lld;"
				" SELECT version FROM jetwire.entity_version WHERE entity = 'order' AND entity_id = '%lld';"
				" COMMIT", id, id);
		if(!PQsendQuery(c, q)) die("latency writer: %s", PQerrorMessage(c));
		int k = 0;
		long long version = -1;
		double tc = 0;
		char problem[400] = "";
		PGresult *r;
		while((r = PQgetResult(c)) != NULL){
			ExecStatusType st = PQresultStatus(r);
			if(k == 3) tc = bb_now();
			if(problem[0] == '\0'){
				if(st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK){
					snprintf(problem, sizeof(problem), "%s", PQresultErrorMessage(r));
				}else if(k == 1 && strcmp(PQcmdTuples(r), "1") != 0){
					snprintf(problem, sizeof(problem), "the UPDATE of order %lld changed no row", id);
				}else if(k == 2){
					if(PQntuples(r) != 1) snprintf(problem, sizeof(problem), "no version for order %lld", id);
					else version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
				}else if(k == 3 && strcmp(PQcmdStatus(r), "COMMIT") != 0){
					snprintf(problem, sizeof(problem), "COMMIT answered %s", PQcmdStatus(r));
				}
			}
			k++;
			PQclear(r);
		}
		if(problem[0] == '\0' && k != 4) snprintf(problem, sizeof(problem), "%d results instead of 4", k);
		if(problem[0]) die("latency writer: %s", problem);
		w[n++] = (struct rec){id, version, tc};
	}
	out->secs = bb_now() - t0;
	out->updates = n;
	out->achieved = out->secs > 0 ? (double)n / out->secs : 0;

	/* Wait for the deliveries: all of them, or 5 s after the last commit. */
	double deadline = (n ? w[n - 1].t : bb_now()) + MISSING_AFTER_S;
	for(;;){
		pthread_mutex_lock(&g_sub.lock);
		size_t got = g_sub.n;
		pthread_mutex_unlock(&g_sub.lock);
		if(got >= n || bb_now() >= deadline) break;
		bb_sleep_ms(10);
	}
	pthread_mutex_lock(&g_sub.lock);
	size_t nr = g_sub.n;
	struct rec *rcv = malloc((nr + 1) * sizeof(*rcv));
	if(rcv == NULL) die("out of memory");
	memcpy(rcv, g_sub.recs, nr * sizeof(*rcv));
	out->overflow = g_sub.overflow;
	char stats[sizeof(g_sub.stats)];
	memcpy(stats, g_sub.stats, sizeof(stats));
	pthread_mutex_unlock(&g_sub.lock);

	qsort(w, n, sizeof(*w), cmp_rec);
	qsort(rcv, nr, sizeof(*rcv), cmp_rec);
	double *lat = malloc((n + 1) * sizeof(*lat));
	if(lat == NULL) die("out of memory");
	size_t nl = 0, j = 0;
	double sum = 0;
	for(size_t i = 0; i < n; i++){
		while(j < nr && (rcv[j].id < w[i].id || (rcv[j].id == w[i].id && rcv[j].version < w[i].version))){
			out->unexpected++;
			j++;
		}
		if(j < nr && rcv[j].id == w[i].id && rcv[j].version == w[i].version){
			double ms = (rcv[j].t - w[i].t) * 1000.0;
			if(ms <= MISSING_AFTER_S * 1000.0){
				lat[nl++] = ms;
				sum += ms;
			}else{
				out->missing++;
			}
			j++;
			while(j < nr && rcv[j].id == w[i].id && rcv[j].version == w[i].version){
				out->duplicates++;
				j++;
			}
		}else{
			out->missing++;
		}
	}
	out->unexpected += nr - j;
	out->delivered = nl;
	if(nl){
		qsort(lat, nl, sizeof(*lat), cmp_double);
		out->p50 = bb_percentile_sorted(lat, nl, 50);
		out->p99 = bb_percentile_sorted(lat, nl, 99);
		out->max = lat[nl - 1];
		out->min = lat[0];
		out->mean = sum / (double)nl;
		/* $JW_BENCH_DATA_DIR/bridge_latency_<rate>.dat: "ms cumulative-fraction"
		 * (bench/report.sh plots it), at most ~2,000 points */
		const char *dir = getenv("JW_BENCH_DATA_DIR");
		if(dir && dir[0]){
			char path[1024];
			snprintf(path, sizeof(path), "%s/bridge_latency_%.0f.dat", dir, rate);
			FILE *f = fopen(path, "w");
			if(f){
				size_t step = nl / 2000 + 1;
				fprintf(f, "# commit->delivery latency ms, cumulative fraction; %zu updates at %.0f/s\n", nl, rate);
				for(size_t i = 0; i < nl; i += step) fprintf(f, "%.3f %.6f\n", lat[i], (double)(i + 1) / (double)nl);
				fprintf(f, "%.3f 1\n", lat[nl - 1]);
				fclose(f);
			}else{
				fprintf(stderr, "bench_bridge: %s: %s\n", path, strerror(errno));
			}
		}
	}
	if(out->missing) g_rc = 1;

	/* The bridge's own view (capture -> PUBACK, ms, its last stats interval). */
	json_object *doc = stats[0] ? json_tokener_parse(stats) : NULL, *l = NULL, *v = NULL;
	if(doc && json_object_object_get_ex(doc, "publishLatencyMs", &l)){
		out->have_bridge = true;
		if(json_object_object_get_ex(l, "samples", &v)) out->bridge_samples = json_object_get_int64(v);
		if(json_object_object_get_ex(l, "p50", &v)) out->bridge_p50 = json_object_get_int64(v);
		if(json_object_object_get_ex(l, "p99", &v)) out->bridge_p99 = json_object_get_int64(v);
		if(json_object_object_get_ex(l, "max", &v)) out->bridge_max = json_object_get_int64(v);
	}
	json_object_put(doc);
	free(lat);
	free(rcv);
	free(w);
}

static void print_latency(const struct latency *l)
{
	printf("  %5.0f/s paced (achieved %6.0f/s, %zu updates): commit->delivery ms p50 %6.2f  p99 %6.2f"
			"  max %7.2f  (min %.2f, mean %.2f); not received within %.0f s: %zu%s\n",
			l->target, l->achieved, l->updates, l->p50, l->p99, l->max, l->min, l->mean,
			MISSING_AFTER_S, l->missing, l->missing ? "  <-- deliveries missing!" : "");
	if(l->min < 0){
		printf("         (negative: the subscriber had the message before this process's writer thread saw"
				" its COMMIT return -- both share the CPUs with PostgreSQL, the broker and the bridge)\n");
	}
	if(l->duplicates || l->unexpected || l->overflow){
		printf("         duplicates %zu, unexpected messages %zu, dropped by the recorder %zu\n",
				l->duplicates, l->unexpected, l->overflow);
	}
	if(l->have_bridge){
		printf("         bridge's own view, last 1 s stats interval (capture -> PUBACK, whole ms):"
				" p50 %lld p99 %lld max %lld over %lld changes\n",
				l->bridge_p50, l->bridge_p99, l->bridge_max, l->bridge_samples);
	}
	fflush(stdout);
}

/* ---- process figures ---- */

static void proc_mem(pid_t pid, double *rss_mib, double *hwm_mib)
{
	char path[64], line[256];
	*rss_mib = *hwm_mib = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if(f == NULL) return;
	while(fgets(line, sizeof(line), f)){
		if(strncmp(line, "VmRSS:", 6) == 0) *rss_mib = (double)strtoll(line + 6, NULL, 10) / 1024.0;
		else if(strncmp(line, "VmHWM:", 6) == 0) *hwm_mib = (double)strtoll(line + 6, NULL, 10) / 1024.0;
	}
	fclose(f);
}

static bool bridge_alive(void)
{
	int code = -1;
	if(jw_bridge_alive(&g_br, &code)) return true;
	fprintf(stderr, "bench: the bridge is not running (exit status %d)\n", code);
	return false;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
			"usage: bench_bridge [--seconds N] [--orders N] [--writers N] [--steps N] [--quick]\n"
			"                    [--source-dir DIR]\n"
			"  --seconds N   length of each timed phase (default 10; paced search steps N/2)\n"
			"  --orders N    orders updated at random (default 1000)\n"
			"  --writers N   writer connections for the flat-out and paced phases (default 8)\n"
			"  --steps N     paced bisection steps if the bridge falls behind (default 4)\n"
			"  --quick       smoke run: 3 s phases, 200 orders, 2 steps\n"
			"  environment: JW_BRIDGE, JW_MOSQUITTO, JW_PLUGIN, JW_SOURCE_DIR, JW_PG_BINDIR\n");
	exit(2);
}

static const char *verdict(bool met)
{
	return met ? "met" : "MISSED";
}

int main(int argc, char **argv)
{
	bool set_seconds = false, set_orders = false, set_steps = false;
	for(int i = 1; i < argc; i++){
		const char *a = argv[i];
		if(!strcmp(a, "--quick")){
			O.quick = true;
			continue;
		}
		if(i + 1 >= argc) usage();
		const char *val = argv[++i];
		if(!strcmp(a, "--source-dir")){
			setenv("JW_SOURCE_DIR", val, 1);
			continue;
		}
		char *end;
		double d = strtod(val, &end);
		if(*end || d < 0 || (d == 0 && strcmp(a, "--steps") != 0)) usage();
		if(!strcmp(a, "--seconds")) O.seconds = d, set_seconds = true;
		else if(!strcmp(a, "--orders")) O.orders = (int)d, set_orders = true;
		else if(!strcmp(a, "--writers")) O.writers = (int)d;
		else if(!strcmp(a, "--steps")) O.steps = (int)d, set_steps = true;
		else usage();
	}
	if(O.quick){
		if(!set_seconds) O.seconds = 3;
		if(!set_orders) O.orders = 200;
		if(!set_steps) O.steps = 2;
	}
	if(O.seconds < 1 || O.orders < 10 || O.writers < 1 || O.writers > 64 || O.steps < 0 || O.steps > 10) usage();
	if(!getenv("JW_BRIDGE") || !getenv("JW_BRIDGE")[0]) setenv("JW_BRIDGE", BENCH_BRIDGE, 1);
	if(access(getenv("JW_BRIDGE"), X_OK) != 0){
		bb_die("jetwire-bridge not found at '%s' (build it, or set JW_BRIDGE)", getenv("JW_BRIDGE"));
	}
	signal(SIGPIPE, SIG_IGN);
	atexit(cleanup);
	mosquitto_lib_init();

	char load[64];
	bb_loadavg(load, sizeof(load));
	double search_secs = O.seconds / 2 < 2 ? 2 : O.seconds / 2;
	printf("bench_bridge: %d orders, %d writers, %.1f s per phase%s; CPUs %ld, loadavg %s\n",
			O.orders, O.writers, O.seconds, O.quick ? " (--quick smoke run)" : "",
			sysconf(_SC_NPROCESSORS_ONLN), load);
	fflush(stdout);

	/* ---- PostgreSQL: one cluster, one database ---- */
	char err[1024];
	struct jw_pg_opts pgo = {.settings = "max_connections=100"};
	if(jw_pg_start(&g_pg, &pgo, err, sizeof(err)) != 0) bb_die("PostgreSQL: %s", err);
	g_pg_up = true;
	if(jw_pg_create_db(&g_pg, DB_NAME, NULL, err, sizeof(err)) != 0) die("PostgreSQL: %s", err);
	jw_pg_conninfo(&g_pg, DB_NAME, NULL, g_ci, sizeof(g_ci));
	PGconn *setup = db_open();
	int applied = 0;
	if(jw_migrate(setup, err, sizeof(err), &applied) != 0) die("migrations: %s", err);
	load_sql_file(setup, "schemas/demo/tables.sql");
	{
		char sql[1024];
		snprintf(sql, sizeof(sql),
				"INSERT INTO customers (id, name) VALUES (1, 'Bench Customer');"
				"INSERT INTO merchants (id, name, pickup_lat, pickup_lng) VALUES (1, 'Bench Merchant', 52.52, 13.405);"
				"INSERT INTO orders (id, order_number, status, customer_id, merchant_id)"
				" SELECT g, 'B-' || g, 'PENDING', 1, 1 FROM generate_series(1, %d) g;", O.orders);
		db_exec(setup, "seeding orders", sql);
	}
	char pgver[64], fsync_s[16], fpw[16], sc[16], sb[32];
	db_show(setup, "server_version", pgver, sizeof(pgver));
	db_show(setup, "fsync", fsync_s, sizeof(fsync_s));
	db_show(setup, "full_page_writes", fpw, sizeof(fpw));
	db_show(setup, "synchronous_commit", sc, sizeof(sc));
	db_show(setup, "shared_buffers", sb, sizeof(sb));
	printf("PostgreSQL %s, throwaway cluster on 127.0.0.1 (TCP): fsync=%s full_page_writes=%s "
			"synchronous_commit=%s shared_buffers=%s -- commits do not wait for the disk\n",
			pgver, fsync_s, fpw, sc, sb);
	printf("workload: single-statement autocommit UPDATE orders SET status = <next non-terminal status>"
			" WHERE id = <random 1..%d>\n\n", O.orders);
	fflush(stdout);

	g_writers = calloc((size_t)O.writers, sizeof(*g_writers));
	if(g_writers == NULL) die("out of memory");
	for(int i = 0; i < O.writers; i++){
		struct writer *w = &g_writers[i];
		w->conn = db_open();
		w->rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1) ^ 0xd1b54a32d192ed03ULL;
		PGresult *r = PQprepare(w->conn, "upd",
				"UPDATE orders SET status = " NEXT_STATUS " WHERE id = $1::bigint", 1, NULL);
		if(PQresultStatus(r) != PGRES_COMMAND_OK) die("prepare: %s", PQerrorMessage(w->conn));
		PQclear(r);
	}

	/* ---- 1. baseline: capture not installed, no bridge ---- */
	struct window warm, base;
	run_window(0, O.quick ? 0.5 : 1.0, NULL, 0, 0, &warm);   /* warm-up, not reported */
	settle(setup, false);
	run_window(0, O.seconds, NULL, 0, 0, &base);
	printf("1. baseline: capture not installed, no bridge\n");
	print_window("baseline", &base);
	if(base.rate <= 0) die("the baseline made no update");

	/* ---- 2. capture installed, no bridge: what the triggers alone cost ---- */
	load_sql_file(setup, "schemas/demo/capture.sql");
	settle(setup, true);
	struct window conly;
	run_window(0, O.seconds, NULL, 0, 0, &conly);
	printf("\n2. capture installed (schemas/demo/capture.sql), no bridge: wake-up armed (as the migration"
			" leaves it: NOTIFY on every commit), then disarmed\n");
	print_window("capture, armed", &conly);
	db_exec(setup, "disarming the wake-up", "UPDATE jetwire.wakeup SET armed = false");
	settle(setup, true);
	struct window cdis;
	run_window(0, O.seconds, NULL, 0, 0, &cdis);
	db_exec(setup, "re-arming the wake-up", "UPDATE jetwire.wakeup SET armed = true");
	print_window("capture, disarmed", &cdis);
	printf("  %.2f (armed) and %.2f (disarmed: no NOTIFY) of the baseline: the triggers' own cost,"
			" before any bridge\n", conly.rate / base.rate, cdis.rate / base.rate);
	fflush(stdout);

	/* ---- 3. broker + bridge: drain that backlog, then flat out ---- */
	struct bb_broker broker;
	struct bb_opts bo = {.kind = BB_PLUGIN, .alg = BB_HS256,
		.extra_conf = "set_tcp_nodelay true\nmax_queued_messages 0\n"};
	if(bb_start(&broker, &bo) != 0) die("the broker did not start");
	struct jw_bridge_opts bro = {
		.database = g_ci, .mqtt_port = broker.port, .secret_path = broker.secret_path,
		.extra_conf = "log_interval 5\n",
	};
	double tb = bb_now();
	if(jw_bridge_start(&g_br, &bro, err, sizeof(err)) != 0){
		g_br_up = true;
		die("the bridge did not start: %s", err);
	}
	g_br_up = true;
	double bridge_start_s = bb_now() - tb;
	PGconn *mon = db_open();
	printf("\n3. mosquitto + jetwire plugin and jetwire-bridge (pid %d, started and resynced in %.2f s;"
			" default batch_size 500, mqtt_inflight 64 capped by the broker's Receive Maximum 20)\n",
			(int)g_br.pid, bridge_start_s);
	double waited;
	long long left, pre = backlog(mon);
	double tq = bb_now();
	if(!wait_drained(mon, 0, DRAIN_TIMEOUT_S, &waited, &left)){
		die("the bridge did not drain the outbox left by phase 2: %lld of %lld rows left after %.0f s",
				left, pre, waited);
	}
	double backlog_drain = pre > 0 ? (double)pre / (bb_now() - tq) : 0;
	printf("  backlog left by phase 2 (both runs): %lld rows drained in %.2f s = %.0f rows/s with no writers running\n",
			pre, bb_now() - tq, backlog_drain);
	settle(setup, true);
	struct window flat;
	run_window(0, O.seconds, mon, g_br.pid, broker.pid, &flat);
	double rss_flat, hwm_flat;
	proc_mem(g_br.pid, &rss_flat, &hwm_flat);
	print_window("captured + bridge", &flat);
	long long drained_rows = flat.committed - (flat.b_end - flat.b_start);
	double cpu_us_change = drained_rows > 0 ? flat.bridge_cpu * 1e6 / (double)drained_rows : 0;
	double broker_us_change = drained_rows > 0 ? flat.broker_cpu * 1e6 / (double)drained_rows : 0;
	printf("  writers with capture: %.2f of the baseline; bridge drain: %.2f of the baseline\n",
			flat.rate / base.rate, flat.drain / base.rate);
	printf("  \"keeps up\" = backlog growth <= max(%d rows held by design, 5%% of the rows committed)"
			" = %lld rows here\n", HELD_BY_DESIGN, flat.tolerance);
	printf("  CPU per change drained: bridge %.1f us, broker %.1f us (user+system)\n",
			cpu_us_change, broker_us_change);
	printf("  bridge memory at the end of the flat-out phase: VmRSS %.1f MiB, VmHWM %.1f MiB\n",
			rss_flat, hwm_flat);
	if(!bridge_alive()) die("the bridge exited during the flat-out phase");
	long long to_drain = flat.b_end;
	if(!wait_drained(mon, 0, DRAIN_TIMEOUT_S, &waited, &left)){
		die("the outbox did not drain after the flat-out phase: %lld rows left after %.0f s "
				"(%lld at the end of the phase)", left, waited, to_drain);
	}
	double idle_drain = waited > 0 && to_drain > 0 ? (double)to_drain / waited : 0;
	if(to_drain > 0){
		printf("  after the writers stopped: %lld rows drained in %.2f s (%.0f rows/s with no writers)\n",
				to_drain, waited, idle_drain);
	}
	fflush(stdout);

	/* ---- 4. paced search, only if the bridge fell behind ---- */
	struct window best;
	memset(&best, 0, sizeof(best));
	bool have_best = false, searched = false;
	double sustained = sustained_of(&flat);
	const char *how = "flat out";
	if(!flat.keeps_up && O.steps > 0){
		searched = true;
		printf("\n4. the backlog grew: paced runs (%d writers, total rate R) of %.1f s each, bisection between"
				" 0.5 x drain (%.0f) and the flat-out rate (%.0f), starting at the drain rate; outbox drained"
				" before each\n", O.writers, search_secs, 0.5 * flat.drain, flat.rate);
		double lo = 0.5 * flat.drain, hi = flat.rate, r = flat.drain;
		if(r < 100) r = 100;
		for(int s = 0; s < O.steps; s++){
			if(!wait_drained(mon, 0, DRAIN_TIMEOUT_S, &waited, &left)){
				die("the outbox did not drain between paced runs: %lld rows left after %.0f s", left, waited);
			}
			settle(setup, true);
			struct window w;
			char label[32];
			snprintf(label, sizeof(label), "paced step %d", s + 1);
			run_window(r, search_secs, mon, g_br.pid, broker.pid, &w);
			print_window(label, &w);
			if(w.keeps_up){
				if(!have_best || sustained_of(&w) > sustained_of(&best)) best = w;
				have_best = true;
				lo = r;
			}else{
				hi = r;
			}
			r = (lo + hi) / 2;
		}
		if(have_best){
			sustained = sustained_of(&best);
			how = "highest paced rate kept up with";
		}else{
			how = "no paced rate kept up: flat-out drain";
			printf("  none of the paced rates kept up; the sustained figure is the flat-out drain rate\n");
		}
	}else if(!flat.keeps_up){
		how = "flat-out drain (no search: --steps 0)";
	}
	double ratio = sustained / base.rate;
	printf("\n  sustained rate (%s): %.0f updates/s = %.2f of the baseline\n", how, sustained, ratio);
	if(!wait_drained(mon, 0, DRAIN_TIMEOUT_S, &waited, &left)){
		die("the outbox did not drain: %lld rows left after %.0f s", left, waited);
	}

	/* ---- 5. latency ---- */
	printf("\n5. commit -> delivery latency: one writer connection (BEGIN; UPDATE; SELECT version; COMMIT),"
			" subscriber on order/+/status (admin, QoS 0); CLOCK_MONOTONIC of this process\n");
	fflush(stdout);
	char *token = bb_token(&broker, "bench-admin", "admin", 3600);
	sub_start(&g_sub, broker.port, token, (size_t)(1000 * O.seconds * 1.5) + 10000);
	free(token);
	bb_sleep_ms(1000);   /* let the retained order/+/status messages arrive (flagged retain, ignored) */
	PGconn *lw = db_open();
	struct latency l100, l1000;
	latency_phase(lw, mon, 100, O.seconds, &l100);
	print_latency(&l100);
	latency_phase(lw, mon, 1000, O.seconds, &l1000);
	print_latency(&l1000);
	pthread_mutex_lock(&g_sub.lock);
	size_t retained_seen = g_sub.retained;
	pthread_mutex_unlock(&g_sub.lock);
	sub_stop(&g_sub);

	/* ---- wrap up ---- */
	double rss_end, hwm_end;
	proc_mem(g_br.pid, &rss_end, &hwm_end);
	bool alive = bridge_alive();
	int errors = jw_bridge_log_count(&g_br, "jetwire-bridge: error:");
	int warnings = jw_bridge_log_count(&g_br, "jetwire-bridge: warning:");
	printf("\nbridge memory at the end of the run: VmRSS %.1f MiB, VmHWM %.1f MiB; log: %d error, %d warning"
			" line(s)%s; retained messages seen at subscribe: %zu\n",
			rss_end, hwm_end, errors, warnings, alive ? "" : "; THE BRIDGE HAD EXITED", retained_seen);
	if(errors > 0 || !alive){
		g_rc = 1;
		print_bridge_log_tail();
	}
	if(alive){
		int code = -1;
		if(jw_bridge_stop(&g_br, &code, err, sizeof(err)) != 0) fprintf(stderr, "bench: %s\n", err);
		else if(code != 0){
			fprintf(stderr, "bench: the bridge exited with status %d on SIGTERM\n", code);
			g_rc = 1;
		}
	}

	double hwm = hwm_end > hwm_flat ? hwm_end : hwm_flat;
	printf("\nSUMMARY (CPUs %ld; PostgreSQL fsync=off; %d orders, %d writers, %.1f s phases)\n",
			sysconf(_SC_NPROCESSORS_ONLN), O.orders, O.writers, O.seconds);
	printf("  %-48s %12s %12s %7s  %-16s %s\n", "measure", "figure", "baseline", "ratio", "target", "");
	printf("  %-48s %12.0f %12s %7s  %-16s\n", "updates/s, capture not installed (baseline)", base.rate, "", "1.00", "");
	printf("  %-48s %12.0f %12.0f %7.2f  %-16s\n", "updates/s, capture installed, no bridge, armed",
			conly.rate, base.rate, conly.rate / base.rate, "");
	printf("  %-48s %12.0f %12.0f %7.2f  %-16s\n", "  same, wake-up disarmed (no NOTIFY)",
			cdis.rate, base.rate, cdis.rate / base.rate, "");
	printf("  %-48s %12.0f %12.0f %7.2f  %-16s\n", "updates/s, capture + bridge, writers flat out",
			flat.rate, base.rate, flat.rate / base.rate, "");
	printf("  %-48s %12.0f %12.0f %7.2f  %-16s\n", "bridge drain rows/s during it", flat.drain, base.rate,
			flat.drain / base.rate, "");
	printf("  %-48s %12.0f %12.0f %7.2f  %-16s\n", "bridge drain rows/s, backlog, no writers", backlog_drain,
			base.rate, backlog_drain / base.rate, "");
	printf("  %-48s %12.0f %12.0f %7.2f  %-16s %s\n", "sustained updates/s the bridge keeps up with",
			sustained, base.rate, ratio, ">= 0.5 x base", verdict(ratio >= 0.5));
	printf("  %-48s %12.0f %12s %7s  %-16s %s\n", "  same, absolute", sustained, "", "", ">= 5000/s",
			verdict(sustained >= 5000));
	printf("  %-48s %12.2f %12s %7s  %-16s\n", "latency ms @100/s, p50", l100.p50, "", "", "");
	printf("  %-48s %12.2f %12s %7s  %-16s\n", "latency ms @100/s, p99", l100.p99, "", "", "");
	printf("  %-48s %12.2f %12s %7s  %-16s\n", "latency ms @100/s, max", l100.max, "", "", "");
	printf("  %-48s %12.2f %12s %7s  %-16s\n", "latency ms @1000/s, p50", l1000.p50, "", "", "");
	printf("  %-48s %12.2f %12s %7s  %-16s %s\n", "latency ms @1000/s, p99", l1000.p99, "", "", "< 20 ms",
			verdict(l1000.p99 < 20));
	printf("  %-48s %12.2f %12s %7s  %-16s\n", "latency ms @1000/s, max", l1000.max, "", "", "");
	printf("  %-48s %12zu %12s %7s  %-16s %s\n", "updates not delivered within 5 s", l100.missing + l1000.missing,
			"", "", "0", verdict(l100.missing + l1000.missing == 0));
	printf("  %-48s %12.1f %12s %7s  %-16s %s\n", "bridge resident memory MiB (VmHWM, peak)", hwm, "", "",
			"<= 32 MiB", verdict(hwm >= 0 && hwm <= 32));
	printf("  %-48s %12.1f %12s %7s  %-16s\n", "bridge CPU us per change (flat out)", cpu_us_change, "", "", "");
	printf("(%s; rates and latencies move with other load on the machine: loadavg at start %s)\n",
			searched ? "the backlog grew flat out, so the sustained rate comes from the paced runs"
			: "the bridge kept up flat out: the writers (PostgreSQL with capture) are the limit", load);

	printf("RESULT bridge.baseline_per_s=%.0f\n", base.rate);
	printf("RESULT bridge.capture_only_per_s=%.0f\n", conly.rate);
	printf("RESULT bridge.capture_only_ratio=%.2f\n", conly.rate / base.rate);
	printf("RESULT bridge.capture_disarmed_per_s=%.0f\n", cdis.rate);
	printf("RESULT bridge.capture_disarmed_ratio=%.2f\n", cdis.rate / base.rate);
	printf("RESULT bridge.backlog_drain_per_s=%.0f\n", backlog_drain);
	printf("RESULT bridge.captured_per_s=%.0f\n", flat.rate);
	printf("RESULT bridge.captured_ratio=%.2f\n", flat.rate / base.rate);
	printf("RESULT bridge.drain_per_s=%.0f\n", flat.drain);
	printf("RESULT bridge.keeps_up=%d\n", flat.keeps_up ? 1 : 0);
	printf("RESULT bridge.sustained_per_s=%.0f\n", sustained);
	printf("RESULT bridge.sustained_ratio=%.2f\n", ratio);
	printf("RESULT bridge.lat100.p50_ms=%.2f\n", l100.p50);
	printf("RESULT bridge.lat100.p99_ms=%.2f\n", l100.p99);
	printf("RESULT bridge.lat100.max_ms=%.2f\n", l100.max);
	printf("RESULT bridge.lat1000.p50_ms=%.2f\n", l1000.p50);
	printf("RESULT bridge.lat1000.p99_ms=%.2f\n", l1000.p99);
	printf("RESULT bridge.lat1000.max_ms=%.2f\n", l1000.max);
	printf("RESULT bridge.lat1000.achieved_per_s=%.0f\n", l1000.achieved);
	printf("RESULT bridge.missing=%zu\n", l100.missing + l1000.missing);
	printf("RESULT bridge.rss_mib=%.1f\n", rss_flat);
	printf("RESULT bridge.hwm_mib=%.1f\n", hwm);
	printf("RESULT bridge.cpu_us_per_change=%.1f\n", cpu_us_change);
	fflush(stdout);

	for(int i = 0; i < O.writers; i++) PQfinish(g_writers[i].conn);
	free(g_writers);
	PQfinish(lw);
	PQfinish(mon);
	PQfinish(setup);
	cleanup();
	bb_stop(&broker);
	mosquitto_lib_cleanup();
	return g_rc;
}
