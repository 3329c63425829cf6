/*
 * positions — see positions.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "positions.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct entry {
	struct jwb_position pos;
	UT_hash_handle hh;
};

struct jwb_positions {
	struct entry *map;
};

struct jwb_positions *jwb_positions_new(void)
{
	return calloc(1, sizeof(struct jwb_positions));
}

void jwb_positions_clear(struct jwb_positions *p)
{
	struct entry *e, *tmp;
	HASH_ITER(hh, p->map, e, tmp) {
		HASH_DEL(p->map, e);
		free(e);
	}
}

void jwb_positions_free(struct jwb_positions *p)
{
	if (!p)
		return;
	jwb_positions_clear(p);
	free(p);
}

size_t jwb_positions_pending(const struct jwb_positions *p)
{
	return HASH_COUNT(p->map);
}

/* driver/{id}/{leaf}: copies the id; returns the leaf or NULL. */
static const char *split_topic(const char *topic, char *id, size_t idlen)
{
	if (strncmp(topic, "driver/", 7) != 0)
		return NULL;
	const char *start = topic + 7, *slash = strchr(start, '/');
	if (!slash || slash == start || (size_t)(slash - start) >= idlen)
		return NULL;
	if (strcmp(slash + 1, "location") != 0 && strcmp(slash + 1, "presence") != 0)
		return NULL;
	memcpy(id, start, (size_t)(slash - start));
	id[slash - start] = '\0';
	return slash + 1;
}

bool jwb_positions_topic(const char *topic)
{
	char id[JWB_ID_MAX + 1];
	return split_topic(topic, id, sizeof(id)) != NULL;
}

static bool number(json_object *o, const char *key, double *out, bool *present)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (present)
			*present = false;
		return present != NULL;   /* optional: fine; required: missing */
	}
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_double(v);
	if (present)
		*present = true;
	return isfinite(*out);
}

static struct entry *entry_for(struct jwb_positions *p, const char *id)
{
	struct entry *e;
	HASH_FIND_STR(p->map, id, e);
	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->pos.driver_id, sizeof(e->pos.driver_id), "%s", id);
	HASH_ADD_STR(p->map, pos.driver_id, e);
	return e;
}

int jwb_positions_message(struct jwb_positions *p, const char *topic, const char *payload, size_t len,
		char *reason, size_t reason_len)
{
	char id[JWB_ID_MAX + 1];
	const char *leaf = split_topic(topic, id, sizeof(id));
	if (!leaf || !jwb_check_id("driverId", id, reason, reason_len)) {
		if (!leaf)
			snprintf(reason, reason_len, "not a driver location or presence topic");
		return -1;
	}
	if (len == 0)
		return 0;   /* a retained clear */
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, payload, (int)len) : NULL;
	bool complete = tok && json_tokener_get_error(tok) == json_tokener_success &&
			json_tokener_get_parse_end(tok) == len;
	json_tokener_free(tok);
	if (!o || !complete || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		snprintf(reason, reason_len, "not a JSON object");
		return -1;
	}
	int rc = -1;
	double ts;
	if (!number(o, "ts", &ts, NULL) || ts < 0 || ts > 9e15) {
		snprintf(reason, reason_len, "ts missing or not epoch milliseconds");
		goto out;
	}
	if (strcmp(leaf, "location") == 0) {
		struct jwb_position q = {0};
		if (!number(o, "lat", &q.lat, NULL) || q.lat < -90 || q.lat > 90 ||
		    !number(o, "lng", &q.lng, NULL) || q.lng < -180 || q.lng > 180) {
			snprintf(reason, reason_len, "lat/lng missing or out of range");
			goto out;
		}
		if (!number(o, "heading", &q.heading, &q.has_heading) ||
		    !number(o, "speed", &q.speed, &q.has_speed) ||
		    !number(o, "accuracy", &q.accuracy, &q.has_accuracy)) {
			snprintf(reason, reason_len, "heading, speed or accuracy is not a number");
			goto out;
		}
		json_object *v;
		if (json_object_object_get_ex(o, "orderId", &v) && json_object_is_type(v, json_type_string) &&
		    json_object_get_string_len(v) <= JWB_ID_MAX)
			snprintf(q.order_id, sizeof(q.order_id), "%s", json_object_get_string(v));
		struct entry *e = entry_for(p, id);
		if (!e) {
			snprintf(reason, reason_len, "out of memory");
			goto out;
		}
		rc = 0;
		if (!e->pos.has_location || (int64_t)ts >= e->pos.ts_ms) {
			e->pos.has_location = true;
			e->pos.lat = q.lat;
			e->pos.lng = q.lng;
			e->pos.has_heading = q.has_heading;
			e->pos.heading = q.heading;
			e->pos.has_speed = q.has_speed;
			e->pos.speed = q.speed;
			e->pos.has_accuracy = q.has_accuracy;
			e->pos.accuracy = q.accuracy;
			memcpy(e->pos.order_id, q.order_id, sizeof(q.order_id));
			e->pos.ts_ms = (int64_t)ts;
			rc = 1;
		}
	} else {
		json_object *v;
		const char *status = json_object_object_get_ex(o, "status", &v) ?
				json_object_get_string(v) : NULL;
		if (!status || (strcmp(status, "online") != 0 && strcmp(status, "offline") != 0)) {
			snprintf(reason, reason_len, "status must be \"online\" or \"offline\"");
			goto out;
		}
		struct entry *e = entry_for(p, id);
		if (!e) {
			snprintf(reason, reason_len, "out of memory");
			goto out;
		}
		rc = 0;
		if (!e->pos.has_presence || (int64_t)ts >= e->pos.presence_ts_ms) {
			e->pos.has_presence = true;
			e->pos.online = strcmp(status, "online") == 0;
			e->pos.presence_ts_ms = (int64_t)ts;
			rc = 1;
		}
	}
out:
	json_object_put(o);
	return rc;
}

struct jwb_position *jwb_positions_snapshot(const struct jwb_positions *p, size_t *n)
{
	*n = HASH_COUNT(p->map);
	struct jwb_position *out = malloc((*n ? *n : 1) * sizeof(*out));
	if (!out) {
		*n = 0;
		return NULL;
	}
	size_t i = 0;
	for (const struct entry *e = p->map; e; e = e->hh.next)
		out[i++] = e->pos;
	return out;
}
