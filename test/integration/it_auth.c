/*
 * Who may connect, and for how long: JWT authentication end to end, on a
 * real mosquitto 2.0.11 with the real plugin.
 *
 *   accept    password and enhanced auth, TCP and WebSocket, 3.1.1 and 5;
 *             the broker-side username becomes "{userType}:{sub}"
 *   refuse    every refusal is CONNACK 0x87 (MQTT 5) / 5 (3.1.1) — 2.0.11
 *             maps every plugin refusal to that (src/handle_connect.c:897) —
 *             with a log line naming the reason (never the token) and a
 *             counter under $SYS/broker/jetwire/auth/failures/<reason>
 *   expiry    an expired client is disconnected (0x98), its will published
 *   reauth    MQTT 5 AUTH 0x19 refreshes the token without reconnecting
 *             (raw MQTT: libmosquitto and paho cannot send AUTH)
 *   sighup    reloading the broker keeps clients with valid tokens
 *   config    settings the plugin refuses to start with
 */
#define _POSIX_C_SOURCE 200809L
#include <MQTTClient.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "jw_file.h"
#include "jw_mint.h"
#include "raw_mqtt.h"

#define RC_NOT_AUTHORIZED 0x87       /* MQTT 5 CONNACK */
#define RC_BAD_AUTH_METHOD 0x8c      /* MQTT 5 CONNACK */
#define RC_ADMINISTRATIVE_ACTION 0x98 /* MQTT 5 DISCONNECT */
#define RC311_NOT_AUTHORIZED 5       /* MQTT 3.1.1 CONNACK return code */

/* ---------------------------------------------------------------- helpers */


/* The plugin reads CLOCK_REALTIME; time() may come from the coarse clock,
 * a few ms behind, and read exp - 1 at the very second the kick happens. */
static long realtime_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long)ts.tv_sec;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static char *admin_token(const struct jw_broker *b)
{
	return jw_token(b, "ops", "admin", 600);
}

/* Wait until the broker log holds `needle` exactly `want` times. */
static void expect_log_count(struct jw_broker *b, const char *needle, int want, int timeout_ms)
{
	int64_t deadline = jw_ms() + timeout_ms;
	int n;
	while((n = jw_broker_log_count(b, needle)) != want && jw_ms() < deadline) sleep_ms(25);
	ck_assert_msg(n == want, "broker log has \"%s\" %d times, expected %d (see %s)", needle, n, want,
			b->log_path);
}

static void expect_log(struct jw_broker *b, const char *needle)
{
	ck_assert_msg(jw_broker_log_wait(b, needle, 5000), "broker log lacks \"%s\" (see %s)", needle,
			b->log_path);
}

/* The log line every refused CONNECT leaves. */
static void refusal_line(char *out, size_t len, const char *what, const char *client_id, const char *reason)
{
	snprintf(out, len, "jetwire: refused %s | client=%s address=127.0.0.1 reason=%s", what, client_id, reason);
}

/* The token must never reach the log: neither whole nor its signature. */
static void expect_token_not_logged(struct jw_broker *b, const char *token)
{
	if(token == NULL || token[0] == '\0') return;
	ck_assert_msg(jw_broker_log_count(b, token) == 0, "the token appears in the broker log");
	const char *sig = strrchr(token, '.');
	if(sig && strlen(sig + 1) >= 16){
		ck_assert_msg(jw_broker_log_count(b, sig + 1) == 0, "the token's signature appears in the broker log");
	}
}

/* An admin connection (the only role that reads $SYS) to watch counters. */
static struct jw_client *admin_connect(struct jw_broker *b, const char *token)
{
	char *own = token ? NULL : admin_token(b);
	struct jw_client *a = jw_client_new("admin-ops", 5, true);
	ck_assert_int_eq(jw_client_connect(a, b->port, token ? token : own), 0);
	free(own);
	return a;
}

/* Wait until $SYS/broker/jetwire/<suffix> reads `want` (retained, and
 * republished on change every stats_interval = 1 s in the harness). */
static void expect_counter(struct jw_client *admin, const char *suffix, long want)
{
	char topic[256], wanted[32], last[64] = "(nothing)";
	snprintf(topic, sizeof(topic), "$SYS/broker/jetwire/%s", suffix);
	snprintf(wanted, sizeof(wanted), "%ld", want);
	ck_assert_int_eq(jw_client_subscribe(admin, topic, 0), 0);
	int64_t deadline = jw_ms() + 5000;
	bool seen = false;
	while(!seen && jw_ms() < deadline){
		char *v = jw_client_wait_message(admin, topic, (int)(deadline - jw_ms()));
		if(v == NULL) break;
		snprintf(last, sizeof(last), "%s", v);
		seen = strcmp(v, wanted) == 0;
		free(v);
	}
	ck_assert_msg(seen, "%s: expected %s, last value %s", topic, wanted, last);
}

/* CONNECT with `password` over MQTT 5 and then 3.1.1: both refused with
 * "not authorized", each refusal logged with `reason`, never the token, and
 * counted.  `admin_tok` NULL: an HS256 admin token of the broker. */
static void expect_refused(struct jw_broker *b, const char *admin_tok, const char *client_id,
		const char *password, const char *reason)
{
	struct jw_client *c5 = jw_client_new(client_id, 5, true);
	ck_assert_int_eq(jw_client_connect(c5, b->port, password), RC_NOT_AUTHORIZED);
	jw_client_destroy(c5);
	struct jw_client *c4 = jw_client_new(client_id, 4, true);
	ck_assert_int_eq(jw_client_connect(c4, b->port, password), RC311_NOT_AUTHORIZED);
	jw_client_destroy(c4);

	char line[512];
	refusal_line(line, sizeof(line), "connection", client_id, reason);
	expect_log_count(b, line, 2, 5000);
	expect_token_not_logged(b, password);

	char counter[128];
	snprintf(counter, sizeof(counter), "auth/failures/%s", reason);
	struct jw_client *admin = admin_connect(b, admin_tok);
	expect_counter(admin, counter, 2);
	expect_counter(admin, "auth/failures/total", 2);
	jw_client_destroy(admin);
}

/* Token signed with any algorithm and key. */
static char *mint(jwt_alg_t alg, const void *key, size_t key_len, const char *claims)
{
	char err[256];
	char *t = jw_mint(alg, key, key_len, claims, err, sizeof(err));
	ck_assert_msg(t != NULL, "mint: %s", err);
	return t;
}

static void claims_for(char *out, size_t len, const char *sub_json, const char *role, long ttl_s)
{
	long now = (long)time(NULL);
	snprintf(out, len, "{\"sub\":%s,\"userType\":\"%s\",\"iat\":%ld,\"exp\":%ld}", sub_json, role, now,
			now + ttl_s);
}

