#define _POSIX_C_SOURCE 200809L
#include "relations.h"

#include <stdlib.h>
#include <string.h>

/* One tuple, allocated in one block: "object\0relation\0subject\0". */
struct rel_entry {
	int64_t expires_at;
	uint32_t generation;
	uint16_t object_len, relation_len, subject_len;
	char key[];
};

struct rel_slot {
	uint64_t hash;          /* 0 marks an empty slot */
	struct rel_entry *e;
};

struct jw_relstore {
	struct rel_slot *slots;
	size_t cap;             /* power of two */
	size_t count;
	uint32_t generation;
	bool syncing;
};

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_update(uint64_t h, const char *p, size_t len)
{
	for(size_t i = 0; i < len; i++){
		h ^= (unsigned char)p[i];
		h *= FNV_PRIME;
	}
	return h;
}

static uint64_t finish_hash(uint64_t h)
{
	/* fold high bits down so the low bits used for the index mix well */
	h ^= h >> 29;
	return h ? h : 1;
}

static uint64_t hash_parts(const struct jw_piece *obj, size_t n_obj,
		const char *rel, size_t rel_len, const struct jw_piece *subj, size_t n_subj)
{
	uint64_t h = FNV_OFFSET;
	for(size_t i = 0; i < n_obj; i++) h = fnv_update(h, obj[i].ptr, obj[i].len);
	h = fnv_update(h, "", 1);
	h = fnv_update(h, rel, rel_len);
	h = fnv_update(h, "", 1);
	for(size_t i = 0; i < n_subj; i++) h = fnv_update(h, subj[i].ptr, subj[i].len);
	return finish_hash(h);
}

/* Compare a stored field with a list of pieces. */
static bool field_eq(const char *field, size_t field_len, const struct jw_piece *p, size_t n)
{
	size_t off = 0;
	for(size_t i = 0; i < n; i++){
		if(off + p[i].len > field_len || memcmp(field + off, p[i].ptr, p[i].len) != 0) return false;
		off += p[i].len;
	}
	return off == field_len;
}

static bool entry_eq(const struct rel_entry *e, const struct jw_piece *obj, size_t n_obj,
		const char *rel, size_t rel_len, const struct jw_piece *subj, size_t n_subj)
{
	const char *k = e->key;
	if(!field_eq(k, e->object_len, obj, n_obj)) return false;
	k += e->object_len + 1;
	if(e->relation_len != rel_len || memcmp(k, rel, rel_len) != 0) return false;
	k += e->relation_len + 1;
	return field_eq(k, e->subject_len, subj, n_subj);
}

/* Index of the matching slot, or of the empty slot where it would go. */
static size_t find_slot(const struct jw_relstore *rs, uint64_t h, const struct jw_piece *obj,
		size_t n_obj, const char *rel, size_t rel_len, const struct jw_piece *subj, size_t n_subj)
{
	size_t mask = rs->cap - 1;
	size_t i = (size_t)h & mask;
	while(rs->slots[i].hash != 0){
		if(rs->slots[i].hash == h
				&& entry_eq(rs->slots[i].e, obj, n_obj, rel, rel_len, subj, n_subj)){
			return i;
		}
		i = (i + 1) & mask;
	}
	return i;
}

struct jw_relstore *jw_rel_new(void)
{
	struct jw_relstore *rs = calloc(1, sizeof(*rs));
	if(rs == NULL) return NULL;
	rs->cap = 1024;
	rs->slots = calloc(rs->cap, sizeof(*rs->slots));
	if(rs->slots == NULL){
		free(rs);
		return NULL;
	}
	return rs;
}

void jw_rel_free(struct jw_relstore *rs)
{
	if(rs == NULL) return;
	for(size_t i = 0; i < rs->cap; i++) free(rs->slots[i].e);
	free(rs->slots);
	free(rs);
}

bool jw_rel_field_is_valid(const char *s, size_t len)
{
	if(s == NULL || len == 0 || len > JW_REL_FIELD_MAX) return false;
	for(size_t i = 0; i < len; i++){
		unsigned char c = (unsigned char)s[i];
		if(c < 0x20 || c == 0x7f) return false;
	}
	return true;
}

static int grow(struct jw_relstore *rs)
{
	size_t ncap = rs->cap * 2;
	struct rel_slot *ns = calloc(ncap, sizeof(*ns));
	if(ns == NULL) return -1;
	for(size_t i = 0; i < rs->cap; i++){
		if(rs->slots[i].hash == 0) continue;
		size_t j = (size_t)rs->slots[i].hash & (ncap - 1);
		while(ns[j].hash != 0) j = (j + 1) & (ncap - 1);
		ns[j] = rs->slots[i];
	}
	free(rs->slots);
	rs->slots = ns;
	rs->cap = ncap;
	return 0;
}

