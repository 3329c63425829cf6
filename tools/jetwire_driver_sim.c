/*
 * jetwire-driver-sim — simulate N drivers, each with its own MQTT 5
 * connection, identity and token, moving around a center point and
 * publishing driver/{id}/location and driver/{id}/presence like the app.
 *
 * One thread drives every connection: epoll over the sockets, then
 * mosquitto_loop_read / loop_write / loop_misc per ready client.  Usage and
 * options: docs/driver-sim.md, or --help.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "driver_sim_route.h"
#include "jw_file.h"
#include "jw_mint.h"
#include "jw_parse.h"

#define PROG "jetwire-driver-sim"
#define TICK_MS 100
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define SHUTDOWN_ACK_MS 5000
#define SHUTDOWN_MAX_MS 10000
#define CHAOS_MIN_LIFETIME_MS 1000
#define SEED_INTERVAL_MS 15000
#define SEED_DISTANCE_M 100.0

enum mode { MODE_SEED, MODE_RATE };

struct options {
	const char *host;
	int port;
	long drivers;
	long first_id;
	double duration_s;
	double connect_rate;
	enum mode mode;
	double rate;
	int qos;
	bool retain;
	long location_expiry;
	long presence_expiry;
	long session_expiry;
	long token_ttl;
	long keepalive;
	const char *secret_file;
	const char *username;
	double lat0, lng0;
	double radius_km;
	double speed_kmh;
	double chaos;
	double report_s;
	uint64_t seed;
};

enum dstate {
	D_IDLE,         /* not connected; next_attempt_ms says when to try */
	D_CONNECTING,   /* CONNECT sent, waiting for CONNACK */
	D_ONLINE,       /* accepted */
	D_CLOSING,      /* shutting down: offline presence sent, then DISCONNECT */
	D_DONE          /* shut down */
};

struct driver {
	struct mosquitto *mosq;
	long id;
	char idstr[24];
	char loc_topic[48];
	char pres_topic[48];
	enum dstate state;
	int64_t next_attempt_ms;
	int backoff_ms;
	int64_t online_since_ms;        /* monotonic */
	int64_t connect_ts;             /* epoch ms of the current connection attempt */
	bool ever_connected;
	bool lost_once;                 /* a later connection is a reconnect */
	int pair_r;                     /* libmosquitto's wake-up socketpair (drained), -1 unknown */
	int pair_w;
	uint64_t rng;
	struct ds_route route;
	double speed_mps;
	int64_t last_pub_ms;            /* monotonic; 0: never on this connection */
	double last_pub_x, last_pub_y;
	int64_t next_pub_ms;            /* rate mode */
	int offline_mid;                /* shutdown: mid of the offline presence, 0 none */
	bool offline_acked;
	bool disconnect_sent;
	bool dropping;                  /* chaos: we cut the connection */
	int ep_fd;                      /* socket registered with epoll, -1 none */
	bool ep_out;                    /* registered for EPOLLOUT too */
};

struct stats {
	uint64_t location_sent;
	uint64_t presence_sent;
	uint64_t pubacks;
	uint64_t refused;
	uint64_t refused_by_code[256];
	uint64_t reconnects;
	uint64_t connack_refused;
	uint64_t connack_by_code[256];
	uint64_t connect_errors;       /* TCP / library failures to start a connection */
	uint64_t publish_errors;
	uint64_t drops;                /* chaos */
	uint64_t lost;                 /* connections lost (not by us) */
	long connected;
	long ever_connected;
	char last_connect_error[256];
	char last_publish_error[256];
	char last_lost_reason[256];
};

static struct options opt;
static struct stats st;
static struct driver *drivers;
static int epfd = -1;              /* every driver's socket, data = driver index */
static void ep_watch(struct driver *d);
static int64_t *pub_due;          /* rate mode: next_pub_ms of each driver, INT64_MAX when offline */
static char *secret;
static size_t secret_len;
static mosquitto_property *location_props;
static mosquitto_property *presence_props;
static mosquitto_property *connect_props;
static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t signal_count;
static bool shutting_down;

/* ---------- small helpers ---------- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t epoch_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void on_signal(int sig)
{
	stop_signal = sig;
	signal_count++;
}

/* ---------- arguments ---------- */

