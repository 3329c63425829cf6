/*
 * bench_throughput — messages per second through mosquitto with the jetwire
 * plugin (default policy) against the same workload on a plain mosquitto
 * (allow_anonymous true, no plugin), measured in the same invocation.
 *
 * Workload (defaults in usage()):
 *   publishers   S service clients publishing order/<o>/status for the
 *                bench orders, D driver clients publishing
 *                driver/<self>/location; the fixed message count is split
 *                evenly among them.  Driver payloads are valid locations
 *                (fresh ts each run, padded with spaces to --payload bytes,
 *                at most 512), so the plugin's payload check runs on each
 *                of them; its rate limit is set to 1,000,000/s so the
 *                bucket is updated on every message but never refuses.
 *   subscribers  M customers, each with K orders (party and tracker
 *                relations pushed over $CONTROL before the run), subscribed
 *                to order/<o>/status for each order and driver/<d>/location
 *                for each driver of those orders: every delivery to them is
 *                allowed.  H more customers subscribed to '#' with no
 *                relations: with the plugin every delivery to them is
 *                checked and denied; the plain broker delivers them
 *                everything.
 *   background   B other orders' relations in the store (5 tuples each).
 *
 * The plain broker gets exactly the same clients, credentials (ignored) and
 * subscriptions.  Because the plain broker also delivers to the '#'
 * subscribers, a run counts as done when every *entitled* delivery (the
 * ones both brokers make) has arrived; the figures are
 *   published msgs/s      fixed message count / run time
 *   entitled deliveries/s deliveries both brokers make / run time  (headline
 *                         ratio: the same work on both sides)
 *   all deliveries/s      including the plain broker's '#' deliveries
 *   broker CPU us/msg     broker process user+system CPU per published
 *                         message (robust when the clients share the CPU)
 * Each configuration runs --reps times, brokers alternating; medians are
 * reported.  Clients: libmosquitto, MQTT 5, TCP_NODELAY, two client threads
 * (one drives all publishers, one all subscribers) with their own poll loop.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_broker.h"
#include "bench_data.h"

struct opts {
	size_t messages;
	size_t messages_qos1;  /* 0: messages / 2 */
	int services, drivers, subscribers, hash_subscribers, orders_per_customer;
	int qos_mask;          /* bit 0: QoS 0, bit 1: QoS 1 */
	int reps;
	size_t payload;
	uint32_t background_orders;
	int window;            /* unacknowledged publishes per publisher */
	bool verbose;          /* print every run */
};

/* ---- clients ---- */

enum role { R_PUB_SERVICE, R_PUB_DRIVER, R_SUB, R_SUB_HASH };

struct world;

struct cl {
	struct mosquitto *m;
	struct world *w;
	enum role role;
	int index;             /* within its role */
	char id[64];
	/* setup */
	bool connected;
	int connack;
	int subacks_pending;
	/* publisher, per run */
	size_t quota, sent;
	_Atomic size_t acked;
	int next;              /* round-robin over its topics */
	/* subscriber, per run */
	size_t received, expected_entitled, extra;
};

struct world {
	struct bb_broker b;
	enum bb_kind kind;
	struct cl *pubs;
	int n_pubs;
	struct cl *subs;
	int n_subs;
	/* run state shared with the threads */
	_Atomic size_t entitled_received;
	_Atomic size_t all_received;
	_Atomic bool stop;
	_Atomic bool pubs_done;
	bool hash_on;              /* the '#' subscribers are subscribed */
	_Atomic double last_entitled_at;   /* written by the subscriber thread */
	int qos;
	const struct opts *o;
	char payload[4096];
	char loc_payload[520];     /* drivers: a valid location (build_location) */
};

static void order_id(int o, char *buf, size_t len) { snprintf(buf, len, "%d", 9000000 + o); }

/* Bench order o: customer o / K, driver (o / 2) % D. */
static int order_customer(const struct opts *op, int o) { return o / op->orders_per_customer; }
static int order_driver(const struct opts *op, int o) { return (o / 2) % op->drivers; }

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props)
{
	(void)m; (void)flags; (void)props;
	struct cl *c = obj;
	c->connack = rc;
	c->connected = rc == 0;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted,
		const mosquitto_property *props)
{
	(void)m; (void)mid; (void)props;
	struct cl *c = obj;
	for(int i = 0; i < count; i++){
		if(granted[i] >= 0x80) bb_die("%s: subscription refused (0x%02x)", c->id, granted[i]);
	}
	c->subacks_pending--;
}

