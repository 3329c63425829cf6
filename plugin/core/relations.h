/*
 * relations — the run-time relationship store: tuples
 * (object, relation, subject) such as ("order:42", "party", "customer:7"),
 * pushed by the bridge over $CONTROL, checked by ACL rules.
 *
 * Strings are copied in; the store owns its memory.  jw_rel_check_parts()
 * is on the per-message hot path: no allocation, no I/O.
 *
 * Replace-all sync is mark-and-sweep: jw_rel_sync_begin() opens a new
 * generation, every add (and re-add of an existing tuple) marks its tuple
 * with it, and jw_rel_sync_end() removes every tuple not marked since begin.
 * Normal adds and removes keep working during a sync.
 */
#ifndef JW_RELATIONS_H
#define JW_RELATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JW_REL_FIELD_MAX 255   /* a length fits one byte of the slot */
#define JW_REL_INSTANCE_BYTES 16 /* 128 bits: 32 hex digits */

struct jw_relstore;

/* A piece of a key, for building object/subject strings without copying. */
struct jw_piece {
	const char *ptr;
	size_t len;
};

struct jw_relstore *jw_rel_new(void);
void jw_rel_free(struct jw_relstore *rs);

/* A valid field: 1..JW_REL_FIELD_MAX bytes, no control characters. */
bool jw_rel_field_is_valid(const char *s, size_t len);

/* Add or refresh a tuple.  expires_at is Unix seconds, 0 for never.
 * Returns 0, or -1 on invalid fields or out of memory. */
int jw_rel_add(struct jw_relstore *rs, const char *object, const char *relation,
		const char *subject, int64_t expires_at);

/* Returns true if the tuple existed. */
bool jw_rel_remove(struct jw_relstore *rs, const char *object, const char *relation,
		const char *subject);

/* Remove every tuple of `object`; returns how many. */
size_t jw_rel_remove_object(struct jw_relstore *rs, const char *object);

/* Is the tuple present and unexpired at `now`?  Each of object and subject
 * is given as a list of pieces that are concatenated. */
bool jw_rel_check_parts(const struct jw_relstore *rs, int64_t now,
		const struct jw_piece *object, size_t n_object,
		const char *relation, size_t relation_len,
		const struct jw_piece *subject, size_t n_subject);

bool jw_rel_check(const struct jw_relstore *rs, int64_t now, const char *object,
		const char *relation, const char *subject);

void jw_rel_sync_begin(struct jw_relstore *rs);
/* Returns the number of tuples removed because the sync did not mention them. */
size_t jw_rel_sync_end(struct jw_relstore *rs);
bool jw_rel_sync_active(const struct jw_relstore *rs);
/* How many syncs jw_rel_sync_end() has completed since the store was made
 * (0 at first; a sync_end without a sync in progress does not count). */
uint64_t jw_rel_syncs_completed(const struct jw_relstore *rs);

/* The store's instance id: 2 * JW_REL_INSTANCE_BYTES lowercase hex digits,
 * random, chosen when the store is created and fixed for its life.  The
 * plugin makes one store per broker run, so a new id means the broker
 * restarted and the store started empty.  Owned by the store. */
const char *jw_relstore_instance(const struct jw_relstore *rs);

/* Drop tuples whose expiry is at or before `now`; returns how many. */
size_t jw_rel_expire(struct jw_relstore *rs, int64_t now);

size_t jw_rel_count(const struct jw_relstore *rs);

/* Visit every tuple (order unspecified).  Stop early if fn returns false. */
void jw_rel_foreach(const struct jw_relstore *rs,
		bool (*fn)(const char *object, const char *relation, const char *subject,
			int64_t expires_at, void *arg), void *arg);

#endif
