/*
 * bench_live — the live driver traffic of issue 4, end to end, in one run:
 * a throwaway PostgreSQL, mosquitto with the jetwire plugin, the real
 * jetwire-bridge and real jetwire-driver-sim processes.
 *
 * Setup: D drivers (rows 1..D), C customers, D active orders (order i is
 * customer 1 + (i-1) % C's, OUT_FOR_DELIVERY with driver i), so the bridge's
 * resync makes every customer the tracker of D/C drivers.  Every customer is
 * a connection of this process (libmosquitto, all in one thread over epoll)
 * subscribed at QoS 0 to driver/{id}/location of each of its drivers, as an
 * app does once order/{id}/driver named the driver (--wildcard: to
 * driver/+/location, where the plugin filters out every other driver's
 * location -- one ACL check per customer per location).  The bridge takes every location through
 * its shared subscription and persists the latest per driver.
 *
 * Phases, each on a fresh broker + bridge (same database):
 *  1. baseline: plugin_opt_validate_publish false (the plugin does not hook
 *     the publish path: no payload check, no rate limit) — D drivers at R/s;
 *  2. validation on (the default) — the same load;
 *     1 and 2 alternate --reps times (default 2); the summary is their mean;
 *  3. persistence: validation on, the drivers at R2/s (default 2/s: 20,000
 *     positions/s for 10,000 drivers; location_rate raised to allow it),
 *     no customers: the broker's two cores' worth at 1/s with customers
 *     leaves no room to double the load, and this phase measures the
 *     bridge (MQTT in, PostgreSQL out).
 * In each phase, after every driver is connected and a warm-up, a window of
 * S seconds measures: locations published (the bridge's positionsReceived
 * counter: it receives every one), deliveries to customers and their
 * latency, broker CPU (user+system from /proc) and memory (VmRSS), and the
 * bridge's positionsReceived / positionsStored rates (rows written, latest
 * per driver per flush) from its retained stats (stats_interval 1).
 *
 * Latency = receive time (CLOCK_REALTIME) - the location's ts (epoch ms,
 * written by the simulator just before it publishes).  ts has millisecond
 * resolution, so every figure is an upper bound: it includes 0-1 ms of
 * truncation (0.5 ms on average).
 *
 * Ratios: deliveries/s and broker CPU microseconds per delivered message of
 * phase 2 against phase 1: "throughput ratio" = (messages per broker
 * CPU-second, validation on) / (the same, validation off) -- how much of the
 * broker's capacity validation costs at this load.
 *
 * Nothing fails on a figure.  Exit 2 if something could not be set up,
 * 1 if something broke during the run (a simulator or the bridge exited, a
 * refused location, errors in the bridge log), else 0.
 *
 * Each driver simulator process holds 3 file descriptors per driver; the
 * drivers are split over processes of at most --drivers-per-sim (5,000)
 * so that each stays under the usual 20,000 hard limit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_broker.h"
#include "bridge_harness.h"
#include "migrate.h"
#include "pg_harness.h"

#ifndef BENCH_BRIDGE
#define BENCH_BRIDGE ""
#endif
#ifndef BENCH_DRIVER_SIM
#define BENCH_DRIVER_SIM ""
#endif

extern char **environ;

#define DB_NAME "jwlive"
#define BUCKET_US 50
#define BUCKETS 20000          /* 50 us x 20,000 = 1 s; later lands in the last bucket */
#define MAX_SIMS 16
#define MAX_REPS 5

struct opts {
	int drivers, customers, per_sim;
	double rate, persist_rate, seconds, warmup;
	bool wildcard;
	int reps;
};
static struct opts O = {.drivers = 10000, .customers = 100, .per_sim = 5000,
	.rate = 1, .persist_rate = 2, .seconds = 20, .warmup = 5, .reps = 2};

static struct jw_pg g_pg;
static bool g_pg_up;
static char g_ci[512];
static int g_rc;

/* ---- customers: one connection each, counting and timing deliveries ---- */

struct customer {
	struct mosquitto *m;
	int id;
	int subscriptions;
	atomic_int state;                  /* 0 connecting, 1 subscribed, -1 refused */
	atomic_uint_fast64_t received;     /* live (not retained) messages, whole run */
	uint32_t *hist;                    /* latency buckets, written by its loop thread only */
	uint64_t late;                     /* beyond the last bucket */
	uint64_t bad;                      /* no parsable ts */
};

static atomic_bool g_measuring;
static struct customer *g_customers;

static int64_t wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A customer follows its drivers as an app does: one filter per driver it
 * learnt from order/{id}/driver (customer c's drivers are c, c + C, ...),
 * or, with --wildcard, driver/+/location, which makes the broker match and
 * ACL-check every location against every customer. */
static void cust_on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct customer *c = obj;
	if(rc != 0){
		atomic_store(&c->state, -1);
		return;
	}
	if(O.wildcard){
		mosquitto_subscribe(m, NULL, "driver/+/location", 0);
		return;
	}
	int n = 0;
	char **topics = calloc((size_t)(O.drivers / O.customers + 1), sizeof(char *));
	for(int d = c->id; topics && d <= O.drivers; d += O.customers){
		topics[n] = malloc(32);
		if(topics[n] == NULL) break;
		snprintf(topics[n++], 32, "driver/%d/location", d);
	}
	c->subscriptions = n;
	if(mosquitto_subscribe_multiple(m, NULL, n, topics, 0, 0, NULL) != MOSQ_ERR_SUCCESS) atomic_store(&c->state, -1);
	for(int i = 0; i < n; i++) free(topics[i]);
	free(topics);
}