static char *b64url(const char *in)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(in);
	char *out = malloc(n * 4 / 3 + 4);
	ck_assert_ptr_nonnull(out);
	size_t o = 0;
	for(size_t i = 0; i < n; i += 3){
		uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
		if(i + 1 < n) v |= (uint32_t)(unsigned char)in[i + 1] << 8;
		if(i + 2 < n) v |= (unsigned char)in[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		if(i + 1 < n) out[o++] = tbl[(v >> 6) & 63];
		if(i + 2 < n) out[o++] = tbl[v & 63];
	}
	out[o] = '\0';
	return out;
}

/* header.claims.signature from plain JSON texts (no cryptography). */
static char *unsigned_token(const char *header_json, const char *claims_json, const char *signature)
{
	char *h = b64url(header_json), *c = b64url(claims_json);
	size_t len = strlen(h) + strlen(c) + strlen(signature) + 3;
	char *t = malloc(len);
	ck_assert_ptr_nonnull(t);
	snprintf(t, len, "%s.%s.%s", h, c, signature);
	free(h);
	free(c);
	return t;
}

static char *read_text(const char *path, size_t *len)
{
	char *text = NULL, err[512];
	ck_assert_msg(jw_read_file(path, 1 << 20, &text, len, err, sizeof(err)) == 0, "%s", err);
	return text;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fchmod(fd, mode), 0);   /* whatever the umask */
	size_t len = strlen(text);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Run a program (no shell) and assert it exits 0. */
