/*
 * positions — driver locations and presence received over MQTT, kept
 * latest-per-driver until the bridge writes them to PostgreSQL in one
 * statement per batch (outbox.c, jwb_db_store_positions).  Pure: parsing
 * with json-c, a hash map, no I/O.
 */
#ifndef JWB_POSITIONS_H
#define JWB_POSITIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "payload.h"

struct jwb_position {
	char driver_id[JWB_ID_MAX + 1];
	bool has_location;
	double lat, lng;
	bool has_heading, has_speed, has_accuracy;
	double heading, speed, accuracy;
	char order_id[JWB_ID_MAX + 1];     /* "" when absent */
	int64_t ts_ms;                     /* the location's time */
	bool has_presence;
	bool online;
	int64_t presence_ts_ms;
};

struct jwb_positions;

struct jwb_positions *jwb_positions_new(void);
void jwb_positions_free(struct jwb_positions *p);

/* A message on driver/{id}/location or driver/{id}/presence.  Returns 1 if
 * it is newer than what is held for that driver and was kept, 0 if older
 * (or an empty retained clear: ignored), -1 with a reason if it is not a
 * valid payload or topic. */
int jwb_positions_message(struct jwb_positions *p, const char *topic, const char *payload, size_t len,
		char *reason, size_t reason_len);

/* Drivers held. */
size_t jwb_positions_pending(const struct jwb_positions *p);

/* Copy of everything held (caller frees), without removing it: the caller
 * removes it with jwb_positions_clear() once it is written. */
struct jwb_position *jwb_positions_snapshot(const struct jwb_positions *p, size_t *n);
void jwb_positions_clear(struct jwb_positions *p);

/* Is `topic` driver/{id}/location or driver/{id}/presence? */
bool jwb_positions_topic(const char *topic);

#endif
