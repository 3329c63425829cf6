/*
 * bench_acl_decide — cost of one jw_acl_decide() call, the plugin's
 * per-message hot path, against the default policy and a relation store
 * holding 100,000 active orders (5 tuples each, see bench_data.h).
 *
 * The measured loop runs a pre-generated, shuffled mix of realistic checks
 * (see `kinds` below) in batches of 1000; each batch is timed with
 * clock_gettime and its per-check average kept; the median and p99 of those
 * batch averages are reported.  The baseline, measured in the same run over
 * the same checks, is mosquitto-style plain topic matching: the same role's
 * rules walked in order with jw_filter_matches() on the rule's pattern
 * ({name} placeholders read as '+'), without relation lookups.
 *
 * The whole process's malloc family is counted (bench_alloc.c) around the
 * measured loops to show the hot path does not allocate.
 *
 * This is a benchmark, not a test: it asserts nothing about time.  It exits
 * non-zero only if a decision differs from the expected one (the bench would
 * then be measuring the wrong thing) or if an allocation is seen.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "bench_alloc.h"
#include "bench_broker.h"
#include "bench_data.h"
#include "jw_file.h"
#include "jw_topic.h"
#include "relations.h"

/* ---- the check mix ---- */

enum kind {
	K_CUST_STATUS_OWN,      /* customer READ order/<o>/status, party      -> allow */
	K_CUST_STATUS_OTHER,    /* customer READ order/<o>/status, not party  -> deny  */
	K_DRIVER_WRITE_LOC,     /* driver WRITE driver/<self>/location        -> allow */
	K_CUST_DRIVER_LOC,      /* customer READ driver/<d>/location, tracker -> allow */
	K_MERCHANT_STATUS,      /* merchant READ order/<o>/status, party      -> allow */
	K_SUB_ORDER_OWN,        /* customer SUBSCRIBE order/<o>/#, party      -> allow */
	K_SUB_ORDER_PLUS,       /* customer SUBSCRIBE order/+/status          -> allow */
	K_SUB_DRIVER_OTHER,     /* customer SUBSCRIBE driver/<d>/location, not tracker -> deny */
	K_COUNT
};

static const struct {
	const char *name;
	int weight;             /* percent of the mix */
	enum jw_access access;
	enum jw_decision expect;
} kinds[K_COUNT] = {
	[K_CUST_STATUS_OWN]   = {"customer read own order status", 25, JW_ACCESS_READ, JW_ALLOW},
	[K_CUST_STATUS_OTHER] = {"customer read other order status", 15, JW_ACCESS_READ, JW_DENY},
	[K_DRIVER_WRITE_LOC]  = {"driver write own location", 20, JW_ACCESS_WRITE, JW_ALLOW},
	[K_CUST_DRIVER_LOC]   = {"customer read tracked driver location", 20, JW_ACCESS_READ, JW_ALLOW},
	[K_MERCHANT_STATUS]   = {"merchant read own order status", 5, JW_ACCESS_READ, JW_ALLOW},
	[K_SUB_ORDER_OWN]     = {"customer subscribe order/<own>/#", 5, JW_ACCESS_SUBSCRIBE, JW_ALLOW},
	[K_SUB_ORDER_PLUS]    = {"customer subscribe order/+/status", 5, JW_ACCESS_SUBSCRIBE, JW_ALLOW},
	[K_SUB_DRIVER_OTHER]  = {"customer subscribe untracked driver", 5, JW_ACCESS_SUBSCRIBE, JW_DENY},
};

/* ---- baseline: the policy's patterns as plain MQTT filters ---- */

struct base_rule {
	bool allow;
	unsigned access;
	char *filter;
	size_t len;
};

struct base_role {
	char name[64];
	struct base_rule *rules;
	size_t n;
};

struct base_policy {
	struct base_role roles[32];
	size_t n_roles;
};

static unsigned parse_access(char *list)
{
	unsigned a = 0;
	char *save = NULL;
	for(char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)){
		a |= (unsigned)jw_access_parse(t);
	}
	return a;
}

