/*
 * customer_paho — a customer app's real-time connection to jetwire, with the
 * Eclipse Paho C client (MQTTAsync, MQTT 5).  It prints every order status,
 * driver assignment and notification the customer receives, one line each:
 *
 *     order/1001/status {"orderId":"1001",...,"status":"PENDING",...,"version":1,...}
 *
 * What it shows (docs/client-guide.md explains each point):
 *   - client id "customer-{sub}", the platform's JWT as the password;
 *   - clean start = false and a session expiry, so QoS 1 messages published
 *     while the phone was offline are delivered when it comes back;
 *   - subscribing with wildcards (each delivery is authorised by the broker),
 *     at start and whenever the broker kept no session;
 *   - dropping copies whose version is at or below the one already held;
 *   - reconnecting with exponential backoff and jitter, re-reading the token
 *     at every attempt;
 *   - token refresh: paho 1.3 cannot send an MQTT 5 AUTH packet, so when the
 *     token file changes the app disconnects and reconnects with the new
 *     token (clean start = false keeps the session and its queued messages).
 *
 * Build (Debian: apt-get install libpaho-mqtt-dev):
 *     cc -Wall -Wextra -Werror -std=c11 -o customer_paho customer_paho.c -lpaho-mqtt3as
 * Run:
 *     customer_paho [-H HOST] [-p PORT] [-n COUNT] SUB TOKEN_FILE
 *   SUB         the customer's id, as in the token's "sub" claim
 *   TOKEN_FILE  a file holding the customer's current JWT; whatever refreshes
 *               the token writes the new one there (the app's token store)
 *   -n COUNT    exit 0 after printing COUNT messages (default: run until
 *               SIGINT/SIGTERM)
 *
 * Callbacks run on paho's threads: they print and post events to a pipe; the
 * main thread owns connecting, backoff and shutdown.
 */
#define _POSIX_C_SOURCE 200809L
#include <MQTTAsync.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SESSION_EXPIRY_S 3600          /* the broker keeps the session an hour */
#define KEEPALIVE_S 30
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define MAX_TRACKED 4096               /* (topic, role) -> version entries */

enum event_kind { EV_CONNECTED, EV_CONNECT_FAILED, EV_LOST, EV_DISCONNECTED, EV_DONE };
struct event {
	enum event_kind kind;
	int code;                         /* CONNACK/DISCONNECT reason; session present for EV_CONNECTED */
};

static int event_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_signal;
static MQTTAsync client;
static char filters[3][300];
static long max_messages;              /* 0: no limit */
static long printed;                   /* paho's receive thread only */
static bool subscribed_once;           /* paho's threads only, one at a time */

/* ---- events: paho's threads -> main ---- */

static void post(enum event_kind kind, int code)
{
	struct event ev = {kind, code};
	/* one write of a few bytes to a pipe is atomic */
	if (write(event_pipe[1], &ev, sizeof(ev)) != (ssize_t)sizeof(ev))
		fprintf(stderr, "customer: cannot post an event: %s\n", strerror(errno));
}

static void on_signal(int sig)
{
	stop_signal = sig;
	struct event ev = {EV_DONE, 0};
	ssize_t n = write(event_pipe[1], &ev, sizeof(ev));   /* async-signal-safe */
	(void)n;
}

/* ---- de-duplication by version ----
 * The bridge delivers at least once and a subscriber also gets the retained
 * copy again when it subscribes: drop what is not newer than what we hold.
 * order/{id}/driver carries one message per role (pickup, delivery), which
 * may share a version, so the key there is topic + role. */

struct held {
	char key[320];
	long long version;
};
static struct held held_versions[MAX_TRACKED];
static size_t n_held;

/* The integer value of a top-level "name": in the bridge's compact JSON.
 * A real app parses the payload with its JSON library. */
static bool json_int(const char *json, const char *name, long long *out)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", name);
	const char *p = strstr(json, pat);
	if (!p)
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(p + strlen(pat), &end, 10);
	if (errno || end == p + strlen(pat))
		return false;
	*out = v;
	return true;
}