static void on_unsubscribe(struct mosquitto *m, void *obj, int mid, const mosquitto_property *props)
{
	(void)m; (void)mid; (void)props;
	struct cl *c = obj;
	c->subacks_pending--;
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int reason, const mosquitto_property *props)
{
	(void)m; (void)mid; (void)props;
	struct cl *c = obj;
	if(reason != 0 && reason != MQTT_RC_NO_MATCHING_SUBSCRIBERS){
		bb_die("%s: publish refused (0x%02x)", c->id, reason);
	}
	atomic_fetch_add_explicit(&c->acked, 1, memory_order_relaxed);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
		const mosquitto_property *props)
{
	(void)m; (void)props; (void)msg;
	struct cl *c = obj;
	struct world *w = c->w;
	c->received++;
	atomic_fetch_add_explicit(&w->all_received, 1, memory_order_relaxed);
	if(c->role == R_SUB || w->kind == BB_PLUGIN){
		atomic_fetch_add_explicit(&w->entitled_received, 1, memory_order_relaxed);
		w->last_entitled_at = bb_now();
		if(c->role == R_SUB_HASH) c->extra++;   /* a plugin broker must never deliver these */
	}
}

static struct mosquitto *new_handle(struct cl *c, const char *password)
{
	struct mosquitto *m = mosquitto_new(c->id, true, c);
	if(m == NULL) bb_die("mosquitto_new failed");
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_subscribe_v5_callback_set(m, on_subscribe);
	mosquitto_unsubscribe_v5_callback_set(m, on_unsubscribe);
	mosquitto_publish_v5_callback_set(m, on_publish);
	mosquitto_message_v5_callback_set(m, on_message);
	mosquitto_username_pw_set(m, "jwt", password);
	return m;
}

/* Drive I/O for a set of clients once: poll, read until drained, write,
 * housekeeping.  Returns the number of sockets that had events. */
static int pump(struct cl **cs, int n, int timeout_ms)
{
	struct pollfd pfd[256];
	if(n > 256) bb_die("too many clients for one pump");
	for(int i = 0; i < n; i++){
		pfd[i].fd = mosquitto_socket(cs[i]->m);
		pfd[i].events = POLLIN | (mosquitto_want_write(cs[i]->m) ? POLLOUT : 0);
		pfd[i].revents = 0;
	}
	int r = poll(pfd, (nfds_t)n, timeout_ms);
	if(r < 0 && errno != EINTR) bb_die("poll: %s", strerror(errno));
	for(int i = 0; i < n; i++){
		struct mosquitto *m = cs[i]->m;
		if(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)){
			/* libmosquitto reads one packet per call (it ignores max_packets
			 * for QoS 0); drain what the socket holds */
			for(int k = 0; k < 4096; k++){
				errno = 0;
				int rc = mosquitto_loop_read(m, 1);
				if(rc != MOSQ_ERR_SUCCESS) bb_die("%s: connection lost (%s)", cs[i]->id, mosquitto_strerror(rc));
				if(errno == EAGAIN || errno == EWOULDBLOCK) break;
			}
		}
		if(pfd[i].revents & POLLOUT) mosquitto_loop_write(m, 1);
		mosquitto_loop_misc(m);
	}
	return r;
}

static void build_payload(struct world *w)
{
	size_t n = w->o->payload < sizeof(w->payload) ? w->o->payload : sizeof(w->payload) - 1;
	for(size_t i = 0; i < n; i++) w->payload[i] = (char)('a' + i % 26);
	memcpy(w->payload, "{\"bench\":", n < 9 ? n : 9);
	w->payload[n] = '\0';
}

/* A location the plugin accepts (docs/security.md): ts is now, so it is
 * rebuilt before each run (location_max_skew is 300 s). */
static void build_location(struct world *w)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int n = snprintf(w->loc_payload, sizeof(w->loc_payload), "{\"lat\":52.3702,\"lng\":4.8952,\"ts\":%lld,"
			"\"heading\":90,\"speed\":8.5}", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	size_t want = w->o->payload < 512 ? w->o->payload : 512;
	while((size_t)n < want) w->loc_payload[n++] = ' ';
	w->loc_payload[n] = '\0';
}

