/*
 * acl — the jetwire ACL language: parsing a file into an immutable rule set,
 * and deciding one access against it.
 *
 * Ownership: jw_acl_load() returns a rule set owned by the caller
 * (jw_acl_free).  Rules point into it; a `const struct jw_rule *` handed out
 * by jw_acl_decide() lives as long as the rule set.
 *
 * jw_acl_decide() is the per-message hot path: it does no allocation and no
 * I/O.  See docs/acl.md for the language.
 */
#ifndef JW_ACL_H
#define JW_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relations.h"

enum jw_access {
	JW_ACCESS_READ = 1,       /* a message is delivered to the client */
	JW_ACCESS_WRITE = 2,      /* the client publishes */
	JW_ACCESS_SUBSCRIBE = 4,  /* the client subscribes with a filter */
};

enum jw_decision { JW_DENY = 0, JW_ALLOW = 1 };

#define JW_ACL_MAX_CAPTURES 8
#define JW_ACL_MAX_ROLES 16
#define JW_ACL_MAX_INCLUDE_DEPTH 8

struct jw_rule;
struct jw_acl;

/* Who is asking.  role/sub come from the verified token; client_id may be
 * NULL.  Views, not owned. */
struct jw_subject {
	const char *role;
	size_t role_len;
	const char *sub;
	size_t sub_len;
	const char *client_id;
	size_t client_id_len;
};

/* Parse `path` (and its includes).  On error returns NULL and writes
 * "file:line: reason" into errbuf. */
struct jw_acl *jw_acl_load(const char *path, char *errbuf, size_t errlen);

/* Parse ACL text held in memory (`name` is used in messages and to resolve
 * relative includes against the current directory). */
struct jw_acl *jw_acl_parse_string(const char *name, const char *text, size_t len,
		char *errbuf, size_t errlen);

void jw_acl_free(struct jw_acl *acl);

/* Number of rules, and the files read (for reload watching). */
size_t jw_acl_rule_count(const struct jw_acl *acl);
size_t jw_acl_file_count(const struct jw_acl *acl);
const char *jw_acl_file_name(const struct jw_acl *acl, size_t i);

/*
 * Decide `access` for `who` on `topic` (a topic name for READ/WRITE, a filter
 * for SUBSCRIBE, "$share/<group>/" already stripped).  Relations are looked
 * up in `rels` (may be NULL: every relation condition is then false) at time
 * `now`.  If `decided_by` is non-NULL it receives the deciding rule, or NULL
 * when no rule matched (default deny).
 */
enum jw_decision jw_acl_decide(const struct jw_acl *acl, const struct jw_relstore *rels,
		int64_t now, const struct jw_subject *who, enum jw_access access,
		const char *topic, size_t topic_len, const struct jw_rule **decided_by);

/* For explanations: where a rule came from and its text as written. */
const char *jw_rule_file(const struct jw_rule *r);
int jw_rule_line(const struct jw_rule *r);
const char *jw_rule_text(const struct jw_rule *r);

const char *jw_access_name(enum jw_access a);
/* "read", "write", "subscribe"; returns 0 if unknown. */
enum jw_access jw_access_parse(const char *name);

#endif
