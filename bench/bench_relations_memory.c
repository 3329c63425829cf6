/*
 * bench_relations_memory — what relations cost in memory.
 *
 * Part 1, in process: a jw_relstore filled with the order tuples of
 * bench_data.h; at each checkpoint (default 100,000 and 400,000 tuples)
 * the growth of this process's resident set (/proc/self/statm) and of the
 * heap in use (mallinfo2: uordblks + hblkhd) since the empty store, per
 * 100,000 tuples.  Baseline: the bytes of the tuples' strings themselves
 * ("object\0relation\0subject\0"), which any store must hold somewhere.
 *
 * Part 2, the broker: a mosquitto with the plugin, a service client pushing
 * relations over $CONTROL/jetwire/v1 in addRelations commands of 1000
 * tuples (each acknowledged before the next), and the broker's resident
 * set before and after the push (after a countRelations check), compared
 * with the same broker before the push.  Done twice: with mosquitto's
 * default set_tcp_nodelay false, and with set_tcp_nodelay true, which
 * changes the push rate (not the memory) a lot; see broker() below.
 *
 * Target: at most 32 MiB per 100,000 relations.  Reported, not asserted.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_broker.h"
#include "bench_data.h"
#include "relations.h"

#define MIB (1024.0 * 1024.0)

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

struct opts {
	size_t checkpoints[8];
	size_t n_checkpoints;
	size_t broker_tuples;
	size_t batch;
	int ids;           /* BD_ID_NUMERIC / BD_ID_UUID */
	bool no_broker;
};

static void usage(void)
{
	fprintf(stderr,
			"usage: bench_relations_memory [--tuples N[,N...]] [--broker-tuples N] [--batch N]\n"
			"                              [--ids numeric|uuid] [--no-broker]\n"
			"  defaults: --tuples 100000,400000 --broker-tuples 100000 --batch 1000 --ids numeric\n");
	exit(2);
}

/* Tuple number t of the population (5 per order). */
static void tuple_at(const struct bd_population *pop, size_t t, char *obj, char *rel, char *sub, size_t len)
{
	struct bd_order o;
	bd_order(pop, (uint32_t)(t / 5), &o);
	bd_tuple(pop, &o, (int)(t % 5), obj, rel, sub, len);
}

static int in_process(const struct opts *o)
{
	size_t max = o->checkpoints[o->n_checkpoints - 1];
	struct bd_population pop;
	/* enough orders that tuple t exists for every t < max */
	bd_population_init(&pop, (uint32_t)(max / 5 + 1), 42, (enum bd_id_style)o->ids);

	printf("in process: jw_relstore, %s ids, tuples of bench_data.h\n",
			o->ids == BD_ID_NUMERIC ? "numeric" : "uuid");
	printf("%12s %12s %14s %14s %12s %12s %12s\n", "tuples", "stored", "RSS delta MiB", "heap delta MiB",
			"MiB/100k RSS", "MiB/100k heap", "key MiB/100k");

	malloc_trim(0);
	long long rss0 = bb_rss_bytes(0);
	size_t heap0 = heap_in_use();
	struct jw_relstore *rs = jw_rel_new();
	if(rs == NULL) bb_die("out of memory");
	size_t key_bytes = 0, next_cp = 0;
	int rc = 0;
	double worst = 0;
	for(size_t t = 0; t < max; t++){
		char obj[96], rel[16], sub[96];
		tuple_at(&pop, t, obj, rel, sub, sizeof(obj));
		if(jw_rel_add(rs, obj, rel, sub, 0) != 0) bb_die("jw_rel_add failed at %zu", t);
		key_bytes += strlen(obj) + strlen(rel) + strlen(sub) + 3;
		if(t + 1 == o->checkpoints[next_cp]){
			long long rss = bb_rss_bytes(0);
			size_t heap = heap_in_use();
			double per = 100000.0 / (double)(t + 1);
			double rss_d = (double)(rss - rss0) / MIB, heap_d = (double)(heap - heap0) / MIB;
			printf("%12zu %12zu %14.1f %14.1f %12.2f %12.2f %12.2f\n", t + 1, jw_rel_count(rs),
					rss_d, heap_d, rss_d * per, heap_d * per, (double)key_bytes / MIB * per);
			printf("RESULT relations_memory.inproc.%zu.rss_mib_per_100k=%.2f\n", t + 1, rss_d * per);
			printf("RESULT relations_memory.inproc.%zu.heap_mib_per_100k=%.2f\n", t + 1, heap_d * per);
			if(rss_d * per > worst) worst = rss_d * per;
			if(heap_d * per > worst) worst = heap_d * per;
			next_cp++;
		}
	}
	printf("bytes per tuple at %zu tuples: heap %.1f, of which key strings %.1f\n", max,
			(double)(heap_in_use() - heap0) / (double)max, (double)key_bytes / (double)max);
	printf("target <= 32 MiB per 100k tuples (in process): %s (worst %.2f MiB)\n",
			worst <= 32 ? "met" : "MISSED", worst);
	jw_rel_free(rs);
	return rc;
}

