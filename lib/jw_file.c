#define _POSIX_C_SOURCE 200809L
#include "jw_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int jw_read_file(const char *path, size_t max_len, char **out, size_t *out_len,
		char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if(f == NULL){
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if(buf == NULL){
		fclose(f);
		snprintf(errbuf, errlen, "%s: out of memory", path);
		return -1;
	}
	for(;;){
		if(len + 1 >= cap){
			char *nbuf = realloc(buf, cap * 2);
			if(nbuf == NULL){
				free(buf);
				fclose(f);
				snprintf(errbuf, errlen, "%s: out of memory", path);
				return -1;
			}
			buf = nbuf;
			cap *= 2;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if(len > max_len){
			free(buf);
			fclose(f);
			snprintf(errbuf, errlen, "%s: larger than %zu bytes", path, max_len);
			return -1;
		}
		if(n == 0) break;
	}
	int failed = ferror(f);
	fclose(f);
	if(failed){
		free(buf);
		snprintf(errbuf, errlen, "%s: read error", path);
		return -1;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

int jw_load_secret(const char *path, const char *env_name, char **out,
		size_t *out_len, char *errbuf, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;

	if(path != NULL){
		struct stat st;
		if(stat(path, &st) != 0){
			snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		if(st.st_mode & (S_IWGRP | S_IWOTH)){
			snprintf(errbuf, errlen, "%s: secret file is writable by group or others; chmod 600 it", path);
			return -1;
		}
		if(jw_read_file(path, 1 << 20, &buf, &len, errbuf, errlen) != 0) return -1;
		while(len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = '\0';
		if(len == 0){
			free(buf);
			snprintf(errbuf, errlen, "%s: secret file is empty", path);
			return -1;
		}
	}else{
		const char *v = env_name ? getenv(env_name) : NULL;
		if(v == NULL || v[0] == '\0'){
			snprintf(errbuf, errlen, "no secret: set a secret file or the environment variable %s",
					env_name ? env_name : "(none)");
			return -1;
		}
		buf = strdup(v);
		if(buf == NULL){
			snprintf(errbuf, errlen, "out of memory");
			return -1;
		}
		len = strlen(buf);
	}
	*out = buf;
	*out_len = len;
	return 0;
}