static void cust_on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
	(void)m; (void)mid;
	struct customer *c = obj;
	bool ok = n == (O.wildcard ? 1 : c->subscriptions);
	for(int i = 0; ok && i < n; i++) ok = granted[i] < 0x80;
	atomic_store(&c->state, ok ? 1 : -1);
}

static void cust_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	(void)m;
	struct customer *c = obj;
	if(msg->retain) return;
	atomic_fetch_add(&c->received, 1);
	if(!atomic_load(&g_measuring)) return;
	int64_t now = wall_us();
	const char *p = msg->payload ? memmem(msg->payload, (size_t)msg->payloadlen, "\"ts\":", 5) : NULL;
	if(p == NULL){
		c->bad++;
		return;
	}
	long long ts = strtoll(p + 5, NULL, 10);
	int64_t lat = now - (int64_t)ts * 1000;
	if(lat < 0) lat = 0;
	int64_t b = lat / BUCKET_US;
	if(b >= BUCKETS){
		c->late++;
		b = BUCKETS - 1;
	}
	c->hist[b]++;
}

/* Every customer connection in one thread over epoll (as the driver
 * simulator does): a thread per connection would make the measuring side
 * a hundred threads competing for two cores with what it measures. */
static int g_cust_ep = -1;
static pthread_t g_cust_thread;
static atomic_bool g_cust_run;

static void *customers_loop(void *arg)
{
	(void)arg;
	struct epoll_event ev[128];
	double next_misc = bb_now();
	while(atomic_load(&g_cust_run)){
		int n = epoll_wait(g_cust_ep, ev, 128, 100);
		for(int k = 0; k < n; k++){
			struct customer *c = ev[k].data.ptr;
			mosquitto_loop_read(c->m, 64);
		}
		/* subscriptions and keep-alives: output goes out at once when the
		 * socket takes it; what it did not take is written here */
		for(int i = 0; i < O.customers; i++){
			struct customer *c = &g_customers[i];
			if(mosquitto_want_write(c->m)) mosquitto_loop_write(c->m, 64);
		}
		if(bb_now() >= next_misc){
			for(int i = 0; i < O.customers; i++) mosquitto_loop_misc(g_customers[i].m);
			next_misc = bb_now() + 1;
		}
	}
	return NULL;
}

static void customers_start(const struct bb_broker *br)
{
	g_customers = calloc((size_t)O.customers, sizeof(*g_customers));
	if(g_customers == NULL) bb_die("out of memory");
	g_cust_ep = epoll_create1(EPOLL_CLOEXEC);
	if(g_cust_ep < 0) bb_die("epoll_create1: %s", strerror(errno));
	for(int i = 0; i < O.customers; i++){
		struct customer *c = &g_customers[i];
		c->id = i + 1;
		c->hist = calloc(BUCKETS, sizeof(uint32_t));
		char id[64], sub[32];
		snprintf(id, sizeof(id), "customer-%d-bench", c->id);
		snprintf(sub, sizeof(sub), "%d", c->id);
		c->m = mosquitto_new(id, true, c);
		if(c->hist == NULL || c->m == NULL) bb_die("out of memory");
		char *tok = bb_token(br, sub, "customer", 3600);
		mosquitto_username_pw_set(c->m, "jwt", tok);
		free(tok);
		mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
		mosquitto_connect_callback_set(c->m, cust_on_connect);
		mosquitto_subscribe_callback_set(c->m, cust_on_subscribe);
		mosquitto_message_callback_set(c->m, cust_on_message);
		if(mosquitto_connect(c->m, "127.0.0.1", br->port, 60) != MOSQ_ERR_SUCCESS){
			bb_die("customer %d could not connect", c->id);
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if(epoll_ctl(g_cust_ep, EPOLL_CTL_ADD, mosquitto_socket(c->m), &ev) != 0) bb_die("epoll_ctl: %s", strerror(errno));
	}
	atomic_store(&g_cust_run, true);
	if(pthread_create(&g_cust_thread, NULL, customers_loop, NULL) != 0) bb_die("cannot start the customers' thread");
	double deadline = bb_now() + 30;
	for(int i = 0; i < O.customers; i++){
		while(atomic_load(&g_customers[i].state) == 0 && bb_now() < deadline) bb_sleep_ms(10);
		if(atomic_load(&g_customers[i].state) != 1) bb_die("customer %d: connect or subscribe refused", i + 1);
	}
}

static void customers_stop(void)
{
	atomic_store(&g_cust_run, false);
	pthread_join(g_cust_thread, NULL);
	for(int i = 0; i < O.customers && g_customers; i++){
		struct customer *c = &g_customers[i];
		mosquitto_disconnect(c->m);
		mosquitto_destroy(c->m);
		free(c->hist);
	}
	close(g_cust_ep);
	g_cust_ep = -1;
	free(g_customers);
	g_customers = NULL;
}

static uint64_t customers_received(void)
{
	uint64_t n = 0;
	for(int i = 0; i < O.customers; i++) n += atomic_load(&g_customers[i].received);
	return n;
}

struct latency {
	uint64_t n, late, bad;
	double p50, p99, p999, max;
};

/* Read after the window, when g_measuring is false and a short pause has let
 * the loop threads finish the message they were in. */
static void customers_latency(struct latency *l, uint64_t *acc_hist)
{
	static uint64_t merged[BUCKETS];
	memset(merged, 0, sizeof(merged));
	memset(l, 0, sizeof(*l));
	for(int i = 0; i < O.customers; i++){
		struct customer *c = &g_customers[i];
		for(int b = 0; b < BUCKETS; b++){
			merged[b] += c->hist[b];
			c->hist[b] = 0;
		}
		l->late += c->late;
		l->bad += c->bad;
		c->late = c->bad = 0;
	}
	for(int b = 0; b < BUCKETS; b++){
		l->n += merged[b];
		acc_hist[b] += merged[b];
	}
	if(l->n == 0) return;
	uint64_t want50 = (l->n * 50 + 99) / 100, want99 = (l->n * 99 + 99) / 100, want999 = (l->n * 999 + 999) / 1000;
	uint64_t acc = 0;
	for(int b = 0; b < BUCKETS; b++){
		if(merged[b] == 0) continue;
		uint64_t before = acc;
		acc += merged[b];
		double upper_ms = (double)(b + 1) * BUCKET_US / 1000.0;
		if(before < want50 && acc >= want50) l->p50 = upper_ms;
		if(before < want99 && acc >= want99) l->p99 = upper_ms;
		if(before < want999 && acc >= want999) l->p999 = upper_ms;
		l->max = upper_ms;
	}
}

/* ---- the bridge's retained stats, read by an admin connection ---- */

struct stats_watch {
	struct mosquitto *m;
	pthread_mutex_t lock;
	long long received, stored, refused;
	double at;                 /* bb_now() when the last one arrived */
	int updates;
};
static struct stats_watch g_sw = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void sw_on_connect(struct mosquitto *m, void *obj, int rc)
{
	(void)obj;
	if(rc == 0) mosquitto_subscribe(m, NULL, "jetwire/bridge/stats", 0);
}

static long long json_int(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : -1;
}

static void sw_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	(void)m;
	struct stats_watch *s = obj;
	json_object *o = json_tokener_parse(msg->payload ? (const char *)msg->payload : "");
	if(o == NULL) return;
	json_object *t = o;
	json_object *totals;
	if(json_object_object_get_ex(o, "totals", &totals)) t = totals;
	pthread_mutex_lock(&s->lock);
	s->received = json_int(t, "positionsReceived");
	s->stored = json_int(t, "positionsStored");
	s->refused = json_int(t, "positionsRefused");
	s->at = bb_now();
	s->updates++;
	pthread_mutex_unlock(&s->lock);
	json_object_put(o);
}