static void push_relations(struct world *w)
{
	const struct opts *o = w->o;
	char *tok = bb_token(&w->b, "benchsetup", "service", 3600);
	struct bb_client *c = bb_client_connect(w->b.port, "service-benchsetup", tok);
	free(tok);
	if(c == NULL) bb_die("setup client refused");
	struct bb_buf buf = {0};
	size_t n = 0;
	char obj[96], rel[16], sub[96];

	/* the bench orders */
	int n_orders = o->subscribers * o->orders_per_customer;
	for(int ord = 0; ord < n_orders; ord++){
		char oid[32];
		order_id(ord, oid, sizeof(oid));
		int cu = order_customer(o, ord), dr = order_driver(o, ord);
		const char *fmt = "%s{\"object\":\"%s\",\"relation\":\"%s\",\"subject\":\"%s\"}";
		if(n == 0) bb_buf_printf(&buf, "{\"commands\":[{\"command\":\"addRelations\",\"relations\":[");
		snprintf(obj, sizeof(obj), "order:%s", oid);
		snprintf(sub, sizeof(sub), "customer:bc%d", cu);
		bb_buf_printf(&buf, fmt, n ? "," : "", obj, "party", sub);
		snprintf(sub, sizeof(sub), "driver:bd%d", dr);
		bb_buf_printf(&buf, fmt, ",", obj, "party", sub);
		snprintf(obj, sizeof(obj), "driver:bd%d", dr);
		snprintf(sub, sizeof(sub), "customer:bc%d", cu);
		bb_buf_printf(&buf, fmt, ",", obj, "tracker", sub);
		n += 3;
	}
	/* background orders, 5000 tuples per command (setup only: with
	 * mosquitto's default set_tcp_nodelay false each command waits ~40 ms
	 * for Nagle, see bench_relations_memory) */
	struct bd_population pop;
	bd_population_init(&pop, o->background_orders ? o->background_orders : 1, 7, BD_ID_NUMERIC);
	for(uint32_t i = 0; i < o->background_orders; i++){
		struct bd_order bo;
		bd_order(&pop, i, &bo);
		for(int k = 0; k < 5; k++){
			if(n >= 5000){
				bb_buf_printf(&buf, "]}]}");
				char *resp = bb_control(c, buf.p, 30000);
				if(resp == NULL || strstr(resp, "\"error\"")) bb_die("addRelations failed: %s", resp ? resp : "-");
				free(resp);
				n = 0;
				bb_buf_reset(&buf);
			}
			if(n == 0) bb_buf_printf(&buf, "{\"commands\":[{\"command\":\"addRelations\",\"relations\":[");
			bd_tuple(&pop, &bo, k, obj, rel, sub, sizeof(obj));
			bb_buf_printf(&buf, "%s{\"object\":\"%s\",\"relation\":\"%s\",\"subject\":\"%s\"}",
					n ? "," : "", obj, rel, sub);
			n++;
		}
	}
	if(n){
		bb_buf_printf(&buf, "]}]}");
		char *resp = bb_control(c, buf.p, 30000);
		if(resp == NULL || strstr(resp, "\"error\"")) bb_die("addRelations failed: %s", resp ? resp : "-");
		free(resp);
	}
	long count = bb_control_count(c);
	printf("  relations in the plugin's store: %ld\n", count);
	bb_buf_free(&buf);
	bb_client_close(c);
}