static bool is_new(const char *topic, const char *payload)
{
	long long version;
	if (!json_int(payload, "version", &version))
		return true;              /* notifications carry no version */
	char key[320];
	const char *role = strstr(payload, "\"role\":\"delivery\"") ? "delivery" : "pickup";
	snprintf(key, sizeof(key), "%s%s%s", topic, strstr(topic, "/driver") ? "#" : "",
			strstr(topic, "/driver") ? role : "");
	for (size_t i = 0; i < n_held; i++) {
		if (strcmp(held_versions[i].key, key) == 0) {
			if (version <= held_versions[i].version)
				return false;
			held_versions[i].version = version;
			return true;
		}
	}
	if (n_held < MAX_TRACKED) {
		snprintf(held_versions[n_held].key, sizeof(held_versions[n_held].key), "%s", key);
		held_versions[n_held++].version = version;
	}
	return true;
}

/* ---- paho callbacks ---- */

static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *msg)
{
	(void)context;
	(void)topic_len;
	char *payload = malloc((size_t)msg->payloadlen + 1);
	if (payload) {
		memcpy(payload, msg->payload, (size_t)msg->payloadlen);
		payload[msg->payloadlen] = '\0';
		if (max_messages > 0 && printed >= max_messages) {
			/* done: print nothing more while main shuts down */
		} else if (msg->payloadlen == 0) {
			/* an empty retained message: the bridge cleared the order (deleted) */
			printf("%s (cleared)\n", topic);
			printed++;
		} else if (is_new(topic, payload)) {
			printf("%s %s\n", topic, payload);
			printed++;
		}
		fflush(stdout);
		free(payload);
	}
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	if (max_messages > 0 && printed == max_messages)
		post(EV_DONE, 0);
	return 1;
}

static void on_subscribed(void *context, MQTTAsync_successData5 *resp)
{
	(void)context;
	/* one reason code per filter: the granted QoS, or >= 0x80 if refused */
	for (int i = 0; resp && i < resp->alt.sub.reasonCodeCount && i < 3; i++) {
		int rc = (int)resp->alt.sub.reasonCodes[i];
		if (rc >= 0x80)
			fprintf(stderr, "customer: subscription to %s refused: 0x%02x %s\n", filters[i], (unsigned)rc,
					MQTTReasonCode_toString((enum MQTTReasonCodes)rc));
	}
}

static void on_subscribe_failed(void *context, MQTTAsync_failureData5 *resp)
{
	(void)context;
	fprintf(stderr, "customer: subscribe failed: %s (reason 0x%02x)\n",
			resp && resp->message ? resp->message : "no SUBACK",
			resp ? (unsigned)resp->reasonCode : 0u);
}

static void subscribe_all(void)
{
	char *topics[3] = {filters[0], filters[1], filters[2]};
	int qos[3] = {1, 1, 1};
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess5 = on_subscribed;
	ro.onFailure5 = on_subscribe_failed;
	int rc = MQTTAsync_subscribeMany(client, 3, topics, qos, &ro);
	if (rc != MQTTASYNC_SUCCESS)
		fprintf(stderr, "customer: cannot subscribe: %s\n", MQTTAsync_strerror(rc));
}

static void on_connected(void *context, MQTTAsync_successData5 *resp)
{
	(void)context;
	int present = resp ? resp->alt.connect.sessionPresent : 0;
	/* A kept session still has its subscriptions, and the broker delivers
	 * what was queued while we were away.  Subscribe when it has none, and
	 * once per process: subscribing is what sends the retained state. */
	if (!present || !subscribed_once) {
		subscribe_all();
		subscribed_once = true;
	}
	post(EV_CONNECTED, present);
}

static void on_connect_failed(void *context, MQTTAsync_failureData5 *resp)
{
	(void)context;
	/* paho 1.3.12 reports a refusing CONNACK's reason in `code` (reasonCode 0) */
	int code = -1;
	if (resp && resp->reasonCode >= 0x80)
		code = (int)resp->reasonCode;
	else if (resp && resp->code >= 0x80 && resp->code <= 0xff)
		code = resp->code;
	else
		fprintf(stderr, "customer: cannot connect: %s\n",
				resp && resp->message ? resp->message : "no answer");
	post(EV_CONNECT_FAILED, code);
}

static void on_disconnected(void *context, MQTTProperties *props, enum MQTTReasonCodes reason)
{
	(void)context;
	(void)props;
	/* the server sent DISCONNECT: 0x98 when the token expired */
	post(EV_LOST, (int)reason);
}

