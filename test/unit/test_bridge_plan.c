/*
 * Bridge plan (bridge/plan.c): outbox rows and resync rows -> the ordered
 * MQTT messages the bridge sends.  Every produced message is checked for its
 * topic and flags (qos, retain, expiry, control, ts_ms), and its payload is
 * parsed back with json-c and checked field by field: the $CONTROL relation
 * commands (docs/control.md), orderStatus, driverAssignment, notification
 * (SPEC "Payloads"), and their order (SPEC "Bridge guarantees", plan.h),
 * including the tracker relations that grant a driver's location and
 * presence (SPEC "Topic tree", "Lifecycle of access").
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "payload.h"
#include "plan.h"
#include "unit_support.h"

/* 2026-11-25T22:50:01.123Z */
#define TS INT64_C(1795647001123)
#define TS_TEXT "2026-11-25T22:50:01.123Z"
/* 2026-11-25T22:51:02.456Z */
#define TS2 INT64_C(1795647062456)
#define TS2_TEXT "2026-11-25T22:51:02.456Z"

/* Distinct from the default (3600), so the tests see it comes from cfg. */
#define EXPIRY 5400

/* ------------------------------------------------------------------------ */
/* Fixture: a config with the default statuses, one plan, and everything the
 * test took or parsed (freed in teardown, so the ASan run is leak-free). */

static struct jwb_config cfg;
/* What the driver lookup was asked. */
struct lookup_ctx {
	int calls;
	char last[64];
};
static struct lookup_ctx lk;
static bool cfg_loaded;
static struct jwb_plan *plan;
static char reason[256];

#define MAX_OWNED 64
static struct jwb_msg *owned_lists[MAX_OWNED];
static size_t n_owned_lists;
static struct json_object *owned_docs[MAX_OWNED * 8];
static size_t n_owned_docs;

static void setup(void)
{
	memset(reason, 0, sizeof(reason));
	memset(&lk, 0, sizeof(lk));
	ck_assert_int_eq(jwb_config_defaults(&cfg), 0);
	cfg_loaded = true;
	cfg.terminal_expiry = EXPIRY;
	plan = jwb_plan_new(&cfg);
	ck_assert_ptr_nonnull(plan);
	n_owned_lists = 0;
	n_owned_docs = 0;
}

static void teardown(void)
{
	for(size_t i = 0; i < n_owned_docs; i++) json_object_put(owned_docs[i]);
	n_owned_docs = 0;
	for(size_t i = 0; i < n_owned_lists; i++) jwb_msg_free_list(owned_lists[i]);
	n_owned_lists = 0;
	jwb_plan_free(plan);
	plan = NULL;
	if(cfg_loaded) jwb_config_free(&cfg);
	cfg_loaded = false;
}

/* ------------------------------------------------------------------------ */
/* JSON: unit_support.h's ut_json_* helpers, plus */

/* Parsed strictly (ut_json_parse), freed at teardown. */
static struct json_object *parse_doc(const char *text)
{
	struct json_object *o = ut_json_parse(text);
	ck_assert_uint_lt(n_owned_docs, sizeof(owned_docs) / sizeof(owned_docs[0]));
	owned_docs[n_owned_docs++] = o;
	return o;
}

/* want NULL: the field is JSON null. */
static void assert_str_or_null(struct json_object *o, const char *key, const char *want)
{
	if(want == NULL){
		ut_json_assert_null(o, key);
	}else{
		ut_json_assert_str(o, key, want);
	}
}

/* ------------------------------------------------------------------------ */
/* Planned messages */

#define MAX_MSGS 64
struct out {
	struct jwb_msg *m[MAX_MSGS];
	size_t n;
};

/* jwb_plan_take, as an array (the list is freed in teardown). */
static struct out take(void)
{
	struct out o = {.n = 0};
	struct jwb_msg *head = jwb_plan_take(plan);
	if(head != NULL){
		ck_assert_uint_lt(n_owned_lists, MAX_OWNED);
		owned_lists[n_owned_lists++] = head;
	}
	for(struct jwb_msg *m = head; m != NULL; m = m->next){
		ck_assert_uint_lt(o.n, MAX_MSGS);
		o.m[o.n++] = m;
	}
	return o;
}

static void assert_count(const struct out *o, size_t want)
{
	if(o->n != want){
		fprintf(stderr, "planned %zu messages, want %zu:\n", o->n, want);
		for(size_t i = 0; i < o->n; i++){
			fprintf(stderr, "  [%zu] %s %s\n", i, o->m[i]->topic, o->m[i]->payload);
		}
	}
	ck_assert_uint_eq(o->n, want);
}

/* A $CONTROL message with n commands: returns its "commands" array. */
static struct json_object *control(const struct jwb_msg *m, size_t n_commands)
{
	ck_assert_str_eq(m->topic, JWB_CONTROL_TOPIC);
	ck_assert_msg(m->control, "not flagged control: %s", m->topic);
	ck_assert_int_eq(m->qos, 1);
	ck_assert(!m->retain);
	ck_assert_uint_eq(m->expiry, 0);
	ck_assert_int_eq(m->ts_ms, 0);
	ck_assert_uint_eq(m->len, strlen(m->payload));
	struct json_object *doc = parse_doc(m->payload);
	ut_json_assert_keys(doc, "commands", NULL);
	struct json_object *cmds = ut_json_field(doc, "commands");
	ck_assert(json_object_is_type(cmds, json_type_array));
	ck_assert_msg(json_object_array_length(cmds) == n_commands, "%zu commands, want %zu: %s",
		json_object_array_length(cmds), n_commands, m->payload);
	return cmds;
}

static struct json_object *command_at(struct json_object *cmds, size_t i)
{
	struct json_object *c = json_object_array_get_idx(cmds, i);
	ck_assert_ptr_nonnull(c);
	ck_assert(json_object_is_type(c, json_type_object));
	return c;
}

struct tup {
	const char *object, *relation, *subject;
	int ttl;                    /* 0: no "ttl" key */
};

#define PARTY(id, subject) {"order:" id, "party", subject, 0}
#define PARTY_TTL(id, subject, ttl) {"order:" id, "party", subject, ttl}
/* (driver:{d}, tracker, customer:{c} | merchant:{m}): never a ttl */
#define TRACKER(driver, subject) {"driver:" driver, "tracker", subject, 0}
#define TUPLES(...) ((const struct tup[]){__VA_ARGS__}), \
	(sizeof((const struct tup[]){__VA_ARGS__}) / sizeof(struct tup))

static void assert_tuple(struct json_object *t, const struct tup *want)
{
	ck_assert(json_object_is_type(t, json_type_object));
	if(want->ttl > 0){
		ut_json_assert_keys(t, "object", "relation", "subject", "ttl", NULL);
		ut_json_assert_int(t, "ttl", want->ttl);
	}else{
		ut_json_assert_keys(t, "object", "relation", "subject", NULL);
	}
	ut_json_assert_str(t, "object", want->object);
	ut_json_assert_str(t, "relation", want->relation);
	ut_json_assert_str(t, "subject", want->subject);
}

/* {"command": name, "relations": [want...]} */
static void assert_relations(struct json_object *cmd, const char *name, const struct tup *want, size_t n)
{
	ut_json_assert_keys(cmd, "command", "relations", NULL);
	ut_json_assert_str(cmd, "command", name);
	struct json_object *rels = ut_json_field(cmd, "relations");
	ck_assert(json_object_is_type(rels, json_type_array));
	ck_assert_msg(json_object_array_length(rels) == n, "%s: %zu tuples, want %zu: %s", name,
		json_object_array_length(rels), n, json_object_to_json_string(cmd));
	for(size_t i = 0; i < n; i++) assert_tuple(json_object_array_get_idx(rels, i), &want[i]);
}

static void assert_command_only(struct json_object *cmd, const char *name)
{
	ut_json_assert_keys(cmd, "command", NULL);
	ut_json_assert_str(cmd, "command", name);
}

/* A publish (not control, QoS 1) with a JSON payload: returns it parsed. */
static struct json_object *pub(const struct jwb_msg *m, const char *topic, bool retain, uint32_t expiry,
		int64_t ts_ms)
{
	ck_assert_str_eq(m->topic, topic);
	ck_assert_msg(!m->control, "%s flagged control", m->topic);
	ck_assert_int_eq(m->qos, 1);
	ck_assert_msg(m->retain == retain, "%s: retain %d, want %d", m->topic, m->retain, retain);
	ck_assert_msg(m->expiry == expiry, "%s: expiry %u, want %u", m->topic, m->expiry, expiry);
	ck_assert_int_eq(m->ts_ms, ts_ms);
	ck_assert_uint_gt(m->len, 0);
	ck_assert_uint_eq(m->len, strlen(m->payload));
	return parse_doc(m->payload);
}

/* A retained clear: empty payload. */
static void assert_clear(const struct jwb_msg *m, const char *topic, int64_t ts_ms)
{
	ck_assert_str_eq(m->topic, topic);
	ck_assert(!m->control);
	ck_assert_int_eq(m->qos, 1);
	ck_assert(m->retain);
	ck_assert_uint_eq(m->expiry, 0);
	ck_assert_int_eq(m->ts_ms, ts_ms);
	ck_assert_uint_eq(m->len, 0);
	ck_assert_ptr_nonnull(m->payload);
	ck_assert_str_eq(m->payload, "");
}

static void assert_status(struct json_object *d, const char *order_id, const char *order_number,
		const char *status, const char *previous, int64_t version, const char *ts_text)
{
	ut_json_assert_keys(d, "orderId", "orderNumber", "status", "previousStatus", "version", "timestamp", NULL);
	ut_json_assert_str(d, "orderId", order_id);
	assert_str_or_null(d, "orderNumber", order_number);
	ut_json_assert_str(d, "status", status);
	assert_str_or_null(d, "previousStatus", previous);
	ut_json_assert_int(d, "version", version);
	ut_json_assert_str(d, "timestamp", ts_text);
}

/* rating NAN: null. */
static void assert_driver(struct json_object *d, const char *order_id, const char *driver_id,
		const char *role, const char *name, double rating, const char *vehicle, int64_t version,
		const char *ts_text)
{
	ut_json_assert_keys(d, "orderId", "driverId", "role", "name", "rating", "vehicleType", "version",
		"timestamp", NULL);
	ut_json_assert_str(d, "orderId", order_id);
	assert_str_or_null(d, "driverId", driver_id);
	ut_json_assert_str(d, "role", role);
	assert_str_or_null(d, "name", name);
	struct json_object *r = ut_json_field(d, "rating");
	if(isnan(rating)){
		ck_assert_msg(r == NULL, "rating is not null: %s", json_object_to_json_string(d));
	}else{
		ck_assert_msg(json_object_is_type(r, json_type_double), "rating is not a number");
		ck_assert_double_eq(json_object_get_double(r), rating);
	}
	assert_str_or_null(d, "vehicleType", vehicle);
	ut_json_assert_int(d, "version", version);
	ut_json_assert_str(d, "timestamp", ts_text);
}

/* ------------------------------------------------------------------------ */
/* Drivers, as the batch's driver query returns them */

static bool lookup(void *arg, const char *driver_id, struct jwb_driver_info *out)
{
	struct lookup_ctx *ctx = arg;
	ck_assert_ptr_nonnull(ctx);
	ck_assert_ptr_nonnull(driver_id);
	ctx->calls++;
	snprintf(ctx->last, sizeof(ctx->last), "%s", driver_id);
	if(strcmp(driver_id, "drv-A") == 0){
		*out = (struct jwb_driver_info){.name = "Alice", .rating = 4.8, .has_rating = true,
			.vehicle_type = "bike"};
		return true;
	}
	if(strcmp(driver_id, "drv-B") == 0){
		*out = (struct jwb_driver_info){.name = "Bob", .rating = 4.25, .has_rating = true,
			.vehicle_type = "van"};
		return true;
	}
	if(strcmp(driver_id, "drv-bad-rating") == 0){
		*out = (struct jwb_driver_info){.name = "Eve", .rating = 7.0, .has_rating = true};
		return true;
	}
	return false;   /* unknown driver */
}

/* ------------------------------------------------------------------------ */
/* Rows */

static struct jwb_change order_row(const char *op, const char *id, int64_t version, const char *status,
		const char *previous_status)
{
	return (struct jwb_change){
		.id = version, .entity = "order", .entity_id = id, .version = version, .op = op, .ts_ms = TS,
		.order_number = "N-1001", .status = status, .previous_status = previous_status,
		.customer_id = "cust-1", .merchant_id = "merch-1",
	};
}

static struct jwb_change notification_row(const char *user_type, const char *user_id)
{
	return (struct jwb_change){
		.id = 99, .entity = "notification", .entity_id = "ntf-9", .version = 1, .op = "insert",
		.ts_ms = TS2, .user_type = user_type, .user_id = user_id, .title = "Ready",
		.body = "Your order is ready", .data_json = "{\"orderId\":\"o1\",\"n\":2}",
	};
}

static void plan_ok(const struct jwb_change *c)
{
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	enum jwb_plan_result r = jwb_plan_change(plan, c, lookup, &lk, reason, sizeof(reason));
	ck_assert_msg(r == JWB_PLAN_OK, "result %d: %s", (int)r, reason);
	ck_assert_str_eq(reason, "");
}

static void plan_bad(const struct jwb_change *c, const char *want)
{
	memset(reason, 0, sizeof(reason));
	enum jwb_plan_result r = jwb_plan_change(plan, c, lookup, &lk, reason, sizeof(reason));
	ck_assert_msg(r == JWB_PLAN_BAD, "result %d (want BAD '%s')", (int)r, want);
	ck_assert_msg(strcmp(reason, want) == 0, "reason '%s', want '%s'", reason, want);
}

