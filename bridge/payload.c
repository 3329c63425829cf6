/*
 * payload — the JSON documents the bridge publishes.  See payload.h.
 *
 * Every builder first checks all of its input (so nothing is allocated for a
 * row that will be refused), then builds the document with json-c and
 * returns a malloc'd copy of its plain serialisation.
 */
#define _DEFAULT_SOURCE /* timegm, gmtime_r */
#include "payload.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jw_topic.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* 9999-12-31T23:59:59.999Z: the last instant RFC 3339 can write. */
#define TS_MS_MAX INT64_C(253402300799999)

__attribute__((format(printf, 3, 4)))
static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	if(errbuf == NULL || errlen == 0) return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Decode one UTF-8 sequence at s[i..len).  Returns its length (1..4) and
 * stores the code point, or 0 if it is malformed: a stray continuation
 * byte, a truncated sequence, an overlong form, a surrogate, or a code
 * point above U+10FFFF.
 */
static size_t utf8_decode(const unsigned char *s, size_t len, size_t i, uint32_t *cp)
{
	unsigned char c = s[i];
	size_t n;
	uint32_t v, min;
	if(c < 0x80){
		*cp = c;
		return 1;
	}else if(c >= 0xC2 && c <= 0xDF){
		n = 2; v = c & 0x1Fu; min = 0x80;
	}else if(c >= 0xE0 && c <= 0xEF){
		n = 3; v = c & 0x0Fu; min = 0x800;
	}else if(c >= 0xF0 && c <= 0xF4){
		n = 4; v = c & 0x07u; min = 0x10000;
	}else{
		return 0; /* continuation byte, C0/C1 (overlong), F5..FF */
	}
	if(len - i < n) return 0;
	for(size_t k = 1; k < n; k++){
		unsigned char cc = s[i + k];
		if((cc & 0xC0) != 0x80) return 0;
		v = (v << 6) | (cc & 0x3Fu);
	}
	if(v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
	*cp = v;
	return n;
}

bool jwb_utf8_is_valid(const char *s, size_t len)
{
	if(s == NULL) return false;
	const unsigned char *u = (const unsigned char *)s;
	for(size_t i = 0; i < len;){
		uint32_t cp;
		size_t n = utf8_decode(u, len, i, &cp);
		if(n == 0) return false;
		i += n;
	}
	return true;
}

/* MQTT (and mosquitto_validate_utf8) also refuse these in a topic. */
static bool cp_is_mqtt_forbidden(uint32_t cp)
{
	if(cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F)) return true;   /* C0, DEL, C1 */
	if(cp >= 0xFDD0 && cp <= 0xFDEF) return true;              /* non-characters */
	if((cp & 0xFFFF) == 0xFFFE || (cp & 0xFFFF) == 0xFFFF) return true;
	return false;
}

bool jwb_check_id(const char *field, const char *value, char *errbuf, size_t errlen)
{
	if(field == NULL) field = "id";
	if(value == NULL){
		set_err(errbuf, errlen, "%s is NULL", field);
		return false;
	}
	size_t len = strlen(value);
	if(len == 0){
		set_err(errbuf, errlen, "%s is empty", field);
		return false;
	}
	if(len > JWB_ID_MAX){
		set_err(errbuf, errlen, "%s is %zu bytes (max %d)", field, len, JWB_ID_MAX);
		return false;
	}
	/* Control characters and bad UTF-8 first: the messages below quote the
	 * value, which must then be printable. */
	const unsigned char *u = (const unsigned char *)value;
	for(size_t i = 0; i < len;){
		uint32_t cp;
		size_t n = utf8_decode(u, len, i, &cp);
		if(n == 0){
			set_err(errbuf, errlen, "%s is not valid UTF-8 (byte %zu)", field, i);
			return false;
		}
		if(cp_is_mqtt_forbidden(cp)){
			if(cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)){
				set_err(errbuf, errlen, "%s contains a control character (U+%04" PRIX32 ")", field, cp);
			}else{
				set_err(errbuf, errlen, "%s contains a non-character (U+%04" PRIX32 ")", field, cp);
			}
			return false;
		}
		i += n;
	}
	for(size_t i = 0; i < len; i++){
		if(value[i] == '/' || value[i] == '+' || value[i] == '#'){
			set_err(errbuf, errlen, "%s '%s' contains '%c'", field, value, value[i]);
			return false;
		}
	}
	/* The rules above are a superset of the shared ones; keep them in step. */
	if(!jw_level_is_safe(value, len, JWB_ID_MAX)){
		set_err(errbuf, errlen, "%s '%s' is not a safe topic level", field, value);
		return false;
	}
	return true;
}

