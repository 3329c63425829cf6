/*
 * The bridge under faults, end to end: a real PostgreSQL (pg_harness), a
 * real mosquitto with the plugin (default ACL), the real jetwire-bridge
 * (bridge_harness) and real libmosquitto observers, while writer threads
 * keep changing orders.  SPEC "Bridge guarantees": committed changes only,
 * in commit order per order, nothing lost if the bridge, the broker or
 * PostgreSQL is killed and restarted; duplicates allowed; after the broker
 * lost its state the bridge republishes it.
 *
 * Every change the writers make is a status change (a cycle through the
 * non-terminal statuses), so every version of an order is one
 * order/{id}/status message.  The writers record nothing: the database's
 * orders and jetwire.entity_version are the truth the observers are
 * compared with once the writers stopped and the outbox is drained:
 *
 *  1. final state: a fresh admin subscriber's retained order/{id}/status
 *     has the database's status (and a version <= entity_version) and
 *     order/{id}/driver names the database's current driver;
 *  2. monotonic: no observer saw a version below the highest it had seen
 *     on that topic unless it was a repeat (see first_regression());
 *  3. no loss, where the observer's session survives the fault: every
 *     version 1..final was seen, and previousStatus chains them.
 *
 * One PostgreSQL cluster for the file (a database per test), except the
 * PostgreSQL restart test: pg_harness lets only the process that started a
 * cluster stop it, and Check runs each test in a forked child.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge_harness.h"
#include "harness.h"
#include "jw_file.h"
#include "pg_harness.h"

#define N_ORDERS 40
#define N_CUSTOMERS 10
#define N_MERCHANTS 2
#define N_DRIVERS 4
#define N_WATCHED_CUSTOMERS 2      /* customers 1 and 2 observe their orders */
#define DRAIN_MS 30000             /* outbox empty */
#define FINAL_MS 20000             /* observers got the final versions */
#define SESSION_EXPIRY 3600

static struct jw_pg shared_pg;

/* ---- small helpers ---- */

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while(nanosleep(&ts, &ts) != 0 && errno == EINTR){
	}
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	if(dir[0]) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The last `max` bytes of a file, for failure messages (caller frees). */
static char *file_tail(const char *path, size_t max)
{
	char *text = NULL, err[256];
	size_t len = 0;
	if(jw_read_file(path, 64u << 20, &text, &len, err, sizeof(err)) != 0) return strdup(err);
	if(len > max){
		memmove(text, text + len - max, max + 1);
	}
	return text;
}

/* Failures are collected, so that one run reports everything it saw; the
 * test asserts once, after it stopped what it started. */
struct report {
	char buf[24000];
	size_t len;
	int n;
};

