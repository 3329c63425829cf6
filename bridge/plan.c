/*
 * plan — see plan.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "plan.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

struct jwb_plan {
	const struct jwb_config *cfg;
	json_object *removes;          /* commands that remove, for the open segment */
	json_object *adds;             /* tuples to add, for the open segment */
	struct jwb_msg *pubs, *pubs_tail;
	struct jwb_msg *out, *out_tail;
	size_t removed_tuples;         /* tuples inside `removes` */
	jwb_tracker_kept_fn kept;
	void *kept_arg;
};

static bool streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

struct jwb_msg *jwb_msg_new(const char *topic, const char *payload, size_t len, int qos,
		bool retain, uint32_t expiry)
{
	struct jwb_msg *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->topic = strdup(topic);
	m->payload = malloc(len + 1);
	if (!m->topic || !m->payload) {
		free(m->topic);
		free(m->payload);
		free(m);
		return NULL;
	}
	if (len)
		memcpy(m->payload, payload, len);
	m->payload[len] = '\0';
	m->len = len;
	m->qos = qos;
	m->retain = retain;
	m->expiry = expiry;
	return m;
}

void jwb_msg_free_list(struct jwb_msg *m)
{
	while (m) {
		struct jwb_msg *next = m->next;
		free(m->topic);
		free(m->payload);
		free(m);
		m = next;
	}
}

static void append(struct jwb_msg **head, struct jwb_msg **tail, struct jwb_msg *m)
{
	if (*tail)
		(*tail)->next = m;
	else
		*head = m;
	*tail = m;
}

struct jwb_plan *jwb_plan_new(const struct jwb_config *cfg)
{
	struct jwb_plan *p = calloc(1, sizeof(*p));
	if (p)
		p->cfg = cfg;
	return p;
}

void jwb_plan_set_tracker_check(struct jwb_plan *p, jwb_tracker_kept_fn kept, void *arg)
{
	p->kept = kept;
	p->kept_arg = arg;
}

void jwb_plan_free(struct jwb_plan *p)
{
	if (!p)
		return;
	json_object_put(p->removes);
	json_object_put(p->adds);
	jwb_msg_free_list(p->pubs);
	jwb_msg_free_list(p->out);
	free(p);
}

size_t jwb_plan_open_tuples(const struct jwb_plan *p)
{
	return (p->adds ? json_object_array_length(p->adds) : 0) + p->removed_tuples;
}