static void state_ok(const struct jwb_order_state *s, int64_t now_ms)
{
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	enum jwb_plan_result r = jwb_plan_order_state(plan, s, now_ms, reason, sizeof(reason));
	ck_assert_msg(r == JWB_PLAN_OK, "result %d: %s", (int)r, reason);
	ck_assert_str_eq(reason, "");
}

static void state_bad(const struct jwb_order_state *s, int64_t now_ms, const char *want)
{
	memset(reason, 0, sizeof(reason));
	enum jwb_plan_result r = jwb_plan_order_state(plan, s, now_ms, reason, sizeof(reason));
	ck_assert_msg(r == JWB_PLAN_BAD, "result %d (want BAD '%s')", (int)r, want);
	ck_assert_msg(strcmp(reason, want) == 0, "reason '%s', want '%s'", reason, want);
}

static char *rep(char c, size_t n)
{
	char *s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ------------------------------------------------------------------------ */
/* Messages and the empty plan */

START_TEST(msg_new_copies_and_frees)
{
	struct jwb_msg *m = jwb_msg_new("order/1/status", "{\"a\":1}xyz", 7, 1, true, 42);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->topic, "order/1/status");
	ck_assert_uint_eq(m->len, 7);
	ck_assert_str_eq(m->payload, "{\"a\":1}");
	ck_assert_int_eq(m->qos, 1);
	ck_assert(m->retain);
	ck_assert_uint_eq(m->expiry, 42);
	ck_assert(!m->control);
	ck_assert_int_eq(m->ts_ms, 0);
	ck_assert_ptr_null(m->next);
	m->next = jwb_msg_new("order/1/driver", NULL, 0, 0, false, 0);
	ck_assert_ptr_nonnull(m->next);
	ck_assert_uint_eq(m->next->len, 0);
	ck_assert_str_eq(m->next->payload, "");
	jwb_msg_free_list(m);
	jwb_msg_free_list(NULL);
}
END_TEST

START_TEST(empty_plan_takes_nothing)
{
	ck_assert_ptr_null(jwb_plan_take(plan));
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
	ck_assert_ptr_null(jwb_plan_take(plan));
	jwb_plan_free(NULL);
}
END_TEST

START_TEST(plan_with_open_segment_frees_cleanly)
{
	/* planned, never taken: jwb_plan_free releases it (ASan checks) */
	struct jwb_change c = order_row("insert", "o1", 1, "PENDING", NULL);
	c.pickup_driver_id = "drv-A";
	plan_ok(&c);
	c = order_row("update", "o1", 2, "PENDING", "PENDING");
	c.previous_pickup_driver_id = "drv-A";
	c.pickup_driver_id = "drv-B";
	plan_ok(&c);
	ck_assert_uint_gt(jwb_plan_open_tuples(plan), 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Insert */

START_TEST(insert_without_driver)
{
	/* an insert's previousStatus is null whatever the row says */
	struct jwb_change c = order_row("insert", "o1", 1, "PENDING", "CONFIRMED");
	plan_ok(&c);
	ck_assert_int_eq(lk.calls, 0);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 2);
	struct out o = take();
	assert_count(&o, 2);

	struct json_object *cmds = control(o.m[0], 1);
	assert_relations(command_at(cmds, 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1")));

	struct json_object *d = pub(o.m[1], "order/o1/status", true, 0, TS);
	assert_status(d, "o1", "N-1001", "PENDING", NULL, 1, TS_TEXT);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
	ck_assert_ptr_null(jwb_plan_take(plan));
}
END_TEST

START_TEST(insert_null_order_number_is_json_null)
{
	struct jwb_change c = order_row("insert", "o1", 3, "CONFIRMED", NULL);
	c.order_number = NULL;
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 2);
	assert_status(pub(o.m[1], "order/o1/status", true, 0, TS), "o1", NULL, "CONFIRMED", NULL, 3, TS_TEXT);
}
END_TEST

START_TEST(insert_with_pickup_driver)
{
	struct jwb_change c = order_row("insert", "o1", 1, "ASSIGNED_TO_DRIVER", NULL);
	c.pickup_driver_id = "drv-A";
	plan_ok(&c);
	ck_assert_int_eq(lk.calls, 1);
	ck_assert_str_eq(lk.last, "drv-A");
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 5);
	struct out o = take();
	assert_count(&o, 3);

	/* parties, then the trackers of the assigned driver */
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	assert_status(pub(o.m[1], "order/o1/status", true, 0, TS), "o1", "N-1001", "ASSIGNED_TO_DRIVER",
		NULL, 1, TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, 0, TS), "o1", "drv-A", "pickup", "Alice", 4.8,
		"bike", 1, TS_TEXT);
}
END_TEST

START_TEST(insert_with_unknown_driver_has_null_details)
{
	struct jwb_change c = order_row("insert", "o1", 1, "ASSIGNED_TO_DRIVER", NULL);
	c.pickup_driver_id = "drv-unknown";
	plan_ok(&c);
	ck_assert_int_eq(lk.calls, 1);
	ck_assert_str_eq(lk.last, "drv-unknown");
	struct out o = take();
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-unknown"),
			TRACKER("drv-unknown", "customer:cust-1"), TRACKER("drv-unknown", "merchant:merch-1")));
	assert_driver(pub(o.m[2], "order/o1/driver", true, 0, TS), "o1", "drv-unknown", "pickup", NULL, NAN,
		NULL, 1, TS_TEXT);
}
END_TEST

START_TEST(insert_without_lookup_has_null_details)
{
	struct jwb_change c = order_row("insert", "o1", 2, "ASSIGNED_TO_DRIVER", NULL);
	c.pickup_driver_id = "drv-A";
	ck_assert_int_eq(jwb_plan_change(plan, &c, NULL, NULL, reason, sizeof(reason)), JWB_PLAN_OK);
	ck_assert_str_eq(reason, "");
	struct out o = take();
	assert_count(&o, 3);
	assert_driver(pub(o.m[2], "order/o1/driver", true, 0, TS), "o1", "drv-A", "pickup", NULL, NAN, NULL,
		2, TS_TEXT);
}
END_TEST

START_TEST(insert_with_both_drivers)
{
	struct jwb_change c = order_row("insert", "o1", 1, "OUT_FOR_DELIVERY", NULL);
	c.pickup_driver_id = "drv-A";
	c.delivery_driver_id = "drv-B";
	plan_ok(&c);
	ck_assert_int_eq(lk.calls, 2);
	struct out o = take();
	assert_count(&o, 4);
	/* trackers per driver (pickup first): customer, then merchant */
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-A"), PARTY("o1", "driver:drv-B"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1")));
	assert_status(pub(o.m[1], "order/o1/status", true, 0, TS), "o1", "N-1001", "OUT_FOR_DELIVERY",
		NULL, 1, TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, 0, TS), "o1", "drv-A", "pickup", "Alice", 4.8,
		"bike", 1, TS_TEXT);
	assert_driver(pub(o.m[3], "order/o1/driver", true, 0, TS), "o1", "drv-B", "delivery", "Bob", 4.25,
		"van", 1, TS_TEXT);
}
END_TEST

START_TEST(insert_same_driver_both_roles_one_tuple)
{
	struct jwb_change c = order_row("insert", "o1", 1, "OUT_FOR_DELIVERY", NULL);
	c.pickup_driver_id = "drv-A";
	c.delivery_driver_id = "drv-A";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 4);
	/* one party tuple and one pair of trackers for the driver */
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	assert_driver(pub(o.m[2], "order/o1/driver", true, 0, TS), "o1", "drv-A", "pickup", "Alice", 4.8,
		"bike", 1, TS_TEXT);
	assert_driver(pub(o.m[3], "order/o1/driver", true, 0, TS), "o1", "drv-A", "delivery", "Alice", 4.8,
		"bike", 1, TS_TEXT);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Update */

START_TEST(update_status_only)
{
	struct jwb_change c = order_row("update", "o1", 5, "PICKED_UP", "ASSIGNED_TO_DRIVER");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	plan_ok(&c);
	ck_assert_int_eq(lk.calls, 0);
	struct out o = take();
	assert_count(&o, 2);
	/* parties re-added (idempotent), the unchanged driver included */
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-A")));
	assert_status(pub(o.m[1], "order/o1/status", true, 0, TS), "o1", "N-1001", "PICKED_UP",
		"ASSIGNED_TO_DRIVER", 5, TS_TEXT);
}
END_TEST

START_TEST(update_without_relevant_change_publishes_nothing)
{
	struct jwb_change c = order_row("update", "o1", 6, "PICKED_UP", "PICKED_UP");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 1);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-A")));
}
END_TEST

START_TEST(update_pickup_assigned)
{
	struct jwb_change c = order_row("update", "o1", 4, "CONFIRMED", "CONFIRMED");
	c.pickup_driver_id = "drv-A";
	plan_ok(&c);
	ck_assert_int_eq(lk.calls, 1);
	struct out o = take();
	assert_count(&o, 2);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	assert_driver(pub(o.m[1], "order/o1/driver", true, 0, TS), "o1", "drv-A", "pickup", "Alice", 4.8,
		"bike", 4, TS_TEXT);
}
END_TEST

START_TEST(update_delivery_assigned_keeps_pickup)
{
	struct jwb_change c = order_row("update", "o1", 8, "READY_FOR_DELIVERY", "READY_FOR_DELIVERY");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	c.delivery_driver_id = "drv-B";
	plan_ok(&c);
	ck_assert_int_eq(lk.calls, 1);
	ck_assert_str_eq(lk.last, "drv-B");
	struct out o = take();
	assert_count(&o, 2);
	/* a driver change (re)adds the trackers of every current driver */
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-A"), PARTY("o1", "driver:drv-B"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1")));
	assert_driver(pub(o.m[1], "order/o1/driver", true, 0, TS), "o1", "drv-B", "delivery", "Bob", 4.25,
		"van", 8, TS_TEXT);
}
END_TEST

START_TEST(update_pickup_unassigned)
{
	struct jwb_change c = order_row("update", "o1", 4, "CONFIRMED", "CONFIRMED");
	c.previous_pickup_driver_id = "drv-A";
	plan_ok(&c);
	ck_assert_int_eq(lk.calls, 0);
	struct out o = take();
	assert_count(&o, 2);
	struct json_object *cmds = control(o.m[0], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1")));
	assert_driver(pub(o.m[1], "order/o1/driver", true, 0, TS), "o1", NULL, "pickup", NULL, NAN, NULL, 4,
		TS_TEXT);
}
END_TEST

START_TEST(reassignment_removes_after_earlier_publishes)
{
	/* change 1: status of o1 (A still assigned: A must receive it) */
	struct jwb_change c1 = order_row("update", "o1", 2, "CONFIRMED", "PENDING");
	c1.pickup_driver_id = c1.previous_pickup_driver_id = "drv-A";
	plan_ok(&c1);
	/* change 2: pickup A -> B */
	struct jwb_change c2 = order_row("update", "o1", 3, "CONFIRMED", "CONFIRMED");
	c2.previous_pickup_driver_id = "drv-A";
	c2.pickup_driver_id = "drv-B";
	c2.ts_ms = TS2;
	plan_ok(&c2);
	/* change 3: another order, joins change 2's segment */
	struct jwb_change c3 = order_row("update", "o2", 7, "PICKED_UP", "CONFIRMED");
	c3.customer_id = "cust-2";
	plan_ok(&c3);
	ck_assert_int_eq(lk.calls, 1);
	ck_assert_str_eq(lk.last, "drv-B");

	struct out o = take();
	assert_count(&o, 5);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-A")));
	assert_status(pub(o.m[1], "order/o1/status", true, 0, TS), "o1", "N-1001", "CONFIRMED", "PENDING",
		2, TS_TEXT);
	/* the removal comes after change 1's publish, before change 2's */
	struct json_object *cmds = control(o.m[2], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-B"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1"),
			PARTY("o2", "customer:cust-2"), PARTY("o2", "merchant:merch-1")));
	assert_driver(pub(o.m[3], "order/o1/driver", true, 0, TS2), "o1", "drv-B", "pickup", "Bob", 4.25,
		"van", 3, TS2_TEXT);
	assert_status(pub(o.m[4], "order/o2/status", true, 0, TS), "o2", "N-1001", "PICKED_UP", "CONFIRMED",
		7, TS_TEXT);
}
END_TEST

START_TEST(same_driver_in_both_roles_removed_once)
{
	struct jwb_change c = order_row("update", "o1", 9, "OUT_FOR_DELIVERY", "OUT_FOR_DELIVERY");
	c.previous_pickup_driver_id = c.previous_delivery_driver_id = "drv-A";
	c.pickup_driver_id = c.delivery_driver_id = "drv-B";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 3);
	struct json_object *cmds = control(o.m[0], 2);
	/* A lost both roles: one party tuple, one pair of trackers */
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-B"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1")));
	assert_driver(pub(o.m[1], "order/o1/driver", true, 0, TS), "o1", "drv-B", "pickup", "Bob", 4.25,
		"van", 9, TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, 0, TS), "o1", "drv-B", "delivery", "Bob", 4.25,
		"van", 9, TS_TEXT);
}
END_TEST

START_TEST(both_drivers_replaced_removes_both)
{
	struct jwb_change c = order_row("update", "o1", 9, "OUT_FOR_DELIVERY", "OUT_FOR_DELIVERY");
	c.previous_pickup_driver_id = "drv-A";
	c.previous_delivery_driver_id = "drv-B";
	c.pickup_driver_id = "drv-C";
	c.delivery_driver_id = "drv-D";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 3);
	struct json_object *cmds = control(o.m[0], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(PARTY("o1", "driver:drv-A"), PARTY("o1", "driver:drv-B"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-C"), PARTY("o1", "driver:drv-D"),
			TRACKER("drv-C", "customer:cust-1"), TRACKER("drv-C", "merchant:merch-1"),
			TRACKER("drv-D", "customer:cust-1"), TRACKER("drv-D", "merchant:merch-1")));
	assert_driver(pub(o.m[1], "order/o1/driver", true, 0, TS), "o1", "drv-C", "pickup", NULL, NAN, NULL,
		9, TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, 0, TS), "o1", "drv-D", "delivery", NULL, NAN, NULL,
		9, TS_TEXT);
}
END_TEST