static int usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--secret-file F] [options]\n"
		"  --host H               broker host (127.0.0.1)\n"
		"  --port P               broker port (1883)\n"
		"  --drivers N            simulated drivers (10)\n"
		"  --first-id K           driver ids K..K+N-1 (1)\n"
		"  --duration S           seconds to run, 0 = until SIGINT/SIGTERM (0)\n"
		"  --connect-rate R       connection attempts per second, ramp and reconnects (500)\n"
		"  --mode seed|rate       seed: every 15 s or 100 m moved; rate: --rate per second (seed)\n"
		"  --rate R               location messages per driver per second in rate mode (1.0)\n"
		"  --qos 0|1              QoS of location messages (1)\n"
		"  --retain | --no-retain retain location messages (retain)\n"
		"  --location-expiry S    message expiry of locations, 0 = none (60)\n"
		"  --presence-expiry S    message expiry of presence and will, 0 = none (300)\n"
		"  --session-expiry S     MQTT 5 session expiry interval (600)\n"
		"  --secret-file F        HMAC secret for HS256 tokens (default: $JWT_SECRET)\n"
		"  --token-ttl S          token lifetime (3600)\n"
		"  --username U           MQTT username (sim)\n"
		"  --keepalive S          MQTT keep alive (60)\n"
		"  --center LAT,LNG       center of the routes (52.52,13.405)\n"
		"  --radius-km KM         routes stay within this radius (5)\n"
		"  --speed-kmh V          mean speed, each driver +-20 %% (25)\n"
		"  --chaos P              probability per driver per minute of an abrupt drop (0)\n"
		"  --report S             progress line every S seconds, 0 = none (5)\n"
		"  --seed N               random seed (time and pid)\n");
	return 2;
}

static int bad_arg(const char *name, const char *value, const char *want)
{
	fprintf(stderr, PROG ": %s: expected %s, got '%s'\n", name, want, value);
	return 2;
}

static int parse_args(int argc, char **argv)
{
	opt = (struct options){.host = "127.0.0.1", .port = 1883, .drivers = 10, .first_id = 1,
		.duration_s = 0, .connect_rate = 500, .mode = MODE_SEED, .rate = 1.0, .qos = 1,
		.retain = true, .location_expiry = 60, .presence_expiry = 300, .session_expiry = 600,
		.token_ttl = 3600, .keepalive = 60, .username = "sim", .lat0 = 52.52, .lng0 = 13.405,
		.radius_km = 5, .speed_kmh = 25, .chaos = 0, .report_s = 5};
	opt.seed = (uint64_t)time(NULL) * 6364136223846793005ull ^ (uint64_t)getpid();
	bool rate_given = false;
	for(int i = 1; i < argc; i++){
		const char *a = argv[i];
		if(!strcmp(a, "--help") || !strcmp(a, "-h")){
			usage(stdout);
			exit(0);
		}
		if(!strcmp(a, "--retain")){ opt.retain = true; continue; }
		if(!strcmp(a, "--no-retain")){ opt.retain = false; continue; }
		if(strncmp(a, "--", 2) != 0){
			fprintf(stderr, PROG ": unexpected argument '%s'\n", a);
			return usage(stderr);
		}
		if(i + 1 >= argc){
			fprintf(stderr, PROG ": %s needs a value\n", a);
			return usage(stderr);
		}
		const char *v = argv[++i];
		long l;
		if(!strcmp(a, "--host")){
			if(!*v) return bad_arg(a, v, "a host name or address");
			opt.host = v;
		}else if(!strcmp(a, "--port")){
			if(!jw_parse_long(v, 1, 65535, &l)) return bad_arg(a, v, "a port 1..65535");
			opt.port = (int)l;
		}else if(!strcmp(a, "--drivers")){
			if(!jw_parse_long(v, 1, 1000000, &opt.drivers)) return bad_arg(a, v, "an integer 1..1000000");
		}else if(!strcmp(a, "--first-id")){
			if(!jw_parse_long(v, 0, LONG_MAX / 2, &opt.first_id)) return bad_arg(a, v, "an integer >= 0");
		}else if(!strcmp(a, "--duration")){
			if(!jw_parse_double(v, 0, 1e9, &opt.duration_s)) return bad_arg(a, v, "seconds >= 0");
		}else if(!strcmp(a, "--connect-rate")){
			if(!jw_parse_double(v, 0.01, 1e6, &opt.connect_rate)) return bad_arg(a, v, "a rate > 0 (per second)");
		}else if(!strcmp(a, "--mode")){
			if(!strcmp(v, "seed")) opt.mode = MODE_SEED;
			else if(!strcmp(v, "rate")) opt.mode = MODE_RATE;
			else return bad_arg(a, v, "'seed' or 'rate'");
		}else if(!strcmp(a, "--rate")){
			if(!jw_parse_double(v, 0.001, 1000, &opt.rate)) return bad_arg(a, v, "messages per second 0.001..1000");
			rate_given = true;
		}else if(!strcmp(a, "--qos")){
			if(!jw_parse_long(v, 0, 1, &l)) return bad_arg(a, v, "0 or 1");
			opt.qos = (int)l;
		}else if(!strcmp(a, "--location-expiry")){
			if(!jw_parse_long(v, 0, UINT32_MAX, &opt.location_expiry)) return bad_arg(a, v, "seconds >= 0");
		}else if(!strcmp(a, "--presence-expiry")){
			if(!jw_parse_long(v, 0, UINT32_MAX, &opt.presence_expiry)) return bad_arg(a, v, "seconds >= 0");
		}else if(!strcmp(a, "--session-expiry")){
			if(!jw_parse_long(v, 0, UINT32_MAX, &opt.session_expiry)) return bad_arg(a, v, "seconds >= 0");
		}else if(!strcmp(a, "--token-ttl")){
			if(!jw_parse_long(v, 10, 100L * 365 * 86400, &opt.token_ttl)) return bad_arg(a, v, "seconds >= 10");
		}else if(!strcmp(a, "--keepalive")){
			if(!jw_parse_long(v, 5, 65535, &opt.keepalive)) return bad_arg(a, v, "seconds 5..65535");
		}else if(!strcmp(a, "--secret-file")){
			opt.secret_file = v;
		}else if(!strcmp(a, "--username")){
			opt.username = v;
		}else if(!strcmp(a, "--center")){
			const char *comma = strchr(v, ',');
			char lat[64];
			if(comma == NULL || (size_t)(comma - v) >= sizeof(lat)) return bad_arg(a, v, "LAT,LNG (e.g. 52.52,13.405)");
			memcpy(lat, v, (size_t)(comma - v));
			lat[comma - v] = '\0';
			if(!jw_parse_double(lat, -85, 85, &opt.lat0) || !jw_parse_double(comma + 1, -180, 180, &opt.lng0))
				return bad_arg(a, v, "LAT,LNG with LAT in -85..85 and LNG in -180..180");
		}else if(!strcmp(a, "--radius-km")){
			if(!jw_parse_double(v, 0.01, 1000, &opt.radius_km)) return bad_arg(a, v, "kilometres 0.01..1000");
		}else if(!strcmp(a, "--speed-kmh")){
			if(!jw_parse_double(v, 0, 1000, &opt.speed_kmh)) return bad_arg(a, v, "km/h 0..1000");
		}else if(!strcmp(a, "--chaos")){
			if(!jw_parse_double(v, 0, 1, &opt.chaos)) return bad_arg(a, v, "a probability 0..1");
		}else if(!strcmp(a, "--report")){
			if(!jw_parse_double(v, 0, 86400, &opt.report_s)) return bad_arg(a, v, "seconds >= 0");
		}else if(!strcmp(a, "--seed")){
			if(!jw_parse_long(v, 0, LONG_MAX, &l)) return bad_arg(a, v, "an integer >= 0");
			opt.seed = (uint64_t)l + 1;
		}else{
			fprintf(stderr, PROG ": unknown option %s\n", a);
			return usage(stderr);
		}
	}
	if(rate_given && opt.mode != MODE_RATE){
		fprintf(stderr, PROG ": --rate only applies with --mode rate\n");
		return 2;
	}
	if(opt.first_id > LONG_MAX / 2 - opt.drivers){
		fprintf(stderr, PROG ": --first-id + --drivers too large\n");
		return 2;
	}
	return 0;
}