static void sw_start(const struct bb_broker *br)
{
	g_sw.m = mosquitto_new("admin-1-bench-stats", true, &g_sw);
	char *tok = bb_token(br, "1", "admin", 3600);
	mosquitto_username_pw_set(g_sw.m, "jwt", tok);
	free(tok);
	mosquitto_connect_callback_set(g_sw.m, sw_on_connect);
	mosquitto_message_callback_set(g_sw.m, sw_on_message);
	if(mosquitto_connect(g_sw.m, "127.0.0.1", br->port, 60) != MOSQ_ERR_SUCCESS
			|| mosquitto_loop_start(g_sw.m) != MOSQ_ERR_SUCCESS){
		bb_die("the stats watcher could not connect");
	}
}

static void sw_stop(void)
{
	mosquitto_disconnect(g_sw.m);
	mosquitto_loop_stop(g_sw.m, false);
	mosquitto_destroy(g_sw.m);
	g_sw.m = NULL;
	g_sw.updates = 0;
}

/* Wait for the next stats message and return its counters and arrival time
 * (the bridge publishes them every second: rates are counter deltas over the
 * span between two arrivals). */
static double sw_read(long long *received, long long *stored, long long *refused)
{
	pthread_mutex_lock(&g_sw.lock);
	int seen = g_sw.updates;
	pthread_mutex_unlock(&g_sw.lock);
	double deadline = bb_now() + 15;
	for(;;){
		pthread_mutex_lock(&g_sw.lock);
		bool fresh = g_sw.updates > seen;
		*received = g_sw.received;
		*stored = g_sw.stored;
		*refused = g_sw.refused;
		double at = g_sw.at;
		pthread_mutex_unlock(&g_sw.lock);
		if(fresh) return at;
		if(bb_now() > deadline){
			bb_die("no bridge stats for 15 s (stats_interval 1): the bridge or the broker is overloaded;"
					" see the bridge's log (JW_KEEP_TEST_DIRS=1 keeps it)");
		}
		bb_sleep_ms(20);
	}
}

/* ---- driver simulators ---- */

struct sim {
	pid_t pid;
	char log[256];
	int drivers;
};
static struct sim g_sims[MAX_SIMS];
static int g_nsims;

