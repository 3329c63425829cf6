/*
 * bridge — see bridge.h.
 *
 * Ordering and loss, in short (docs/bridge.md has the long form):
 *  - every message gets a sequence number when it is queued; the broker
 *    acknowledges them (PUBACK), and `acked` is the highest number below
 *    which everything was acknowledged;
 *  - an outbox row is held (its id excluded from reads) until `acked`
 *    passes the last message planned for it, then deleted;
 *  - a lost connection forgets every held row that was not acknowledged:
 *    they are still in the outbox and are read again, in id order, after
 *    the reconnect (at least once; versions make repeats harmless).
 */
#define _GNU_SOURCE
#include "bridge.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mqtt_link.h"
#include "outbox.h"
#include "payload.h"
#include "plan.h"
#include "positions.h"
#include "service_token.h"
#include "stats.h"

#define CHECKPOINT_TOPIC "jetwire/bridge/checkpoint"
/* Driver traffic the bridge persists: shared subscriptions, so two bridges
 * split it; the plain filters are held only until the retained copies
 * (which a shared subscription never gets) have arrived. */
#define SHARED_LOCATION "$share/jetwire-bridge/driver/+/location"
#define SHARED_PRESENCE "$share/jetwire-bridge/driver/+/presence"
#define PLAIN_LOCATION "driver/+/location"
#define PLAIN_PRESENCE "driver/+/presence"
#define STATS_TOPIC "jetwire/bridge/stats"
#define SHUTDOWN_GRACE_MS 10000
#define ARM_CHECK_MS 5
/* Busy: changes arrive within BUSY_WINDOW_MS of each other.  Then the
 * NOTIFY is disarmed (writers commit faster without it) and the bridge
 * polls every BUSY_POLL_MS instead; after IDLE_ARM_MS without a row it
 * arms again and sleeps until woken. */
#define BUSY_WINDOW_MS 50
#define BUSY_POLL_MS 5
#define IDLE_ARM_MS 50
/* MQTT events handled per turn of the main loop before the rest gets a turn */
#define EVENTS_PER_TURN 1000
#define HANDSHAKE_TIMEOUT_MS 10000
#define LATENCY_RING 4096            /* > the largest QoS 1 window (1000) */

enum mqtt_state { MQTT_DOWN, MQTT_DISCONNECTING, MQTT_CONNECTING, MQTT_HANDSHAKE, MQTT_UP };
#define CONNECT_TIMEOUT_MS 20000     /* paho's own is 10 s; this catches a connect it dropped */
#define DISCONNECT_TIMEOUT_MS 3000
enum phase { PHASE_IDLE, PHASE_RESYNC, PHASE_RESYNC_WAIT, PHASE_STREAM };

struct held_row {
	int64_t id;
	uint64_t last_seq;
};

struct bridge {
	const struct jwb_config *cfg;
	struct jwb_plan *plan;
	struct jwb_token_source *tokens;
	struct jwb_stats stats;
	int sigfd;
	bool stopping;
	int64_t stop_deadline;

	/* PostgreSQL */
	struct jwb_db *db;
	int64_t db_retry_at;
	int db_backoff;
	bool db_ever;

	/* MQTT */
	struct jwb_mqtt *mqtt;
	enum mqtt_state mqtt_state;
	int64_t mqtt_retry_at;
	int mqtt_backoff;
	uint64_t epoch;              /* connection number: tags of older connections are ignored */
	bool session_present;
	int window;                  /* QoS 1 messages in flight: mqtt_inflight capped by the broker's Receive Maximum */
	char *broker_checkpoint;     /* read back at the handshake */
	char instance[40];           /* the plugin's, from "status" */
	char synced_instance[40];    /* the plugin instance our last complete resync went to */
	int64_t handshake_deadline;  /* mono ms: no answer to "status" by then -> reconnect */
	int64_t state_deadline;      /* mono ms: CONNECTING / DISCONNECTING that long -> give up on it */
	int64_t token_renew_at;      /* ms; 0 = never */
	bool renewing;

	/* sending */
	struct jwb_msg *queue, *queue_tail;  /* planned, not sent */
	size_t queued;
	uint64_t next_seq;           /* the next message's number (first is 1) */
	uint64_t acked;              /* every seq <= acked is acknowledged */
	int64_t sent_ts[LATENCY_RING];  /* change time of the message with seq % LATENCY_RING */
	uint64_t *acked_ahead;       /* acknowledged out of order, above `acked` */
	size_t n_ahead, cap_ahead;
	int inflight;

	/* outbox */
	enum phase phase;
	bool need_resync;
	bool want_read;
	int64_t next_poll_at;
	int armed;                   /* -1 unknown, 0, 1 */
	int64_t last_rows_at;        /* mono ms of the last read that returned rows */
	bool arm_check;
	uint64_t arm_xmax;
	struct held_row *held;
	size_t n_held, cap_held;
	int64_t *to_delete;
	size_t n_delete, cap_delete;

	/* resync */
	bool resync_open;
	bool resync_done_reading;
	uint64_t resync_end_seq;
	int64_t resync_started;
	size_t resync_orders;

	/* checkpoint */
	char run_id[17];
	uint64_t checkpoint_seq;
	char last_checkpoint[64];    /* the last one published */
	bool checkpoint_dirty;

	int64_t next_stats_at, next_log_at;

