/*
 * Errors as values: a function that can fail for a reason worth telling the
 * user fills a struct err with one line and returns -errno.
 */
#ifndef LODGE_UTIL_ERR_H
#define LODGE_UTIL_ERR_H

#include <stddef.h>

struct err {
	char msg[512];
};

/* Format (fmt) into (e) (if not NULL) and return (code), which should be -errno. */
int errf(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefix the message in (e) with "(prefix): ", keeping the rest; returns (code). */
int errprefix(struct err *e, int code, const char *prefix);

#endif
