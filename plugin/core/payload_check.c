/*
 * payload_check — a strict, allocation-free scanner for the two payloads
 * drivers publish.  Rules: payload_check.h.
 *
 * One pass, left to right.  Syntax and type errors (class "malformed") stop
 * the scan at once; a well-typed value outside its range is remembered (the
 * first one) and reported only if the whole document is otherwise
 * well-formed and complete, so that "malformed" always wins over
 * "out_of_range" and "stale_ts".
 */
#include "payload_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_MAX INT64_C(9007199254740991)   /* 2^53 - 1: exact in every JSON parser */
#define KEY_SHOWN 32                       /* bytes of an unknown key put in the reason */

enum ftype { FT_NUMBER, FT_TS, FT_STRING, FT_STATUS };

struct field {
	const char *name;
	enum ftype type;
	bool required;
	double min, max;          /* FT_NUMBER */
	bool max_exclusive;
	const char *range;        /* FT_NUMBER: as shown in reasons */
};

struct kind_spec {
	const struct field *fields;
	size_t count;
	size_t max_bytes;
	bool ts_future_only;      /* presence: any age, not too far ahead */
};

static const struct field location_fields[] = {
	{"lat", FT_NUMBER, true, -90.0, 90.0, false, "-90..90"},
	{"lng", FT_NUMBER, true, -180.0, 180.0, false, "-180..180"},
	{"ts", FT_TS, true, 0, 0, false, NULL},
	{"heading", FT_NUMBER, false, 0.0, 360.0, true, "0..360 (360 excluded)"},
	{"speed", FT_NUMBER, false, 0.0, HUGE_VAL, false, ">= 0"},
	{"accuracy", FT_NUMBER, false, 0.0, HUGE_VAL, false, ">= 0"},
	{"orderId", FT_STRING, false, 0, 0, false, NULL},
};

static const struct field presence_fields[] = {
	{"status", FT_STATUS, true, 0, 0, false, NULL},
	{"ts", FT_TS, true, 0, 0, false, NULL},
};

static const struct kind_spec kinds[JW_PAYLOAD_KIND_COUNT] = {
	[JW_PAYLOAD_LOCATION] = {location_fields, sizeof(location_fields) / sizeof(location_fields[0]),
		JW_LOCATION_MAX_BYTES, false},
	[JW_PAYLOAD_PRESENCE] = {presence_fields, sizeof(presence_fields) / sizeof(presence_fields[0]),
		JW_PRESENCE_MAX_BYTES, true},
};

struct scan {
	const unsigned char *p, *end;
	char *reason;
	size_t reason_len;
	int pending;              /* first range problem, reported at the end */
	int64_t now_ms, skew_ms;
	bool ts_future_only;
};

/* A decoded string: the first bytes (enough for every comparison and for
 * orderId), its full decoded length, and whether it holds a control
 * character. */
struct str {
	char buf[JW_ORDER_ID_MAX_BYTES + 8];
	size_t len;
	bool ctrl;
};

__attribute__((format(printf, 2, 3)))
static void say(struct scan *s, const char *fmt, ...)
{
	if(s->reason_len == 0) return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->reason, s->reason_len, fmt, ap);
	va_end(ap);
}

#define FAIL(s, ...) (say((s), __VA_ARGS__), JW_PV_MALFORMED)

/* Remember the first range problem; the scan goes on. */
#define NOTE(s, verdict, ...) do { \
	if((s)->pending == JW_PV_OK){ (s)->pending = (verdict); say((s), __VA_ARGS__); } \
} while(0)

