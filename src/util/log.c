#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