START_TEST(driver_moving_to_other_role_is_not_removed)
{
	/* an earlier change in the batch: the move must not split the segment */
	struct jwb_change c0 = order_row("insert", "o0", 1, "PENDING", NULL);
	plan_ok(&c0);
	/* pickup A -> none, delivery none -> A: A stays a party */
	struct jwb_change c = order_row("update", "o1", 6, "READY_FOR_DELIVERY", "READY_FOR_DELIVERY");
	c.previous_pickup_driver_id = "drv-A";
	c.delivery_driver_id = "drv-A";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 4);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o0", "customer:cust-1"), PARTY("o0", "merchant:merch-1"),
			PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	assert_status(pub(o.m[1], "order/o0/status", true, 0, TS), "o0", "N-1001", "PENDING", NULL, 1, TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, 0, TS), "o1", NULL, "pickup", NULL, NAN, NULL, 6,
		TS_TEXT);
	assert_driver(pub(o.m[3], "order/o1/driver", true, 0, TS), "o1", "drv-A", "delivery", "Alice", 4.8,
		"bike", 6, TS_TEXT);
}
END_TEST

START_TEST(only_the_driver_leaving_is_removed)
{
	/* pickup A, delivery B -> pickup none, delivery A: B leaves, A stays */
	struct jwb_change c = order_row("update", "o1", 6, "READY_FOR_DELIVERY", "READY_FOR_DELIVERY");
	c.previous_pickup_driver_id = "drv-A";
	c.previous_delivery_driver_id = "drv-B";
	c.delivery_driver_id = "drv-A";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 3);
	struct json_object *cmds = control(o.m[0], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(PARTY("o1", "driver:drv-B"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	assert_driver(pub(o.m[1], "order/o1/driver", true, 0, TS), "o1", NULL, "pickup", NULL, NAN, NULL, 6,
		TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, 0, TS), "o1", "drv-A", "delivery", "Alice", 4.8,
		"bike", 6, TS_TEXT);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Terminal and reopened */

START_TEST(terminal_delivered_expires_with_current_driver)
{
	struct jwb_change c = order_row("update", "o1", 11, "DELIVERED", "OUT_FOR_DELIVERY");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	c.delivery_driver_id = c.previous_delivery_driver_id = "drv-B";
	plan_ok(&c);
	ck_assert_int_eq(lk.calls, 1);
	ck_assert_str_eq(lk.last, "drv-B");
	struct out o = take();
	assert_count(&o, 3);
	/* tracking ends with the order (before its terminal status), the
	 * parties keep access until the expiry */
	struct json_object *cmds = control(o.m[0], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY_TTL("o1", "customer:cust-1", EXPIRY), PARTY_TTL("o1", "merchant:merch-1", EXPIRY),
			PARTY_TTL("o1", "driver:drv-A", EXPIRY), PARTY_TTL("o1", "driver:drv-B", EXPIRY)));
	assert_status(pub(o.m[1], "order/o1/status", true, EXPIRY, TS), "o1", "N-1001", "DELIVERED",
		"OUT_FOR_DELIVERY", 11, TS_TEXT);
	/* one driver message: the delivery driver (the current assignment) */
	assert_driver(pub(o.m[2], "order/o1/driver", true, EXPIRY, TS), "o1", "drv-B", "delivery", "Bob",
		4.25, "van", 11, TS_TEXT);
}
END_TEST

START_TEST(terminal_cancelled_with_pickup_only)
{
	struct jwb_change c = order_row("update", "o1", 4, "CANCELLED", "ASSIGNED_TO_DRIVER");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 3);
	struct json_object *cmds = control(o.m[0], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY_TTL("o1", "customer:cust-1", EXPIRY), PARTY_TTL("o1", "merchant:merch-1", EXPIRY),
			PARTY_TTL("o1", "driver:drv-A", EXPIRY)));
	assert_status(pub(o.m[1], "order/o1/status", true, EXPIRY, TS), "o1", "N-1001", "CANCELLED",
		"ASSIGNED_TO_DRIVER", 4, TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, EXPIRY, TS), "o1", "drv-A", "pickup", "Alice", 4.8,
		"bike", 4, TS_TEXT);
}
END_TEST

START_TEST(terminal_without_driver_publishes_null_driver)
{
	struct jwb_change c = order_row("update", "o1", 3, "CANCELLED", "PENDING");
	plan_ok(&c);
	ck_assert_int_eq(lk.calls, 0);
	struct out o = take();
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY_TTL("o1", "customer:cust-1", EXPIRY), PARTY_TTL("o1", "merchant:merch-1", EXPIRY)));
	assert_status(pub(o.m[1], "order/o1/status", true, EXPIRY, TS), "o1", "N-1001", "CANCELLED", "PENDING",
		3, TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, EXPIRY, TS), "o1", NULL, "pickup", NULL, NAN, NULL,
		3, TS_TEXT);
}
END_TEST

START_TEST(terminal_with_driver_removed_in_same_change)
{
	/* CANCELLED and the pickup driver taken off at once */
	struct jwb_change c = order_row("update", "o1", 5, "CANCELLED", "ASSIGNED_TO_DRIVER");
	c.previous_pickup_driver_id = "drv-A";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 3);
	struct json_object *cmds = control(o.m[0], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY_TTL("o1", "customer:cust-1", EXPIRY), PARTY_TTL("o1", "merchant:merch-1", EXPIRY)));
	assert_status(pub(o.m[1], "order/o1/status", true, EXPIRY, TS), "o1", "N-1001", "CANCELLED",
		"ASSIGNED_TO_DRIVER", 5, TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, EXPIRY, TS), "o1", NULL, "pickup", NULL, NAN, NULL,
		5, TS_TEXT);
}
END_TEST

START_TEST(insert_terminal)
{
	struct jwb_change c = order_row("insert", "o1", 1, "DELIVERED", NULL);
	c.pickup_driver_id = "drv-A";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY_TTL("o1", "customer:cust-1", EXPIRY), PARTY_TTL("o1", "merchant:merch-1", EXPIRY),
			PARTY_TTL("o1", "driver:drv-A", EXPIRY)));
	assert_status(pub(o.m[1], "order/o1/status", true, EXPIRY, TS), "o1", "N-1001", "DELIVERED", NULL, 1,
		TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, EXPIRY, TS), "o1", "drv-A", "pickup", "Alice", 4.8,
		"bike", 1, TS_TEXT);
}
END_TEST

START_TEST(reopened_order_loses_expiry)
{
	struct jwb_change c = order_row("update", "o1", 12, "OUT_FOR_DELIVERY", "DELIVERED");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	c.delivery_driver_id = c.previous_delivery_driver_id = "drv-B";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 3);
	/* active again: its drivers are tracked again */
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o1", "driver:drv-A"), PARTY("o1", "driver:drv-B"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1")));
	assert_status(pub(o.m[1], "order/o1/status", true, 0, TS), "o1", "N-1001", "OUT_FOR_DELIVERY",
		"DELIVERED", 12, TS_TEXT);
	/* the driver message is republished without the expiry */
	assert_driver(pub(o.m[2], "order/o1/driver", true, 0, TS), "o1", "drv-B", "delivery", "Bob", 4.25,
		"van", 12, TS_TEXT);
}
END_TEST

START_TEST(reopened_order_without_driver)
{
	struct jwb_change c = order_row("update", "o1", 7, "PENDING", "CANCELLED");
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1")));
	assert_status(pub(o.m[1], "order/o1/status", true, 0, TS), "o1", "N-1001", "PENDING", "CANCELLED", 7,
		TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, 0, TS), "o1", NULL, "pickup", NULL, NAN, NULL, 7,
		TS_TEXT);
}
END_TEST

START_TEST(terminal_to_terminal_republishes_with_expiry)
{
	struct jwb_change c = order_row("update", "o1", 13, "CANCELLED", "DELIVERED");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY_TTL("o1", "customer:cust-1", EXPIRY), PARTY_TTL("o1", "merchant:merch-1", EXPIRY),
			PARTY_TTL("o1", "driver:drv-A", EXPIRY)));
	assert_status(pub(o.m[1], "order/o1/status", true, EXPIRY, TS), "o1", "N-1001", "CANCELLED",
		"DELIVERED", 13, TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, EXPIRY, TS), "o1", "drv-A", "pickup", "Alice", 4.8,
		"bike", 13, TS_TEXT);
}
END_TEST

START_TEST(statuses_come_from_the_config)
{
	/* jwb_config_load with the environment: other statuses, other expiry */
	jwb_plan_free(plan);
	plan = NULL;
	jwb_config_free(&cfg);
	cfg_loaded = false;
	setenv("JETWIRE_BRIDGE_DATABASE", "x", 1);
	setenv("JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
	setenv("JETWIRE_BRIDGE_STATUSES", "new,done,void", 1);
	setenv("JETWIRE_BRIDGE_TERMINAL_STATUSES", "done,void", 1);
	setenv("JETWIRE_BRIDGE_TERMINAL_EXPIRY", "120", 1);
	char errbuf[256] = "";
	int rc = jwb_config_load(&cfg, NULL, errbuf, sizeof(errbuf));
	unsetenv("JETWIRE_BRIDGE_STATUSES");
	unsetenv("JETWIRE_BRIDGE_TERMINAL_STATUSES");
	unsetenv("JETWIRE_BRIDGE_TERMINAL_EXPIRY");
	unsetenv("JETWIRE_BRIDGE_DATABASE");
	ck_assert_msg(rc == 0, "config: %s", errbuf);
	cfg_loaded = true;
	plan = jwb_plan_new(&cfg);
	ck_assert_ptr_nonnull(plan);

	struct jwb_change c = order_row("insert", "o1", 1, "DELIVERED", NULL);
	plan_bad(&c, "unknown status 'DELIVERED' (not in the bridge's statuses)");
	c = order_row("update", "o1", 2, "done", "new");
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY_TTL("o1", "customer:cust-1", 120), PARTY_TTL("o1", "merchant:merch-1", 120)));
	assert_status(pub(o.m[1], "order/o1/status", true, 120, TS), "o1", "N-1001", "done", "new", 2, TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, 120, TS), "o1", NULL, "pickup", NULL, NAN, NULL, 2,
		TS_TEXT);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Delete and truncate */

START_TEST(delete_removes_object_and_clears)
{
	struct jwb_change c = order_row("delete", "o1", 9, NULL, "PICKED_UP");
	/* no customer or merchant (capture sends the old row's, see
	 * tracking_ends_when_the_order_is_deleted): no tracker can be named,
	 * only the order object goes */
	c.customer_id = c.merchant_id = NULL;
	c.previous_pickup_driver_id = "drv-A";
	c.ts_ms = TS2;
	plan_ok(&c);
	ck_assert_int_eq(lk.calls, 0);
	struct out o = take();
	assert_count(&o, 3);
	struct json_object *cmds = control(o.m[0], 1);
	struct json_object *cmd = command_at(cmds, 0);
	ut_json_assert_keys(cmd, "command", "object", NULL);
	ut_json_assert_str(cmd, "command", "removeObject");
	ut_json_assert_str(cmd, "object", "order:o1");
	assert_clear(o.m[1], "order/o1/status", TS2);
	assert_clear(o.m[2], "order/o1/driver", TS2);
}
END_TEST

START_TEST(delete_after_insert_in_batch)
{
	struct jwb_change c1 = order_row("insert", "o1", 1, "PENDING", NULL);
	plan_ok(&c1);
	struct jwb_change c2 = order_row("delete", "o1", 2, NULL, "PENDING");
	c2.ts_ms = TS2;
	plan_ok(&c2);
	/* a later insert joins the delete's segment */
	struct jwb_change c3 = order_row("insert", "o2", 1, "PENDING", NULL);
	plan_ok(&c3);
	struct out o = take();
	assert_count(&o, 6);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1")));
	assert_status(pub(o.m[1], "order/o1/status", true, 0, TS), "o1", "N-1001", "PENDING", NULL, 1, TS_TEXT);
	struct json_object *cmds = control(o.m[2], 2);
	ut_json_assert_keys(command_at(cmds, 0), "command", "object", NULL);
	ut_json_assert_str(command_at(cmds, 0), "command", "removeObject");
	ut_json_assert_str(command_at(cmds, 0), "object", "order:o1");
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY("o2", "customer:cust-1"), PARTY("o2", "merchant:merch-1")));
	assert_clear(o.m[3], "order/o1/status", TS2);
	assert_clear(o.m[4], "order/o1/driver", TS2);
	assert_status(pub(o.m[5], "order/o2/status", true, 0, TS), "o2", "N-1001", "PENDING", NULL, 1, TS_TEXT);
}
END_TEST

