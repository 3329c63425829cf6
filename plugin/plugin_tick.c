/*
 * plugin_tick — periodic work, driven by MOSQ_EVT_TICK (about ten times a
 * second in 2.0.11; its time fields are zero, so the clock is read here).
 * Each job keeps its own deadline.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "plugin.h"

#define EXPIRY_SCAN_INTERVAL_S 1
#define RELATION_SWEEP_INTERVAL_S 5

int64_t jw_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

/* mtime, size and inode of every file of the rule set: an editor that
 * replaces the file (new inode) is noticed as well as one that rewrites it. */
static void acl_signature(const struct jw_acl *acl, char *out, size_t outlen)
{
	size_t used = 0;
	out[0] = '\0';
	for(size_t i = 0; i < jw_acl_file_count(acl) && used < outlen; i++){
		struct stat st;
		int n;
		if(stat(jw_acl_file_name(acl, i), &st) == 0){
			n = snprintf(out + used, outlen - used, "%lld.%09ld:%lld:%llu;",
					(long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
					(long long)st.st_size, (unsigned long long)st.st_ino);
		}else{
			n = snprintf(out + used, outlen - used, "missing;");
		}
		if(n < 0) break;
		used += (size_t)n;
	}
}

void jw_acl_watch_init(struct jw_plugin *p)
{
	acl_signature(p->acl, p->acl_signature, sizeof(p->acl_signature));
	p->failed_signature[0] = '\0';
	p->failed_error[0] = '\0';
}

void jw_acl_reload(struct jw_plugin *p, bool force)
{
	char sig[sizeof(p->acl_signature)];
	acl_signature(p->acl, sig, sizeof(sig));
	if(!force && strcmp(sig, p->acl_signature) == 0) return;

	/* A broken version is parsed again at every check, not skipped by its
	 * signature: the signature only covers the files of the rule set in
	 * force, and a failed edit may include a file that rule set does not
	 * know (created, or fixed, after the failure).  It is reported once. */
	char err[sizeof(p->failed_error)];
	struct jw_acl *fresh = jw_acl_load(p->opts.acl_file, err, sizeof(err));
	if(fresh == NULL){
		if(!force && strcmp(sig, p->failed_signature) == 0 && strcmp(err, p->failed_error) == 0){
			return;   /* already reported */
		}
		p->stats.acl_reload_failures++;
		snprintf(p->failed_signature, sizeof(p->failed_signature), "%s", sig);
		snprintf(p->failed_error, sizeof(p->failed_error), "%s", err);
		mosquitto_log_printf(MOSQ_LOG_ERR,
				"jetwire: ACL reload failed | %s | keeping the previous rules (%zu rules)",
				err, jw_acl_rule_count(p->acl));
		return;
	}
	jw_acl_free(p->acl);
	p->acl = fresh;
	p->stats.acl_reloads++;
	jw_acl_watch_init(p);
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "jetwire: ACL reloaded | file=%s rules=%zu",
			p->opts.acl_file, jw_acl_rule_count(p->acl));
}

int jw_on_tick(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	struct jw_plugin *p = userdata;
	p->now = jw_now();
	p->reloading = false;   /* the SIGHUP re-check ran before this tick */

	if(p->now >= p->next_expiry_scan){
		p->next_expiry_scan = p->now + EXPIRY_SCAN_INTERVAL_S;
		jw_conn_kick_expired(p);
	}
	if(p->opts.acl_reload_interval_s > 0 && p->now >= p->next_reload_check){
		p->next_reload_check = p->now + p->opts.acl_reload_interval_s;
		jw_acl_reload(p, false);
	}
	if(p->now >= p->next_relation_sweep){
		p->next_relation_sweep = p->now + RELATION_SWEEP_INTERVAL_S;
		p->stats.relations_expired += jw_rel_expire(p->rels, p->now);
	}
	if(p->now >= p->next_stats_publish){
		p->next_stats_publish = p->now + p->opts.stats_interval_s;
		jw_stats_publish(p);
	}
	return MOSQ_ERR_SUCCESS;
}

int jw_on_reload(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	struct jw_plugin *p = userdata;
	/* 2.0.11 calls mosquitto_security_apply() right after this event, in the
	 * same main-loop pass and before the tick (src/loop.c:237-269) */
	p->reloading = true;
	/* SIGHUP: re-read the ACL even if the files look unchanged */
	jw_acl_reload(p, true);
	return MOSQ_ERR_SUCCESS;
}
