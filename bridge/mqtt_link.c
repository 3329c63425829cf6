/*
 * mqtt_link — see mqtt_link.h.  Everything paho calls back is copied into
 * a mutex-protected FIFO; the eventfd counts as "something is queued".
 */
#define _GNU_SOURCE
#include "mqtt_link.h"

#include <MQTTAsync.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct queued_event {
	struct jwb_mqtt_event ev;
	struct queued_event *next;
};

/* The context of one publish or subscribe: paho hands it back to the
 * response callback.  Kept on a list so the ones paho never answers (the
 * client destroyed with requests outstanding) are freed too. */
struct request_ctx {
	struct jwb_mqtt *m;
	uint64_t tag;
	bool subscribe;
	struct request_ctx *prev, *next;
};

struct jwb_mqtt {
	MQTTAsync client;
	struct jwb_mqtt_options opt;
	char *client_id;
	char *password;          /* kept alive while a connect is in progress */
	int efd;
	pthread_mutex_t lock;
	struct queued_event *head, *tail;
	size_t queued_qos0;      /* droppable() messages in the queue (under lock) */
	uint64_t dropped;        /* under lock */
	struct request_ctx *requests;
	MQTTProperties connect_props;
};

static bool droppable(const struct jwb_mqtt_event *ev)
{
	return ev->kind == JWB_MQTT_MESSAGE && ev->qos == 0 && !ev->retained;
}

static void push(struct jwb_mqtt *m, const struct jwb_mqtt_event *ev)
{
	struct queued_event *q = calloc(1, sizeof(*q));
	if (!q)
		return;   /* out of memory: the loop notices the missing ack by its timeout */
	q->ev = *ev;
	pthread_mutex_lock(&m->lock);
	if (droppable(ev)) {
		/* Bounded: a flood of live QoS 0 driver locations (each superseded
		 * by the driver's next one) must not grow the bridge without limit
		 * while its loop is behind -- e.g. PostgreSQL is slow.  QoS 1
		 * messages, acknowledgements and retained copies (a driver's last
		 * position from while the bridge was away) are never dropped. */
		if (m->opt.qos0_queue_max > 0 && m->queued_qos0 >= (size_t)m->opt.qos0_queue_max) {
			m->dropped++;
			pthread_mutex_unlock(&m->lock);
			jwb_mqtt_event_clear(&q->ev);
			free(q);
			return;
		}
		m->queued_qos0++;
	}
	bool was_empty = m->head == NULL;
	if (m->tail)
		m->tail->next = q;
	else
		m->head = q;
	m->tail = q;
	pthread_mutex_unlock(&m->lock);
	/* Signal only the empty -> non-empty transition: the loop resets the
	 * eventfd only when it finds the queue empty, and a syscall per PUBACK
	 * was measurable. */
	if (was_empty) {
		uint64_t one = 1;
		ssize_t w = write(m->efd, &one, sizeof(one));
		(void)w;  /* cannot fail for an eventfd short of overflow */
	}
}

static void push_simple(struct jwb_mqtt *m, enum jwb_mqtt_event_kind kind, uint64_t tag, int code,
		const char *text)
{
	struct jwb_mqtt_event ev = {.kind = kind, .tag = tag, .code = code};
	if (text)
		snprintf(ev.text, sizeof(ev.text), "%s", text);
	push(m, &ev);
}

static struct request_ctx *request_new(struct jwb_mqtt *m, uint64_t tag, bool subscribe)
{
	struct request_ctx *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->m = m;
	r->tag = tag;
	r->subscribe = subscribe;
	pthread_mutex_lock(&m->lock);
	r->next = m->requests;
	if (m->requests)
		m->requests->prev = r;
	m->requests = r;
	pthread_mutex_unlock(&m->lock);
	return r;
}

static void request_free(struct request_ctx *r)
{
	struct jwb_mqtt *m = r->m;
	pthread_mutex_lock(&m->lock);
	if (r->prev)
		r->prev->next = r->next;
	else
		m->requests = r->next;
	if (r->next)
		r->next->prev = r->prev;
	pthread_mutex_unlock(&m->lock);
	free(r);
}

/* Is `peer` one of the addresses `host`:`port` resolves to? */
static bool peer_is_broker(const struct sockaddr_storage *peer, const char *host, int port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *list = NULL;
	char service[16];
	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(host, service, &hints, &list) != 0)
		return false;
	bool match = false;
	for (struct addrinfo *a = list; a && !match; a = a->ai_next) {
		if (a->ai_family != peer->ss_family)
			continue;
		if (a->ai_family == AF_INET) {
			const struct sockaddr_in *x = (const void *)a->ai_addr, *y = (const void *)peer;
			match = x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
		} else if (a->ai_family == AF_INET6) {
			const struct sockaddr_in6 *x = (const void *)a->ai_addr, *y = (const void *)peer;
			match = x->sin6_port == y->sin6_port &&
					memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
		}
	}
	freeaddrinfo(list);
	return match;
}