static void sims_start(const struct bb_broker *br, double rate, const char *dir)
{
	g_nsims = 0;
	for(int first = 1; first <= O.drivers; first += O.per_sim){
		if(g_nsims == MAX_SIMS) bb_die("more than %d simulator processes", MAX_SIMS);
		struct sim *s = &g_sims[g_nsims];
		s->drivers = O.drivers - first + 1 < O.per_sim ? O.drivers - first + 1 : O.per_sim;
		snprintf(s->log, sizeof(s->log), "%s/sim%d.log", dir, g_nsims);
		char port[16], n[16], f[16], r[32], seed[16];
		snprintf(port, sizeof(port), "%d", br->port);
		snprintf(n, sizeof(n), "%d", s->drivers);
		snprintf(f, sizeof(f), "%d", first);
		snprintf(r, sizeof(r), "%g", rate);
		snprintf(seed, sizeof(seed), "%d", 1000 + g_nsims);
		const char *sim = getenv("JW_DRIVER_SIM");
		char *const argv[] = {(char *)sim, "--port", port, "--drivers", n, "--first-id", f,
			"--mode", "rate", "--rate", r, "--secret-file", (char *)br->secret_path,
			"--connect-rate", "2000", "--report", "1", "--seed", seed, NULL};
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 2, s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		int rc = posix_spawn(&s->pid, sim, &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		if(rc != 0) bb_die("cannot start %s: %s", sim, strerror(rc));
		g_nsims++;
	}
}

/* The last "connected=N/M" of a simulator's log; -1 if none yet. */
static int sim_connected(const struct sim *s, long long *refused)
{
	FILE *f = fopen(s->log, "r");
	if(f == NULL) return -1;
	char line[1024];
	int connected = -1;
	while(fgets(line, sizeof(line), f)){
		const char *p = strstr(line, " connected=");
		if(p) connected = atoi(p + 11);
		const char *q = strstr(line, " refused=");
		if(q && refused) *refused = atoll(q + 9);
	}
	fclose(f);
	return connected;
}

static void sims_wait_connected(void)
{
	double deadline = bb_now() + 120;
	for(int i = 0; i < g_nsims; i++){
		for(;;){
			int st;
			if(waitpid(g_sims[i].pid, &st, WNOHANG) == g_sims[i].pid){
				g_sims[i].pid = 0;
				bb_die("simulator %d exited at start; its log: %s", i, g_sims[i].log);
			}
			if(sim_connected(&g_sims[i], NULL) >= g_sims[i].drivers) break;
			if(bb_now() > deadline) bb_die("simulator %d: not every driver connected in 120 s (%s)", i, g_sims[i].log);
			bb_sleep_ms(100);
		}
	}
}

static long long sims_refused(void)
{
	long long total = 0;
	for(int i = 0; i < g_nsims; i++){
		long long r = 0;
		sim_connected(&g_sims[i], &r);
		total += r;
	}
	return total;
}

static double sims_cpu(void)
{
	double t = 0;
	for(int i = 0; i < g_nsims; i++) if(g_sims[i].pid > 0) t += bb_cpu_seconds(g_sims[i].pid);
	return t;
}

static void sims_stop(void)
{
	for(int i = 0; i < g_nsims; i++) if(g_sims[i].pid > 0) kill(g_sims[i].pid, SIGTERM);
	for(int i = 0; i < g_nsims; i++){
		if(g_sims[i].pid <= 0) continue;
		int st = 0;
		double deadline = bb_now() + 30;
		while(waitpid(g_sims[i].pid, &st, WNOHANG) == 0){
			if(bb_now() > deadline){
				kill(g_sims[i].pid, SIGKILL);
				waitpid(g_sims[i].pid, &st, 0);
				break;
			}
			bb_sleep_ms(50);
		}
		if(!WIFEXITED(st) || WEXITSTATUS(st) != 0){
			fprintf(stderr, "bench_live: simulator %d ended with status 0x%x (log %s)\n", i, st, g_sims[i].log);
			g_rc = 1;
		}
		g_sims[i].pid = 0;
	}
	g_nsims = 0;
}

static void cleanup(void)
{
	for(int i = 0; i < g_nsims; i++){
		if(g_sims[i].pid > 0){
			kill(g_sims[i].pid, SIGKILL);
			waitpid(g_sims[i].pid, NULL, 0);
		}
	}
	if(g_pg_up){
		char err[256];
		g_pg_up = false;
		jw_pg_stop(&g_pg, err, sizeof(err));
	}
}

/* ---- database ---- */

static void db_exec(PGconn *c, const char *what, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if(PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK){
		bb_die("%s: %s", what, PQerrorMessage(c));
	}
	PQclear(r);
}

static void load_sql_file(PGconn *c, const char *rel)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", bb_source_dir(), rel);
	FILE *f = fopen(path, "r");
	if(f == NULL) bb_die("%s: %s", path, strerror(errno));
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	db_exec(c, path, buf);
}

static void quiet_notice(void *arg, const char *message)
{
	(void)arg; (void)message;
}

/* ---- one phase ---- */

struct phase {
	const char *name;
	bool validate;
	bool customers;      /* the customers connected and measured */
	double rate;
	/* results */
	double published_per_s, delivered_per_s, expected_per_s;
	double broker_cpu_s, broker_cpu_pct, broker_us_per_delivery;
	double broker_rss_mib, bridge_rss_mib, sims_cpu_pct;
	double stored_per_s, received_per_s;
	long long bridge_received_total, bridge_stored_total, refused_at_bridge;
	long long sim_refused;
	struct latency lat;
	uint64_t *hist;      /* latency buckets of every run of this kind, merged */
};

static uint64_t g_hist_base[BUCKETS], g_hist_val[BUCKETS];

