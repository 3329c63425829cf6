#include "jw_topic.h"

#include <string.h>

bool jw_topic_next_level(const char *topic, size_t topic_len, size_t *pos,
		struct jw_level *out)
{
	if(*pos > topic_len) return false;
	const char *start = topic + *pos;
	const char *slash = memchr(start, '/', topic_len - *pos);
	size_t len = slash ? (size_t)(slash - start) : topic_len - *pos;
	out->ptr = start;
	out->len = len;
	*pos += len + 1; /* past the slash; past the end after the last level */
	return true;
}

const char *jw_filter_strip_share(const char *filter, size_t *len)
{
	static const char prefix[] = "$share/";
	const size_t plen = sizeof(prefix) - 1;

	if(*len < plen || memcmp(filter, prefix, plen) != 0) return filter;
	const char *group = filter + plen;
	const char *slash = memchr(group, '/', *len - plen);
	if(slash == NULL || slash == group) return NULL;
	const char *rest = slash + 1;
	size_t rest_len = *len - (size_t)(rest - filter);
	if(rest_len == 0) return NULL;
	*len = rest_len;
	return rest;
}

bool jw_topic_is_valid_name(const char *topic, size_t len)
{
	if(len == 0 || len > 65535) return false;
	for(size_t i = 0; i < len; i++){
		if(topic[i] == '+' || topic[i] == '#' || topic[i] == '\0') return false;
	}
	return true;
}

bool jw_filter_is_valid(const char *filter, size_t len)
{
	if(len == 0 || len > 65535) return false;
	size_t pos = 0;
	struct jw_level lv;
	while(jw_topic_next_level(filter, len, &pos, &lv)){
		for(size_t i = 0; i < lv.len; i++){
			char c = lv.ptr[i];
			if(c == '\0') return false;
			if((c == '+' || c == '#') && lv.len != 1) return false;
		}
		/* '#' must be the last level */
		if(lv.len == 1 && lv.ptr[0] == '#' && pos <= len) return false;
	}
	return true;
}

static bool level_eq(const struct jw_level *a, const struct jw_level *b)
{
	return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

bool jw_filter_matches(const char *filter, size_t filter_len,
		const char *topic, size_t topic_len)
{
	if(topic_len > 0 && topic[0] == '$' && filter_len > 0
			&& (filter[0] == '+' || filter[0] == '#')){
		return false;
	}
	size_t fpos = 0, tpos = 0;
	struct jw_level f, t;
	for(;;){
		bool has_f = jw_topic_next_level(filter, filter_len, &fpos, &f);
		bool has_t = jw_topic_next_level(topic, topic_len, &tpos, &t);
		if(has_f && f.len == 1 && f.ptr[0] == '#') return true;
		if(!has_f || !has_t) return has_f == has_t;
		if(f.len == 1 && f.ptr[0] == '+') continue;
		if(!level_eq(&f, &t)) return false;
	}
}

bool jw_level_is_safe(const char *value, size_t len, size_t max_len)
{
	if(value == NULL || len == 0 || len > max_len) return false;
	for(size_t i = 0; i < len; i++){
		unsigned char c = (unsigned char)value[i];
		if(c == '/' || c == '+' || c == '#' || c < 0x20 || c == 0x7f) return false;
	}
	return true;
}