/*
 * paho 1.3.12 neither sets TCP_NODELAY on its socket nor exposes it, and
 * the bridge's traffic is small QoS 1 messages: with Nagle's algorithm each
 * one can wait for the previous PUBACK, and commit-to-delivery latency was
 * measured spread evenly over 0..43 ms at 100 changes/s (p99 9 ms with
 * TCP_NODELAY).  So find the process's TCP socket connected to the broker
 * and set it.  Returns how many sockets were changed.
 */
static int set_nodelay_on_broker_socket(const struct jwb_mqtt *m)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	int changed = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name || fd == dirfd(d))
			continue;
		struct stat st;
		int type = 0;
		socklen_t len = sizeof(type);
		if (fstat((int)fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
		    getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
			continue;
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		if (getpeername((int)fd, (struct sockaddr *)&peer, &plen) != 0 ||
		    (peer.ss_family != AF_INET && peer.ss_family != AF_INET6) ||
		    !peer_is_broker(&peer, m->opt.host, m->opt.port))
			continue;
		int one = 1;
		if (setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0)
			changed++;
	}
	closedir(d);
	return changed;
}

/* ---- paho callbacks (paho's threads: copy and signal, nothing else) ---- */

static void on_connection_lost(void *context, char *cause)
{
	push_simple(context, JWB_MQTT_LOST, 0, 0, cause ? cause : "connection lost");
}

static void on_disconnected(void *context, MQTTProperties *props, enum MQTTReasonCodes reason)
{
	(void)props;
	char text[96];
	snprintf(text, sizeof(text), "server sent DISCONNECT: reason 0x%02x %s", (unsigned)reason,
			jwb_mqtt_reason((int)reason));
	push_simple(context, JWB_MQTT_LOST, 0, (int)reason, text);
}

static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct jwb_mqtt *m = context;
	struct jwb_mqtt_event ev = {.kind = JWB_MQTT_MESSAGE, .retained = msg->retained != 0, .qos = msg->qos};
	size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	size_t plen = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	ev.topic = malloc(tlen + 1);
	ev.payload = malloc(plen + 1);
	if (ev.topic && ev.payload) {
		memcpy(ev.topic, topic, tlen);
		ev.topic[tlen] = '\0';
		if (plen)
			memcpy(ev.payload, msg->payload, plen);
		ev.payload[plen] = '\0';
		ev.payload_len = plen;
		push(m, &ev);
	} else {
		free(ev.topic);
		free(ev.payload);
	}
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static void on_connect_ok(void *context, MQTTAsync_successData5 *resp)
{
	struct jwb_mqtt *m = context;
	struct jwb_mqtt_event ev = {.kind = JWB_MQTT_CONNECTED,
		.session_present = resp && resp->alt.connect.sessionPresent, .receive_maximum = 65535};
	ev.code = set_nodelay_on_broker_socket(m);
	if (resp && MQTTProperties_hasProperty(&resp->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM))
		ev.receive_maximum = MQTTProperties_getNumericValue(&resp->properties,
				MQTTPROPERTY_CODE_RECEIVE_MAXIMUM);
	push(m, &ev);
}

static void on_connect_fail(void *context, MQTTAsync_failureData5 *resp)
{
	struct jwb_mqtt *m = context;
	char text[160];
	/* A refusing CONNACK: paho 1.3.12 puts its reason code in `code`
	 * (reasonCode stays 0) with the message "CONNACK return code". */
	int code = -1;
	if (resp && resp->reasonCode >= 0x80)
		code = (int)resp->reasonCode;
	else if (resp && resp->code >= 0x80 && resp->code <= 0xff)
		code = resp->code;
	if (code >= 0x80)
		snprintf(text, sizeof(text), "CONNACK 0x%02x %s", (unsigned)code, jwb_mqtt_reason(code));
	else
		snprintf(text, sizeof(text), "%s (paho code %d)",
				resp && resp->message ? resp->message : "connect failed",
				resp ? resp->code : -1);
	push_simple(m, JWB_MQTT_CONNECT_FAILED, 0, code, text);
}

static void on_request_ok(void *context, MQTTAsync_successData5 *resp)
{
	struct request_ctx *r = context;
	struct jwb_mqtt_event ev = {.tag = r->tag};
	if (r->subscribe) {
		ev.kind = JWB_MQTT_SUBSCRIBED;
		ev.code = resp ? (int)resp->reasonCode : 0;
	} else {
		ev.kind = JWB_MQTT_ACKED;
		ev.code = resp ? (int)resp->reasonCode : 0;
	}
	struct jwb_mqtt *m = r->m;
	request_free(r);
	push(m, &ev);
}