static void run(const char *const argv[])
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if(pid == 0){
		int devnull = open("/dev/null", O_WRONLY);
		if(devnull >= 0){
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed", argv[0]);
}

/* ------------------------------------------------- paho over WebSocket */

struct ws_client {
	MQTTClient h;
	int version;
	pthread_mutex_t lock;
	bool lost;                 /* the connection went away */
	int disconnect_reason;     /* MQTT 5 DISCONNECT reason received, -1 none */
	int messages;
	char last_topic[256];
};

static void ws_connection_lost(void *ctx, char *cause)
{
	(void)cause;
	struct ws_client *w = ctx;
	pthread_mutex_lock(&w->lock);
	w->lost = true;
	pthread_mutex_unlock(&w->lock);
}

static void ws_disconnected(void *ctx, MQTTProperties *props, enum MQTTReasonCodes rc)
{
	(void)props;
	struct ws_client *w = ctx;
	pthread_mutex_lock(&w->lock);
	w->lost = true;
	w->disconnect_reason = (int)rc;
	pthread_mutex_unlock(&w->lock);
}

static int ws_message(void *ctx, char *topic, int topic_len, MQTTClient_message *m)
{
	(void)topic_len;
	struct ws_client *w = ctx;
	pthread_mutex_lock(&w->lock);
	w->messages++;
	snprintf(w->last_topic, sizeof(w->last_topic), "%s", topic);
	pthread_mutex_unlock(&w->lock);
	MQTTClient_freeMessage(&m);
	MQTTClient_free(topic);
	return 1;
}

static struct ws_client *ws_new(int ws_port, const char *client_id, int version)
{
	struct ws_client *w = calloc(1, sizeof(*w));
	ck_assert_ptr_nonnull(w);
	w->version = version;
	w->disconnect_reason = -1;
	pthread_mutex_init(&w->lock, NULL);
	char uri[64];
	snprintf(uri, sizeof(uri), "ws://127.0.0.1:%d", ws_port);
	MQTTClient_createOptions co = MQTTClient_createOptions_initializer;
	co.MQTTVersion = version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
	ck_assert_int_eq(MQTTClient_createWithOptions(&w->h, uri, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co),
			MQTTCLIENT_SUCCESS);
	ck_assert_int_eq(MQTTClient_setCallbacks(w->h, w, ws_connection_lost, ws_message, NULL), MQTTCLIENT_SUCCESS);
	if(version == 5) ck_assert_int_eq(MQTTClient_setDisconnected(w->h, w, ws_disconnected), MQTTCLIENT_SUCCESS);
	return w;
}

/* Returns the CONNACK code (0 accepted; MQTT 5 reason or 3.1.1 return
 * code), or a negative paho error. */
static int ws_connect(struct ws_client *w, const char *token)
{
	if(w->version == 5){
		MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer5_ws;
		o.keepAliveInterval = 30;
		o.cleanstart = 1;
		o.username = "jwt";
		o.password = token;
		MQTTResponse r = MQTTClient_connect5(w->h, &o, NULL, NULL);
		int rc = (int)r.reasonCode;
		MQTTResponse_free(r);
		return rc;
	}
	MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer_ws;
	o.keepAliveInterval = 30;
	o.cleansession = 1;
	o.username = "jwt";
	o.password = token;
	return MQTTClient_connect(w->h, &o);
}

/* Granted QoS, or the failure code (0x80 / 0x87). */
static int ws_subscribe(struct ws_client *w, const char *filter, int qos)
{
	if(w->version == 5){
		MQTTResponse r = MQTTClient_subscribe5(w->h, filter, qos, NULL, NULL);
		int rc = (int)r.reasonCode;
		MQTTResponse_free(r);
		return rc;
	}
	/* MQTTClient_subscribe() hides the granted QoS; subscribeMany reports it */
	char *topics[1] = {(char *)filter};
	int granted[1] = {qos};
	int rc = MQTTClient_subscribeMany(w->h, 1, topics, granted);
	return rc == MQTTCLIENT_SUCCESS ? granted[0] : rc;
}

static bool ws_lost(struct ws_client *w, int *reason)
{
	pthread_mutex_lock(&w->lock);
	bool lost = w->lost;
	if(reason) *reason = w->disconnect_reason;
	pthread_mutex_unlock(&w->lock);
	return lost;
}

static bool ws_wait_lost(struct ws_client *w, int timeout_ms)
{
	int64_t deadline = jw_ms() + timeout_ms;
	while(!ws_lost(w, NULL) && jw_ms() < deadline) sleep_ms(20);
	return ws_lost(w, NULL);
}

static bool ws_wait_message(struct ws_client *w, const char *topic, int timeout_ms)
{
	int64_t deadline = jw_ms() + timeout_ms;
	for(;;){
		pthread_mutex_lock(&w->lock);
		bool got = w->messages > 0 && strcmp(w->last_topic, topic) == 0;
		pthread_mutex_unlock(&w->lock);
		if(got) return true;
		if(jw_ms() >= deadline) return false;
		sleep_ms(20);
	}
}

static void ws_destroy(struct ws_client *w)
{
	if(w == NULL) return;
	if(MQTTClient_isConnected(w->h)){
		if(w->version == 5) MQTTClient_disconnect5(w->h, 1000, MQTTREASONCODE_SUCCESS, NULL);
		else MQTTClient_disconnect(w->h, 1000);
	}
	MQTTClient_destroy(&w->h);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* ------------------------------------------------------------- accept */

/* Connect customer 42 over libmosquitto TCP and prove who the broker
 * thinks it is: the username in the broker's own log line, and the ACL
 * that follows from it (its own notifications, not 43's). */
static void accepts_over_tcp(int protocol, const char *client_id, const char *log_proto)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *tok = jw_token(&b, "42", "customer", 600);
	struct jw_client *c = jw_client_new(client_id, protocol, true);
	ck_assert_int_eq(jw_client_connect(c, b.port, tok), 0);

	char line[256];
	snprintf(line, sizeof(line), "as %s (%s, c1, k30, u'customer:42')", client_id, log_proto);
	expect_log(&b, line);
	ck_assert_int_eq(jw_client_subscribe(c, "customer/42/notifications", 1), 1);
	ck_assert_int_ge(jw_client_subscribe(c, "customer/43/notifications", 1), 0x80);
	expect_token_not_logged(&b, tok);

	jw_client_destroy(c);
	free(tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}

START_TEST(accepts_token_over_tcp_mqtt5_as_customer_colon_sub)
{
	accepts_over_tcp(5, "customer-42-tcp5", "p5");
}
END_TEST

START_TEST(accepts_token_over_tcp_mqtt311_as_customer_colon_sub)
{
	/* 2.0.11 logs enum mosquitto__protocol: mosq_p_mqtt311 is 2 */
	accepts_over_tcp(4, "customer-42-tcp4", "p2");
}
END_TEST

static void accepts_over_websocket(int version, const char *client_id, const char *log_proto)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *tok = jw_token(&b, "42", "customer", 600);
	struct ws_client *w = ws_new(b.ws_port, client_id, version);
	ck_assert_int_eq(ws_connect(w, tok), 0);

	char line[256];
	snprintf(line, sizeof(line), "as %s (%s, c1, k30, u'customer:42')", client_id, log_proto);
	expect_log(&b, line);
	ck_assert_int_eq(ws_subscribe(w, "customer/42/notifications", 1), 1);
	ck_assert_int_ge(ws_subscribe(w, "customer/43/notifications", 1), 0x80);

	/* a notification for 42 arrives over the WebSocket */
	char *svc_tok = jw_token(&b, "bridge", "service", 600);
	struct jw_client *svc = jw_client_new("service-bridge", 5, true);
	ck_assert_int_eq(jw_client_connect(svc, b.port, svc_tok), 0);
	ck_assert_int_eq(jw_client_publish(svc, "customer/42/notifications", "{\"id\":\"n1\"}", 1, false), 0);
	ck_assert(ws_wait_message(w, "customer/42/notifications", 5000));

	/* A refusal over WebSocket is the same refusal, logged with the TCP
	 * peer's address (the harness sets "socket_domain ipv4": without it the
	 * libwebsockets socket is dual-stack and peers show as ::ffff:...). */
	struct ws_client *bad = ws_new(b.ws_port, "customer-42-bad", version);
	ck_assert_int_eq(ws_connect(bad, "not-a-token"), version == 5 ? RC_NOT_AUTHORIZED : RC311_NOT_AUTHORIZED);
	expect_log(&b, "jetwire: refused connection | client=customer-42-bad address=127.0.0.1 reason=malformed");

	ws_destroy(bad);
	jw_client_destroy(svc);
	ws_destroy(w);
	free(svc_tok);
	free(tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}

START_TEST(accepts_token_over_websocket_mqtt5_as_customer_colon_sub)
{
	accepts_over_websocket(5, "customer-42-ws5", "p5");
}
END_TEST

START_TEST(accepts_token_over_websocket_mqtt311_as_customer_colon_sub)
{
	accepts_over_websocket(4, "customer-42-ws4", "p2");
}
END_TEST

START_TEST(accepts_enhanced_auth_with_method_jwt)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *tok = jw_token(&b, "42", "customer", 600);
	struct jw_client *c = jw_client_new("customer-42", 5, true);
	ck_assert_int_eq(jw_client_connect_auth(c, b.port, "jwt", tok), 0);
	expect_log(&b, "as customer-42 (p5, c1, k30, u'customer:42')");
	ck_assert_int_eq(jw_client_subscribe(c, "customer/42/notifications", 1), 1);
	expect_token_not_logged(&b, tok);
	jw_client_destroy(c);
	free(tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(refuses_enhanced_auth_with_another_method_as_bad_method)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *tok = jw_token(&b, "42", "customer", 600);
	struct jw_client *c = jw_client_new("customer-42", 5, true);
	ck_assert_int_eq(jw_client_connect_auth(c, b.port, "SCRAM-SHA-256", tok), RC_BAD_AUTH_METHOD);
	jw_client_destroy(c);
	/* not a token refusal: nothing counted as an authentication failure */
	struct jw_client *admin = admin_connect(&b, NULL);
	expect_counter(admin, "auth/failures/total", 0);
	jw_client_destroy(admin);
	free(tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(refuses_enhanced_auth_with_bad_token_as_not_authorized)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *expired = jw_token(&b, "42", "customer", -600);
	struct jw_client *c = jw_client_new("customer-42", 5, true);
	ck_assert_int_eq(jw_client_connect_auth(c, b.port, "jwt", expired), RC_NOT_AUTHORIZED);
	jw_client_destroy(c);
	c = jw_client_new("customer-42", 5, true);
	ck_assert_int_eq(jw_client_connect_auth(c, b.port, "jwt", NULL), RC_NOT_AUTHORIZED);
	jw_client_destroy(c);

	char line[256];
	refusal_line(line, sizeof(line), "connection", "customer-42", "expired");
	expect_log_count(&b, line, 1, 5000);
	refusal_line(line, sizeof(line), "connection", "customer-42", "no_token");
	expect_log_count(&b, line, 1, 5000);
	expect_token_not_logged(&b, expired);
	struct jw_client *admin = admin_connect(&b, NULL);
	expect_counter(admin, "auth/failures/expired", 1);
	expect_counter(admin, "auth/failures/no_token", 1);
	jw_client_destroy(admin);
	free(expired);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(admin_and_service_are_exempt_from_clientid_binding)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *adm = jw_token(&b, "ops", "admin", 600);
	char *svc = jw_token(&b, "bridge", "service", 600);
	struct jw_client *a = jw_client_new("dashboard-1", 5, true);
	ck_assert_int_eq(jw_client_connect(a, b.port, adm), 0);
	struct jw_client *s = jw_client_new("jetwire-bridge", 4, true);
	ck_assert_int_eq(jw_client_connect(s, b.port, svc), 0);
	expect_log(&b, "as dashboard-1 (p5, c1, k30, u'admin:ops')");
	expect_log(&b, "as jetwire-bridge (p2, c1, k30, u'service:bridge')");
	jw_client_destroy(s);
	jw_client_destroy(a);
	free(adm);
	free(svc);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(admin_is_bound_to_its_clientid_when_not_exempted)
{
	struct jw_broker_opts o = {.plugin_opts = "plugin_opt_clientid_exempt_roles service\n"};
	struct jw_broker b;
	jw_broker_start(&b, &o);
	char *adm = jw_token(&b, "ops", "admin", 600);
	struct jw_client *a = jw_client_new("dashboard-1", 5, true);
	ck_assert_int_eq(jw_client_connect(a, b.port, adm), RC_NOT_AUTHORIZED);
	jw_client_destroy(a);
	a = jw_client_new("admin-ops-dashboard", 5, true);
	ck_assert_int_eq(jw_client_connect(a, b.port, adm), 0);
	char line[256];
	refusal_line(line, sizeof(line), "connection", "dashboard-1", "clientid_mismatch");
	expect_log(&b, line);
	jw_client_destroy(a);
	free(adm);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

/* ------------------------------------------------------------- refuse */

START_TEST(refuses_expired_token)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	/* beyond the default 30 s leeway */
	char *tok = jw_token(&b, "42", "customer", -120);
	expect_refused(&b, NULL, "customer-42", tok, "expired");
	free(tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(refuses_token_signed_with_another_secret)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	static const char other[] = "0123456789abcdef0123456789abcdef0123456789abcdef";
	char claims[256];
	claims_for(claims, sizeof(claims), "\"42\"", "customer", 600);
	char *tok = mint(JWT_ALG_HS256, other, strlen(other), claims);
	expect_refused(&b, NULL, "customer-42", tok, "bad_signature");
	free(tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(refuses_hs512_token_when_hs256_pinned)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char claims[256];
	claims_for(claims, sizeof(claims), "\"42\"", "customer", 600);
	/* the right secret, the wrong algorithm */
	char *tok = mint(JWT_ALG_HS512, b.secret, strlen(b.secret), claims);
	expect_refused(&b, NULL, "customer-42", tok, "alg_mismatch");
	free(tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(refuses_hs256_token_signed_with_public_key_when_rs256_pinned)
{
	char dir[] = "/tmp/jetwire-it-keys-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char priv[128], pub[128];
	snprintf(priv, sizeof(priv), "%s/key.pem", dir);
	snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
	const char *gen[] = {"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
		"-out", priv, NULL};
	run(gen);
	const char *pubout[] = {"openssl", "pkey", "-in", priv, "-pubout", "-out", pub, NULL};
	run(pubout);

	char plugin_opts[512];
	snprintf(plugin_opts, sizeof(plugin_opts),
			"plugin_opt_jwt_alg RS256\nplugin_opt_jwt_public_key_file %s\n", pub);
	struct jw_broker_opts o = {.plugin_opts = plugin_opts, .no_secret_file = true};
	struct jw_broker b;
	jw_broker_start(&b, &o);
	expect_log(&b, "jetwire: plugin ready | alg=RS256");

	size_t priv_len, pub_len;
	char *priv_pem = read_text(priv, &priv_len);
	char *pub_pem = read_text(pub, &pub_len);
	char claims[256];

	/* a genuine RS256 token works: the broker is usable */
	claims_for(claims, sizeof(claims), "\"ops\"", "admin", 600);
	char *adm = mint(JWT_ALG_RS256, priv_pem, priv_len, claims);
	claims_for(claims, sizeof(claims), "\"42\"", "customer", 600);
	char *good = mint(JWT_ALG_RS256, priv_pem, priv_len, claims);
	struct jw_client *c = jw_client_new("customer-42", 5, true);
	ck_assert_int_eq(jw_client_connect(c, b.port, good), 0);
	jw_client_destroy(c);

	/* algorithm confusion: HMAC keyed with the public PEM bytes, which libjwt
	 * 1.10 would verify if asked to use the token's own "alg" */
	char *forged = mint(JWT_ALG_HS256, pub_pem, pub_len, claims);
	expect_refused(&b, adm, "customer-42", forged, "alg_mismatch");

	free(forged);
	free(good);
	free(adm);
	free(priv_pem);
	free(pub_pem);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
	unlink(priv);
	unlink(pub);
	rmdir(dir);
}
END_TEST

START_TEST(refuses_alg_none_token)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char claims[256];
	claims_for(claims, sizeof(claims), "\"42\"", "customer", 600);
	/* with a signature segment, so only the algorithm is wrong */
	char *none = unsigned_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", claims, "c2lnbmF0dXJl");
	expect_refused(&b, NULL, "customer-42", none, "alg_mismatch");
	/* RFC 7519's unsecured form, empty signature: not even a JWS */
	char *bare = unsigned_token("{\"alg\":\"none\"}", claims, "");
	struct jw_client *c = jw_client_new("customer-42", 5, true);
	ck_assert_int_eq(jw_client_connect(c, b.port, bare), RC_NOT_AUTHORIZED);
	jw_client_destroy(c);
	char line[256];
	refusal_line(line, sizeof(line), "connection", "customer-42", "malformed");
	expect_log_count(&b, line, 1, 5000);
	free(none);
	free(bare);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(refuses_malformed_token)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	expect_refused(&b, NULL, "customer-42", "this-is-not.a-jwt.at-all!!", "malformed");
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(refuses_connect_without_password)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	expect_refused(&b, NULL, "customer-42", NULL, "no_token");
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(refuses_64k_password_as_too_long)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	/* A correctly signed, otherwise valid token just under the 65,535-byte
	 * MQTT limit: refused for its size alone (default max 8 KiB). */
	size_t pad_len = 48000;
	char *claims = malloc(pad_len + 256);
	ck_assert_ptr_nonnull(claims);
	long now = (long)time(NULL);
	int n = snprintf(claims, 256, "{\"sub\":\"42\",\"userType\":\"customer\",\"exp\":%ld,\"pad\":\"", now + 600);
	for(size_t i = 0; i < pad_len; i++) claims[n + (int)i] = (char)('a' + (i * 7 + i / 26) % 26);
	snprintf(claims + n + pad_len, 8, "\"}");
	char *tok = jw_token_claims(&b, claims);
	ck_assert_int_gt(strlen(tok), 60000);
	ck_assert_int_le(strlen(tok), 65535);
	expect_refused(&b, NULL, "customer-42", tok, "token_too_long");
	free(tok);
	free(claims);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(refuses_unknown_role)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *tok = jw_token(&b, "42", "superuser", 600);
	expect_refused(&b, NULL, "superuser-42", tok, "unknown_role");
	free(tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(refuses_sub_that_is_not_one_topic_level)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *tok = jw_token(&b, "a/b", "customer", 600);
	expect_refused(&b, NULL, "customer-a", tok, "bad_sub");
	free(tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(refuses_clientid_of_another_user)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *tok = jw_token(&b, "42", "customer", 600);
	expect_refused(&b, NULL, "customer-43", tok, "clientid_mismatch");
	/* a prefix is not a suffix: customer-420 is another user */
	expect_refused(&b, NULL, "customer-420", tok, "clientid_mismatch");
	free(tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(refuses_clientid_takeover_and_keeps_the_original_connected)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *tok42 = jw_token(&b, "42", "customer", 600);
	char *tok43 = jw_token(&b, "43", "customer", 600);
	char *svc_tok = jw_token(&b, "bridge", "service", 600);

	struct jw_client *victim = jw_client_new("customer-42", 5, false);
	jw_client_set_session_expiry(victim, 300);
	ck_assert_int_eq(jw_client_connect(victim, b.port, tok42), 0);
	ck_assert_int_eq(jw_client_subscribe(victim, "customer/42/notifications", 1), 1);

	/* 43's valid token, 42's client id, and clean start false to inherit
	 * 42's session and subscriptions if the takeover were let through */
	for(int proto = 5; proto >= 4; proto--){
		struct jw_client *thief = jw_client_new("customer-42", proto, false);
		ck_assert_int_eq(jw_client_connect(thief, b.port, tok43),
				proto == 5 ? RC_NOT_AUTHORIZED : RC311_NOT_AUTHORIZED);
		jw_client_destroy(thief);
	}
	char line[256];
	refusal_line(line, sizeof(line), "connection", "customer-42", "clientid_mismatch");
	expect_log_count(&b, line, 2, 5000);
	ck_assert_int_eq(jw_broker_log_count(&b, "Client customer-42 already connected"), 0);

	/* the original connection never noticed */
	ck_assert(jw_client_is_connected(victim));
	struct jw_client *svc = jw_client_new("service-bridge", 5, true);
	ck_assert_int_eq(jw_client_connect(svc, b.port, svc_tok), 0);
	ck_assert_int_eq(jw_client_publish(svc, "customer/42/notifications", "{\"id\":\"n1\"}", 1, false), 0);
	char *got = jw_client_wait_message(victim, "customer/42/notifications", 5000);
	ck_assert_ptr_nonnull(got);
	free(got);
	ck_assert(jw_client_is_connected(victim));

	struct jw_client *admin = admin_connect(&b, NULL);
	expect_counter(admin, "auth/failures/clientid_mismatch", 2);
	expect_counter(admin, "connections/customer/active", 1);
	jw_client_destroy(admin);
	jw_client_destroy(svc);
	jw_client_destroy(victim);
	free(tok42);
	free(tok43);
	free(svc_tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

/* ------------------------------------------------------------- expiry */

static const struct jw_broker_opts no_leeway = {.plugin_opts = "plugin_opt_jwt_leeway 0\n"};

START_TEST(expired_mqtt5_client_is_disconnected_with_0x98_and_its_will_published)
{
	struct jw_broker b;
	jw_broker_start(&b, &no_leeway);
	char *svc_tok = jw_token(&b, "bridge", "service", 600);
	struct jw_client *svc = jw_client_new("service-bridge", 5, true);
	ck_assert_int_eq(jw_client_connect(svc, b.port, svc_tok), 0);
	ck_assert_int_eq(jw_client_subscribe(svc, "driver/+/presence", 1), 1);

	long exp = (long)time(NULL) + 3;
	char claims[256];
	snprintf(claims, sizeof(claims), "{\"sub\":\"7\",\"userType\":\"driver\",\"exp\":%ld}", exp);
	char *drv_tok = jw_token_claims(&b, claims);
	struct jw_client *drv = jw_client_new("driver-7", 5, true);
	jw_client_set_will(drv, "driver/7/presence", "{\"status\":\"offline\",\"ts\":0}", 1, true);
	ck_assert_int_eq(jw_client_connect(drv, b.port, drv_tok), 0);
	ck_assert_int_eq(jw_client_publish(drv, "driver/7/presence", "{\"status\":\"online\",\"ts\":0}", 1, true), 0);
	char *m = jw_client_wait_message(svc, "driver/7/presence", 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(strstr(m, "online"));
	free(m);

	int reason = -1;
	/* bounds are generous on purpose: this proves the disconnect happens
	 * (never before exp), not how fast; a loaded CI machine is slow */
	ck_assert_msg(jw_client_wait_disconnected(drv, 30000, &reason), "expired client still connected");
	long at = realtime_s();
	ck_assert_msg(at >= exp, "disconnected %ld s before its token expired", exp - at);
	ck_assert_msg(at <= exp + 20, "disconnected %ld s after its token expired", at - exp);
	ck_assert_int_eq(reason, RC_ADMINISTRATIVE_ACTION);

	/* expiry is a lost connection: the will says "offline", retained */
	m = jw_client_wait_message(svc, "driver/7/presence", 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(strstr(m, "offline"));
	free(m);
	struct jw_client *admin = admin_connect(&b, NULL);
	ck_assert_int_eq(jw_client_subscribe(admin, "driver/7/presence", 1), 1);
	m = jw_client_wait_message(admin, "driver/7/presence", 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(strstr(m, "offline"));
	free(m);

	expect_log(&b, "jetwire: token expired | client=driver-7 address=127.0.0.1 user=driver:7");
	expect_counter(admin, "auth/expired_disconnects", 1);
	expect_counter(admin, "connections/driver/active", 0);
	jw_client_destroy(admin);
	jw_client_destroy(drv);
	jw_client_destroy(svc);
	free(drv_tok);
	free(svc_tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(expired_mqtt311_and_websocket_clients_are_disconnected)
{
	struct jw_broker b;
	jw_broker_start(&b, &no_leeway);
	long exp = (long)time(NULL) + 3;
	char claims[256];
	snprintf(claims, sizeof(claims), "{\"sub\":\"42\",\"userType\":\"customer\",\"exp\":%ld}", exp);
	char *tok = jw_token_claims(&b, claims);
	char *long_tok = jw_token(&b, "43", "customer", 600);

	struct jw_client *tcp = jw_client_new("customer-42-tcp", 4, true);
	ck_assert_int_eq(jw_client_connect(tcp, b.port, tok), 0);
	struct ws_client *ws = ws_new(b.ws_port, "customer-42-ws", 5);
	ck_assert_int_eq(ws_connect(ws, tok), 0);
	/* a client whose token is still valid stays */
	struct jw_client *other = jw_client_new("customer-43", 5, true);
	ck_assert_int_eq(jw_client_connect(other, b.port, long_tok), 0);

	ck_assert_msg(jw_client_wait_disconnected(tcp, 30000, NULL), "expired 3.1.1 client still connected");
	ck_assert_msg(ws_wait_lost(ws, 10000), "expired WebSocket client still connected");
	long at = realtime_s();
	ck_assert_int_ge(at, exp);
	ck_assert_int_le(at, exp + 20);
	ck_assert(jw_client_is_connected(other));

	struct jw_client *admin = admin_connect(&b, NULL);
	expect_counter(admin, "auth/expired_disconnects", 2);
	expect_counter(admin, "connections/customer/active", 1);
	ck_assert(jw_client_is_connected(other));
	jw_client_destroy(admin);
	jw_client_destroy(other);
	ws_destroy(ws);
	jw_client_destroy(tcp);
	free(tok);
	free(long_tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

/* ------------------------------------------------------------- reauth */

/* Connect a raw MQTT 5 client with enhanced auth "jwt". */
static int raw_connect_jwt(const struct jw_broker *b, const char *client_id, const char *token)
{
	int fd = jw_raw_open(b->port);
	ck_assert_int_ge(fd, 0);
	struct jw_raw_connect_opts o = {.client_id = client_id, .keepalive = 30, .auth_method = "jwt",
		.auth_data = token};
	ck_assert_int_eq(jw_raw_connect(fd, &o, 5000), 0);
	return fd;
}

/* Send AUTH 0x19 with `token`; returns the answer packet (type, reason). */
static void raw_reauth(int fd, const char *token, int *type, int *reason)
{
	ck_assert_int_eq(jw_raw_send_auth(fd, 0x19, "jwt", token), 0);
	struct jw_raw_packet p;
	ck_assert_int_eq(jw_raw_read(fd, &p, 5000), 1);
	*type = p.type;
	*reason = jw_raw_reason(&p);
	jw_raw_packet_free(&p);
}

START_TEST(reauth_with_later_exp_keeps_client_connected_past_original_exp)
{
	struct jw_broker b;
	jw_broker_start(&b, &no_leeway);
	long exp = (long)time(NULL) + 3;
	char claims[256];
	snprintf(claims, sizeof(claims), "{\"sub\":\"42\",\"userType\":\"customer\",\"exp\":%ld}", exp);
	char *short_tok = jw_token_claims(&b, claims);
	char *fresh = jw_token(&b, "42", "customer", 600);

	int fd = raw_connect_jwt(&b, "customer-42", short_tok);
	int type, reason;
	raw_reauth(fd, fresh, &type, &reason);
	ck_assert_int_eq(type, JW_RAW_AUTH);
	ck_assert_int_eq(reason, 0x00);
	expect_log(&b, "jetwire: token refreshed | client=customer-42 user=customer:42");

	/* well past the first token's exp, the connection still works */
	while((long)time(NULL) < exp + 3){
		ck_assert_msg(jw_raw_ping(fd, 5000), "connection lost %ld s after the first token's exp",
				(long)time(NULL) - exp);
		sleep_ms(500);
	}
	ck_assert(jw_raw_ping(fd, 2000));
	ck_assert_int_eq(jw_broker_log_count(&b, "jetwire: token expired"), 0);
	expect_token_not_logged(&b, fresh);

	struct jw_client *admin = admin_connect(&b, NULL);
	expect_counter(admin, "auth/reauthentications", 1);
	expect_counter(admin, "connections/customer/active", 1);
	jw_client_destroy(admin);
	jw_raw_close(fd);
	free(short_tok);
	free(fresh);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

/* A refused re-authentication: 2.0.11 answers with CONNACK 0x87 (not
 * AUTH/DISCONNECT; src/handle_auth.c, fixed in 2.0.13) and closes. */
static void expect_reauth_refused(struct jw_broker *b, int fd, const char *token)
{
	int type, reason;
	raw_reauth(fd, token, &type, &reason);
	ck_assert_int_eq(type, JW_RAW_CONNACK);
	ck_assert_int_eq(reason, RC_NOT_AUTHORIZED);
	ck_assert_msg(jw_raw_wait_closed(fd, 5000), "connection still open after a refused re-authentication");
	expect_token_not_logged(b, token);
}

START_TEST(reauth_with_another_identity_is_refused_and_closed)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *tok = jw_token(&b, "42", "customer", 600);
	char *other_sub = jw_token(&b, "43", "customer", 600);
	char *other_role = jw_token(&b, "42", "driver", 600);

	int fd = raw_connect_jwt(&b, "customer-42", tok);
	expect_reauth_refused(&b, fd, other_sub);
	jw_raw_close(fd);
	fd = raw_connect_jwt(&b, "customer-42", tok);
	expect_reauth_refused(&b, fd, other_role);
	jw_raw_close(fd);

	char line[256];
	refusal_line(line, sizeof(line), "re-authentication", "customer-42", "identity_changed");
	expect_log_count(&b, line, 2, 5000);
	struct jw_client *admin = admin_connect(&b, NULL);
	expect_counter(admin, "auth/failures/identity_changed", 2);
	expect_counter(admin, "auth/reauthentications", 0);
	expect_counter(admin, "connections/customer/active", 0);
	jw_client_destroy(admin);
	free(tok);
	free(other_sub);
	free(other_role);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

START_TEST(reauth_with_expired_token_is_refused_and_closed)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *tok = jw_token(&b, "42", "customer", 600);
	char *expired = jw_token(&b, "42", "customer", -600);
	int fd = raw_connect_jwt(&b, "customer-42", tok);
	expect_reauth_refused(&b, fd, expired);
	jw_raw_close(fd);
	char line[256];
	refusal_line(line, sizeof(line), "re-authentication", "customer-42", "expired");
	expect_log_count(&b, line, 1, 5000);
	struct jw_client *admin = admin_connect(&b, NULL);
	expect_counter(admin, "auth/failures/expired", 1);
	jw_client_destroy(admin);
	free(tok);
	free(expired);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

/* ------------------------------------------------------------- sighup */

START_TEST(sighup_keeps_password_and_enhanced_auth_clients_with_valid_tokens)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *t42 = jw_token(&b, "42", "customer", 600);
	char *t43 = jw_token(&b, "43", "customer", 600);
	char *t44 = jw_token(&b, "44", "customer", 600);
	char *svc_tok = jw_token(&b, "bridge", "service", 600);

	struct jw_client *pw = jw_client_new("customer-42", 5, true);
	ck_assert_int_eq(jw_client_connect(pw, b.port, t42), 0);
	struct jw_client *enh = jw_client_new("customer-43", 5, true);
	ck_assert_int_eq(jw_client_connect_auth(enh, b.port, "jwt", t43), 0);
	struct ws_client *ws = ws_new(b.ws_port, "customer-44", 5);
	ck_assert_int_eq(ws_connect(ws, t44), 0);
	ck_assert_int_eq(jw_client_subscribe(pw, "customer/42/notifications", 1), 1);
	ck_assert_int_eq(jw_client_subscribe(enh, "customer/43/notifications", 1), 1);
	ck_assert_int_eq(ws_subscribe(ws, "customer/44/notifications", 1), 1);

	ck_assert_int_eq(kill(b.pid, SIGHUP), 0);
	expect_log(&b, "Reloading config.");
	expect_log(&b, "jetwire: ACL reloaded");
	sleep_ms(1000);

	ck_assert(jw_client_is_connected(pw));
	ck_assert(jw_client_is_connected(enh));
	ck_assert(!ws_lost(ws, NULL));
	ck_assert_int_eq(jw_broker_log_count(&b, "jetwire: refused"), 0);
	ck_assert_int_eq(jw_broker_log_count(&b, "not authorised"), 0);

	/* and they still receive what they may read */
	struct jw_client *svc = jw_client_new("service-bridge", 5, true);
	ck_assert_int_eq(jw_client_connect(svc, b.port, svc_tok), 0);
	ck_assert_int_eq(jw_client_publish(svc, "customer/42/notifications", "{}", 1, false), 0);
	ck_assert_int_eq(jw_client_publish(svc, "customer/43/notifications", "{}", 1, false), 0);
	ck_assert_int_eq(jw_client_publish(svc, "customer/44/notifications", "{}", 1, false), 0);
	char *m = jw_client_wait_message(pw, "customer/42/notifications", 5000);
	ck_assert_ptr_nonnull(m);
	free(m);
	m = jw_client_wait_message(enh, "customer/43/notifications", 5000);
	ck_assert_ptr_nonnull(m);
	free(m);
	ck_assert(ws_wait_message(ws, "customer/44/notifications", 5000));

	/* re-checking is not reconnecting: the counters did not move */
	struct jw_client *admin = admin_connect(&b, NULL);
	expect_counter(admin, "connections/customer/active", 3);
	expect_counter(admin, "connections/customer/total", 3);
	expect_counter(admin, "auth/failures/total", 0);
	jw_client_destroy(admin);

	jw_client_destroy(svc);
	ws_destroy(ws);
	jw_client_destroy(enh);
	jw_client_destroy(pw);
	free(t42);
	free(t43);
	free(t44);
	free(svc_tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

/* A SIGHUP also re-runs BASIC_AUTH for sessions whose client is offline
 * (src/security_default.c:1254).  Those are not connections: nothing to
 * count, and nothing to refuse -- a refusal there (an enhanced-auth session
 * has no password to re-check) makes 2.0.11 queue the session for expiry a
 * second time (context__disconnect -> session_expiry__add), a dangling
 * entry once the session expires: the broker then crashed with SIGSEGV at
 * shutdown. */
START_TEST(sighup_leaves_offline_sessions_alone)
{
	struct jw_broker b;
	jw_broker_start(&b, NULL);
	char *t45 = jw_token(&b, "45", "customer", 600);
	char *t46 = jw_token(&b, "46", "customer", 600);
	char *t47 = jw_token(&b, "47", "customer", 600);
	char *svc_tok = jw_token(&b, "bridge", "service", 600);

	/* offline sessions: password, enhanced auth kept 60 s, enhanced auth 2 s */
	struct jw_client *pw = jw_client_new("customer-45", 5, false);
	jw_client_set_session_expiry(pw, 2);
	ck_assert_int_eq(jw_client_connect(pw, b.port, t45), 0);
	ck_assert_int_eq(jw_client_subscribe(pw, "customer/45/notifications", 1), 1);
	jw_client_disconnect(pw);
	struct jw_client *enh = jw_client_new("customer-46", 5, false);
	jw_client_set_session_expiry(enh, 60);
	ck_assert_int_eq(jw_client_connect_auth(enh, b.port, "jwt", t46), 0);
	ck_assert_int_eq(jw_client_subscribe(enh, "customer/46/notifications", 1), 1);
	jw_client_disconnect(enh);
	struct jw_client *brief = jw_client_new("customer-47", 5, false);
	jw_client_set_session_expiry(brief, 2);
	ck_assert_int_eq(jw_client_connect_auth(brief, b.port, "jwt", t47), 0);
	ck_assert_int_eq(jw_client_subscribe(brief, "customer/47/notifications", 1), 1);
	jw_client_disconnect(brief);
	expect_log(&b, "Client customer-45 disconnected.");
	expect_log(&b, "Client customer-46 disconnected.");
	expect_log(&b, "Client customer-47 disconnected.");

	ck_assert_int_eq(kill(b.pid, SIGHUP), 0);
	expect_log(&b, "jetwire: ACL reloaded");
	sleep_ms(500);
	ck_assert_int_eq(jw_broker_log_count(&b, "jetwire: refused"), 0);
	ck_assert_int_eq(jw_broker_log_count(&b, "not authorised"), 0);

	struct jw_client *admin = admin_connect(&b, NULL);
	expect_counter(admin, "connections/customer/active", 0);
	expect_counter(admin, "connections/customer/total", 3);
	expect_counter(admin, "auth/failures/total", 0);

	/* the enhanced-auth session is intact: a message queued while offline
	 * arrives when it comes back */
	struct jw_client *svc = jw_client_new("service-bridge", 5, true);
	ck_assert_int_eq(jw_client_connect(svc, b.port, svc_tok), 0);
	ck_assert_int_eq(jw_client_publish(svc, "customer/46/notifications", "{\"id\":\"queued\"}", 1, false), 0);
	ck_assert_int_eq(jw_client_connect_auth(enh, b.port, "jwt", t46), 0);
	char *m = jw_client_wait_message(enh, "customer/46/notifications", 5000);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(strstr(m, "queued"));
	free(m);
	expect_counter(admin, "connections/customer/active", 1);

	/* the short sessions expire normally, and the broker lives on and
	 * shuts down cleanly */
	expect_log(&b, "Expiring client customer-45 due to timeout.");
	expect_log(&b, "Expiring client customer-47 due to timeout.");
	sleep_ms(1500);
	struct jw_client *late = jw_client_new("customer-45", 5, true);
	ck_assert_int_eq(jw_client_connect(late, b.port, t45), 0);
	expect_counter(admin, "connections/customer/active", 2);

	jw_client_destroy(late);
	jw_client_destroy(svc);
	jw_client_destroy(admin);
	jw_client_destroy(brief);
	jw_client_destroy(enh);
	jw_client_destroy(pw);
	free(t45);
	free(t46);
	free(t47);
	free(svc_tok);
	ck_assert_int_eq(jw_broker_stop(&b), 0);
}
END_TEST

/* ------------------------------------------------------------- config */

START_TEST(refuses_to_start_with_per_listener_settings_true)
{
	struct jw_broker_opts o = {.per_listener_settings = true, .expect_start_failure = true};
	struct jw_broker b;
	ck_assert_int_ne(jw_broker_start(&b, &o), 0);
	expect_log(&b, "jetwire: per_listener_settings true is not supported");
}
END_TEST

START_TEST(refuses_to_start_with_inline_secret)
{
	static const char inline_secret[] = "an-inline-secret-that-must-never-be-logged-0123456789";
	char plugin_opts[256];
	snprintf(plugin_opts, sizeof(plugin_opts), "plugin_opt_jwt_secret %s\n", inline_secret);
	struct jw_broker_opts o = {.plugin_opts = plugin_opts, .expect_start_failure = true};
	struct jw_broker b;
	ck_assert_int_ne(jw_broker_start(&b, &o), 0);
	expect_log(&b, "jetwire: option jwt_secret: secrets are not accepted inline in mosquitto.conf");
	ck_assert_int_eq(jw_broker_log_count(&b, inline_secret), 0);
}
END_TEST

START_TEST(refuses_to_start_with_missing_acl_file)
{
	static const char missing[] = "/tmp/jetwire-it-no-such-dir/jetwire.acl";
	char plugin_opts[256];
	snprintf(plugin_opts, sizeof(plugin_opts), "plugin_opt_acl_file %s\n", missing);
	struct jw_broker_opts o = {.plugin_opts = plugin_opts, .expect_start_failure = true};
	struct jw_broker b;
	ck_assert_int_ne(jw_broker_start(&b, &o), 0);
	char line[256];
	snprintf(line, sizeof(line), "jetwire: %s: No such file or directory", missing);
	expect_log(&b, line);
}
END_TEST

START_TEST(refuses_to_start_with_group_writable_secret_file)
{
	char dir[] = "/tmp/jetwire-it-secret-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/jwt.secret", dir);
	write_file(path, "0123456789abcdef0123456789abcdef0123456789abcdef\n", 0660);
	char plugin_opts[256];
	snprintf(plugin_opts, sizeof(plugin_opts), "plugin_opt_jwt_secret_file %s\n", path);
	struct jw_broker_opts o = {.plugin_opts = plugin_opts, .expect_start_failure = true};
	struct jw_broker b;
	ck_assert_int_ne(jw_broker_start(&b, &o), 0);
	char line[320];
	snprintf(line, sizeof(line), "jetwire: jwt secret: %s: secret file is writable by group or others", path);
	expect_log(&b, line);
	ck_assert_int_eq(jw_broker_log_count(&b, "0123456789abcdef0123456789abcdef"), 0);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* ------------------------------------------------------------- main */

static TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return tc;
}

int main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase(s, "accept");
	tcase_add_test(tc, accepts_token_over_tcp_mqtt5_as_customer_colon_sub);
	tcase_add_test(tc, accepts_token_over_tcp_mqtt311_as_customer_colon_sub);
	tcase_add_test(tc, accepts_token_over_websocket_mqtt5_as_customer_colon_sub);
	tcase_add_test(tc, accepts_token_over_websocket_mqtt311_as_customer_colon_sub);
	tcase_add_test(tc, accepts_enhanced_auth_with_method_jwt);
	tcase_add_test(tc, refuses_enhanced_auth_with_another_method_as_bad_method);
	tcase_add_test(tc, refuses_enhanced_auth_with_bad_token_as_not_authorized);
	tcase_add_test(tc, admin_and_service_are_exempt_from_clientid_binding);
	tcase_add_test(tc, admin_is_bound_to_its_clientid_when_not_exempted);

	tc = tcase(s, "refuse");
	tcase_add_test(tc, refuses_expired_token);
	tcase_add_test(tc, refuses_token_signed_with_another_secret);
	tcase_add_test(tc, refuses_hs512_token_when_hs256_pinned);
	tcase_add_test(tc, refuses_hs256_token_signed_with_public_key_when_rs256_pinned);
	tcase_add_test(tc, refuses_alg_none_token);
	tcase_add_test(tc, refuses_malformed_token);
	tcase_add_test(tc, refuses_connect_without_password);
	tcase_add_test(tc, refuses_64k_password_as_too_long);
	tcase_add_test(tc, refuses_unknown_role);
	tcase_add_test(tc, refuses_sub_that_is_not_one_topic_level);
	tcase_add_test(tc, refuses_clientid_of_another_user);
	tcase_add_test(tc, refuses_clientid_takeover_and_keeps_the_original_connected);

	tc = tcase(s, "expiry");
	tcase_add_test(tc, expired_mqtt5_client_is_disconnected_with_0x98_and_its_will_published);
	tcase_add_test(tc, expired_mqtt311_and_websocket_clients_are_disconnected);

	tc = tcase(s, "reauth");
	tcase_add_test(tc, reauth_with_later_exp_keeps_client_connected_past_original_exp);
	tcase_add_test(tc, reauth_with_another_identity_is_refused_and_closed);
	tcase_add_test(tc, reauth_with_expired_token_is_refused_and_closed);

	tc = tcase(s, "sighup");
	tcase_add_test(tc, sighup_keeps_password_and_enhanced_auth_clients_with_valid_tokens);
	tcase_add_test(tc, sighup_leaves_offline_sessions_alone);

	tc = tcase(s, "config");
	tcase_add_test(tc, refuses_to_start_with_per_listener_settings_true);
	tcase_add_test(tc, refuses_to_start_with_inline_secret);
	tcase_add_test(tc, refuses_to_start_with_missing_acl_file);
	tcase_add_test(tc, refuses_to_start_with_group_writable_secret_file);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
