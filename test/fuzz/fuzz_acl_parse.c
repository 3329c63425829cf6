/*
 * libFuzzer target: jw_acl_parse_string (plugin/core/acl_parse.c) and, for
 * every text that parses, a round of jw_acl_decide calls.
 *
 * Invariants: a refused text always says why, naming the file; a parsed
 * one decides without crashing, names a rule of the right kind for every
 * decision, and — when it has no subscribe-only rules — decides SUBSCRIBE
 * on a concrete filter exactly as READ on the same topic.
 *
 * Includes: an "include" whose path has a '/' is skipped (the fuzzer must
 * not read /dev or /proc); bare names resolve against the current
 * directory and normally do not exist, which exercises the error path.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "relations.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW INT64_C(1700000000)
#define NAME "fuzz.acl"

static bool contains(const uint8_t *data, size_t size, const char *word)
{
	size_t wl = strlen(word);
	for(size_t i = 0; i + wl <= size; i++){
		if(memcmp(data + i, word, wl) == 0) return true;
	}
	return false;
}

static bool unsafe_include(const uint8_t *data, size_t size)
{
	size_t i = 0;
	while(i < size){
		size_t j = i;
		while(j < size && (data[j] == ' ' || data[j] == '\t')) j++;
		bool inc = size - j >= 8 && memcmp(data + j, "include", 7) == 0;
		size_t end = i;
		while(end < size && data[end] != '\n') end++;
		if(inc && memchr(data + j, '/', end - j)) return true;
		i = end + 1;
	}
	return false;
}

static struct jw_relstore *rels(void)
{
	static struct jw_relstore *rs;
	if(rs == NULL){
		rs = jw_rel_new();
		if(rs == NULL) abort();
		static const char *const t[][3] = {
			{"order:7", "party", "customer:42"},
			{"order:7", "party", "driver:9"},
			{"order:7", "party", "merchant:5"},
			{"driver:9", "tracker", "customer:42"},
			{"x:y", "link", "customer:42"},
			{"7", "r", "customer:42"},
			{"a", "r", "admin:1"},
		};
		for(size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++){
			if(jw_rel_add(rs, t[i][0], t[i][1], t[i][2], 0) != 0) abort();
		}
		if(jw_rel_add(rs, "order:6", "party", "customer:42", NOW - 1) != 0) abort();
	}
	return rs;
}

static const char *const topics[] = {
	"order/7/status", "order/6/status", "order/8/driver", "driver/9/location", "driver/9",
	"customer/42/notifications", "merchant/5/notifications", "a", "a/b", "a/b/c", "x/y",
	"", "/", "//", "$SYS/broker/jetwire/clients", "$CONTROL/jetwire/v1", "7", "42/7",
};
static const char *const filters[] = {
	"#", "+", "+/+", "+/+/+", "+/#", "order/+/status", "order/#", "order/7/#", "driver/+/location",
	"customer/42/#", "$SYS/#", "$SYS/+/+", "a/+", "/#", "+/42/+", "x/+",
};

struct who {
	const char *role, *sub, *client;
};
static const struct who subjects[] = {
	{"customer", "42", "customer-42"}, {"driver", "9", NULL}, {"merchant", "5", "m"},
	{"admin", "1", NULL}, {"service", "bridge", "service-bridge"}, {"nobody", "0", NULL},
};

static void check_rule(const struct jw_rule *r, enum jw_decision d)
{
	if(r == NULL){
		if(d != JW_DENY) abort();   /* no rule: default deny */
		return;
	}
	const char *text = jw_rule_text(r);
	const char *file = jw_rule_file(r);
	if(text == NULL || file == NULL || jw_rule_line(r) < 1) abort();
	bool allow = strncmp(text, "allow", 5) == 0;
	bool deny = strncmp(text, "deny", 4) == 0;
	if(!(allow || deny) || allow != (d == JW_ALLOW)) {
		fprintf(stderr, "decision %d by rule '%s'\n", (int)d, text);
		abort();
	}
}

static enum jw_decision decide(const struct jw_acl *acl, const struct who *w, enum jw_access a,
		const char *topic)
{
	struct jw_subject s = {
		.role = w->role, .role_len = strlen(w->role),
		.sub = w->sub, .sub_len = strlen(w->sub),
		.client_id = w->client, .client_id_len = w->client ? strlen(w->client) : 0,
	};
	const struct jw_rule *by = (const struct jw_rule *)1;
	enum jw_decision d = jw_acl_decide(acl, rels(), NOW, &s, a, topic, strlen(topic), &by);
	if(d != JW_ALLOW && d != JW_DENY) abort();
	check_rule(by, d);
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if(size > 65536 || unsafe_include(data, size)) return 0;
	char err[1024];
	memset(err, 0, sizeof(err));
	struct jw_acl *acl = jw_acl_parse_string(NAME, (const char *)data, size, err, sizeof(err));
	if(acl == NULL){
		if(err[0] == '\0' || strlen(err) >= sizeof(err)) abort();
		if(strncmp(err, NAME ":", strlen(NAME ":")) != 0){
			fprintf(stderr, "error does not name the file: %s\n", err);
			abort();
		}
		return 0;
	}
	if(jw_acl_file_count(acl) < 1 || strcmp(jw_acl_file_name(acl, 0), NAME) != 0) abort();

	/* subscribe-only rules may allow a subscription that READ refuses */
	bool has_subscribe = contains(data, size, "subscribe");
	for(size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++){
		const struct who *w = &subjects[i];
		for(size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++){
			enum jw_decision rd = decide(acl, w, JW_ACCESS_READ, topics[t]);
			decide(acl, w, JW_ACCESS_WRITE, topics[t]);
			enum jw_decision sd = decide(acl, w, JW_ACCESS_SUBSCRIBE, topics[t]);
			if(!has_subscribe && topics[t][0] != '\0' && rd != sd){
				fprintf(stderr, "%s:%s: read '%s' %d but subscribe %d\n", w->role, w->sub,
						topics[t], (int)rd, (int)sd);
				abort();
			}
		}
		for(size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++){
			decide(acl, w, JW_ACCESS_SUBSCRIBE, filters[f]);
		}
	}
	jw_acl_free(acl);
	return 0;
}