static void skip_ws(struct scan *s)
{
	while(s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static bool at(const struct scan *s, char c)
{
	return s->p < s->end && *s->p == (unsigned char)c;
}

/* Length of the well-formed UTF-8 sequence at p (Unicode 15, table 3-7),
 * 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	unsigned lo = 0x80, hi = 0xBF;
	if(c < 0x80) return 1;
	if(c < 0xC2) return 0;
	if(c < 0xE0){
		n = 2;
	}else if(c < 0xF0){
		n = 3;
		if(c == 0xE0) lo = 0xA0;            /* overlong */
		else if(c == 0xED) hi = 0x9F;       /* UTF-16 surrogates */
	}else if(c < 0xF5){
		n = 4;
		if(c == 0xF0) lo = 0x90;            /* overlong */
		else if(c == 0xF4) hi = 0x8F;       /* above U+10FFFF */
	}else{
		return 0;
	}
	if((size_t)(end - p) < n) return 0;
	if(p[1] < lo || p[1] > hi) return 0;
	for(size_t i = 2; i < n; i++){
		if(p[i] < 0x80 || p[i] > 0xBF) return 0;
	}
	return n;
}

static void str_put(struct str *o, const void *b, size_t n)
{
	/* o->len only grows: once a piece does not fit, none after it is
	 * written, so buf is a prefix of the string whenever len < sizeof(buf) */
	if(o->len + n < sizeof(o->buf)) memcpy(o->buf + o->len, b, n);
	o->len += n;
}