static void world_setup(struct world *w, enum bb_kind kind, const struct opts *o)
{
	memset(w, 0, sizeof(*w));
	w->kind = kind;
	w->o = o;
	build_payload(w);
	/* both brokers: no limit on queued QoS 0 messages (the default 1000
	 * per client drops QoS 0 deliveries to a slow subscriber) */
	struct bb_opts bo = {.kind = kind, .alg = BB_HS256,
		.extra_conf = kind == BB_PLUGIN ? "max_queued_messages 0\nplugin_opt_location_rate *:1000000/1000000"
			: "max_queued_messages 0"};
	if(bb_start(&w->b, &bo) != 0) bb_die("broker did not start");
	if(kind == BB_PLUGIN) push_relations(w);
	/* the plain broker gets tokens too (it ignores them): same packets */
	struct bb_broker *tb = &w->b;
	struct bb_broker hs;
	if(kind == BB_PLAIN){
		memset(&hs, 0, sizeof(hs));
		snprintf(hs.secret, sizeof(hs.secret), "%064d", 0);
		hs.alg = BB_HS256;
		tb = &hs;
	}

	w->n_pubs = o->services + o->drivers;
	w->n_subs = o->subscribers + o->hash_subscribers;
	w->pubs = calloc((size_t)w->n_pubs, sizeof(*w->pubs));
	w->subs = calloc((size_t)w->n_subs, sizeof(*w->subs));
	if(w->pubs == NULL || w->subs == NULL) bb_die("out of memory");
	struct cl *all[256];
	int n_all = 0;
	for(int i = 0; i < w->n_pubs; i++){
		struct cl *c = &w->pubs[i];
		char *tok;
		if(i < o->services){
			c->role = R_PUB_SERVICE;
			c->index = i;
			snprintf(c->id, sizeof(c->id), "service-bench%d", i);
			char sub[32];
			snprintf(sub, sizeof(sub), "bench%d", i);
			tok = bb_token(tb, sub, "service", 3600);
		}else{
			c->role = R_PUB_DRIVER;
			c->index = i - o->services;
			snprintf(c->id, sizeof(c->id), "driver-bd%d", c->index);
			char sub[32];
			snprintf(sub, sizeof(sub), "bd%d", c->index);
			tok = bb_token(tb, sub, "driver", 3600);
		}
		c->w = w;
		c->m = new_handle(c, tok);
		free(tok);
		all[n_all++] = c;
	}
	for(int i = 0; i < w->n_subs; i++){
		struct cl *c = &w->subs[i];
		char sub[32];
		if(i < o->subscribers){
			c->role = R_SUB;
			c->index = i;
			snprintf(sub, sizeof(sub), "bc%d", i);
		}else{
			c->role = R_SUB_HASH;
			c->index = i - o->subscribers;
			snprintf(sub, sizeof(sub), "bh%d", c->index);
		}
		snprintf(c->id, sizeof(c->id), "customer-%s", sub);
		char *tok = bb_token(tb, sub, "customer", 3600);
		c->w = w;
		c->m = new_handle(c, tok);
		free(tok);
		all[n_all++] = c;
	}
	if(n_all > 256) bb_die("too many clients");
	for(int i = 0; i < n_all; i++){
		if(mosquitto_connect_bind_v5(all[i]->m, "127.0.0.1", w->b.port, 600, NULL, NULL) != MOSQ_ERR_SUCCESS){
			bb_die("%s: cannot connect", all[i]->id);
		}
		all[i]->connack = -1;
	}
	double deadline = bb_now() + 10;
	for(;;){
		int ok = 0;
		for(int i = 0; i < n_all; i++){
			if(all[i]->connack > 0) bb_die("%s: refused (CONNACK 0x%02x)", all[i]->id, all[i]->connack);
			ok += all[i]->connected;
		}
		if(ok == n_all) break;
		if(bb_now() > deadline) bb_die("clients did not connect in time");
		pump(all, n_all, 10);
	}
	/* subscriptions */
	for(int i = 0; i < w->n_subs; i++){
		struct cl *c = &w->subs[i];
		if(c->role == R_SUB_HASH) continue;   /* see set_hash() */
		bool driver_seen[256] = {false};
		for(int k = 0; k < o->orders_per_customer; k++){
			int ord = c->index * o->orders_per_customer + k;
			char oid[32], topic[96];
			order_id(ord, oid, sizeof(oid));
			snprintf(topic, sizeof(topic), "order/%s/status", oid);
			c->subacks_pending++;
			if(mosquitto_subscribe_v5(c->m, NULL, topic, 1, 0, NULL) != MOSQ_ERR_SUCCESS) bb_die("subscribe");
			int d = order_driver(o, ord);
			if(!driver_seen[d]){
				driver_seen[d] = true;
				snprintf(topic, sizeof(topic), "driver/bd%d/location", d);
				c->subacks_pending++;
				if(mosquitto_subscribe_v5(c->m, NULL, topic, 1, 0, NULL) != MOSQ_ERR_SUCCESS) bb_die("subscribe");
			}
		}
	}
	deadline = bb_now() + 10;
	for(;;){
		int pending = 0;
		for(int i = 0; i < w->n_subs; i++) pending += w->subs[i].subacks_pending;
		if(pending == 0) break;
		if(bb_now() > deadline) bb_die("subscriptions not acknowledged in time");
		pump(all, n_all, 10);
	}
}