START_TEST(truncate_asks_for_resync)
{
	struct jwb_change c = {.id = 5, .entity = "order", .op = "truncate", .version = 0, .ts_ms = TS};
	memset(reason, 'x', 10);
	ck_assert_int_eq(jwb_plan_change(plan, &c, lookup, &lk, reason, sizeof(reason)), JWB_PLAN_RESYNC);
	ck_assert_ptr_null(jwb_plan_take(plan));
	c.entity = "notification";
	ck_assert_int_eq(jwb_plan_change(plan, &c, lookup, &lk, reason, sizeof(reason)), JWB_PLAN_RESYNC);
	ck_assert_ptr_null(jwb_plan_take(plan));

	/* after planned changes: nothing is added, nothing lost */
	struct jwb_change i = order_row("insert", "o1", 1, "PENDING", NULL);
	plan_ok(&i);
	c.entity = "order";
	ck_assert_int_eq(jwb_plan_change(plan, &c, lookup, &lk, reason, sizeof(reason)), JWB_PLAN_RESYNC);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 2);
	struct out o = take();
	assert_count(&o, 2);
	control(o.m[0], 1);
	pub(o.m[1], "order/o1/status", true, 0, TS);
	ck_assert_int_eq(lk.calls, 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Bad rows: BAD, a precise reason, and nothing of the row planned */

/* good row, bad row, good row: only the good rows' messages */
static void bad_between_good(const struct jwb_change *bad, const char *want)
{
	struct jwb_change g1 = order_row("insert", "g1", 1, "PENDING", NULL);
	plan_ok(&g1);
	size_t open = jwb_plan_open_tuples(plan);
	plan_bad(bad, want);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), open);
	struct jwb_change g2 = order_row("update", "g2", 3, "CONFIRMED", "PENDING");
	plan_ok(&g2);
	struct out o = take();
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("g1", "customer:cust-1"), PARTY("g1", "merchant:merch-1"),
			PARTY("g2", "customer:cust-1"), PARTY("g2", "merchant:merch-1")));
	assert_status(pub(o.m[1], "order/g1/status", true, 0, TS), "g1", "N-1001", "PENDING", NULL, 1, TS_TEXT);
	assert_status(pub(o.m[2], "order/g2/status", true, 0, TS), "g2", "N-1001", "CONFIRMED", "PENDING", 3,
		TS_TEXT);
	/* the next batch starts clean */
	ck_assert_ptr_null(jwb_plan_take(plan));
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
}

START_TEST(bad_row_null_op_or_entity)
{
	struct jwb_change c = order_row("insert", "o1", 1, "PENDING", NULL);
	c.op = NULL;
	bad_between_good(&c, "op or entity is NULL");
	c = order_row("insert", "o1", 1, "PENDING", NULL);
	c.entity = NULL;
	bad_between_good(&c, "op or entity is NULL");
	c = order_row("insert", "o1", 1, "PENDING", NULL);
	c.entity = "driver";
	bad_between_good(&c, "unknown entity 'driver'");
}
END_TEST

START_TEST(bad_row_order_id)
{
	char *id129 = rep('i', 129);
	char *id128 = rep('i', 128);
	struct jwb_change c = order_row("insert", NULL, 1, "PENDING", NULL);
	bad_between_good(&c, "orderId is NULL");
	c.entity_id = "";
	bad_between_good(&c, "orderId is empty");
	c.entity_id = "a/b";
	bad_between_good(&c, "orderId 'a/b' contains '/'");
	c.entity_id = "+";
	bad_between_good(&c, "orderId '+' contains '+'");
	c.entity_id = "#";
	bad_between_good(&c, "orderId '#' contains '#'");
	c.entity_id = "o\n1";
	bad_between_good(&c, "orderId contains a control character (U+000A)");
	c.entity_id = id129;
	bad_between_good(&c, "orderId is 129 bytes (max 128)");
	/* deletes too */
	c = order_row("delete", NULL, 2, NULL, "PENDING");
	bad_between_good(&c, "orderId is NULL");
	c.entity_id = "a/b";
	bad_between_good(&c, "orderId 'a/b' contains '/'");

	/* 128 bytes is still an id */
	c = order_row("insert", id128, 1, "PENDING", NULL);
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 2);
	char *topic = ut_fmt("order/%s/status", id128);
	pub(o.m[1], topic, true, 0, TS);
	free(topic);
	free(id128);
	free(id129);
}
END_TEST

START_TEST(bad_row_version)
{
	struct jwb_change c = order_row("insert", "o1", 0, "PENDING", NULL);
	bad_between_good(&c, "version 0 (expected >= 1)");
	c.version = -3;
	bad_between_good(&c, "version -3 (expected >= 1)");
	c = order_row("delete", "o1", 0, NULL, "PENDING");
	bad_between_good(&c, "version 0 (expected >= 1)");
}
END_TEST

START_TEST(bad_row_status)
{
	struct jwb_change c = order_row("update", "o1", 2, NULL, "PENDING");
	bad_between_good(&c, "status is NULL");
	c.status = "SHIPPED";
	bad_between_good(&c, "unknown status 'SHIPPED' (not in the bridge's statuses)");
	c.status = "pending";   /* statuses are case-sensitive */
	bad_between_good(&c, "unknown status 'pending' (not in the bridge's statuses)");
}
END_TEST

START_TEST(bad_row_party_ids)
{
	struct jwb_change c = order_row("insert", "o1", 1, "PENDING", NULL);
	c.customer_id = NULL;
	bad_between_good(&c, "customerId is NULL");
	c = order_row("insert", "o1", 1, "PENDING", NULL);
	c.customer_id = "c+1";
	bad_between_good(&c, "customerId 'c+1' contains '+'");
	c = order_row("insert", "o1", 1, "PENDING", NULL);
	c.merchant_id = NULL;
	bad_between_good(&c, "merchantId is NULL");
	c = order_row("insert", "o1", 1, "PENDING", NULL);
	c.merchant_id = "m#";
	bad_between_good(&c, "merchantId 'm#' contains '#'");
	c = order_row("insert", "o1", 1, "PENDING", NULL);
	c.pickup_driver_id = "d/1";
	bad_between_good(&c, "pickupDriverId 'd/1' contains '/'");
	c = order_row("insert", "o1", 1, "PENDING", NULL);
	c.delivery_driver_id = "";
	bad_between_good(&c, "deliveryDriverId is empty");
	c = order_row("update", "o1", 2, "PENDING", "PENDING");
	c.previous_pickup_driver_id = "#";
	bad_between_good(&c, "previousPickupDriverId '#' contains '#'");
	c = order_row("update", "o1", 2, "PENDING", "PENDING");
	c.previous_delivery_driver_id = "d\t1";
	bad_between_good(&c, "previousDeliveryDriverId contains a control character (U+0009)");
}
END_TEST

START_TEST(bad_row_order_number)
{
	char *num257 = rep('n', 257);
	struct jwb_change c = order_row("insert", "o1", 1, "PENDING", NULL);
	c.order_number = num257;
	bad_between_good(&c, "orderNumber is 257 bytes (max 256)");
	/* with a driver reassignment: the removal must not be planned (nor
	 * split the segment) for a row that is then refused */
	c = order_row("update", "o1", 2, "CONFIRMED", "PENDING");
	c.order_number = num257;
	c.previous_pickup_driver_id = "drv-A";
	c.pickup_driver_id = "drv-B";
	bad_between_good(&c, "orderNumber is 257 bytes (max 256)");
	free(num257);
}
END_TEST

START_TEST(impossible_rating_is_published_as_null)
{
	/* The driver table's data quality must not cost an order its
	 * assignment: a rating outside 0..5 is sent as null. */
	struct jwb_change c = order_row("update", "o1", 2, "CONFIRMED", "CONFIRMED");
	c.previous_pickup_driver_id = "drv-A";
	c.pickup_driver_id = "drv-bad-rating";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 2);
	assert_driver(pub(o.m[1], "order/o1/driver", true, 0, TS), "o1", "drv-bad-rating", "pickup", "Eve",
		NAN, NULL, 2, TS_TEXT);
}
END_TEST

START_TEST(bad_row_notification)
{
	struct jwb_change c = notification_row("courier", "u1");
	bad_between_good(&c, "userType 'courier' is not customer, driver, merchant or admin");
	c = notification_row("service", "u1");
	bad_between_good(&c, "userType 'service' is not customer, driver, merchant or admin");
	c = notification_row(NULL, "u1");
	bad_between_good(&c, "userType is NULL");
	c = notification_row("customer", NULL);
	bad_between_good(&c, "userId is NULL");
	c = notification_row("customer", "u/1");
	bad_between_good(&c, "userId 'u/1' contains '/'");
	c = notification_row("customer", "+");
	bad_between_good(&c, "userId '+' contains '+'");
	c = notification_row("customer", "u1");
	c.data_json = "[1,2]";
	bad_between_good(&c, "data is not a JSON object (it is array)");
	c.data_json = "\"text\"";
	bad_between_good(&c, "data is not a JSON object (it is string)");
	c = notification_row("customer", "u1");
	c.entity_id = NULL;
	bad_between_good(&c, "id is NULL");
	c = notification_row("customer", "u1");
	c.title = NULL;
	bad_between_good(&c, "title is NULL");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Batching */

START_TEST(consecutive_changes_share_one_control_message)
{
	struct jwb_change c1 = order_row("insert", "o1", 1, "PENDING", NULL);
	c1.customer_id = "c1";
	plan_ok(&c1);
	struct jwb_change c2 = order_row("update", "o2", 4, "PICKED_UP", "ASSIGNED_TO_DRIVER");
	c2.customer_id = "c2";
	c2.pickup_driver_id = c2.previous_pickup_driver_id = "drv-A";
	plan_ok(&c2);
	struct jwb_change n = notification_row("customer", "c1");
	plan_ok(&n);
	struct jwb_change c3 = order_row("update", "o1", 2, "CONFIRMED", "PENDING");
	c3.customer_id = "c1";
	c3.pickup_driver_id = "drv-B";
	c3.ts_ms = TS2;
	plan_ok(&c3);
	/* c2 moves no driver: no trackers; c3 assigns drv-B: its two */
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 2 + 3 + 5);

	struct out o = take();
	assert_count(&o, 6);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:c1"), PARTY("o1", "merchant:merch-1"),
			PARTY("o2", "customer:c2"), PARTY("o2", "merchant:merch-1"), PARTY("o2", "driver:drv-A"),
			PARTY("o1", "customer:c1"), PARTY("o1", "merchant:merch-1"), PARTY("o1", "driver:drv-B"),
			TRACKER("drv-B", "customer:c1"), TRACKER("drv-B", "merchant:merch-1")));
	assert_status(pub(o.m[1], "order/o1/status", true, 0, TS), "o1", "N-1001", "PENDING", NULL, 1, TS_TEXT);
	assert_status(pub(o.m[2], "order/o2/status", true, 0, TS), "o2", "N-1001", "PICKED_UP",
		"ASSIGNED_TO_DRIVER", 4, TS_TEXT);
	pub(o.m[3], "customer/c1/notifications", false, 0, TS2);
	assert_status(pub(o.m[4], "order/o1/status", true, 0, TS2), "o1", "N-1001", "CONFIRMED", "PENDING", 2,
		TS2_TEXT);
	assert_driver(pub(o.m[5], "order/o1/driver", true, 0, TS2), "o1", "drv-B", "pickup", "Bob", 4.25, "van",
		2, TS2_TEXT);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
	ck_assert_ptr_null(jwb_plan_take(plan));
}
END_TEST

