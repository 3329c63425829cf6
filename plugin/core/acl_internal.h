/*
 * Internal representation of a parsed ACL, shared by acl_parse.c (builds it)
 * and acl_decide.c (reads it).  Nothing outside plugin/core includes this.
 */
#ifndef JW_ACL_INTERNAL_H
#define JW_ACL_INTERNAL_H

#include "acl.h"

enum seg_kind {
	SEG_LITERAL,   /* exact level text */
	SEG_PLUS,      /* '+' */
	SEG_HASH,      /* '#' (always last) */
	SEG_SUB,       /* {sub} */
	SEG_ROLE,      /* {role} */
	SEG_CLIENTID,  /* {clientid} */
	SEG_CAPTURE,   /* {name}: any one level, captured for the condition */
};

struct seg {
	enum seg_kind kind;
	uint8_t capture;       /* index, for SEG_CAPTURE */
	size_t len;            /* for SEG_LITERAL */
	char *text;            /* for SEG_LITERAL, owned */
};

/* An object template such as "order:{order}" is a list of pieces. */
struct tmpl_piece {
	enum seg_kind kind;    /* SEG_LITERAL, SEG_SUB, SEG_ROLE, SEG_CLIENTID, SEG_CAPTURE */
	uint8_t capture;
	size_t len;
	char *text;            /* owned, for SEG_LITERAL */
};

#define JW_TMPL_MAX_PIECES 8

struct jw_rule {
	bool allow;
	unsigned access;              /* enum jw_access bits */
	uint32_t role_mask;           /* bit per acl->roles index; all bits for "role *" */
	struct seg *segs;             /* owned */
	size_t n_segs;
	bool has_condition;
	char *relation;               /* owned */
	size_t relation_len;
	struct tmpl_piece object[JW_TMPL_MAX_PIECES];
	size_t n_object;
	uint8_t n_captures;
	const char *file;             /* points into acl->files */
	int line;
	char *text;                   /* the rule as written, owned */
};

struct jw_acl {
	struct jw_rule *rules;        /* in file order */
	size_t n_rules;
	char *roles[JW_ACL_MAX_ROLES];/* role names seen in "role" lines, owned */
	size_t role_len[JW_ACL_MAX_ROLES]; /* their lengths, so decisions need no strlen */
	size_t n_roles;
	/* Per role: indices into rules, in file order, built after parsing.
	 * Slot n_roles lists the "role *" rules, for a role with no section. */
	uint32_t *role_rules[JW_ACL_MAX_ROLES + 1];
	size_t role_rule_count[JW_ACL_MAX_ROLES + 1];
	char **files;                 /* every file read, owned */
	size_t n_files;
};

#endif