static void on_request_fail(void *context, MQTTAsync_failureData5 *resp)
{
	struct request_ctx *r = context;
	struct jwb_mqtt_event ev = {.tag = r->tag};
	ev.kind = r->subscribe ? JWB_MQTT_SUBSCRIBED : JWB_MQTT_REFUSED;
	/* A broker refusal carries a reason code >= 0x80; a local failure
	 * (connection gone, MQTTASYNC_OPERATION_INCOMPLETE) only paho's code. */
	if (resp && resp->reasonCode >= 0x80) {
		ev.code = (int)resp->reasonCode;
		snprintf(ev.text, sizeof(ev.text), "reason 0x%02x %s", (unsigned)resp->reasonCode,
				jwb_mqtt_reason((int)resp->reasonCode));
	} else {
		ev.code = -1;
		snprintf(ev.text, sizeof(ev.text), "not completed (paho code %d%s%s)",
				resp ? resp->code : -1, resp && resp->message ? ": " : "",
				resp && resp->message ? resp->message : "");
	}
	struct jwb_mqtt *m = r->m;
	request_free(r);
	push(m, &ev);
}

/* ---- API ---- */

struct jwb_mqtt *jwb_mqtt_create(const struct jwb_mqtt_options *opt, char *errbuf, size_t errlen)
{
	struct jwb_mqtt *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	m->opt = *opt;
	m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&m->lock, NULL);
	m->client_id = strdup(opt->client_id);
	char uri[300];
	snprintf(uri, sizeof(uri), "tcp://%s:%d", opt->host, opt->port);
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer5;
	/* paho counts requests not yet written as "buffered", connected or not:
	 * leave room for a full window of publishes plus control traffic. */
	co.maxBufferedMessages = opt->max_inflight * 4 + 64;
	if (m->efd < 0 || !m->client_id) {
		snprintf(errbuf, errlen, "cannot create the MQTT client: %s", strerror(errno));
		jwb_mqtt_destroy(m);
		return NULL;
	}
	int rc = MQTTAsync_createWithOptions(&m->client, uri, m->client_id, MQTTCLIENT_PERSISTENCE_NONE,
			NULL, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(errbuf, errlen, "cannot create the MQTT client for %s: %s", uri,
				MQTTAsync_strerror(rc));
		m->client = NULL;
		jwb_mqtt_destroy(m);
		return NULL;
	}
	MQTTAsync_setCallbacks(m->client, m, on_connection_lost, on_message, NULL);
	MQTTAsync_setDisconnected(m->client, m, on_disconnected);
	return m;
}

void jwb_mqtt_destroy(struct jwb_mqtt *m)
{
	if (!m)
		return;
	if (m->client)
		MQTTAsync_destroy(&m->client);
	struct jwb_mqtt_event ev;
	while (jwb_mqtt_next_event(m, &ev))
		jwb_mqtt_event_clear(&ev);
	while (m->requests) {
		struct request_ctx *r = m->requests;
		m->requests = r->next;
		free(r);
	}
	MQTTProperties_free(&m->connect_props);
	if (m->efd >= 0)
		close(m->efd);
	pthread_mutex_destroy(&m->lock);
	free(m->client_id);
	free(m->password);
	free(m);
}

int jwb_mqtt_fd(const struct jwb_mqtt *m)
{
	return m->efd;
}

int jwb_mqtt_connect(struct jwb_mqtt *m, const char *password, char *errbuf, size_t errlen)
{
	free(m->password);
	m->password = strdup(password);
	if (!m->password) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	MQTTProperties_free(&m->connect_props);
	MQTTProperties empty = MQTTProperties_initializer;
	m->connect_props = empty;
	MQTTProperty p = {.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL};
	p.value.integer4 = (unsigned)m->opt.session_expiry;
	MQTTProperties_add(&m->connect_props, &p);

	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer5;
	co.keepAliveInterval = m->opt.keepalive;
	co.cleanstart = 0;            /* a durable session: "session present" tells us the broker kept it */
	co.maxInflight = m->opt.max_inflight;
	co.username = "jwt";
	co.password = m->password;
	co.connectTimeout = 10;
	co.automaticReconnect = 0;    /* the bridge reconnects itself, with its own backoff */
	co.connectProperties = &m->connect_props;
	co.onSuccess5 = on_connect_ok;
	co.onFailure5 = on_connect_fail;
	co.context = m;
	int rc = MQTTAsync_connect(m->client, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(errbuf, errlen, "cannot start connecting: %s", MQTTAsync_strerror(rc));
		return -1;
	}
	return 0;
}

static void on_disconnect_done(void *context, MQTTAsync_successData5 *resp)
{
	(void)resp;
	push_simple(context, JWB_MQTT_DISCONNECTED, 0, 0, "disconnected");
}

