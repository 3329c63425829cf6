/*
 * control — the $CONTROL/jetwire/v1 command language (docs/control.md):
 * JSON in, changes to the relation store, JSON response out.  Pure: no
 * broker calls.
 *
 *   {"commands":[{"command":"addRelations","relations":[
 *       {"object":"order:42","relation":"party","subject":"customer:7","ttl":3600}],
 *     "correlationData":"abc"}]}
 *
 * Each command is validated whole before it changes anything: a batch with
 * one bad tuple is refused and changes nothing.
 *
 *   {"commands":[{"command":"status"}]} answers
 *   {"command":"status","instance":"<32 hex>","count":N,"syncing":false,"generation":G}
 * (the store's instance id, see jw_relstore_instance(), and completed syncs).
 */
#ifndef JW_CONTROL_H
#define JW_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "relations.h"

#define JW_CONTROL_MAX_PAYLOAD (64u << 20)

struct jw_control_outcome {
	unsigned commands;     /* commands seen */
	unsigned failed;       /* commands answered with an error */
	size_t added, removed; /* tuples */
	int syncs_completed;
};

/*
 * Apply `payload` to `rs`.  Returns the response document as a new
 * NUL-terminated string owned by the caller (free()), or NULL if out of
 * memory.  A payload that is not a command document still gets a response
 * (with an "error").  `outcome` may be NULL.
 */
char *jw_control_apply(struct jw_relstore *rs, int64_t now, const void *payload, size_t len,
		struct jw_control_outcome *outcome);

#endif