/* Subscribe (on) or unsubscribe the '#' subscribers. */
static void set_hash(struct world *w, bool on)
{
	struct cl *cs[256];
	int n = 0;
	for(int i = 0; i < w->n_subs; i++){
		struct cl *c = &w->subs[i];
		if(c->role != R_SUB_HASH) continue;
		cs[n++] = c;
		c->subacks_pending = 1;
		int rc = on ? mosquitto_subscribe_v5(c->m, NULL, "#", 1, 0, NULL)
			: mosquitto_unsubscribe_v5(c->m, NULL, "#", NULL);
		if(rc != MOSQ_ERR_SUCCESS) bb_die("%s: (un)subscribe failed", c->id);
	}
	double deadline = bb_now() + 10;
	for(;;){
		int pending = 0;
		for(int i = 0; i < n; i++) pending += cs[i]->subacks_pending;
		if(pending == 0) break;
		if(bb_now() > deadline) bb_die("'#' (un)subscriptions not acknowledged in time");
		pump(cs, n, 10);
	}
	w->hash_on = on;
}

static void world_teardown(struct world *w)
{
	struct cl *all[256];
	int n = 0;
	for(int i = 0; i < w->n_pubs; i++) all[n++] = &w->pubs[i];
	for(int i = 0; i < w->n_subs; i++) all[n++] = &w->subs[i];
	for(int i = 0; i < n; i++) mosquitto_disconnect(all[i]->m);
	for(int k = 0; k < 5; k++) pump(all, n, 10);
	for(int i = 0; i < n; i++) mosquitto_destroy(all[i]->m);
	free(w->pubs);
	free(w->subs);
	bb_stop(&w->b);
}

/* ---- one run ---- */

static void *pub_thread(void *arg)
{
	struct world *w = arg;
	struct cl *cs[256];
	int n = w->n_pubs;
	for(int i = 0; i < n; i++) cs[i] = &w->pubs[i];
	const struct opts *o = w->o;
	int n_orders = o->subscribers * o->orders_per_customer;
	size_t plen = strlen(w->payload), loc_len = strlen(w->loc_payload);
	for(;;){
		bool all_done = true, more = false;
		for(int i = 0; i < n; i++){
			struct cl *c = cs[i];
			size_t acked = atomic_load_explicit(&c->acked, memory_order_relaxed);
			while(c->sent < c->quota && c->sent - acked < (size_t)o->window){
				char topic[96];
				if(c->role == R_PUB_SERVICE){
					/* this service's share of the orders, round robin */
					int ord = c->index + c->next * o->services;
					if(ord >= n_orders){
						c->next = 0;
						ord = c->index;
					}
					c->next++;
					char oid[32];
					order_id(ord, oid, sizeof(oid));
					snprintf(topic, sizeof(topic), "order/%s/status", oid);
				}else{
					snprintf(topic, sizeof(topic), "driver/bd%d/location", c->index);
				}
				bool loc = c->role != R_PUB_SERVICE;
				int rc = mosquitto_publish_v5(c->m, NULL, topic, (int)(loc ? loc_len : plen),
						loc ? w->loc_payload : w->payload, w->qos, false, NULL);
				if(rc != MOSQ_ERR_SUCCESS) bb_die("%s: publish failed: %s", c->id, mosquitto_strerror(rc));
				c->sent++;
			}
			if(c->sent < c->quota) more = true;
			if(atomic_load_explicit(&c->acked, memory_order_relaxed) < c->quota) all_done = false;
		}
		if(all_done) break;
		if(atomic_load(&w->stop)) break;
		pump(cs, n, more ? 0 : 5);
	}
	atomic_store(&w->pubs_done, true);
	return NULL;
}

static void *sub_thread(void *arg)
{
	struct world *w = arg;
	struct cl *cs[256];
	int n = w->n_subs;
	for(int i = 0; i < n; i++) cs[i] = &w->subs[i];
	while(!atomic_load(&w->stop)) pump(cs, n, 5);
	/* acknowledge what arrived last */
	for(int k = 0; k < 3; k++) pump(cs, n, 1);
	return NULL;
}

struct result {
	double seconds;
	size_t published, entitled, all, expected_entitled, extra;
	double broker_cpu, client_cpu;
	double broker_user, broker_sys;
};

static struct result run_once(struct world *w, int qos, size_t messages)
{
	const struct opts *o = w->o;
	w->qos = qos;
	build_location(w);
	atomic_store(&w->entitled_received, 0);
	atomic_store(&w->all_received, 0);
	atomic_store(&w->stop, false);
	atomic_store(&w->pubs_done, false);

