/*
 * plan — what the bridge sends for each captured change: relationship
 * commands to the plugin first, then the retained order state (SPEC
 * "Bridge guarantees").  Pure: rows in, an ordered list of MQTT messages
 * out; no I/O, so every rule is unit-tested.
 *
 * Relations are batched: consecutive changes share one $CONTROL message
 * holding their removals, then their additions, followed by their
 * publishes.  A change that removes something closes the segment first,
 * so a removal never overtakes an earlier change's publish (a driver
 * unassigned by change n still receives changes up to n-1).
 */
#ifndef JWB_PLAN_H
#define JWB_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define JWB_CONTROL_TOPIC "$CONTROL/jetwire/v1"
#define JWB_CONTROL_RESPONSE_TOPIC "$CONTROL/jetwire/v1/response"

struct jwb_driver_info {
	const char *name;          /* NULL: unknown */
	double rating;
	bool has_rating;
	const char *vehicle_type;  /* NULL: unknown */
};

/* Looks a driver up (from the batch's driver query); false = unknown. */
typedef bool (*jwb_driver_lookup_fn)(void *arg, const char *driver_id, struct jwb_driver_info *out);

/* Tracking (SPEC: customers and merchants with an active order served by a
 * driver read its location and presence): tuples (driver:{d}, tracker,
 * customer:{c}) and (driver:{d}, tracker, merchant:{m}).  A tuple is not
 * order-scoped, so when an order ends or drops a driver its tuples are
 * removed unless another active order still joins that driver and that
 * subject: `kept` answers that (from the database, per batch; NULL = never
 * kept).  subject is "customer:{c}" or "merchant:{m}". */
typedef bool (*jwb_tracker_kept_fn)(void *arg, const char *order_id, const char *driver_id,
		const char *subject);
/* The removals a change may make, for the caller to ask the database
 * which are kept (same rules as jwb_plan_change). */
typedef void (*jwb_tracker_candidate_fn)(void *arg, const char *order_id, const char *driver_id,
		const char *subject);

/* One outbox row (jetwire.outbox, fields of `data` flattened).  Strings are
 * NULL when SQL NULL. */
struct jwb_change {
	int64_t id;
	const char *entity;            /* "order", "notification" */
	const char *entity_id;
	int64_t version;
	const char *op;                /* insert, update, delete, truncate */
	int64_t ts_ms;                 /* created_at */
	/* order */
	const char *order_number, *status, *previous_status, *customer_id, *merchant_id;
	const char *pickup_driver_id, *delivery_driver_id;
	const char *previous_pickup_driver_id, *previous_delivery_driver_id;
	/* notification */
	const char *user_type, *user_id, *title, *body, *data_json;
};

/* One order as a resync reads it (jetwire.resync_sql()). */
struct jwb_order_state {
	const char *id, *order_number, *status, *previous_status;
	const char *customer_id, *merchant_id, *pickup_driver_id, *delivery_driver_id;
	int64_t version;               /* 0: none */
	int64_t changed_ms;
	bool pending;                  /* the outbox still holds a change of this order ... */
	int64_t pending_min_version;   /* ... the oldest of them */
	bool pending_status_change;    /* ... one of them moves the status */
	bool pending_driver_change;    /* ... one of them moves a driver */
	struct jwb_driver_info pickup, delivery;
};

struct jwb_msg {
	char *topic;
	char *payload;                 /* may be empty (a retained clear) */
	size_t len;
	int qos;
	bool retain;
	uint32_t expiry;               /* MQTT 5 message expiry, 0 = none */
	bool control;                  /* a $CONTROL command */
	int64_t ts_ms;                 /* the change's time (latency), 0 for control */
	struct jwb_msg *next;
};

struct jwb_plan;

enum jwb_plan_result {
	JWB_PLAN_OK = 0,
	JWB_PLAN_BAD = 1,              /* a bad row: reason written; nothing was planned for it */
	JWB_PLAN_RESYNC = 2,           /* a truncate: the caller resyncs */
};

struct jwb_plan *jwb_plan_new(const struct jwb_config *cfg);
void jwb_plan_set_tracker_check(struct jwb_plan *p, jwb_tracker_kept_fn kept, void *arg);
void jwb_plan_tracker_candidates(const struct jwb_config *cfg, const struct jwb_change *c,
		jwb_tracker_candidate_fn emit, void *arg);
void jwb_plan_free(struct jwb_plan *p);

enum jwb_plan_result jwb_plan_change(struct jwb_plan *p, const struct jwb_change *c,
		jwb_driver_lookup_fn lookup, void *lookup_arg, char *reason, size_t reason_len);

/* Resync: the relations of one order (with the remaining ttl when it has
 * ended) and its retained status and driver.  For an order with changes
 * still in the outbox, only what none of them will publish: the status
 * and/or driver as they were just before the oldest waiting change, with
 * that version, so no newer state precedes an older one.  now_ms decides
 * what is left of a terminal order's expiry (BAD when nothing). */
enum jwb_plan_result jwb_plan_order_state(struct jwb_plan *p, const struct jwb_order_state *s,
		int64_t now_ms, char *reason, size_t reason_len);

/* A control message with one argument-less command ("syncBegin",
 * "syncEnd", "status"), after everything planned so far. */
int jwb_plan_command(struct jwb_plan *p, const char *command);

/* Close the open segment and detach every message planned so far, in
 * order.  NULL when nothing was planned. */
struct jwb_msg *jwb_plan_take(struct jwb_plan *p);

/* Number of relation tuples planned in the open segment (the caller closes
 * segments that grow large). */
size_t jwb_plan_open_tuples(const struct jwb_plan *p);

struct jwb_msg *jwb_msg_new(const char *topic, const char *payload, size_t len, int qos,
		bool retain, uint32_t expiry);
void jwb_msg_free_list(struct jwb_msg *m);

#endif
