/*
 * config — the bridge's configuration file, environment overrides and
 * whole-config checks (see config.h; docs/bridge-config.md for users).
 *
 * Every option is one row of `options[]`: its name, kind, where it lives in
 * struct jwb_config and, for integers, its range.  File lines and
 * JETWIRE_BRIDGE_* variables go through the same set_value(), so a value is
 * checked the same way wherever it comes from; only the place in front of
 * the message differs ("FILE:LINE: key" or "JETWIRE_BRIDGE_KEY").
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define LINE_MAX_BYTES 4096   /* a line's content, without its line ending */
#define NAME_MAX_BYTES 128    /* jwt_sub, jwt_role_claim, mqtt_client_id */
#define STATUS_MAX_BYTES 64
#define CLIENT_ID_PREFIX "service-"

enum kind {
	K_STRING,   /* any non-empty text */
	K_NAME,     /* 1..128 bytes, no '/', '+', '#', control characters */
	K_ENVNAME,  /* an environment variable name */
	K_ALG,      /* one of algs[] */
	K_INT,      /* decimal integer within [min, max] */
	K_BOOL,
	K_LIST,     /* comma-separated statuses */
};

struct option {
	const char *key;
	enum kind kind;
	size_t off;       /* the field in struct jwb_config */
	size_t count_off; /* K_LIST: the size_t count field */
	long min, max;    /* K_INT */
};

#define F(field) offsetof(struct jwb_config, field)
#define STR(key, kind) {#key, kind, F(key), 0, 0, 0}
#define INT(key, lo, hi) {#key, K_INT, F(key), 0, lo, hi}
#define LIST(key) {#key, K_LIST, F(key), F(n_##key), 0, 0}

static const struct option options[] = {
	STR(database, K_STRING),
	{"migrate", K_BOOL, F(migrate), 0, 0, 0},
	STR(mqtt_host, K_STRING),
	INT(mqtt_port, 1, 65535),
	STR(mqtt_client_id, K_NAME),
	INT(mqtt_keepalive, 5, 65535),
	INT(mqtt_session_expiry, 0, INT_MAX),
	INT(mqtt_inflight, 1, 1000),
	STR(jwt_alg, K_ALG),
	STR(jwt_secret_file, K_STRING),
	STR(jwt_secret_env, K_ENVNAME),
	STR(jwt_private_key_file, K_STRING),
	STR(jwt_token_file, K_STRING),
	STR(jwt_sub, K_NAME),
	STR(jwt_role_claim, K_NAME),
	STR(jwt_issuer, K_STRING),
	STR(jwt_audience, K_STRING),
	INT(jwt_lifetime, 10, 2592000),
	LIST(statuses),
	LIST(terminal_statuses),
	INT(terminal_expiry, 1, 31536000),
	INT(batch_size, 1, 10000),
	INT(resync_batch_size, 1, 100000),
	INT(poll_interval_ms, 10, 600000),
	INT(backoff_initial_ms, 1, 60000),
	INT(backoff_max_ms, 1, 3600000),
	INT(stats_interval, 1, 3600),
	INT(log_interval, 1, 86400),
	INT(location_batch_size, 1, 100000),
	INT(location_flush_ms, 10, 60000),
	INT(location_queue_max, 0, 10000000),
	{"location_history", K_BOOL, F(location_history), 0, 0, 0},
	INT(location_history_retention, 60, 31536000),
	LIST(offer_statuses),
	LIST(offer_availability),
	INT(offer_radius_m, 100, 1000000),
	INT(offer_max_drivers, 1, 100),
	INT(offer_lifetime, 5, 3600),
	INT(offer_max_position_age, 10, 86400),
};

#undef F
#undef STR
#undef INT
#undef LIST

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static const char *const algs[] = {
	"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384",
};

static const char DEFAULT_STATUSES[] =
	"PENDING,CONFIRMED,ASSIGNED_TO_DRIVER,PICKED_UP,IN_PROCESS,"
	"READY_FOR_DELIVERY,OUT_FOR_DELIVERY,DELIVERED,CANCELLED";
static const char DEFAULT_TERMINAL_STATUSES[] = "DELIVERED,CANCELLED";

