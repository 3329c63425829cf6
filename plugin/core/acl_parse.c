/*
 * acl_parse — the ACL file language (docs/acl.md) into struct jw_acl.
 *
 *   # comment
 *   include <path>                 relative to the including file
 *   role <name>[,<name>...] | *    starts a section
 *   allow|deny <access>[,<access>] <pattern> [if <relation> of <object>]
 *
 * Every error is reported as "file:line: reason" and the whole file is
 * rejected: a half-read policy is never used.
 */
#define _POSIX_C_SOURCE 200809L
#include "acl_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jw_file.h"
#include "jw_topic.h"

#define MAX_ACL_FILE_BYTES (4u << 20)
#define MAX_LINE_TOKENS 8

struct parser {
	struct jw_acl *acl;
	char *errbuf;
	size_t errlen;
	uint32_t section_mask;   /* roles of the current section; 0 = none yet */
	bool in_section;
	int depth;
};

static int fail(struct parser *p, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if(line > 0) snprintf(p->errbuf, p->errlen, "%s:%d: %s", file, line, msg);
	else snprintf(p->errbuf, p->errlen, "%s: %s", file, msg);
	return -1;
}

static int parse_file(struct parser *p, const char *path);

/* A NUL byte is reported on the line it is in, like any other bad byte. */
static int fail_nul(struct parser *p, const char *file, const char *text)
{
	int line = 1;
	for(const char *c = text; *c; c++) if(*c == '\n') line++;
	return fail(p, file, line, "NUL byte in line");
}

static const char *remember_file(struct parser *p, const char *path)
{
	char **nf = realloc(p->acl->files, (p->acl->n_files + 1) * sizeof(*nf));
	if(nf == NULL) return NULL;
	p->acl->files = nf;
	nf[p->acl->n_files] = strdup(path);
	if(nf[p->acl->n_files] == NULL) return NULL;
	return nf[p->acl->n_files++];
}

