/*
 * log — the bridge's log lines on stderr:
 *   2026-11-25T22:50:01.123Z jetwire-bridge: error: cannot connect to PostgreSQL: ... | retry_in=800ms
 * One line per event, UTC timestamps, no colours; a supervisor (systemd,
 * docker) captures stderr.
 */
#ifndef JWB_LOG_H
#define JWB_LOG_H

enum jwb_log_level { JWB_LOG_DEBUG, JWB_LOG_INFO, JWB_LOG_WARNING, JWB_LOG_ERROR };

void jwb_log_set_level(enum jwb_log_level min);
void jwb_log(enum jwb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define jwb_info(...) jwb_log(JWB_LOG_INFO, __VA_ARGS__)
#define jwb_warn(...) jwb_log(JWB_LOG_WARNING, __VA_ARGS__)
#define jwb_error(...) jwb_log(JWB_LOG_ERROR, __VA_ARGS__)
#define jwb_debug(...) jwb_log(JWB_LOG_DEBUG, __VA_ARGS__)

#endif
