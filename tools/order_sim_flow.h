/*
 * order_sim_flow — the pure part of jetwire-order-sim: the order statuses
 * and the path through them, what each transition tells whom, and the
 * simulator's random numbers.  No database, no clock: unit-testable.
 */
#ifndef ORDER_SIM_FLOW_H
#define ORDER_SIM_FLOW_H

#include <stdbool.h>
#include <stdint.h>

/* The demo's statuses (schemas/demo/tables.sql), in the order an order
 * goes through them.  OS_UNKNOWN: a status the simulator does not move. */
enum os_status {
	OS_PENDING,
	OS_CONFIRMED,
	OS_ASSIGNED_TO_DRIVER,
	OS_PICKED_UP,
	OS_IN_PROCESS,
	OS_READY_FOR_DELIVERY,
	OS_OUT_FOR_DELIVERY,
	OS_DELIVERED,
	OS_CANCELLED,
	OS_UNKNOWN
};

/* "PENDING", ...; "?" for OS_UNKNOWN.  Static strings. */
const char *os_status_name(enum os_status s);

/* The status named `name` (exact, case-sensitive), or OS_UNKNOWN. */
enum os_status os_status_parse(const char *name);

/* DELIVERED and CANCELLED. */
bool os_status_terminal(enum os_status s);

/* The next status on the way to DELIVERED; OS_UNKNOWN after a terminal
 * status or for OS_UNKNOWN. */
enum os_status os_status_next(enum os_status s);

/* Which driver a transition into `s` assigns: 'p' (pickup, entering
 * ASSIGNED_TO_DRIVER), 'd' (delivery, entering OUT_FOR_DELIVERY) or 0. */
char os_status_assigns(enum os_status s);

/* Statuses an order may be cancelled in (before its laundry is picked up):
 * PENDING, CONFIRMED, ASSIGNED_TO_DRIVER. */
bool os_status_cancellable(enum os_status s);

/* The notification a transition into `s` sends, or NULL for none.
 * `to` is the recipient's userType ("customer", "merchant", "driver").
 * Body is a printf format taking, in order: the order number, then one
 * name (the driver's for ASSIGNED_TO_DRIVER and OUT_FOR_DELIVERY, the
 * customer's for the merchant's PENDING note); unused arguments are
 * ignored by the format. */
struct os_notice {
	const char *to;
	const char *title;
	const char *body_fmt;
};

/* Up to `max` notices for entering `s`, into out[]; returns how many. */
int os_notices(enum os_status s, struct os_notice *out, int max);

/* splitmix64: a small, seedable generator (not for secrets). */
struct os_rng {
	uint64_t state;
};
void os_rng_seed(struct os_rng *r, uint64_t seed);
uint64_t os_rng_next(struct os_rng *r);
/* Uniform in [0, 1). */
double os_rng_unit(struct os_rng *r);

/* A step of `step_s` seconds randomised to [0.75, 1.25) of it, in ms
 * (at least 1). */
int64_t os_jitter_ms(struct os_rng *r, double step_s);

/* Where an order will be cancelled: with probability `rate`, one of the
 * cancellable statuses (uniformly), else OS_UNKNOWN (never). */
enum os_status os_plan_cancel(struct os_rng *r, double rate);

#endif
