#define _DEFAULT_SOURCE   /* madvise, getrandom, clock_gettime */
#include "relations.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/*
 * Open addressing with linear probing over 64-byte slots, one cache line
 * each.  A tuple's key "object\0relation\0subject" is stored in the slot
 * itself when it fits (ids of typical length do), so a lookup costs one
 * cache miss; longer keys live in a heap copy the slot points to.
 *
 * The hash is seeded per store from getrandom(): topic levels that reach a
 * lookup come from clients, and an unseeded hash would let them aim at one
 * probe chain.
 */

#define KEY_MAX (3 * JW_REL_FIELD_MAX + 2)
#define INLINE_KEY 45
#define HUGE_PAGE (2u << 20)

struct rel_slot {
	uint32_t hash;          /* 0 marks an empty slot */
	uint32_t generation;
	int64_t expires_at;
	uint8_t object_len, relation_len, subject_len;
	/* the key itself, or (memcpy'd, unaligned) a pointer to its heap copy:
	 * 45 bytes hold "driver:1234567\0tracker\0customer:1234567890" */
	char key[INLINE_KEY];
};

_Static_assert(sizeof(struct rel_slot) == 64, "a slot is one cache line");

struct jw_relstore {
	struct rel_slot *slots;
	size_t cap;             /* power of two */
	size_t count;
	uint64_t seed;
	uint32_t generation;
	bool syncing;
	/* Below: never read by lookups, kept after the fields they use. */
	uint64_t syncs_completed;
	char instance[2 * JW_REL_INSTANCE_BYTES + 1];   /* lowercase hex, NUL-terminated */
};

/* A key being looked up or added, laid out like a stored one. */
struct probe {
	char key[KEY_MAX];
	size_t len;
	uint8_t object_len, relation_len, subject_len;
	uint32_t hash;
};

static uint64_t mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint32_t hash_bytes(const char *p, size_t n, uint64_t seed)
{
	uint64_t h = seed ^ mix((uint64_t)n, 0x9e3779b97f4a7c15ULL);
	while(n >= 8){
		uint64_t w;
		memcpy(&w, p, 8);
		h = mix(h ^ w, 0xbf58476d1ce4e5b9ULL);
		p += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, p, n);
	h = mix(h ^ w, 0x94d049bb133111ebULL);
	uint32_t h32 = (uint32_t)(h ^ (h >> 32));
	return h32 ? h32 : 1;
}

static size_t key_len(const struct rel_slot *s)
{
	return (size_t)s->object_len + s->relation_len + s->subject_len + 2;
}

static char *heap_key(const struct rel_slot *s)
{
	char *p;
	memcpy(&p, s->key, sizeof(p));
	return p;
}

static const char *slot_key(const struct rel_slot *s)
{
	return key_len(s) <= INLINE_KEY ? s->key : heap_key(s);
}

/* Concatenate pieces into the probe; false if a field is too long to exist. */
static bool append(struct probe *pr, const struct jw_piece *p, size_t n, uint8_t *field_len)
{
	size_t start = pr->len;
	for(size_t i = 0; i < n; i++){
		if(pr->len + p[i].len > start + JW_REL_FIELD_MAX) return false;
		memcpy(pr->key + pr->len, p[i].ptr, p[i].len);
		pr->len += p[i].len;
	}
	*field_len = (uint8_t)(pr->len - start);
	return true;
}

static bool probe_build(struct probe *pr, const struct jw_relstore *rs,
		const struct jw_piece *obj, size_t n_obj, const char *rel, size_t rel_len,
		const struct jw_piece *subj, size_t n_subj)
{
	const struct jw_piece r = {rel, rel_len};
	pr->len = 0;
	if(!append(pr, obj, n_obj, &pr->object_len)) return false;
	pr->key[pr->len++] = '\0';
	if(!append(pr, &r, 1, &pr->relation_len)) return false;
	pr->key[pr->len++] = '\0';
	if(!append(pr, subj, n_subj, &pr->subject_len)) return false;
	pr->hash = hash_bytes(pr->key, pr->len, rs->seed);
	return true;
}

static bool slot_matches(const struct rel_slot *s, const struct probe *pr)
{
	return s->hash == pr->hash && s->object_len == pr->object_len
		&& s->relation_len == pr->relation_len && s->subject_len == pr->subject_len
		&& memcmp(slot_key(s), pr->key, pr->len) == 0;
}

