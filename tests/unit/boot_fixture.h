/*
 * The harness the loader tests share: guest RAM with its e820 map, a buffer
 * holding the kernel image a test builds, and the loader's input, output and
 * error. Each test file keeps its own image builders and cases; this only
 * loads, truncates and corrupts whatever image is in the buffer.
 */
#ifndef LODGE_TESTS_BOOT_FIXTURE_H
#define LODGE_TESTS_BOOT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"

struct boot_fixture {
	struct gmem m;
	struct e820_map map;            /* built from (m); in.e820 points here */
	uint8_t *img;                   /* the image buffer, (cap) bytes, malloc-aligned */
	size_t cap;
	size_t size;                    /* bytes of (img) handed to the loader */
	struct boot_input in;           /* in.kernel is (img) between loads */
	struct boot_entry out;
	struct err e;
	void *extra;                    /* the test file's own builder state, or NULL */
};

/* A loader with boot_load's contract: boot_load or one of boot_load_<format>. */
typedef int boot_fixture_loader(const struct gmem *m, const struct boot_input *in,
				struct boot_entry *out, struct err *e);

/*
 * A fixture with (ram) bytes of guest RAM and its e820 map, a zeroed image
 * buffer of (cap) bytes, (extra_size) zeroed bytes at ->extra (none when 0),
 * and an input of that image, (cmdline) and an RSDP at 0xe0000. Returns it
 * (the caller frees it with boot_fixture_free), or NULL on failure.
 */
struct boot_fixture *boot_fixture_new(uint64_t ram, size_t cap, size_t extra_size,
				      const char *cmdline);

/* Free (f), its guest RAM, image buffer and extra state; NULL is a no-op. */
void boot_fixture_free(struct boot_fixture *f);

/* A cmocka teardown: frees the fixture in (*state). Returns 0. */
int boot_fixture_teardown(void **state);

/* Replace (f)'s guest RAM with (ram) bytes and rebuild its e820 map. Returns 0, or -1. */
int boot_fixture_ram(struct boot_fixture *f, uint64_t ram);

/* Run (loader) on the first (f->size) image bytes, error cleared first; returns its result. */
int boot_fixture_run(struct boot_fixture *f, boot_fixture_loader *loader);

/* boot_fixture_run with boot_load, which detects the format. */
int boot_fixture_load(struct boot_fixture *f);

/*
 * boot_load on the first (len) bytes of the image, from an exactly-sized heap
 * copy so that ASan catches any over-read; leaves f->size at (len). Returns
 * boot_load's result.
 */
int boot_fixture_load_prefix(struct boot_fixture *f, size_t len);

/* (loader) fails with (code) and a message containing (words); a cmocka failure otherwise. */
void boot_fixture_expect_fail(struct boot_fixture *f, boot_fixture_loader *loader, int code,
			      const char *words);

/* Every prefix of the image shorter than (full) bytes fails to load, with a message. */
void boot_fixture_expect_prefixes_fail(struct boot_fixture *f, size_t full);

/*
 * (rounds) times, flip 1 to 4 random bits in the first (size) bytes of the
 * image (seed 1234, so runs repeat), load those bytes as by
 * boot_fixture_load_prefix and restore the image: the loader must not crash
 * and must leave a message whenever it fails.
 */
void boot_fixture_fuzz(struct boot_fixture *f, size_t size, unsigned rounds);

#endif