/* {anything} -> '+' */
static char *pattern_to_filter(const char *pat)
{
	char *out = malloc(strlen(pat) + 1);
	if(out == NULL) bb_die("out of memory");
	size_t o = 0;
	for(const char *p = pat; *p; p++){
		if(*p == '{'){
			const char *e = strchr(p, '}');
			if(e){
				out[o++] = '+';
				p = e;
				continue;
			}
		}
		out[o++] = *p;
	}
	out[o] = '\0';
	return out;
}

static void base_load(struct base_policy *bp, const char *path)
{
	char *text = NULL, err[512];
	size_t len;
	if(jw_read_file(path, 1 << 20, &text, &len, err, sizeof(err)) != 0) bb_die("%s", err);
	memset(bp, 0, sizeof(*bp));
	struct base_role *cur[32];
	size_t n_cur = 0;
	char *save_line = NULL;
	for(char *line = strtok_r(text, "\n", &save_line); line; line = strtok_r(NULL, "\n", &save_line)){
		while(*line == ' ' || *line == '\t') line++;
		if(*line == '#' || *line == '\0') continue;
		char *tok[16];
		int nt = 0;
		char *save = NULL;
		for(char *t = strtok_r(line, " \t\r", &save); t && nt < 16; t = strtok_r(NULL, " \t\r", &save)){
			tok[nt++] = t;
		}
		if(nt >= 2 && strcmp(tok[0], "role") == 0){
			n_cur = 0;
			char *s2 = NULL;
			for(char *r = strtok_r(tok[1], ",", &s2); r; r = strtok_r(NULL, ",", &s2)){
				struct base_role *br = NULL;
				for(size_t i = 0; i < bp->n_roles; i++){
					if(strcmp(bp->roles[i].name, r) == 0) br = &bp->roles[i];
				}
				if(br == NULL && bp->n_roles < 32){
					br = &bp->roles[bp->n_roles++];
					snprintf(br->name, sizeof(br->name), "%s", r);
				}
				if(br && n_cur < 32) cur[n_cur++] = br;
			}
		}else if(nt >= 3 && (strcmp(tok[0], "allow") == 0 || strcmp(tok[0], "deny") == 0)){
			bool allow = tok[0][0] == 'a';
			unsigned access = parse_access(tok[1]);
			for(size_t i = 0; i < n_cur; i++){
				struct base_role *br = cur[i];
				br->rules = realloc(br->rules, (br->n + 1) * sizeof(*br->rules));
				if(br->rules == NULL) bb_die("out of memory");
				struct base_rule *r = &br->rules[br->n++];
				r->allow = allow;
				r->access = access;
				r->filter = pattern_to_filter(tok[2]);
				r->len = strlen(r->filter);
			}
		}
	}
	free(text);
}

static const struct base_role *base_role(const struct base_policy *bp, const char *name)
{
	for(size_t i = 0; i < bp->n_roles; i++){
		if(strcmp(bp->roles[i].name, name) == 0) return &bp->roles[i];
	}
	bb_die("role %s not in the policy", name);
}

static void base_free(struct base_policy *bp)
{
	for(size_t i = 0; i < bp->n_roles; i++){
		for(size_t j = 0; j < bp->roles[i].n; j++) free(bp->roles[i].rules[j].filter);
		free(bp->roles[i].rules);
	}
}

static inline enum jw_decision base_decide(const struct base_role *r, enum jw_access access,
		const char *topic, size_t len)
{
	unsigned wanted = access == JW_ACCESS_SUBSCRIBE
		? (unsigned)(JW_ACCESS_SUBSCRIBE | JW_ACCESS_READ) : (unsigned)access;
	for(size_t i = 0; i < r->n; i++){
		const struct base_rule *br = &r->rules[i];
		if((br->access & wanted) == 0) continue;
		if(jw_filter_matches(br->filter, br->len, topic, len)) return br->allow ? JW_ALLOW : JW_DENY;
	}
	return JW_DENY;
}

/* ---- checks ---- */

struct check {
	struct jw_subject who;
	const char *topic;
	size_t topic_len;
	enum jw_access access;
	const struct base_role *base;
	uint8_t kind;
	uint8_t expect;
};