/* Index of the matching slot, or of the empty slot where it would go. */
static size_t find_slot(const struct jw_relstore *rs, const struct probe *pr)
{
	size_t mask = rs->cap - 1;
	size_t i = (size_t)pr->hash & mask;
	while(rs->slots[i].hash != 0 && !slot_matches(&rs->slots[i], pr)){
		i = (i + 1) & mask;
	}
	return i;
}

static struct rel_slot *alloc_slots(size_t cap)
{
	size_t bytes = cap * sizeof(struct rel_slot);
	size_t align = bytes >= HUGE_PAGE ? HUGE_PAGE : 64;
	struct rel_slot *s = aligned_alloc(align, bytes);
	if(s == NULL) return NULL;
	/* Lookups land anywhere in the table: huge pages spare them a TLB miss
	 * on top of the cache miss.  Only a hint; failure is harmless. */
	if(align == HUGE_PAGE) (void)madvise(s, bytes, MADV_HUGEPAGE);
	memset(s, 0, bytes);
	return s;
}

/* splitmix64's finalizer: a bijective 64-bit mixer. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * The store's instance id: 128 random bits from getrandom(2) (flags 0: the
 * urandom source, blocking only until the kernel's pool is first
 * initialised), written as 32 lowercase hex digits.  It tells a client that
 * talks to the broker again whether this is still the same store or a new
 * one, i.e. whether the broker (and with it the plugin) restarted.
 *
 * If getrandom fails (ENOSYS on an old kernel, a seccomp filter, EINTR), the
 * id is derived instead from CLOCK_REALTIME in nanoseconds, getpid() and the
 * store's address, run through mix64() (splitmix64).  Not secret and not
 * unguessable, but it still differs between two broker runs, which is all
 * the id is for: a restart comes with a new clock reading, and usually a new
 * pid and address too.
 */
static void choose_instance(struct jw_relstore *rs)
{
	unsigned char id[JW_REL_INSTANCE_BYTES];
	if(getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)){
		struct timespec ts = {0, 0};
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		uint64_t state = mix64(ns);
		state = mix64(state ^ (uint64_t)getpid());
		state = mix64(state ^ (uint64_t)(uintptr_t)rs);
		for(size_t i = 0; i < sizeof(id); i += 8){
			state += 0x9e3779b97f4a7c15ULL;   /* splitmix64: one output per step */
			uint64_t out = mix64(state);
			memcpy(id + i, &out, 8);
		}
	}
	static const char hex[] = "0123456789abcdef";
	for(size_t i = 0; i < sizeof(id); i++){
		rs->instance[2 * i] = hex[id[i] >> 4];
		rs->instance[2 * i + 1] = hex[id[i] & 15];
	}
	rs->instance[2 * sizeof(id)] = '\0';
}

struct jw_relstore *jw_rel_new(void)
{
	struct jw_relstore *rs = calloc(1, sizeof(*rs));
	if(rs == NULL) return NULL;
	if(getrandom(&rs->seed, sizeof(rs->seed), 0) != (ssize_t)sizeof(rs->seed)){
		rs->seed = (uint64_t)(uintptr_t)rs ^ 0x2545f4914f6cdd1dULL;   /* no entropy: still seeded per process */
	}
	choose_instance(rs);
	rs->cap = 1024;
	rs->slots = alloc_slots(rs->cap);
	if(rs->slots == NULL){
		free(rs);
		return NULL;
	}
	return rs;
}

static void slot_release(struct rel_slot *s)
{
	if(s->hash != 0 && key_len(s) > INLINE_KEY) free(heap_key(s));
	memset(s, 0, sizeof(*s));
}

void jw_rel_free(struct jw_relstore *rs)
{
	if(rs == NULL) return;
	for(size_t i = 0; i < rs->cap; i++) slot_release(&rs->slots[i]);
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
	struct rel_slot *ns = alloc_slots(ncap);
	if(ns == NULL) return -1;
	for(size_t i = 0; i < rs->cap; i++){
		if(rs->slots[i].hash == 0) continue;
		size_t j = (size_t)rs->slots[i].hash & (ncap - 1);
		while(ns[j].hash != 0) j = (j + 1) & (ncap - 1);
		ns[j] = rs->slots[i];   /* a heap key moves with its pointer */
	}
	free(rs->slots);
	rs->slots = ns;
	rs->cap = ncap;
	return 0;
}

static bool probe_from_strings(struct probe *pr, const struct jw_relstore *rs,
		const char *object, const char *relation, const char *subject)
{
	struct jw_piece o = {object, strlen(object)}, s = {subject, strlen(subject)};
	return probe_build(pr, rs, &o, 1, relation, strlen(relation), &s, 1);
}

