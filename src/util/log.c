#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum log_level log_threshold = LOG_WARN;

void log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per message so lines from different threads do not interleave. */
	if (subsys && subsys[0])
		fprintf(stderr, "lodge: %s: %s\n", subsys, line);
	else
		fprintf(stderr, "lodge: %s\n", line);
}

int log_set_level(const char *name)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			log_threshold = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_trace_point(const char *what)
{
	static struct timespec start;
	struct timespec now;

	if (log_threshold < LOG_DEBUG)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (start.tv_sec == 0 && start.tv_nsec == 0)
		start = now;
	log_msg(LOG_DEBUG, "trace", "+%ld us %s",
		(long)((now.tv_sec - start.tv_sec) * 1000000 + (now.tv_nsec - start.tv_nsec) / 1000),
		what);
}
