#include "rate_limit.h"

#include <stdio.h>

#define NANO INT64_C(1000000000)

int jw_rate_parse(const char *text, size_t len, struct jw_rate *out)
{
	if(len == 3 && text[0] == 'o' && text[1] == 'f' && text[2] == 'f'){
		out->rate_milli = 0;
		out->burst = 0;
		return 0;
	}
	size_t i = 0;
	uint64_t whole = 0, milli = 0;
	size_t digits = 0, decimals = 0;
	while(i < len && text[i] >= '0' && text[i] <= '9'){
		whole = whole * 10 + (uint64_t)(text[i] - '0');
		if(whole > JW_RATE_MAX_MILLI / 1000) return -1;
		i++;
		digits++;
	}
	if(digits == 0) return -1;
	if(i < len && text[i] == '.'){
		i++;
		while(i < len && text[i] >= '0' && text[i] <= '9'){
			if(++decimals > 3) return -1;
			milli = milli * 10 + (uint64_t)(text[i] - '0');
			i++;
		}
		if(decimals == 0) return -1;
		for(size_t d = decimals; d < 3; d++) milli *= 10;
	}
	if(i >= len || text[i] != '/') return -1;
	i++;
	uint64_t burst = 0;
	digits = 0;
	while(i < len && text[i] >= '0' && text[i] <= '9'){
		burst = burst * 10 + (uint64_t)(text[i] - '0');
		if(burst > JW_BURST_MAX) return -1;
		i++;
		digits++;
	}
	if(digits == 0 || i != len) return -1;
	uint64_t rate = whole * 1000 + milli;
	if(rate == 0 || rate > JW_RATE_MAX_MILLI || burst == 0) return -1;
	out->rate_milli = (uint32_t)rate;
	out->burst = (uint32_t)burst;
	return 0;
}

void jw_rate_format(const struct jw_rate *r, char *buf, size_t buflen)
{
	if(r->rate_milli == 0){
		snprintf(buf, buflen, "off");
	}else if(r->rate_milli % 1000 == 0){
		snprintf(buf, buflen, "%u/%u", (unsigned)(r->rate_milli / 1000), (unsigned)r->burst);
	}else{
		unsigned frac = r->rate_milli % 1000;
		int width = frac % 100 == 0 ? 1 : frac % 10 == 0 ? 2 : 3;
		unsigned shown = width == 1 ? frac / 100 : width == 2 ? frac / 10 : frac;
		snprintf(buf, buflen, "%u.%0*u/%u", (unsigned)(r->rate_milli / 1000), width, shown,
				(unsigned)r->burst);
	}
}

void jw_bucket_init(struct jw_bucket *b, const struct jw_rate *r, int64_t now_ns)
{
	b->rate = *r;
	b->level = (int64_t)r->burst * NANO;
	b->last_ns = now_ns;
}

bool jw_bucket_take(struct jw_bucket *b, int64_t now_ns)
{
	if(b->rate.rate_milli == 0) return true;
	int64_t cap = (int64_t)b->rate.burst * NANO;
	int64_t dt = now_ns - b->last_ns;
	if(dt > 0){
		/* time to fill the bucket from empty: beyond it, the bucket is full
		 * (and rate * dt stays below 2^63: rate_milli * fill <= burst * 1e12) */
		int64_t fill_ns = cap / (int64_t)b->rate.rate_milli * 1000;
		if(dt >= fill_ns){
			b->level = cap;
		}else{
			b->level += (int64_t)b->rate.rate_milli * dt / 1000;
			if(b->level > cap) b->level = cap;
		}
		b->last_ns = now_ns;
	}
	if(b->level < NANO) return false;
	b->level -= NANO;
	return true;
}