/* ---------- tokens, payloads, properties ---------- */

static char *mint_token(const struct driver *d, char *err, size_t errlen)
{
	long now = (long)time(NULL);
	json_object *c = json_object_new_object();
	json_object_object_add(c, "sub", json_object_new_int64(d->id));
	json_object_object_add(c, "userType", json_object_new_string("driver"));
	json_object_object_add(c, "iat", json_object_new_int64(now));
	json_object_object_add(c, "exp", json_object_new_int64(now + opt.token_ttl));
	char *t = jw_mint(JWT_ALG_HS256, (const unsigned char *)secret, secret_len,
			json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN), err, errlen);
	json_object_put(c);
	return t;
}

static int make_expiry_props(mosquitto_property **p, long seconds)
{
	*p = NULL;
	if(seconds <= 0) return MOSQ_ERR_SUCCESS;
	return mosquitto_property_add_int32(p, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, (uint32_t)seconds);
}

static int presence_payload(char *buf, size_t len, bool online, int64_t ts)
{
	return snprintf(buf, len, "{\"status\":\"%s\",\"ts\":%" PRId64 "}", online ? "online" : "offline", ts);
}

/* ---------- the wake-up socketpair ----------
 * libmosquitto writes one byte to a private socketpair for every packet it
 * queues (to wake a loop thread) and only mosquitto_loop() reads it back; with
 * loop_read/loop_write it fills up to the socket's send buffer (~200 KB of
 * kernel memory per client).  mosquitto_new (and, in some versions,
 * connect, after closing the previous pair) makes the pair with the two
 * lowest free descriptors: predict them, verify they are non-blocking
 * AF_UNIX stream sockets, and drain them now and then.  Reading one by mistake is harmless: the only
 * AF_UNIX sockets of this process are these pairs. */

static void lowest_free_fds(int *a, int *b)
{
	*a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	*b = *a >= 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
	if(*a >= 0) close(*a);
	if(*b >= 0) close(*b);
}

static bool is_unix_stream_nonblock(int fd)
{
	int dom = 0, type = 0;
	socklen_t l = sizeof(dom);
	if(fd < 0 || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l) != 0 || dom != AF_UNIX) return false;
	l = sizeof(type);
	if(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) != 0 || type != SOCK_STREAM) return false;
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && (fl & O_NONBLOCK);
}

static void drain_pair(struct driver *d)
{
	char buf[4096];
	if(d->pair_r < 0) return;
	for(int i = 0; i < 64; i++){
		ssize_t n = read(d->pair_r, buf, sizeof(buf));
		if(n < (ssize_t)sizeof(buf)) break;
	}
}

