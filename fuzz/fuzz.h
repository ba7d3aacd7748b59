/*
 * What the libFuzzer harnesses share: libFuzzer's entry points and fake guest
 * RAM over one malloc'd buffer of exactly the RAM's size, so that AddressSanitizer
 * reports any access lodge makes past either end of it.
 */
#ifndef LODGE_FUZZ_FUZZ_H
#define LODGE_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/mem.h"

/* libFuzzer calls these (it ships no C header for them). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken harness invariant: print it and abort, so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                                  \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                          \
		}                                                                         \
	} while (0)

/*
 * Guest RAM of (len) bytes (> 0) copied from (src) (zero-filled past src_len),
 * as one region at (gpa), or, with (split), two: the first half at (gpa) and
 * the rest at (gpa2). Returns the buffer (free() it) or NULL.
 */
static inline uint8_t *fake_ram(struct gmem *m, const uint8_t *src, size_t src_len, size_t len,
				uint64_t gpa, int split, uint64_t gpa2)
{
	uint8_t *ram = malloc(len);

	if (!ram)
		return NULL;
	memset(ram, 0, len);
	if (src_len)
		memcpy(ram, src, src_len < len ? src_len : len);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->host = ram;
	m->total = len;
	if (split && len >= 2) {
		m->nregions = 2;
		m->regions[0] = (struct gmem_region){ .gpa = gpa, .size = len / 2, .offset = 0 };
		m->regions[1] = (struct gmem_region){ .gpa = gpa2, .size = len - len / 2,
						      .offset = len / 2 };
	} else {
		m->nregions = 1;
		m->regions[0] = (struct gmem_region){ .gpa = gpa, .size = len, .offset = 0 };
	}
	return ram;
}

/* Abort unless host [p, p+len) lies wholly inside one region of (m). */
static inline void fuzz_check_in_ram(const struct gmem *m, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (unsigned i = 0; i < m->nregions; i++) {
		const uint8_t *lo = m->host + m->regions[i].offset;
		const uint8_t *hi = lo + m->regions[i].size;

		if (b >= lo && b <= hi && len <= (size_t)(hi - b))
			return;
	}
	fprintf(stderr, "host range %p+%zu is not inside one guest RAM region\n", p, len);
	abort();
}

#endif
