/*
 * order_sim_flow — statuses, notices and random numbers of
 * jetwire-order-sim (see order_sim_flow.h).
 */
#include "order_sim_flow.h"

#include <string.h>

static const char *const names[] = {
	[OS_PENDING] = "PENDING",
	[OS_CONFIRMED] = "CONFIRMED",
	[OS_ASSIGNED_TO_DRIVER] = "ASSIGNED_TO_DRIVER",
	[OS_PICKED_UP] = "PICKED_UP",
	[OS_IN_PROCESS] = "IN_PROCESS",
	[OS_READY_FOR_DELIVERY] = "READY_FOR_DELIVERY",
	[OS_OUT_FOR_DELIVERY] = "OUT_FOR_DELIVERY",
	[OS_DELIVERED] = "DELIVERED",
	[OS_CANCELLED] = "CANCELLED",
};

const char *os_status_name(enum os_status s)
{
	return s >= OS_PENDING && s < OS_UNKNOWN ? names[s] : "?";
}

enum os_status os_status_parse(const char *name)
{
	for (int s = OS_PENDING; s < OS_UNKNOWN; s++)
		if (name && strcmp(name, names[s]) == 0)
			return (enum os_status)s;
	return OS_UNKNOWN;
}

bool os_status_terminal(enum os_status s)
{
	return s == OS_DELIVERED || s == OS_CANCELLED;
}

enum os_status os_status_next(enum os_status s)
{
	if (s >= OS_PENDING && s < OS_DELIVERED)
		return (enum os_status)(s + 1);
	return OS_UNKNOWN;
}

char os_status_assigns(enum os_status s)
{
	return s == OS_ASSIGNED_TO_DRIVER ? 'p' : s == OS_OUT_FOR_DELIVERY ? 'd' : 0;
}

bool os_status_cancellable(enum os_status s)
{
	return s == OS_PENDING || s == OS_CONFIRMED || s == OS_ASSIGNED_TO_DRIVER;
}

int os_notices(enum os_status s, struct os_notice *out, int max)
{
	struct os_notice all[2];
	int n = 0;
	switch (s) {
	case OS_PENDING:
		all[n++] = (struct os_notice){"merchant", "New order", "%s from %s."};
		break;
	case OS_CONFIRMED:
		all[n++] = (struct os_notice){"customer", "Order confirmed", "%s: the laundry has your order."};
		break;
	case OS_ASSIGNED_TO_DRIVER:
		all[n++] = (struct os_notice){"customer", "Driver on the way", "%s: %s will pick up your laundry."};
		all[n++] = (struct os_notice){"driver", "New pickup", "%s: collect the laundry from the customer."};
		break;
	case OS_OUT_FOR_DELIVERY:
		all[n++] = (struct os_notice){"customer", "Out for delivery", "%s: %s is bringing your laundry back."};
		all[n++] = (struct os_notice){"driver", "New delivery", "%s: take the laundry to the customer."};
		break;
	case OS_DELIVERED:
		all[n++] = (struct os_notice){"customer", "Delivered", "%s has been delivered. Thank you!"};
		break;
	case OS_CANCELLED:
		all[n++] = (struct os_notice){"customer", "Order cancelled", "%s was cancelled."};
		all[n++] = (struct os_notice){"merchant", "Order cancelled", "%s was cancelled."};
		break;
	default:
		break;
	}
	int k = 0;
	for (; k < n && k < max; k++)
		out[k] = all[k];
	return k;
}

void os_rng_seed(struct os_rng *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t os_rng_next(struct os_rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double os_rng_unit(struct os_rng *r)
{
	return (double)(os_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

int64_t os_jitter_ms(struct os_rng *r, double step_s)
{
	double ms = step_s * 1000.0 * (0.75 + 0.5 * os_rng_unit(r));
	return ms < 1.0 ? 1 : (int64_t)ms;
}

enum os_status os_plan_cancel(struct os_rng *r, double rate)
{
	static const enum os_status at[] = {OS_PENDING, OS_CONFIRMED, OS_ASSIGNED_TO_DRIVER};
	if (rate <= 0 || os_rng_unit(r) >= rate)
		return OS_UNKNOWN;
	return at[os_rng_next(r) % (sizeof(at) / sizeof(at[0]))];
}