/* ---------- connections ---------- */

static void schedule_retry(struct driver *d, int64_t now)
{
	double jitter = 0.5 + 0.5 * ds_rand_unit(&d->rng);
	d->next_attempt_ms = now + (int64_t)(d->backoff_ms * jitter);
	d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
	d->state = D_IDLE;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags, const mosquitto_property *props)
{
	(void)mosq;
	(void)flags;
	(void)props;
	struct driver *d = obj;
	if(d->state != D_CONNECTING) return;
	if(rc != 0){
		st.connack_refused++;
		st.connack_by_code[rc & 0xff]++;
		snprintf(st.last_connect_error, sizeof(st.last_connect_error), "driver %s: CONNACK %d (%s)",
				d->idstr, rc, mosquitto_reason_string(rc));
		if(st.connack_refused <= 5) logmsg("%s", st.last_connect_error);
		return;   /* the library closes the connection: on_disconnect follows */
	}
	d->state = D_ONLINE;
	d->online_since_ms = mono_ms();
	d->backoff_ms = BACKOFF_MIN_MS;
	d->last_pub_ms = 0;
	/* rate mode: the first location at a random point of the first interval */
	d->next_pub_ms = d->online_since_ms + (int64_t)(1000.0 / opt.rate * ds_rand_unit(&d->rng));
	if(pub_due) pub_due[d - drivers] = d->next_pub_ms;
	if(d->lost_once) st.reconnects++;
	if(!d->ever_connected){
		d->ever_connected = true;
		st.ever_connected++;
	}
	st.connected++;
	char p[96];
	int n = presence_payload(p, sizeof(p), true, d->connect_ts);
	int prc = mosquitto_publish_v5(d->mosq, NULL, d->pres_topic, n, p, 1, true, presence_props);
	if(prc != MOSQ_ERR_SUCCESS){
		st.publish_errors++;
		snprintf(st.last_publish_error, sizeof(st.last_publish_error), "driver %s presence: %s",
				d->idstr, mosquitto_strerror(prc));
	}else st.presence_sent++;
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc, const mosquitto_property *props)
{
	(void)mosq;
	(void)props;
	struct driver *d = obj;
	d->ep_fd = -1;   /* closed: the kernel dropped it from the epoll set */
	if(d->state == D_ONLINE || d->state == D_CLOSING) st.connected--;
	if(d->state == D_CLOSING || shutting_down){
		d->state = D_DONE;
		return;
	}
	if(d->state == D_ONLINE && rc != 0){
		st.lost++;
		if(!d->dropping){
			snprintf(st.last_lost_reason, sizeof(st.last_lost_reason), "driver %s: connection lost: %s",
					d->idstr, mosquitto_strerror(rc));
			if(st.lost - st.drops <= 5) logmsg("%s", st.last_lost_reason);
		}
	}
	d->dropping = false;
	if(d->state == D_ONLINE || d->state == D_CONNECTING) d->lost_once = true;
	schedule_retry(d, mono_ms());
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason, const mosquitto_property *props)
{
	(void)mosq;
	(void)props;
	struct driver *d = obj;
	if(reason >= 0x80){
		st.refused++;
		st.refused_by_code[reason & 0xff]++;
	}else st.pubacks++;
	if(d->state == D_CLOSING && mid == d->offline_mid) d->offline_acked = true;
}