/*
 * A string field: NULL allowed only when !required, then min_len..max_len
 * bytes of valid UTF-8.
 */
static bool check_str(const char *field, const char *value, bool required,
		size_t min_len, size_t max_len, char *errbuf, size_t errlen)
{
	if(value == NULL){
		if(!required) return true;
		set_err(errbuf, errlen, "%s is NULL", field);
		return false;
	}
	size_t len = strlen(value);
	if(len < min_len){
		set_err(errbuf, errlen, "%s is empty", field);
		return false;
	}
	if(len > max_len){
		set_err(errbuf, errlen, "%s is %zu bytes (max %zu)", field, len, max_len);
		return false;
	}
	if(!jwb_utf8_is_valid(value, len)){
		set_err(errbuf, errlen, "%s is not valid UTF-8", field);
		return false;
	}
	return true;
}

static bool check_version(int64_t version, char *errbuf, size_t errlen)
{
	if(version < 1){
		set_err(errbuf, errlen, "version is %" PRId64 " (must be >= 1)", version);
		return false;
	}
	return true;
}

void jwb_format_timestamp(int64_t ts_ms, char *out, size_t outlen)
{
	if(out == NULL || outlen == 0) return;
	if(ts_ms < 0) ts_ms = 0;
	if(ts_ms > TS_MS_MAX) ts_ms = TS_MS_MAX;
	time_t secs = (time_t)(ts_ms / 1000);
	int ms = (int)(ts_ms % 1000);
	struct tm tm;
	if(gmtime_r(&secs, &tm) == NULL){
		snprintf(out, outlen, "1970-01-01T00:00:00.000Z");
		return;
	}
	char date[32];
	if(strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0){
		snprintf(out, outlen, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out, outlen, "%s.%03dZ", date, ms);
}

/* Exactly n decimal digits at *p; advances *p. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for(int i = 0; i < n; i++){
		unsigned char c = (unsigned char)(*p)[i];
		if(c < '0' || c > '9') return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return (m == 2 && is_leap(y)) ? 29 : dim[m - 1];
}

bool jwb_parse_pg_timestamp(const char *text, int64_t *ts_ms)
{
	if(text == NULL || ts_ms == NULL) return false;
	const char *p = text;
	int year, mon, day, hour, min, sec, ms = 0;
	if(!digits(&p, 4, &year) || *p++ != '-') return false;
	if(!digits(&p, 2, &mon) || *p++ != '-') return false;
	if(!digits(&p, 2, &day) || *p++ != ' ') return false;
	if(!digits(&p, 2, &hour) || *p++ != ':') return false;
	if(!digits(&p, 2, &min) || *p++ != ':') return false;
	if(!digits(&p, 2, &sec)) return false;
	if(*p == '.'){
		/* 1..6 fraction digits (microseconds); keep milliseconds, truncated */
		p++;
		int n = 0;
		while(p[n] >= '0' && p[n] <= '9') n++;
		if(n < 1 || n > 6) return false;
		for(int i = 0; i < 3; i++){
			ms = ms * 10 + (i < n ? p[i] - '0' : 0);
		}
		p += n;
	}
	int off_s = 0;
	if(*p == 'Z'){
		p++;
	}else if(*p == '+' || *p == '-'){
		/* +HH, +HH:MM or +HH:MM:SS (PostgreSQL prints seconds for some
		 * historical zones) */
		int sign = *p++ == '-' ? -1 : 1;
		int oh, om = 0, os = 0;
		if(!digits(&p, 2, &oh)) return false;
		if(*p == ':'){
			p++;
			if(!digits(&p, 2, &om)) return false;
			if(*p == ':'){
				p++;
				if(!digits(&p, 2, &os)) return false;
			}
		}
		if(oh > 15 || om > 59 || os > 59) return false;
		off_s = sign * (oh * 3600 + om * 60 + os);
	}else{
		return false;
	}
	if(*p != '\0') return false;
	if(year < 1 || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon)
			|| hour > 23 || min > 59 || sec > 59){
		return false;
	}
	struct tm tm = {0};
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	errno = 0;
	time_t t = timegm(&tm);
	if(t == (time_t)-1 && errno != 0) return false;
	*ts_ms = ((int64_t)t - off_s) * 1000 + ms;
	return true;
}

