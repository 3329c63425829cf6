#include "bench_data.h"

#include <stdio.h>
#include <string.h>

uint64_t bd_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t mix(uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t s = seed ^ (a * 0x100000001b3ULL) ^ (b << 32);
	return bd_rand(&s);
}

void bd_population_init(struct bd_population *p, uint32_t n_orders, uint64_t seed,
		enum bd_id_style style)
{
	p->n_orders = n_orders;
	p->n_customers = n_orders / 5 * 4;
	p->n_merchants = n_orders / 20;
	p->n_drivers = n_orders / 4;
	if(p->n_customers == 0) p->n_customers = 1;
	if(p->n_merchants == 0) p->n_merchants = 1;
	if(p->n_drivers == 0) p->n_drivers = 1;
	p->seed = seed;
	p->style = style;
}

void bd_order(const struct bd_population *p, uint32_t i, struct bd_order *o)
{
	o->order = i;
	o->customer = (uint32_t)(mix(p->seed, i, 1) % p->n_customers);
	o->merchant = (uint32_t)(mix(p->seed, i, 2) % p->n_merchants);
	o->driver = (uint32_t)(mix(p->seed, i, 3) % p->n_drivers);
}

void bd_id(const struct bd_population *p, char kind, uint32_t id, char *buf, size_t len)
{
	if(p->style == BD_ID_NUMERIC){
		snprintf(buf, len, "%u", 1000000u + id);
		return;
	}
	uint64_t a = mix(p->seed, id, (uint64_t)(unsigned char)kind);
	uint64_t b = mix(p->seed ^ 0x5bd1e995ULL, id, (uint64_t)(unsigned char)kind);
	snprintf(buf, len, "%08x-%04x-4%03x-%04x-%012llx",
			(unsigned)(a >> 32), (unsigned)((a >> 16) & 0xffff), (unsigned)(a & 0xfff),
			(unsigned)(0x8000 | ((b >> 48) & 0x3fff)), (unsigned long long)(b & 0xffffffffffffULL));
}

void bd_tuple(const struct bd_population *p, const struct bd_order *o, int k,
		char *object, char *relation, char *subject, size_t len)
{
	char oid[48], cid[48], mid[48], did[48];
	bd_id(p, 'o', o->order, oid, sizeof(oid));
	bd_id(p, 'c', o->customer, cid, sizeof(cid));
	bd_id(p, 'm', o->merchant, mid, sizeof(mid));
	bd_id(p, 'd', o->driver, did, sizeof(did));
	switch(k){
		case 0: snprintf(object, len, "order:%s", oid); snprintf(subject, len, "customer:%s", cid); break;
		case 1: snprintf(object, len, "order:%s", oid); snprintf(subject, len, "merchant:%s", mid); break;
		case 2: snprintf(object, len, "order:%s", oid); snprintf(subject, len, "driver:%s", did); break;
		case 3: snprintf(object, len, "driver:%s", did); snprintf(subject, len, "customer:%s", cid); break;
		default: snprintf(object, len, "driver:%s", did); snprintf(subject, len, "merchant:%s", mid); break;
	}
	snprintf(relation, len, "%s", k < 3 ? "party" : "tracker");
}