struct arena {
	char *p;
	size_t used, cap;
};

static const char *arena_str(struct arena *a, const char *s, size_t *len_out)
{
	size_t len = strlen(s);
	if(a->used + len + 1 > a->cap) bb_die("arena full");
	char *d = a->p + a->used;
	memcpy(d, s, len + 1);
	a->used += len + 1;
	if(len_out) *len_out = len;
	return d;
}

static void set_who(struct check *c, struct arena *a, const char *role, const char *sub)
{
	c->who.role = arena_str(a, role, &c->who.role_len);
	c->who.sub = arena_str(a, sub, &c->who.sub_len);
	c->who.client_id = NULL;
	c->who.client_id_len = 0;
}

static enum kind pick_kind(uint64_t *rng)
{
	int r = (int)(bd_rand(rng) % 100);
	for(int k = 0; k < K_COUNT; k++){
		if(r < kinds[k].weight) return (enum kind)k;
		r -= kinds[k].weight;
	}
	return K_CUST_STATUS_OWN;
}

static void make_check(struct check *c, enum kind k, const struct bd_population *pop,
		uint32_t order_range, const struct jw_relstore *rs, int64_t now,
		const struct base_policy *bp, struct arena *a, uint64_t *rng)
{
	struct bd_order o;
	bd_order(pop, (uint32_t)(bd_rand(rng) % order_range), &o);
	char oid[48], cid[48], mid[48], did[48], topic[160], subj[80], obj[80];
	bd_id(pop, 'o', o.order, oid, sizeof(oid));
	bd_id(pop, 'c', o.customer, cid, sizeof(cid));
	bd_id(pop, 'm', o.merchant, mid, sizeof(mid));
	bd_id(pop, 'd', o.driver, did, sizeof(did));
	const char *role = "customer", *sub = cid;

	switch(k){
		case K_CUST_STATUS_OWN:
			snprintf(topic, sizeof(topic), "order/%s/status", oid);
			break;
		case K_CUST_STATUS_OTHER:
			/* a customer who is no party of this order */
			snprintf(obj, sizeof(obj), "order:%s", oid);
			do{
				bd_id(pop, 'c', (uint32_t)(bd_rand(rng) % pop->n_customers), cid, sizeof(cid));
				snprintf(subj, sizeof(subj), "customer:%s", cid);
			}while(jw_rel_check(rs, now, obj, "party", subj));
			snprintf(topic, sizeof(topic), "order/%s/status", oid);
			break;
		case K_DRIVER_WRITE_LOC:
			role = "driver";
			sub = did;
			snprintf(topic, sizeof(topic), "driver/%s/location", did);
			break;
		case K_CUST_DRIVER_LOC:
			snprintf(topic, sizeof(topic), "driver/%s/location", did);
			break;
		case K_MERCHANT_STATUS:
			role = "merchant";
			sub = mid;
			snprintf(topic, sizeof(topic), "order/%s/status", oid);
			break;
		case K_SUB_ORDER_OWN:
			snprintf(topic, sizeof(topic), "order/%s/#", oid);
			break;
		case K_SUB_ORDER_PLUS:
			snprintf(topic, sizeof(topic), "order/+/status");
			break;
		case K_SUB_DRIVER_OTHER:
			snprintf(obj, sizeof(obj), "driver:%s", did);
			do{
				bd_id(pop, 'c', (uint32_t)(bd_rand(rng) % pop->n_customers), cid, sizeof(cid));
				snprintf(subj, sizeof(subj), "customer:%s", cid);
			}while(jw_rel_check(rs, now, obj, "tracker", subj));
			snprintf(topic, sizeof(topic), "driver/%s/location", did);
			break;
		default:
			bb_die("bad kind");
	}
	set_who(c, a, role, sub);
	c->topic = arena_str(a, topic, &c->topic_len);
	c->access = kinds[k].access;
	c->kind = (uint8_t)k;
	c->expect = (uint8_t)kinds[k].expect;
	c->base = base_role(bp, role);
}

/* ---- timing ---- */

static volatile uint64_t g_sink;

static inline double ns_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