	/* driver positions */
	struct jwb_positions *positions;
	int64_t next_position_flush, next_history_trim;
	bool retained_pending;       /* plain driver filters held until "status" answers */
	int64_t refused_log_at;
	uint64_t refused_since_log;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t make_tag(const struct bridge *b, uint64_t seq)
{
	return (b->epoch << 40) | seq;
}

static int next_backoff(int current, int initial, int max)
{
	if (current <= 0)
		return initial;
	int next = current * 2;
	return next > max || next < current ? max : next;
}

/* Up to +-20% so a fleet of bridges does not reconnect in step. */
static int jitter(int ms)
{
	int spread = ms / 5;
	return spread > 0 ? ms - spread + rand() % (2 * spread + 1) : ms;
}

/* ---- the send queue ---- */

static void queue_append(struct bridge *b, struct jwb_msg *list)
{
	while (list) {
		struct jwb_msg *m = list;
		list = list->next;
		m->next = NULL;
		if (b->queue_tail)
			b->queue_tail->next = m;
		else
			b->queue = m;
		b->queue_tail = m;
		b->queued++;
		b->next_seq++;
	}
}

/* The seq the last queued message will get (0 when none was ever queued). */
static uint64_t last_queued_seq(const struct bridge *b)
{
	return b->next_seq - 1;
}

static void queue_clear(struct bridge *b)
{
	jwb_msg_free_list(b->queue);
	b->queue = b->queue_tail = NULL;
	b->queued = 0;
}

/* Send what the window allows.  Messages keep their queue order. */
static void pump(struct bridge *b)
{
	if (b->mqtt_state < MQTT_HANDSHAKE)
		return;
	while (b->queue && b->inflight < b->window) {
		struct jwb_msg *m = b->queue;
		uint64_t seq = b->next_seq - b->queued;
		if (jwb_mqtt_publish(b->mqtt, m->topic, m->payload, m->len, m->qos, m->retain, m->expiry,
				make_tag(b, seq)) != 0)
			return;   /* paho's buffer is full or the link just dropped: retry later */
		b->queue = m->next;
		if (!b->queue)
			b->queue_tail = NULL;
		b->queued--;
		b->inflight++;
		b->sent_ts[seq % LATENCY_RING] = m->ts_ms;
		if (m->control)
			b->stats.control_sent++;
		else
			b->stats.published++;
		m->next = NULL;
		jwb_msg_free_list(m);
	}
}

/* Queue a message that bypasses the planner (checkpoint). */
static void queue_one(struct bridge *b, struct jwb_msg *m)
{
	if (m)
		queue_append(b, m);
}

/* ---- acknowledgements and held rows ---- */

/* Rows are held in read order and their last_seq never decreases (each
 * batch's rows share the seq of the batch's last message), so the
 * releasable rows are always a prefix. */
static void release_rows(struct bridge *b)
{
	size_t k = 0;
	while (k < b->n_held && b->held[k].last_seq <= b->acked)
		k++;
	if (k == 0)
		return;
	if (b->n_delete + k > b->cap_delete) {
		size_t cap = b->cap_delete ? b->cap_delete : 256;
		while (cap < b->n_delete + k)
			cap *= 2;
		int64_t *grown = realloc(b->to_delete, cap * sizeof(*grown));
		if (!grown)
			return;   /* try again on the next pass */
		b->to_delete = grown;
		b->cap_delete = cap;
	}
	for (size_t i = 0; i < k; i++)
		b->to_delete[b->n_delete++] = b->held[i].id;
	memmove(b->held, b->held + k, (b->n_held - k) * sizeof(*b->held));
	b->n_held -= k;
}

static void record_ack(struct bridge *b, uint64_t seq)
{
	if (seq <= b->acked)
		return;
	if (seq != b->acked + 1) {
		if (b->n_ahead == b->cap_ahead) {
			size_t cap = b->cap_ahead ? b->cap_ahead * 2 : 64;
			uint64_t *grown = realloc(b->acked_ahead, cap * sizeof(*grown));
			if (!grown)
				return;
			b->acked_ahead = grown;
			b->cap_ahead = cap;
		}
		b->acked_ahead[b->n_ahead++] = seq;
		return;
	}
	b->acked = seq;
	bool moved = true;
	while (moved) {
		moved = false;
		for (size_t i = 0; i < b->n_ahead; i++) {
			if (b->acked_ahead[i] == b->acked + 1) {
				b->acked++;
				b->acked_ahead[i] = b->acked_ahead[--b->n_ahead];
				moved = true;
				break;
			}
		}
	}
}

static int hold(struct bridge *b, int64_t id, uint64_t last_seq)
{
	if (b->n_held == b->cap_held) {
		size_t cap = b->cap_held ? b->cap_held * 2 : 256;
		struct held_row *grown = realloc(b->held, cap * sizeof(*grown));
		if (!grown)
			return -1;
		b->held = grown;
		b->cap_held = cap;
	}
	b->held[b->n_held++] = (struct held_row){id, last_seq};
	return 0;
}

/* ---- connections ---- */

static void db_lost(struct bridge *b, const char *why)
{
	b->stats.db_failures++;
	b->db_backoff = next_backoff(b->db_backoff, b->cfg->backoff_initial_ms, b->cfg->backoff_max_ms);
	int delay = jitter(b->db_backoff);
	jwb_error("%s | retry_in=%dms", why, delay);
	jwb_db_close(b->db);
	b->db = NULL;
	b->db_retry_at = mono_ms() + delay;
	b->armed = -1;
	b->arm_check = false;
	if (b->resync_open) {
		/* The snapshot died with the connection: start the resync again. */
		b->resync_open = false;
		b->need_resync = true;
		if (b->phase == PHASE_RESYNC)
			b->phase = PHASE_IDLE;
	}
}

static void db_connect(struct bridge *b)
{
	char err[1024];
	b->db = jwb_db_connect(b->cfg->database, b->cfg->migrate, err, sizeof(err));
	if (!b->db) {
		b->db_retry_at = 0;
		db_lost(b, err);
		return;
	}
	jwb_info("connected to PostgreSQL%s", b->db_ever ? " again" : "");
	if (b->db_ever)
		b->stats.db_reconnects++;
	b->db_ever = true;
	/* The backoff is reset by the first statement that works after this
	 * (a server that accepts connections but fails every query must not
	 * be hammered at the initial delay). */
	b->want_read = true;
}

static void mqtt_schedule_retry(struct bridge *b, const char *why)
{
	b->mqtt_backoff = next_backoff(b->mqtt_backoff, b->cfg->backoff_initial_ms, b->cfg->backoff_max_ms);
	int delay = jitter(b->mqtt_backoff);
	jwb_error("%s | retry_in=%dms", why, delay);
	b->mqtt_retry_at = mono_ms() + delay;
}

/* Everything that was in flight on the old connection is forgotten: the
 * unacknowledged rows are read again from the outbox. */
static void forget_connection(struct bridge *b)
{
	b->epoch++;
	b->mqtt_state = MQTT_DOWN;
	queue_clear(b);
	b->inflight = 0;
	b->n_ahead = 0;
	/* Rows acknowledged already are deleted; the rest are not held any more. */
	release_rows(b);
	b->n_held = 0;
	b->acked = b->next_seq - 1;
	if (b->resync_open) {
		char err[256];
		if (b->db && jwb_db_resync_close(b->db, err, sizeof(err)) != 0)
			db_lost(b, err);
		b->resync_open = false;
	}
	if (b->phase == PHASE_RESYNC || b->phase == PHASE_RESYNC_WAIT)
		b->need_resync = true;   /* the plugin may be half-way through a sync */
	b->phase = PHASE_IDLE;
	free(b->broker_checkpoint);
	b->broker_checkpoint = NULL;
	b->instance[0] = '\0';
	b->renewing = false;
	b->retained_pending = false;
}

/* Drop the connection on purpose: forget it, then wait for paho to finish
 * the disconnect before connecting again. */
static void drop_connection(struct bridge *b, int timeout_ms)
{
	jwb_mqtt_disconnect(b->mqtt, timeout_ms);
	forget_connection(b);
	b->mqtt_state = MQTT_DISCONNECTING;
	b->state_deadline = mono_ms() + DISCONNECT_TIMEOUT_MS + timeout_ms;
}

static void mqtt_connect(struct bridge *b)
{
	char err[512];
	int64_t exp_s = 0;
	char *token = jwb_token_get(b->tokens, now_ms() / 1000, &exp_s, err, sizeof(err));
	if (!token) {
		mqtt_schedule_retry(b, err);
		return;
	}
	if (jwb_mqtt_connect(b->mqtt, token, err, sizeof(err)) != 0) {
		free(token);
		mqtt_schedule_retry(b, err);
		return;
	}
	free(token);
	b->mqtt_state = MQTT_CONNECTING;
	b->state_deadline = mono_ms() + CONNECT_TIMEOUT_MS;
	b->mqtt_retry_at = 0;
	/* Renew at two thirds of the lifetime left (a token file: 60 s before exp). */
	int64_t now = now_ms();
	if (exp_s > 0) {
		int64_t left = exp_s * 1000 - now;
		int64_t margin = b->cfg->jwt_token_file ? 60000 : left / 3;
		b->token_renew_at = left > margin ? mono_ms() + left - margin : mono_ms() + 1000;
	} else {
		b->token_renew_at = 0;
	}
}

static void send_now(struct bridge *b, struct jwb_msg *m)
{
	queue_one(b, m);
	pump(b);
}

static void on_connected(struct bridge *b, bool session_present, int receive_maximum)
{
	b->epoch++;
	/* Never more in flight than the broker's Receive Maximum: paho holds
	 * the excess in its own queue and releases it late.  Measured: 2,000
	 * changes took 1.7 s with 64 in flight against mosquitto's default of
	 * 20 (max_inflight_messages), and under 0.1 s with 20. */
	b->window = b->cfg->mqtt_inflight;
	if (receive_maximum > 0 && receive_maximum < b->window)
		b->window = receive_maximum;
	b->mqtt_state = MQTT_HANDSHAKE;
	b->session_present = session_present;
	b->stats.mqtt_connects++;
	jwb_info("connected to the broker | session_present=%d window=%d", session_present ? 1 : 0, b->window);
	/* The handshake: our retained checkpoint (if the broker still has it)
	 * arrives before the answer to "status", because the broker handles a
	 * client's packets in order and queues both to us in that order. */
	if (jwb_mqtt_subscribe(b->mqtt, CHECKPOINT_TOPIC, 1, make_tag(b, 0)) != 0) {
		drop_connection(b, 0);
		mqtt_schedule_retry(b, "cannot subscribe to " CHECKPOINT_TOPIC);
		return;
	}
	jwb_plan_command(b->plan, "status");
	send_now(b, jwb_plan_take(b->plan));
	b->handshake_deadline = mono_ms() + HANDSHAKE_TIMEOUT_MS;
}

/* ---- control responses ---- */

static void on_control_response(struct bridge *b, const char *payload)
{
	json_object *doc = json_tokener_parse(payload);
	json_object *responses = NULL;
	if (!doc || !json_object_object_get_ex(doc, "responses", &responses) ||
	    !json_object_is_type(responses, json_type_array)) {
		jwb_warn("unreadable control response: %.200s", payload);
		json_object_put(doc);
		return;
	}
	size_t n = json_object_array_length(responses);
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(responses, i);
		json_object *cmd = NULL, *err = NULL, *v = NULL;
		json_object_object_get_ex(r, "command", &cmd);
		const char *name = cmd ? json_object_get_string(cmd) : "?";
		if (json_object_object_get_ex(r, "error", &err)) {
			if (strcmp(name, "status") == 0 && b->mqtt_state == MQTT_HANDSHAKE) {
				/* An older plugin without "status": a restart cannot be told
				 * apart, so every connect resyncs. */
				jwb_warn("the plugin does not answer 'status' (%s): resyncing after every connect",
						json_object_get_string(err));
				snprintf(b->instance, sizeof(b->instance), "unknown");
				b->synced_instance[0] = '\0';
				continue;
			}
			b->stats.control_errors++;
			jwb_error("the plugin refused a command | command=%s error=%s", name,
					json_object_get_string(err));
			continue;
		}
		if (strcmp(name, "status") == 0 && json_object_object_get_ex(r, "instance", &v)) {
			snprintf(b->instance, sizeof(b->instance), "%s", json_object_get_string(v));
			if (b->mqtt_state == MQTT_UP && b->retained_pending) {
				jwb_mqtt_unsubscribe(b->mqtt, PLAIN_LOCATION);
				jwb_mqtt_unsubscribe(b->mqtt, PLAIN_PRESENCE);
				b->retained_pending = false;
			}
		} else if (strcmp(name, "syncEnd") == 0) {
			json_object *removed = NULL, *count = NULL;
			json_object_object_get_ex(r, "removed", &removed);
			json_object_object_get_ex(r, "count", &count);
			jwb_info("plugin relations synchronised | relations=%" PRId64 " removed=%" PRId64,
					count ? json_object_get_int64(count) : -1,
					removed ? json_object_get_int64(removed) : -1);
		}
	}
	json_object_put(doc);
}