/* ---- errors ---- */

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
	if(errbuf != NULL && errlen > 0){
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

#define OOM(errbuf, errlen) fail(errbuf, errlen, "out of memory")

/* ---- fields ---- */

static char **str_field(struct jwb_config *cfg, const struct option *o)
{
	return (char **)(void *)((char *)cfg + o->off);
}

static int *int_field(struct jwb_config *cfg, const struct option *o)
{
	return (int *)(void *)((char *)cfg + o->off);
}

static bool *bool_field(struct jwb_config *cfg, const struct option *o)
{
	return (bool *)(void *)((char *)cfg + o->off);
}

static char ***list_field(struct jwb_config *cfg, const struct option *o)
{
	return (char ***)(void *)((char *)cfg + o->off);
}

static size_t *count_field(struct jwb_config *cfg, const struct option *o)
{
	return (size_t *)(void *)((char *)cfg + o->count_off);
}

static void list_free(char **list)
{
	if(list == NULL) return;
	for(char **p = list; *p != NULL; p++) free(*p);
	free(list);
}

static const struct option *find_option(const char *key)
{
	for(size_t i = 0; i < N_OPTIONS; i++){
		if(!strcmp(options[i].key, key)) return &options[i];
	}
	return NULL;
}

/* ---- "did you mean" ---- */

/* Levenshtein distance, ASCII case-insensitive.  `b` is an option name
 * (short); `a` may be as long as a line. */
static size_t distance(const char *a, const char *b)
{
	size_t lb = strlen(b);
	size_t row[64];
	if(lb >= sizeof(row) / sizeof(row[0])) return SIZE_MAX;
	for(size_t j = 0; j <= lb; j++) row[j] = j;
	for(size_t i = 1; a[i - 1] != '\0'; i++){
		size_t diag = row[0];
		row[0] = i;
		for(size_t j = 1; j <= lb; j++){
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t best = diag + cost;
			if(up + 1 < best) best = up + 1;
			if(row[j - 1] + 1 < best) best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The closest option name, when it is close enough to be a typo. */
static const char *closest_option(const char *key)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	for(size_t i = 0; i < N_OPTIONS; i++){
		size_t d = distance(key, options[i].key);
		if(d < best_d){
			best_d = d;
			best = options[i].key;
		}
	}
	size_t limit = strlen(key) >= 12 ? 3 : 2;
	return best_d <= limit ? best : NULL;
}

/* "unknown option 'foo'" plus a hint, after `place`. */
static int unknown_option(const char *place, const char *key, char *errbuf, size_t errlen)
{
	if(!strcmp(key, "jwt_secret")){
		return fail(errbuf, errlen, "%sunknown option 'jwt_secret' (a secret is never written in the "
				"configuration: use jwt_secret_file, or the environment variable named by jwt_secret_env)",
				place);
	}
	const char *near = closest_option(key);
	if(near != NULL){
		return fail(errbuf, errlen, "%sunknown option '%s' (did you mean '%s'?)", place, key, near);
	}
	return fail(errbuf, errlen, "%sunknown option '%s'", place, key);
}

/* ---- values ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int parse_int(const char *v, long min, long max, int *out)
{
	const char *p = v;
	if(*p == '-') p++;
	if(*p == '\0') return -1;
	for(; *p != '\0'; p++){
		if(*p < '0' || *p > '9') return -1;
	}
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if(errno != 0 || *end != '\0' || n < min || n > max) return -1;
	*out = (int)n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for(size_t i = 0; i < 4; i++){
		if(!strcmp(v, yes[i])){ *out = true; return 0; }
		if(!strcmp(v, no[i])){ *out = false; return 0; }
	}
	return -1;
}

static bool valid_name(const char *v)
{
	size_t n = strlen(v);
	if(n == 0 || n > NAME_MAX_BYTES) return false;
	for(const char *p = v; *p != '\0'; p++){
		if(*p == '/' || *p == '+' || *p == '#' || is_control((unsigned char)*p)) return false;
	}
	return true;
}

static bool valid_env_name(const char *v)
{
	if(*v == '\0' || (*v >= '0' && *v <= '9')) return false;
	for(const char *p = v; *p != '\0'; p++){
		if(!(isalnum((unsigned char)*p) && (unsigned char)*p < 0x80) && *p != '_') return false;
	}
	return true;
}

static bool valid_status(const char *s, size_t n)
{
	if(n == 0 || n > STATUS_MAX_BYTES) return false;
	for(size_t i = 0; i < n; i++){
		char c = s[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
			|| c == '_' || c == '-';
		if(!ok) return false;
	}
	return true;
}

/* Split a comma-separated list of statuses into a new NULL-terminated
 * array.  `place` is "FILE:LINE: key" or "ENV_NAME". */
static int parse_list(const char *place, const char *v, char ***out, size_t *count,
		char *errbuf, size_t errlen)
{
	size_t cap = 1;
	for(const char *p = v; *p != '\0'; p++) cap += *p == ',';
	char **list = calloc(cap + 1, sizeof(*list));
	if(list == NULL) return OOM(errbuf, errlen);
	size_t n = 0;
	const char *p = v;
	for(;;){
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *s = p;
		while(s < end && is_blank(*s)) s++;
		const char *e = end;
		while(e > s && is_blank(e[-1])) e--;
		size_t len = (size_t)(e - s);
		if(len == 0){
			list_free(list);
			return fail(errbuf, errlen, "%s: empty item in the list", place);
		}
		if(!valid_status(s, len)){
			list_free(list);
			return fail(errbuf, errlen, "%s: '%.*s' is not a valid status "
					"(1..64 characters from A-Z a-z 0-9 _ -)", place, (int)len, s);
		}
		for(size_t i = 0; i < n; i++){
			if(strlen(list[i]) == len && !memcmp(list[i], s, len)){
				list_free(list);
				return fail(errbuf, errlen, "%s: '%.*s' is listed twice", place, (int)len, s);
			}
		}
		list[n] = strndup(s, len);
		if(list[n] == NULL){
			list_free(list);
			return OOM(errbuf, errlen);
		}
		n++;
		if(comma == NULL) break;
		p = comma + 1;
	}
	*out = list;
	*count = n;
	return 0;
}

/* Check `v` for option `o` and store it in cfg (replacing what was there). */
static int set_value(struct jwb_config *cfg, const struct option *o, const char *v,
		const char *place, char *errbuf, size_t errlen)
{
	if(*v == '\0') return fail(errbuf, errlen, "%s: missing value", place);

	switch(o->kind){
	case K_INT:
		if(parse_int(v, o->min, o->max, int_field(cfg, o)) != 0){
			return fail(errbuf, errlen, "%s: expected an integer %ld..%ld, got '%s'",
					place, o->min, o->max, v);
		}
		return 0;
	case K_BOOL:
		if(parse_bool(v, bool_field(cfg, o)) != 0){
			return fail(errbuf, errlen, "%s: expected true/false/yes/no/on/off/1/0, got '%s'", place, v);
		}
		return 0;
	case K_LIST: {
		char **list;
		size_t n;
		if(parse_list(place, v, &list, &n, errbuf, errlen) != 0) return -1;
		list_free(*list_field(cfg, o));
		*list_field(cfg, o) = list;
		*count_field(cfg, o) = n;
		return 0;
	}
	case K_ALG: {
		bool ok = false;
		for(size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) ok = ok || !strcmp(v, algs[i]);
		if(!ok){
			return fail(errbuf, errlen, "%s: expected one of HS256 HS384 HS512 RS256 RS384 RS512 "
					"ES256 ES384, got '%s'", place, v);
		}
		break;
	}
	case K_NAME:
		if(!valid_name(v)){
			return fail(errbuf, errlen, "%s: expected 1..%d bytes without '/', '+', '#' or control "
					"characters, got '%s'", place, NAME_MAX_BYTES, v);
		}
		break;
	case K_ENVNAME:
		if(!valid_env_name(v)){
			return fail(errbuf, errlen, "%s: expected an environment variable name "
					"(A-Z a-z 0-9 _, not starting with a digit), got '%s'", place, v);
		}
		break;
	case K_STRING:
		break;
	}
	char *s = strdup(v);
	if(s == NULL) return OOM(errbuf, errlen);
	free(*str_field(cfg, o));
	*str_field(cfg, o) = s;
	return 0;
}

/* ---- defaults, free, lookups ---- */

int jwb_config_defaults(struct jwb_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->migrate = true;
	cfg->mqtt_host = strdup("127.0.0.1");
	cfg->mqtt_port = 1883;
	cfg->mqtt_client_id = strdup(CLIENT_ID_PREFIX "bridge");
	cfg->mqtt_keepalive = 30;
	cfg->mqtt_session_expiry = 86400;
	cfg->mqtt_inflight = 64;
	cfg->jwt_alg = strdup("HS256");
	cfg->jwt_secret_env = strdup("JWT_SECRET");
	cfg->jwt_sub = strdup("bridge");
	cfg->jwt_role_claim = strdup("userType");
	cfg->jwt_lifetime = 3600;
	cfg->terminal_expiry = 3600;
	cfg->batch_size = 500;
	cfg->resync_batch_size = 1000;
	cfg->poll_interval_ms = 1000;
	cfg->backoff_initial_ms = 100;
	cfg->backoff_max_ms = 30000;
	cfg->stats_interval = 10;
	cfg->log_interval = 60;
	cfg->location_batch_size = 1000;
	cfg->location_flush_ms = 1000;
	cfg->location_queue_max = 20000;
	cfg->location_history = false;
	cfg->location_history_retention = 86400;
	cfg->offer_radius_m = 5000;
	cfg->offer_max_drivers = 5;
	cfg->offer_lifetime = 60;
	cfg->offer_max_position_age = 300;
	bool ok = cfg->mqtt_host && cfg->mqtt_client_id && cfg->jwt_alg && cfg->jwt_secret_env
		&& cfg->jwt_sub && cfg->jwt_role_claim;
	if(ok){
		ok = parse_list("statuses", DEFAULT_STATUSES, &cfg->statuses, &cfg->n_statuses, NULL, 0) == 0
			&& parse_list("terminal_statuses", DEFAULT_TERMINAL_STATUSES, &cfg->terminal_statuses,
					&cfg->n_terminal_statuses, NULL, 0) == 0
			&& parse_list("offer_statuses", "CONFIRMED,READY_FOR_DELIVERY", &cfg->offer_statuses,
					&cfg->n_offer_statuses, NULL, 0) == 0
			&& parse_list("offer_availability", "AVAILABLE", &cfg->offer_availability,
					&cfg->n_offer_availability, NULL, 0) == 0;
	}
	if(!ok){
		jwb_config_free(cfg);
		return -1;
	}
	return 0;
}

void jwb_config_free(struct jwb_config *cfg)
{
	if(cfg == NULL) return;
	for(size_t i = 0; i < N_OPTIONS; i++){
		const struct option *o = &options[i];
		switch(o->kind){
		case K_INT:
		case K_BOOL:
			break;
		case K_LIST:
			list_free(*list_field(cfg, o));
			*list_field(cfg, o) = NULL;
			*count_field(cfg, o) = 0;
			break;
		case K_STRING:
		case K_NAME:
		case K_ENVNAME:
		case K_ALG:
			free(*str_field(cfg, o));
			*str_field(cfg, o) = NULL;
			break;
		}
	}
	memset(cfg, 0, sizeof(*cfg));
}

static bool in_list(char *const *list, const char *s)
{
	if(list == NULL || s == NULL) return false;
	for(; *list != NULL; list++){
		if(!strcmp(*list, s)) return true;
	}
	return false;
}

bool jwb_config_status_known(const struct jwb_config *cfg, const char *status)
{
	return cfg != NULL && in_list(cfg->statuses, status);
}

bool jwb_config_status_terminal(const struct jwb_config *cfg, const char *status)
{
	return cfg != NULL && in_list(cfg->terminal_statuses, status);
}

bool jwb_config_status_offered(const struct jwb_config *cfg, const char *status)
{
	return cfg != NULL && in_list(cfg->offer_statuses, status);
}

/* ---- the file ---- */

/* Where each option was set: the file's line, or -1 for the environment;
 * 0 when it still has its default. */
struct origin {
	int line[N_OPTIONS];
};

static size_t option_index(const struct option *o)
{
	return (size_t)(o - options);
}

/* One line of content (line ending removed) at `lineno`. */
static int parse_line(struct jwb_config *cfg, struct origin *orig, const char *path, int lineno,
		char *line, char *errbuf, size_t errlen)
{
	char *p = line;
	while(is_blank(*p)) p++;
	if(*p == '\0' || *p == '#') return 0;

	char *key = p;
	while(*p != '\0' && !is_blank(*p)) p++;
	char *key_end = p;
	while(is_blank(*p)) p++;
	char *value = p;
	char *end = value + strlen(value);
	while(end > value && is_blank(end[-1])) end--;
	*end = '\0';
	*key_end = '\0';

	const struct option *o = find_option(key);
	char place[PATH_MAX + 64];
	if(o == NULL){
		snprintf(place, sizeof(place), "%s:%d: ", path, lineno);
		return unknown_option(place, key, errbuf, errlen);
	}
	size_t i = option_index(o);
	if(orig->line[i] > 0){
		return fail(errbuf, errlen, "%s:%d: '%s' already set at line %d", path, lineno, key, orig->line[i]);
	}
	snprintf(place, sizeof(place), "%s:%d: %s", path, lineno, key);
	if(set_value(cfg, o, value, place, errbuf, errlen) != 0) return -1;
	orig->line[i] = lineno;
	return 0;
}

static int load_file(struct jwb_config *cfg, struct origin *orig, const char *path,
		char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if(f == NULL) return fail(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));

	/* +2: room to notice a line one byte too long, and the NUL */
	char line[LINE_MAX_BYTES + 2];
	int lineno = 0;
	int rc = 0;
	bool eof = false;
	while(!eof && rc == 0){
		size_t len = 0;
		bool too_long = false;
		int c;
		lineno++;
		for(;;){
			c = getc(f);
			if(c == EOF || c == '\n') break;
			if(len < sizeof(line) - 1) line[len++] = (char)c;
			else too_long = true;
		}
		if(c == EOF){
			if(ferror(f)){
				rc = fail(errbuf, errlen, "%s: cannot read: %s", path, strerror(errno));
				break;
			}
			eof = true;
			if(len == 0 && !too_long) break;
		}
		if(!too_long && len > 0 && line[len - 1] == '\r') len--; /* CRLF */
		if(too_long || len > LINE_MAX_BYTES){
			rc = fail(errbuf, errlen, "%s:%d: line longer than %d bytes", path, lineno, LINE_MAX_BYTES);
			break;
		}
		line[len] = '\0';
		size_t start = 0;
		/* a UTF-8 byte order mark, as some editors write */
		if(lineno == 1 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) start = 3;
		for(size_t i = start; i < len; i++){
			unsigned char b = (unsigned char)line[i];
			if(b == '\0'){
				rc = fail(errbuf, errlen, "%s:%d: NUL byte at column %zu", path, lineno, i + 1);
				break;
			}
			if(is_control(b) && b != '\t'){
				rc = fail(errbuf, errlen, "%s:%d: control character 0x%02x at column %zu",
						path, lineno, b, i + 1);
				break;
			}
		}
		if(rc == 0) rc = parse_line(cfg, orig, path, lineno, line + start, errbuf, errlen);
	}
	fclose(f);
	return rc;
}

/* ---- the environment ---- */

static const size_t PREFIX_LEN = sizeof(JWB_CONFIG_ENV_PREFIX) - 1;

/* JETWIRE_BRIDGE_* variables that name no option. */
static int check_env_names(char *errbuf, size_t errlen)
{
	if(environ == NULL) return 0;
	for(char **e = environ; *e != NULL; e++){
		if(strncmp(*e, JWB_CONFIG_ENV_PREFIX, PREFIX_LEN) != 0) continue;
		const char *eq = strchr(*e, '=');
		if(eq == NULL) continue;
		const char *v = eq + 1;
		while(is_blank(*v)) v++;
		if(*v == '\0') continue; /* empty: as if unset */

		size_t name_len = (size_t)(eq - *e);
		char *name = strndup(*e, name_len);
		char *key = strdup(*e + PREFIX_LEN);
		if(name == NULL || key == NULL){
			free(name);
			free(key);
			return OOM(errbuf, errlen);
		}
		key[name_len - PREFIX_LEN] = '\0';
		bool upper = true;
		for(char *p = key; *p != '\0'; p++){
			if(*p >= 'a' && *p <= 'z') upper = false;
			*p = (char)tolower((unsigned char)*p);
		}
		const struct option *o = find_option(key);
		int rc = 0;
		if(o == NULL){
			char place[256];
			snprintf(place, sizeof(place), "%.200s: ", name);
			rc = unknown_option(place, key, errbuf, errlen);
		}else if(!upper){
			char *want = strdup(name);
			if(want == NULL){
				rc = OOM(errbuf, errlen);
			}else{
				for(char *p = want; *p != '\0'; p++) *p = (char)toupper((unsigned char)*p);
				rc = fail(errbuf, errlen, "%s: unknown variable (the name is upper case: %s)", name, want);
				free(want);
			}
		}
		free(name);
		free(key);
		if(rc != 0) return rc;
	}
	return 0;
}

static int load_env(struct jwb_config *cfg, struct origin *orig, char *errbuf, size_t errlen)
{
	for(size_t i = 0; i < N_OPTIONS; i++){
		const struct option *o = &options[i];
		char name[96];
		size_t n = 0;
		for(const char *p = JWB_CONFIG_ENV_PREFIX; *p != '\0'; p++) name[n++] = *p;
		for(const char *p = o->key; *p != '\0' && n < sizeof(name) - 1; p++){
			name[n++] = (char)toupper((unsigned char)*p);
		}
		name[n] = '\0';

		const char *raw = getenv(name);
		if(raw == NULL) continue;
		while(is_blank(*raw)) raw++;
		size_t len = strlen(raw);
		while(len > 0 && is_blank(raw[len - 1])) len--;
		if(len == 0) continue; /* empty: as if unset */
		for(size_t k = 0; k < len; k++){
			unsigned char b = (unsigned char)raw[k];
			if(is_control(b) && b != '\t'){
				return fail(errbuf, errlen, "%s: control character 0x%02x at position %zu", name, b, k + 1);
			}
		}
		char *v = strndup(raw, len);
		if(v == NULL) return OOM(errbuf, errlen);
		int rc = set_value(cfg, o, v, name, errbuf, errlen);
		free(v);
		if(rc != 0) return -1;
		orig->line[i] = -1;
	}
	return 0;
}

/* ---- whole-config checks ---- */

static int check_readable(const char *key, const char *path, char *errbuf, size_t errlen)
{
	struct stat st;
	if(access(path, R_OK) != 0) return fail(errbuf, errlen, "%s: %s: %s", key, path, strerror(errno));
	if(stat(path, &st) != 0) return fail(errbuf, errlen, "%s: %s: %s", key, path, strerror(errno));
	if(S_ISDIR(st.st_mode)) return fail(errbuf, errlen, "%s: %s: %s", key, path, strerror(EISDIR));
	return 0;
}

static int check_token_source(const struct jwb_config *cfg, char *errbuf, size_t errlen)
{
	const char *alg = cfg->jwt_alg;
	bool hmac = alg[0] == 'H';

	if(cfg->jwt_token_file != NULL){
		if(cfg->jwt_secret_file != NULL){
			return fail(errbuf, errlen, "jwt_token_file: cannot be combined with jwt_secret_file "
					"(the token is used as is; remove one of them)");
		}
		if(cfg->jwt_private_key_file != NULL){
			return fail(errbuf, errlen, "jwt_token_file: cannot be combined with jwt_private_key_file "
					"(the token is used as is; remove one of them)");
		}
		return check_readable("jwt_token_file", cfg->jwt_token_file, errbuf, errlen);
	}
	if(hmac){
		if(cfg->jwt_private_key_file != NULL){
			return fail(errbuf, errlen, "jwt_private_key_file: not used with jwt_alg %s "
					"(HMAC signs with a shared secret: jwt_secret_file or the environment variable %s)",
					alg, cfg->jwt_secret_env);
		}
		if(cfg->jwt_secret_file != NULL){
			return check_readable("jwt_secret_file", cfg->jwt_secret_file, errbuf, errlen);
		}
		const char *secret = getenv(cfg->jwt_secret_env);
		if(secret == NULL || secret[0] == '\0'){
			return fail(errbuf, errlen, "jwt_alg %s: no secret: set jwt_secret_file, the environment "
					"variable %s, or jwt_token_file", alg, cfg->jwt_secret_env);
		}
		return 0;
	}
	if(cfg->jwt_secret_file != NULL){
		return fail(errbuf, errlen, "jwt_secret_file: not used with jwt_alg %s "
				"(it signs with jwt_private_key_file)", alg);
	}
	if(cfg->jwt_private_key_file == NULL){
		return fail(errbuf, errlen, "jwt_alg %s: no key: set jwt_private_key_file (or jwt_token_file)", alg);
	}
	return check_readable("jwt_private_key_file", cfg->jwt_private_key_file, errbuf, errlen);
}

static int finish(struct jwb_config *cfg, const struct origin *orig, char *errbuf, size_t errlen)
{
	if(cfg->database == NULL){
		return fail(errbuf, errlen, "database: required (set it in the file or %sDATABASE)",
				JWB_CONFIG_ENV_PREFIX);
	}

	if(orig->line[option_index(find_option("mqtt_client_id"))] == 0){
		size_t len = strlen(CLIENT_ID_PREFIX) + strlen(cfg->jwt_sub);
		if(len > NAME_MAX_BYTES){
			return fail(errbuf, errlen, "mqtt_client_id: the default '%s<jwt_sub>' would be %zu bytes "
					"(at most %d): set mqtt_client_id or a shorter jwt_sub", CLIENT_ID_PREFIX, len,
					NAME_MAX_BYTES);
		}
		char *id = malloc(len + 1);
		if(id == NULL) return OOM(errbuf, errlen);
		snprintf(id, len + 1, "%s%s", CLIENT_ID_PREFIX, cfg->jwt_sub);
		free(cfg->mqtt_client_id);
		cfg->mqtt_client_id = id;
	}

	if(check_token_source(cfg, errbuf, errlen) != 0) return -1;

	for(size_t i = 0; i < cfg->n_terminal_statuses; i++){
		if(!jwb_config_status_known(cfg, cfg->terminal_statuses[i])){
			return fail(errbuf, errlen, "terminal_statuses: '%s' is not in statuses", cfg->terminal_statuses[i]);
		}
	}

	/* The default offer_statuses name the platform's statuses; with other
	 * statuses configured, keep only the defaults that still exist. */
	if(orig->line[option_index(find_option("offer_statuses"))] == 0){
		size_t keep = 0;
		for(size_t i = 0; i < cfg->n_offer_statuses; i++){
			if(jwb_config_status_known(cfg, cfg->offer_statuses[i])
					&& !jwb_config_status_terminal(cfg, cfg->offer_statuses[i])){
				cfg->offer_statuses[keep++] = cfg->offer_statuses[i];
			}else{
				free(cfg->offer_statuses[i]);
			}
		}
		cfg->offer_statuses[keep] = NULL;
		cfg->n_offer_statuses = keep;
	}
	for(size_t i = 0; i < cfg->n_offer_statuses; i++){
		if(!jwb_config_status_known(cfg, cfg->offer_statuses[i])){
			return fail(errbuf, errlen, "offer_statuses: '%s' is not in statuses", cfg->offer_statuses[i]);
		}
		if(jwb_config_status_terminal(cfg, cfg->offer_statuses[i])){
			return fail(errbuf, errlen, "offer_statuses: '%s' is terminal", cfg->offer_statuses[i]);
		}
	}

	if(cfg->backoff_max_ms < cfg->backoff_initial_ms){
		return fail(errbuf, errlen, "backoff_max_ms: %d is less than backoff_initial_ms (%d)",
				cfg->backoff_max_ms, cfg->backoff_initial_ms);
	}
	return 0;
}

int jwb_config_load(struct jwb_config *cfg, const char *path, char *errbuf, size_t errlen)
{
	if(errbuf != NULL && errlen > 0) errbuf[0] = '\0';
	if(jwb_config_defaults(cfg) != 0) return OOM(errbuf, errlen);

	struct origin orig;
	memset(&orig, 0, sizeof(orig));
	int rc = 0;
	if(path != NULL) rc = load_file(cfg, &orig, path, errbuf, errlen);
	if(rc == 0) rc = check_env_names(errbuf, errlen);
	if(rc == 0) rc = load_env(cfg, &orig, errbuf, errlen);
	if(rc == 0) rc = finish(cfg, &orig, errbuf, errlen);
	if(rc != 0){
		jwb_config_free(cfg);
		return -1;
	}
	return 0;
}