/* Run n_batches batches of `batch` checks (cycling through `checks`),
 * storing each batch's ns per check in out[]. */
static __attribute__((noinline)) void time_decide(const struct jw_acl *acl, const struct jw_relstore *rs,
		int64_t now, const struct check *checks, size_t n_checks, size_t n_batches, size_t batch,
		double *out)
{
	size_t idx = 0;
	uint64_t allowed = 0;
	for(size_t b = 0; b < n_batches; b++){
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for(size_t j = 0; j < batch; j++){
			const struct check *c = &checks[idx];
			if(++idx == n_checks) idx = 0;
			allowed += jw_acl_decide(acl, rs, now, &c->who, c->access, c->topic, c->topic_len, NULL);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		out[b] = ns_between(&t0, &t1) / (double)batch;
	}
	g_sink += allowed;
}

static __attribute__((noinline)) void time_baseline(const struct check *checks, size_t n_checks,
		size_t n_batches, size_t batch, double *out)
{
	size_t idx = 0;
	uint64_t allowed = 0;
	for(size_t b = 0; b < n_batches; b++){
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for(size_t j = 0; j < batch; j++){
			const struct check *c = &checks[idx];
			if(++idx == n_checks) idx = 0;
			allowed += base_decide(c->base, c->access, c->topic, c->topic_len);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		out[b] = ns_between(&t0, &t1) / (double)batch;
	}
	g_sink += allowed;
}

struct stats {
	double median, p99;
};

static struct stats summarize(double *v, size_t n)
{
	struct stats s;
	s.median = bb_median(v, n);   /* sorts */
	s.p99 = bb_percentile_sorted(v, n, 99);
	return s;
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* ---- options ---- */

struct opts {
	uint32_t orders;
	size_t checks;
	size_t batches;
	size_t batch;
	size_t kind_batches;
	uint32_t hot;
	int ids;          /* 0 numeric, 1 uuid, 2 both */
	const char *acl;
	uint64_t seed;
};

static void usage(void)
{
	fprintf(stderr,
			"usage: bench_acl_decide [--orders N] [--checks N] [--batches N] [--batch N]\n"
			"                        [--kind-batches N] [--hot N] [--ids numeric|uuid|both]\n"
			"                        [--acl FILE] [--seed N]\n"
			"  defaults: 100000 orders, 65536 distinct checks per mix, 5000 batches of 1000,\n"
			"            300 batches per kind, 1000 hot orders, ids both,\n"
			"            acl <source>/acl/default.acl\n"
			"  a longer run: --batches 50000 --kind-batches 3000\n");
	exit(2);
}

static unsigned long long num_arg(int argc, char **argv, int *i)
{
	if(*i + 1 >= argc) usage();
	char *end;
	errno = 0;
	unsigned long long v = strtoull(argv[++*i], &end, 10);
	if(errno || *end || v == 0) usage();
	return v;
}

/* Generate n checks (orders drawn from [0, order_range)), each of a kind
 * drawn by weight; strings go to the arena. */
static struct check *make_checks(size_t n, const struct bd_population *pop, uint32_t order_range,
		const struct jw_relstore *rs, int64_t now, const struct base_policy *bp, struct arena *a,
		uint64_t seed)
{
	struct check *checks = calloc(n, sizeof(*checks));
	if(checks == NULL) bb_die("out of memory");
	uint64_t rng = seed;
	for(size_t i = 0; i < n; i++) make_check(&checks[i], pick_kind(&rng), pop, order_range, rs, now, bp, a, &rng);
	return checks;
}

/* Every decision must be the expected one, or we would measure the wrong
 * thing.  Returns the number of unexpected decisions. */
static size_t verify(const struct jw_acl *acl, const struct jw_relstore *rs, int64_t now,
		const struct check *checks, size_t n, size_t *allowed_out)
{
	size_t wrong = 0, allowed = 0;
	for(size_t i = 0; i < n; i++){
		const struct check *c = &checks[i];
		enum jw_decision d = jw_acl_decide(acl, rs, now, &c->who, c->access, c->topic, c->topic_len, NULL);
		allowed += d == JW_ALLOW;
		if(d != (enum jw_decision)c->expect){
			if(wrong < 5){
				fprintf(stderr, "unexpected decision: %s:%.*s %s %s -> %s (expected %s)\n",
						c->who.role, (int)c->who.sub_len, c->who.sub, jw_access_name(c->access), c->topic,
						d == JW_ALLOW ? "allow" : "deny", c->expect == JW_ALLOW ? "allow" : "deny");
			}
			wrong++;
		}
	}
	*allowed_out = allowed;
	return wrong;
}

/*
 * Reference for the machine: one dependent load from a random place in a
 * buffer of `bytes` (a random cyclic permutation walked by pointer chasing),
 * i.e. what one cache-missing memory access costs here.
 */
static double memory_latency_ns(size_t bytes, uint64_t seed)
{
	size_t n = bytes / sizeof(size_t);
	size_t *next = malloc(n * sizeof(*next));
	size_t *perm = malloc(n * sizeof(*perm));
	if(next == NULL || perm == NULL) bb_die("out of memory");
	/* one cache line per element visited: stride the permutation by 8 */
	size_t m = n / 8;
	for(size_t i = 0; i < m; i++) perm[i] = i * 8;
	uint64_t rng = seed;
	for(size_t i = m - 1; i > 0; i--){
		size_t j = (size_t)(bd_rand(&rng) % (i + 1));
		size_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
	}
	for(size_t i = 0; i < m; i++) next[perm[i]] = perm[(i + 1) % m];
	size_t steps = 4u << 20, p = perm[0];
	for(size_t i = 0; i < steps / 4; i++) p = next[p];   /* warm */
	double t0 = bb_now();
	for(size_t i = 0; i < steps; i++) p = next[p];
	double t = bb_now() - t0;
	g_sink += p;
	free(next);
	free(perm);
	return t * 1e9 / (double)steps;
}

/* One full measurement with one id style. */
static void run(const struct opts *o, enum bd_id_style style, const struct jw_acl *acl,
		const struct base_policy *bp, int *exit_code)
{
	const char *style_name = style == BD_ID_NUMERIC ? "numeric" : "uuid";
	int64_t now = (int64_t)time(NULL);

	/* relations */
	struct bd_population pop;
	bd_population_init(&pop, o->orders, o->seed, style);
	struct jw_relstore *rs = jw_rel_new();
	if(rs == NULL) bb_die("out of memory");
	double t0 = bb_now();
	for(uint32_t i = 0; i < pop.n_orders; i++){
		struct bd_order ord;
		bd_order(&pop, i, &ord);
		for(int k = 0; k < 5; k++){
			char obj[96], rel[16], sub[96];
			bd_tuple(&pop, &ord, k, obj, rel, sub, sizeof(obj));
			if(jw_rel_add(rs, obj, rel, sub, 0) != 0) bb_die("jw_rel_add failed");
		}
	}
	double t_build = bb_now() - t0;

	/* the mix over every order, the same mix over a few hot orders, and
	 * the mix split by kind */
	struct arena a = {.cap = o->checks * 2 * 192};
	a.p = malloc(a.cap);
	if(a.p == NULL) bb_die("out of memory");
	uint32_t hot = o->hot < pop.n_orders ? o->hot : pop.n_orders;
	struct check *checks = make_checks(o->checks, &pop, pop.n_orders, rs, now, bp, &a, o->seed * 31 + 7);
	struct check *hot_checks = make_checks(o->checks, &pop, hot, rs, now, bp, &a, o->seed * 37 + 11);
	struct check *per_kind[K_COUNT];
	size_t n_kind[K_COUNT] = {0};
	for(size_t i = 0; i < o->checks; i++) n_kind[checks[i].kind]++;
	for(int k = 0; k < K_COUNT; k++){
		per_kind[k] = calloc(n_kind[k] ? n_kind[k] : 1, sizeof(**per_kind));
		if(per_kind[k] == NULL) bb_die("out of memory");
		n_kind[k] = 0;
	}
	for(size_t i = 0; i < o->checks; i++) per_kind[checks[i].kind][n_kind[checks[i].kind]++] = checks[i];

	size_t allowed, hot_allowed;
	size_t wrong = verify(acl, rs, now, checks, o->checks, &allowed);
	wrong += verify(acl, rs, now, hot_checks, o->checks, &hot_allowed);

	printf("\n== ids: %s ==\n", style_name);
	printf("relations: %u orders -> %zu tuples (built in %.2f s)\n", pop.n_orders, jw_rel_count(rs), t_build);
	printf("checks: %zu distinct per mix (%zu allowed, %zu denied); %zu unexpected decisions\n",
			o->checks, allowed, o->checks - allowed, wrong);
	if(wrong) *exit_code = 1;

	size_t nb = o->batches, kb = o->kind_batches;
	double *v = malloc(sizeof(double) * nb);
	double *hv = malloc(sizeof(double) * nb);
	double *bv = malloc(sizeof(double) * nb);
	double *kv = malloc(sizeof(double) * kb * K_COUNT);
	if(v == NULL || hv == NULL || bv == NULL || kv == NULL) bb_die("out of memory");

	/* warm-up: caches, branch predictors, CPU clock */
	time_decide(acl, rs, now, checks, o->checks, nb / 10 + 1, o->batch, v);
	time_baseline(checks, o->checks, nb / 10 + 1, o->batch, bv);

	/* the measured loops: nothing but decisions and clock reads between
	 * the two allocation snapshots */
	struct bb_alloc_counts before, after;
	size_t heap_before = heap_in_use();
	bb_alloc_snapshot(&before);
	time_decide(acl, rs, now, checks, o->checks, nb, o->batch, v);
	time_decide(acl, rs, now, hot_checks, o->checks, nb, o->batch, hv);
	for(int k = 0; k < K_COUNT; k++){
		time_decide(acl, rs, now, per_kind[k], n_kind[k], kb, o->batch, kv + (size_t)k * kb);
	}
	bb_alloc_snapshot(&after);
	size_t heap_after = heap_in_use();
	uint64_t n_decisions = (uint64_t)(2 * nb + (size_t)K_COUNT * kb) * o->batch;

	time_baseline(checks, o->checks, nb, o->batch, bv);

	struct stats ds = summarize(v, nb), hs = summarize(hv, nb), bs = summarize(bv, nb);
	struct stats kstat[K_COUNT];
	for(int k = 0; k < K_COUNT; k++) kstat[k] = summarize(kv + (size_t)k * kb, kb);

	printf("%-48s %9s %9s\n", "ns per check (per-batch averages)", "median", "p99");
	printf("%-48s %9.1f %9.1f\n", "jw_acl_decide, mix over all orders", ds.median, ds.p99);
	printf("%-48s %9.1f %9.1f\n", "baseline: plain filter matching, same checks", bs.median, bs.p99);
	printf("%-48s %9.2f\n", "ratio decide / baseline (median)", ds.median / bs.median);
	char hot_label[64];
	snprintf(hot_label, sizeof(hot_label), "jw_acl_decide, mix over %u hot orders", hot);
	printf("%-48s %9.1f %9.1f\n", hot_label, hs.median, hs.p99);
	printf("per kind, all orders (weight in the mix):\n");
	for(int k = 0; k < K_COUNT; k++){
		printf("  %-40s %3d%% %9.1f %9.1f\n", kinds[k].name, kinds[k].weight,
				kstat[k].median, kstat[k].p99);
	}
	printf("target median < 150 ns (mix over all orders): %s\n", ds.median < 150 ? "met" : "MISSED");
	if(bb_alloc_counting()){
		printf("allocations during decisions: %llu  (malloc-family calls over %llu decisions;"
				" frees %llu; heap in use %zu -> %zu bytes)\n",
				(unsigned long long)(after.mallocs - before.mallocs), (unsigned long long)n_decisions,
				(unsigned long long)(after.frees - before.frees), heap_before, heap_after);
		if(after.mallocs != before.mallocs) *exit_code = 1;
	}else{
		printf("allocations during decisions: not counted (sanitizer build); heap in use %zu -> %zu bytes\n",
				heap_before, heap_after);
	}
	printf("RESULT acl_decide.%s.median_ns=%.1f\n", style_name, ds.median);
	printf("RESULT acl_decide.%s.p99_ns=%.1f\n", style_name, ds.p99);
	printf("RESULT acl_decide.%s.baseline_median_ns=%.1f\n", style_name, bs.median);
	printf("RESULT acl_decide.%s.ratio=%.2f\n", style_name, ds.median / bs.median);
	printf("RESULT acl_decide.%s.hot_median_ns=%.1f\n", style_name, hs.median);
	printf("RESULT acl_decide.%s.allocations=%llu\n", style_name,
			(unsigned long long)(after.mallocs - before.mallocs));

	free(v);
	free(hv);
	free(bv);
	free(kv);
	for(int k = 0; k < K_COUNT; k++) free(per_kind[k]);
	free(checks);
	free(hot_checks);
	free(a.p);
	jw_rel_free(rs);
}

int main(int argc, char **argv)
{
	struct opts o = {.orders = 100000, .checks = 65536, .batches = 5000, .batch = 1000,
		.kind_batches = 300, .hot = 1000, .ids = 2, .acl = NULL, .seed = 42};
	char acl_default[512];
	for(int i = 1; i < argc; i++){
		if(!strcmp(argv[i], "--orders")) o.orders = (uint32_t)num_arg(argc, argv, &i);
		else if(!strcmp(argv[i], "--checks")) o.checks = num_arg(argc, argv, &i);
		else if(!strcmp(argv[i], "--batches")) o.batches = num_arg(argc, argv, &i);
		else if(!strcmp(argv[i], "--batch")) o.batch = num_arg(argc, argv, &i);
		else if(!strcmp(argv[i], "--kind-batches")) o.kind_batches = num_arg(argc, argv, &i);
		else if(!strcmp(argv[i], "--seed")) o.seed = num_arg(argc, argv, &i);
		else if(!strcmp(argv[i], "--hot")) o.hot = (uint32_t)num_arg(argc, argv, &i);
		else if(!strcmp(argv[i], "--acl") && i + 1 < argc) o.acl = argv[++i];
		else if(!strcmp(argv[i], "--ids") && i + 1 < argc){
			const char *s = argv[++i];
			if(!strcmp(s, "numeric")) o.ids = 0;
			else if(!strcmp(s, "uuid")) o.ids = 1;
			else if(!strcmp(s, "both")) o.ids = 2;
			else usage();
		}else usage();
	}
	if(o.acl == NULL){
		snprintf(acl_default, sizeof(acl_default), "%s/acl/default.acl", bb_source_dir());
		o.acl = acl_default;
	}

	char err[512];
	struct jw_acl *acl = jw_acl_load(o.acl, err, sizeof(err));
	if(acl == NULL) bb_die("%s", err);
	struct base_policy bp;
	base_load(&bp, o.acl);

	printf("bench_acl_decide: policy %s (%zu rules), %u orders, %zu distinct checks,\n"
			"  %zu batches of %zu checks for the mix, %zu batches per kind\n",
			o.acl, jw_acl_rule_count(acl), o.orders, o.checks, o.batches, o.batch, o.kind_batches);
	if(!bb_alloc_counting()) printf("  (allocation counting unavailable in this build)\n");

	/* what one cache-missing load costs on this machine, for reading the
	 * figures: a relation lookup in a store much larger than the caches
	 * needs two dependent ones (hash slot, then the tuple's key) */
	double lat_big = memory_latency_ns(256u << 20, o.seed);
	double lat_l2 = memory_latency_ns(256u << 10, o.seed);
	printf("reference: dependent random load, 256 MiB buffer %.1f ns, 256 KiB buffer %.1f ns\n",
			lat_big, lat_l2);
	printf("RESULT memory.random_load_ns=%.1f\n", lat_big);

	int exit_code = 0;
	if(o.ids == 0 || o.ids == 2) run(&o, BD_ID_NUMERIC, acl, &bp, &exit_code);
	if(o.ids == 1 || o.ids == 2) run(&o, BD_ID_UUID, acl, &bp, &exit_code);

	base_free(&bp);
	jw_acl_free(acl);
	return exit_code;
}