static int emit_control(struct jwb_plan *p, json_object *commands)
{
	json_object *doc = json_object_new_object();
	json_object_object_add(doc, "commands", commands);
	size_t len;
	const char *text = json_object_to_json_string_length(doc,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	struct jwb_msg *m = jwb_msg_new(JWB_CONTROL_TOPIC, text, len, 1, false, 0);
	json_object_put(doc);
	if (!m)
		return -1;
	m->control = true;
	append(&p->out, &p->out_tail, m);
	return 0;
}

/* Close the open segment: one control message (removals, then additions),
 * then the segment's publishes. */
static int close_segment(struct jwb_plan *p)
{
	if (p->removes || p->adds) {
		json_object *commands = p->removes ? p->removes : json_object_new_array();
		p->removes = NULL;
		p->removed_tuples = 0;
		if (p->adds) {
			json_object *cmd = json_object_new_object();
			json_object_object_add(cmd, "command", json_object_new_string("addRelations"));
			json_object_object_add(cmd, "relations", p->adds);
			p->adds = NULL;
			json_object_array_add(commands, cmd);
		}
		if (emit_control(p, commands) != 0)
			return -1;
	}
	if (p->pubs) {
		append(&p->out, &p->out_tail, p->pubs);
		p->out_tail = p->pubs_tail;
		p->pubs = p->pubs_tail = NULL;
	}
	return 0;
}

static json_object *tuple(const char *object_kind, const char *object_id, const char *relation,
		const char *subject_kind, const char *subject_id, int ttl)
{
	char object[300], subject[300];
	snprintf(object, sizeof(object), "%s:%s", object_kind, object_id);
	snprintf(subject, sizeof(subject), "%s:%s", subject_kind, subject_id);
	json_object *t = json_object_new_object();
	json_object_object_add(t, "object", json_object_new_string(object));
	json_object_object_add(t, "relation", json_object_new_string(relation));
	json_object_object_add(t, "subject", json_object_new_string(subject));
	if (ttl > 0)
		json_object_object_add(t, "ttl", json_object_new_int(ttl));
	return t;
}

static void add_tuple(struct jwb_plan *p, json_object *t)
{
	if (!p->adds)
		p->adds = json_object_new_array();
	json_object_array_add(p->adds, t);
}

static void remove_command(struct jwb_plan *p, json_object *cmd)
{
	if (!p->removes)
		p->removes = json_object_new_array();
	json_object_array_add(p->removes, cmd);
}

/* The parties of an order: customer, merchant, assigned drivers. */
static void add_parties(struct jwb_plan *p, const char *order_id, const char *customer,
		const char *merchant, const char *pickup, const char *delivery, int ttl)
{
	add_tuple(p, tuple("order", order_id, "party", "customer", customer, ttl));
	add_tuple(p, tuple("order", order_id, "party", "merchant", merchant, ttl));
	if (pickup)
		add_tuple(p, tuple("order", order_id, "party", "driver", pickup, ttl));
	if (delivery && !streq(delivery, pickup))
		add_tuple(p, tuple("order", order_id, "party", "driver", delivery, ttl));
}

static int publish(struct jwb_plan *p, const char *topic, const char *payload, bool retain,
		uint32_t expiry, int64_t ts_ms)
{
	struct jwb_msg *m = jwb_msg_new(topic, payload, payload ? strlen(payload) : 0, 1, retain, expiry);
	if (!m)
		return -1;
	m->ts_ms = ts_ms;
	append(&p->pubs, &p->pubs_tail, m);
	return 0;
}

static void order_topic(char *out, size_t outlen, const char *order_id, const char *leaf)
{
	snprintf(out, outlen, "order/%s/%s", order_id, leaf);
}

static char *driver_payload(const char *order_id, const char *driver_id, const char *role,
		const struct jwb_driver_info *info, int64_t version, int64_t ts_ms,
		char *reason, size_t reason_len)
{
	struct jwb_driver_assignment d = {
		.order_id = order_id, .driver_id = driver_id, .role = role,
		.version = version, .ts_ms = ts_ms,
	};
	if (driver_id && info) {
		d.name = info->name;
		d.rating = info->rating;
		/* A rating the schema cannot carry is left out rather than costing
		 * the order its assignment message. */
		d.has_rating = info->has_rating && info->rating >= 0 && info->rating <= 5;
		d.vehicle_type = info->vehicle_type;
	}
	return jwb_payload_driver_assignment(&d, reason, reason_len);
}

/* The assignment a reader should hold now: the delivery driver once there
 * is one, else the pickup driver, else nobody. */
static void current_assignment(const char *pickup, const char *delivery, const char **driver,
		const char **role)
{
	if (delivery) {
		*driver = delivery;
		*role = "delivery";
	} else {
		*driver = pickup;
		*role = "pickup";
	}
}

static bool check_order_ids(const struct jwb_change *c, char *reason, size_t reason_len)
{
	if (!jwb_check_id("customerId", c->customer_id, reason, reason_len) ||
	    !jwb_check_id("merchantId", c->merchant_id, reason, reason_len))
		return false;
	if (c->pickup_driver_id && !jwb_check_id("pickupDriverId", c->pickup_driver_id, reason, reason_len))
		return false;
	if (c->delivery_driver_id &&
	    !jwb_check_id("deliveryDriverId", c->delivery_driver_id, reason, reason_len))
		return false;
	if (c->previous_pickup_driver_id &&
	    !jwb_check_id("previousPickupDriverId", c->previous_pickup_driver_id, reason, reason_len))
		return false;
	if (c->previous_delivery_driver_id &&
	    !jwb_check_id("previousDeliveryDriverId", c->previous_delivery_driver_id, reason, reason_len))
		return false;
	return true;
}

/* A removed driver loses its party tuple, unless it still holds the other role. */
static bool driver_dropped(const char *previous, const char *pickup, const char *delivery)
{
	return previous && !streq(previous, pickup) && !streq(previous, delivery);
}

/* The drivers whose trackers a change may end: on delete or when the order
 * ends, all its drivers (old and new); otherwise the drivers it dropped. */
static size_t tracker_losers(const struct jwb_config *cfg, const struct jwb_change *c, const char *out[4])
{
	size_t n = 0;
	bool insert = strcmp(c->op, "insert") == 0, del = strcmp(c->op, "delete") == 0;
	bool terminal = c->status && jwb_config_status_terminal(cfg, c->status);
	bool was_terminal = !insert && c->previous_status && jwb_config_status_terminal(cfg, c->previous_status);
	const char *prev[2] = {insert ? NULL : c->previous_pickup_driver_id,
			insert ? NULL : c->previous_delivery_driver_id};
	const char *cur[2] = {c->pickup_driver_id, c->delivery_driver_id};
	bool ends = del || (terminal && !was_terminal);
	for (int i = 0; i < 2; i++) {
		const char *d = prev[i];
		if (!d || was_terminal)
			continue;   /* an ended order's trackers went when it ended */
		if (ends || (!streq(d, cur[0]) && !streq(d, cur[1])))
			out[n++] = d;
	}
	for (int i = 0; ends && !del && i < 2; i++)
		if (cur[i])
			out[n++] = cur[i];
	/* dedupe */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < m; j++)
			seen = seen || streq(out[i], out[j]);
		if (!seen)
			out[m++] = out[i];
	}
	return insert ? 0 : m;   /* an insert starts tracking, it never ends any */
}

