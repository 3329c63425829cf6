/*
 * acl_decide — one access decision against a parsed rule set.
 *
 * The per-message hot path: no allocation, no I/O, no string copies.
 * Captured topic levels are kept as views into the caller's topic string.
 *
 * Rules of the principal's role are tried in file order; the first rule
 * whose access, topic and condition all match decides.  No match: deny.
 *
 * READ and WRITE test a topic name against the rule's pattern.  SUBSCRIBE
 * tests a filter: an allow rule (read or subscribe) applies when the filter
 * could match a topic the rule allows, a deny rule when every topic the
 * filter can match is covered by the rule.  Deliveries are still checked one
 * by one, so a broad allowed subscription ("#") only ever receives what
 * READ allows.
 */
#include "acl_internal.h"

#include <string.h>

#include "jw_topic.h"

struct captures {
	struct jw_level v[JW_ACL_MAX_CAPTURES];
	bool known[JW_ACL_MAX_CAPTURES];   /* false: bound to a wildcard filter level */
	bool set[JW_ACL_MAX_CAPTURES];
};

static bool eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Value of a substitution placeholder for this subject. */
static bool subst_value(const struct seg *s, const struct jw_subject *who,
		const char **v, size_t *vlen)
{
	switch(s->kind){
		case SEG_SUB: *v = who->sub; *vlen = who->sub_len; return true;
		case SEG_ROLE: *v = who->role; *vlen = who->role_len; return true;
		case SEG_CLIENTID:
			*v = who->client_id; *vlen = who->client_id_len;
			return who->client_id != NULL;
		default: return false;
	}
}

static bool bind_capture(struct captures *c, uint8_t idx, const struct jw_level *lv, bool known)
{
	if(c->set[idx]){
		/* the same capture twice in a pattern must see the same value */
		if(!c->known[idx] || !known) return true;
		return eq(c->v[idx].ptr, c->v[idx].len, lv->ptr, lv->len);
	}
	c->set[idx] = true;
	c->known[idx] = known;
	c->v[idx] = *lv;
	return true;
}

static bool is_wild(const struct jw_level *lv, char w)
{
	return lv->len == 1 && lv->ptr[0] == w;
}

/* Does one pattern level accept one concrete topic level? */
static bool seg_accepts(const struct seg *s, const struct jw_level *lv,
		const struct jw_subject *who, struct captures *caps)
{
	const char *v;
	size_t vlen;
	switch(s->kind){
		case SEG_LITERAL: return eq(s->text, s->len, lv->ptr, lv->len);
		case SEG_PLUS: return true;
		case SEG_CAPTURE: return bind_capture(caps, s->capture, lv, true);
		case SEG_HASH: return true;
		default:
			return subst_value(s, who, &v, &vlen) && eq(v, vlen, lv->ptr, lv->len);
	}
}

/* Topic name against pattern (READ, WRITE). */
static bool match_topic(const struct jw_rule *r, const char *topic, size_t len,
		const struct jw_subject *who, struct captures *caps)
{
	if(len > 0 && topic[0] == '$' && r->n_segs > 0){
		enum seg_kind k = r->segs[0].kind;
		if(k == SEG_PLUS || k == SEG_HASH || k == SEG_CAPTURE) return false;
	}
	size_t pos = 0;
	struct jw_level lv;
	for(size_t i = 0; i < r->n_segs; i++){
		const struct seg *s = &r->segs[i];
		if(s->kind == SEG_HASH) return true;   /* also matches the parent level */
		if(!jw_topic_next_level(topic, len, &pos, &lv)) return false;
		if(!seg_accepts(s, &lv, who, caps)) return false;
	}
	return pos > len;   /* the topic has no levels left */
}

/*
 * Filter against pattern (SUBSCRIBE).  `cover` false: could they match a
 * common topic (for allow rules)?  `cover` true: is every topic of the filter
 * matched by the pattern (for deny rules)?
 */