/* Driver traffic: shared subscriptions for the live messages, and for a
 * moment the plain filters, whose retained copies carry positions published
 * while no bridge was connected.  A second "status" marks the end of those
 * retained copies (the broker answers a client's packets in order). */
static void subscribe_driver_topics(struct bridge *b)
{
	/* Live locations at QoS 0: a QoS 1 subscription is paced by the
	 * broker's max_inflight_messages (20 unacknowledged deliveries), which
	 * capped the bridge at ~10k positions/s when 5,000 drivers sent 20k/s.
	 * Only the latest position matters and its retained copy is read again
	 * at every connect, so a position lost on the way is superseded.
	 * Presence changes rarely and matters: QoS 1. */
	const char *filters[] = {SHARED_LOCATION, SHARED_PRESENCE, PLAIN_LOCATION, PLAIN_PRESENCE};
	const int qos[] = {0, 1, 1, 1};
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		if (jwb_mqtt_subscribe(b->mqtt, filters[i], qos[i], make_tag(b, 0)) != 0)
			jwb_warn("cannot subscribe to %s", filters[i]);
	}
	jwb_plan_command(b->plan, "status");
	queue_append(b, jwb_plan_take(b->plan));
	b->retained_pending = true;
}

/* The handshake is complete once "status" answered: decide on a resync. */
static void finish_handshake(struct bridge *b)
{
	const char *why = NULL;
	if (!b->synced_instance[0])
		why = b->stats.resyncs ? "the plugin's instance is unknown" : "start";
	else if (!b->session_present)
		why = "the broker has no session for the bridge";
	else if (strcmp(b->instance, b->synced_instance) != 0)
		why = "the broker restarted (new plugin instance)";
	else if (!b->broker_checkpoint || strcmp(b->broker_checkpoint, b->last_checkpoint) != 0)
		why = "the broker's retained state is older than what the bridge published";
	else if (b->need_resync)
		why = "an earlier resync did not finish";
	b->mqtt_state = MQTT_UP;
	subscribe_driver_topics(b);
	b->mqtt_backoff = 0;   /* reset only once the plugin answered: a broker that drops us at once backs off */
	if (why) {
		jwb_info("resync needed: %s | broker_checkpoint=%s bridge_checkpoint=%s", why,
				b->broker_checkpoint ? b->broker_checkpoint : "(none)",
				b->last_checkpoint[0] ? b->last_checkpoint : "(none)");
		b->need_resync = true;
		b->phase = PHASE_IDLE;
	} else {
		b->phase = PHASE_STREAM;
	}
	b->want_read = true;
}

