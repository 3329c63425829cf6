/*
 * mqtt_link — the bridge's one MQTT 5 connection (paho MQTTAsync), turned
 * into a queue of events for a single-threaded poll loop.
 *
 * paho runs its callbacks on its own threads; here they only copy what
 * happened into a queue and write to an eventfd (shared/notes: "callbacks
 * only signal").  The loop polls jwb_mqtt_fd() and drains the queue with
 * jwb_mqtt_next_event(), so all of the bridge's state has one owner.
 *
 * No client persistence (MQTTCLIENT_PERSISTENCE_NONE): the outbox in
 * PostgreSQL is the only buffer; whatever was not acknowledged is sent
 * again from there.
 */
#ifndef JWB_MQTT_LINK_H
#define JWB_MQTT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jwb_mqtt;

enum jwb_mqtt_event_kind {
	JWB_MQTT_CONNECTED,       /* session_present, receive_maximum; code = sockets set to TCP_NODELAY */
	JWB_MQTT_CONNECT_FAILED,  /* code, text */
	JWB_MQTT_LOST,            /* text: paho's cause (or "server disconnected: reason 0x..") */
	JWB_MQTT_ACKED,           /* tag: a QoS 1 publish got PUBACK < 0x80 (or QoS 0 was written) */
	JWB_MQTT_REFUSED,         /* tag, code: PUBACK >= 0x80 or the publish failed locally */
	JWB_MQTT_SUBSCRIBED,      /* tag, code: granted QoS or the SUBACK reason */
	JWB_MQTT_MESSAGE,         /* topic, payload, payload_len, retained */
	JWB_MQTT_DISCONNECTED,    /* a jwb_mqtt_disconnect() finished (or failed: then too) */
};

struct jwb_mqtt_event {
	enum jwb_mqtt_event_kind kind;
	uint64_t tag;
	int code;
	bool session_present;
	int receive_maximum;      /* CONNECTED: the broker's Receive Maximum (65535 when not sent) */
	bool retained;
	int qos;                  /* MESSAGE: the QoS it was delivered with */
	char *topic;              /* owned by the event; jwb_mqtt_event_clear() frees */
	char *payload;            /* NUL-terminated copy */
	size_t payload_len;
	char text[160];
};

struct jwb_mqtt_options {
	const char *host;
	int port;
	const char *client_id;
	int keepalive;           /* seconds */
	int session_expiry;      /* seconds */
	int max_inflight;        /* QoS 1 window the broker is asked for */
	int qos0_queue_max;      /* live (not retained) QoS 0 messages waiting for the
	                          * loop beyond which new ones are dropped (0: no limit) */
};

/* Create the client (not connected).  NULL with errbuf on failure. */
struct jwb_mqtt *jwb_mqtt_create(const struct jwb_mqtt_options *opt, char *errbuf, size_t errlen);
void jwb_mqtt_destroy(struct jwb_mqtt *m);

/* Live QoS 0 messages dropped because qos0_queue_max were already waiting
 * (paho's thread outran the loop); a running total. */
uint64_t jwb_mqtt_dropped(struct jwb_mqtt *m);

/* The eventfd to poll for POLLIN; readable while events are queued. */
int jwb_mqtt_fd(const struct jwb_mqtt *m);

/* Start connecting (clean start false, session expiry set), with the token
 * as password.  The outcome arrives as CONNECTED or CONNECT_FAILED.
 * Returns 0, or -1 with errbuf if the attempt could not even start. */
int jwb_mqtt_connect(struct jwb_mqtt *m, const char *password, char *errbuf, size_t errlen);

/* Disconnect (reason 0, normal), waiting at most timeout_ms for paho to
 * send what it has.  DISCONNECTED follows when paho is done: connect only
 * after it (paho ignores a connect while a disconnect is in progress). */
void jwb_mqtt_disconnect(struct jwb_mqtt *m, int timeout_ms);

/* Publish; the outcome arrives as ACKED or REFUSED with `tag`.
 * expiry_s > 0 sets the MQTT 5 message expiry interval.  Returns 0, or -1
 * if paho refused to queue it (not connected, buffer full). */
int jwb_mqtt_publish(struct jwb_mqtt *m, const char *topic, const void *payload, size_t len,
		int qos, bool retain, uint32_t expiry_s, uint64_t tag);

/* Subscribe; the outcome arrives as SUBSCRIBED with `tag`. */
int jwb_mqtt_subscribe(struct jwb_mqtt *m, const char *filter, int qos, uint64_t tag);

/* Unsubscribe (fire and forget: no event). */
int jwb_mqtt_unsubscribe(struct jwb_mqtt *m, const char *filter);

/* Take the next queued event; false when the queue is empty.  The event's
 * strings belong to the caller until jwb_mqtt_event_clear(). */
bool jwb_mqtt_next_event(struct jwb_mqtt *m, struct jwb_mqtt_event *ev);
void jwb_mqtt_event_clear(struct jwb_mqtt_event *ev);

/* Human name of an MQTT 5 reason code ("not authorized"). */
const char *jwb_mqtt_reason(int code);

#endif
