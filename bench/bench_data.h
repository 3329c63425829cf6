/*
 * bench_data — the synthetic relation data shared by the benchmarks: a
 * population of active orders, each with a customer, a merchant and a
 * driver, and the five tuples the bridge pushes for it:
 *
 *   (order:<o>,  party,   customer:<c>)
 *   (order:<o>,  party,   merchant:<m>)
 *   (order:<o>,  party,   driver:<d>)
 *   (driver:<d>, tracker, customer:<c>)
 *   (driver:<d>, tracker, merchant:<m>)
 *
 * Deterministic for a given (seed, n_orders).  Customers are drawn from a
 * pool of 0.8 * n_orders, merchants from n_orders / 20, drivers from
 * n_orders / 4; the same (driver, customer) pair can recur, so a few tracker
 * tuples repeat (the store keeps one).
 */
#ifndef JW_BENCH_DATA_H
#define JW_BENCH_DATA_H

#include <stddef.h>
#include <stdint.h>

enum bd_id_style {
	BD_ID_NUMERIC,   /* "1000042" (7 digits) */
	BD_ID_UUID,      /* "3f2a9c1e-07b4-4d1e-9a0c-5b7e21d4c9f0" (36 chars) */
};

struct bd_order {
	uint32_t order, customer, merchant, driver;
};

struct bd_population {
	uint32_t n_orders, n_customers, n_merchants, n_drivers;
	uint64_t seed;
	enum bd_id_style style;
};

void bd_population_init(struct bd_population *p, uint32_t n_orders, uint64_t seed,
		enum bd_id_style style);
/* Order i (0 <= i < n_orders). */
void bd_order(const struct bd_population *p, uint32_t i, struct bd_order *o);
/* Format an id of a kind ('o' order, 'c' customer, 'm' merchant, 'd'
 * driver) into buf (at least 40 bytes). */
void bd_id(const struct bd_population *p, char kind, uint32_t id, char *buf, size_t len);

/* The k-th tuple (0..4) of an order, formatted into the three buffers
 * (each at least 64 bytes). */
void bd_tuple(const struct bd_population *p, const struct bd_order *o, int k,
		char *object, char *relation, char *subject, size_t len);

/* A small fast PRNG (splitmix64). */
uint64_t bd_rand(uint64_t *state);

#endif
