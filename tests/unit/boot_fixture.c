/* The loader tests' shared harness (see boot_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "boot_fixture.h"

struct boot_fixture *boot_fixture_new(uint64_t ram, size_t cap, size_t extra_size,
				      const char *cmdline)
{
	struct boot_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->m.fd = -1;
	f->img = calloc(1, cap);
	f->cap = cap;
	f->extra = extra_size ? calloc(1, extra_size) : NULL;
	if (!f->img || (extra_size && !f->extra) || boot_fixture_ram(f, ram) < 0) {
		boot_fixture_free(f);
		return NULL;
	}
	f->in = (struct boot_input){ .kernel = f->img, .cmdline = cmdline, .e820 = &f->map,
				     .rsdp_gpa = 0xe0000 };
	return f;
}

void boot_fixture_free(struct boot_fixture *f)
{
	if (!f)
		return;
	gmem_destroy(&f->m);
	free(f->extra);
	free(f->img);
	free(f);
}

int boot_fixture_teardown(void **state)
{
	boot_fixture_free(*state);
	return 0;
}

int boot_fixture_ram(struct boot_fixture *f, uint64_t ram)
{
	gmem_destroy(&f->m);
	if (gmem_init(&f->m, ram, 0) < 0 || e820_build(&f->map, &f->m) < 0)
		return -1;
	return 0;
}

int boot_fixture_run(struct boot_fixture *f, boot_fixture_loader *loader)
{
	f->in.kernel_size = f->size;
	memset(f->e.msg, 0, sizeof(f->e.msg));
	return loader(&f->m, &f->in, &f->out, &f->e);
}

int boot_fixture_load(struct boot_fixture *f)
{
	return boot_fixture_run(f, boot_load);
}

int boot_fixture_load_prefix(struct boot_fixture *f, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, f->img, len);
	f->in.kernel = copy;
	f->size = len;
	r = boot_fixture_load(f);
	f->in.kernel = f->img;
	free(copy);
	return r;
}

void boot_fixture_expect_fail(struct boot_fixture *f, boot_fixture_loader *loader, int code,
			      const char *words)
{
	assert_int_equal(boot_fixture_run(f, loader), code);
	if (!strstr(f->e.msg, words))
		fail_msg("message \"%s\" lacks \"%s\"", f->e.msg, words);
}

void boot_fixture_expect_prefixes_fail(struct boot_fixture *f, size_t full)
{
	for (size_t len = 0; len < full; len++) {
		if (boot_fixture_load_prefix(f, len) >= 0)
			fail_msg("the first %zu of %zu bytes loaded", len, full);
		if (f->e.msg[0] == '\0')
			fail_msg("the first %zu of %zu bytes failed without a message", len, full);
	}
}

void boot_fixture_fuzz(struct boot_fixture *f, size_t size, unsigned rounds)
{
	uint8_t *orig = malloc(f->cap);

	assert_non_null(orig);
	memcpy(orig, f->img, f->cap);
	srand(1234);
	for (unsigned i = 0; i < rounds; i++) {
		for (int n = 1 + rand() % 4; n > 0; n--)
			f->img[(size_t)rand() % size] ^= (uint8_t)(1u << (rand() % 8));
		if (boot_fixture_load_prefix(f, size) < 0 && f->e.msg[0] == '\0')
			fail_msg("round %u: the corrupted image failed without a message", i);
		memcpy(f->img, orig, f->cap);
	}
	free(orig);
}