static void publish_checkpoint(struct bridge *b)
{
	b->checkpoint_seq++;
	snprintf(b->last_checkpoint, sizeof(b->last_checkpoint), "%s:%" PRIu64, b->run_id, b->checkpoint_seq);
	queue_one(b, jwb_msg_new(CHECKPOINT_TOPIC, b->last_checkpoint, strlen(b->last_checkpoint), 1, true, 0));
	b->checkpoint_dirty = false;
}

static void handle_mqtt_event(struct bridge *b, struct jwb_mqtt_event *ev)
{
	uint64_t ev_epoch = ev->tag >> 40, seq = ev->tag & ((UINT64_C(1) << 40) - 1);
	switch (ev->kind) {
	case JWB_MQTT_CONNECTED:
		if (b->mqtt_state == MQTT_CONNECTING) {
			on_connected(b, ev->session_present, ev->receive_maximum);
			if (ev->code < 1)
				jwb_warn("could not set TCP_NODELAY on the broker connection: expect tens of "
						"milliseconds more latency per message");
		}
		break;
	case JWB_MQTT_CONNECT_FAILED:
		if (b->mqtt_state == MQTT_CONNECTING) {
			b->mqtt_state = MQTT_DOWN;
			char why[512];
			snprintf(why, sizeof(why), "cannot connect to the broker %s:%d: %s", b->cfg->mqtt_host,
					b->cfg->mqtt_port, ev->text);
			mqtt_schedule_retry(b, why);
		}
		break;
	case JWB_MQTT_LOST:
		if (b->mqtt_state == MQTT_DISCONNECTING) {
			b->mqtt_state = MQTT_DOWN;
		} else if (b->mqtt_state != MQTT_DOWN) {
			char why[512];
			snprintf(why, sizeof(why), "lost the broker connection: %s", ev->text);
			forget_connection(b);
			b->stats.mqtt_losses++;
			mqtt_schedule_retry(b, why);
		}
		break;
	case JWB_MQTT_ACKED:
		if (ev->tag == 0 || ev_epoch != b->epoch || seq == 0)
			break;
		b->inflight--;
		if (b->sent_ts[seq % LATENCY_RING] > 0)
			jwb_stats_latency(&b->stats, now_ms() - b->sent_ts[seq % LATENCY_RING]);
		record_ack(b, seq);
		break;
	case JWB_MQTT_REFUSED:
		if (ev->tag == 0 || ev_epoch != b->epoch || seq == 0)
			break;
		/* The broker refused a publish (ACL, quota, size) or it could not be
		 * completed.  Nothing is skipped: reconnect and send it again. */
		b->stats.publish_refusals++;
		{
			char why[512];
			snprintf(why, sizeof(why), "a publish was not acknowledged: %s (the bridge reconnects "
					"and sends it again; check the service role in the ACL if this repeats)",
					ev->text);
			drop_connection(b, 0);
			mqtt_schedule_retry(b, why);
		}
		break;
	case JWB_MQTT_DISCONNECTED:
		if (b->mqtt_state == MQTT_DISCONNECTING)
			b->mqtt_state = MQTT_DOWN;
		break;
	case JWB_MQTT_SUBSCRIBED:
		if (ev_epoch == b->epoch && ev->code >= 0x80)
			jwb_warn("subscription to %s refused: reason 0x%02x %s (a broker restart will not be "
					"noticed from the checkpoint)", CHECKPOINT_TOPIC, (unsigned)ev->code,
					jwb_mqtt_reason(ev->code));
		break;
	case JWB_MQTT_MESSAGE:
		if (strcmp(ev->topic, JWB_CONTROL_RESPONSE_TOPIC) == 0) {
			on_control_response(b, ev->payload);
			if (b->mqtt_state == MQTT_HANDSHAKE && b->instance[0])
				finish_handshake(b);
		} else if (jwb_positions_topic(ev->topic)) {
			char reason[256];
			int r = jwb_positions_message(b->positions, ev->topic, ev->payload, ev->payload_len,
					reason, sizeof(reason));
			b->stats.positions_received++;
			if (r < 0) {
				b->stats.positions_refused++;
				b->refused_since_log++;
				if (mono_ms() >= b->refused_log_at) {
					jwb_warn("driver message not stored | topic=%s reason=%s (%" PRIu64
							" refused since the last such line)", ev->topic, reason,
							b->refused_since_log);
					b->refused_since_log = 0;
					b->refused_log_at = mono_ms() + 10000;
				}
			}
		} else if (strcmp(ev->topic, CHECKPOINT_TOPIC) == 0 && b->mqtt_state == MQTT_HANDSHAKE) {
			free(b->broker_checkpoint);
			b->broker_checkpoint = strdup(ev->payload);
		}
		break;
	}
}

/* ---- streaming the outbox ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct driver ids of a batch (sorted, duplicates dropped). */
static size_t distinct_drivers(const struct jwb_batch *batch, const char **ids)
{
	size_t n = 0;
	for (size_t i = 0; i < batch->n; i++) {
		if (batch->changes[i].pickup_driver_id)
			ids[n++] = batch->changes[i].pickup_driver_id;
		if (batch->changes[i].delivery_driver_id)
			ids[n++] = batch->changes[i].delivery_driver_id;
	}
	qsort(ids, n, sizeof(*ids), cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || strcmp(ids[k - 1], ids[i]) != 0)
			ids[k++] = ids[i];
	return k;
}