static bool is_ident(const char *s, size_t len)
{
	if(len == 0 || len > 64) return false;
	if(!(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
	for(size_t i = 1; i < len; i++){
		if(!(isalnum((unsigned char)s[i]) || s[i] == '_')) return false;
	}
	return true;
}

static int role_index(struct parser *p, const char *file, int line, const char *name)
{
	for(size_t i = 0; i < p->acl->n_roles; i++){
		if(strcmp(p->acl->roles[i], name) == 0) return (int)i;
	}
	if(!is_ident(name, strlen(name))){
		return fail(p, file, line, "bad role name '%s' (letters, digits and _ only)", name);
	}
	if(p->acl->n_roles == JW_ACL_MAX_ROLES){
		return fail(p, file, line, "too many roles (at most %d)", JW_ACL_MAX_ROLES);
	}
	p->acl->roles[p->acl->n_roles] = strdup(name);
	if(p->acl->roles[p->acl->n_roles] == NULL) return fail(p, file, line, "out of memory");
	p->acl->role_len[p->acl->n_roles] = strlen(name);
	return (int)p->acl->n_roles++;
}

static int parse_role_line(struct parser *p, const char *file, int line, char **tok, int ntok)
{
	if(ntok != 2) return fail(p, file, line, "expected 'role <name>[,<name>...]' or 'role *'");
	if(strcmp(tok[1], "*") == 0){
		p->section_mask = UINT32_MAX;
		p->in_section = true;
		return 0;
	}
	uint32_t mask = 0;
	char *save = NULL;
	for(char *r = strtok_r(tok[1], ",", &save); r; r = strtok_r(NULL, ",", &save)){
		int idx = role_index(p, file, line, r);
		if(idx < 0) return -1;
		mask |= 1u << idx;
	}
	if(mask == 0) return fail(p, file, line, "expected a role name after 'role'");
	p->section_mask = mask;
	p->in_section = true;
	return 0;
}

/* "{name}" → kind (+ capture index); returns -1 (with error) if malformed. */
static int placeholder_kind(struct parser *p, const char *file, int line, const char *s, size_t len,
		struct jw_rule *rule, char capture_names[][65], enum seg_kind *kind, uint8_t *capture,
		bool define_captures)
{
	if(len < 3 || s[0] != '{' || s[len - 1] != '}') {
		return fail(p, file, line, "malformed placeholder '%.*s'", (int)len, s);
	}
	const char *name = s + 1;
	size_t nlen = len - 2;
	if(!is_ident(name, nlen)){
		return fail(p, file, line, "bad placeholder name '%.*s'", (int)len, s);
	}
	if(nlen == 3 && memcmp(name, "sub", 3) == 0){ *kind = SEG_SUB; return 0; }
	if(nlen == 4 && memcmp(name, "role", 4) == 0){ *kind = SEG_ROLE; return 0; }
	if(nlen == 8 && memcmp(name, "clientid", 8) == 0){ *kind = SEG_CLIENTID; return 0; }
	*kind = SEG_CAPTURE;
	for(uint8_t i = 0; i < rule->n_captures; i++){
		if(strlen(capture_names[i]) == nlen && memcmp(capture_names[i], name, nlen) == 0){
			*capture = i;
			return 0;
		}
	}
	if(!define_captures){
		return fail(p, file, line, "placeholder {%.*s} in the condition is not captured by the topic pattern",
				(int)nlen, name);
	}
	if(rule->n_captures == JW_ACL_MAX_CAPTURES){
		return fail(p, file, line, "too many captures (at most %d)", JW_ACL_MAX_CAPTURES);
	}
	memcpy(capture_names[rule->n_captures], name, nlen);
	capture_names[rule->n_captures][nlen] = '\0';
	*capture = rule->n_captures++;
	return 0;
}

static int parse_pattern(struct parser *p, const char *file, int line, const char *pat,
		struct jw_rule *rule, char capture_names[][65])
{
	size_t plen = strlen(pat);
	if(!jw_filter_is_valid(pat, plen)){
		return fail(p, file, line, "invalid topic pattern '%s' ('+' and '#' must be whole levels, '#' last)", pat);
	}
	size_t n = 1;
	for(size_t i = 0; i < plen; i++) if(pat[i] == '/') n++;
	rule->segs = calloc(n, sizeof(*rule->segs));
	if(rule->segs == NULL) return fail(p, file, line, "out of memory");
	rule->n_segs = n;

	size_t pos = 0, k = 0;
	struct jw_level lv;
	while(jw_topic_next_level(pat, plen, &pos, &lv)){
		struct seg *sg = &rule->segs[k++];
		if(lv.len == 1 && lv.ptr[0] == '+'){
			sg->kind = SEG_PLUS;
		}else if(lv.len == 1 && lv.ptr[0] == '#'){
			sg->kind = SEG_HASH;
		}else if(memchr(lv.ptr, '{', lv.len) || memchr(lv.ptr, '}', lv.len)){
			if(placeholder_kind(p, file, line, lv.ptr, lv.len, rule, capture_names,
						&sg->kind, &sg->capture, true) != 0){
				if(lv.ptr[0] != '{' || lv.ptr[lv.len - 1] != '}'){
					return fail(p, file, line, "placeholder in '%.*s' must be a whole topic level",
							(int)lv.len, lv.ptr);
				}
				return -1;
			}
		}else{
			sg->kind = SEG_LITERAL;
			sg->len = lv.len;
			sg->text = strndup(lv.ptr, lv.len);
			if(sg->text == NULL) return fail(p, file, line, "out of memory");
		}
	}
	return 0;
}

static int parse_template(struct parser *p, const char *file, int line, const char *t,
		struct jw_rule *rule, char capture_names[][65])
{
	size_t len = strlen(t);
	if(!jw_rel_field_is_valid(t, len)) return fail(p, file, line, "bad object '%s'", t);
	size_t i = 0;
	while(i < len){
		if(rule->n_object == JW_TMPL_MAX_PIECES){
			return fail(p, file, line, "object '%s' has too many parts", t);
		}
		struct tmpl_piece *pc = &rule->object[rule->n_object];
		if(t[i] == '{'){
			const char *close = strchr(t + i, '}');
			if(close == NULL) return fail(p, file, line, "unclosed '{' in object '%s'", t);
			size_t plen = (size_t)(close - (t + i)) + 1;
			if(placeholder_kind(p, file, line, t + i, plen, rule, capture_names,
						&pc->kind, &pc->capture, false) != 0){
				return -1;
			}
			i += plen;
		}else{
			size_t j = i;
			while(j < len && t[j] != '{'){
				if(t[j] == '}') return fail(p, file, line, "stray '}' in object '%s'", t);
				j++;
			}
			pc->kind = SEG_LITERAL;
			pc->len = j - i;
			pc->text = strndup(t + i, j - i);
			if(pc->text == NULL) return fail(p, file, line, "out of memory");
			i = j;
		}
		rule->n_object++;
	}
	return 0;
}

static int parse_access(struct parser *p, const char *file, int line, char *list, unsigned *out)
{
	unsigned acc = 0;
	char *save = NULL;
	for(char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)){
		enum jw_access one = jw_access_parse(a);
		if(one == 0){
			return fail(p, file, line, "unknown access '%s' (expected read, write or subscribe)", a);
		}
		acc |= one;
	}
	if(acc == 0) return fail(p, file, line, "expected an access (read, write or subscribe)");
	*out = acc;
	return 0;
}

static void rule_clear(struct jw_rule *r)
{
	for(size_t i = 0; i < r->n_segs; i++) free(r->segs[i].text);
	free(r->segs);
	for(size_t i = 0; i < r->n_object; i++) free(r->object[i].text);
	free(r->relation);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

static int parse_rule_line(struct parser *p, const char *file, int line, char **tok, int ntok,
		const char *raw)
{
	if(!p->in_section){
		return fail(p, file, line, "rule before any 'role' line: start a section with 'role <name>'");
	}
	if(ntok != 3 && ntok != 7){
		return fail(p, file, line, "expected '%s <access> <topic> [if <relation> of <object>]'", tok[0]);
	}
	struct jw_rule rule;
	memset(&rule, 0, sizeof(rule));
	char capture_names[JW_ACL_MAX_CAPTURES][65];

	rule.allow = strcmp(tok[0], "allow") == 0;
	rule.role_mask = p->section_mask;
	rule.file = file;
	rule.line = line;
	if(parse_access(p, file, line, tok[1], &rule.access) != 0) goto err;
	if(parse_pattern(p, file, line, tok[2], &rule, capture_names) != 0) goto err;
	if(ntok == 7){
		if(strcmp(tok[3], "if") != 0 || strcmp(tok[5], "of") != 0){
			fail(p, file, line, "expected 'if <relation> of <object>' after the topic");
			goto err;
		}
		if(!is_ident(tok[4], strlen(tok[4]))){
			fail(p, file, line, "bad relation name '%s' (letters, digits and _ only)", tok[4]);
			goto err;
		}
		rule.has_condition = true;
		rule.relation = strdup(tok[4]);
		if(rule.relation == NULL){ fail(p, file, line, "out of memory"); goto err; }
		rule.relation_len = strlen(tok[4]);
		if(parse_template(p, file, line, tok[6], &rule, capture_names) != 0) goto err;
	}
	/* A capture the condition does not use would silently act as '+': a
	 * typo such as {sud} for {sub} would open the whole level. */
	for(uint8_t c = 0; c < rule.n_captures; c++){
		bool used = false;
		for(size_t i = 0; i < rule.n_object; i++){
			used |= rule.object[i].kind == SEG_CAPTURE && rule.object[i].capture == c;
		}
		if(!used){
			fail(p, file, line, "placeholder {%s} is not {sub}, {role} or {clientid} and no condition uses it"
					" (write '+' for any level)", capture_names[c]);
			goto err;
		}
	}
	rule.text = strdup(raw);
	if(rule.text == NULL){ fail(p, file, line, "out of memory"); goto err; }

	struct jw_rule *nr = realloc(p->acl->rules, (p->acl->n_rules + 1) * sizeof(*nr));
	if(nr == NULL){ fail(p, file, line, "out of memory"); goto err; }
	p->acl->rules = nr;
	nr[p->acl->n_rules++] = rule;
	return 0;
err:
	rule_clear(&rule);
	return -1;
}

static int parse_include(struct parser *p, const char *file, int line, char **tok, int ntok)
{
	if(ntok != 2) return fail(p, file, line, "expected 'include <path>'");
	if(p->depth >= JW_ACL_MAX_INCLUDE_DEPTH){
		return fail(p, file, line, "includes nested deeper than %d (a cycle?)", JW_ACL_MAX_INCLUDE_DEPTH);
	}
	char path[4096];
	const char *inc = tok[1];
	const char *slash = strrchr(file, '/');
	if(inc[0] == '/' || slash == NULL){
		snprintf(path, sizeof(path), "%s", inc);
	}else{
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - file), file, inc);
	}
	/* the included file's errors carry its own name; say where it came from
	 * only if it cannot be opened */
	p->depth++;
	int rc = parse_file(p, path);
	p->depth--;
	size_t plen = strlen(path);
	if(rc != 0 && strncmp(p->errbuf, path, plen) == 0 && strncmp(p->errbuf + plen, ": ", 2) == 0){
		char inner[512];
		snprintf(inner, sizeof(inner), "%s", p->errbuf);
		return fail(p, file, line, "include: %s", inner);
	}
	return rc;
}