START_TEST(removal_splits_the_batch)
{
	struct jwb_change c1 = order_row("insert", "o1", 1, "ASSIGNED_TO_DRIVER", NULL);
	c1.pickup_driver_id = "drv-A";
	plan_ok(&c1);
	struct jwb_change c2 = order_row("insert", "o2", 1, "PENDING", NULL);
	plan_ok(&c2);
	/* removes A from o1: A must still get changes 1 and 2, not this one */
	struct jwb_change c3 = order_row("update", "o1", 2, "ASSIGNED_TO_DRIVER", "ASSIGNED_TO_DRIVER");
	c3.previous_pickup_driver_id = "drv-A";
	c3.pickup_driver_id = "drv-B";
	plan_ok(&c3);
	struct jwb_change c4 = order_row("update", "o2", 2, "CONFIRMED", "PENDING");
	plan_ok(&c4);
	/* a second removal splits again */
	struct jwb_change c5 = order_row("update", "o1", 3, "ASSIGNED_TO_DRIVER", "ASSIGNED_TO_DRIVER");
	c5.previous_pickup_driver_id = "drv-B";
	plan_ok(&c5);

	struct out o = take();
	assert_count(&o, 9);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"), PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1"),
			PARTY("o2", "customer:cust-1"), PARTY("o2", "merchant:merch-1")));
	assert_status(pub(o.m[1], "order/o1/status", true, 0, TS), "o1", "N-1001", "ASSIGNED_TO_DRIVER", NULL,
		1, TS_TEXT);
	assert_driver(pub(o.m[2], "order/o1/driver", true, 0, TS), "o1", "drv-A", "pickup", "Alice", 4.8,
		"bike", 1, TS_TEXT);
	assert_status(pub(o.m[3], "order/o2/status", true, 0, TS), "o2", "N-1001", "PENDING", NULL, 1, TS_TEXT);

	struct json_object *cmds = control(o.m[4], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"), PARTY("o1", "driver:drv-B"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1"),
			PARTY("o2", "customer:cust-1"), PARTY("o2", "merchant:merch-1")));
	assert_driver(pub(o.m[5], "order/o1/driver", true, 0, TS), "o1", "drv-B", "pickup", "Bob", 4.25,
		"van", 2, TS_TEXT);
	assert_status(pub(o.m[6], "order/o2/status", true, 0, TS), "o2", "N-1001", "CONFIRMED", "PENDING", 2,
		TS_TEXT);

	cmds = control(o.m[7], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(PARTY("o1", "driver:drv-B"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1")));
	assert_driver(pub(o.m[8], "order/o1/driver", true, 0, TS), "o1", NULL, "pickup", NULL, NAN, NULL, 3,
		TS_TEXT);
	ck_assert_ptr_null(o.m[8]->next);
}
END_TEST

START_TEST(take_detaches_and_the_plan_continues)
{
	struct jwb_change c1 = order_row("insert", "o1", 1, "PENDING", NULL);
	plan_ok(&c1);
	struct out a = take();
	assert_count(&a, 2);
	ck_assert_ptr_null(jwb_plan_take(plan));
	struct jwb_change c2 = order_row("update", "o1", 2, "CONFIRMED", "PENDING");
	plan_ok(&c2);
	struct out b = take();
	assert_count(&b, 2);
	ck_assert_ptr_ne(a.m[0], b.m[0]);
	assert_relations(command_at(control(b.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1")));
	assert_status(pub(b.m[1], "order/o1/status", true, 0, TS), "o1", "N-1001", "CONFIRMED", "PENDING", 2,
		TS_TEXT);
	/* the first batch is intact */
	assert_status(pub(a.m[1], "order/o1/status", true, 0, TS), "o1", "N-1001", "PENDING", NULL, 1, TS_TEXT);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Notifications */

START_TEST(notification_to_each_user_type)
{
	static const char *const types[] = {"customer", "driver", "merchant", "admin"};
	for(size_t i = 0; i < 4; i++){
		struct jwb_change n = notification_row(types[i], "u-7");
		plan_ok(&n);
	}
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
	struct out o = take();
	assert_count(&o, 4);   /* no control message */
	for(size_t i = 0; i < 4; i++){
		char *topic = ut_fmt("%s/u-7/notifications", types[i]);
		struct json_object *d = pub(o.m[i], topic, false, 0, TS2);
		free(topic);
		ut_json_assert_keys(d, "id", "title", "body", "data", "timestamp", NULL);
		ut_json_assert_str(d, "id", "ntf-9");
		ut_json_assert_str(d, "title", "Ready");
		ut_json_assert_str(d, "body", "Your order is ready");
		struct json_object *data = ut_json_field(d, "data");
		ck_assert(json_object_is_type(data, json_type_object));
		ut_json_assert_keys(data, "orderId", "n", NULL);
		ut_json_assert_str(data, "orderId", "o1");
		ut_json_assert_int(data, "n", 2);
		ut_json_assert_str(d, "timestamp", TS2_TEXT);
	}
	ck_assert_int_eq(lk.calls, 0);
}
END_TEST

START_TEST(notification_null_data)
{
	struct jwb_change n = notification_row("driver", "drv-A");
	n.data_json = NULL;
	n.body = "";
	plan_ok(&n);
	struct out o = take();
	assert_count(&o, 1);
	struct json_object *d = pub(o.m[0], "driver/drv-A/notifications", false, 0, TS2);
	ut_json_assert_keys(d, "id", "title", "body", "data", "timestamp", NULL);
	ut_json_assert_str(d, "body", "");
	ck_assert_ptr_null(ut_json_field(d, "data"));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Resync: jwb_plan_order_state */

#define NOW INT64_C(1795650000000)

static struct jwb_order_state state_row(const char *id, const char *status)
{
	return (struct jwb_order_state){
		.id = id, .order_number = "N-2002", .status = status, .previous_status = "CONFIRMED",
		.customer_id = "cust-9", .merchant_id = "merch-9", .version = 6, .changed_ms = TS,
		.pickup = {.name = "Alice", .rating = 4.8, .has_rating = true, .vehicle_type = "bike"},
		.delivery = {.name = "Bob", .rating = 4.25, .has_rating = true, .vehicle_type = "van"},
	};
}

START_TEST(state_active_with_drivers)
{
	struct jwb_order_state s = state_row("o5", "OUT_FOR_DELIVERY");
	s.pickup_driver_id = "drv-A";
	s.delivery_driver_id = "drv-B";
	state_ok(&s, NOW);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 8);
	struct out o = take();
	assert_count(&o, 3);
	/* an active order: its drivers are tracked */
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o5", "customer:cust-9"), PARTY("o5", "merchant:merch-9"),
			PARTY("o5", "driver:drv-A"), PARTY("o5", "driver:drv-B"),
			TRACKER("drv-A", "customer:cust-9"), TRACKER("drv-A", "merchant:merch-9"),
			TRACKER("drv-B", "customer:cust-9"), TRACKER("drv-B", "merchant:merch-9")));
	assert_status(pub(o.m[1], "order/o5/status", true, 0, TS), "o5", "N-2002", "OUT_FOR_DELIVERY",
		"CONFIRMED", 6, TS_TEXT);
	/* the current assignment: delivery, with the delivery driver's details */
	assert_driver(pub(o.m[2], "order/o5/driver", true, 0, TS), "o5", "drv-B", "delivery", "Bob", 4.25, "van",
		6, TS_TEXT);
}
END_TEST

START_TEST(state_active_with_pickup_only)
{
	struct jwb_order_state s = state_row("o5", "PICKED_UP");
	s.pickup_driver_id = "drv-A";
	s.previous_status = NULL;
	state_ok(&s, NOW);
	struct out o = take();
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o5", "customer:cust-9"), PARTY("o5", "merchant:merch-9"), PARTY("o5", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-9"), TRACKER("drv-A", "merchant:merch-9")));
	assert_status(pub(o.m[1], "order/o5/status", true, 0, TS), "o5", "N-2002", "PICKED_UP", NULL, 6, TS_TEXT);
	assert_driver(pub(o.m[2], "order/o5/driver", true, 0, TS), "o5", "drv-A", "pickup", "Alice", 4.8, "bike",
		6, TS_TEXT);
}
END_TEST

START_TEST(state_active_without_driver)
{
	struct jwb_order_state s = state_row("o5", "CONFIRMED");
	s.previous_status = "PENDING";
	state_ok(&s, NOW);
	struct out o = take();
	assert_count(&o, 2);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o5", "customer:cust-9"), PARTY("o5", "merchant:merch-9")));
	assert_status(pub(o.m[1], "order/o5/status", true, 0, TS), "o5", "N-2002", "CONFIRMED", "PENDING", 6,
		TS_TEXT);
}
END_TEST

START_TEST(state_pending_or_unversioned_is_relations_only)
{
	struct jwb_order_state s = state_row("o5", "PICKED_UP");
	s.pickup_driver_id = "drv-A";
	s.pending = true;
	state_ok(&s, NOW);
	struct jwb_order_state v0 = state_row("o6", "CONFIRMED");
	v0.version = 0;
	v0.delivery_driver_id = "drv-B";
	state_ok(&v0, NOW);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 10);
	struct out o = take();
	assert_count(&o, 1);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o5", "customer:cust-9"), PARTY("o5", "merchant:merch-9"), PARTY("o5", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-9"), TRACKER("drv-A", "merchant:merch-9"),
			PARTY("o6", "customer:cust-9"), PARTY("o6", "merchant:merch-9"), PARTY("o6", "driver:drv-B"),
			TRACKER("drv-B", "customer:cust-9"), TRACKER("drv-B", "merchant:merch-9")));
}
END_TEST

START_TEST(state_pending_restores_what_no_waiting_change_moves)
{
	/* Waiting changes from version 5 on: versions 5.. publish themselves.
	 * None moves the driver -> the driver as of version 4; one moves the
	 * status -> the status is left to the outbox. */
	struct jwb_order_state s = state_row("o5", "PICKED_UP");
	s.pickup_driver_id = "drv-A";
	s.pending = true;
	s.pending_min_version = 5;
	s.pending_status_change = true;
	state_ok(&s, NOW);
	struct out o = take();
	assert_count(&o, 2);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o5", "customer:cust-9"), PARTY("o5", "merchant:merch-9"), PARTY("o5", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-9"), TRACKER("drv-A", "merchant:merch-9")));
	assert_driver(pub(o.m[1], "order/o5/driver", true, 0, TS), "o5", "drv-A", "pickup", "Alice", 4.8, "bike",
		4, TS_TEXT);

	/* The other way round: only the driver moves -> the status as of 4. */
	struct jwb_order_state t = state_row("o6", "CONFIRMED");
	t.previous_status = "PENDING";
	t.delivery_driver_id = "drv-B";
	t.pending = true;
	t.pending_min_version = 3;
	t.pending_driver_change = true;
	state_ok(&t, NOW);
	o = take();
	assert_count(&o, 2);
	assert_status(pub(o.m[1], "order/o6/status", true, 0, TS), "o6", "N-2002", "CONFIRMED", "PENDING", 2,
		TS_TEXT);

	/* Both move, or the oldest waiting change is the first one: relations only. */
	struct jwb_order_state u = state_row("o7", "CONFIRMED");
	u.pickup_driver_id = "drv-A";
	u.pending = true;
	u.pending_min_version = 4;
	u.pending_status_change = u.pending_driver_change = true;
	state_ok(&u, NOW);
	struct jwb_order_state w = state_row("o8", "CONFIRMED");
	w.pending = true;
	w.pending_min_version = 1;
	state_ok(&w, NOW);
	o = take();
	assert_count(&o, 1);
	ck_assert(o.m[0]->control);
}
END_TEST

START_TEST(state_terminal_keeps_the_remaining_expiry)
{
	/* ended 1000.5 s ago: 5400 - 1000.5 = 4399.5 s left -> 4399 */
	struct jwb_order_state s = state_row("o5", "DELIVERED");
	s.pickup_driver_id = "drv-A";
	s.delivery_driver_id = "drv-B";
	s.previous_status = "OUT_FOR_DELIVERY";
	s.changed_ms = NOW - 1000500;
	state_ok(&s, NOW);
	struct out o = take();
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY_TTL("o5", "customer:cust-9", 4399), PARTY_TTL("o5", "merchant:merch-9", 4399),
			PARTY_TTL("o5", "driver:drv-A", 4399), PARTY_TTL("o5", "driver:drv-B", 4399)));
	char ts_text[32];
	jwb_format_timestamp(NOW - 1000500, ts_text, sizeof(ts_text));
	ck_assert_str_eq(ts_text, "2026-11-25T23:23:19.500Z");
	assert_status(pub(o.m[1], "order/o5/status", true, 4399, NOW - 1000500), "o5", "N-2002", "DELIVERED",
		"OUT_FOR_DELIVERY", 6, ts_text);
	assert_driver(pub(o.m[2], "order/o5/driver", true, 4399, NOW - 1000500), "o5", "drv-B", "delivery",
		"Bob", 4.25, "van", 6, ts_text);
}
END_TEST

START_TEST(state_terminal_without_driver)
{
	struct jwb_order_state s = state_row("o5", "CANCELLED");
	s.changed_ms = NOW - 10000;   /* 5390 s left */
	state_ok(&s, NOW);
	struct out o = take();
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY_TTL("o5", "customer:cust-9", 5390), PARTY_TTL("o5", "merchant:merch-9", 5390)));
	pub(o.m[1], "order/o5/status", true, 5390, NOW - 10000);
	assert_driver(pub(o.m[2], "order/o5/driver", true, 5390, NOW - 10000), "o5", NULL, "pickup", NULL, NAN,
		NULL, 6, "2026-11-25T23:39:50.000Z");
}
END_TEST

START_TEST(state_terminal_pending_is_relations_with_ttl)
{
	struct jwb_order_state s = state_row("o5", "DELIVERED");
	s.pending = true;
	s.changed_ms = NOW - 400000;   /* 5000 s left */
	state_ok(&s, NOW);
	struct out o = take();
	assert_count(&o, 1);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY_TTL("o5", "customer:cust-9", 5000), PARTY_TTL("o5", "merchant:merch-9", 5000)));
}
END_TEST

START_TEST(state_terminal_expiry_edges)
{
	struct jwb_order_state s = state_row("o5", "DELIVERED");
	/* exactly 1 s left: still planned, ttl 1 */
	s.changed_ms = NOW - (int64_t)EXPIRY * 1000 + 1000;
	state_ok(&s, NOW);
	struct out o = take();
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY_TTL("o5", "customer:cust-9", 1), PARTY_TTL("o5", "merchant:merch-9", 1)));
	pub(o.m[1], "order/o5/status", true, 1, s.changed_ms);
	pub(o.m[2], "order/o5/driver", true, 1, s.changed_ms);

	/* 999 ms left, exactly expired, long ago: nothing */
	s.changed_ms = NOW - (int64_t)EXPIRY * 1000 + 999;
	state_bad(&s, NOW, "ended more than terminal_expiry ago");
	s.changed_ms = NOW - (int64_t)EXPIRY * 1000;
	state_bad(&s, NOW, "ended more than terminal_expiry ago");
	s.changed_ms = NOW - INT64_C(86400000) * 30;
	state_bad(&s, NOW, "ended more than terminal_expiry ago");
	s.pending = true;
	state_bad(&s, NOW, "ended more than terminal_expiry ago");
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
	ck_assert_ptr_null(jwb_plan_take(plan));
}
END_TEST

START_TEST(state_bad_rows)
{
	char *id129 = rep('x', 129);
	struct jwb_order_state s = state_row(NULL, "PICKED_UP");
	state_bad(&s, NOW, "orderId is NULL");
	s.id = "o/5";
	state_bad(&s, NOW, "orderId 'o/5' contains '/'");
	s.id = id129;
	state_bad(&s, NOW, "orderId is 129 bytes (max 128)");
	s = state_row("o5", NULL);
	state_bad(&s, NOW, "status is NULL");
	s = state_row("o5", "LOST");
	state_bad(&s, NOW, "unknown status 'LOST' (not in the bridge's statuses)");
	s = state_row("o5", "PICKED_UP");
	s.customer_id = NULL;
	state_bad(&s, NOW, "customerId is NULL");
	s = state_row("o5", "PICKED_UP");
	s.merchant_id = "+";
	state_bad(&s, NOW, "merchantId '+' contains '+'");
	s = state_row("o5", "PICKED_UP");
	s.pickup_driver_id = "#";
	state_bad(&s, NOW, "pickupDriverId '#' contains '#'");
	s = state_row("o5", "PICKED_UP");
	s.delivery_driver_id = "d/2";
	state_bad(&s, NOW, "deliveryDriverId 'd/2' contains '/'");
	ck_assert_ptr_null(jwb_plan_take(plan));
	free(id129);
}
END_TEST