/* ------------------------------------------------------------------------ */
/* Building */

/* Adds key: value, or key: null for a NULL value.  False on OOM. */
static bool add_str(struct json_object *obj, const char *key, const char *value)
{
	struct json_object *v = NULL;
	if(value != NULL){
		v = json_object_new_string(value);
		if(v == NULL) return false;
	}
	if(json_object_object_add(obj, key, v) != 0){
		json_object_put(v);
		return false;
	}
	return true;
}

static bool add_obj(struct json_object *obj, const char *key, struct json_object *v)
{
	if(json_object_object_add(obj, key, v) != 0){
		json_object_put(v);
		return false;
	}
	return true;
}

static bool add_int64(struct json_object *obj, const char *key, int64_t value)
{
	struct json_object *v = json_object_new_int64(value);
	return v != NULL && add_obj(obj, key, v);
}

static bool add_timestamp(struct json_object *obj, const char *key, int64_t ts_ms)
{
	char ts[32];
	jwb_format_timestamp(ts_ms, ts, sizeof(ts));
	return add_str(obj, key, ts);
}

/* A finite double as the shortest "%.*g" text that reads back as the same
 * value (json-c's default prints 4.8 as 4.7999999999999998). */
static struct json_object *new_double_short(double d)
{
	char buf[40];
	for(int prec = 1; prec <= 17; prec++){
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if(strtod(buf, NULL) == d) break;
	}
	/* a locale with a decimal comma must not leak into JSON */
	for(char *c = buf; *c; c++){
		if(*c == ',') *c = '.';
	}
	return json_object_new_double_s(d, buf);
}

/* Serialise, copy, free the tree.  NULL (and errbuf) on OOM. */
static char *finish(struct json_object *obj, bool ok, char *errbuf, size_t errlen)
{
	char *out = NULL;
	if(ok){
		const char *s = json_object_to_json_string_ext(obj, JSON_FLAGS);
		if(s != NULL) out = strdup(s);
	}
	json_object_put(obj);
	if(out == NULL) set_err(errbuf, errlen, "out of memory");
	return out;
}

char *jwb_payload_order_status(const struct jwb_order_status *p, char *errbuf, size_t errlen)
{
	if(p == NULL){
		set_err(errbuf, errlen, "orderStatus is NULL");
		return NULL;
	}
	if(!jwb_check_id("orderId", p->order_id, errbuf, errlen)) return NULL;
	if(!check_str("orderNumber", p->order_number, false, 0, JWB_ORDER_NUMBER_MAX, errbuf, errlen)) return NULL;
	if(!check_str("status", p->status, true, 1, JWB_STATUS_MAX, errbuf, errlen)) return NULL;
	if(!check_str("previousStatus", p->previous_status, false, 0, JWB_STATUS_MAX, errbuf, errlen)) return NULL;
	if(!check_version(p->version, errbuf, errlen)) return NULL;

	struct json_object *o = json_object_new_object();
	if(o == NULL){
		set_err(errbuf, errlen, "out of memory");
		return NULL;
	}
	bool ok = add_str(o, "orderId", p->order_id)
		&& add_str(o, "orderNumber", p->order_number)
		&& add_str(o, "status", p->status)
		&& add_str(o, "previousStatus", p->previous_status)
		&& add_int64(o, "version", p->version)
		&& add_timestamp(o, "timestamp", p->ts_ms);
	return finish(o, ok, errbuf, errlen);
}