static int parse_text(struct parser *p, const char *file, char *text)
{
	int line = 0;
	char *cur = text; /* walk by hand: strtok would merge blank lines and break numbering */
	while(cur != NULL){
		line++;
		char *nl = strchr(cur, '\n');
		if(nl) *nl = '\0';
		char *next = nl ? nl + 1 : NULL;

		size_t llen = strlen(cur);
		if(llen && cur[llen - 1] == '\r') cur[--llen] = '\0';
		for(size_t i = 0; i < llen; i++){
			unsigned char c = (unsigned char)cur[i];
			if((c < 0x20 && c != '\t') || c == 0x7f) return fail(p, file, line, "control character in line");
		}
		/* Comments are whole lines: '#' is also the MQTT wildcard, so
		 * "allow read #" must not lose its topic to a trailing comment. */
		char *first = cur;
		while(*first == ' ' || *first == '\t') first++;
		if(*first == '#' || *first == '\0'){ cur = next; continue; }
		char raw[1024];
		snprintf(raw, sizeof(raw), "%s", first);

		char *tok[MAX_LINE_TOKENS + 1];
		int ntok = 0;
		char *save = NULL;
		for(char *t = strtok_r(cur, " \t", &save); t; t = strtok_r(NULL, " \t", &save)){
			if(ntok == MAX_LINE_TOKENS) return fail(p, file, line, "too many words on the line");
			tok[ntok++] = t;
		}
		if(ntok > 0){
			/* trim the raw text for explanations */
			char *r = raw;
			size_t rl = strlen(r);
			while(rl && (r[rl - 1] == ' ' || r[rl - 1] == '\t')) r[--rl] = '\0';
			int rc;
			if(strcmp(tok[0], "role") == 0) rc = parse_role_line(p, file, line, tok, ntok);
			else if(strcmp(tok[0], "allow") == 0 || strcmp(tok[0], "deny") == 0)
				rc = parse_rule_line(p, file, line, tok, ntok, r);
			else if(strcmp(tok[0], "include") == 0) rc = parse_include(p, file, line, tok, ntok);
			else rc = fail(p, file, line, "unknown keyword '%s' (expected role, allow, deny or include)", tok[0]);
			if(rc != 0) return rc;
		}
		cur = next;
	}
	return 0;
}