static void report_add(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_add(struct report *r, const char *fmt, ...)
{
	r->n++;
	if(r->len + 200 >= sizeof(r->buf)){
		if(r->len + 4 < sizeof(r->buf) && r->buf[r->len - 1] != '.'){
			r->len += (size_t)snprintf(r->buf + r->len, sizeof(r->buf) - r->len, "...");
		}
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(r->buf + r->len, sizeof(r->buf) - r->len - 2, fmt, ap);
	va_end(ap);
	if(w < 0) return;
	r->len += (size_t)w;
	if(r->len > sizeof(r->buf) - 2) r->len = sizeof(r->buf) - 2;
	r->buf[r->len++] = '\n';
	r->buf[r->len] = '\0';
}

/* ---- observers: libmosquitto clients recording every message ---- */

struct seen {
	int64_t version;      /* -1: no readable version (empty or broken payload) */
	char *payload;
	char value[48];       /* status, or driverId on .../driver ("" for null) */
	char prev[48];        /* previousStatus ("" for null) */
	bool has_prev;
	bool retain;
};

struct topic_log {
	struct seen *v;
	size_t n, cap;
};

struct observer {
	char id[96];
	char *token;
	int port;
	bool persistent;             /* clean start false + session expiry */
	int n_filters;
	char *filters[2];
	struct mosquitto *mosq;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	pthread_mutex_t lock;
	struct topic_log status[N_ORDERS + 1];
	struct topic_log driver[N_ORDERS + 1];
	int connects;                /* accepted CONNACKs */
	int subscribes;              /* SUBSCRIBEs sent (on every connect without a session) */
	int subacks;
	int suback_refused;
	bool connected;
	int foreign;                 /* messages on topics not expected */
	char foreign_example[160];
};

static void log_append(struct topic_log *t, struct seen s)
{
	if(t->n == t->cap){
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct seen *grown = realloc(t->v, cap * sizeof(*grown));
		if(!grown) abort();
		t->v = grown;
		t->cap = cap;
	}
	t->v[t->n++] = s;
}

static void copy_str(char *out, size_t len, json_object *o)
{
	out[0] = '\0';
	if(o && !json_object_is_type(o, json_type_null)) snprintf(out, len, "%s", json_object_get_string(o));
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props)
{
	(void)props;
	struct observer *o = obj;
	if(rc != 0) return;   /* refused: the broker closes, the loop retries */
	bool resubscribe = !(flags & 1);   /* no session present: subscriptions are gone */
	if(resubscribe){
		mosquitto_subscribe_multiple(m, NULL, o->n_filters, o->filters, 1, 0, NULL);
	}
	pthread_mutex_lock(&o->lock);
	o->connects++;
	o->connected = true;
	if(resubscribe) o->subscribes++;
	pthread_mutex_unlock(&o->lock);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *props)
{
	(void)m;
	(void)rc;
	(void)props;
	struct observer *o = obj;
	pthread_mutex_lock(&o->lock);
	o->connected = false;
	pthread_mutex_unlock(&o->lock);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted,
		const mosquitto_property *props)
{
	(void)m;
	(void)mid;
	(void)props;
	struct observer *o = obj;
	pthread_mutex_lock(&o->lock);
	o->subacks++;
	for(int i = 0; i < count; i++){
		if(granted[i] >= 0x80) o->suback_refused++;
	}
	pthread_mutex_unlock(&o->lock);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
		const mosquitto_property *props)
{
	(void)m;
	(void)props;
	struct observer *o = obj;
	int id = 0, end = -1;
	char leaf[16] = "";
	bool ours = sscanf(msg->topic, "order/%d/%15[a-z]%n", &id, leaf, &end) == 2 && end > 0 &&
			msg->topic[end] == '\0' && id >= 1 && id <= N_ORDERS &&
			(strcmp(leaf, "status") == 0 || strcmp(leaf, "driver") == 0);
	if(!ours){
		pthread_mutex_lock(&o->lock);
		if(o->foreign++ == 0) snprintf(o->foreign_example, sizeof(o->foreign_example), "%s", msg->topic);
		pthread_mutex_unlock(&o->lock);
		return;
	}
	bool is_status = strcmp(leaf, "status") == 0;
	struct seen s = {.version = -1, .retain = msg->retain};
	s.payload = strndup(msg->payload ? (const char *)msg->payload : "", (size_t)msg->payloadlen);
	if(!s.payload) abort();
	json_object *doc = msg->payloadlen > 0 ? json_tokener_parse(s.payload) : NULL;
	json_object *v = NULL;
	if(doc && json_object_object_get_ex(doc, "version", &v) && json_object_is_type(v, json_type_int)){
		s.version = json_object_get_int64(v);
	}
	if(doc && is_status){
		if(json_object_object_get_ex(doc, "status", &v)) copy_str(s.value, sizeof(s.value), v);
		if(json_object_object_get_ex(doc, "previousStatus", &v)){
			copy_str(s.prev, sizeof(s.prev), v);
			s.has_prev = !json_object_is_type(v, json_type_null);
		}
	}else if(doc){
		if(json_object_object_get_ex(doc, "driverId", &v)) copy_str(s.value, sizeof(s.value), v);
	}
	json_object_put(doc);
	pthread_mutex_lock(&o->lock);
	log_append(is_status ? &o->status[id] : &o->driver[id], s);
	pthread_mutex_unlock(&o->lock);
}

/* The observer's network thread: connects, runs the loop, and on a lost
 * connection connects again (with the session expiry: libmosquitto 2.0's own
 * reconnect would send CONNECT without properties, i.e. expiry 0). */
static void *observer_main(void *arg)
{
	struct observer *o = arg;
	bool linked = false;
	int64_t retry_at = 0;
	while(!atomic_load(&o->stop)){
		if(!linked){
			if(jw_ms() < retry_at){
				sleep_ms(20);
				continue;
			}
			mosquitto_property *props = NULL;
			if(o->persistent){
				mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, SESSION_EXPIRY);
			}
			int rc = mosquitto_connect_bind_v5(o->mosq, "127.0.0.1", o->port, 10, NULL, props);
			mosquitto_property_free_all(&props);
			if(rc == MOSQ_ERR_SUCCESS) linked = true;
			else retry_at = jw_ms() + 100;
			continue;
		}
		int rc = mosquitto_loop(o->mosq, 50, 1);
		if(rc != MOSQ_ERR_SUCCESS){
			linked = false;
			retry_at = jw_ms() + 100;
			pthread_mutex_lock(&o->lock);
			o->connected = false;
			pthread_mutex_unlock(&o->lock);
		}
	}
	if(linked){
		mosquitto_disconnect(o->mosq);
		for(int i = 0; i < 5; i++) mosquitto_loop(o->mosq, 20, 1);
	}
	return NULL;
}

/* Connect as {role}-{sub}-{suffix}, subscribe (QoS 1) to `filters`
 * (NULL-terminated, at most 2), and wait until the SUBACK came. */
static struct observer *observer_start(struct jw_broker *b, const char *role, const char *sub,
		const char *suffix, bool persistent, const char *const *filters)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, (void (*)(void))mosquitto_lib_init);
	struct observer *o = calloc(1, sizeof(*o));
	ck_assert_ptr_nonnull(o);
	snprintf(o->id, sizeof(o->id), "%s-%s-%s", role, sub, suffix);
	o->token = jw_token(b, sub, role, 3600);
	o->port = b->port;
	o->persistent = persistent;
	for(; filters[o->n_filters] && o->n_filters < 2; o->n_filters++){
		o->filters[o->n_filters] = strdup(filters[o->n_filters]);
	}
	pthread_mutex_init(&o->lock, NULL);
	atomic_init(&o->stop, false);
	o->mosq = mosquitto_new(o->id, !persistent, o);
	ck_assert_ptr_nonnull(o->mosq);
	mosquitto_int_option(o->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	/* room for a resync's burst without flow control stalls */
	mosquitto_int_option(o->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
	mosquitto_username_pw_set(o->mosq, "jwt", o->token);
	mosquitto_connect_v5_callback_set(o->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(o->mosq, on_disconnect);
	mosquitto_subscribe_v5_callback_set(o->mosq, on_subscribe);
	mosquitto_message_v5_callback_set(o->mosq, on_message);
	ck_assert_int_eq(pthread_create(&o->thread, NULL, observer_main, o), 0);
	o->thread_started = true;
	int64_t deadline = jw_ms() + 20000;
	for(;;){
		pthread_mutex_lock(&o->lock);
		bool ready = o->connects > 0 && o->subacks > 0;
		int refused = o->suback_refused;
		pthread_mutex_unlock(&o->lock);
		ck_assert_msg(refused == 0, "%s: subscription refused", o->id);
		if(ready) break;
		ck_assert_msg(jw_ms() < deadline, "%s: not connected and subscribed within 20 s", o->id);
		sleep_ms(10);
	}
	return o;
}

static void observer_destroy(struct observer *o)
{
	if(!o) return;
	if(o->thread_started){
		atomic_store(&o->stop, true);
		pthread_join(o->thread, NULL);
	}
	mosquitto_destroy(o->mosq);
	for(int i = 0; i <= N_ORDERS; i++){
		for(size_t k = 0; k < o->status[i].n; k++) free(o->status[i].v[k].payload);
		for(size_t k = 0; k < o->driver[i].n; k++) free(o->driver[i].v[k].payload);
		free(o->status[i].v);
		free(o->driver[i].v);
	}
	for(int i = 0; i < o->n_filters; i++) free(o->filters[i]);
	free(o->token);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

static int64_t max_version(const struct topic_log *t)
{
	int64_t m = 0;
	for(size_t i = 0; i < t->n; i++){
		if(t->v[i].version > m) m = t->v[i].version;
	}
	return m;
}

/* "v3:PICKED_UP v4:IN_PROCESS(r) ..." around index `at` (all if at < 0). */
static void describe(const struct topic_log *t, long at, char *out, size_t len)
{
	size_t from = 0, to = t->n;
	if(at >= 0){
		from = at > 10 ? (size_t)at - 10 : 0;
		to = (size_t)at + 4 < t->n ? (size_t)at + 4 : t->n;
	}else if(t->n > 40){
		from = t->n - 40;
	}
	size_t o = 0;
	out[0] = '\0';
	if(from > 0) o += (size_t)snprintf(out + o, len - o, "[%zu earlier] ", from);
	for(size_t i = from; i < to && o + 80 < len; i++){
		o += (size_t)snprintf(out + o, len - o, "%s%lld:%s%s%s ", (long)i == at ? ">>" : "",
				(long long)t->v[i].version, t->v[i].value[0] ? t->v[i].value : "null",
				t->v[i].retain ? "(r)" : "", (long)i == at ? "<<" : "");
	}
}

/*
 * Check 2, the ordering rule a client relies on (SPEC: `version` strictly
 * increases per order so a client can drop stale copies; duplicates are
 * allowed because retained state + version make them harmless).  Walking
 * one topic's messages in arrival order, a message whose version is below
 * the highest seen so far is acceptable only if that exact (version,
 * payload) already arrived earlier on that topic: a repeat (a QoS 1
 * redelivery, a change published again after a crash before its outbox
 * row was deleted, a retained copy sent again after a resubscribe).  A
 * lower version never seen before is a stale state that was never shown
 * and would move a client backwards: a violation.  Equal versions are not
 * regressions.  Returns the index of the first violation, or -1.
 */
static long first_regression(const struct topic_log *t)
{
	int64_t highest = 0;
	for(size_t i = 0; i < t->n; i++){
		const struct seen *s = &t->v[i];
		if(s->version < highest){
			bool repeat = false;
			for(size_t k = 0; k < i && !repeat; k++){
				repeat = t->v[k].version == s->version && strcmp(t->v[k].payload, s->payload) == 0;
			}
			if(!repeat) return (long)i;
		}
		if(s->version > highest) highest = s->version;
	}
	return -1;
}

/* One version is one state: two status messages with the same version must
 * name the same status and previousStatus.  Index of the first conflict or -1. */
static long first_status_conflict(const struct topic_log *t)
{
	for(size_t i = 0; i < t->n; i++){
		for(size_t k = 0; k < i; k++){
			if(t->v[k].version == t->v[i].version &&
			    (strcmp(t->v[k].value, t->v[i].value) != 0 || strcmp(t->v[k].prev, t->v[i].prev) != 0)){
				return (long)i;
			}
		}
	}
	return -1;
}

/* ---- the database ---- */

struct truth {
	char status[N_ORDERS + 1][40];
	char driver[N_ORDERS + 1][24];    /* "" when none */
	int64_t version[N_ORDERS + 1];
	int customer[N_ORDERS + 1];
	long changes;                     /* sum of versions - inserts */
};

static PGconn *db_open(const char *conninfo, int timeout_ms)
{
	char ci[800];
	snprintf(ci, sizeof(ci), "%s connect_timeout=3", conninfo);
	int64_t deadline = jw_ms() + timeout_ms;
	for(;;){
		PGconn *c = PQconnectdb(ci);
		if(PQstatus(c) == CONNECTION_OK){
			PQsetNoticeProcessor(c, NULL, NULL);
			return c;
		}
		if(jw_ms() > deadline){
			ck_abort_msg("cannot connect to PostgreSQL: %s", PQerrorMessage(c));
		}
		PQfinish(c);
		sleep_ms(100);
	}
}

static long db_scalar(const char *conninfo, const char *sql)
{
	PGconn *c = db_open(conninfo, 30000);
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql, PQerrorMessage(c));
	long v = PQgetisnull(r, 0, 0) ? -1 : atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

static void db_truth(const char *conninfo, struct truth *t)
{
	memset(t, 0, sizeof(*t));
	PGconn *c = db_open(conninfo, 30000);
	const char *sql =
		"SELECT o.id, o.status, COALESCE(o.delivery_driver_id, o.pickup_driver_id)::text, ev.version, "
		"o.customer_id FROM orders o JOIN jetwire.entity_version ev "
		"ON ev.entity = 'order' AND ev.entity_id = o.id::text ORDER BY o.id";
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
	ck_assert_int_eq(PQntuples(r), N_ORDERS);
	for(int i = 0; i < PQntuples(r); i++){
		int id = atoi(PQgetvalue(r, i, 0));
		ck_assert(id >= 1 && id <= N_ORDERS);
		snprintf(t->status[id], sizeof(t->status[id]), "%s", PQgetvalue(r, i, 1));
		snprintf(t->driver[id], sizeof(t->driver[id]), "%s", PQgetisnull(r, i, 2) ? "" : PQgetvalue(r, i, 2));
		t->version[id] = atoll(PQgetvalue(r, i, 3));
		t->customer[id] = atoi(PQgetvalue(r, i, 4));
		t->changes += (long)(t->version[id] - 1);
	}
	PQclear(r);
	PQfinish(c);
}

static void run_migrate(const char *conninfo)
{
	const char *tool = getenv("JW_MIGRATE");
	ck_assert_msg(tool && tool[0], "JW_MIGRATE is not set (run through ctest)");
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if(pid == 0){
		int nul = open("/dev/null", O_WRONLY);
		if(nul >= 0) dup2(nul, 1);
		execl(tool, tool, conninfo, (char *)NULL);
		_exit(127);
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status %d)", tool, status);
}

static void load_sql(const struct jw_pg *pg, const char *db, const char *rel)
{
	char path[1024], *text = NULL, err[2048];
	size_t len;
	const char *src = getenv("JW_SOURCE_DIR");
	ck_assert_msg(src != NULL, "JW_SOURCE_DIR is not set (run through ctest)");
	snprintf(path, sizeof(path), "%s/%s", src, rel);
	ck_assert_msg(jw_read_file(path, 1 << 20, &text, &len, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(jw_pg_exec(pg, db, text, err, sizeof(err)) == 0, "%s: %s", rel, err);
	free(text);
}

/* ---- writers ---- */

/* Every change is a status change: the next non-terminal status in a cycle. */
#define NEXT_STATUS_SQL \
	"UPDATE orders SET status = CASE status " \
	"WHEN 'PENDING' THEN 'CONFIRMED' WHEN 'CONFIRMED' THEN 'ASSIGNED_TO_DRIVER' " \
	"WHEN 'ASSIGNED_TO_DRIVER' THEN 'PICKED_UP' WHEN 'PICKED_UP' THEN 'IN_PROCESS' " \
	"WHEN 'IN_PROCESS' THEN 'READY_FOR_DELIVERY' WHEN 'READY_FOR_DELIVERY' THEN 'OUT_FOR_DELIVERY' " \
	"ELSE 'PENDING' END WHERE id = $1"

struct writer {
	char conninfo[700];
	atomic_bool *stop;
	unsigned seed;
	bool slow_commit;       /* BEGIN; UPDATE; sleep 0-30 ms; COMMIT */
	long committed, errors;
	pthread_t thread;
};

static bool exec_ok(PGconn *c, const char *sql, const char *param)
{
	const char *values[1] = {param};
	PGresult *r = param ? PQexecParams(c, sql, 1, NULL, values, NULL, NULL, 0) : PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	PQclear(r);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Tolerates PostgreSQL going away: an error drops the connection (if it
 * broke) and the loop connects again.  Whether a commit that failed
 * mid-flight happened is for the database to say, not the writer. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char ci[800];
	snprintf(ci, sizeof(ci), "%s connect_timeout=3", w->conninfo);
	PGconn *c = NULL;
	while(!atomic_load(w->stop)){
		if(!c || PQstatus(c) != CONNECTION_OK){
			PQfinish(c);
			c = PQconnectdb(ci);
			if(PQstatus(c) != CONNECTION_OK){
				PQfinish(c);
				c = NULL;
				w->errors++;
				sleep_ms(100);
				continue;
			}
			PQsetNoticeProcessor(c, NULL, NULL);
		}
		char id[16];
		snprintf(id, sizeof(id), "%d", 1 + (int)(rand_r(&w->seed) % N_ORDERS));
		bool ok;
		if(w->slow_commit){
			ok = exec_ok(c, "BEGIN", NULL) && exec_ok(c, NEXT_STATUS_SQL, id);
			if(ok) sleep_ms((int)(rand_r(&w->seed) % 31));
			ok = ok && exec_ok(c, "COMMIT", NULL);
			if(!ok && PQstatus(c) == CONNECTION_OK) exec_ok(c, "ROLLBACK", NULL);
		}else{
			ok = exec_ok(c, NEXT_STATUS_SQL, id);
			sleep_ms(2);   /* ~300 changes/s */
		}
		if(ok){
			w->committed++;
		}else{
			w->errors++;
			sleep_ms(20);
		}
	}
	PQfinish(c);
	return NULL;
}

struct stream {
	atomic_bool stop;
	int n;
	struct writer w[8];
};

static void stream_start(struct stream *s, const char *conninfo, int writers, bool slow_commit)
{
	memset(s, 0, sizeof(*s));
	atomic_init(&s->stop, false);
	s->n = writers;
	for(int i = 0; i < writers; i++){
		struct writer *w = &s->w[i];
		snprintf(w->conninfo, sizeof(w->conninfo), "%s", conninfo);
		w->stop = &s->stop;
		w->seed = (unsigned)(time(NULL) ^ (i * 7919) ^ getpid());
		w->slow_commit = slow_commit;
		ck_assert_int_eq(pthread_create(&w->thread, NULL, writer_main, w), 0);
	}
}

static long stream_stop(struct stream *s)
{
	atomic_store(&s->stop, true);
	long committed = 0;
	for(int i = 0; i < s->n; i++){
		pthread_join(s->w[i].thread, NULL);
		committed += s->w[i].committed;
	}
	return committed;
}

/* ---- the fixture: database, broker, observers, bridge ---- */

struct fx {
	struct jw_pg *pg;
	char db[64];
	char conninfo[600];
	struct jw_broker broker;
	char persist_dir[128];      /* "" without broker persistence */
	char persist_db[192];
	struct jw_bridge bridge;
	struct observer *admin;
	struct observer *cust[N_WATCHED_CUSTOMERS];
	bool bridge_killed;         /* the scenario ends with the bridge not running */
};

#define SEED_SQL \
	"INSERT INTO customers (id, name) SELECT g, 'Customer ' || g FROM generate_series(1, 10) g;" \
	"INSERT INTO merchants (id, name, pickup_lat, pickup_lng) " \
	"  SELECT g, 'Merchant ' || g, 52.5 + g / 100.0, 13.4 FROM generate_series(1, 2) g;" \
	"INSERT INTO drivers (id, name, rating, vehicle_type) " \
	"  SELECT g, 'Driver ' || g, 4.5, 'CAR' FROM generate_series(1, 4) g;" \
	"INSERT INTO orders (id, order_number, status, customer_id, merchant_id, pickup_driver_id, delivery_driver_id) " \
	"  SELECT g, 'ORD-' || g, (ARRAY['PENDING', 'CONFIRMED', 'ASSIGNED_TO_DRIVER', 'PICKED_UP', 'IN_PROCESS', " \
	"      'READY_FOR_DELIVERY', 'OUT_FOR_DELIVERY'])[1 + g % 7], " \
	"    1 + (g - 1) % 10, 1 + (g - 1) % 2, " \
	"    CASE WHEN g % 3 = 0 THEN NULL ELSE 1 + g % 4 END, " \
	"    CASE WHEN g % 3 = 2 THEN 1 + (g + 1) % 4 ELSE NULL END " \
	"  FROM generate_series(1, 40) g"

static void fx_setup(struct fx *f, struct jw_pg *pg, const char *db, bool persistence)
{
	char err[2048];
	memset(f, 0, sizeof(*f));
	f->pg = pg;
	snprintf(f->db, sizeof(f->db), "%s", db);
	ck_assert_msg(jw_pg_create_db(pg, db, NULL, err, sizeof(err)) == 0, "%s", err);
	jw_pg_conninfo(pg, db, NULL, f->conninfo, sizeof(f->conninfo));
	run_migrate(f->conninfo);
	load_sql(pg, db, "schemas/demo/tables.sql");
	load_sql(pg, db, "schemas/demo/capture.sql");
	ck_assert_msg(jw_pg_exec(pg, db, SEED_SQL, err, sizeof(err)) == 0, "%s", err);

	struct jw_broker_opts bo = {0};
	char extra[512];
	if(persistence){
		snprintf(f->persist_dir, sizeof(f->persist_dir), "/tmp/jetwire-persist-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(f->persist_dir));
		chmod(f->persist_dir, 0777);
		snprintf(f->persist_db, sizeof(f->persist_db), "%s/mosquitto.db", f->persist_dir);
		snprintf(extra, sizeof(extra), "persistence true\npersistence_location %s/\nautosave_interval 3600",
				f->persist_dir);
		bo.extra_conf = extra;
	}
	jw_broker_start(&f->broker, &bo);

	/* Observers before the bridge: they see every version from 1. */
	const char *const admin_filters[] = {"order/+/status", "order/+/driver", NULL};
	f->admin = observer_start(&f->broker, "admin", "ops", "watch", true, admin_filters);
	for(int i = 0; i < N_WATCHED_CUSTOMERS; i++){
		char sub[8];
		snprintf(sub, sizeof(sub), "%d", i + 1);
		f->cust[i] = observer_start(&f->broker, "customer", sub, "watch", true, admin_filters);
	}

	struct jw_bridge_opts o = {
		.database = f->conninfo,
		.mqtt_port = f->broker.port,
		.secret_path = f->broker.secret_path,
		/* quick reconnects: the faults last about a second */
		.extra_conf = "backoff_max_ms 1000\npoll_interval_ms 250",
	};
	ck_assert_msg(jw_bridge_start(&f->bridge, &o, err, sizeof(err)) == 0, "bridge: %s", err);
}

/* Has `o` seen, for every order it should see, the database's version? */
static bool observer_caught_up(struct observer *o, const struct truth *t, int customer)
{
	bool done = true;
	pthread_mutex_lock(&o->lock);
	for(int id = 1; id <= N_ORDERS && done; id++){
		if(customer && t->customer[id] != customer) continue;
		done = max_version(&o->status[id]) >= t->version[id];
	}
	pthread_mutex_unlock(&o->lock);
	return done;
}

static bool drain(struct fx *f, struct report *r)
{
	int64_t deadline = jw_ms() + DRAIN_MS;
	long left = -1;
	while(jw_ms() < deadline){
		left = db_scalar(f->conninfo, "SELECT count(*) FROM jetwire.outbox");
		if(left == 0) return true;
		sleep_ms(100);
	}
	report_add(r, "the outbox was not drained within %d s: %ld rows left", DRAIN_MS / 1000, left);
	return false;
}

enum { CHECK_COMPLETE = 1 };

/* Checks 2 and 3 on one observer; `customer` 0 for the admin. */
static void check_observer(struct observer *o, const struct truth *t, int customer, int flags,
		struct report *r)
{
	char desc[3000];
	pthread_mutex_lock(&o->lock);
	if(o->foreign){
		report_add(r, "%s: %d message(s) on unexpected topics, e.g. %s", o->id, o->foreign, o->foreign_example);
	}
	for(int id = 1; id <= N_ORDERS; id++){
		const struct topic_log *logs[2] = {&o->status[id], &o->driver[id]};
		const char *leaf[2] = {"status", "driver"};
		if(customer && t->customer[id] != customer){
			/* SPEC: nobody else ever receives an order's messages */
			if(logs[0]->n || logs[1]->n){
				report_add(r, "%s received order %d (customer %d's): %zu status, %zu driver message(s)",
						o->id, id, t->customer[id], logs[0]->n, logs[1]->n);
			}
			continue;
		}
		for(int k = 0; k < 2; k++){
			long bad = first_regression(logs[k]);
			if(bad >= 0){
				describe(logs[k], bad, desc, sizeof(desc));
				report_add(r, "check 2 (monotonic): %s order/%d/%s: version %lld after %lld was never "
						"seen before: %s", o->id, id, leaf[k], (long long)logs[k]->v[bad].version,
						(long long)max_version(&(struct topic_log){logs[k]->v, (size_t)bad, 0}), desc);
			}
			for(size_t i = 0; i < logs[k]->n; i++){
				if(logs[k]->v[i].version < 1){
					report_add(r, "%s order/%d/%s: a message without a version: '%.200s'", o->id, id,
							leaf[k], logs[k]->v[i].payload);
					break;
				}
			}
		}
		long conflict = first_status_conflict(logs[0]);
		if(conflict >= 0){
			describe(logs[0], conflict, desc, sizeof(desc));
			report_add(r, "%s order/%d/status: version %lld arrived with two different states: %s", o->id,
					id, (long long)logs[0]->v[conflict].version, desc);
		}
		if(max_version(logs[0]) != t->version[id]){
			describe(logs[0], -1, desc, sizeof(desc));
			report_add(r, "%s order/%d/status: highest version seen %lld, database %lld (%s): %s", o->id, id,
					(long long)max_version(logs[0]), (long long)t->version[id], t->status[id], desc);
		}
		if(!(flags & CHECK_COMPLETE)) continue;

		/* Check 3: every version 1..final, and previousStatus chains them. */
		int64_t final = t->version[id];
		char *status_of = calloc((size_t)final + 2, 48);
		ck_assert_ptr_nonnull(status_of);
		bool *have = calloc((size_t)final + 2, sizeof(bool));
		ck_assert_ptr_nonnull(have);
		for(size_t i = 0; i < logs[0]->n; i++){
			const struct seen *s = &logs[0]->v[i];
			if(s->version >= 1 && s->version <= final){
				have[s->version] = true;
				snprintf(status_of + 48 * s->version, 48, "%s", s->value);
			}
		}
		char missing[600] = "";
		size_t mlen = 0;
		int n_missing = 0;
		for(int64_t v = 1; v <= final; v++){
			if(!have[v]){
				n_missing++;
				if(mlen + 24 < sizeof(missing)) mlen += (size_t)snprintf(missing + mlen, sizeof(missing) - mlen,
						"%lld ", (long long)v);
			}
		}
		if(n_missing){
			describe(logs[0], -1, desc, sizeof(desc));
			report_add(r, "check 3 (no loss): %s order/%d/status: %d of versions 1..%lld never arrived: %s; "
					"seen: %s", o->id, id, n_missing, (long long)final, missing, desc);
		}
		for(size_t i = 0; i < logs[0]->n; i++){
			const struct seen *s = &logs[0]->v[i];
			if(s->version == 1 && s->has_prev){
				report_add(r, "check 3 (chain): %s order/%d version 1 has previousStatus %s, want null", o->id,
						id, s->prev);
			}
			if(s->version > 1 && s->version <= final && have[s->version - 1] &&
			    strcmp(s->prev, status_of + 48 * (s->version - 1)) != 0){
				report_add(r, "check 3 (chain): %s order/%d version %lld has previousStatus '%s', version "
						"%lld was '%s'", o->id, id, (long long)s->version, s->prev,
						(long long)(s->version - 1), status_of + 48 * (s->version - 1));
				break;
			}
		}
		free(status_of);
		free(have);
	}
	pthread_mutex_unlock(&o->lock);
}

/* Check 1: what a client connecting now gets. */
static void check_fresh_subscriber(struct fx *f, const struct truth *t, struct report *r)
{
	const char *const filters[] = {"order/+/status", "order/+/driver", NULL};
	struct observer *o = observer_start(&f->broker, "admin", "ops", "fresh", false, filters);
	int64_t deadline = jw_ms() + FINAL_MS;
	for(;;){
		bool all = true;
		pthread_mutex_lock(&o->lock);
		for(int id = 1; id <= N_ORDERS && all; id++){
			all = o->status[id].n > 0 && (!t->driver[id][0] || o->driver[id].n > 0);
		}
		pthread_mutex_unlock(&o->lock);
		if(all || jw_ms() > deadline) break;
		sleep_ms(50);
	}
	sleep_ms(200);   /* anything else that would come */
	pthread_mutex_lock(&o->lock);
	for(int id = 1; id <= N_ORDERS; id++){
		const struct topic_log *st = &o->status[id], *dr = &o->driver[id];
		if(st->n == 0){
			report_add(r, "check 1 (final state): no retained order/%d/status (database: %s v%lld)", id,
					t->status[id], (long long)t->version[id]);
		}else{
			const struct seen *s = &st->v[st->n - 1];
			if(strcmp(s->value, t->status[id]) != 0 || s->version > t->version[id] || s->version < 1){
				report_add(r, "check 1 (final state): retained order/%d/status is %s v%lld, database %s v%lld",
						id, s->value, (long long)s->version, t->status[id], (long long)t->version[id]);
			}
		}
		if(t->driver[id][0]){
			if(dr->n == 0){
				report_add(r, "check 1 (final state): no retained order/%d/driver (database: driver %s)", id,
						t->driver[id]);
			}else if(strcmp(dr->v[dr->n - 1].value, t->driver[id]) != 0){
				report_add(r, "check 1 (final state): retained order/%d/driver names driver '%s', database %s",
						id, dr->v[dr->n - 1].value, t->driver[id]);
			}
		}
	}
	pthread_mutex_unlock(&o->lock);
	observer_destroy(o);
}

/* One line on stderr (ctest -V): what the scenario exercised. */
static void summarize(const char *name, struct observer *o, const struct truth *t)
{
	size_t msgs = 0, below = 0, equal = 0;
	pthread_mutex_lock(&o->lock);
	for(int id = 1; id <= N_ORDERS; id++){
		const struct topic_log *l = &o->status[id];
		int64_t hi = 0;
		for(size_t i = 0; i < l->n; i++){
			if(l->v[i].version < hi) below++;
			else if(l->v[i].version == hi) equal++;
			if(l->v[i].version > hi) hi = l->v[i].version;
		}
		msgs += l->n;
	}
	fprintf(stderr, "%s: %ld changes committed; %s got %zu status messages (%zu repeats below the highest, "
			"%zu at the highest), %d connect(s), %d subscribe(s)\n", name, t->changes, o->id, msgs,
			below, equal, o->connects, o->subscribes);
	pthread_mutex_unlock(&o->lock);
}

/* After the writers stopped: drain, wait for the final versions, check. */
static void fx_verify(struct fx *f, int flags, long min_changes, struct report *r)
{
	drain(f, r);
	struct truth t;
	db_truth(f->conninfo, &t);
	if(t.changes < min_changes){
		report_add(r, "only %ld changes were committed (want >= %ld): the scenario proved little",
				t.changes, min_changes);
	}
	int64_t deadline = jw_ms() + FINAL_MS;
	for(;;){
		bool all = observer_caught_up(f->admin, &t, 0);
		for(int i = 0; i < N_WATCHED_CUSTOMERS && all; i++) all = observer_caught_up(f->cust[i], &t, i + 1);
		if(all || jw_ms() > deadline) break;
		sleep_ms(50);
	}
	sleep_ms(300);   /* late duplicates, if any, are part of what is checked */
	summarize(f->db, f->admin, &t);
	check_observer(f->admin, &t, 0, flags, r);
	for(int i = 0; i < N_WATCHED_CUSTOMERS; i++) check_observer(f->cust[i], &t, i + 1, flags, r);
	check_fresh_subscriber(f, &t, r);
	long dead = db_scalar(f->conninfo, "SELECT count(*) FROM jetwire.dead_letter");
	if(dead != 0) report_add(r, "jetwire.dead_letter has %ld row(s)", dead);
}

/* Stop everything (the bridge with SIGTERM: exit status 0).  On failure the
 * bridge's and the broker's dirs are kept and named in the report. */
static void fx_teardown(struct fx *f, struct report *r)
{
	char err[1024];
	if(!f->bridge_killed){
		int exited = -1;
		if(!jw_bridge_alive(&f->bridge, &exited)){
			report_add(r, "the bridge is not running any more (exit status %d)", exited);
		}else{
			int code = -1;
			if(jw_bridge_stop(&f->bridge, &code, err, sizeof(err)) != 0){
				report_add(r, "stopping the bridge: %s", err);
			}else if(code != 0){
				report_add(r, "the bridge exited with status %d on SIGTERM (want 0)", code);
			}
		}
	}
	observer_destroy(f->admin);
	for(int i = 0; i < N_WATCHED_CUSTOMERS; i++) observer_destroy(f->cust[i]);
	char *tail = NULL;
	if(r->n){
		tail = file_tail(f->bridge.log_path, 6000);
		report_add(r, "--- bridge log (%s), last lines:\n%s", f->bridge.log_path, tail ? tail : "?");
		free(tail);
		report_add(r, "--- broker dir (kept): %s", f->broker.dir);
		setenv("JW_KEEP_TEST_DIRS", "1", 1);   /* this forked test only */
	}else{
		jw_bridge_cleanup(&f->bridge);
	}
	int broker_code = jw_broker_stop(&f->broker);
	if(broker_code != 0 && r->n == 0) report_add(r, "the broker exited with status %d", broker_code);
	if(f->persist_dir[0] && r->n == 0) remove_tree(f->persist_dir);
}

static void report_assert(const struct report *r)
{
	ck_assert_msg(r->n == 0, "%d problem(s):\n%s", r->n, r->buf);
}

static void fx_finish(struct fx *f, struct report *r)
{
	fx_teardown(f, r);
	report_assert(r);
}

static void expect_alive(struct fx *f, struct report *r, const char *when)
{
	int exited = -1;
	if(!jw_bridge_alive(&f->bridge, &exited)) report_add(r, "the bridge died %s (exit status %d)", when, exited);
}

/* Wait until the bridge logged `needle` more than `before` times. */
static void expect_log(struct fx *f, struct report *r, const char *needle, int before, const char *when)
{
	if(!jw_bridge_log_wait(&f->bridge, needle, before + 1, 30000)){
		report_add(r, "%s: the bridge did not log '%s' within 30 s (count %d)", when, needle,
				jw_bridge_log_count(&f->bridge, needle));
	}
}

/* ---- scenarios ---- */

START_TEST(a_bridge_killed_twice_mid_stream_loses_nothing)
{
	struct fx f;
	struct report r = {.len = 0};
	char err[1024];
	fx_setup(&f, &shared_pg, "t_bridge_kill", false);
	struct stream s;
	stream_start(&s, f.conninfo, 1, false);
	sleep_ms(1500);
	for(int round = 0; round < 2; round++){
		ck_assert_int_eq(jw_bridge_kill(&f.bridge), 0);
		sleep_ms(700);   /* changes pile up in the outbox meanwhile */
		ck_assert_msg(jw_bridge_restart(&f.bridge, true, err, sizeof(err)) == 0, "restart %d: %s", round + 1, err);
		sleep_ms(1500);
	}
	stream_stop(&s);
	expect_alive(&f, &r, "while streaming");
	fx_verify(&f, CHECK_COMPLETE, 200, &r);
	fx_finish(&f, &r);
}
END_TEST

START_TEST(b_broker_restart_without_persistence_is_resynced)
{
	struct fx f;
	struct report r = {.len = 0};
	fx_setup(&f, &shared_pg, "t_broker_restart", false);
	struct stream s;
	stream_start(&s, f.conninfo, 1, false);
	sleep_ms(1500);
	int resyncs = jw_bridge_log_count(&f.bridge, "resync needed");
	int completes = jw_bridge_log_count(&f.bridge, "resync complete");
	ck_assert_int_eq(jw_broker_halt(&f.broker, SIGTERM), 0);
	sleep_ms(800);
	jw_broker_resume(&f.broker);
	expect_log(&f, &r, "resync needed", resyncs, "after the broker restart");
	expect_log(&f, &r, "resync complete", completes, "after the broker restart");
	sleep_ms(1500);
	stream_stop(&s);
	expect_alive(&f, &r, "after the broker restart");
	fx_verify(&f, 0, 200, &r);
	fx_finish(&f, &r);
}
END_TEST

START_TEST(c_broker_crash_back_to_an_older_snapshot_is_resynced)
{
	struct fx f;
	struct report r = {.len = 0};
	fx_setup(&f, &shared_pg, "t_broker_snapshot", true);
	struct stream s;
	stream_start(&s, f.conninfo, 1, false);
	sleep_ms(1500);
	ck_assert_msg(jw_broker_save(&f.broker, f.persist_db, 10000), "the broker did not write %s", f.persist_db);
	sleep_ms(2500);   /* the broker's retained state moves past the snapshot */
	int resyncs = jw_bridge_log_count(&f.bridge, "resync needed");
	int completes = jw_bridge_log_count(&f.bridge, "resync complete");
	ck_assert_int_eq(jw_broker_halt(&f.broker, SIGKILL), 128 + SIGKILL);
	jw_broker_resume(&f.broker);
	expect_log(&f, &r, "resync needed", resyncs, "after the broker came back from its snapshot");
	expect_log(&f, &r, "resync complete", completes, "after the broker came back from its snapshot");
	sleep_ms(1500);
	stream_stop(&s);
	expect_alive(&f, &r, "after the broker crash");
	/* The observers' sessions came back from the snapshot: the changes
	 * between the snapshot and the crash are gone for them (no check 3). */
	fx_verify(&f, 0, 200, &r);
	fx_finish(&f, &r);
}
END_TEST

START_TEST(d_postgres_restart_and_crash_mid_stream_lose_nothing)
{
	/* A cluster of its own: only its starter (this forked test) may stop it. */
	struct jw_pg own;
	char err[2048];
	ck_assert_msg(jw_pg_start(&own, NULL, err, sizeof(err)) == 0, "%s", err);
	struct fx f;
	struct report r = {.len = 0};
	fx_setup(&f, &own, "t_pg_restart", false);
	struct stream s;
	stream_start(&s, f.conninfo, 1, false);
	sleep_ms(1500);
	const int sigs[2] = {SIGINT, SIGKILL};
	for(int i = 0; i < 2; i++){
		int failures = jw_bridge_log_count(&f.bridge, "connected to PostgreSQL again");
		ck_assert_msg(jw_pg_halt(&own, sigs[i], err, sizeof(err)) == 0, "%s", err);
		sleep_ms(500);
		ck_assert_msg(jw_pg_resume(&own, err, sizeof(err)) == 0, "%s", err);
		expect_log(&f, &r, "connected to PostgreSQL again", failures,
				sigs[i] == SIGINT ? "after a PostgreSQL fast shutdown" : "after a PostgreSQL crash");
		sleep_ms(1500);
		expect_alive(&f, &r, sigs[i] == SIGINT ? "after a PostgreSQL restart" : "after a PostgreSQL crash");
	}
	long committed = stream_stop(&s);
	if(committed < 100) report_add(&r, "the writer committed only %ld changes", committed);
	fx_verify(&f, CHECK_COMPLETE, 200, &r);
	fx_teardown(&f, &r);
	if(r.n > 0){
		report_add(&r, "--- PostgreSQL log: %s (kept)", own.log_path);
		setenv("JW_PG_KEEP", "1", 1);
	}
	jw_pg_stop(&own, err, sizeof(err));
	report_assert(&r);
}
END_TEST

START_TEST(e_out_of_order_commits_are_delivered_in_version_order)
{
	struct fx f;
	struct report r = {.len = 0};
	fx_setup(&f, &shared_pg, "t_out_of_order", false);
	struct stream s;
	stream_start(&s, f.conninfo, 8, true);
	sleep_ms(4000);
	stream_stop(&s);
	expect_alive(&f, &r, "while streaming");
	fx_verify(&f, CHECK_COMPLETE, 200, &r);
	int dl = jw_bridge_log_count(&f.bridge, "dead_letter");
	if(dl) report_add(&r, "the bridge log mentions dead_letter %d time(s)", dl);
	fx_finish(&f, &r);
}
END_TEST

int main(void)
{
	char err[2048];
	if(jw_pg_start(&shared_pg, NULL, err, sizeof(err)) != 0){
		fprintf(stderr, "it_bridge_faults: cannot start PostgreSQL: %s\n", err);
		return EXIT_FAILURE;
	}
	Suite *s = suite_create("bridge_faults");
	TCase *tc = tcase_create("faults");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, a_bridge_killed_twice_mid_stream_loses_nothing);
	tcase_add_test(tc, b_broker_restart_without_persistence_is_resynced);
	tcase_add_test(tc, c_broker_crash_back_to_an_older_snapshot_is_resynced);
	tcase_add_test(tc, d_postgres_restart_and_crash_mid_stream_lose_nothing);
	tcase_add_test(tc, e_out_of_order_commits_are_delivered_in_version_order);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if(jw_pg_stop(&shared_pg, err, sizeof(err)) != 0){
		fprintf(stderr, "it_bridge_faults: stopping PostgreSQL: %s\n", err);
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