/* $JW_BENCH_DATA_DIR/live_latency_<kind>.dat: "ms cumulative-fraction" per
 * non-empty bucket (bench/report.sh plots it). */
static void write_cdf(const char *kind, const uint64_t *h)
{
	const char *dir = getenv("JW_BENCH_DATA_DIR");
	if(dir == NULL || !dir[0]) return;
	char path[1024];
	snprintf(path, sizeof(path), "%s/live_latency_%s.dat", dir, kind);
	FILE *f = fopen(path, "w");
	if(f == NULL){
		fprintf(stderr, "bench_live: %s: %s\n", path, strerror(errno));
		return;
	}
	uint64_t n = 0, acc = 0;
	for(int b = 0; b < BUCKETS; b++) n += h[b];
	fprintf(f, "# publish->delivery latency ms (bucket upper bound), cumulative fraction; %llu messages\n",
			(unsigned long long)n);
	for(int b = 0; b < BUCKETS && n > 0; b++){
		if(h[b] == 0) continue;
		acc += h[b];
		fprintf(f, "%.3f %.6f\n", (double)(b + 1) * BUCKET_US / 1000.0, (double)acc / (double)n);
	}
	fclose(f);
}

static void proc_rss(pid_t pid, double *mib)
{
	long long b = bb_rss_bytes(pid);
	*mib = b > 0 ? (double)b / (1024.0 * 1024.0) : -1;
}

static void run_phase(struct phase *ph)
{
	char err[1024], extra[512];
	snprintf(extra, sizeof(extra),
			"set_tcp_nodelay true\nmax_queued_messages 0\n"
			"plugin_opt_validate_publish %s\n"
			"plugin_opt_location_rate driver:%g/%d\n",
			ph->validate ? "true" : "false", ph->rate * 2 < 1 ? 1 : ph->rate * 2, (int)(ph->rate * 10) + 10);
	struct bb_broker broker;
	struct bb_opts bo = {.kind = BB_PLUGIN, .alg = BB_HS256, .extra_conf = extra};
	if(bb_start(&broker, &bo) != 0) bb_die("the broker did not start");
	struct jw_bridge br;
	memset(&br, 0, sizeof(br));
	struct jw_bridge_opts bro = {.database = g_ci, .mqtt_port = broker.port, .secret_path = broker.secret_path,
		.extra_conf = "stats_interval 1\nlog_interval 5\n", .wait_ms = 120000};
	if(jw_bridge_start(&br, &bro, err, sizeof(err)) != 0) bb_die("the bridge did not start: %s", err);

	printf("\n%s: %d drivers at %g/s (%s), %d customers; broker pid %d, bridge pid %d\n", ph->name,
			O.drivers, ph->rate, ph->validate ? "plugin validation on" : "plugin_opt_validate_publish false",
			ph->customers ? O.customers : 0, (int)broker.pid, (int)br.pid);
	fflush(stdout);
	if(ph->customers) customers_start(&broker);
	sw_start(&broker);
	sims_start(&broker, ph->rate, broker.dir);
	double t0 = bb_now();
	sims_wait_connected();
	printf("  %d drivers connected in %.1f s (%d simulator processes); warm-up %.0f s, window %.0f s\n",
			O.drivers, bb_now() - t0, g_nsims, O.warmup, O.seconds);
	fflush(stdout);
	bb_sleep_ms((int)(O.warmup * 1000));

	long long r0, s0, f0, r1, s1, f1;
	double a0 = sw_read(&r0, &s0, &f0);
	long long refused0 = sims_refused();
	uint64_t d0 = ph->customers ? customers_received() : 0;
	double c0 = bb_cpu_seconds(broker.pid), sc0 = sims_cpu();
	double w0 = bb_now();
	atomic_store(&g_measuring, true);
	bb_sleep_ms((int)(O.seconds * 1000));
	atomic_store(&g_measuring, false);
	double w1 = bb_now();
	double c1 = bb_cpu_seconds(broker.pid), sc1 = sims_cpu();
	uint64_t d1 = ph->customers ? customers_received() : 0;
	double a1 = sw_read(&r1, &s1, &f1);
	double sw_span = a1 - a0;
	bb_sleep_ms(200);
	if(ph->customers) customers_latency(&ph->lat, ph->hist);

	double win = w1 - w0;
	ph->delivered_per_s = (double)(d1 - d0) / win;
	ph->published_per_s = (double)(r1 - r0) / sw_span;
	ph->received_per_s = ph->published_per_s;
	ph->stored_per_s = (double)(s1 - s0) / sw_span;
	ph->expected_per_s = O.drivers * ph->rate;
	ph->broker_cpu_s = c1 - c0;
	ph->broker_cpu_pct = 100.0 * (c1 - c0) / win;
	ph->sims_cpu_pct = 100.0 * (sc1 - sc0) / win;
	ph->broker_us_per_delivery = d1 > d0 ? (c1 - c0) * 1e6 / (double)(d1 - d0) : 0;
	ph->refused_at_bridge = f1 - f0;
	ph->sim_refused = sims_refused() - refused0;
	proc_rss(broker.pid, &ph->broker_rss_mib);
	proc_rss(br.pid, &ph->bridge_rss_mib);

	/* drain: after the drivers stop, the bridge writes what it holds */
	sims_stop();
	bb_sleep_ms(2500);
	long long r2, s2, f2;
	sw_read(&r2, &s2, &f2);
	ph->bridge_received_total = r2;
	ph->bridge_stored_total = s2;

	printf("  published %.0f locations/s (expected %.0f), delivered to customers %.0f/s\n",
			ph->published_per_s, ph->expected_per_s, ph->delivered_per_s);
	if(ph->customers) printf("  latency publish->delivery ms: p50 %.2f p99 %.2f p99.9 %.2f max %.2f (n=%llu, >1 s: %llu)\n",
			ph->lat.p50, ph->lat.p99, ph->lat.p999, ph->lat.max, (unsigned long long)ph->lat.n,
			(unsigned long long)ph->lat.late);
	printf("  broker CPU %.1f%% (%.2f us per delivered message), VmRSS %.1f MiB; simulators CPU %.1f%%\n",
			ph->broker_cpu_pct, ph->broker_us_per_delivery, ph->broker_rss_mib, ph->sims_cpu_pct);
	printf("  bridge: received %.0f positions/s, wrote %.0f rows/s (latest per driver per flush);"
			" VmRSS %.1f MiB; refused %lld; simulators saw %lld refused publishes\n",
			ph->received_per_s, ph->stored_per_s, ph->bridge_rss_mib, ph->refused_at_bridge, ph->sim_refused);
	fflush(stdout);
	if(ph->sim_refused > 0 || ph->refused_at_bridge > 0 || ph->lat.bad > 0) g_rc = 1;

	sw_stop();
	if(ph->customers) customers_stop();
	int alive_code = -1;
	if(!jw_bridge_alive(&br, &alive_code)){
		fprintf(stderr, "bench_live: the bridge exited (status %d); log %s\n", alive_code, br.log_path);
		g_rc = 1;
	}
	if(jw_bridge_log_count(&br, "jetwire-bridge: error:") > 0){
		fprintf(stderr, "bench_live: errors in the bridge log %s\n", br.log_path);
		g_rc = 1;
	}
	int code = -1;
	if(jw_bridge_stop(&br, &code, err, sizeof(err)) != 0 || code != 0){
		fprintf(stderr, "bench_live: stopping the bridge: %s (status %d)\n", err, code);
		g_rc = 1;
	}
	jw_bridge_cleanup(&br);
	bb_stop(&broker);
}