/* Offers (SPEC: when an order becomes ready for pickup, online drivers
 * within a radius of the pickup point get one): a change that moves an
 * active order into one of offer_statuses. */
static bool offer_wanted(const struct jwb_config *cfg, const struct jwb_change *c)
{
	if (!c->entity || strcmp(c->entity, "order") != 0 || !c->op || !c->status || !c->merchant_id)
		return false;
	bool insert = strcmp(c->op, "insert") == 0;
	if (!insert && strcmp(c->op, "update") != 0)
		return false;
	if (!insert && c->previous_status && strcmp(c->status, c->previous_status) == 0)
		return false;
	return jwb_config_status_offered(cfg, c->status);
}

/* Queue one offer per nearby online, available driver for each of the n
 * changes (orders entering an offer status), after the orders' own
 * messages; not retained, expiring with the offer.  One query for all of
 * them: a query per order cost more than everything else the bridge does
 * for a change. */
static void send_offers(struct bridge *b, const struct jwb_change *const *changes, size_t n)
{
	if (n == 0)
		return;
	const char **merchants = malloc(n * sizeof(*merchants));
	if (!merchants) {
		jwb_warn("no offers for %zu order(s): out of memory", n);
		b->stats.offer_failures += n;
		return;
	}
	for (size_t i = 0; i < n; i++)
		merchants[i] = changes[i]->merchant_id;
	char err[512];
	PGresult *res = NULL;
	int rc = jwb_db_offers(b->db, merchants, n, b->cfg->offer_radius_m / 1000.0, b->cfg->offer_max_drivers,
			b->cfg->offer_max_position_age, b->cfg->offer_availability, b->cfg->n_offer_availability,
			&res, err, sizeof(err));
	free(merchants);
	if (rc != 0) {
		/* Offers are a convenience: a failing query must not stop the orders. */
		jwb_warn("no offers for %zu order(s) (order %s first): %s", n, changes[0]->entity_id, err);
		b->stats.offer_failures += n;
		if (!jwb_db_ok(b->db))
			db_lost(b, err);
		return;
	}
	if (!res)
		return;
	int64_t expires = now_ms() + (int64_t)b->cfg->offer_lifetime * 1000;
	for (int i = 0; i < PQntuples(res); i++) {
		long idx = strtol(PQgetvalue(res, i, 0), NULL, 10);
		if (idx < 1 || (size_t)idx > n)
			continue;
		const struct jwb_change *c = changes[idx - 1];
		const char *driver = PQgetvalue(res, i, 1);
		struct jwb_order_offer offer = {
			.order_id = c->entity_id, .order_number = c->order_number,
			.distance_km = strtod(PQgetvalue(res, i, 2), NULL),
			.pickup_lat = strtod(PQgetvalue(res, i, 3), NULL),
			.pickup_lng = strtod(PQgetvalue(res, i, 4), NULL),
			.expires_ms = expires,
		};
		char why[256], topic[300];
		char *json = jwb_check_id("driverId", driver, why, sizeof(why)) ?
				jwb_payload_order_offer(&offer, why, sizeof(why)) : NULL;
		if (!json) {
			jwb_warn("offer of order %s to driver %s not sent: %s", c->entity_id, driver, why);
			continue;
		}
		snprintf(topic, sizeof(topic), "driver/%s/offers", driver);
		struct jwb_msg *m = jwb_msg_new(topic, json, strlen(json), 1, false, (uint32_t)b->cfg->offer_lifetime);
		free(json);
		if (m) {
			m->ts_ms = c->ts_ms;
			queue_one(b, m);
			b->stats.offers_sent++;
		}
	}
	PQclear(res);
}