void jwb_plan_tracker_candidates(const struct jwb_config *cfg, const struct jwb_change *c,
		jwb_tracker_candidate_fn emit, void *arg)
{
	if (!c->entity || strcmp(c->entity, "order") != 0 || !c->op || !c->entity_id ||
	    !c->customer_id || !c->merchant_id)
		return;
	const char *losers[4];
	size_t n = tracker_losers(cfg, c, losers);
	char customer[300], merchant[300];
	snprintf(customer, sizeof(customer), "customer:%s", c->customer_id);
	snprintf(merchant, sizeof(merchant), "merchant:%s", c->merchant_id);
	for (size_t i = 0; i < n; i++) {
		emit(arg, c->entity_id, losers[i], customer);
		emit(arg, c->entity_id, losers[i], merchant);
	}
}

/* Tracker tuples to remove for a change (kept ones left alone). */
static void tracker_removals(struct jwb_plan *p, const struct jwb_change *c, json_object *tuples)
{
	if (!c->customer_id || !c->merchant_id)
		return;
	const char *losers[4];
	size_t n = tracker_losers(p->cfg, c, losers);
	const char *kinds[2] = {"customer", "merchant"};
	const char *ids[2] = {c->customer_id, c->merchant_id};
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < 2; k++) {
			char subject[300];
			snprintf(subject, sizeof(subject), "%s:%s", kinds[k], ids[k]);
			if (p->kept && p->kept(p->kept_arg, c->entity_id, losers[i], subject))
				continue;
			json_object_array_add(tuples, tuple("driver", losers[i], "tracker", kinds[k], ids[k], 0));
		}
	}
}

static void add_trackers(struct jwb_plan *p, const char *customer, const char *merchant,
		const char *pickup, const char *delivery)
{
	const char *drivers[2] = {pickup, streq(delivery, pickup) ? NULL : delivery};
	for (int i = 0; i < 2; i++) {
		if (!drivers[i])
			continue;
		add_tuple(p, tuple("driver", drivers[i], "tracker", "customer", customer, 0));
		add_tuple(p, tuple("driver", drivers[i], "tracker", "merchant", merchant, 0));
	}
}

static void emit_removals(struct jwb_plan *p, json_object *tuples)
{
	if (json_object_array_length(tuples) == 0) {
		json_object_put(tuples);
		return;
	}
	close_segment(p);
	json_object *cmd = json_object_new_object();
	json_object_object_add(cmd, "command", json_object_new_string("removeRelations"));
	p->removed_tuples += json_object_array_length(tuples);
	json_object_object_add(cmd, "relations", tuples);
	remove_command(p, cmd);
}

static enum jwb_plan_result plan_order_delete(struct jwb_plan *p, const struct jwb_change *c)
{
	if (close_segment(p) != 0)
		return JWB_PLAN_BAD;
	json_object *trackers = json_object_new_array();
	tracker_removals(p, c, trackers);
	emit_removals(p, trackers);
	char object[300];
	snprintf(object, sizeof(object), "order:%s", c->entity_id);
	json_object *cmd = json_object_new_object();
	json_object_object_add(cmd, "command", json_object_new_string("removeObject"));
	json_object_object_add(cmd, "object", json_object_new_string(object));
	remove_command(p, cmd);
	p->removed_tuples++;
	char topic[300];
	order_topic(topic, sizeof(topic), c->entity_id, "status");
	publish(p, topic, "", true, 0, c->ts_ms);
	order_topic(topic, sizeof(topic), c->entity_id, "driver");
	publish(p, topic, "", true, 0, c->ts_ms);
	return JWB_PLAN_OK;
}