static int parse_file(struct parser *p, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	char err[512];
	if(jw_read_file(path, MAX_ACL_FILE_BYTES, &text, &len, err, sizeof(err)) != 0){
		snprintf(p->errbuf, p->errlen, "%s", err);
		return -1;
	}
	if(strlen(text) != len){
		fail_nul(p, path, text);
		free(text);
		return -1;
	}
	const char *name = remember_file(p, path);
	if(name == NULL){
		free(text);
		return fail(p, path, 0, "out of memory");
	}
	/* a section does not continue into or out of an included file */
	bool saved_in = p->in_section;
	uint32_t saved_mask = p->section_mask;
	p->in_section = false;
	p->section_mask = 0;
	int rc = parse_text(p, name, text);
	p->in_section = saved_in;
	p->section_mask = saved_mask;
	free(text);
	return rc;
}

static int build_role_index(struct jw_acl *acl)
{
	for(size_t r = 0; r <= acl->n_roles; r++){
		uint32_t bit = r < acl->n_roles ? (1u << r) : 0;
		size_t n = 0;
		acl->role_rules[r] = malloc((acl->n_rules ? acl->n_rules : 1) * sizeof(uint32_t));
		if(acl->role_rules[r] == NULL) return -1;
		for(size_t i = 0; i < acl->n_rules; i++){
			uint32_t m = acl->rules[i].role_mask;
			if(m == UINT32_MAX || (m & bit)) acl->role_rules[r][n++] = (uint32_t)i;
		}
		acl->role_rule_count[r] = n;
	}
	return 0;
}