START_TEST(state_bad_payload_plans_nothing)
{
	/* plan.h: "BAD ... nothing was planned for it" (for jwb_plan_change;
	 * jwb_plan_order_state returns the same BAD): a row refused for its
	 * orderNumber leaves no tuple in the open segment. */
	char *num257 = rep('n', 257);
	struct jwb_order_state s = state_row("o5", "PICKED_UP");
	s.order_number = num257;
	state_bad(&s, NOW, "orderNumber is 257 bytes (max 256)");
	free(num257);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
	ck_assert_ptr_null(jwb_plan_take(plan));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Commands and a whole resync */

START_TEST(command_alone)
{
	static const char *const names[] = {"syncBegin", "syncEnd", "status"};
	for(size_t i = 0; i < 3; i++){
		ck_assert_int_eq(jwb_plan_command(plan, names[i]), 0);
		ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
		struct out o = take();
		assert_count(&o, 1);
		assert_command_only(command_at(control(o.m[0], 1), 0), names[i]);
		char *want = ut_fmt("{\"commands\":[{\"command\":\"%s\"}]}", names[i]);
		ck_assert_str_eq(o.m[0]->payload, want);
		free(want);
	}
}
END_TEST

START_TEST(command_after_planned_changes)
{
	struct jwb_change c = order_row("insert", "o1", 1, "PENDING", NULL);
	plan_ok(&c);
	ck_assert_int_eq(jwb_plan_command(plan, "status"), 0);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
	struct jwb_change c2 = order_row("update", "o1", 2, "CONFIRMED", "PENDING");
	plan_ok(&c2);
	struct out o = take();
	assert_count(&o, 5);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1")));
	pub(o.m[1], "order/o1/status", true, 0, TS);
	assert_command_only(command_at(control(o.m[2], 1), 0), "status");
	assert_relations(command_at(control(o.m[3], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1")));
	assert_status(pub(o.m[4], "order/o1/status", true, 0, TS), "o1", "N-1001", "CONFIRMED", "PENDING", 2,
		TS_TEXT);
}
END_TEST

START_TEST(resync_sequence)
{
	ck_assert_int_eq(jwb_plan_command(plan, "syncBegin"), 0);
	struct jwb_order_state a = state_row("o1", "PICKED_UP");
	a.pickup_driver_id = "drv-A";
	state_ok(&a, NOW);
	struct jwb_order_state b = state_row("o2", "PENDING");
	b.previous_status = NULL;
	b.pending = true;
	state_ok(&b, NOW);
	struct jwb_order_state bad = state_row("o3", "NOPE");
	state_bad(&bad, NOW, "unknown status 'NOPE' (not in the bridge's statuses)");
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 7);
	ck_assert_int_eq(jwb_plan_command(plan, "syncEnd"), 0);
	struct out o = take();
	assert_count(&o, 5);
	assert_command_only(command_at(control(o.m[0], 1), 0), "syncBegin");
	assert_relations(command_at(control(o.m[1], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-9"), PARTY("o1", "merchant:merch-9"), PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-9"), TRACKER("drv-A", "merchant:merch-9"),
			PARTY("o2", "customer:cust-9"), PARTY("o2", "merchant:merch-9")));
	assert_status(pub(o.m[2], "order/o1/status", true, 0, TS), "o1", "N-2002", "PICKED_UP", "CONFIRMED", 6,
		TS_TEXT);
	assert_driver(pub(o.m[3], "order/o1/driver", true, 0, TS), "o1", "drv-A", "pickup", "Alice", 4.8, "bike",
		6, TS_TEXT);
	assert_command_only(command_at(control(o.m[4], 1), 0), "syncEnd");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* jwb_plan_open_tuples */

START_TEST(open_tuples_counts_the_open_segment)
{
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
	struct jwb_change c = order_row("insert", "o1", 1, "PENDING", NULL);
	plan_ok(&c);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 2);
	c = order_row("insert", "o2", 1, "OUT_FOR_DELIVERY", NULL);
	c.pickup_driver_id = "drv-A";
	c.delivery_driver_id = "drv-B";
	plan_ok(&c);
	/* + customer, merchant, drv-A, drv-B and both drivers' two trackers */
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 2 + 8);
	/* a notification adds none; a bad row none */
	struct jwb_change n = notification_row("customer", "cust-1");
	plan_ok(&n);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 10);
	c.status = "NOPE";
	plan_bad(&c, "unknown status 'NOPE' (not in the bridge's statuses)");
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 10);
	/* a removal closes the segment: the new one holds this change only
	 * (removals: drv-A's party tuple and its two trackers; additions:
	 * customer, merchant, drv-B and drv-B's two trackers) */
	c = order_row("update", "o2", 2, "OUT_FOR_DELIVERY", "OUT_FOR_DELIVERY");
	c.previous_pickup_driver_id = "drv-A";
	c.previous_delivery_driver_id = c.delivery_driver_id = "drv-B";
	plan_ok(&c);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 3 + 5);
	/* a command closes it */
	ck_assert_int_eq(jwb_plan_command(plan, "status"), 0);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
	struct jwb_order_state s = state_row("o9", "PICKED_UP");
	state_ok(&s, NOW);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 2);
	struct out o = take();
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
	assert_count(&o, 11);
}
END_TEST

START_TEST(open_tuples_counts_removed_tuples)
{
	/* plan.h: "Number of relation tuples planned in the open segment":
	 * a removeRelations counts its tuples, not as one command. */
	struct jwb_change c = order_row("update", "o1", 9, "OUT_FOR_DELIVERY", "OUT_FOR_DELIVERY");
	c.previous_pickup_driver_id = "drv-A";
	c.previous_delivery_driver_id = "drv-B";
	c.pickup_driver_id = "drv-C";
	c.delivery_driver_id = "drv-D";
	plan_ok(&c);
	/* removeRelations [party A, party B, 4 trackers of A and B]
	 * + addRelations [customer, merchant, C, D, 4 trackers of C and D] */
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 6 + 8);
}
END_TEST


/* ------------------------------------------------------------------------ */
/* Trackers: (driver:{d}, tracker, customer:{c}) and (..., merchant:{m}) let
 * the customer and merchant of an active order read its drivers' location
 * and presence (SPEC "Topic tree"); access "ends the moment the order
 * becomes terminal or the driver is unassigned" (SPEC "Lifecycle of
 * access"), unless another active order keeps it (the tracker check). */

/* Does any control message among m[0..upto) hold `command` with this tuple
 * (ttl ignored)? */
static bool control_has(const struct out *o, size_t upto, const char *command, const char *object,
		const char *relation, const char *subject)
{
	for(size_t i = 0; i < upto && i < o->n; i++){
		if(!o->m[i]->control) continue;
		struct json_object *doc = parse_doc(o->m[i]->payload);
		struct json_object *cmds = ut_json_field(doc, "commands");
		for(size_t k = 0; k < json_object_array_length(cmds); k++){
			struct json_object *cmd = json_object_array_get_idx(cmds, k), *v, *rels;
			if(!json_object_object_get_ex(cmd, "command", &v) || strcmp(json_object_get_string(v), command))
				continue;
			if(!json_object_object_get_ex(cmd, "relations", &rels)) continue;
			for(size_t t = 0; t < json_object_array_length(rels); t++){
				struct json_object *tu = json_object_array_get_idx(rels, t), *a, *b, *c;
				if(json_object_object_get_ex(tu, "object", &a) && json_object_object_get_ex(tu, "relation", &b)
						&& json_object_object_get_ex(tu, "subject", &c)
						&& !strcmp(json_object_get_string(a), object)
						&& !strcmp(json_object_get_string(b), relation)
						&& !strcmp(json_object_get_string(c), subject)){
					return true;
				}
			}
		}
	}
	return false;
}

static size_t first_publish(const struct out *o)
{
	for(size_t i = 0; i < o->n; i++){
		if(!o->m[i]->control) return i;
	}
	return o->n;
}

/* What the tracker check was asked ("order driver subject"), and which of
 * those it answers kept. */
#define MAX_ASKED 16
struct kept_ctx {
	size_t n;
	char asked[MAX_ASKED][128];
	const char *keep[4];        /* NULL-terminated */
};

static bool kept_cb(void *arg, const char *order_id, const char *driver_id, const char *subject)
{
	struct kept_ctx *k = arg;
	ck_assert_ptr_nonnull(k);
	ck_assert_ptr_nonnull(order_id);
	ck_assert_ptr_nonnull(driver_id);
	ck_assert_ptr_nonnull(subject);
	ck_assert_uint_lt(k->n, MAX_ASKED);
	snprintf(k->asked[k->n], sizeof(k->asked[0]), "%s %s %s", order_id, driver_id, subject);
	bool keep = false;
	for(size_t i = 0; i < 4 && k->keep[i]; i++) keep = keep || strcmp(k->keep[i], k->asked[k->n]) == 0;
	k->n++;
	return keep;
}

/* jwb_plan_tracker_candidates, collected the same way */
struct cands {
	size_t n;
	char s[MAX_ASKED][128];
};

static void cand_cb(void *arg, const char *order_id, const char *driver_id, const char *subject)
{
	struct cands *c = arg;
	ck_assert_ptr_nonnull(order_id);
	ck_assert_ptr_nonnull(driver_id);
	ck_assert_ptr_nonnull(subject);
	ck_assert_uint_lt(c->n, MAX_ASKED);
	snprintf(c->s[c->n], sizeof(c->s[0]), "%s %s %s", order_id, driver_id, subject);
	c->n++;
}

static struct cands candidates(const struct jwb_change *c)
{
	struct cands out = {.n = 0};
	jwb_plan_tracker_candidates(&cfg, c, cand_cb, &out);
	return out;
}

/* got[0..n) is exactly the NULL-terminated list */
static void assert_strings(const char (*got)[128], size_t n, ...)
{
	va_list ap;
	va_start(ap, n);
	size_t i = 0;
	const char *want;
	while((want = va_arg(ap, const char *)) != NULL){
		ck_assert_msg(i < n, "missing '%s' (only %zu)", want, n);
		ck_assert_str_eq(got[i], want);
		i++;
	}
	va_end(ap);
	ck_assert_msg(i == n, "%zu entries, want %zu (extra: '%s')", n, i, i < n ? got[i] : "");
}

START_TEST(assigned_driver_is_tracked_by_customer_and_merchant)
{
	struct jwb_change c = order_row("update", "o1", 3, "ASSIGNED_TO_DRIVER", "CONFIRMED");
	c.pickup_driver_id = "drv-A";
	plan_ok(&c);
	struct out o = take();
	size_t first = first_publish(&o);
	ck_assert_uint_eq(first, 1);
	ck_assert_msg(control_has(&o, first, "addRelations", "driver:drv-A", "tracker", "customer:cust-1"),
		"no (driver:drv-A, tracker, customer:cust-1) before the publishes");
	ck_assert_msg(control_has(&o, first, "addRelations", "driver:drv-A", "tracker", "merchant:merch-1"),
		"no (driver:drv-A, tracker, merchant:merch-1) before the publishes");
	/* exactly: parties, then the trackers */
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"), PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	pub(o.m[1], "order/o1/status", true, 0, TS);
	pub(o.m[2], "order/o1/driver", true, 0, TS);
}
END_TEST

START_TEST(tracking_ends_when_the_order_ends)
{
	struct jwb_change c = order_row("update", "o1", 11, "DELIVERED", "OUT_FOR_DELIVERY");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	c.delivery_driver_id = c.previous_delivery_driver_id = "drv-B";
	plan_ok(&c);
	struct out o = take();
	size_t first = first_publish(&o);
	ck_assert(control_has(&o, first, "removeRelations", "driver:drv-A", "tracker", "customer:cust-1"));
	ck_assert(control_has(&o, first, "removeRelations", "driver:drv-A", "tracker", "merchant:merch-1"));
	ck_assert(control_has(&o, first, "removeRelations", "driver:drv-B", "tracker", "customer:cust-1"));
	ck_assert(control_has(&o, first, "removeRelations", "driver:drv-B", "tracker", "merchant:merch-1"));
	/* and no tracker is (re)added anywhere */
	static const char *const drivers[] = {"driver:drv-A", "driver:drv-B"};
	static const char *const subjects[] = {"customer:cust-1", "merchant:merch-1"};
	for(size_t d = 0; d < 2; d++){
		for(size_t k = 0; k < 2; k++){
			ck_assert(!control_has(&o, o.n, "addRelations", drivers[d], "tracker", subjects[k]));
		}
	}
	/* the removal precedes the terminal status */
	ck_assert_uint_eq(first, 1);
	pub(o.m[1], "order/o1/status", true, EXPIRY, TS);
}
END_TEST

START_TEST(tracking_ends_when_the_driver_is_unassigned)
{
	struct jwb_change c = order_row("update", "o1", 4, "ASSIGNED_TO_DRIVER", "ASSIGNED_TO_DRIVER");
	c.previous_pickup_driver_id = "drv-A";
	c.pickup_driver_id = "drv-B";
	plan_ok(&c);
	struct out o = take();
	size_t first = first_publish(&o);
	ck_assert(control_has(&o, first, "removeRelations", "driver:drv-A", "tracker", "customer:cust-1"));
	ck_assert(control_has(&o, first, "removeRelations", "driver:drv-A", "tracker", "merchant:merch-1"));
	ck_assert(control_has(&o, first, "addRelations", "driver:drv-B", "tracker", "customer:cust-1"));
	ck_assert(control_has(&o, first, "addRelations", "driver:drv-B", "tracker", "merchant:merch-1"));
	ck_assert(!control_has(&o, o.n, "addRelations", "driver:drv-A", "tracker", "customer:cust-1"));
	ck_assert(!control_has(&o, o.n, "addRelations", "driver:drv-A", "tracker", "merchant:merch-1"));
	ck_assert(!control_has(&o, o.n, "removeRelations", "driver:drv-B", "tracker", "customer:cust-1"));
}
END_TEST

