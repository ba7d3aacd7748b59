/* Logging with levels and checked formats. One prefix per subsystem. */
#ifndef LODGE_UTIL_LOG_H
#define LODGE_UTIL_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped (default LOG_WARN; LODGE_LOG=debug|info|warn|error). */
extern enum log_level log_threshold;

/* Print "lodge: <subsys>: <message>\n" to stderr when (level) passes the threshold. */
void log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Set the threshold from a name ("error", "warn", "info", "debug"); returns 0 or -EINVAL. */
int log_set_level(const char *name);

/* At debug level, log the microseconds since the first trace point, then (what). */
void log_trace_point(const char *what);

#define log_err(sub, ...)   log_msg(LOG_ERROR, sub, __VA_ARGS__)
#define log_warn(sub, ...)  log_msg(LOG_WARN, sub, __VA_ARGS__)
#define log_info(sub, ...)  log_msg(LOG_INFO, sub, __VA_ARGS__)
#define log_debug(sub, ...) \
	do { if (log_threshold >= LOG_DEBUG) log_msg(LOG_DEBUG, sub, __VA_ARGS__); } while (0)

#endif