static enum jwb_plan_result plan_order(struct jwb_plan *p, const struct jwb_change *c,
		jwb_driver_lookup_fn lookup, void *lookup_arg, char *reason, size_t reason_len)
{
	const struct jwb_config *cfg = p->cfg;
	if (!jwb_check_id("orderId", c->entity_id, reason, reason_len))
		return JWB_PLAN_BAD;
	if (c->version < 1) {
		snprintf(reason, reason_len, "version %lld (expected >= 1)", (long long)c->version);
		return JWB_PLAN_BAD;
	}
	if (strcmp(c->op, "delete") == 0)
		return plan_order_delete(p, c);
	if (!c->status) {
		snprintf(reason, reason_len, "status is NULL");
		return JWB_PLAN_BAD;
	}
	if (!jwb_config_status_known(cfg, c->status)) {
		snprintf(reason, reason_len, "unknown status '%.64s' (not in the bridge's statuses)", c->status);
		return JWB_PLAN_BAD;
	}
	if (!check_order_ids(c, reason, reason_len))
		return JWB_PLAN_BAD;

	bool insert = strcmp(c->op, "insert") == 0;
	bool terminal = jwb_config_status_terminal(cfg, c->status);
	bool was_terminal = !insert && c->previous_status &&
			jwb_config_status_terminal(cfg, c->previous_status);
	bool status_changed = insert || !streq(c->status, c->previous_status);
	const char *prev_pickup = insert ? NULL : c->previous_pickup_driver_id;
	const char *prev_delivery = insert ? NULL : c->previous_delivery_driver_id;
	bool pickup_changed = !streq(c->pickup_driver_id, prev_pickup);
	bool delivery_changed = !streq(c->delivery_driver_id, prev_delivery);
	uint32_t expiry = terminal ? (uint32_t)cfg->terminal_expiry : 0;

	/* Build every payload first: a bad one rejects the row before anything
	 * of it is planned. */
	char *status_json = NULL, *pickup_json = NULL, *delivery_json = NULL, *current_json = NULL;
	struct jwb_driver_info info;
	if (status_changed) {
		struct jwb_order_status s = {
			.order_id = c->entity_id, .order_number = c->order_number, .status = c->status,
			.previous_status = insert ? NULL : c->previous_status,
			.version = c->version, .ts_ms = c->ts_ms,
		};
		if (!(status_json = jwb_payload_order_status(&s, reason, reason_len)))
			goto bad;
	}
	if ((terminal && status_changed) || (was_terminal && !terminal)) {
		/* Ending: the driver message is republished with the same expiry
		 * so broker memory stays bounded; reopening: without it. */
		const char *driver, *role;
		current_assignment(c->pickup_driver_id, c->delivery_driver_id, &driver, &role);
		bool known = driver && lookup && lookup(lookup_arg, driver, &info);
		if (!(current_json = driver_payload(c->entity_id, driver, role, known ? &info : NULL,
				c->version, c->ts_ms, reason, reason_len)))
			goto bad;
	} else {
		if (pickup_changed) {
			bool known = c->pickup_driver_id && lookup && lookup(lookup_arg, c->pickup_driver_id, &info);
			if (!(pickup_json = driver_payload(c->entity_id, c->pickup_driver_id, "pickup",
					known ? &info : NULL, c->version, c->ts_ms, reason, reason_len)))
				goto bad;
		}
		if (delivery_changed) {
			bool known = c->delivery_driver_id && lookup &&
					lookup(lookup_arg, c->delivery_driver_id, &info);
			if (!(delivery_json = driver_payload(c->entity_id, c->delivery_driver_id, "delivery",
					known ? &info : NULL, c->version, c->ts_ms, reason, reason_len)))
				goto bad;
		}
	}

	/* Relations: drivers taken off the order lose access first, and so do
	 * the trackers the change ends (closing the segment so earlier changes
	 * still reach them); then every party is (re)added -- idempotent, and
	 * with the expiry once the order ended -- and the trackers of an active
	 * order's current drivers. */
	bool drop_pickup = driver_dropped(prev_pickup, c->pickup_driver_id, c->delivery_driver_id);
	bool drop_delivery = driver_dropped(prev_delivery, c->pickup_driver_id, c->delivery_driver_id) &&
			!streq(prev_delivery, prev_pickup);
	json_object *removals = json_object_new_array();
	if (drop_pickup)
		json_object_array_add(removals, tuple("order", c->entity_id, "party", "driver", prev_pickup, 0));
	if (drop_delivery)
		json_object_array_add(removals, tuple("order", c->entity_id, "party", "driver", prev_delivery, 0));
	tracker_removals(p, c, removals);
	emit_removals(p, removals);
	/* An order that ended earlier keeps the ttl it got then: re-adding with
	 * a full one would let access outlive its retained terminal status. */
	if (!terminal || status_changed)
		add_parties(p, c->entity_id, c->customer_id, c->merchant_id, c->pickup_driver_id,
				c->delivery_driver_id, terminal ? cfg->terminal_expiry : 0);
	if (!terminal && (insert || pickup_changed || delivery_changed || was_terminal))
		add_trackers(p, c->customer_id, c->merchant_id, c->pickup_driver_id, c->delivery_driver_id);

	char topic[300];
	if (status_json) {
		order_topic(topic, sizeof(topic), c->entity_id, "status");
		publish(p, topic, status_json, true, expiry, c->ts_ms);
	}
	order_topic(topic, sizeof(topic), c->entity_id, "driver");
	if (current_json)
		publish(p, topic, current_json, true, expiry, c->ts_ms);
	if (pickup_json)
		publish(p, topic, pickup_json, true, expiry, c->ts_ms);
	if (delivery_json)
		publish(p, topic, delivery_json, true, expiry, c->ts_ms);
	free(status_json);
	free(current_json);
	free(pickup_json);
	free(delivery_json);
	return JWB_PLAN_OK;
bad:
	free(status_json);
	free(current_json);
	free(pickup_json);
	free(delivery_json);
	return JWB_PLAN_BAD;
}