int jw_rel_add(struct jw_relstore *rs, const char *object, const char *relation,
		const char *subject, int64_t expires_at)
{
	size_t ol = strlen(object), rl = strlen(relation), sl = strlen(subject);
	if(!jw_rel_field_is_valid(object, ol) || !jw_rel_field_is_valid(relation, rl)
			|| !jw_rel_field_is_valid(subject, sl)){
		return -1;
	}
	if((rs->count + 1) * 10 > rs->cap * 7 && grow(rs) != 0) return -1;

	struct jw_piece o = {object, ol}, s = {subject, sl};
	uint64_t h = hash_parts(&o, 1, relation, rl, &s, 1);
	size_t i = find_slot(rs, h, &o, 1, relation, rl, &s, 1);
	if(rs->slots[i].hash != 0){
		rs->slots[i].e->expires_at = expires_at;
		rs->slots[i].e->generation = rs->generation;
		return 0;
	}
	struct rel_entry *e = malloc(sizeof(*e) + ol + rl + sl + 3);
	if(e == NULL) return -1;
	e->expires_at = expires_at;
	e->generation = rs->generation;
	e->object_len = (uint16_t)ol;
	e->relation_len = (uint16_t)rl;
	e->subject_len = (uint16_t)sl;
	memcpy(e->key, object, ol + 1);
	memcpy(e->key + ol + 1, relation, rl + 1);
	memcpy(e->key + ol + rl + 2, subject, sl + 1);
	rs->slots[i].hash = h;
	rs->slots[i].e = e;
	rs->count++;
	return 0;
}

/* Linear-probing deletion with backward shift: no tombstones, so lookups
 * stay short however many removes happen. */
static void delete_slot(struct jw_relstore *rs, size_t i)
{
	size_t mask = rs->cap - 1;
	free(rs->slots[i].e);
	rs->slots[i].hash = 0;
	rs->slots[i].e = NULL;
	rs->count--;
	size_t j = i;
	for(;;){
		j = (j + 1) & mask;
		if(rs->slots[j].hash == 0) return;
		size_t home = (size_t)rs->slots[j].hash & mask;
		/* move j back into the hole if its home is not in (i, j] */
		bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
		if(!in_range){
			rs->slots[i] = rs->slots[j];
			rs->slots[j].hash = 0;
			rs->slots[j].e = NULL;
			i = j;
		}
	}
}

bool jw_rel_remove(struct jw_relstore *rs, const char *object, const char *relation,
		const char *subject)
{
	struct jw_piece o = {object, strlen(object)}, s = {subject, strlen(subject)};
	size_t rl = strlen(relation);
	uint64_t h = hash_parts(&o, 1, relation, rl, &s, 1);
	size_t i = find_slot(rs, h, &o, 1, relation, rl, &s, 1);
	if(rs->slots[i].hash == 0) return false;
	delete_slot(rs, i);
	return true;
}

/* Remove every slot for which `pred` holds.  Deleting shifts later entries
 * back into the current index, so the index is re-examined after a delete;
 * an entry shifted across the wrap-around to the start is caught by a
 * second pass. */
static size_t remove_where(struct jw_relstore *rs,
		bool (*pred)(const struct rel_entry *e, const void *arg), const void *arg)
{
	size_t removed = 0;
	for(int pass = 0; pass < 2; pass++){
		for(size_t i = 0; i < rs->cap; ){
			if(rs->slots[i].hash != 0 && pred(rs->slots[i].e, arg)){
				delete_slot(rs, i);
				removed++;
			}else{
				i++;
			}
		}
	}
	return removed;
}

static bool object_is(const struct rel_entry *e, const void *arg)
{
	const char *object = arg;
	return strlen(object) == e->object_len && memcmp(e->key, object, e->object_len) == 0;
}

size_t jw_rel_remove_object(struct jw_relstore *rs, const char *object)
{
	return remove_where(rs, object_is, object);
}

bool jw_rel_check_parts(const struct jw_relstore *rs, int64_t now,
		const struct jw_piece *object, size_t n_object,
		const char *relation, size_t relation_len,
		const struct jw_piece *subject, size_t n_subject)
{
	if(rs == NULL || rs->count == 0) return false;
	uint64_t h = hash_parts(object, n_object, relation, relation_len, subject, n_subject);
	size_t i = find_slot(rs, h, object, n_object, relation, relation_len, subject, n_subject);
	if(rs->slots[i].hash == 0) return false;
	int64_t exp = rs->slots[i].e->expires_at;
	return exp == 0 || exp > now;
}

bool jw_rel_check(const struct jw_relstore *rs, int64_t now, const char *object,
		const char *relation, const char *subject)
{
	struct jw_piece o = {object, strlen(object)}, s = {subject, strlen(subject)};
	return jw_rel_check_parts(rs, now, &o, 1, relation, strlen(relation), &s, 1);
}

void jw_rel_sync_begin(struct jw_relstore *rs)
{
	rs->generation++;
	rs->syncing = true;
}

static bool older_generation(const struct rel_entry *e, const void *arg)
{
	return e->generation != *(const uint32_t *)arg;
}

size_t jw_rel_sync_end(struct jw_relstore *rs)
{
	if(!rs->syncing) return 0;
	rs->syncing = false;
	return remove_where(rs, older_generation, &rs->generation);
}

bool jw_rel_sync_active(const struct jw_relstore *rs)
{
	return rs->syncing;
}

static bool expired_by(const struct rel_entry *e, const void *arg)
{
	return e->expires_at != 0 && e->expires_at <= *(const int64_t *)arg;
}

size_t jw_rel_expire(struct jw_relstore *rs, int64_t now)
{
	return remove_where(rs, expired_by, &now);
}

size_t jw_rel_count(const struct jw_relstore *rs)
{
	return rs->count;
}

void jw_rel_foreach(const struct jw_relstore *rs,
		bool (*fn)(const char *object, const char *relation, const char *subject,
			int64_t expires_at, void *arg), void *arg)
{
	for(size_t i = 0; i < rs->cap; i++){
		const struct rel_entry *e = rs->slots[i].e;
		if(e == NULL) continue;
		const char *o = e->key;
		const char *r = o + e->object_len + 1;
		const char *s = r + e->relation_len + 1;
		if(!fn(o, r, s, e->expires_at, arg)) return;
	}
}