char *jwb_payload_driver_assignment(const struct jwb_driver_assignment *p, char *errbuf, size_t errlen)
{
	if(p == NULL){
		set_err(errbuf, errlen, "driverAssignment is NULL");
		return NULL;
	}
	if(!jwb_check_id("orderId", p->order_id, errbuf, errlen)) return NULL;
	if(p->driver_id != NULL && !jwb_check_id("driverId", p->driver_id, errbuf, errlen)) return NULL;
	if(p->role == NULL){
		set_err(errbuf, errlen, "role is NULL");
		return NULL;
	}
	if(strcmp(p->role, "pickup") != 0 && strcmp(p->role, "delivery") != 0){
		set_err(errbuf, errlen, "role is not \"pickup\" or \"delivery\"");
		return NULL;
	}
	if(!check_str("name", p->name, false, 0, JWB_NAME_MAX, errbuf, errlen)) return NULL;
	if(p->has_rating){
		if(!isfinite(p->rating)){
			set_err(errbuf, errlen, "rating is not a finite number");
			return NULL;
		}
		if(p->rating < 0.0 || p->rating > 5.0){
			set_err(errbuf, errlen, "rating %g is out of range (0..5)", p->rating);
			return NULL;
		}
	}
	if(!check_str("vehicleType", p->vehicle_type, false, 0, JWB_VEHICLE_TYPE_MAX, errbuf, errlen)) return NULL;
	if(!check_version(p->version, errbuf, errlen)) return NULL;

	struct json_object *o = json_object_new_object();
	if(o == NULL){
		set_err(errbuf, errlen, "out of memory");
		return NULL;
	}
	bool ok = add_str(o, "orderId", p->order_id)
		&& add_str(o, "driverId", p->driver_id)
		&& add_str(o, "role", p->role)
		&& add_str(o, "name", p->name);
	if(ok){
		if(p->has_rating){
			struct json_object *r = new_double_short(p->rating);
			ok = r != NULL && add_obj(o, "rating", r);
		}else{
			ok = add_obj(o, "rating", NULL);
		}
	}
	ok = ok && add_str(o, "vehicleType", p->vehicle_type)
		&& add_int64(o, "version", p->version)
		&& add_timestamp(o, "timestamp", p->ts_ms);
	return finish(o, ok, errbuf, errlen);
}

/*
 * json-c's tokener, even in strict mode, takes a few things JSON does not
 * have (NaN and Infinity literals) and clamps integers beyond 64 bits to
 * the nearest bound.  Refuse both rather than publish invalid JSON or a
 * silently changed number.
 */
static bool data_numbers_ok(struct json_object *v, char *errbuf, size_t errlen)
{
	switch(json_object_get_type(v)){
	case json_type_double:
		if(!isfinite(json_object_get_double(v))){
			set_err(errbuf, errlen, "data contains a number that is not finite");
			return false;
		}
		return true;
	case json_type_int:
		if(json_object_get_int64(v) == INT64_MIN || json_object_get_uint64(v) == UINT64_MAX){
			set_err(errbuf, errlen, "data contains an integer outside the 64-bit range");
			return false;
		}
		return true;
	case json_type_array: {
		size_t n = json_object_array_length(v);
		for(size_t i = 0; i < n; i++){
			if(!data_numbers_ok(json_object_array_get_idx(v, i), errbuf, errlen)) return false;
		}
		return true;
	}
	case json_type_object: {
		json_object_object_foreach(v, key, val){
			(void)key;
			if(!data_numbers_ok(val, errbuf, errlen)) return false;
		}
		return true;
	}
	default:
		return true;
	}
}

