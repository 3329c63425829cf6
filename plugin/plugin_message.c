/*
 * plugin_message — what drivers publish: driver/{id}/location and
 * driver/{id}/presence are size-checked, rate-limited per connection and
 * validated (plugin/core/payload_check.h) before the broker stores or
 * routes them.  docs/security.md "Publishing location and presence".
 *
 * MOSQ_EVT_MESSAGE in 2.0.11 (src/handle_publish.c:272, src/plugin.c:130)
 * runs for every client PUBLISH after the ACL WRITE check passed and after
 * $CONTROL/ topics were taken out.  Returning MOSQ_ERR_ACL_DENIED makes the
 * broker drop the message (never delivered, never retained) and answer
 * PUBACK/PUBREC 0x87 "not authorized" to MQTT 5 clients; MQTT 3.1.1 clients
 * get a plain PUBACK (their protocol has no refusal), QoS 0 gets nothing.
 * Any other error code disconnects the client, so it is never returned.
 * The event's reason_code and reason_string are ignored by 2.0.11: the
 * precise reason goes to the log and the counters only.
 *
 * Not covered: last wills.  The broker publishes a will from
 * context__send_will() (src/context.c:176) with an ACL WRITE check and
 * db__messages_easy_queue(), without MOSQ_EVT_MESSAGE.  Messages plugins
 * publish (mosquitto_broker_publish) do not pass here either.
 *
 * Hot path for every other topic: one prefix comparison, no allocation.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "plugin.h"

#define DRIVER_PREFIX "driver/"
#define DRIVER_PREFIX_LEN (sizeof(DRIVER_PREFIX) - 1)
#define LOG_INTERVAL_NS (INT64_C(10) * 1000000000)   /* one refusal line per client per 10 s */

int64_t jw_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *jw_publish_refusal_name(int refusal)
{
	if(refusal == JW_PUB_RATE_LIMITED) return "rate_limited";
	return jw_payload_verdict_name(refusal);
}

/* driver/{id}/location or driver/{id}/presence (id non-empty): the kind;
 * -1 for every other topic. */
static int topic_kind(const char *topic)
{
	if(strncmp(topic, DRIVER_PREFIX, DRIVER_PREFIX_LEN) != 0) return -1;
	const char *id = topic + DRIVER_PREFIX_LEN;
	const char *slash = strchr(id, '/');
	if(slash == NULL || slash == id) return -1;
	if(strcmp(slash + 1, "location") == 0) return JW_PAYLOAD_LOCATION;
	if(strcmp(slash + 1, "presence") == 0) return JW_PAYLOAD_PRESENCE;
	return -1;
}

static int refuse(struct jw_plugin *p, struct mosquitto_evt_message *ed, struct jw_publish_state *st,
		int refusal, const char *reason)
{
	p->stats.publish_refused[refusal]++;
	int64_t now_ns = jw_monotonic_ns();
	if(st){
		if(now_ns < st->log_next_ns){
			st->log_suppressed++;
			return MOSQ_ERR_ACL_DENIED;
		}
		st->log_next_ns = now_ns + LOG_INTERVAL_NS;
	}
	char more[96] = "";
	if(st && st->log_suppressed > 0){
		snprintf(more, sizeof(more), " | %llu more refused from this client since the last line, not logged",
				(unsigned long long)st->log_suppressed);
		st->log_suppressed = 0;
	}
	const char *id = mosquitto_client_id(ed->client);
	const char *addr = mosquitto_client_address(ed->client);
	mosquitto_log_printf(MOSQ_LOG_NOTICE,
			"jetwire: refused publish | client=%s address=%s topic=%s class=%s reason=%s%s",
			id ? id : "-", addr ? addr : "-", ed->topic, jw_publish_refusal_name(refusal), reason, more);
	return MOSQ_ERR_ACL_DENIED;
}

int jw_on_message(int event, void *event_data, void *userdata)
{
	(void)event;
	struct mosquitto_evt_message *ed = event_data;
	if(ed->topic == NULL || ed->topic[0] != 'd') return MOSQ_ERR_SUCCESS;
	int kind = topic_kind(ed->topic);
	if(kind < 0) return MOSQ_ERR_SUCCESS;

	struct jw_plugin *p = userdata;
	struct jw_conn *c = jw_conn_find(p, ed->client);
	/* every connected client has an entry (plugin_clients.c); without one
	 * the payload is still checked, only not rate-limited */
	struct jw_publish_state *st = c ? jw_conn_publish_state(c) : NULL;
	char reason[160];
	size_t len = ed->payloadlen;

	/* the cheap refusals first: size, then the bucket (a flood of garbage
	 * costs one comparison each), then the scan */
	if(len > jw_payload_max_bytes((enum jw_payload_kind)kind)){
		int v = jw_check_payload((enum jw_payload_kind)kind, ed->payload, len, 0, 0, reason, sizeof(reason));
		return refuse(p, ed, st, v, reason);
	}
	if(st && !jw_bucket_take(&st->bucket[kind], jw_monotonic_ns())){
		char rate[32];
		jw_rate_format(&st->bucket[kind].rate, rate, sizeof(rate));
		snprintf(reason, sizeof(reason), "over the %s rate limit of %s (messages a second/burst)",
				jw_payload_kind_name((enum jw_payload_kind)kind), rate);
		return refuse(p, ed, st, JW_PUB_RATE_LIMITED, reason);
	}
	/* a retained empty message clears the topic: the driver may remove its
	 * own retained location or presence */
	if(len == 0 && ed->retain) return MOSQ_ERR_SUCCESS;
	int64_t skew_ms = (int64_t)p->opts.location_max_skew_s * 1000;
	int v = jw_check_payload((enum jw_payload_kind)kind, ed->payload, len, wall_ms(), skew_ms,
			reason, sizeof(reason));
	if(v != JW_PV_OK) return refuse(p, ed, st, v, reason);
	return MOSQ_ERR_SUCCESS;
}