	/* split the messages; expected entitled deliveries per message:
	 * status -> its customer, location -> every customer tracking it */
	size_t per = messages / (size_t)w->n_pubs, rest = messages % (size_t)w->n_pubs;
	size_t expected = 0;
	int n_orders = o->subscribers * o->orders_per_customer;
	for(int i = 0; i < w->n_pubs; i++){
		struct cl *c = &w->pubs[i];
		c->quota = per + (i < (int)rest ? 1 : 0);
		c->sent = 0;
		atomic_store(&c->acked, 0);
		c->next = 0;
		if(c->role == R_PUB_SERVICE){
			expected += c->quota;
		}else{
			int trackers = 0;
			for(int s = 0; s < o->subscribers; s++){
				for(int k = 0; k < o->orders_per_customer; k++){
					int ord = s * o->orders_per_customer + k;
					if(ord < n_orders && order_driver(o, ord) == c->index){
						trackers++;
						break;
					}
				}
			}
			expected += c->quota * (size_t)trackers;
		}
	}
	for(int i = 0; i < w->n_subs; i++){
		w->subs[i].received = 0;
		w->subs[i].extra = 0;
	}

	double u0 = 0, s0 = 0, u1 = 0, s1 = 0;
	bb_cpu_split(w->b.pid, &u0, &s0);
	double cpu0 = u0 + s0, me0 = bb_cpu_seconds(getpid());
	double t0 = bb_now();
	w->last_entitled_at = t0;
	pthread_t tp, ts;
	if(pthread_create(&ts, NULL, sub_thread, w) != 0 || pthread_create(&tp, NULL, pub_thread, w) != 0){
		bb_die("pthread_create failed");
	}
	/* done when every entitled delivery arrived; give up after 5 s without
	 * progress */
	size_t last = 0;
	double last_progress = bb_now();
	for(;;){
		bb_sleep_ms(2);
		size_t got = atomic_load(&w->entitled_received);
		if(got >= expected && atomic_load(&w->pubs_done)) break;
		if(got != last){
			last = got;
			last_progress = bb_now();
		}else if(bb_now() - last_progress > 5){
			fprintf(stderr, "bench: run stalled: %zu of %zu entitled deliveries\n", got, expected);
			break;
		}
	}
	/* the plain broker's '#' subscribers may still be receiving: let them
	 * finish so the next run starts clean (not timed) */
	double t_end = w->last_entitled_at;
	bb_cpu_split(w->b.pid, &u1, &s1);
	double cpu1 = u1 + s1, me1 = bb_cpu_seconds(getpid());
	if(w->kind == BB_PLAIN && w->hash_on){
		size_t want = expected + (size_t)o->hash_subscribers * messages;
		double dl = bb_now() + 10;
		while(atomic_load(&w->all_received) < want && bb_now() < dl) bb_sleep_ms(2);
	}
	size_t all_at_end = atomic_load(&w->all_received);
	atomic_store(&w->stop, true);
	pthread_join(tp, NULL);
	pthread_join(ts, NULL);