START_TEST(tracker_removal_splits_the_batch)
{
	/* the customer still sees the driver until the order's end is planned:
	 * the removal comes after change 1's publishes */
	struct jwb_change c1 = order_row("insert", "o1", 1, "OUT_FOR_DELIVERY", NULL);
	c1.pickup_driver_id = "drv-A";
	plan_ok(&c1);
	struct jwb_change c2 = order_row("update", "o1", 2, "DELIVERED", "OUT_FOR_DELIVERY");
	c2.pickup_driver_id = c2.previous_pickup_driver_id = "drv-A";
	c2.ts_ms = TS2;
	plan_ok(&c2);
	struct out o = take();
	assert_count(&o, 6);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"), PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	pub(o.m[1], "order/o1/status", true, 0, TS);
	pub(o.m[2], "order/o1/driver", true, 0, TS);
	struct json_object *cmds = control(o.m[3], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY_TTL("o1", "customer:cust-1", EXPIRY), PARTY_TTL("o1", "merchant:merch-1", EXPIRY),
			PARTY_TTL("o1", "driver:drv-A", EXPIRY)));
	assert_status(pub(o.m[4], "order/o1/status", true, EXPIRY, TS2), "o1", "N-1001", "DELIVERED",
		"OUT_FOR_DELIVERY", 2, TS2_TEXT);
	pub(o.m[5], "order/o1/driver", true, EXPIRY, TS2);
}
END_TEST

START_TEST(tracking_ends_when_the_order_is_deleted)
{
	/* a delete carries the old row's customer and merchant (capture:
	 * COALESCE(new, old)) and its drivers as previous* */
	struct jwb_change c = order_row("delete", "o1", 9, NULL, "PICKED_UP");
	c.previous_pickup_driver_id = "drv-A";
	c.previous_delivery_driver_id = "drv-B";
	c.ts_ms = TS2;
	plan_ok(&c);
	ck_assert_int_eq(lk.calls, 0);
	/* 4 tracker tuples + the removeObject */
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 5);
	struct out o = take();
	assert_count(&o, 3);
	/* the trackers (not order-scoped) go first, then the order object */
	struct json_object *cmds = control(o.m[0], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1")));
	struct json_object *cmd = command_at(cmds, 1);
	ut_json_assert_keys(cmd, "command", "object", NULL);
	ut_json_assert_str(cmd, "command", "removeObject");
	ut_json_assert_str(cmd, "object", "order:o1");
	assert_clear(o.m[1], "order/o1/status", TS2);
	assert_clear(o.m[2], "order/o1/driver", TS2);

	/* a deleted order that had already ended lost its trackers then */
	c = order_row("delete", "o2", 5, NULL, "DELIVERED");
	c.previous_pickup_driver_id = "drv-A";
	plan_ok(&c);
	o = take();
	assert_count(&o, 3);
	cmd = command_at(control(o.m[0], 1), 0);
	ut_json_assert_str(cmd, "command", "removeObject");
	ut_json_assert_str(cmd, "object", "order:o2");
}
END_TEST

START_TEST(kept_tracker_is_not_removed)
{
	/* another active order joins drv-A and cust-1: that tuple stays, the
	 * merchant's and drv-B's go */
	struct kept_ctx k = {.n = 0, .keep = {"o1 drv-A customer:cust-1", NULL}};
	jwb_plan_set_tracker_check(plan, kept_cb, &k);
	struct jwb_change c = order_row("update", "o1", 11, "DELIVERED", "OUT_FOR_DELIVERY");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	c.delivery_driver_id = c.previous_delivery_driver_id = "drv-B";
	plan_ok(&c);
	assert_strings((const char (*)[128])k.asked, k.n, "o1 drv-A customer:cust-1", "o1 drv-A merchant:merch-1",
		"o1 drv-B customer:cust-1", "o1 drv-B merchant:merch-1", NULL);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 3 + 4);
	struct out o = take();
	assert_count(&o, 3);
	struct json_object *cmds = control(o.m[0], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(TRACKER("drv-A", "merchant:merch-1"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY_TTL("o1", "customer:cust-1", EXPIRY), PARTY_TTL("o1", "merchant:merch-1", EXPIRY),
			PARTY_TTL("o1", "driver:drv-A", EXPIRY), PARTY_TTL("o1", "driver:drv-B", EXPIRY)));

	/* an unassigned driver: the party tuple always goes, the kept tracker not */
	k = (struct kept_ctx){.n = 0, .keep = {"o2 drv-A merchant:merch-1", NULL}};
	c = order_row("update", "o2", 4, "CONFIRMED", "CONFIRMED");
	c.previous_pickup_driver_id = "drv-A";
	plan_ok(&c);
	assert_strings((const char (*)[128])k.asked, k.n, "o2 drv-A customer:cust-1", "o2 drv-A merchant:merch-1",
		NULL);
	o = take();
	assert_count(&o, 2);
	cmds = control(o.m[0], 2);
	assert_relations(command_at(cmds, 0), "removeRelations",
		TUPLES(PARTY("o2", "driver:drv-A"), TRACKER("drv-A", "customer:cust-1")));

	/* a delete: the kept one is left out, the rest precede the removeObject */
	k = (struct kept_ctx){.n = 0, .keep = {"o3 drv-A customer:cust-1", NULL}};
	c = order_row("delete", "o3", 6, NULL, "PICKED_UP");
	c.previous_pickup_driver_id = "drv-A";
	plan_ok(&c);
	ck_assert_uint_eq(k.n, 2);
	o = take();
	assert_count(&o, 3);
	cmds = control(o.m[0], 2);
	assert_relations(command_at(cmds, 0), "removeRelations", TUPLES(TRACKER("drv-A", "merchant:merch-1")));
	ut_json_assert_str(command_at(cmds, 1), "command", "removeObject");

	/* the check removed: nothing is kept */
	jwb_plan_set_tracker_check(plan, NULL, NULL);
	k.n = 0;
	c = order_row("update", "o4", 4, "CANCELLED", "CONFIRMED");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	plan_ok(&c);
	ck_assert_uint_eq(k.n, 0);
	o = take();
	assert_relations(command_at(control(o.m[0], 2), 0), "removeRelations",
		TUPLES(TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
}
END_TEST

START_TEST(all_kept_removes_nothing_and_does_not_split)
{
	struct kept_ctx k = {.n = 0,
		.keep = {"o1 drv-A customer:cust-1", "o1 drv-A merchant:merch-1", NULL}};
	jwb_plan_set_tracker_check(plan, kept_cb, &k);
	struct jwb_change c0 = order_row("insert", "o0", 1, "PENDING", NULL);
	plan_ok(&c0);
	struct jwb_change c = order_row("update", "o1", 4, "CANCELLED", "ASSIGNED_TO_DRIVER");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	plan_ok(&c);
	ck_assert_uint_eq(k.n, 2);
	struct out o = take();
	/* no removal: the ended order joins the open segment */
	assert_count(&o, 4);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o0", "customer:cust-1"), PARTY("o0", "merchant:merch-1"),
			PARTY_TTL("o1", "customer:cust-1", EXPIRY), PARTY_TTL("o1", "merchant:merch-1", EXPIRY),
			PARTY_TTL("o1", "driver:drv-A", EXPIRY)));
	pub(o.m[1], "order/o0/status", true, 0, TS);
	pub(o.m[2], "order/o1/status", true, EXPIRY, TS);
	pub(o.m[3], "order/o1/driver", true, EXPIRY, TS);
	jwb_plan_set_tracker_check(plan, NULL, NULL);
}
END_TEST

START_TEST(candidates_for_an_ending_order)
{
	struct jwb_change c = order_row("update", "o1", 11, "DELIVERED", "OUT_FOR_DELIVERY");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	c.delivery_driver_id = c.previous_delivery_driver_id = "drv-B";
	struct cands got = candidates(&c);
	assert_strings((const char (*)[128])got.s, got.n,
		"o1 drv-A customer:cust-1", "o1 drv-A merchant:merch-1",
		"o1 drv-B customer:cust-1", "o1 drv-B merchant:merch-1", NULL);

	/* ending and swapping a driver at once: the old one, then the new one */
	c = order_row("update", "o1", 12, "CANCELLED", "PICKED_UP");
	c.previous_pickup_driver_id = "drv-A";
	c.pickup_driver_id = "drv-C";
	got = candidates(&c);
	assert_strings((const char (*)[128])got.s, got.n,
		"o1 drv-A customer:cust-1", "o1 drv-A merchant:merch-1",
		"o1 drv-C customer:cust-1", "o1 drv-C merchant:merch-1", NULL);

	/* the same driver in both roles: asked once */
	c = order_row("update", "o1", 13, "DELIVERED", "OUT_FOR_DELIVERY");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	c.delivery_driver_id = c.previous_delivery_driver_id = "drv-A";
	got = candidates(&c);
	assert_strings((const char (*)[128])got.s, got.n, "o1 drv-A customer:cust-1", "o1 drv-A merchant:merch-1",
		NULL);
}
END_TEST

START_TEST(candidates_for_a_reassignment)
{
	struct jwb_change c = order_row("update", "o1", 4, "ASSIGNED_TO_DRIVER", "ASSIGNED_TO_DRIVER");
	c.previous_pickup_driver_id = "drv-A";
	c.pickup_driver_id = "drv-B";
	struct cands got = candidates(&c);
	assert_strings((const char (*)[128])got.s, got.n, "o1 drv-A customer:cust-1", "o1 drv-A merchant:merch-1",
		NULL);

	/* a driver that only moves to the other role loses nothing */
	c = order_row("update", "o1", 5, "READY_FOR_DELIVERY", "READY_FOR_DELIVERY");
	c.previous_pickup_driver_id = "drv-A";
	c.delivery_driver_id = "drv-A";
	got = candidates(&c);
	ck_assert_uint_eq(got.n, 0);

	/* a status-only change: none */
	c = order_row("update", "o1", 6, "PICKED_UP", "READY_FOR_DELIVERY");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	got = candidates(&c);
	ck_assert_uint_eq(got.n, 0);
}
END_TEST

START_TEST(candidates_for_a_delete)
{
	struct jwb_change c = order_row("delete", "o1", 9, NULL, "PICKED_UP");
	c.previous_pickup_driver_id = "drv-A";
	c.previous_delivery_driver_id = "drv-B";
	struct cands got = candidates(&c);
	assert_strings((const char (*)[128])got.s, got.n,
		"o1 drv-A customer:cust-1", "o1 drv-A merchant:merch-1",
		"o1 drv-B customer:cust-1", "o1 drv-B merchant:merch-1", NULL);

	/* an order deleted after it ended: none */
	c.previous_status = "DELIVERED";
	got = candidates(&c);
	ck_assert_uint_eq(got.n, 0);
}
END_TEST

START_TEST(candidates_none_for_an_insert)
{
	struct jwb_change c = order_row("insert", "o1", 1, "OUT_FOR_DELIVERY", NULL);
	c.pickup_driver_id = "drv-A";
	c.delivery_driver_id = "drv-B";
	/* an insert's previous* mean nothing */
	c.previous_pickup_driver_id = "drv-C";
	struct cands got = candidates(&c);
	ck_assert_uint_eq(got.n, 0);
	/* not even a terminal one */
	c.status = "DELIVERED";
	got = candidates(&c);
	ck_assert_uint_eq(got.n, 0);
}
END_TEST

START_TEST(candidates_none_on_an_ended_order)
{
	/* its trackers went when it ended: another terminal status ... */
	struct jwb_change c = order_row("update", "o1", 14, "CANCELLED", "DELIVERED");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	struct cands got = candidates(&c);
	ck_assert_uint_eq(got.n, 0);
	/* ... or a driver dropped while terminal */
	c = order_row("update", "o1", 15, "DELIVERED", "DELIVERED");
	c.previous_pickup_driver_id = "drv-A";
	got = candidates(&c);
	ck_assert_uint_eq(got.n, 0);
	/* and planning it neither asks nor removes a tracker */
	struct kept_ctx k = {.n = 0};
	jwb_plan_set_tracker_check(plan, kept_cb, &k);
	plan_ok(&c);
	ck_assert_uint_eq(k.n, 0);
	struct out o = take();
	/* only the party tuple goes (the ended order's parties keep their ttl,
	 * nothing re-added), then the driver message */
	assert_count(&o, 2);
	assert_relations(command_at(control(o.m[0], 1), 0), "removeRelations", TUPLES(PARTY("o1", "driver:drv-A")));
	pub(o.m[1], "order/o1/driver", true, EXPIRY, TS);
	jwb_plan_set_tracker_check(plan, NULL, NULL);
}
END_TEST

START_TEST(candidates_none_for_other_rows)
{
	struct jwb_change n = notification_row("customer", "cust-1");
	struct cands got = candidates(&n);
	ck_assert_uint_eq(got.n, 0);
	struct jwb_change t = {.id = 5, .entity = "order", .op = "truncate", .ts_ms = TS};
	got = candidates(&t);
	ck_assert_uint_eq(got.n, 0);
	struct jwb_change c = order_row("update", "o1", 4, "CONFIRMED", "CONFIRMED");
	c.previous_pickup_driver_id = "drv-A";
	c.op = NULL;
	got = candidates(&c);
	ck_assert_uint_eq(got.n, 0);
}
END_TEST

START_TEST(candidates_are_what_the_plan_asks)
{
	/* the bridge asks the database about the candidates, the plan asks the
	 * check: the two must agree */
	struct jwb_change rows[6];
	rows[0] = order_row("update", "o1", 11, "DELIVERED", "OUT_FOR_DELIVERY");
	rows[0].pickup_driver_id = rows[0].previous_pickup_driver_id = "drv-A";
	rows[0].delivery_driver_id = "drv-B";
	rows[0].previous_delivery_driver_id = "drv-C";
	rows[1] = order_row("update", "o2", 4, "ASSIGNED_TO_DRIVER", "ASSIGNED_TO_DRIVER");
	rows[1].previous_pickup_driver_id = "drv-A";
	rows[1].previous_delivery_driver_id = "drv-B";
	rows[1].delivery_driver_id = "drv-A";
	rows[2] = order_row("delete", "o3", 2, NULL, "CONFIRMED");
	rows[2].previous_pickup_driver_id = rows[2].previous_delivery_driver_id = "drv-D";
	rows[3] = order_row("insert", "o4", 1, "PICKED_UP", NULL);
	rows[3].pickup_driver_id = "drv-A";
	rows[4] = order_row("update", "o5", 7, "PENDING", "CANCELLED");
	rows[4].pickup_driver_id = "drv-B";
	rows[4].previous_pickup_driver_id = "drv-A";
	rows[5] = order_row("update", "o6", 3, "CANCELLED", "CONFIRMED");
	for(size_t i = 0; i < 6; i++){
		struct kept_ctx k = {.n = 0};
		jwb_plan_set_tracker_check(plan, kept_cb, &k);
		plan_ok(&rows[i]);
		struct cands got = candidates(&rows[i]);
		ck_assert_msg(got.n == k.n, "row %zu: %zu candidates, %zu asked", i, got.n, k.n);
		for(size_t j = 0; j < k.n; j++) ck_assert_str_eq(got.s[j], k.asked[j]);
		jwb_plan_set_tracker_check(plan, NULL, NULL);
	}
	take();
}
END_TEST