/* The mean of n runs of a phase; latency percentiles: the worst run. */
static void average(struct phase *out, const struct phase *in, int n)
{
	*out = in[0];
	for(int i = 1; i < n; i++){
		out->published_per_s += in[i].published_per_s;
		out->delivered_per_s += in[i].delivered_per_s;
		out->broker_us_per_delivery += in[i].broker_us_per_delivery;
		out->broker_cpu_pct += in[i].broker_cpu_pct;
		out->broker_rss_mib += in[i].broker_rss_mib;
		out->lat.p50 += in[i].lat.p50;
		if(in[i].lat.p99 > out->lat.p99) out->lat.p99 = in[i].lat.p99;
		if(in[i].lat.p999 > out->lat.p999) out->lat.p999 = in[i].lat.p999;
	}
	out->published_per_s /= n;
	out->delivered_per_s /= n;
	out->broker_us_per_delivery /= n;
	out->broker_cpu_pct /= n;
	out->broker_rss_mib /= n;
	out->lat.p50 /= n;
}

static void usage(void)
{
	fprintf(stderr,
			"usage: bench_live [--drivers N] [--customers N] [--rate R] [--persist-rate R]\n"
			"                  [--seconds S] [--warmup S] [--drivers-per-sim N] [--reps N] [--wildcard]\n"
			"                  [--quick] [--source-dir DIR]\n"
			"defaults: 10000 drivers, 100 customers, 1/s, persistence phase at 2/s, 20 s window, 5 s warm-up,\n"
			"          2 alternating repetitions of baseline and validation\n");
	exit(2);
}

static const char *verdict(bool met)
{
	return met ? "met" : "MISSED";
}