static void start_connect(struct driver *d, int64_t now)
{
	char err[512];
	int rc;
	if(d->mosq == NULL){
		char cid[40];
		snprintf(cid, sizeof(cid), "driver-%s", d->idstr);
		int a0, b0;
		lowest_free_fds(&a0, &b0);   /* mosquitto_new may make the wake-up pair */
		d->mosq = mosquitto_new(cid, false, d);
		if(d->mosq && is_unix_stream_nonblock(a0)){
			d->pair_r = a0;
			d->pair_w = b0;
		}
		if(d->mosq == NULL){
			st.connect_errors++;
			snprintf(st.last_connect_error, sizeof(st.last_connect_error), "mosquitto_new: %s", strerror(errno));
			schedule_retry(d, now);
			return;
		}
		rc = mosquitto_int_option(d->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
		/* a location goes out when it is written, not after the previous
		 * packet's ACK (Nagle): latency measurements depend on it */
		if(rc == MOSQ_ERR_SUCCESS) rc = mosquitto_int_option(d->mosq, MOSQ_OPT_TCP_NODELAY, 1);
		if(rc != MOSQ_ERR_SUCCESS){
			snprintf(st.last_connect_error, sizeof(st.last_connect_error), "selecting MQTT 5: %s",
					mosquitto_strerror(rc));
			st.connect_errors++;
			mosquitto_destroy(d->mosq);
			d->mosq = NULL;
			d->pair_r = d->pair_w = -1;
			schedule_retry(d, now);
			return;
		}
		mosquitto_connect_v5_callback_set(d->mosq, on_connect);
		mosquitto_disconnect_v5_callback_set(d->mosq, on_disconnect);
		mosquitto_publish_v5_callback_set(d->mosq, on_publish);
	}
	char *token = mint_token(d, err, sizeof(err));
	if(token == NULL){
		st.connect_errors++;
		snprintf(st.last_connect_error, sizeof(st.last_connect_error), "minting a token: %.200s", err);
		schedule_retry(d, now);
		return;
	}
	rc = mosquitto_username_pw_set(d->mosq, opt.username, token);
	free(token);
	if(rc != MOSQ_ERR_SUCCESS) goto fail;
	d->connect_ts = epoch_ms();
	char will[96];
	int wlen = presence_payload(will, sizeof(will), false, d->connect_ts);
	mosquitto_property *wp = NULL;
	rc = make_expiry_props(&wp, opt.presence_expiry);
	if(rc != MOSQ_ERR_SUCCESS) goto fail;
	rc = mosquitto_will_set_v5(d->mosq, d->pres_topic, wlen, will, 1, true, wp);
	if(rc != MOSQ_ERR_SUCCESS){
		mosquitto_property_free_all(&wp);
		goto fail;
	}
	/* the pair closed and reopened by connect: see "the wake-up socketpair" */
	int a, b;
	lowest_free_fds(&a, &b);
	int cand[4] = {a, b, d->pair_r, d->pair_w}, lo = INT_MAX, lo2 = INT_MAX;
	for(int i = 0; i < 4; i++){
		if(cand[i] < 0) continue;
		if(cand[i] < lo){ lo2 = lo; lo = cand[i]; }
		else if(cand[i] < lo2 && cand[i] != lo) lo2 = cand[i];
	}
	d->state = D_CONNECTING;
	d->ep_fd = -1;   /* a reconnect closes the old socket */
	rc = mosquitto_connect_bind_v5(d->mosq, opt.host, opt.port, (int)opt.keepalive, NULL, connect_props);
	int saved_errno = errno;
	if(lo != INT_MAX && lo != mosquitto_socket(d->mosq) && is_unix_stream_nonblock(lo)){
		d->pair_r = lo;
		d->pair_w = lo2 != INT_MAX ? lo2 : -1;
	}else if(!is_unix_stream_nonblock(d->pair_r)){
		d->pair_r = d->pair_w = -1;   /* unknown: not drained */
	}   /* else: this libmosquitto kept the pair made by mosquitto_new */
	errno = saved_errno;
	if(rc != MOSQ_ERR_SUCCESS) goto fail;
	ep_watch(d);   /* the CONNACK is read as soon as it comes */
	return;
fail:
	st.connect_errors++;
	snprintf(st.last_connect_error, sizeof(st.last_connect_error), "driver %s: connecting to %s:%d: %s",
			d->idstr, opt.host, opt.port, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	if(st.connect_errors <= 5) logmsg("%s", st.last_connect_error);
	schedule_retry(d, now);
}

/* ---------- movement and publishing ---------- */

static void publish_location(struct driver *d, int64_t now)
{
	double x, y, h, lat, lng;
	ds_route_position(&d->route, &x, &y, &h);
	ds_plane_to_geo(opt.lat0, opt.lng0, x, y, &lat, &lng);
	char p[256];
	int n = snprintf(p, sizeof(p), "{\"lat\":%.6f,\"lng\":%.6f,\"ts\":%" PRId64 ",\"heading\":%.1f,\"speed\":%.2f}",
			lat, lng, epoch_ms(), h >= 359.95 ? 0.0 : h, d->speed_mps);
	int rc = mosquitto_publish_v5(d->mosq, NULL, d->loc_topic, n, p, opt.qos, opt.retain, location_props);
	if(rc != MOSQ_ERR_SUCCESS){
		st.publish_errors++;
		snprintf(st.last_publish_error, sizeof(st.last_publish_error), "driver %s location: %s",
				d->idstr, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return;
	}
	st.location_sent++;
	d->last_pub_ms = now;
	d->last_pub_x = x;
	d->last_pub_y = y;
}

static void tick_driver(struct driver *d, int64_t now, double dt_s, double chaos_p)
{
	ds_route_advance(&d->route, d->speed_mps * dt_s);
	if(d->state != D_ONLINE) return;
	if(chaos_p > 0 && now - d->online_since_ms >= CHAOS_MIN_LIFETIME_MS && ds_rand_unit(&d->rng) < chaos_p){
		/* abrupt: no DISCONNECT, the broker publishes the will */
		st.drops++;
		d->dropping = true;
		shutdown(mosquitto_socket(d->mosq), SHUT_RDWR);
		return;
	}
	if(opt.mode != MODE_SEED) return;   /* rate mode: publish_due() */
	double x, y, h;
	ds_route_position(&d->route, &x, &y, &h);
	if(d->last_pub_ms == 0 || now - d->last_pub_ms >= SEED_INTERVAL_MS
			|| hypot(x - d->last_pub_x, y - d->last_pub_y) >= SEED_DISTANCE_M){
		publish_location(d, now);
	}
}

/* Rate mode: publish every location that is due, each at its own
 * millisecond rather than on the 100 ms tick (a fleet whose messages leave
 * in one burst per tick would measure the queue of that burst, not the
 * broker).  pub_due mirrors next_pub_ms in a compact array, so the scan is
 * cheap enough for every loop iteration.  Returns the next due time. */
static int64_t publish_due(int64_t now)
{
	int64_t next = INT64_MAX;
	for(long i = 0; i < opt.drivers; i++){
		if(pub_due[i] > now){
			if(pub_due[i] < next) next = pub_due[i];
			continue;
		}
		struct driver *d = &drivers[i];
		if(d->state != D_ONLINE){
			pub_due[i] = INT64_MAX;   /* rescheduled at the next CONNACK */
			continue;
		}
		publish_location(d, now);
		/* the next one interval +-10 % later; a lagging loop does not catch up in a burst */
		double interval = 1000.0 / opt.rate;
		d->next_pub_ms += (int64_t)(interval * (0.9 + 0.2 * ds_rand_unit(&d->rng)));
		if(d->next_pub_ms <= now) d->next_pub_ms = now + (int64_t)(interval * 0.9);
		pub_due[i] = d->next_pub_ms;
		if(pub_due[i] < next) next = pub_due[i];
	}
	return next;
}

/* ---------- reporting ---------- */

static void format_codes(char *buf, size_t len, const uint64_t *by_code)
{
	size_t off = 0;
	buf[0] = '\0';
	for(int c = 0; c < 256; c++){
		if(by_code[c] == 0) continue;
		int n = snprintf(buf + off, len - off, "%s0x%02x:%" PRIu64, off ? "," : " [", c, by_code[c]);
		if(n < 0 || (size_t)n >= len - off) break;
		off += (size_t)n;
	}
	if(off && off + 2 < len){
		buf[off++] = ']';
		buf[off] = '\0';
	}
}

static void report_line(const char *label, double elapsed_s)
{
	char ref[512], conn[512];
	format_codes(ref, sizeof(ref), st.refused_by_code);
	format_codes(conn, sizeof(conn), st.connack_by_code);
	fprintf(stderr, PROG ": %s t=%.1fs connected=%ld/%ld ever_connected=%ld location_sent=%" PRIu64
			" presence_sent=%" PRIu64 " puback=%" PRIu64 " refused=%" PRIu64 "%s reconnects=%" PRIu64
			" drops=%" PRIu64 " lost=%" PRIu64 " connect_refused=%" PRIu64 "%s connect_errors=%" PRIu64
			" publish_errors=%" PRIu64 "\n",
			label, elapsed_s, st.connected, opt.drivers, st.ever_connected, st.location_sent, st.presence_sent,
			st.pubacks, st.refused, ref, st.reconnects, st.drops, st.lost, st.connack_refused, conn,
			st.connect_errors, st.publish_errors);
}

/* ---------- the loop ---------- */

static void raise_nofile(void)
{
	struct rlimit rl;
	if(getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
	rl.rlim_cur = rl.rlim_max;
	if(setrlimit(RLIMIT_NOFILE, &rl) != 0) logmsg("raising RLIMIT_NOFILE: %s", strerror(errno));
	getrlimit(RLIMIT_NOFILE, &rl);
	/* a connection takes 3 descriptors: its socket and libmosquitto's wake-up pair */
	if(rl.rlim_cur != RLIM_INFINITY && (rlim_t)opt.drivers * 3 + 32 > rl.rlim_cur)
		logmsg("warning: %ld drivers need about %ld descriptors, the limit is %lu",
				opt.drivers, opt.drivers * 3 + 32, (unsigned long)rl.rlim_cur);
}

/* Keep the driver's socket in the epoll set, watched for writing only
 * while libmosquitto has output it could not write at once (it writes
 * immediately when a packet is queued outside a loop thread).  epoll, not
 * poll(): poll() walks every socket on every wake-up, which at thousands of
 * drivers and thousands of wake-ups a second costs more than the drivers. */
static void ep_watch(struct driver *d)
{
	int s = d->mosq ? mosquitto_socket(d->mosq) : -1;
	if(s < 0){
		d->ep_fd = -1;
		return;
	}
	bool out = mosquitto_want_write(d->mosq);
	if(d->ep_fd == s && d->ep_out == out) return;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u64 = (uint64_t)(d - drivers)};
	int op = d->ep_fd == s ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if(epoll_ctl(epfd, op, s, &ev) != 0 && errno == EEXIST) epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev);
	d->ep_fd = s;
	d->ep_out = out;
}

/* Wait for at most timeout_ms, then read/write the ready sockets. */
static void poll_io(int timeout_ms)
{
	struct epoll_event ev[512];
	int n = epoll_wait(epfd, ev, 512, timeout_ms);
	for(int k = 0; k < n; k++){
		struct driver *d = &drivers[ev[k].data.u64];
		int s = d->mosq ? mosquitto_socket(d->mosq) : -1;
		if(s < 0 || s != d->ep_fd) continue;   /* closed earlier in this batch */
		if(ev[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)){
			int rc = mosquitto_loop_read(d->mosq, 16);
			(void)rc;   /* errors arrive through on_disconnect */
		}
		if((ev[k].events & EPOLLOUT) && mosquitto_socket(d->mosq) >= 0){
			int rc = mosquitto_loop_write(d->mosq, 16);
			(void)rc;
		}
		ep_watch(d);
	}
}

/* A client whose socket went away without a callback (defensive). */
static void check_orphan(struct driver *d, int64_t now)
{
	if(d->mosq == NULL || mosquitto_socket(d->mosq) >= 0) return;
	if(d->state == D_CONNECTING || d->state == D_ONLINE){
		if(d->state == D_ONLINE) st.connected--;
		d->lost_once = true;
		schedule_retry(d, now);
	}else if(d->state == D_CLOSING){
		st.connected--;
		d->state = D_DONE;
	}
}

static void shutdown_all(void)
{
	shutting_down = true;
	int64_t start = mono_ms();
	for(long i = 0; i < opt.drivers; i++){
		struct driver *d = &drivers[i];
		if(d->state == D_ONLINE){
			char p[96];
			int n = presence_payload(p, sizeof(p), false, epoch_ms());
			int mid = 0;
			int rc = mosquitto_publish_v5(d->mosq, &mid, d->pres_topic, n, p, 1, true, presence_props);
			d->state = D_CLOSING;
			if(rc == MOSQ_ERR_SUCCESS){
				st.presence_sent++;
				d->offline_mid = mid;
			}else{
				st.publish_errors++;
				snprintf(st.last_publish_error, sizeof(st.last_publish_error), "driver %s offline presence: %s",
						d->idstr, mosquitto_strerror(rc));
				d->offline_acked = true;
			}
		}else if(d->state == D_CONNECTING){
			/* not accepted yet: just close (the broker publishes no will
			 * for a connection it never accepted) */
			mosquitto_disconnect_v5(d->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
			d->state = D_DONE;
		}else if(d->state == D_IDLE){
			d->state = D_DONE;
		}
	}
	for(;;){
		int64_t now = mono_ms();
		bool busy = false;
		for(long i = 0; i < opt.drivers; i++){
			struct driver *d = &drivers[i];
			if(d->state != D_CLOSING) continue;
			check_orphan(d, now);
			if(d->state != D_CLOSING) continue;
			busy = true;
			if(!d->disconnect_sent && (d->offline_acked || now - start >= SHUTDOWN_ACK_MS)){
				/* normal disconnection: the will is discarded */
				int rc = mosquitto_disconnect_v5(d->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
				d->disconnect_sent = true;
				if(rc != MOSQ_ERR_SUCCESS){
					if(d->state == D_CLOSING) st.connected--;
					d->state = D_DONE;
				}
			}
		}
		if(!busy || now - start >= SHUTDOWN_MAX_MS || signal_count >= 2) break;
		for(long i = 0; i < opt.drivers; i++) if(drivers[i].state == D_CLOSING) ep_watch(&drivers[i]);
		poll_io(50);
	}
}

int main(int argc, char **argv)
{
	int rc = parse_args(argc, argv);
	if(rc) return rc;
	char err[512];
	if(jw_load_secret(opt.secret_file, "JWT_SECRET", &secret, &secret_len, err, sizeof(err)) != 0){
		fprintf(stderr, PROG ": %s (give --secret-file or set JWT_SECRET)\n", err);
		return 2;
	}
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if((rc = mosquitto_lib_init()) != MOSQ_ERR_SUCCESS){
		logmsg("mosquitto_lib_init: %s", mosquitto_strerror(rc));
		return 1;
	}
	if(make_expiry_props(&location_props, opt.location_expiry) != MOSQ_ERR_SUCCESS
			|| make_expiry_props(&presence_props, opt.presence_expiry) != MOSQ_ERR_SUCCESS
			|| mosquitto_property_add_int32(&connect_props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
				(uint32_t)opt.session_expiry) != MOSQ_ERR_SUCCESS){
		logmsg("building MQTT properties: out of memory");
		return 1;
	}

	drivers = calloc((size_t)opt.drivers, sizeof(*drivers));
	if(opt.mode == MODE_RATE){
		pub_due = malloc((size_t)opt.drivers * sizeof(*pub_due));
		for(long i = 0; pub_due && i < opt.drivers; i++) pub_due[i] = INT64_MAX;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if(epfd < 0){
		logmsg("epoll_create1: %s", strerror(errno));
		return 1;
	}
	if(drivers == NULL || (opt.mode == MODE_RATE && pub_due == NULL)){
		logmsg("out of memory for %ld drivers", opt.drivers);
		return 1;
	}
	uint64_t rng = opt.seed;
	double radius_m = opt.radius_km * 1000.0;
	for(long i = 0; i < opt.drivers; i++){
		struct driver *d = &drivers[i];
		d->id = opt.first_id + i;
		snprintf(d->idstr, sizeof(d->idstr), "%ld", d->id);
		snprintf(d->loc_topic, sizeof(d->loc_topic), "driver/%ld/location", d->id);
		snprintf(d->pres_topic, sizeof(d->pres_topic), "driver/%ld/presence", d->id);
		d->rng = ds_rand_next(&rng) | 1;
		ds_route_init(&d->route, radius_m, &d->rng);
		d->speed_mps = opt.speed_kmh / 3.6 * (0.8 + 0.4 * ds_rand_unit(&d->rng));
		d->backoff_ms = BACKOFF_MIN_MS;
		d->pair_r = d->pair_w = -1;
		d->ep_fd = -1;
		d->state = D_IDLE;
		d->next_attempt_ms = 0;
	}
	logmsg("%ld drivers (ids %ld..%ld) -> %s:%d, mode %s%s, center %.5f,%.5f radius %.2f km, speed %.1f km/h",
			opt.drivers, opt.first_id, opt.first_id + opt.drivers - 1, opt.host, opt.port,
			opt.mode == MODE_SEED ? "seed" : "rate", opt.mode == MODE_RATE ? "" : " (15 s / 100 m)",
			opt.lat0, opt.lng0, opt.radius_km, opt.speed_kmh);

	int64_t start = mono_ms();
	int64_t next_tick = start, last_tick = start;
	int64_t next_report = opt.report_s > 0 ? start + (int64_t)(opt.report_s * 1000) : INT64_MAX;
	int64_t end = opt.duration_s > 0 ? start + (int64_t)(opt.duration_s * 1000) : INT64_MAX;
	double connect_budget = 0;
	long cursor = 0;   /* round robin over connection attempts */
	uint64_t tickno = 0;
	/* probability of a drop per tick from a probability per minute */
	double chaos_p = opt.chaos >= 1.0 ? 1.0 : 1.0 - pow(1.0 - opt.chaos, TICK_MS / 60000.0);

	while(!stop_signal){
		int64_t now = mono_ms();
		if(now >= end) break;
		if(now >= next_tick){
			double dt = (double)(now - last_tick) / 1000.0;
			last_tick = now;
			next_tick = now + TICK_MS;
			tickno++;
			/* connections: a token bucket of --connect-rate, burst of one tick */
			double burst = opt.connect_rate * TICK_MS / 1000.0;
			if(burst < 1) burst = 1;
			connect_budget += opt.connect_rate * dt;
			if(connect_budget > burst) connect_budget = burst;
			for(long k = 0; k < opt.drivers && connect_budget >= 1; k++){
				struct driver *d = &drivers[(cursor + k) % opt.drivers];
				if(d->state == D_IDLE && now >= d->next_attempt_ms){
					connect_budget -= 1;
					start_connect(d, now);
					cursor = (cursor + k + 1) % opt.drivers;
					k = -1;   /* restart from the new cursor */
					if(stop_signal) break;
				}
			}
			for(long i = 0; i < opt.drivers; i++){
				struct driver *d = &drivers[i];
				check_orphan(d, now);
				tick_driver(d, now, dt, chaos_p);
				if(d->mosq && (uint64_t)i % 10 == tickno % 10){
					if(d->state == D_CONNECTING || d->state == D_ONLINE) mosquitto_loop_misc(d->mosq);
					if(tickno % 50 < 10) drain_pair(d);   /* every 5 s */
				}
				/* new sockets, and output a publish could not write at once */
				if(d->state == D_CONNECTING || d->state == D_ONLINE) ep_watch(d);
			}
		}
		if(now >= next_report){
			report_line("report", (double)(now - start) / 1000.0);
			next_report += (int64_t)(opt.report_s * 1000);
		}
		int64_t wake = next_tick;
		if(pub_due){
			int64_t due = publish_due(mono_ms());
			if(due < wake) wake = due;
		}
		int64_t wait = wake - mono_ms();
		if(wait < 0) wait = 0;
		if(wait > TICK_MS) wait = TICK_MS;
		poll_io((int)wait);
	}
	if(stop_signal) logmsg("%s: shutting down", strsignal(stop_signal));
	shutdown_all();
	report_line("summary", (double)(mono_ms() - start) / 1000.0);

	int exit_code = 0;
	if(st.ever_connected == 0){
		logmsg("no driver could connect: %s",
				st.last_connect_error[0] ? st.last_connect_error : "no connection completed in time");
		exit_code = 1;
	}
	if(st.publish_errors) logmsg("last publish error: %s", st.last_publish_error);
	if(st.last_lost_reason[0]) logmsg("last lost connection: %s", st.last_lost_reason);
	for(long i = 0; i < opt.drivers; i++){
		if(drivers[i].mosq) mosquitto_destroy(drivers[i].mosq);
	}
	mosquitto_property_free_all(&location_props);
	mosquitto_property_free_all(&presence_props);
	mosquitto_property_free_all(&connect_props);
	mosquitto_lib_cleanup();
	free(drivers);
	free(pub_due);
	close(epfd);
	free(secret);
	return exit_code;
}