static void on_disconnect_failed(void *context, MQTTAsync_failureData5 *resp)
{
	(void)resp;
	push_simple(context, JWB_MQTT_DISCONNECTED, 0, -1, "disconnect failed");
}

void jwb_mqtt_disconnect(struct jwb_mqtt *m, int timeout_ms)
{
	MQTTAsync_disconnectOptions dc = MQTTAsync_disconnectOptions_initializer5;
	dc.timeout = timeout_ms;
	dc.onSuccess5 = on_disconnect_done;
	dc.onFailure5 = on_disconnect_failed;
	dc.context = m;
	if (MQTTAsync_disconnect(m->client, &dc) != MQTTASYNC_SUCCESS)
		push_simple(m, JWB_MQTT_DISCONNECTED, 0, -1, "not connected");
}

int jwb_mqtt_publish(struct jwb_mqtt *m, const char *topic, const void *payload, size_t len,
		int qos, bool retain, uint32_t expiry_s, uint64_t tag)
{
	struct request_ctx *r = request_new(m, tag, false);
	if (!r)
		return -1;
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	msg.payload = (void *)payload;
	msg.payloadlen = (int)len;
	msg.qos = qos;
	msg.retained = retain ? 1 : 0;
	MQTTProperties props = MQTTProperties_initializer;
	if (expiry_s > 0) {
		MQTTProperty p = {.identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL};
		p.value.integer4 = expiry_s;
		MQTTProperties_add(&props, &p);
	}
	msg.properties = props;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess5 = on_request_ok;
	ro.onFailure5 = on_request_fail;
	ro.context = r;
	int rc = MQTTAsync_sendMessage(m->client, topic, &msg, &ro);
	MQTTProperties_free(&props);
	if (rc != MQTTASYNC_SUCCESS) {
		request_free(r);
		return -1;
	}
	return 0;
}

int jwb_mqtt_subscribe(struct jwb_mqtt *m, const char *filter, int qos, uint64_t tag)
{
	struct request_ctx *r = request_new(m, tag, true);
	if (!r)
		return -1;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess5 = on_request_ok;
	ro.onFailure5 = on_request_fail;
	ro.context = r;
	int rc = MQTTAsync_subscribe(m->client, filter, qos, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		request_free(r);
		return -1;
	}
	return 0;
}

int jwb_mqtt_unsubscribe(struct jwb_mqtt *m, const char *filter)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	return MQTTAsync_unsubscribe(m->client, filter, &ro) == MQTTASYNC_SUCCESS ? 0 : -1;
}

bool jwb_mqtt_next_event(struct jwb_mqtt *m, struct jwb_mqtt_event *ev)
{
	pthread_mutex_lock(&m->lock);
	struct queued_event *q = m->head;
	if (q) {
		m->head = q->next;
		if (!m->head)
			m->tail = NULL;
		if (droppable(&q->ev))
			m->queued_qos0--;
	} else {
		/* Queue empty: reset the eventfd so poll() sleeps until the next push. */
		uint64_t v;
		ssize_t r = read(m->efd, &v, sizeof(v));
		(void)r;
	}
	pthread_mutex_unlock(&m->lock);
	if (!q)
		return false;
	*ev = q->ev;
	free(q);
	return true;
}

uint64_t jwb_mqtt_dropped(struct jwb_mqtt *m)
{
	pthread_mutex_lock(&m->lock);
	uint64_t n = m->dropped;
	pthread_mutex_unlock(&m->lock);
	return n;
}

void jwb_mqtt_event_clear(struct jwb_mqtt_event *ev)
{
	free(ev->topic);
	free(ev->payload);
	ev->topic = ev->payload = NULL;
}

const char *jwb_mqtt_reason(int code)
{
	switch (code) {
	case 0x00: return "success";
	case 0x10: return "no matching subscribers";
	case 0x80: return "unspecified error";
	case 0x81: return "malformed packet";
	case 0x82: return "protocol error";
	case 0x83: return "implementation specific error";
	case 0x84: return "unsupported protocol version";
	case 0x85: return "client identifier not valid";
	case 0x86: return "bad user name or password";
	case 0x87: return "not authorized";
	case 0x88: return "server unavailable";
	case 0x89: return "server busy";
	case 0x8a: return "banned";
	case 0x8b: return "server shutting down";
	case 0x8d: return "keep alive timeout";
	case 0x8e: return "session taken over";
	case 0x90: return "topic name invalid";
	case 0x93: return "receive maximum exceeded";
	case 0x95: return "packet too large";
	case 0x97: return "quota exceeded";
	case 0x98: return "administrative action";
	case 0x99: return "payload format invalid";
	case 0x9c: return "use another server";
	default: return "";
	}
}