/* nodelay: the broker runs with set_tcp_nodelay true (its default is
 * false: Nagle's algorithm holds the $CONTROL response behind the PUBACK
 * sent just before it until the client's delayed ACK, about 40 ms). */
static int broker(const struct opts *o, bool nodelay)
{
	struct bd_population pop;
	bd_population_init(&pop, (uint32_t)(o->broker_tuples / 4 + 16), 4242, (enum bd_id_style)o->ids);

	struct bb_broker b;
	struct bb_opts bo = {.kind = BB_PLUGIN, .alg = BB_HS256,
		.extra_conf = nodelay ? "set_tcp_nodelay true" : NULL};
	const char *tag = nodelay ? "broker_nodelay" : "broker";
	if(bb_start(&b, &bo) != 0) bb_die("broker did not start");
	char *tok = bb_token(&b, "bench", "service", 3600);
	struct bb_client *c = bb_client_connect(b.port, "service-bench", tok);
	free(tok);
	if(c == NULL) bb_die("service client refused");

	/* warm the control path (json-c, response publishing) before measuring */
	if(bb_control_count(c) != 0) bb_die("countRelations failed");
	bb_sleep_ms(500);
	long long rss_before = bb_rss_bytes(b.pid);

	/* exactly broker_tuples distinct tuples: the generator repeats a few
	 * (driver, customer) tracker pairs, skip those */
	struct jw_relstore *seen = jw_rel_new();
	if(seen == NULL) bb_die("out of memory");
	struct bb_buf buf = {0};
	double cpu0 = bb_cpu_seconds(b.pid);
	double t0 = bb_now();
	size_t pushed = 0, t = 0;
	while(pushed < o->broker_tuples){
		size_t n = 0;
		bb_buf_reset(&buf);
		bb_buf_printf(&buf, "{\"commands\":[{\"command\":\"addRelations\",\"relations\":[");
		while(n < o->batch && pushed + n < o->broker_tuples){
			char obj[96], rel[16], sub[96];
			tuple_at(&pop, t++, obj, rel, sub, sizeof(obj));
			if(jw_rel_check(seen, 0, obj, rel, sub)) continue;
			if(jw_rel_add(seen, obj, rel, sub, 0) != 0) bb_die("out of memory");
			bb_buf_printf(&buf, "%s{\"object\":\"%s\",\"relation\":\"%s\",\"subject\":\"%s\"}",
					n ? "," : "", obj, rel, sub);
			n++;
		}
		bb_buf_printf(&buf, "]}]}");
		char *resp = bb_control(c, buf.p, 30000);
		if(resp == NULL || strstr(resp, "\"error\"")) bb_die("addRelations failed: %s", resp ? resp : "(no response)");
		free(resp);
		pushed += n;
	}
	double t_push = bb_now() - t0;
	double cpu_push = bb_cpu_seconds(b.pid) - cpu0;
	jw_rel_free(seen);
	long count = bb_control_count(c);
	bb_sleep_ms(500);
	long long rss_after = bb_rss_bytes(b.pid);
	long long peak = bb_peak_rss_bytes(b.pid);
	bb_buf_free(&buf);

	double delta = (double)(rss_after - rss_before) / MIB;
	double per = delta * 100000.0 / (double)(count > 0 ? count : 1);
	printf("\nbroker: mosquitto + jetwire plugin%s\n", nodelay ? ", set_tcp_nodelay true" : " (default config: set_tcp_nodelay false)");
	printf("  %zu tuples pushed in addRelations of %zu: %.2f s, %.0f tuples/s\n",
			o->broker_tuples, o->batch, t_push, (double)o->broker_tuples / t_push);
	printf("  broker CPU during the push %.2f s; relations in the store (countRelations): %ld\n",
			cpu_push, count);
	printf("  broker RSS before push %.1f MiB, after %.1f MiB, peak %.1f MiB\n",
			(double)rss_before / MIB, (double)rss_after / MIB, (double)peak / MIB);
	printf("  growth %.1f MiB = %.2f MiB per 100k relations (ratio after/before %.2f)\n",
			delta, per, (double)rss_after / (double)rss_before);
	printf("target <= 32 MiB per 100k relations (broker): %s\n", per <= 32 ? "met" : "MISSED");
	printf("RESULT relations_memory.%s.rss_before_mib=%.1f\n", tag, (double)rss_before / MIB);
	printf("RESULT relations_memory.%s.rss_after_mib=%.1f\n", tag, (double)rss_after / MIB);
	printf("RESULT relations_memory.%s.mib_per_100k=%.2f\n", tag, per);
	printf("RESULT relations_memory.%s.push_tuples_per_s=%.0f\n", tag, (double)o->broker_tuples / t_push);

	bb_client_close(c);
	int st = bb_stop(&b);
	if(count != (long)o->broker_tuples){
		fprintf(stderr, "bench: expected %zu relations in the broker, found %ld\n", o->broker_tuples, count);
		return 1;
	}
	return st == 0 ? 0 : 1;
}