START_TEST(reopening_tracks_again)
{
	struct jwb_change c = order_row("update", "o1", 7, "CONFIRMED", "CANCELLED");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-A";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 3);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"), PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	pub(o.m[1], "order/o1/status", true, 0, TS);
	pub(o.m[2], "order/o1/driver", true, 0, TS);

	/* reopened with another driver: the old one loses its party tuple (its
	 * trackers went when the order ended), the new one is tracked */
	c = order_row("update", "o1", 8, "CONFIRMED", "DELIVERED");
	c.previous_pickup_driver_id = "drv-A";
	c.pickup_driver_id = "drv-B";
	plan_ok(&c);
	o = take();
	assert_count(&o, 3);
	struct json_object *cmds = control(o.m[0], 2);
	assert_relations(command_at(cmds, 0), "removeRelations", TUPLES(PARTY("o1", "driver:drv-A")));
	assert_relations(command_at(cmds, 1), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"), PARTY("o1", "driver:drv-B"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1")));
}
END_TEST

START_TEST(driver_change_on_active_order_adds_trackers)
{
	/* status unchanged, a pickup driver assigned: only the driver message,
	 * and the new driver tracked */
	struct jwb_change c = order_row("update", "o1", 4, "IN_PROCESS", "IN_PROCESS");
	c.pickup_driver_id = "drv-B";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 2);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"), PARTY("o1", "driver:drv-B"),
			TRACKER("drv-B", "customer:cust-1"), TRACKER("drv-B", "merchant:merch-1")));
	assert_driver(pub(o.m[1], "order/o1/driver", true, 0, TS), "o1", "drv-B", "pickup", "Bob", 4.25, "van",
		4, TS_TEXT);

	/* no driver change, no status change: no tracker planned */
	c = order_row("update", "o1", 5, "IN_PROCESS", "IN_PROCESS");
	c.pickup_driver_id = c.previous_pickup_driver_id = "drv-B";
	plan_ok(&c);
	o = take();
	assert_count(&o, 1);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"), PARTY("o1", "driver:drv-B")));

	/* a driver assigned to an ended order is not tracked */
	c = order_row("update", "o1", 6, "DELIVERED", "DELIVERED");
	c.pickup_driver_id = "drv-C";
	plan_ok(&c);
	o = take();
	/* no relation at all (the ended order keeps its parties' ttl): only the
	 * driver message, with the expiry */
	assert_count(&o, 1);
	assert_driver(pub(o.m[0], "order/o1/driver", true, EXPIRY, TS), "o1", "drv-C", "pickup", NULL, NAN, NULL,
		6, TS_TEXT);
}
END_TEST

START_TEST(same_driver_both_roles_one_tracker_pair)
{
	struct jwb_change c = order_row("update", "o1", 8, "OUT_FOR_DELIVERY", "READY_FOR_DELIVERY");
	c.pickup_driver_id = c.delivery_driver_id = "drv-A";
	plan_ok(&c);
	struct out o = take();
	assert_count(&o, 4);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-1"), PARTY("o1", "merchant:merch-1"), PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));

	/* and it ends: one pair removed, each asked once */
	struct kept_ctx k = {.n = 0};
	jwb_plan_set_tracker_check(plan, kept_cb, &k);
	c = order_row("update", "o1", 9, "DELIVERED", "OUT_FOR_DELIVERY");
	c.pickup_driver_id = c.delivery_driver_id = "drv-A";
	c.previous_pickup_driver_id = c.previous_delivery_driver_id = "drv-A";
	plan_ok(&c);
	assert_strings((const char (*)[128])k.asked, k.n, "o1 drv-A customer:cust-1", "o1 drv-A merchant:merch-1",
		NULL);
	o = take();
	assert_relations(command_at(control(o.m[0], 2), 0), "removeRelations",
		TUPLES(TRACKER("drv-A", "customer:cust-1"), TRACKER("drv-A", "merchant:merch-1")));
	jwb_plan_set_tracker_check(plan, NULL, NULL);
}
END_TEST

START_TEST(resync_tracks_active_orders_only)
{
	struct kept_ctx k = {.n = 0};
	jwb_plan_set_tracker_check(plan, kept_cb, &k);
	/* active, the same driver in both roles: one pair */
	struct jwb_order_state a = state_row("o1", "OUT_FOR_DELIVERY");
	a.pickup_driver_id = a.delivery_driver_id = "drv-A";
	state_ok(&a, NOW);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 5);
	/* active, pickup and delivery */
	struct jwb_order_state b = state_row("o2", "OUT_FOR_DELIVERY");
	b.pickup_driver_id = "drv-B";
	b.delivery_driver_id = "drv-C";
	state_ok(&b, NOW);
	/* terminal: parties with the ttl, no trackers (and nothing removed) */
	struct jwb_order_state t = state_row("o3", "DELIVERED");
	t.pickup_driver_id = "drv-A";
	t.delivery_driver_id = "drv-D";
	t.changed_ms = NOW - 10000;
	state_ok(&t, NOW);
	ck_assert_uint_eq(k.n, 0);
	struct out o = take();
	assert_count(&o, 7);
	assert_relations(command_at(control(o.m[0], 1), 0), "addRelations",
		TUPLES(PARTY("o1", "customer:cust-9"), PARTY("o1", "merchant:merch-9"), PARTY("o1", "driver:drv-A"),
			TRACKER("drv-A", "customer:cust-9"), TRACKER("drv-A", "merchant:merch-9"),
			PARTY("o2", "customer:cust-9"), PARTY("o2", "merchant:merch-9"),
			PARTY("o2", "driver:drv-B"), PARTY("o2", "driver:drv-C"),
			TRACKER("drv-B", "customer:cust-9"), TRACKER("drv-B", "merchant:merch-9"),
			TRACKER("drv-C", "customer:cust-9"), TRACKER("drv-C", "merchant:merch-9"),
			PARTY_TTL("o3", "customer:cust-9", 5390), PARTY_TTL("o3", "merchant:merch-9", 5390),
			PARTY_TTL("o3", "driver:drv-A", 5390), PARTY_TTL("o3", "driver:drv-D", 5390)));
	ck_assert(!control_has(&o, o.n, "addRelations", "driver:drv-D", "tracker", "customer:cust-9"));
	ck_assert(!control_has(&o, o.n, "addRelations", "driver:drv-D", "tracker", "merchant:merch-9"));
	jwb_plan_set_tracker_check(plan, NULL, NULL);
}
END_TEST

START_TEST(resync_state_row_refused_plans_no_trackers)
{
	char *num257 = rep('n', 257);
	struct jwb_order_state s = state_row("o5", "PICKED_UP");
	s.pickup_driver_id = "drv-A";
	s.order_number = num257;
	state_bad(&s, NOW, "orderNumber is 257 bytes (max 256)");
	free(num257);
	ck_assert_uint_eq(jwb_plan_open_tuples(plan), 0);
	ck_assert_ptr_null(jwb_plan_take(plan));
}
END_TEST


/* ------------------------------------------------------------------------ */

static TCase *tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, setup, teardown);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *plan_suite(void)
{
	Suite *s = suite_create("bridge_plan");
	TCase *tc;

	tc = tcase(s, "basics");
	tcase_add_test(tc, msg_new_copies_and_frees);
	tcase_add_test(tc, empty_plan_takes_nothing);
	tcase_add_test(tc, plan_with_open_segment_frees_cleanly);

	tc = tcase(s, "insert");
	tcase_add_test(tc, insert_without_driver);
	tcase_add_test(tc, insert_null_order_number_is_json_null);
	tcase_add_test(tc, insert_with_pickup_driver);
	tcase_add_test(tc, insert_with_unknown_driver_has_null_details);
	tcase_add_test(tc, insert_without_lookup_has_null_details);
	tcase_add_test(tc, insert_with_both_drivers);
	tcase_add_test(tc, insert_same_driver_both_roles_one_tuple);

	tc = tcase(s, "update");
	tcase_add_test(tc, update_status_only);
	tcase_add_test(tc, update_without_relevant_change_publishes_nothing);
	tcase_add_test(tc, update_pickup_assigned);
	tcase_add_test(tc, update_delivery_assigned_keeps_pickup);
	tcase_add_test(tc, update_pickup_unassigned);
	tcase_add_test(tc, reassignment_removes_after_earlier_publishes);
	tcase_add_test(tc, same_driver_in_both_roles_removed_once);
	tcase_add_test(tc, both_drivers_replaced_removes_both);
	tcase_add_test(tc, driver_moving_to_other_role_is_not_removed);
	tcase_add_test(tc, only_the_driver_leaving_is_removed);

	tc = tcase(s, "terminal");
	tcase_add_test(tc, terminal_delivered_expires_with_current_driver);
	tcase_add_test(tc, terminal_cancelled_with_pickup_only);
	tcase_add_test(tc, terminal_without_driver_publishes_null_driver);
	tcase_add_test(tc, terminal_with_driver_removed_in_same_change);
	tcase_add_test(tc, insert_terminal);
	tcase_add_test(tc, reopened_order_loses_expiry);
	tcase_add_test(tc, reopened_order_without_driver);
	tcase_add_test(tc, terminal_to_terminal_republishes_with_expiry);
	tcase_add_test(tc, statuses_come_from_the_config);

	tc = tcase(s, "delete_truncate");
	tcase_add_test(tc, delete_removes_object_and_clears);
	tcase_add_test(tc, delete_after_insert_in_batch);
	tcase_add_test(tc, truncate_asks_for_resync);

	tc = tcase(s, "bad_rows");
	tcase_add_test(tc, bad_row_null_op_or_entity);
	tcase_add_test(tc, bad_row_order_id);
	tcase_add_test(tc, bad_row_version);
	tcase_add_test(tc, bad_row_status);
	tcase_add_test(tc, bad_row_party_ids);
	tcase_add_test(tc, bad_row_order_number);
	tcase_add_test(tc, impossible_rating_is_published_as_null);
	tcase_add_test(tc, bad_row_notification);

	tc = tcase(s, "batching");
	tcase_add_test(tc, consecutive_changes_share_one_control_message);
	tcase_add_test(tc, removal_splits_the_batch);
	tcase_add_test(tc, take_detaches_and_the_plan_continues);

	tc = tcase(s, "notification");
	tcase_add_test(tc, notification_to_each_user_type);
	tcase_add_test(tc, notification_null_data);

	tc = tcase(s, "order_state");
	tcase_add_test(tc, state_active_with_drivers);
	tcase_add_test(tc, state_active_with_pickup_only);
	tcase_add_test(tc, state_active_without_driver);
	tcase_add_test(tc, state_pending_or_unversioned_is_relations_only);
	tcase_add_test(tc, state_pending_restores_what_no_waiting_change_moves);
	tcase_add_test(tc, state_terminal_keeps_the_remaining_expiry);
	tcase_add_test(tc, state_terminal_without_driver);
	tcase_add_test(tc, state_terminal_pending_is_relations_with_ttl);
	tcase_add_test(tc, state_terminal_expiry_edges);
	tcase_add_test(tc, state_bad_rows);
	tcase_add_test(tc, state_bad_payload_plans_nothing);

	tc = tcase(s, "commands");
	tcase_add_test(tc, command_alone);
	tcase_add_test(tc, command_after_planned_changes);
	tcase_add_test(tc, resync_sequence);

	tc = tcase(s, "open_tuples");
	tcase_add_test(tc, open_tuples_counts_the_open_segment);
	tcase_add_test(tc, open_tuples_counts_removed_tuples);

	tc = tcase(s, "trackers");
	tcase_add_test(tc, assigned_driver_is_tracked_by_customer_and_merchant);
	tcase_add_test(tc, tracking_ends_when_the_order_ends);
	tcase_add_test(tc, tracking_ends_when_the_driver_is_unassigned);
	tcase_add_test(tc, tracker_removal_splits_the_batch);
	tcase_add_test(tc, tracking_ends_when_the_order_is_deleted);
	tcase_add_test(tc, kept_tracker_is_not_removed);
	tcase_add_test(tc, all_kept_removes_nothing_and_does_not_split);
	tcase_add_test(tc, candidates_for_an_ending_order);
	tcase_add_test(tc, candidates_for_a_reassignment);
	tcase_add_test(tc, candidates_for_a_delete);
	tcase_add_test(tc, candidates_none_for_an_insert);
	tcase_add_test(tc, candidates_none_on_an_ended_order);
	tcase_add_test(tc, candidates_none_for_other_rows);
	tcase_add_test(tc, candidates_are_what_the_plan_asks);
	tcase_add_test(tc, reopening_tracks_again);
	tcase_add_test(tc, driver_change_on_active_order_adds_trackers);
	tcase_add_test(tc, same_driver_both_roles_one_tracker_pair);
	tcase_add_test(tc, resync_tracks_active_orders_only);
	tcase_add_test(tc, resync_state_row_refused_plans_no_trackers);

	return s;
}

int main(void)
{
	return ut_run(plan_suite());
}
