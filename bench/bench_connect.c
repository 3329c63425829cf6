/*
 * bench_connect — connections authenticated per second.
 *
 * Three brokers run side by side on 127.0.0.1: a plain mosquitto
 * (allow_anonymous true, no plugin: the baseline), mosquitto + jetwire with
 * HS256 tokens, and mosquitto + jetwire with RS256 tokens (a 2048-bit key
 * pair made with the openssl CLI in the broker's temp dir; the plugin gets
 * plugin_opt_jwt_alg RS256 and plugin_opt_jwt_public_key_file).
 *
 * A few threads each loop: TCP connect -> MQTT 5 CONNECT (username "jwt",
 * the token as password; none for the anonymous baseline) -> CONNACK ->
 * DISCONNECT -> wait for the broker to close.  The client is a minimal
 * hand-written MQTT encoder on blocking sockets so that the client side
 * costs little next to the broker.  Every connection uses a new client id.
 *
 * Token variants: "reused" (each thread presents one token for all its
 * connections, with client ids "customer-<sub>-<n>") and "distinct" (a
 * pre-minted pool of tokens with different subjects, cycled; distinct per
 * connection as long as a run makes fewer connections than the pool
 * holds).  The plugin keeps no token cache, so the two should match.
 *
 * Reported per variant: connects/s (median of --reps timed runs), the
 * ratio to the anonymous baseline, and broker CPU per connection.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench_broker.h"

struct opts {
	int threads;
	double seconds;
	int reps;
	int pool;
	const char *only;       /* run only this variant (and the baseline) */
};

/* ---- a minimal MQTT 5 CONNECT / CONNACK / DISCONNECT ---- */

static size_t put_varint(unsigned char *p, size_t v)
{
	size_t n = 0;
	do{
		unsigned char b = v % 128;
		v /= 128;
		if(v) b |= 0x80;
		p[n++] = b;
	}while(v);
	return n;
}

static size_t put_str(unsigned char *p, const char *s, size_t len)
{
	p[0] = (unsigned char)(len >> 8);
	p[1] = (unsigned char)(len & 0xff);
	memcpy(p + 2, s, len);
	return len + 2;
}

static bool write_all(int fd, const unsigned char *p, size_t len)
{
	while(len){
		ssize_t w = write(fd, p, len);
		if(w < 0 && errno == EINTR) continue;
		if(w <= 0) return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

static bool read_n(int fd, unsigned char *p, size_t len)
{
	while(len){
		ssize_t r = read(fd, p, len);
		if(r < 0 && errno == EINTR) continue;
		if(r <= 0) return false;
		p += r;
		len -= (size_t)r;
	}
	return true;
}

/* One connection.  Returns the CONNACK reason code, or -1 on a network
 * error / timeout. */
static int connect_once(int port, const char *client_id, const char *password)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if(fd < 0) return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if(connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0){
		close(fd);
		return -1;
	}

	unsigned char body[9000], pkt[9016];
	size_t n = 0;
	n += put_str(body + n, "MQTT", 4);
	body[n++] = 5;                                  /* protocol level */
	body[n++] = (unsigned char)(0x02 | (password ? 0xC0 : 0)); /* clean start, user, password */
	body[n++] = 0;
	body[n++] = 60;                                 /* keepalive */
	body[n++] = 0;                                  /* no properties */
	size_t cl = strlen(client_id), pl = password ? strlen(password) : 0;
	if(cl + pl + 64 > sizeof(body)){
		close(fd);
		return -1;
	}
	n += put_str(body + n, client_id, cl);
	if(password){
		n += put_str(body + n, "jwt", 3);
		n += put_str(body + n, password, pl);
	}
	size_t h = 0;
	pkt[h++] = 0x10;
	h += put_varint(pkt + h, n);
	memcpy(pkt + h, body, n);
	int rc = -1;
	if(!write_all(fd, pkt, h + n)) goto out;

	unsigned char hdr;
	if(!read_n(fd, &hdr, 1) || (hdr & 0xF0) != 0x20) goto out;
	size_t rem = 0, mult = 1;
	for(int i = 0; i < 4; i++){
		unsigned char b;
		if(!read_n(fd, &b, 1)) goto out;
		rem += (size_t)(b & 0x7f) * mult;
		mult *= 128;
		if(!(b & 0x80)) break;
	}
	unsigned char ack[512];
	if(rem < 2 || rem > sizeof(ack) || !read_n(fd, ack, rem)) goto out;
	rc = ack[1];
	if(rc == 0){
		/* DISCONNECT, normal; then wait for the broker to close */
		const unsigned char disc[2] = {0xE0, 0x00};
		if(!write_all(fd, disc, 2)){
			rc = -1;
			goto out;
		}
		unsigned char sink[64];
		while(read(fd, sink, sizeof(sink)) > 0){
		}
	}
out:
	close(fd);
	return rc;
}

/* ---- variants ---- */

struct variant {
	const char *name;
	const char *key;          /* for RESULT lines */
	struct bb_broker *b;
	bool anonymous;
	bool distinct;
	char **pool;              /* distinct: tokens; reused: one per thread */
	char **pool_subs;
	int pool_n;
	double rate[64];
	double cpu_us[64];
	size_t failures;
};

struct worker {
	pthread_t t;
	int index;
	struct variant *v;
	const struct opts *o;
	_Atomic bool *stop;
	_Atomic size_t *next_token;
	size_t ok, failed;
	uint64_t run_id;
};

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct variant *v = wk->v;
	char cid[128];
	size_t n = 0;
	while(!atomic_load_explicit(wk->stop, memory_order_relaxed)){
		const char *pw = NULL, *sub;
		if(v->anonymous){
			snprintf(cid, sizeof(cid), "customer-anon%d-%llu-%zu", wk->index, (unsigned long long)wk->run_id, n);
		}else if(v->distinct){
			size_t k = atomic_fetch_add_explicit(wk->next_token, 1, memory_order_relaxed) % (size_t)v->pool_n;
			pw = v->pool[k];
			sub = v->pool_subs[k];
			snprintf(cid, sizeof(cid), "customer-%s-%llu-%d-%zu", sub, (unsigned long long)wk->run_id, wk->index, n);
		}else{
			pw = v->pool[wk->index];
			sub = v->pool_subs[wk->index];
			snprintf(cid, sizeof(cid), "customer-%s-%llu-%zu", sub, (unsigned long long)wk->run_id, n);
		}
		int rc = connect_once(v->b->port, cid, pw);
		if(rc == 0) wk->ok++;
		else wk->failed++;
		n++;
	}
	return NULL;
}