static const char *const user_types[] = {"customer", "driver", "merchant", "admin", NULL};

static enum jwb_plan_result plan_notification(struct jwb_plan *p, const struct jwb_change *c,
		char *reason, size_t reason_len)
{
	if (!c->user_type) {
		snprintf(reason, reason_len, "userType is NULL");
		return JWB_PLAN_BAD;
	}
	bool known = false;
	for (size_t i = 0; user_types[i]; i++)
		known = known || strcmp(user_types[i], c->user_type) == 0;
	if (!known) {
		snprintf(reason, reason_len, "userType '%.64s' is not customer, driver, merchant or admin",
				c->user_type);
		return JWB_PLAN_BAD;
	}
	if (!jwb_check_id("userId", c->user_id, reason, reason_len))
		return JWB_PLAN_BAD;
	struct jwb_notification n = {
		.id = c->entity_id, .title = c->title, .body = c->body, .data_json = c->data_json,
		.ts_ms = c->ts_ms,
	};
	char *json = jwb_payload_notification(&n, reason, reason_len);
	if (!json)
		return JWB_PLAN_BAD;
	char topic[300];
	snprintf(topic, sizeof(topic), "%s/%s/notifications", c->user_type, c->user_id);
	publish(p, topic, json, false, 0, c->ts_ms);
	free(json);
	return JWB_PLAN_OK;
}

enum jwb_plan_result jwb_plan_change(struct jwb_plan *p, const struct jwb_change *c,
		jwb_driver_lookup_fn lookup, void *lookup_arg, char *reason, size_t reason_len)
{
	reason[0] = '\0';
	if (!c->op || !c->entity) {
		snprintf(reason, reason_len, "op or entity is NULL");
		return JWB_PLAN_BAD;
	}
	if (strcmp(c->op, "truncate") == 0)
		return JWB_PLAN_RESYNC;
	if (strcmp(c->entity, "order") == 0)
		return plan_order(p, c, lookup, lookup_arg, reason, reason_len);
	if (strcmp(c->entity, "notification") == 0)
		return plan_notification(p, c, reason, reason_len);
	snprintf(reason, reason_len, "unknown entity '%.32s'", c->entity);
	return JWB_PLAN_BAD;
}

