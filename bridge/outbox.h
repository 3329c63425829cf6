/*
 * outbox — the bridge's PostgreSQL side: one connection, blocking calls
 * (the database is the bridge's only buffer, and each call is one short
 * statement), every failure described in errbuf.
 *
 *   read:   the oldest outbox rows not already held by the bridge
 *   delete: rows the broker acknowledged, in one statement per batch
 *   dead letter: a bad row moves to jetwire.dead_letter with its reason
 *   wake-up: LISTEN jetwire_outbox + the armed flag (docs/capture.md)
 *   resync: a REPEATABLE READ snapshot read through a cursor, in batches
 */
#ifndef JWB_OUTBOX_H
#define JWB_OUTBOX_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan.h"

struct jwb_db;

/* Connect, set the session up (UTC, ISO dates), apply the migrations if
 * `migrate`, LISTEN.  NULL with errbuf on failure. */
struct jwb_db *jwb_db_connect(const char *conninfo, bool migrate, char *errbuf, size_t errlen);
void jwb_db_close(struct jwb_db *db);
int jwb_db_socket(const struct jwb_db *db);
bool jwb_db_ok(const struct jwb_db *db);

/* Read pending notifications; returns how many arrived, -1 if the
 * connection broke (errbuf). */
int jwb_db_drain_notifies(struct jwb_db *db, char *errbuf, size_t errlen);

/* A batch of outbox rows, id order, skipping the `n_held` ids the bridge
 * holds already.  The changes point into the result: valid until
 * jwb_batch_free(). */
struct jwb_batch {
	PGresult *res;
	struct jwb_change *changes;
	size_t n;
};
int jwb_db_read(struct jwb_db *db, const int64_t *held, size_t n_held, int limit,
		struct jwb_batch *out, char *errbuf, size_t errlen);
void jwb_batch_free(struct jwb_batch *b);

/* Delete acknowledged rows. */
int jwb_db_delete(struct jwb_db *db, const int64_t *ids, size_t n, char *errbuf, size_t errlen);

/* Move one row to jetwire.dead_letter with `reason` (one statement). */
int jwb_db_dead_letter(struct jwb_db *db, int64_t id, const char *reason, char *errbuf, size_t errlen);

/* Drop the rows of a TRUNCATE marker (the resync that follows covers it). */

/* Set jetwire.wakeup.armed.  When arming, *xmax (may be NULL) receives
 * the xmax of a snapshot taken after the commit: once every transaction
 * below it has ended (jwb_db_passed), a writer that did not notify has
 * committed and one more read finds its rows. */
int jwb_db_set_armed(struct jwb_db *db, bool armed, uint64_t *xmax, char *errbuf, size_t errlen);
int jwb_db_passed(struct jwb_db *db, uint64_t xmax, bool *passed, char *errbuf, size_t errlen);

/* Driver details for the ids (a registered driver table; none: all unknown). */
struct jwb_drivers;
int jwb_db_drivers(struct jwb_db *db, const char *const *ids, size_t n, struct jwb_drivers **out,
		char *errbuf, size_t errlen);
bool jwb_drivers_lookup(void *drivers, const char *driver_id, struct jwb_driver_info *out);
void jwb_drivers_free(struct jwb_drivers *d);

/* Tracker removals a batch may make (jwb_plan_tracker_candidates), and
 * which of them another active order keeps (jetwire.tracker_keep_sql()). */
struct jwb_tracker_set {
	char **order_ids, **driver_ids, **kinds, **subject_ids;
	size_t n, cap;
	PGresult *kept;            /* rows (order_id, driver_id, subject) */
};
void jwb_tracker_set_add(void *set, const char *order_id, const char *driver_id, const char *subject);
int jwb_db_trackers_kept(struct jwb_db *db, struct jwb_tracker_set *set, char *const *terminal,
		size_t n_terminal, char *errbuf, size_t errlen);
bool jwb_tracker_set_kept(void *set, const char *order_id, const char *driver_id, const char *subject);
void jwb_tracker_set_clear(struct jwb_tracker_set *set);

/* Write driver positions/presence (latest wins by the driver's timestamp),
 * one statement; with `history`, also append the locations to the history
 * table.  And trim the history to `retention_s`. */
struct jwb_position;
int jwb_db_store_positions(struct jwb_db *db, const struct jwb_position *pos, size_t n, bool history,
		char *errbuf, size_t errlen);
int jwb_db_trim_history(struct jwb_db *db, int retention_s, int64_t *deleted, char *errbuf, size_t errlen);

/* For each of n merchants (one per order to offer; repeats allowed): the
 * online, available drivers near its pickup point, at most max_drivers,
 * in one query (jetwire.offers_sql()): rows idx (1-based position in
 * merchant_ids), driver_id, distance_km, pickup_lat, pickup_lng, by idx then
 * nearest first.  *res NULL when no merchant table is registered (caller
 * PQclear()s it otherwise). */
int jwb_db_offers(struct jwb_db *db, const char *const *merchant_ids, size_t n_merchants, double radius_km,
		int max_drivers, int max_position_age, char *const *availability, size_t n_availability,
		PGresult **res, char *errbuf, size_t errlen);

/* Backlog: rows waiting and the age of the oldest, in seconds. */
int jwb_db_backlog(struct jwb_db *db, int64_t *rows, double *oldest_age_s, char *errbuf, size_t errlen);

/* Resync: seed missing versions, open the snapshot and its cursor over
 * active orders (and those ended within terminal_expiry). *empty = nothing
 * is captured. */
int jwb_db_resync_open(struct jwb_db *db, char *const *terminal, size_t n_terminal,
		int terminal_expiry, bool *empty, char *errbuf, size_t errlen);
/* The next batch of orders; n = 0 at the end.  Points into the result. */
struct jwb_state_batch {
	PGresult *res;
	struct jwb_order_state *orders;
	size_t n;
};
int jwb_db_resync_fetch(struct jwb_db *db, int limit, struct jwb_state_batch *out,
		char *errbuf, size_t errlen);
void jwb_state_batch_free(struct jwb_state_batch *b);
/* End the snapshot (commit, or roll back after a failure). */
int jwb_db_resync_close(struct jwb_db *db, char *errbuf, size_t errlen);

#endif
