/* Logging with levels and checked formats. One prefix per subsystem. */
#ifndef LODGE_UTIL_LOG_H
#define LODGE_UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped (default LOG_WARN; LODGE_LOG=debug|info|warn|error). */
extern enum log_level log_threshold;

/* Print "lodge: <subsys>: <message>\n" to stderr when (level) passes the threshold. */
void log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* log_msg with the origin (file, line) of the call, shown by the file sink with show_origin. */
void log_msg_at(enum log_level level, const char *file, int line, const char *subsys,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Set the threshold from a name ("error", "warn", "info", "debug"); returns 0 or -EINVAL. */
int log_set_level(const char *name);

/* At debug level, log the microseconds since the first trace point, then (what). */
void log_trace_point(const char *what);

/*
 * Firecracker's logger (PUT /logger, --log-path): send every line to the
 * file or named pipe (path), opened for appending (created if missing), in
 * Firecracker's format
 *   "2024-01-31T12:00:00.123456789 [ID:THREAD(:LEVEL)(:FILE:LINE)] subsys: message"
 * instead of lodge's stderr format. 0 or -errno (the old sink stays).
 */
int log_set_path(const char *path);

/* Format switches of the file sink: the level name, the origin file:line. */
void log_set_format(bool show_level, bool show_origin);

/* Only subsystems whose name starts with (prefix) are logged; NULL: all. 0 or -ENOMEM. */
int log_set_module(const char *prefix);

/* The instance id the file sink prints (default "anonymous-instance"). 0 or -ENOMEM. */
int log_set_instance_id(const char *id);

/* Drop every message (Firecracker's level "Off") or stop doing so. */
void log_set_off(bool off);

/* Lines that could not be written (Firecracker's logger.missed_log_count). */
uint64_t log_missed_count(void);

#define log_err(sub, ...)   log_msg_at(LOG_ERROR, __FILE__, __LINE__, sub, __VA_ARGS__)
#define log_warn(sub, ...)  log_msg_at(LOG_WARN, __FILE__, __LINE__, sub, __VA_ARGS__)
#define log_info(sub, ...)  log_msg_at(LOG_INFO, __FILE__, __LINE__, sub, __VA_ARGS__)
#define log_debug(sub, ...) \
	do { if (log_threshold >= LOG_DEBUG) \
		log_msg_at(LOG_DEBUG, __FILE__, __LINE__, sub, __VA_ARGS__); } while (0)

#endif