enum jwb_plan_result jwb_plan_order_state(struct jwb_plan *p, const struct jwb_order_state *s,
		int64_t now_ms, char *reason, size_t reason_len)
{
	const struct jwb_config *cfg = p->cfg;
	reason[0] = '\0';
	if (!jwb_check_id("orderId", s->id, reason, reason_len))
		return JWB_PLAN_BAD;
	if (!s->status) {
		snprintf(reason, reason_len, "status is NULL");
		return JWB_PLAN_BAD;
	}
	if (!jwb_config_status_known(cfg, s->status)) {
		snprintf(reason, reason_len, "unknown status '%.64s' (not in the bridge's statuses)", s->status);
		return JWB_PLAN_BAD;
	}
	if (!jwb_check_id("customerId", s->customer_id, reason, reason_len) ||
	    !jwb_check_id("merchantId", s->merchant_id, reason, reason_len) ||
	    (s->pickup_driver_id && !jwb_check_id("pickupDriverId", s->pickup_driver_id, reason, reason_len)) ||
	    (s->delivery_driver_id && !jwb_check_id("deliveryDriverId", s->delivery_driver_id, reason, reason_len)))
		return JWB_PLAN_BAD;
	bool terminal = jwb_config_status_terminal(cfg, s->status);
	int ttl = 0;
	if (terminal) {
		int64_t left_ms = s->changed_ms + (int64_t)cfg->terminal_expiry * 1000 - now_ms;
		if (left_ms < 1000) {
			snprintf(reason, reason_len, "ended more than terminal_expiry ago");
			return JWB_PLAN_BAD;
		}
		ttl = (int)(left_ms / 1000);
	}
	/* Which versions to publish.  Waiting changes publish their own
	 * transitions next; what none of them moves is restored as it stood
	 * before the oldest of them (all later ones are still in the outbox,
	 * so the snapshot's value is that state). */
	int64_t status_version = 0, driver_version = 0;
	if (!s->pending) {
		status_version = driver_version = s->version;
	} else if (s->pending_min_version > 1) {
		if (!s->pending_status_change)
			status_version = s->pending_min_version - 1;
		if (!s->pending_driver_change)
			driver_version = s->pending_min_version - 1;
	}

	/* Payloads first: a row rejected here plans nothing, not even its
	 * relations. */
	char *status_json = NULL, *driver_json = NULL;
	if (status_version >= 1) {
		struct jwb_order_status st = {
			.order_id = s->id, .order_number = s->order_number, .status = s->status,
			.previous_status = s->previous_status, .version = status_version, .ts_ms = s->changed_ms,
		};
		status_json = jwb_payload_order_status(&st, reason, reason_len);
		if (!status_json)
			return JWB_PLAN_BAD;
	}
	const char *driver, *role;
	current_assignment(s->pickup_driver_id, s->delivery_driver_id, &driver, &role);
	if (driver_version >= 1 && (driver || terminal)) {
		const struct jwb_driver_info *info = driver == s->delivery_driver_id ? &s->delivery : &s->pickup;
		driver_json = driver_payload(s->id, driver, role, driver ? info : NULL, driver_version,
				s->changed_ms, reason, reason_len);
		if (!driver_json) {
			free(status_json);
			return JWB_PLAN_BAD;
		}
	}
	add_parties(p, s->id, s->customer_id, s->merchant_id, s->pickup_driver_id,
			s->delivery_driver_id, ttl);
	if (!terminal)
		add_trackers(p, s->customer_id, s->merchant_id, s->pickup_driver_id, s->delivery_driver_id);
	char topic[300];
	if (status_json) {
		order_topic(topic, sizeof(topic), s->id, "status");
		publish(p, topic, status_json, true, (uint32_t)ttl, s->changed_ms);
	}
	if (driver_json) {
		order_topic(topic, sizeof(topic), s->id, "driver");
		publish(p, topic, driver_json, true, (uint32_t)ttl, s->changed_ms);
	}
	free(status_json);
	free(driver_json);
	return JWB_PLAN_OK;
}

int jwb_plan_command(struct jwb_plan *p, const char *command)
{
	if (close_segment(p) != 0)
		return -1;
	json_object *commands = json_object_new_array();
	json_object *cmd = json_object_new_object();
	json_object_object_add(cmd, "command", json_object_new_string(command));
	json_object_array_add(commands, cmd);
	return emit_control(p, commands);
}

struct jwb_msg *jwb_plan_take(struct jwb_plan *p)
{
	close_segment(p);
	struct jwb_msg *out = p->out;
	p->out = p->out_tail = NULL;
	return out;
}
