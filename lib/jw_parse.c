#include "jw_parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

bool jw_parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if(errno || end == s || *end || !isfinite(v) || v < lo || v > hi) return false;
	*out = v;
	return true;
}

bool jw_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if(errno || end == s || *end || v < lo || v > hi) return false;
	*out = v;
	return true;
}
