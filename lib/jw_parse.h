/*
 * jw_parse — numbers from command-line arguments, all of the string or
 * nothing: no trailing junk, no overflow, within [lo, hi].
 */
#ifndef JW_PARSE_H
#define JW_PARSE_H

#include <stdbool.h>

/* A finite decimal within [lo, hi]; false (and *out untouched) otherwise. */
bool jw_parse_double(const char *s, double lo, double hi, double *out);
/* A base-10 integer within [lo, hi]; false (and *out untouched) otherwise. */
bool jw_parse_long(const char *s, long lo, long hi, long *out);

#endif