	struct result r = {0};
	r.seconds = t_end - t0;
	r.published = messages;
	r.entitled = atomic_load(&w->entitled_received);
	r.expected_entitled = expected;
	r.all = all_at_end;
	r.broker_cpu = cpu1 - cpu0;
	r.broker_user = u1 - u0;
	r.broker_sys = s1 - s0;
	r.client_cpu = me1 - me0;
	for(int i = 0; i < w->n_subs; i++) r.extra += w->subs[i].extra;
	return r;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Runs of one configuration on both brokers; prints the table.  Returns
 * non-zero if deliveries went missing or the plugin delivered to a '#'
 * subscriber without relations. */
static int measure(struct world *plain, struct world *plugin, int qos, bool mixed)
{
	const struct opts *o = plain->o;
	int rc = 0, reps = o->reps;
	size_t messages = qos == 1 ? o->messages_qos1 : o->messages;
	double rate[2][64], ent[2][64], all[2][64], cpu[2][64], ccpu[2][64];
	size_t expected = 0, denied = 0;
	/* warm-up run on each, a quarter of the messages */
	(void)run_once(plain, qos, messages / 4 + 1);
	(void)run_once(plugin, qos, messages / 4 + 1);
	for(int r = 0; r < reps; r++){
		for(int k = 0; k < 2; k++){
			/* alternate which broker goes first */
			int which = (r + k) % 2;
			struct world *w = which == 0 ? plain : plugin;
			struct result res = run_once(w, qos, messages);
			if(res.entitled < res.expected_entitled){
				fprintf(stderr, "bench: %s QoS %d: only %zu of %zu entitled deliveries arrived\n",
						which ? "plugin" : "plain", qos, res.entitled, res.expected_entitled);
				rc = 1;
			}
			if(which == 1 && res.extra){
				fprintf(stderr, "bench: the plugin delivered %zu messages to '#' subscribers without relations\n",
						res.extra);
				rc = 1;
			}
			expected = res.expected_entitled;
			if(o->verbose){
				printf("    run %d %-7s %6.3f s  %8.0f deliveries/s  broker CPU %5.2f s (user %5.2f sys %5.2f)"
						"  client CPU %5.2f s\n",
						r, which ? "jetwire" : "plain", res.seconds, (double)res.entitled / res.seconds,
						res.broker_cpu, res.broker_user, res.broker_sys, res.client_cpu);
			}
			rate[which][r] = (double)res.published / res.seconds;
			ent[which][r] = (double)res.entitled / res.seconds;
			all[which][r] = (double)res.all / res.seconds;
			cpu[which][r] = res.broker_cpu * 1e6 / (double)res.published;
			ccpu[which][r] = res.client_cpu / res.seconds;
		}
	}
	if(mixed) denied = (size_t)o->hash_subscribers * messages;
	double m_rate[2], m_ent[2], m_all[2], m_cpu[2], m_ccpu[2];
	for(int k = 0; k < 2; k++){
		m_rate[k] = median_of(rate[k], reps);
		m_ent[k] = median_of(ent[k], reps);
		m_all[k] = median_of(all[k], reps);
		m_cpu[k] = median_of(cpu[k], reps);
		m_ccpu[k] = median_of(ccpu[k], reps);
	}
	const char *variant = mixed ? "mixed" : "allowed";
	printf("\nQoS %d, %s: %zu messages -> %zu entitled deliveries per run", qos,
			mixed ? "with '#' subscribers" : "every delivery allowed", messages, expected);
	if(mixed) printf(",\n  + %zu '#' deliveries (plain delivers them, jetwire denies them)", denied);
	printf("; medians of %d runs\n", reps);
	printf("  %-30s %12s %12s %8s\n", "", "plain", "jetwire", "ratio");
	printf("  %-30s %12.0f %12.0f %8.2f\n", "published msgs/s", m_rate[0], m_rate[1], m_rate[1] / m_rate[0]);
	printf("  %-30s %12.0f %12.0f %8.2f\n", "entitled deliveries/s", m_ent[0], m_ent[1], m_ent[1] / m_ent[0]);
	if(mixed){
		printf("  %-30s %12.0f %12.0f %8.2f\n", "all deliveries/s (incl. '#')", m_all[0], m_all[1],
				m_all[1] / m_all[0]);
	}
	printf("  %-30s %12.2f %12.2f %8.2f\n", "broker CPU us per message", m_cpu[0], m_cpu[1], m_cpu[1] / m_cpu[0]);
	printf("  %-30s %12.2f %12.2f\n", "client process CPU (cores)", m_ccpu[0], m_ccpu[1]);
	printf("  target deliveries/s ratio >= 0.9: %s%s\n", m_ent[1] / m_ent[0] >= 0.9 ? "met" : "MISSED",
			mixed ? " (not like for like: plain does the '#' deliveries)" : "");
	printf("RESULT throughput.qos%d.%s.plain_deliveries_per_s=%.0f\n", qos, variant, m_ent[0]);
	printf("RESULT throughput.qos%d.%s.plugin_deliveries_per_s=%.0f\n", qos, variant, m_ent[1]);
	printf("RESULT throughput.qos%d.%s.ratio=%.2f\n", qos, variant, m_ent[1] / m_ent[0]);
	printf("RESULT throughput.qos%d.%s.plain_broker_cpu_us_per_msg=%.2f\n", qos, variant, m_cpu[0]);
	printf("RESULT throughput.qos%d.%s.plugin_broker_cpu_us_per_msg=%.2f\n", qos, variant, m_cpu[1]);
	printf("RESULT throughput.qos%d.%s.cpu_ratio=%.2f\n", qos, variant, m_cpu[1] / m_cpu[0]);
	fflush(stdout);
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
			"usage: bench_throughput [--messages N] [--messages-qos1 N] [--services N] [--drivers N] [--subscribers N]\n"
			"                        [--hash-subscribers N] [--orders-per-customer N] [--qos 0|1|both]\n"
			"                        [--reps N] [--payload BYTES] [--background-orders N] [--window N]\n"
			"                        [--verbose]\n"
			"  defaults: 100000 messages, 2 services, 4 drivers, 8 subscribers, 2 '#' subscribers,\n"
			"            4 orders per customer, qos both, 5 reps, 100-byte payload,\n"
			"            QoS 1 runs with half the messages (--messages-qos1),\n"
			"            20000 background orders (100k tuples), window 100\n"
			"  a longer run: --messages 500000 --reps 5\n");
	exit(2);
}