static void on_connection_lost(void *context, char *cause)
{
	(void)context;
	fprintf(stderr, "customer: connection lost: %s\n", cause ? cause : "closed");
	post(EV_LOST, -1);
}

/* ---- main thread ---- */

static char *read_token(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "customer: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	if (n == 0) {
		fprintf(stderr, "customer: %s is empty\n", path);
		return NULL;
	}
	return strdup(buf);
}

static long long mtime_ns(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

static int start_connect(const char *token_file, MQTTProperties *props, char **password)
{
	free(*password);
	*password = read_token(token_file);
	if (!*password)
		return -1;
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer5;
	co.cleanstart = 0;
	co.keepAliveInterval = KEEPALIVE_S;
	co.username = "jwt";                /* free text; MQTT 3.1.1 needs one with a password */
	co.password = *password;
	co.connectProperties = props;
	co.automaticReconnect = 0;          /* our own backoff, with jitter */
	co.onSuccess5 = on_connected;
	co.onFailure5 = on_connect_failed;
	int rc = MQTTAsync_connect(client, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "customer: cannot start connecting: %s\n", MQTTAsync_strerror(rc));
		return -1;
	}
	return 0;
}

/* Exponential backoff with "equal jitter": half fixed, half random, so a
 * fleet of phones that lost the broker together does not return together. */