int main(int argc, char **argv)
{
	for(int i = 1; i < argc; i++){
		const char *a = argv[i];
		if(!strcmp(a, "--wildcard")){
			O.wildcard = true;
			continue;
		}
		if(!strcmp(a, "--quick")){
			O.drivers = 1000;
			O.customers = 20;
			O.reps = 1;
			O.seconds = 5;
			O.warmup = 2;
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
		if(*end || d <= 0) usage();
		if(!strcmp(a, "--drivers")) O.drivers = (int)d;
		else if(!strcmp(a, "--customers")) O.customers = (int)d;
		else if(!strcmp(a, "--rate")) O.rate = d;
		else if(!strcmp(a, "--persist-rate")) O.persist_rate = d;
		else if(!strcmp(a, "--seconds")) O.seconds = d;
		else if(!strcmp(a, "--warmup")) O.warmup = d;
		else if(!strcmp(a, "--drivers-per-sim")) O.per_sim = (int)d;
		else if(!strcmp(a, "--reps")) O.reps = (int)d;
		else usage();
	}
	if(O.drivers < 1 || O.customers < 1 || O.customers > O.drivers || O.per_sim < 1
			|| (O.drivers + O.per_sim - 1) / O.per_sim > MAX_SIMS || O.reps < 1 || O.reps > MAX_REPS || O.rate > 100 || O.persist_rate > 100){
		usage();
	}
	if(!getenv("JW_BRIDGE") || !getenv("JW_BRIDGE")[0]) setenv("JW_BRIDGE", BENCH_BRIDGE, 1);
	if(!getenv("JW_DRIVER_SIM") || !getenv("JW_DRIVER_SIM")[0]) setenv("JW_DRIVER_SIM", BENCH_DRIVER_SIM, 1);
	if(access(getenv("JW_BRIDGE"), X_OK) != 0) bb_die("jetwire-bridge not found at '%s' (set JW_BRIDGE)", getenv("JW_BRIDGE"));
	if(access(getenv("JW_DRIVER_SIM"), X_OK) != 0) bb_die("jetwire-driver-sim not found at '%s' (set JW_DRIVER_SIM)", getenv("JW_DRIVER_SIM"));

	/* the broker (a child) needs a descriptor per driver */
	struct rlimit rl;
	if(getrlimit(RLIMIT_NOFILE, &rl) == 0){
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if(rl.rlim_cur < (rlim_t)O.drivers + 1000){
			bb_die("the broker needs %d file descriptors; the limit is %llu (ulimit -Hn)", O.drivers + 1000,
					(unsigned long long)rl.rlim_cur);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	atexit(cleanup);
	mosquitto_lib_init();

	char load[64];
	bb_loadavg(load, sizeof(load));
	printf("bench_live: %d drivers at %g location/s, %d customers (%d drivers each, subscribed %s),"
			" persistence phase at %g/s;"
			" %.0f s windows after %.0f s warm-up; CPUs %ld, loadavg %s\n",
			O.drivers, O.rate, O.customers, O.drivers / O.customers,
			O.wildcard ? "to driver/+/location" : "to each driver's location topic", O.persist_rate, O.seconds, O.warmup,
			sysconf(_SC_NPROCESSORS_ONLN), load);
	fflush(stdout);

	char err[1024];
	struct jw_pg_opts pgo = {.settings = "max_connections=50"};
	if(jw_pg_start(&g_pg, &pgo, err, sizeof(err)) != 0) bb_die("PostgreSQL: %s", err);
	g_pg_up = true;
	if(jw_pg_create_db(&g_pg, DB_NAME, NULL, err, sizeof(err)) != 0) bb_die("PostgreSQL: %s", err);
	jw_pg_conninfo(&g_pg, DB_NAME, NULL, g_ci, sizeof(g_ci));
	PGconn *db = PQconnectdb(g_ci);
	if(PQstatus(db) != CONNECTION_OK) bb_die("PostgreSQL: %s", PQerrorMessage(db));
	PQsetNoticeProcessor(db, quiet_notice, NULL);
	int applied = 0;
	if(jw_migrate(db, err, sizeof(err), &applied) != 0) bb_die("migrations: %s", err);
	load_sql_file(db, "schemas/demo/tables.sql");
	load_sql_file(db, "schemas/demo/capture.sql");
	char sql[2048];
	snprintf(sql, sizeof(sql),
			"INSERT INTO customers (id, name) SELECT g, 'Customer ' || g FROM generate_series(1, %d) g;"
			"INSERT INTO merchants (id, name, pickup_lat, pickup_lng) VALUES (1, 'Bench Merchant', 52.52, 13.405);"
			"INSERT INTO drivers (id, name, availability) SELECT g, 'Driver ' || g, 'BUSY'"
			"  FROM generate_series(1, %d) g;"
			"INSERT INTO orders (id, order_number, status, customer_id, merchant_id, delivery_driver_id)"
			"  SELECT g, 'L-' || g, 'OUT_FOR_DELIVERY', 1 + (g - 1) %% %d, 1, g FROM generate_series(1, %d) g;",
			O.customers, O.drivers, O.customers, O.drivers);
	db_exec(db, "seeding", sql);
	PQfinish(db);

	/* baseline and validation alternate, so a change in the machine's other
	 * load during the run falls on both */
	struct phase base[MAX_REPS], val[MAX_REPS];
	char names[2][MAX_REPS][48];
	for(int r = 0; r < O.reps; r++){
		snprintf(names[0][r], sizeof(names[0][r]), "1.%d baseline", r + 1);
		snprintf(names[1][r], sizeof(names[1][r]), "2.%d validation on", r + 1);
		base[r] = (struct phase){.name = names[0][r], .validate = false, .customers = true, .rate = O.rate,
			.hist = g_hist_base};
		val[r] = (struct phase){.name = names[1][r], .validate = true, .customers = true, .rate = O.rate,
			.hist = g_hist_val};
		run_phase(&base[r]);
		run_phase(&val[r]);
	}
	struct phase p3 = {.name = "3. persistence", .validate = true, .rate = O.persist_rate, .hist = NULL};
	run_phase(&p3);
	write_cdf("baseline", g_hist_base);
	write_cdf("validate", g_hist_val);
	struct phase p1, p2;
	average(&p1, base, O.reps);
	average(&p2, val, O.reps);

	double deliv_ratio = p1.delivered_per_s > 0 ? p2.delivered_per_s / p1.delivered_per_s : 0;
	double cap_ratio = p2.broker_us_per_delivery > 0 ? p1.broker_us_per_delivery / p2.broker_us_per_delivery : 0;
	double mem_ratio = p1.broker_rss_mib > 0 ? p2.broker_rss_mib / p1.broker_rss_mib : 0;
	double keep_ratio = p3.expected_per_s > 0 ? p3.received_per_s / p3.expected_per_s : 0;

	printf("\nSUMMARY (CPUs %ld; %d drivers, %d customers; every phase on a fresh broker and bridge;"
			" mean of %d alternating runs, latency percentiles of the worst)\n",
			sysconf(_SC_NPROCESSORS_ONLN), O.drivers, O.customers, O.reps);
	printf("  %-52s %12s %12s %7s  %-14s %s\n", "measure", "validation", "baseline", "ratio", "target", "");
	printf("  %-52s %12.0f %12.0f %7.2f\n", "locations published/s", p2.published_per_s, p1.published_per_s,
			p1.published_per_s > 0 ? p2.published_per_s / p1.published_per_s : 0);
	printf("  %-52s %12.0f %12.0f %7.2f\n", "deliveries to customers/s", p2.delivered_per_s, p1.delivered_per_s,
			deliv_ratio);
	printf("  %-52s %12.2f %12.2f %7.2f\n", "broker CPU us per delivered message", p2.broker_us_per_delivery,
			p1.broker_us_per_delivery, p1.broker_us_per_delivery > 0 ? p2.broker_us_per_delivery / p1.broker_us_per_delivery : 0);
	printf("  %-52s %12.2f %12s %7s  %-14s %s\n", "broker throughput capacity (msgs per CPU-second)",
			cap_ratio, "", "", ">= 0.85", verdict(cap_ratio >= 0.85));
	printf("  %-52s %12.1f %12.1f %7.2f\n", "broker CPU %", p2.broker_cpu_pct, p1.broker_cpu_pct,
			p1.broker_cpu_pct > 0 ? p2.broker_cpu_pct / p1.broker_cpu_pct : 0);
	printf("  %-52s %12.1f %12.1f %7.2f\n", "broker VmRSS MiB", p2.broker_rss_mib, p1.broker_rss_mib, mem_ratio);
	printf("  %-52s %12.2f %12.2f\n", "latency ms p50", p2.lat.p50, p1.lat.p50);
	printf("  %-52s %12.2f %12.2f %7s  %-14s %s\n", "latency ms p99", p2.lat.p99, p1.lat.p99, "", "< 10 ms",
			verdict(p2.lat.p99 < 10));
	printf("  %-52s %12.2f %12.2f\n", "latency ms p99.9", p2.lat.p999, p1.lat.p999);
	printf("  %-52s %12.0f %12s %7.2f  %-14s %s\n", "persistence: positions received by the bridge/s",
			p3.received_per_s, "", keep_ratio, ">= 20000/s", verdict(p3.received_per_s >= 20000));
	printf("  %-52s %12.0f\n", "persistence: rows written/s (latest per flush)", p3.stored_per_s);
	printf("  %-52s %12.0f %12s %7s\n", "  (offered: drivers x rate)", p3.expected_per_s, "", "");
	printf("(latency figures include up to 1 ms of ts truncation to milliseconds; loadavg at start %s)\n", load);

	printf("RESULT live.baseline.published_per_s=%.0f\n", p1.published_per_s);
	printf("RESULT live.baseline.delivered_per_s=%.0f\n", p1.delivered_per_s);
	printf("RESULT live.baseline.broker_us_per_msg=%.2f\n", p1.broker_us_per_delivery);
	printf("RESULT live.baseline.broker_cpu_pct=%.1f\n", p1.broker_cpu_pct);
	printf("RESULT live.baseline.broker_rss_mib=%.1f\n", p1.broker_rss_mib);
	printf("RESULT live.baseline.p50_ms=%.2f\n", p1.lat.p50);
	printf("RESULT live.baseline.p99_ms=%.2f\n", p1.lat.p99);
	printf("RESULT live.validate.published_per_s=%.0f\n", p2.published_per_s);
	printf("RESULT live.validate.delivered_per_s=%.0f\n", p2.delivered_per_s);
	printf("RESULT live.validate.broker_us_per_msg=%.2f\n", p2.broker_us_per_delivery);
	printf("RESULT live.validate.broker_cpu_pct=%.1f\n", p2.broker_cpu_pct);
	printf("RESULT live.validate.broker_rss_mib=%.1f\n", p2.broker_rss_mib);
	printf("RESULT live.validate.p50_ms=%.2f\n", p2.lat.p50);
	printf("RESULT live.validate.p99_ms=%.2f\n", p2.lat.p99);
	printf("RESULT live.validate.p999_ms=%.2f\n", p2.lat.p999);
	printf("RESULT live.capacity_ratio=%.2f\n", cap_ratio);
	printf("RESULT live.delivered_ratio=%.2f\n", deliv_ratio);
	printf("RESULT live.memory_ratio=%.2f\n", mem_ratio);
	printf("RESULT live.persist.received_per_s=%.0f\n", p3.received_per_s);
	printf("RESULT live.persist.stored_rows_per_s=%.0f\n", p3.stored_per_s);
	printf("RESULT live.persist.offered_per_s=%.0f\n", p3.expected_per_s);
	printf("RESULT live.persist.bridge_rss_mib=%.1f\n", p3.bridge_rss_mib);
	fflush(stdout);

	cleanup();
	mosquitto_lib_cleanup();
	return g_rc;
}