static void stream_batch(struct bridge *b)
{
	char err[1024];
	int limit = b->cfg->batch_size;
	int64_t *held_ids = malloc((b->n_held + b->n_delete + 1) * sizeof(*held_ids));
	if (!held_ids)
		return;
	size_t n_ids = 0;
	for (size_t i = 0; i < b->n_held; i++)
		held_ids[n_ids++] = b->held[i].id;
	for (size_t i = 0; i < b->n_delete; i++)
		held_ids[n_ids++] = b->to_delete[i];
	struct jwb_batch batch;
	int rc = jwb_db_read(b->db, held_ids, n_ids, limit, &batch, err, sizeof(err));
	free(held_ids);
	if (rc != 0) {
		db_lost(b, err);
		return;
	}
	b->want_read = batch.n == (size_t)limit;
	b->stats.reads++;
	b->db_backoff = 0;

	/* Busy (rows again soon after the last ones, or a full batch): stop the
	 * NOTIFY on every commit and poll; idle for a while: ask to be woken. */
	int64_t mono = mono_ms();
	bool busy = batch.n == (size_t)limit ||
			(batch.n > 0 && b->last_rows_at && mono - b->last_rows_at <= BUSY_WINDOW_MS);
	bool idle = batch.n == 0 && (!b->last_rows_at || mono - b->last_rows_at > IDLE_ARM_MS);
	if (batch.n > 0)
		b->last_rows_at = mono;
	if (busy && b->armed != 0) {
		if (jwb_db_set_armed(b->db, false, NULL, err, sizeof(err)) != 0) {
			jwb_batch_free(&batch);
			db_lost(b, err);
			return;
		}
		b->armed = 0;
		b->arm_check = false;
	} else if ((idle || b->armed == -1) && b->armed != 1 && batch.n < (size_t)limit) {
		if (jwb_db_set_armed(b->db, true, &b->arm_xmax, err, sizeof(err)) != 0) {
			jwb_batch_free(&batch);
			db_lost(b, err);
			return;
		}
		b->armed = 1;
		b->arm_check = true;    /* writers that saw it disarmed may still commit */
	}
	if (b->armed == 0)
		b->next_poll_at = mono + BUSY_POLL_MS;
	if (batch.n == 0) {
		jwb_batch_free(&batch);
		return;
	}

	const char **driver_ids = malloc(batch.n * 2 * sizeof(*driver_ids));
	size_t n_drivers = driver_ids ? distinct_drivers(&batch, driver_ids) : 0;
	struct jwb_drivers *drivers = NULL;
	if (n_drivers && jwb_db_drivers(b->db, driver_ids, n_drivers, &drivers, err, sizeof(err)) != 0) {
		/* A broken driver table must not stop orders: publish without details. */
		jwb_warn("driver details unavailable: %s", err);
		b->stats.driver_lookup_failures++;
		if (!jwb_db_ok(b->db)) {
			free(driver_ids);
			jwb_batch_free(&batch);
			db_lost(b, err);
			return;
		}
	}
	free(driver_ids);

	/* Tracker removals: ask once per batch which ones other active orders keep. */
	struct jwb_tracker_set trackers = {0};
	for (size_t i = 0; i < batch.n; i++)
		jwb_plan_tracker_candidates(b->cfg, &batch.changes[i], jwb_tracker_set_add, &trackers);
	if (trackers.n && jwb_db_trackers_kept(b->db, &trackers, b->cfg->terminal_statuses,
			b->cfg->n_terminal_statuses, err, sizeof(err)) != 0) {
		jwb_tracker_set_clear(&trackers);
		jwb_drivers_free(drivers);
		jwb_batch_free(&batch);
		db_lost(b, err);
		return;
	}
	jwb_plan_set_tracker_check(b->plan, jwb_tracker_set_kept, &trackers);

	size_t *ok_rows = malloc(batch.n * sizeof(*ok_rows));   /* indexes of the rows planned */
	size_t n_ok = 0;
	for (size_t i = 0; ok_rows && i < batch.n; i++) {
		const struct jwb_change *c = &batch.changes[i];
		char reason[512];
		enum jwb_plan_result r = jwb_plan_change(b->plan, c, jwb_drivers_lookup, drivers, reason,
				sizeof(reason));
		if (r == JWB_PLAN_OK) {
			ok_rows[n_ok++] = i;
			b->stats.changes++;
		} else if (r == JWB_PLAN_RESYNC) {
			jwb_info("table %s was truncated: resync", c->entity ? c->entity : "?");
			if (jwb_db_delete(b->db, &c->id, 1, err, sizeof(err)) != 0) {
				db_lost(b, err);
				break;
			}
			b->need_resync = true;
		} else {
			jwb_error("bad row moved to jetwire.dead_letter | outbox_id=%" PRId64 " entity=%s id=%s "
					"version=%" PRId64 " reason=%s", c->id, c->entity ? c->entity : "?",
					c->entity_id ? c->entity_id : "NULL", c->version, reason);
			b->stats.dead_letters++;
			if (jwb_db_dead_letter(b->db, c->id, reason, err, sizeof(err)) != 0) {
				db_lost(b, err);
				break;
			}
		}
	}
	queue_append(b, jwb_plan_take(b->plan));
	const struct jwb_change **offered = malloc((n_ok ? n_ok : 1) * sizeof(*offered));
	size_t n_offered = 0;
	for (size_t k = 0; offered && k < n_ok; k++)
		if (offer_wanted(b->cfg, &batch.changes[ok_rows[k]]))
			offered[n_offered++] = &batch.changes[ok_rows[k]];
	if (b->db)
		send_offers(b, offered, n_offered);
	free(offered);
	uint64_t last = last_queued_seq(b);
	for (size_t k = 0; k < n_ok; k++)
		hold(b, batch.changes[ok_rows[k]].id, last);
	free(ok_rows);
	jwb_plan_set_tracker_check(b->plan, NULL, NULL);
	jwb_tracker_set_clear(&trackers);
	jwb_drivers_free(drivers);
	jwb_batch_free(&batch);
	if (b->need_resync && b->phase == PHASE_STREAM)
		b->want_read = false;
}

static void flush_deletes(struct bridge *b)
{
	if (!b->n_delete || !b->db)
		return;
	char err[512];
	if (jwb_db_delete(b->db, b->to_delete, b->n_delete, err, sizeof(err)) != 0) {
		db_lost(b, err);
		return;
	}
	b->stats.deleted += b->n_delete;
	b->n_delete = 0;
	b->checkpoint_dirty = true;
}

/* Write the positions held, in one statement; kept on failure. */
static void flush_positions(struct bridge *b)
{
	size_t n = 0;
	struct jwb_position *snap = jwb_positions_snapshot(b->positions, &n);
	char err[512];
	b->next_position_flush = mono_ms() + b->cfg->location_flush_ms;
	if (!snap)
		return;
	if (jwb_db_store_positions(b->db, snap, n, b->cfg->location_history, err, sizeof(err)) != 0) {
		free(snap);
		db_lost(b, err);
		return;
	}
	free(snap);
	jwb_positions_clear(b->positions);
	b->stats.positions_stored += n;
}

/* ---- resync ---- */

static void resync_start(struct bridge *b)
{
	char err[1024];
	bool empty = false;
	if (jwb_db_resync_open(b->db, b->cfg->terminal_statuses, b->cfg->n_terminal_statuses,
			b->cfg->terminal_expiry, &empty, err, sizeof(err)) != 0) {
		db_lost(b, err);
		return;
	}
	b->need_resync = false;
	b->db_backoff = 0;
	b->phase = PHASE_RESYNC;
	b->resync_open = !empty;
	b->resync_done_reading = empty;
	b->resync_started = mono_ms();
	b->resync_orders = 0;
	jwb_info("resync started");
	jwb_plan_command(b->plan, "syncBegin");
	queue_append(b, jwb_plan_take(b->plan));
}

static void resync_step(struct bridge *b)
{
	char err[1024];
	if (!b->resync_done_reading) {
		struct jwb_state_batch batch;
		if (jwb_db_resync_fetch(b->db, b->cfg->resync_batch_size, &batch, err, sizeof(err)) != 0) {
			db_lost(b, err);
			return;
		}
		int64_t now = now_ms();
		for (size_t i = 0; i < batch.n; i++) {
			char reason[512];
			const struct jwb_order_state *s = &batch.orders[i];
			enum jwb_plan_result r = jwb_plan_order_state(b->plan, s, now, reason, sizeof(reason));
			if (r == JWB_PLAN_OK) {
				b->resync_orders++;
			} else if (strcmp(reason, "ended more than terminal_expiry ago") != 0) {
				b->stats.resync_skipped++;
				jwb_error("resync: order skipped | id=%s reason=%s", s->id ? s->id : "NULL", reason);
			}
			if (jwb_plan_open_tuples(b->plan) >= 1000)
				queue_append(b, jwb_plan_take(b->plan));
		}
		queue_append(b, jwb_plan_take(b->plan));
		if (batch.n == 0) {
			b->resync_done_reading = true;
			if (jwb_db_resync_close(b->db, err, sizeof(err)) != 0) {
				jwb_state_batch_free(&batch);
				db_lost(b, err);
				return;
			}
			b->resync_open = false;
		}
		jwb_state_batch_free(&batch);
		if (!b->resync_done_reading)
			return;
	}
	jwb_plan_command(b->plan, "syncEnd");
	queue_append(b, jwb_plan_take(b->plan));
	publish_checkpoint(b);
	b->resync_end_seq = last_queued_seq(b);
	b->phase = PHASE_RESYNC_WAIT;
}

