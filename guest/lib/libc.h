/* The few C library functions the guest code uses (lib/string.c). */
#ifndef GUEST_LIBC_H
#define GUEST_LIBC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

/* First occurrence of (needle, nlen) in (hay, hlen), or NULL. */
const void *memmem(const void *hay, size_t hlen, const void *needle, size_t nlen);

/* Copy at most (size - 1) bytes of (src) into (dst) and NUL-terminate; returns strlen(src). */
size_t strlcpy(char *dst, const char *src, size_t size);

/*
 * Parse an unsigned integer at (s): decimal, or hex after "0x"; an optional
 * K, M or G suffix multiplies by 2^10, 2^20, 2^30. Stops at (end) if non-NULL.
 * Returns false when there are no digits or the value overflows.
 */
bool parse_u64(const char *s, const char **end, uint64_t *out);

#endif