static size_t num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if(errno || end == s || v == 0) usage();
	return (size_t)v;
}

int main(int argc, char **argv)
{
	struct opts o = {.checkpoints = {100000, 400000}, .n_checkpoints = 2, .broker_tuples = 100000,
		.batch = 1000, .ids = BD_ID_NUMERIC};
	for(int i = 1; i < argc; i++){
		if(!strcmp(argv[i], "--tuples") && i + 1 < argc){
			o.n_checkpoints = 0;
			char *save = NULL;
			for(char *t = strtok_r(argv[++i], ",", &save); t && o.n_checkpoints < 8;
					t = strtok_r(NULL, ",", &save)){
				o.checkpoints[o.n_checkpoints++] = num(t);
			}
			for(size_t k = 1; k < o.n_checkpoints; k++){
				if(o.checkpoints[k] <= o.checkpoints[k - 1]) usage();
			}
			if(o.n_checkpoints == 0) usage();
		}else if(!strcmp(argv[i], "--broker-tuples") && i + 1 < argc){
			o.broker_tuples = num(argv[++i]);
		}else if(!strcmp(argv[i], "--batch") && i + 1 < argc){
			o.batch = num(argv[++i]);
		}else if(!strcmp(argv[i], "--ids") && i + 1 < argc){
			i++;
			if(!strcmp(argv[i], "numeric")) o.ids = BD_ID_NUMERIC;
			else if(!strcmp(argv[i], "uuid")) o.ids = BD_ID_UUID;
			else usage();
		}else if(!strcmp(argv[i], "--no-broker")){
			o.no_broker = true;
		}else{
			usage();
		}
	}
	printf("bench_relations_memory\n");
	int rc = in_process(&o);
	if(!o.no_broker){
		rc |= broker(&o, false);
		rc |= broker(&o, true);
	}
	return rc;
}
