#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int errf(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int errprefix(struct err *e, int code, const char *prefix)
{
	char old[sizeof(e->msg)];
	size_t n;

	if (!e)
		return code;
	memcpy(old, e->msg, sizeof(old));
	n = (size_t)snprintf(e->msg, sizeof(e->msg), "%s: ", prefix);
	if (n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - n, "%s", old);
	return code;
}