static uint64_t g_run_id;

/* One timed run of a variant; returns connects/s and the broker CPU per
 * connect. */
static void run_variant(struct variant *v, const struct opts *o, double seconds, double *rate, double *cpu_us)
{
	_Atomic bool stop = false;
	_Atomic size_t next_token = 0;
	struct worker wk[64];
	g_run_id++;
	double cpu0 = bb_cpu_seconds(v->b->pid);
	double t0 = bb_now();
	for(int i = 0; i < o->threads; i++){
		wk[i] = (struct worker){.index = i, .v = v, .o = o, .stop = &stop, .next_token = &next_token,
			.run_id = g_run_id};
		if(pthread_create(&wk[i].t, NULL, worker_main, &wk[i]) != 0) bb_die("pthread_create failed");
	}
	bb_sleep_ms((int)(seconds * 1000));
	atomic_store(&stop, true);
	size_t ok = 0, failed = 0;
	for(int i = 0; i < o->threads; i++){
		pthread_join(wk[i].t, NULL);
		ok += wk[i].ok;
		failed += wk[i].failed;
	}
	double t = bb_now() - t0;
	double cpu = bb_cpu_seconds(v->b->pid) - cpu0;
	v->failures += failed;
	*rate = (double)ok / t;
	*cpu_us = ok ? cpu * 1e6 / (double)ok : 0;
}

static void make_tokens(struct variant *v, int n, const char *prefix, int pool_index)
{
	v->pool = calloc((size_t)n, sizeof(char *));
	v->pool_subs = calloc((size_t)n, sizeof(char *));
	if(v->pool == NULL || v->pool_subs == NULL) bb_die("out of memory");
	for(int i = 0; i < n; i++){
		char sub[64];
		snprintf(sub, sizeof(sub), "%s%d_%d", prefix, pool_index, i);
		v->pool_subs[i] = strdup(sub);
		v->pool[i] = bb_token(v->b, sub, "customer", 3600);
	}
	v->pool_n = n;
}