static void resync_check_done(struct bridge *b)
{
	if (b->acked < b->resync_end_seq)
		return;
	if (strcmp(b->instance, "unknown") != 0)
		snprintf(b->synced_instance, sizeof(b->synced_instance), "%s", b->instance);
	b->stats.resyncs++;
	jwb_info("resync complete | orders=%zu duration_ms=%" PRId64, b->resync_orders,
			mono_ms() - b->resync_started);
	b->phase = PHASE_STREAM;
	b->want_read = true;
}

/* ---- stats ---- */

static void stats_tick(struct bridge *b, bool publish, bool log_it)
{
	int64_t rows = -1;
	double age = 0;
	char err[512];
	if (b->db && !b->resync_open && jwb_db_backlog(b->db, &rows, &age, err, sizeof(err)) != 0) {
		db_lost(b, err);
		rows = -1;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	b->stats.backlog_rows = rows;
	b->stats.backlog_age_s = age;
	b->stats.max_rss_kb = ru.ru_maxrss;
	uint64_t dropped = jwb_mqtt_dropped(b->mqtt);
	if (dropped > b->stats.positions_dropped)
		jwb_warn("%" PRIu64 " driver locations dropped since the last stats: more than location_queue_max=%d "
				"were waiting for the bridge (it or PostgreSQL is behind; a driver's next location "
				"replaces a dropped one)", dropped - b->stats.positions_dropped, b->cfg->location_queue_max);
	b->stats.positions_dropped = dropped;
	char *json = jwb_stats_json(&b->stats, mono_ms(), now_ms());
	if (json && publish && b->mqtt_state == MQTT_UP)
		jwb_mqtt_publish(b->mqtt, STATS_TOPIC, json, strlen(json), 0, true, 0, 0);
	if (log_it) {
		char line[1024];
		jwb_stats_line(&b->stats, mono_ms(), line, sizeof(line));
		jwb_info("stats | %s", line);
	}
	free(json);
	if (publish)
		jwb_stats_roll(&b->stats, mono_ms());
}

/* ---- the loop ---- */

static bool all_sent_and_acked(const struct bridge *b)
{
	return !b->queue && b->inflight == 0;
}

static void step(struct bridge *b)
{
	int64_t mono = mono_ms();
	if (!b->db && mono >= b->db_retry_at && !b->stopping)
		db_connect(b);
	if (b->mqtt_state == MQTT_DOWN && mono >= b->mqtt_retry_at && !b->stopping)
		mqtt_connect(b);

	if (b->db)
		release_rows(b), flush_deletes(b);
	if (b->db && jwb_positions_pending(b->positions) &&
	    (jwb_positions_pending(b->positions) >= (size_t)b->cfg->location_batch_size ||
	     mono >= b->next_position_flush || b->stopping))
		flush_positions(b);
	if (b->db && b->cfg->location_history && mono >= b->next_history_trim) {
		int64_t deleted = 0;
		char err[512];
		b->next_history_trim = mono + 60000;
		if (jwb_db_trim_history(b->db, b->cfg->location_history_retention, &deleted, err, sizeof(err)) != 0)
			db_lost(b, err);
	}

	if (b->mqtt_state == MQTT_DISCONNECTING && mono >= b->state_deadline)
		b->mqtt_state = MQTT_DOWN;   /* paho never confirmed: go on anyway */
	if (b->mqtt_state == MQTT_CONNECTING && mono >= b->state_deadline) {
		drop_connection(b, 0);
		mqtt_schedule_retry(b, "no answer to CONNECT within 20 s");
	}
	if (b->mqtt_state == MQTT_HANDSHAKE && mono >= b->handshake_deadline) {
		drop_connection(b, 0);
		mqtt_schedule_retry(b, "the plugin did not answer the 'status' command within 10 s "
				"(is the jetwire plugin loaded, and does the ACL let 'service' write $CONTROL/jetwire/v1?)");
	}

	/* Token renewal: read nothing new, let what is queued and in flight be
	 * acknowledged (so the broker holds our last checkpoint and no resync
	 * follows), then reconnect with a new token. */
	if (b->mqtt_state == MQTT_UP && b->token_renew_at && mono >= b->token_renew_at && !b->stopping &&
	    b->phase == PHASE_STREAM) {
		b->renewing = true;
		if (b->checkpoint_dirty && all_sent_and_acked(b))
			publish_checkpoint(b);
		if (all_sent_and_acked(b)) {
			jwb_info("renewing the bridge's token: reconnecting");
			drop_connection(b, 0);
			b->mqtt_retry_at = 0;   /* connect as soon as paho finished the disconnect */
			return;
		}
	}

	if (b->mqtt_state == MQTT_UP && b->db && !b->stopping) {
		if (b->phase == PHASE_IDLE && b->need_resync && all_sent_and_acked(b) && b->n_held == 0)
			resync_start(b);
		else if (b->phase == PHASE_IDLE && !b->need_resync)
			b->phase = PHASE_STREAM;
		if (b->db && b->phase == PHASE_RESYNC && b->queued < (size_t)b->cfg->resync_batch_size)
			resync_step(b);
		if (b->phase == PHASE_RESYNC_WAIT)
			resync_check_done(b);
		if (b->phase == PHASE_STREAM && b->need_resync) {
			if (all_sent_and_acked(b) && b->n_held == 0)
				b->phase = PHASE_IDLE;   /* resync starts next step */
		} else if (b->phase == PHASE_STREAM && b->db) {
			if (b->arm_check && b->armed == 1) {
				bool passed = false;
				char err[256];
				if (jwb_db_passed(b->db, b->arm_xmax, &passed, err, sizeof(err)) != 0)
					db_lost(b, err);
				else if (passed)
					b->arm_check = false, b->want_read = true;
			}
			if (b->db && !b->renewing && (b->want_read || mono >= b->next_poll_at) &&
			    b->queued < (size_t)b->cfg->batch_size &&
			    b->n_held < (size_t)b->cfg->batch_size * 4) {
				b->next_poll_at = mono + b->cfg->poll_interval_ms;
				stream_batch(b);
			}
		}
		if (b->checkpoint_dirty && b->phase == PHASE_STREAM && all_sent_and_acked(b))
			publish_checkpoint(b);
	}
	pump(b);
}

static int poll_timeout(const struct bridge *b)
{
	int64_t mono = mono_ms();
	int64_t wake = mono + 1000;
	if (!b->db && b->db_retry_at < wake)
		wake = b->db_retry_at;
	if (b->mqtt_state == MQTT_DOWN && b->mqtt_retry_at < wake)
		wake = b->mqtt_retry_at;
	if ((b->mqtt_state == MQTT_CONNECTING || b->mqtt_state == MQTT_DISCONNECTING) &&
	    b->state_deadline < wake)
		wake = b->state_deadline;
	if (b->phase == PHASE_STREAM && b->next_poll_at < wake)
		wake = b->next_poll_at;
	if (b->arm_check)
		wake = mono + ARM_CHECK_MS;
	if (b->want_read && b->phase == PHASE_STREAM && b->queued < (size_t)b->cfg->batch_size)
		wake = mono;
	if (b->phase == PHASE_RESYNC && b->queued < (size_t)b->cfg->resync_batch_size)
		wake = mono;
	if (b->next_stats_at < wake)
		wake = b->next_stats_at;
	int64_t d = wake - mono;
	return d < 0 ? 0 : d > 1000 ? 1000 : (int)d;
}

static bool drain_signals(struct bridge *b)
{
	struct signalfd_siginfo si;
	bool got = false;
	while (read(b->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		got = true;
		if (!b->stopping) {
			jwb_info("signal %u: finishing in-flight acknowledgements, then exiting", si.ssi_signo);
			b->stopping = true;
			b->stop_deadline = mono_ms() + SHUTDOWN_GRACE_MS;
		} else {
			jwb_info("second signal: exiting now");
			b->stop_deadline = 0;
		}
	}
	return got;
}

static void random_id(char *out, size_t len)
{
	FILE *f = fopen("/dev/urandom", "rb");
	unsigned char raw[8] = {0};
	if (!f || fread(raw, 1, sizeof(raw), f) != sizeof(raw)) {
		uint64_t x = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
		memcpy(raw, &x, sizeof(raw));
	}
	if (f)
		fclose(f);
	for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < len; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

int jwb_bridge_run(const struct jwb_config *cfg, const sigset_t *stop_signals)
{
	struct bridge b = {.cfg = cfg, .armed = -1, .next_seq = 1};
	char err[1024];
	int rc = 1;
	b.sigfd = signalfd(-1, stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (b.sigfd < 0) {
		jwb_error("signalfd: %s", strerror(errno));
		return 1;
	}
	random_id(b.run_id, sizeof(b.run_id));
	srand((unsigned)(now_ms() ^ getpid()));
	jwb_stats_init(&b.stats, mono_ms());
	b.plan = jwb_plan_new(cfg);
	b.positions = jwb_positions_new();
	b.tokens = jwb_token_source_new(cfg, err, sizeof(err));
	if (!b.plan || !b.tokens || !b.positions) {
		jwb_error("%s", b.tokens ? "out of memory" : err);
		goto out;
	}
	struct jwb_mqtt_options mo = {
		.host = cfg->mqtt_host, .port = cfg->mqtt_port, .client_id = cfg->mqtt_client_id,
		.keepalive = cfg->mqtt_keepalive, .session_expiry = cfg->mqtt_session_expiry,
		.max_inflight = cfg->mqtt_inflight, .qos0_queue_max = cfg->location_queue_max,
	};
	b.mqtt = jwb_mqtt_create(&mo, err, sizeof(err));
	if (!b.mqtt) {
		jwb_error("%s", err);
		goto out;
	}
	jwb_info("starting | broker=%s:%d client_id=%s run=%s", cfg->mqtt_host, cfg->mqtt_port,
			cfg->mqtt_client_id, b.run_id);
	b.next_stats_at = mono_ms() + cfg->stats_interval * 1000;
	b.next_log_at = mono_ms() + cfg->log_interval * 1000;

	for (;;) {
		step(&b);
		if (b.stopping && (all_sent_and_acked(&b) || b.mqtt_state != MQTT_UP ||
				mono_ms() >= b.stop_deadline)) {
			if (b.db) {
				release_rows(&b);
				flush_deletes(&b);
				if (jwb_positions_pending(b.positions))
					flush_positions(&b);
			}
			break;
		}
		struct pollfd fds[3] = {
			{.fd = b.sigfd, .events = POLLIN},
			{.fd = jwb_mqtt_fd(b.mqtt), .events = POLLIN},
			{.fd = b.db ? jwb_db_socket(b.db) : -1, .events = POLLIN},
		};
		int n = poll(fds, 3, b.stopping ? 10 : poll_timeout(&b));
		if (n < 0 && errno != EINTR) {
			jwb_error("poll: %s", strerror(errno));
			goto out;
		}
		if (fds[0].revents)
			drain_signals(&b);
		/* A bounded number of MQTT events per turn: under a flood of driver
		 * locations the outbox, the timers and the stats still get their
		 * turn (the eventfd stays readable while events remain queued). */
		struct jwb_mqtt_event ev;
		for (int k = 0; k < EVENTS_PER_TURN && jwb_mqtt_next_event(b.mqtt, &ev); k++) {
			handle_mqtt_event(&b, &ev);
			jwb_mqtt_event_clear(&ev);
		}
		if (b.db && fds[2].revents) {
			int got = jwb_db_drain_notifies(b.db, err, sizeof(err));
			if (got < 0)
				db_lost(&b, err);
			else if (got > 0)
				b.want_read = true, b.stats.wakeups++;
		}
		int64_t mono = mono_ms();
		if (mono >= b.next_stats_at) {
			bool log_it = mono >= b.next_log_at;
			stats_tick(&b, true, log_it);
			b.next_stats_at = mono + cfg->stats_interval * 1000;
			if (log_it)
				b.next_log_at = mono + cfg->log_interval * 1000;
		}
	}
	rc = 0;
	jwb_info("stopped | changes=%" PRIu64 " deleted=%" PRIu64 " in_flight_left=%d", b.stats.changes,
			b.stats.deleted, b.inflight);
	if (b.mqtt_state != MQTT_DOWN)
		jwb_mqtt_disconnect(b.mqtt, 1000);
out:
	if (b.resync_open && b.db)
		jwb_db_resync_close(b.db, err, sizeof(err));
	queue_clear(&b);
	jwb_mqtt_destroy(b.mqtt);
	jwb_db_close(b.db);
	jwb_plan_free(b.plan);
	jwb_positions_free(b.positions);
	jwb_token_source_free(b.tokens);
	jwb_stats_free(&b.stats);
	free(b.broker_checkpoint);
	free(b.held);
	free(b.to_delete);
	free(b.acked_ahead);
	close(b.sigfd);
	return rc;
}