static bool match_filter(const struct jw_rule *r, const char *filter, size_t len,
		const struct jw_subject *who, struct captures *caps, bool cover)
{
	bool filter_wild_first = len > 0 && (filter[0] == '+' || filter[0] == '#');
	bool pattern_wild_first = r->n_segs > 0 && (r->segs[0].kind == SEG_PLUS
			|| r->segs[0].kind == SEG_HASH || r->segs[0].kind == SEG_CAPTURE);
	/* '$' topics are never matched by a leading wildcard, on either side */
	if(len > 0 && filter[0] == '$' && pattern_wild_first) return false;
	if(filter_wild_first && r->n_segs > 0 && r->segs[0].kind == SEG_LITERAL
			&& r->segs[0].len > 0 && r->segs[0].text[0] == '$'){
		return false;
	}

	size_t pos = 0;
	struct jw_level lv;
	for(size_t i = 0; i < r->n_segs; i++){
		const struct seg *s = &r->segs[i];
		if(s->kind == SEG_HASH) return true;
		if(!jw_topic_next_level(filter, len, &pos, &lv)) return false;
		if(is_wild(&lv, '#')){
			/* the filter takes every deeper topic: the pattern only covers that
			 * with its own '#', handled above */
			return !cover;
		}
		if(is_wild(&lv, '+')){
			if(s->kind == SEG_PLUS) continue;
			if(s->kind == SEG_CAPTURE){
				if(cover) return false;     /* a wildcard is not one object */
				bind_capture(caps, s->capture, &lv, false);
				continue;
			}
			if(cover) return false;
			continue;                   /* '+' can take any literal or value */
		}
		if(!seg_accepts(s, &lv, who, caps)) return false;
	}
	if(pos <= len){
		/* filter has more levels; only a trailing "/#" of the filter still
		 * overlaps (matching the parent), and it is not covered */
		if(!jw_topic_next_level(filter, len, &pos, &lv)) return true;
		return !cover && is_wild(&lv, '#') && pos > len;
	}
	return true;
}

/* Build the condition's object from the template and look the tuple up.
 * Returns 1 holds, 0 does not, -1 unknown (a capture bound to a wildcard). */
static int condition_holds(const struct jw_rule *r, const struct jw_relstore *rels, int64_t now,
		const struct jw_subject *who, const struct captures *caps)
{
	struct jw_piece obj[JW_TMPL_MAX_PIECES];
	for(size_t i = 0; i < r->n_object; i++){
		const struct tmpl_piece *pc = &r->object[i];
		switch(pc->kind){
			case SEG_LITERAL: obj[i].ptr = pc->text; obj[i].len = pc->len; break;
			case SEG_CAPTURE:
				if(!caps->set[pc->capture] || !caps->known[pc->capture]) return -1;
				obj[i].ptr = caps->v[pc->capture].ptr;
				obj[i].len = caps->v[pc->capture].len;
				break;
			case SEG_SUB: obj[i].ptr = who->sub; obj[i].len = who->sub_len; break;
			case SEG_ROLE: obj[i].ptr = who->role; obj[i].len = who->role_len; break;
			case SEG_CLIENTID:
				if(who->client_id == NULL) return 0;
				obj[i].ptr = who->client_id; obj[i].len = who->client_id_len;
				break;
			default: return 0;
		}
	}
	/* the subject of every relation is the principal, "{role}:{sub}" */
	const struct jw_piece subj[3] = {
		{who->role, who->role_len}, {":", 1}, {who->sub, who->sub_len}};
	return jw_rel_check_parts(rels, now, obj, r->n_object, r->relation, r->relation_len,
			subj, 3) ? 1 : 0;
}

static int role_slot(const struct jw_acl *acl, const struct jw_subject *who)
{
	for(size_t i = 0; i < acl->n_roles; i++){
		const char *name = acl->roles[i];
		/* who->role is a (pointer, length) view: compare lengths first, so a
		 * view with a NUL inside never makes us read past `name` */
		if(acl->role_len[i] == who->role_len && memcmp(name, who->role, who->role_len) == 0){
			return (int)i;
		}
	}
	return (int)acl->n_roles;   /* only "role *" rules apply */
}

enum jw_decision jw_acl_decide(const struct jw_acl *acl, const struct jw_relstore *rels,
		int64_t now, const struct jw_subject *who, enum jw_access access,
		const char *topic, size_t topic_len, const struct jw_rule **decided_by)
{
	if(decided_by) *decided_by = NULL;
	if(acl == NULL) return JW_DENY;

	int slot = role_slot(acl, who);
	const uint32_t *idx = acl->role_rules[slot];
	size_t n = acl->role_rule_count[slot];
	bool subscribe = access == JW_ACCESS_SUBSCRIBE;
	/* a read rule also governs subscriptions */
	unsigned wanted = subscribe ? (JW_ACCESS_SUBSCRIBE | JW_ACCESS_READ) : (unsigned)access;

	for(size_t k = 0; k < n; k++){
		const struct jw_rule *r = &acl->rules[idx[k]];
		if((r->access & wanted) == 0) continue;

		struct captures caps;
		memset(caps.set, 0, sizeof(caps.set));
		bool matched = subscribe
			? match_filter(r, topic, topic_len, who, &caps, !r->allow)
			: match_topic(r, topic, topic_len, who, &caps);
		if(!matched) continue;
		if(r->has_condition){
			int held = condition_holds(r, rels, now, who, &caps);
			/* unknown (wildcard filter): an allow may still match some topic,
			 * a deny does not cover the whole filter */
			if(held == 0 || (held < 0 && !r->allow)) continue;
		}
		if(decided_by) *decided_by = r;
		return r->allow ? JW_ALLOW : JW_DENY;
	}
	return JW_DENY;
}