static void free_tokens(struct variant *v)
{
	for(int i = 0; i < v->pool_n; i++){
		free(v->pool[i]);
		free(v->pool_subs[i]);
	}
	free(v->pool);
	free(v->pool_subs);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_of(const double *in, int n)
{
	double v[64];
	memcpy(v, in, sizeof(double) * (size_t)n);
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(void)
{
	fprintf(stderr,
			"usage: bench_connect [--threads N] [--seconds S] [--reps N] [--pool N] [--only VARIANT]\n"
			"  variants: anonymous hs256_reused hs256_distinct rs256_reused rs256_distinct\n"
			"  defaults: 4 threads, 2 s per timed run, 3 reps per variant, 2000 distinct tokens\n"
			"  a longer run: --seconds 10 --reps 5 --pool 20000\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {.threads = 4, .seconds = 2, .reps = 3, .pool = 2000};
	for(int i = 1; i < argc; i++){
		if(i + 1 >= argc) usage();
		const char *a = argv[i], *val = argv[++i];
		if(!strcmp(a, "--only")){
			o.only = val;
			continue;
		}
		char *end;
		double d = strtod(val, &end);
		if(*end || d <= 0) usage();
		if(!strcmp(a, "--threads")) o.threads = (int)d;
		else if(!strcmp(a, "--seconds")) o.seconds = d;
		else if(!strcmp(a, "--reps")) o.reps = (int)d;
		else if(!strcmp(a, "--pool")) o.pool = (int)d;
		else usage();
	}
	if(o.threads < 1 || o.threads > 64 || o.reps < 1 || o.reps > 64 || o.pool < 1) usage();

	char load[64];
	bb_loadavg(load, sizeof(load));
	printf("bench_connect: %d connecting threads, %.1f s per timed run, %d reps, pool of %d tokens;"
			" CPUs %ld, loadavg %s\n", o.threads, o.seconds, o.reps, o.pool, sysconf(_SC_NPROCESSORS_ONLN), load);

	/* The "distinct" variants run against brokers with the verified-token
	 * cache off, so every connect pays the full signature check even when
	 * the pool is cycled: the cost of a token the broker has never seen. */
	struct bb_broker plain, hs, rs, hs_nc, rs_nc;
	const char *no_cache = "plugin_opt_jwt_cache_size 0\n";
	struct bb_opts po = {.kind = BB_PLAIN}, ho = {.kind = BB_PLUGIN, .alg = BB_HS256},
		ro = {.kind = BB_PLUGIN, .alg = BB_RS256},
		hno = {.kind = BB_PLUGIN, .alg = BB_HS256, .extra_conf = no_cache},
		rno = {.kind = BB_PLUGIN, .alg = BB_RS256, .extra_conf = no_cache};
	if(bb_start(&plain, &po) != 0 || bb_start(&hs, &ho) != 0 || bb_start(&rs, &ro) != 0
			|| bb_start(&hs_nc, &hno) != 0 || bb_start(&rs_nc, &rno) != 0){
		bb_die("a broker did not start");
	}

	struct variant vs[5] = {
		{.name = "anonymous, plain broker", .key = "anonymous", .b = &plain, .anonymous = true},
		{.name = "HS256, token reused", .key = "hs256_reused", .b = &hs},
		{.name = "HS256, unseen tokens (no cache)", .key = "hs256_distinct", .b = &hs_nc, .distinct = true},
		{.name = "RS256, token reused", .key = "rs256_reused", .b = &rs},
		{.name = "RS256, unseen tokens (no cache)", .key = "rs256_distinct", .b = &rs_nc, .distinct = true},
	};
	double t_mint = bb_now();
	make_tokens(&vs[1], o.threads, "h", 0);
	make_tokens(&vs[2], o.pool, "h", 1);
	make_tokens(&vs[3], o.threads, "r", 0);
	make_tokens(&vs[4], o.pool, "r", 1);
	printf("tokens minted in %.1f s (HS256 %zu bytes, RS256 %zu bytes each)\n", bb_now() - t_mint,
			strlen(vs[1].pool[0]), strlen(vs[3].pool[0]));

	/* warm-up: every broker, briefly */
	for(int k = 0; k < 5; k++){
		double r, c;
		run_variant(&vs[k], &o, 0.3, &r, &c);
	}
	for(int k = 0; k < 5; k++) vs[k].failures = 0;
	/* timed runs, variants interleaved so drift hits them alike */
	for(int rep = 0; rep < o.reps; rep++){
		for(int k = 0; k < 5; k++){
			int which = (k + rep) % 5;
			if(o.only && which != 0 && strcmp(o.only, vs[which].key) != 0) continue;
			run_variant(&vs[which], &o, o.seconds, &vs[which].rate[rep], &vs[which].cpu_us[rep]);
		}
	}

	double base = median_of(vs[0].rate, o.reps);
	double base_cpu = median_of(vs[0].cpu_us, o.reps);
	printf("\n  %-32s %12s %8s %16s %10s\n", "", "connects/s", "ratio", "broker CPU us", "CPU ratio");
	int rc = 0;
	for(int k = 0; k < 5; k++){
		if(o.only && k != 0 && strcmp(o.only, vs[k].key) != 0) continue;
		double r = median_of(vs[k].rate, o.reps), c = median_of(vs[k].cpu_us, o.reps);
		printf("  %-32s %12.0f %8.2f %16.1f %10.2f", vs[k].name, r, r / base, c, c / base_cpu);
		if(vs[k].failures){
			printf("  (%zu refused or failed!)", vs[k].failures);
			rc = 1;
		}
		printf("\n");
		printf("RESULT connect.%s.per_s=%.0f\n", vs[k].key, r);
		printf("RESULT connect.%s.ratio=%.2f\n", vs[k].key, r / base);
		printf("RESULT connect.%s.broker_cpu_us=%.1f\n", vs[k].key, c);
	}
	for(int k = 1; k < 5; k++){
		if(o.only && strcmp(o.only, vs[k].key) != 0) continue;
		double r = median_of(vs[k].rate, o.reps);
		printf("target %-32s ratio >= 0.8: %s\n", vs[k].name, r / base >= 0.8 ? "met" : "MISSED");
	}
	if(!o.only || !strcmp(o.only, "hs256_distinct")){
		printf("(a distinct-token HS256 run makes about %.0f connections; the pool holds %d)\n",
				median_of(vs[2].rate, o.reps) * o.seconds, o.pool);
	}

	for(int k = 1; k < 5; k++) free_tokens(&vs[k]);
	bb_stop(&rs_nc);
	bb_stop(&hs_nc);
	bb_stop(&rs);
	bb_stop(&hs);
	bb_stop(&plain);
	return rc;
}