static int backoff_ms(int attempt)
{
	long d = BACKOFF_MIN_MS;
	for (int i = 0; i < attempt && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	return (int)(d / 2 + rand() % (d / 2 + 1));
}

static void on_disconnect_done(void *context, MQTTAsync_successData5 *resp)
{
	(void)context;
	(void)resp;
	post(EV_DISCONNECTED, 0);
}

static void on_disconnect_failed(void *context, MQTTAsync_failureData5 *resp)
{
	(void)context;
	(void)resp;
	post(EV_DISCONNECTED, -1);
}

/* A normal DISCONNECT (reason 0): the session stays on the broker for
 * SESSION_EXPIRY_S, and a last will (a customer has none) is not sent. */
static bool disconnect_now(void)
{
	MQTTAsync_disconnectOptions dc = MQTTAsync_disconnectOptions_initializer5;
	dc.timeout = 1000;
	dc.onSuccess5 = on_disconnect_done;
	dc.onFailure5 = on_disconnect_failed;
	return MQTTAsync_disconnect(client, &dc) == MQTTASYNC_SUCCESS;
}

static void usage(void)
{
	fprintf(stderr, "usage: customer_paho [-H HOST] [-p PORT] [-n COUNT] SUB TOKEN_FILE\n");
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 1883;
	int opt;
	while ((opt = getopt(argc, argv, "H:p:n:")) != -1) {
		char *end;
		switch (opt) {
		case 'H': host = optarg; break;
		case 'p':
			port = (int)strtol(optarg, &end, 10);
			if (*end || port < 1 || port > 65535) {
				usage();
				return 2;
			}
			break;
		case 'n':
			max_messages = strtol(optarg, &end, 10);
			if (*end || max_messages < 1) {
				usage();
				return 2;
			}
			break;
		default: usage(); return 2;
		}
	}
	if (argc - optind != 2) {
		usage();
		return 2;
	}
	const char *sub = argv[optind], *token_file = argv[optind + 1];
	if (!*sub || strpbrk(sub, "/+#")) {
		fprintf(stderr, "customer: SUB must be one topic level\n");
		return 2;
	}

	/* The client id must be customer-{sub} (or customer-{sub}-{device}). */
	char client_id[256], uri[300];
	snprintf(client_id, sizeof(client_id), "customer-%s", sub);
	snprintf(uri, sizeof(uri), "tcp://%s:%d", host, port);   /* ssl://, ws://, wss:// also work */
	snprintf(filters[0], sizeof(filters[0]), "order/+/status");
	snprintf(filters[1], sizeof(filters[1]), "order/+/driver");
	snprintf(filters[2], sizeof(filters[2]), "customer/%s/notifications", sub);

	if (pipe(event_pipe) != 0) {
		perror("customer: pipe");
		return 1;
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());

	MQTTAsync_createOptions cro = MQTTAsync_createOptions_initializer5;
	/* no client-side persistence: the broker's session is the buffer */
	int rc = MQTTAsync_createWithOptions(&client, uri, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &cro);
	if (rc != MQTTASYNC_SUCCESS) {
		fprintf(stderr, "customer: cannot create the client: %s\n", MQTTAsync_strerror(rc));
		return 1;
	}
	MQTTAsync_setCallbacks(client, NULL, on_connection_lost, on_message, NULL);
	MQTTAsync_setDisconnected(client, NULL, on_disconnected);

	MQTTProperties props = MQTTProperties_initializer;
	MQTTProperty expiry = {.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL};
	expiry.value.integer4 = SESSION_EXPIRY_S;
	MQTTProperties_add(&props, &expiry);

	char *password = NULL;
	bool connected = false, connecting = false, refreshing = false;
	int attempt = 0;
	long long token_mtime = mtime_ns(token_file);
	struct timespec now;
	long long next_try = 0;             /* monotonic ms of the next connect attempt */

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long now_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
		if (stop_signal)
			break;
		if (!connected && !connecting && !refreshing && now_ms >= next_try) {
			token_mtime = mtime_ns(token_file);
			if (start_connect(token_file, &props, &password) == 0) {
				connecting = true;
			} else {
				next_try = now_ms + backoff_ms(attempt++);
			}
		}
		/* Token refresh: a new token in the file -> reconnect with it. */
		if (connected && mtime_ns(token_file) != token_mtime) {
			fprintf(stderr, "customer: new token: reconnecting with it\n");
			connected = false;
			refreshing = disconnect_now();   /* reconnect once paho confirms */
		}

		struct pollfd pfd = {.fd = event_pipe[0], .events = POLLIN};
		int timeout = 1000;
		if (!connected && !connecting && next_try > now_ms && next_try - now_ms < timeout)
			timeout = (int)(next_try - now_ms);
		if (poll(&pfd, 1, timeout) <= 0)
			continue;
		struct event ev;
		if (read(event_pipe[0], &ev, sizeof(ev)) != (ssize_t)sizeof(ev))
			continue;
		switch (ev.kind) {
		case EV_CONNECTED:
			connecting = false;
			connected = true;
			attempt = 0;
			fprintf(stderr, "customer: connected as %s (session present: %s)\n", client_id,
					ev.code ? "yes" : "no");
			break;
		case EV_CONNECT_FAILED:
			connecting = false;
			if (ev.code == 0x87)
				fprintf(stderr, "customer: CONNACK 0x87 not authorized: the token was refused "
						"(expired, wrong key, or the client id does not match it); "
						"get a new token into %s\n", token_file);
			else if (ev.code >= 0x80)
				fprintf(stderr, "customer: CONNACK 0x%02x %s\n", (unsigned)ev.code,
						MQTTReasonCode_toString((enum MQTTReasonCodes)ev.code));
			next_try = now_ms + backoff_ms(attempt++);
			break;
		case EV_LOST:
			if (ev.code == 0x98)
				fprintf(stderr, "customer: DISCONNECT 0x98 administrative action: the token "
						"expired; reconnecting with the token in %s\n", token_file);
			else if (ev.code > 0)
				fprintf(stderr, "customer: DISCONNECT 0x%02x %s\n", (unsigned)ev.code,
						MQTTReasonCode_toString((enum MQTTReasonCodes)ev.code));
			if (connected || connecting) {
				connected = connecting = false;
				next_try = now_ms + backoff_ms(attempt++);
			}
			break;
		case EV_DISCONNECTED:
			refreshing = false;
			next_try = now_ms;          /* at once, with the new token */
			break;
		case EV_DONE:
			goto out;
		}
	}
out:
	if (stop_signal)
		fprintf(stderr, "customer: signal %d: disconnecting\n", (int)stop_signal);
	if (MQTTAsync_isConnected(client) && disconnect_now()) {
		/* wait (at most 2 s) for the DISCONNECT to be sent */
		for (int i = 0; i < 20; i++) {
			struct pollfd pfd = {.fd = event_pipe[0], .events = POLLIN};
			struct event ev;
			if (poll(&pfd, 1, 100) == 1 && read(event_pipe[0], &ev, sizeof(ev)) == (ssize_t)sizeof(ev) &&
					ev.kind == EV_DISCONNECTED)
				break;
		}
	}
	MQTTAsync_destroy(&client);
	MQTTProperties_free(&props);
	free(password);
	close(event_pipe[0]);
	close(event_pipe[1]);
	return 0;
}