static struct jw_acl *finish(struct parser *p, int rc)
{
	if(rc == 0 && build_role_index(p->acl) != 0){
		snprintf(p->errbuf, p->errlen, "out of memory");
		rc = -1;
	}
	if(rc != 0){
		jw_acl_free(p->acl);
		return NULL;
	}
	return p->acl;
}

struct jw_acl *jw_acl_load(const char *path, char *errbuf, size_t errlen)
{
	struct parser p = {.errbuf = errbuf, .errlen = errlen};
	p.acl = calloc(1, sizeof(*p.acl));
	if(p.acl == NULL){
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	return finish(&p, parse_file(&p, path));
}

struct jw_acl *jw_acl_parse_string(const char *name, const char *text, size_t len,
		char *errbuf, size_t errlen)
{
	struct parser p = {.errbuf = errbuf, .errlen = errlen};
	p.acl = calloc(1, sizeof(*p.acl));
	char *copy = p.acl ? strndup(text, len) : NULL;
	if(copy == NULL){
		free(p.acl);
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	int rc;
	const char *fname = remember_file(&p, name);
	if(fname == NULL) rc = fail(&p, name, 0, "out of memory");
	else if(strlen(copy) != len) rc = fail_nul(&p, name, copy);
	else rc = parse_text(&p, fname, copy);
	free(copy);
	return finish(&p, rc);
}

void jw_acl_free(struct jw_acl *acl)
{
	if(acl == NULL) return;
	for(size_t i = 0; i < acl->n_rules; i++) rule_clear(&acl->rules[i]);
	free(acl->rules);
	for(size_t i = 0; i < acl->n_roles; i++) free(acl->roles[i]);
	for(size_t i = 0; i <= JW_ACL_MAX_ROLES; i++) free(acl->role_rules[i]);
	for(size_t i = 0; i < acl->n_files; i++) free(acl->files[i]);
	free(acl->files);
	free(acl);
}

size_t jw_acl_rule_count(const struct jw_acl *acl) { return acl->n_rules; }
size_t jw_acl_file_count(const struct jw_acl *acl) { return acl->n_files; }
const char *jw_acl_file_name(const struct jw_acl *acl, size_t i) { return acl->files[i]; }
const char *jw_rule_file(const struct jw_rule *r) { return r->file; }
int jw_rule_line(const struct jw_rule *r) { return r->line; }
const char *jw_rule_text(const struct jw_rule *r) { return r->text; }

const char *jw_access_name(enum jw_access a)
{
	switch(a){
		case JW_ACCESS_READ: return "read";
		case JW_ACCESS_WRITE: return "write";
		case JW_ACCESS_SUBSCRIBE: return "subscribe";
	}
	return "?";
}

enum jw_access jw_access_parse(const char *name)
{
	if(strcmp(name, "read") == 0) return JW_ACCESS_READ;
	if(strcmp(name, "write") == 0) return JW_ACCESS_WRITE;
	if(strcmp(name, "subscribe") == 0) return JW_ACCESS_SUBSCRIBE;
	return (enum jw_access)0;
}
