/*
 * libFuzzer target: jw_check_location / jw_check_presence
 * (plugin/core/payload_check.c), the scanner for what drivers publish.
 *
 * Invariants: the verdict is a known class; the reason is NUL-terminated,
 * printable ASCII, empty exactly when the payload is accepted, and the
 * same verdict comes back without a reason buffer; only `size` bytes are
 * read (ASan: the input buffer is exactly that long); an accepted payload
 * is within the size limit and is, for json-c in strict mode, an object
 * whose members have the accepted types and ranges.
 */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW INT64_C(1700000000000)
#define SKEW INT64_C(300000)

static void check_reason(const char *reason, size_t len, int verdict)
{
	if(memchr(reason, '\0', len) == NULL) abort();
	for(const char *r = reason; *r; r++){
		if(*r < 0x20 || *r > 0x7e) abort();
	}
	if((verdict == JW_PV_OK) != (reason[0] == '\0')) abort();
}

static double number_of(json_object *o, const char *key, bool *present)
{
	json_object *v;
	*present = json_object_object_get_ex(o, key, &v);
	if(!*present) return 0;
	if(!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)){
		fprintf(stderr, "accepted, but %s is not a number for json-c\n", key);
		abort();
	}
	return json_object_get_double(v);
}

/* An accepted payload, seen by an independent parser. */
static void cross_check(enum jw_payload_kind kind, const uint8_t *data, size_t size)
{
	json_tokener *tok = json_tokener_new();
	if(tok == NULL) return;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *doc = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	enum json_tokener_error err = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if(doc == NULL){
		/* json-c refuses numbers strtod reports ERANGE for (1e-400); that
		 * is json-c's limit, not invalid JSON */
		if(err == json_tokener_error_parse_number) return;
		fprintf(stderr, "accepted, but json-c says: %s\n", json_tokener_error_desc(err));
		abort();
	}
	if(!json_object_is_type(doc, json_type_object)) abort();
	bool present;
	if(kind == JW_PAYLOAD_LOCATION){
		double lat = number_of(doc, "lat", &present);
		if(!present || !(lat >= -90 && lat <= 90)) abort();
		double lng = number_of(doc, "lng", &present);
		if(!present || !(lng >= -180 && lng <= 180)) abort();
		double h = number_of(doc, "heading", &present);
		if(present && !(h >= 0 && h < 360)) abort();
		double sp = number_of(doc, "speed", &present);
		if(present && !(sp >= 0)) abort();
		json_object *id;
		if(json_object_object_get_ex(doc, "orderId", &id)){
			if(!json_object_is_type(id, json_type_string)) abort();
			int n = json_object_get_string_len(id);
			if(n < 1 || n > JW_ORDER_ID_MAX_BYTES) abort();
		}
	}else{
		json_object *st;
		if(!json_object_object_get_ex(doc, "status", &st) || !json_object_is_type(st, json_type_string)) abort();
		const char *s = json_object_get_string(st);
		if(strcmp(s, "online") != 0 && strcmp(s, "offline") != 0) abort();
	}
	json_object *ts;
	if(!json_object_object_get_ex(doc, "ts", &ts) || !json_object_is_type(ts, json_type_int)) abort();
	int64_t t = json_object_get_int64(ts);
	if(t > NOW + SKEW) abort();
	if(kind == JW_PAYLOAD_LOCATION && t < NOW - SKEW) abort();
	json_object_put(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if(size > 4096) return 0;
	for(int k = 0; k < JW_PAYLOAD_KIND_COUNT; k++){
		char reason[160];
		int v = jw_check_payload((enum jw_payload_kind)k, (const char *)data, size, NOW, SKEW,
				reason, sizeof(reason));
		if(v < JW_PV_OK || v >= JW_PV_COUNT) abort();
		check_reason(reason, sizeof(reason), v);
		if(jw_check_payload((enum jw_payload_kind)k, (const char *)data, size, NOW, SKEW, NULL, 0) != v) abort();
		char tiny[5];
		if(jw_check_payload((enum jw_payload_kind)k, (const char *)data, size, NOW, SKEW, tiny, sizeof(tiny)) != v) abort();
		if(memchr(tiny, '\0', sizeof(tiny)) == NULL) abort();
		if(v == JW_PV_OK){
			if(size > jw_payload_max_bytes((enum jw_payload_kind)k)) abort();
			cross_check((enum jw_payload_kind)k, data, size);
		}
		if(v == JW_PV_TOO_LARGE && size <= jw_payload_max_bytes((enum jw_payload_kind)k)) abort();
	}
	return 0;
}
