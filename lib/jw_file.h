/*
 * jw_file — small file and secret loading helpers shared by plugin and bridge.
 */
#ifndef JW_FILE_H
#define JW_FILE_H

#include <stddef.h>

/*
 * Read the whole file at `path` into a new NUL-terminated buffer (*out, owned
 * by the caller, free()), at most `max_len` bytes.  On error returns -1 and
 * writes a one-line reason into errbuf ("<path>: <why>").
 */
int jw_read_file(const char *path, size_t max_len, char **out, size_t *out_len,
		char *errbuf, size_t errlen);

/*
 * Load a secret: from the file `path` if non-NULL (a trailing newline is
 * stripped, and a group/world-writable file is refused), otherwise from the
 * environment variable `env_name`.  The result is a new buffer owned by the
 * caller.  Returns -1 with a reason in errbuf when neither yields a
 * non-empty secret.
 */
int jw_load_secret(const char *path, const char *env_name, char **out,
		size_t *out_len, char *errbuf, size_t errlen);

#endif
