/*
 * service_token — the bridge's own credentials: a `service` JWT minted from
 * the configured key (renewed before it expires), or read from a file that
 * something else keeps fresh.
 */
#ifndef JWB_SERVICE_TOKEN_H
#define JWB_SERVICE_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct jwb_token_source;

/* Load the key (or check the token file) once.  NULL with errbuf. */
struct jwb_token_source *jwb_token_source_new(const struct jwb_config *cfg, char *errbuf, size_t errlen);
void jwb_token_source_free(struct jwb_token_source *ts);

/* A fresh token (caller frees) and its exp (0: none).  NULL with errbuf. */
char *jwb_token_get(struct jwb_token_source *ts, int64_t now_s, int64_t *exp_s, char *errbuf, size_t errlen);

#endif