static void str_put_cp(struct str *o, uint32_t cp)
{
	unsigned char b[4];
	size_t n;
	if(cp < 0x80){
		b[0] = (unsigned char)cp;
		n = 1;
	}else if(cp < 0x800){
		b[0] = (unsigned char)(0xC0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	}else if(cp < 0x10000){
		b[0] = (unsigned char)(0xE0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	}else{
		b[0] = (unsigned char)(0xF0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	if(cp < 0x20 || cp == 0x7F) o->ctrl = true;
	str_put(o, b, n);
}

static int hex4(const unsigned char *p, const unsigned char *end, uint32_t *out)
{
	if(end - p < 4) return -1;
	uint32_t v = 0;
	for(int i = 0; i < 4; i++){
		unsigned c = p[i];
		v <<= 4;
		if(c >= '0' && c <= '9') v |= c - '0';
		else if(c >= 'a' && c <= 'f') v |= c - 'a' + 10;
		else if(c >= 'A' && c <= 'F') v |= c - 'A' + 10;
		else return -1;
	}
	*out = v;
	return 0;
}

/* The string at s->p (which is '"'), decoded into *o. */
static int scan_string(struct scan *s, struct str *o)
{
	o->len = 0;
	o->ctrl = false;
	s->p++;
	for(;;){
		if(s->p >= s->end) return FAIL(s, "unterminated string");
		unsigned c = *s->p;
		if(c == '"'){
			s->p++;
			if(o->len < sizeof(o->buf)) o->buf[o->len] = '\0';
			else o->buf[sizeof(o->buf) - 1] = '\0';
			return JW_PV_OK;
		}
		if(c < 0x20) return FAIL(s, "control character 0x%02x in a string", c);
		if(c == '\\'){
			if(s->end - s->p < 2) return FAIL(s, "unterminated string");
			unsigned e = s->p[1];
			static const char simple_in[] = "\"\\/bfnrt";
			static const char simple_out[] = "\"\\/\b\f\n\r\t";
			const char *k = e ? strchr(simple_in, (int)e) : NULL;
			if(k){
				unsigned char ch = (unsigned char)simple_out[k - simple_in];
				if(ch < 0x20) o->ctrl = true;
				str_put(o, &ch, 1);
				s->p += 2;
				continue;
			}
			if(e != 'u') return FAIL(s, "invalid escape in a string");
			uint32_t cp;
			if(hex4(s->p + 2, s->end, &cp) != 0) return FAIL(s, "invalid \\u escape in a string");
			s->p += 6;
			if(cp >= 0xDC00 && cp <= 0xDFFF) return FAIL(s, "unpaired UTF-16 surrogate in a string");
			if(cp >= 0xD800 && cp <= 0xDBFF){
				uint32_t lo;
				if(s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u'
						|| hex4(s->p + 2, s->end, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF){
					return FAIL(s, "unpaired UTF-16 surrogate in a string");
				}
				s->p += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			str_put_cp(o, cp);
			continue;
		}
		size_t n = utf8_seq(s->p, s->end);
		if(n == 0) return FAIL(s, "invalid UTF-8 in a string");
		if(c == 0x7F) o->ctrl = true;
		str_put(o, s->p, n);
		s->p += n;
	}
}

/* A key as it may be shown in a reason: printable ASCII, at most KEY_SHOWN
 * bytes, everything else replaced by '?'. */
static void shown_key(const struct str *k, char *out, size_t outlen)
{
	size_t have = k->len < sizeof(k->buf) ? k->len : sizeof(k->buf) - 1;
	size_t n = have < KEY_SHOWN ? have : KEY_SHOWN;
	size_t j = 0;
	for(size_t i = 0; i < n && j + 1 < outlen; i++){
		unsigned char c = (unsigned char)k->buf[i];
		out[j++] = (c >= 0x20 && c < 0x7F && c != '\'' && c != '\\') ? (char)c : '?';
	}
	out[j] = '\0';
	if(k->len > n && j + 4 < outlen) memcpy(out + j, "...", 4);
}

static bool is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

/* An RFC 8259 number at s->p (which is '-' or a digit).  On success
 * [*start, *start + *n) is its text and *integer says it has neither a
 * fraction nor an exponent. */
static int scan_number(struct scan *s, const char *name, const unsigned char **start, size_t *n,
		bool *integer)
{
	const unsigned char *b = s->p;
	*integer = true;
	if(at(s, '-')) s->p++;
	if(s->p >= s->end || !is_digit(*s->p)) return FAIL(s, "%s: invalid number", name);
	if(*s->p == '0'){
		s->p++;
		if(s->p < s->end && is_digit(*s->p)) return FAIL(s, "%s: invalid number (leading zero)", name);
	}else{
		while(s->p < s->end && is_digit(*s->p)) s->p++;
	}
	if(at(s, '.')){
		*integer = false;
		s->p++;
		if(s->p >= s->end || !is_digit(*s->p)) return FAIL(s, "%s: invalid number (no digit after '.')", name);
		while(s->p < s->end && is_digit(*s->p)) s->p++;
	}
	if(at(s, 'e') || at(s, 'E')){
		*integer = false;
		s->p++;
		if(at(s, '+') || at(s, '-')) s->p++;
		if(s->p >= s->end || !is_digit(*s->p)) return FAIL(s, "%s: invalid number (no digit in the exponent)", name);
		while(s->p < s->end && is_digit(*s->p)) s->p++;
	}
	*start = b;
	*n = (size_t)(s->p - b);
	if(*n > JW_NUMBER_MAX_CHARS){
		return FAIL(s, "%s: number longer than %d characters", name, JW_NUMBER_MAX_CHARS);
	}
	return JW_PV_OK;
}

static bool starts_number(const struct scan *s)
{
	return s->p < s->end && (*s->p == '-' || is_digit(*s->p));
}

static int scan_plain_number(struct scan *s, const struct field *f)
{
	if(!starts_number(s)) return FAIL(s, "%s must be a number", f->name);
	const unsigned char *t;
	size_t n;
	bool integer;
	int rc = scan_number(s, f->name, &t, &n, &integer);
	if(rc != JW_PV_OK) return rc;
	char buf[JW_NUMBER_MAX_CHARS + 1];
	memcpy(buf, t, n);
	buf[n] = '\0';
	/* the grammar above is a subset of what strtod accepts (C locale: the
	 * broker never calls setlocale) */
	double v = strtod(buf, NULL);
	if(!isfinite(v)){
		NOTE(s, JW_PV_OUT_OF_RANGE, "%s %s is not a finite number", f->name, buf);
	}else if(v < f->min || v > f->max || (f->max_exclusive && v >= f->max)){
		NOTE(s, JW_PV_OUT_OF_RANGE, "%s %s out of range %s", f->name, buf, f->range);
	}
	return JW_PV_OK;
}

static int scan_ts(struct scan *s, const struct field *f)
{
	if(!starts_number(s)) return FAIL(s, "%s must be an integer (epoch milliseconds)", f->name);
	const unsigned char *t;
	size_t n;
	bool integer;
	int rc = scan_number(s, f->name, &t, &n, &integer);
	if(rc != JW_PV_OK) return rc;
	if(!integer) return FAIL(s, "%s must be an integer (epoch milliseconds)", f->name);
	char buf[JW_NUMBER_MAX_CHARS + 1];
	memcpy(buf, t, n);
	buf[n] = '\0';
	bool neg = buf[0] == '-';
	int64_t v = 0;
	for(const char *d = buf + neg; *d; d++){
		if(v > TS_MAX / 10){
			v = TS_MAX + 1;
			break;
		}
		v = v * 10 + (*d - '0');
	}
	if((neg && v != 0) || v > TS_MAX){
		NOTE(s, JW_PV_OUT_OF_RANGE, "%s %s out of range 0..%lld", f->name, buf, (long long)TS_MAX);
		return JW_PV_OK;
	}
	if(s->skew_ms <= 0) return JW_PV_OK;
	int64_t d = v - s->now_ms;
	if(d > s->skew_ms){
		NOTE(s, JW_PV_STALE_TS, "%s %lld is %lld s in the future (max skew %lld s)", f->name,
				(long long)v, (long long)((d + 999) / 1000), (long long)(s->skew_ms / 1000));
	}else if(!s->ts_future_only && -d > s->skew_ms){
		NOTE(s, JW_PV_STALE_TS, "%s %lld is %lld s in the past (max skew %lld s)", f->name,
				(long long)v, (long long)((-d + 999) / 1000), (long long)(s->skew_ms / 1000));
	}
	return JW_PV_OK;
}

static int scan_order_id(struct scan *s, const struct field *f)
{
	if(!at(s, '"')){
		return FAIL(s, "%s must be a string of 1..%d bytes", f->name, JW_ORDER_ID_MAX_BYTES);
	}
	struct str v;
	int rc = scan_string(s, &v);
	if(rc != JW_PV_OK) return rc;
	if(v.len < 1 || v.len > JW_ORDER_ID_MAX_BYTES){
		NOTE(s, JW_PV_OUT_OF_RANGE, "%s must be a string of 1..%d bytes (got %zu)", f->name,
				JW_ORDER_ID_MAX_BYTES, v.len);
	}else if(v.ctrl){
		NOTE(s, JW_PV_OUT_OF_RANGE, "%s must not contain control characters", f->name);
	}
	return JW_PV_OK;
}

static int scan_status(struct scan *s, const struct field *f)
{
	if(!at(s, '"')) return FAIL(s, "%s must be \"online\" or \"offline\"", f->name);
	struct str v;
	int rc = scan_string(s, &v);
	if(rc != JW_PV_OK) return rc;
	if(!(v.len == 6 && memcmp(v.buf, "online", 6) == 0) && !(v.len == 7 && memcmp(v.buf, "offline", 7) == 0)){
		NOTE(s, JW_PV_OUT_OF_RANGE, "%s must be \"online\" or \"offline\"", f->name);
	}
	return JW_PV_OK;
}

static int scan_value(struct scan *s, const struct field *f)
{
	switch(f->type){
		case FT_NUMBER: return scan_plain_number(s, f);
		case FT_TS: return scan_ts(s, f);
		case FT_STRING: return scan_order_id(s, f);
		case FT_STATUS: return scan_status(s, f);
	}
	return FAIL(s, "internal error");
}

static int check(const struct kind_spec *k, const char *payload, size_t len, int64_t now_ms,
		int64_t skew_ms, char *reason, size_t reason_len)
{
	struct scan s = {
		.p = (const unsigned char *)payload, .end = (const unsigned char *)payload + len,
		.reason = reason, .reason_len = reason_len, .pending = JW_PV_OK,
		.now_ms = now_ms, .skew_ms = skew_ms, .ts_future_only = k->ts_future_only,
	};
	if(reason_len > 0) reason[0] = '\0';
	if(len > k->max_bytes){
		say(&s, "payload is %zu bytes (max %zu)", len, k->max_bytes);
		return JW_PV_TOO_LARGE;
	}
	if(len == 0) return FAIL(&s, "empty payload");

	skip_ws(&s);
	if(!at(&s, '{')) return FAIL(&s, "not a JSON object");
	s.p++;
	uint32_t seen = 0;
	skip_ws(&s);
	if(at(&s, '}')){
		s.p++;
	}else{
		for(;;){
			skip_ws(&s);
			if(s.p >= s.end) return FAIL(&s, "unterminated object");
			if(*s.p != '"') return FAIL(&s, "expected a field name in double quotes");
			struct str key;
			int rc = scan_string(&s, &key);
			if(rc != JW_PV_OK) return rc;
			size_t i;
			for(i = 0; i < k->count; i++){
				const char *name = k->fields[i].name;
				if(key.len == strlen(name) && memcmp(key.buf, name, key.len) == 0) break;
			}
			if(i == k->count){
				char shown[KEY_SHOWN + 8];
				shown_key(&key, shown, sizeof(shown));
				return FAIL(&s, "unknown field '%s'", shown);
			}
			const struct field *f = &k->fields[i];
			if(seen & (1u << i)) return FAIL(&s, "duplicate field '%s'", f->name);
			seen |= 1u << i;
			skip_ws(&s);
			if(!at(&s, ':')) return FAIL(&s, "expected ':' after '%s'", f->name);
			s.p++;
			skip_ws(&s);
			if(s.p >= s.end) return FAIL(&s, "unterminated object");
			rc = scan_value(&s, f);
			if(rc != JW_PV_OK) return rc;
			skip_ws(&s);
			if(s.p >= s.end) return FAIL(&s, "unterminated object");
			if(*s.p == ','){
				s.p++;
				skip_ws(&s);
				if(at(&s, '}')) return FAIL(&s, "trailing comma in the object");
				continue;
			}
			if(*s.p == '}'){
				s.p++;
				break;
			}
			return FAIL(&s, "expected ',' or '}' after the value of '%s'", f->name);
		}
	}
	skip_ws(&s);
	if(s.p != s.end) return FAIL(&s, "trailing data after the JSON object");
	for(size_t i = 0; i < k->count; i++){
		if(k->fields[i].required && !(seen & (1u << i))) return FAIL(&s, "%s missing", k->fields[i].name);
	}
	return s.pending;
}

int jw_check_location(const char *payload, size_t len, int64_t now_ms, int64_t skew_ms,
		char *reason, size_t reason_len)
{
	return check(&kinds[JW_PAYLOAD_LOCATION], payload, len, now_ms, skew_ms, reason, reason_len);
}

int jw_check_presence(const char *payload, size_t len, int64_t now_ms, int64_t skew_ms,
		char *reason, size_t reason_len)
{
	return check(&kinds[JW_PAYLOAD_PRESENCE], payload, len, now_ms, skew_ms, reason, reason_len);
}

int jw_check_payload(enum jw_payload_kind kind, const char *payload, size_t len, int64_t now_ms,
		int64_t skew_ms, char *reason, size_t reason_len)
{
	if((unsigned)kind >= JW_PAYLOAD_KIND_COUNT){
		if(reason_len > 0) snprintf(reason, reason_len, "unknown payload kind");
		return JW_PV_MALFORMED;
	}
	return check(&kinds[kind], payload, len, now_ms, skew_ms, reason, reason_len);
}

size_t jw_payload_max_bytes(enum jw_payload_kind kind)
{
	return (unsigned)kind < JW_PAYLOAD_KIND_COUNT ? kinds[kind].max_bytes : 0;
}

const char *jw_payload_kind_name(enum jw_payload_kind kind)
{
	switch(kind){
		case JW_PAYLOAD_LOCATION: return "location";
		case JW_PAYLOAD_PRESENCE: return "presence";
		default: return "unknown";
	}
}

const char *jw_payload_verdict_name(int verdict)
{
	switch(verdict){
		case JW_PV_OK: return "ok";
		case JW_PV_TOO_LARGE: return "too_large";
		case JW_PV_MALFORMED: return "malformed";
		case JW_PV_OUT_OF_RANGE: return "out_of_range";
		case JW_PV_STALE_TS: return "stale_ts";
		default: return "unknown";
	}
}