/* Parse data_json (the whole text) into a JSON object, or NULL + errbuf. */
static struct json_object *parse_data(const char *text, char *errbuf, size_t errlen)
{
	size_t len = strlen(text);
	if(!jwb_utf8_is_valid(text, len)){
		set_err(errbuf, errlen, "data is not valid UTF-8");
		return NULL;
	}
	if(len > (size_t)INT32_MAX){
		set_err(errbuf, errlen, "data is %zu bytes (too large)", len);
		return NULL;
	}
	struct json_tokener *tok = json_tokener_new();
	if(tok == NULL){
		set_err(errbuf, errlen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);

	if(obj == NULL || jerr != json_tokener_success){
		/* json_tokener_continue: the text ended inside a value */
		const char *why = jerr == json_tokener_continue ? "unexpected end of text"
			: json_tokener_error_desc(jerr);
		if(obj == NULL && jerr == json_tokener_success) why = "null";
		set_err(errbuf, errlen, "data is not a JSON object (%s)", why);
		json_object_put(obj);
		return NULL;
	}
	/* the whole string: only whitespace may follow */
	while(end < len && (text[end] == ' ' || text[end] == '\t' || text[end] == '\n' || text[end] == '\r')) end++;
	if(end != len){
		set_err(errbuf, errlen, "data is not a JSON object (text after the value at byte %zu)", end);
		json_object_put(obj);
		return NULL;
	}
	if(!json_object_is_type(obj, json_type_object)){
		set_err(errbuf, errlen, "data is not a JSON object (it is %s)",
			json_type_to_name(json_object_get_type(obj)));
		json_object_put(obj);
		return NULL;
	}
	if(!data_numbers_ok(obj, errbuf, errlen)){
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

char *jwb_payload_notification(const struct jwb_notification *p, char *errbuf, size_t errlen)
{
	if(p == NULL){
		set_err(errbuf, errlen, "notification is NULL");
		return NULL;
	}
	if(!jwb_check_id("id", p->id, errbuf, errlen)) return NULL;
	if(!check_str("title", p->title, true, 0, JWB_TITLE_MAX, errbuf, errlen)) return NULL;
	if(!check_str("body", p->body, true, 0, JWB_BODY_MAX, errbuf, errlen)) return NULL;
	struct json_object *data = NULL;
	if(p->data_json != NULL){
		data = parse_data(p->data_json, errbuf, errlen);
		if(data == NULL) return NULL;
	}

	struct json_object *o = json_object_new_object();
	if(o == NULL){
		json_object_put(data);
		set_err(errbuf, errlen, "out of memory");
		return NULL;
	}
	bool ok = add_str(o, "id", p->id)
		&& add_str(o, "title", p->title)
		&& add_str(o, "body", p->body);
	if(ok){
		ok = add_obj(o, "data", data);
	}else{
		json_object_put(data);
	}
	ok = ok && add_timestamp(o, "timestamp", p->ts_ms);
	return finish(o, ok, errbuf, errlen);
}

char *jwb_payload_order_offer(const struct jwb_order_offer *p, char *errbuf, size_t errlen)
{
	if(p == NULL){
		set_err(errbuf, errlen, "orderOffer is NULL");
		return NULL;
	}
	if(!jwb_check_id("orderId", p->order_id, errbuf, errlen)) return NULL;
	if(!check_str("orderNumber", p->order_number, false, 0, JWB_ORDER_NUMBER_MAX, errbuf, errlen)) return NULL;
	if(!isfinite(p->pickup_lat) || p->pickup_lat < -90 || p->pickup_lat > 90 ||
	   !isfinite(p->pickup_lng) || p->pickup_lng < -180 || p->pickup_lng > 180){
		set_err(errbuf, errlen, "pickup %g,%g is out of range", p->pickup_lat, p->pickup_lng);
		return NULL;
	}
	if(!isfinite(p->distance_km) || p->distance_km < 0){
		set_err(errbuf, errlen, "distanceKm is not a number >= 0");
		return NULL;
	}
	struct json_object *o = json_object_new_object();
	struct json_object *pickup = json_object_new_object();
	if(o == NULL || pickup == NULL){
		json_object_put(o);
		json_object_put(pickup);
		set_err(errbuf, errlen, "out of memory");
		return NULL;
	}
	/* three decimals of a kilometre: metres are enough for "how far" */
	double km = round(p->distance_km * 1000.0) / 1000.0;
	/* pickup belongs to o from the first add on (add_obj frees it on failure) */
	bool ok = add_obj(o, "pickup", pickup)
		&& add_obj(pickup, "lat", new_double_short(p->pickup_lat))
		&& add_obj(pickup, "lng", new_double_short(p->pickup_lng))
		&& add_str(o, "orderId", p->order_id)
		&& add_str(o, "orderNumber", p->order_number)
		&& add_obj(o, "distanceKm", new_double_short(km))
		&& add_timestamp(o, "expiresAt", p->expires_ms);
	return finish(o, ok, errbuf, errlen);
}