static long num(const char *s, long min)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if(errno || end == s || *end || v < min) usage();
	return v;
}

int main(int argc, char **argv)
{
	struct opts o = {.messages = 100000, .services = 2, .drivers = 4, .subscribers = 8,
		.hash_subscribers = 2, .orders_per_customer = 4, .qos_mask = 3, .reps = 5, .payload = 100,
		.background_orders = 20000, .window = 100};
	for(int i = 1; i < argc; i++){
		const char *a = argv[i];
		if(!strcmp(a, "--verbose")){
			o.verbose = true;
			continue;
		}
		if(i + 1 >= argc) usage();
		const char *v = argv[++i];
		if(!strcmp(a, "--messages")) o.messages = (size_t)num(v, 1);
		else if(!strcmp(a, "--messages-qos1")) o.messages_qos1 = (size_t)num(v, 1);
		else if(!strcmp(a, "--services")) o.services = (int)num(v, 1);
		else if(!strcmp(a, "--drivers")) o.drivers = (int)num(v, 1);
		else if(!strcmp(a, "--subscribers")) o.subscribers = (int)num(v, 1);
		else if(!strcmp(a, "--hash-subscribers")) o.hash_subscribers = (int)num(v, 0);
		else if(!strcmp(a, "--orders-per-customer")) o.orders_per_customer = (int)num(v, 1);
		else if(!strcmp(a, "--reps")) o.reps = (int)num(v, 1);
		else if(!strcmp(a, "--payload")) o.payload = (size_t)num(v, 1);
		else if(!strcmp(a, "--background-orders")) o.background_orders = (uint32_t)num(v, 0);
		else if(!strcmp(a, "--window")) o.window = (int)num(v, 1);
		else if(!strcmp(a, "--qos")){
			if(!strcmp(v, "0")) o.qos_mask = 1;
			else if(!strcmp(v, "1")) o.qos_mask = 2;
			else if(!strcmp(v, "both")) o.qos_mask = 3;
			else usage();
		}else usage();
	}
	if(o.drivers > 256 || o.services + o.drivers + o.subscribers + o.hash_subscribers > 256) usage();
	if(o.reps > 64) usage();
	if(o.messages_qos1 == 0) o.messages_qos1 = o.messages / 2 + 1;
	mosquitto_lib_init();

	char load[64];
	bb_loadavg(load, sizeof(load));
	printf("bench_throughput: %zu messages per QoS 0 run, %zu per QoS 1 run, %d services + %d drivers publishing,\n"
			"  %d customer subscribers (%d orders each), %d '#' subscribers, %zu-byte payload,\n"
			"  %u background orders, %d reps; CPUs %ld, loadavg %s\n",
			o.messages, o.messages_qos1, o.services, o.drivers, o.subscribers, o.orders_per_customer,
			o.hash_subscribers, o.payload, o.background_orders, o.reps,
			sysconf(_SC_NPROCESSORS_ONLN), load);

	struct world plain, plugin;
	printf("plain broker (allow_anonymous true, no plugin):\n");
	world_setup(&plain, BB_PLAIN, &o);
	printf("  ready on port %d\n", plain.b.port);
	printf("jetwire broker (plugin, default policy, HS256):\n");
	world_setup(&plugin, BB_PLUGIN, &o);
	printf("  ready on port %d\n", plugin.b.port);

	int rc = 0;
	for(int qos = 0; qos <= 1; qos++){
		if(!(o.qos_mask & (1 << qos))) continue;
		rc |= measure(&plain, &plugin, qos, false);
		if(o.hash_subscribers){
			set_hash(&plain, true);
			set_hash(&plugin, true);
			rc |= measure(&plain, &plugin, qos, true);
			set_hash(&plain, false);
			set_hash(&plugin, false);
		}
	}

	world_teardown(&plugin);
	world_teardown(&plain);
	mosquitto_lib_cleanup();
	return rc;
}
