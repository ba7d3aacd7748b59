/* Internal: the formatter behind vsnprintf and vprintf (lib/printf.c). */
#ifndef GUEST_PRINTF_CORE_H
#define GUEST_PRINTF_CORE_H

#include <stdarg.h>
#include <stddef.h>

struct out {
	void (*put)(char c, void *ctx);
	void *ctx;
	size_t n;       /* characters produced so far */
};

/* Format (fmt, ap) through (o->put); returns the number of characters produced. */
int format(struct out *o, const char *fmt, va_list ap);

#endif