int jw_rel_add(struct jw_relstore *rs, const char *object, const char *relation,
		const char *subject, int64_t expires_at)
{
	if(!jw_rel_field_is_valid(object, strlen(object)) || !jw_rel_field_is_valid(relation, strlen(relation))
			|| !jw_rel_field_is_valid(subject, strlen(subject))){
		return -1;
	}
	if((rs->count + 1) * 10 > rs->cap * 7 && grow(rs) != 0) return -1;

	struct probe pr;
	if(!probe_from_strings(&pr, rs, object, relation, subject)) return -1;
	size_t i = find_slot(rs, &pr);
	struct rel_slot *s = &rs->slots[i];
	if(s->hash == 0){
		if(pr.len > INLINE_KEY){
			char *copy = malloc(pr.len);
			if(copy == NULL) return -1;
			memcpy(copy, pr.key, pr.len);
			memcpy(s->key, &copy, sizeof(copy));
		}else{
			memcpy(s->key, pr.key, pr.len);
		}
		s->hash = pr.hash;
		s->object_len = pr.object_len;
		s->relation_len = pr.relation_len;
		s->subject_len = pr.subject_len;
		rs->count++;
	}
	s->expires_at = expires_at;
	s->generation = rs->generation;
	return 0;
}

/* Linear-probing deletion with backward shift: no tombstones, so lookups
 * stay short however many removes happen. */
static void delete_slot(struct jw_relstore *rs, size_t i)
{
	size_t mask = rs->cap - 1;
	slot_release(&rs->slots[i]);
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
			memset(&rs->slots[j], 0, sizeof(rs->slots[j]));
			i = j;
		}
	}
}

bool jw_rel_remove(struct jw_relstore *rs, const char *object, const char *relation,
		const char *subject)
{
	struct probe pr;
	if(!probe_from_strings(&pr, rs, object, relation, subject)) return false;
	size_t i = find_slot(rs, &pr);
	if(rs->slots[i].hash == 0) return false;
	delete_slot(rs, i);
	return true;
}

/* Remove every slot for which `pred` holds.  Deleting shifts later entries
 * back into the current index, so the index is re-examined after a delete;
 * an entry shifted across the wrap-around to the start is caught by a
 * second pass. */
static size_t remove_where(struct jw_relstore *rs,
		bool (*pred)(const struct rel_slot *s, const void *arg), const void *arg)
{
	size_t removed = 0;
	for(int pass = 0; pass < 2; pass++){
		for(size_t i = 0; i < rs->cap; ){
			if(rs->slots[i].hash != 0 && pred(&rs->slots[i], arg)){
				delete_slot(rs, i);
				removed++;
			}else{
				i++;
			}
		}
	}
	return removed;
}

static bool object_is(const struct rel_slot *s, const void *arg)
{
	const char *object = arg;
	return strlen(object) == s->object_len && memcmp(slot_key(s), object, s->object_len) == 0;
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
	struct probe pr;
	if(!probe_build(&pr, rs, object, n_object, relation, relation_len, subject, n_subject)) return false;
	const struct rel_slot *s = &rs->slots[find_slot(rs, &pr)];
	if(s->hash == 0) return false;
	return s->expires_at == 0 || s->expires_at > now;
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

static bool older_generation(const struct rel_slot *s, const void *arg)
{
	return s->generation != *(const uint32_t *)arg;
}

size_t jw_rel_sync_end(struct jw_relstore *rs)
{
	if(!rs->syncing) return 0;
	rs->syncing = false;
	rs->syncs_completed++;
	return remove_where(rs, older_generation, &rs->generation);
}

uint64_t jw_rel_syncs_completed(const struct jw_relstore *rs)
{
	return rs->syncs_completed;
}

const char *jw_relstore_instance(const struct jw_relstore *rs)
{
	return rs->instance;
}

bool jw_rel_sync_active(const struct jw_relstore *rs)
{
	return rs->syncing;
}

static bool expired_by(const struct rel_slot *s, const void *arg)
{
	return s->expires_at != 0 && s->expires_at <= *(const int64_t *)arg;
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
	char buf[KEY_MAX + 1];
	for(size_t i = 0; i < rs->cap; i++){
		const struct rel_slot *s = &rs->slots[i];
		if(s->hash == 0) continue;
		/* the stored key has NULs between its fields: one copy, terminated */
		memcpy(buf, slot_key(s), key_len(s));
		buf[key_len(s)] = '\0';
		const char *o = buf;
		const char *r = o + s->object_len + 1;
		const char *sub = r + s->relation_len + 1;
		if(!fn(o, r, sub, s->expires_at, arg)) return;
	}
}
