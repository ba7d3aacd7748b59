/*
 * The multiboot loader with "a.out kludge" images (a flat binary whose header
 * carries the load addresses, Multiboot 0.6.96 §3.1.3), the header rules of
 * §3.1.1-3.1.2, and the boot information of §3.3. ELF multiboot kernels are
 * covered in test_boot_elf.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "boot/loader.h"
#include "boot/multiboot_abi.h"
#include "boot_fixture.h"

#define MiB       (1ULL << 20)
#define IMG_SIZE  0x2000
#define HDR_OFF   0x40
#define LOAD      0x100000u
#define BSS_END   0x103000u
#define ENTRY     0x100080u

/* Write a header at (off) with (flags) and the address fields, checksum fixed. */
static void put_header(uint8_t *p, uint32_t flags, uint32_t header_addr, uint32_t load_addr,
		       uint32_t load_end, uint32_t bss_end, uint32_t entry)
{
	put_le32(p, MB_HEADER_MAGIC);
	put_le32(p + MB_HDR_FLAGS, flags);
	put_le32(p + MB_HDR_CHECKSUM, -(MB_HEADER_MAGIC + flags));
	put_le32(p + MB_HDR_HEADER_ADDR, header_addr);
	put_le32(p + MB_HDR_LOAD_ADDR, load_addr);
	put_le32(p + MB_HDR_LOAD_END_ADDR, load_end);
	put_le32(p + MB_HDR_BSS_END_ADDR, bss_end);
	put_le32(p + MB_HDR_ENTRY_ADDR, entry);
}

#define AOUT_FLAGS (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO | MB_FLAG_AOUT_KLUDGE)

static void make_image(struct boot_fixture *f)
{
	for (size_t i = 0; i < f->cap; i++)
		f->img[i] = (uint8_t)(i * 13 + 5);
	put_header(f->img + HDR_OFF, AOUT_FLAGS, LOAD + HDR_OFF, LOAD, LOAD + IMG_SIZE, BSS_END,
		   ENTRY);
	f->size = IMG_SIZE;
}

/* Re-write the header's address fields of the default image. */
static void set_addrs(struct boot_fixture *f, uint32_t header_addr, uint32_t load_addr,
		      uint32_t load_end, uint32_t bss_end, uint32_t entry)
{
	put_header(f->img + HDR_OFF, AOUT_FLAGS, header_addr, load_addr, load_end, bss_end, entry);
}

/* Each test starts from 64 MiB of RAM and the a.out kludge image above. */
static int setup(void **state)
{
	struct boot_fixture *f = boot_fixture_new(64 * MiB, 0x4000, 0, "kernel args");

	*state = f;
	if (!f)
		return -1;
	make_image(f);
	return 0;
}

/* Load with the multiboot loader alone, no format detection. */
static int load_mb(struct boot_fixture *f)
{
	return boot_fixture_run(f, boot_load_multiboot);
}

/* The multiboot loader fails with (code) and a message containing (words). */
static void expect_fail(struct boot_fixture *f, int code, const char *words)
{
	boot_fixture_expect_fail(f, boot_load_multiboot, code, words);
}

static uint32_t mbi32(struct boot_fixture *f, unsigned off)
{
	return le32(gmem_ptr(&f->m, LAYOUT_MBI + off, 4));
}

/* (gpa, len) lies inside the MBI area. */
static void assert_in_mbi(uint64_t gpa, uint64_t len)
{
	assert_true(gpa >= LAYOUT_MBI && gpa + len <= LAYOUT_MBI + LAYOUT_MBI_SIZE);
}

static const char *mbi_str(struct boot_fixture *f, uint32_t gpa)
{
	const char *s = gmem_ptr(&f->m, gpa, 1);

	assert_non_null(s);
	assert_in_mbi(gpa, strlen(s) + 1);
	return s;
}

static void test_aout_kernel_loads(void **state)
{
	struct boot_fixture *f = *state;
	const uint8_t *bss;

	memset(gmem_ptr(&f->m, LOAD + IMG_SIZE, 0x1000), 0xff, 0x1000);
	assert_int_equal(boot_fixture_load(f), 0);
	assert_string_equal(f->out.format, "multiboot");
	assert_int_equal(f->out.mode, BOOT_MULTIBOOT);
	assert_int_equal(f->out.rip, ENTRY);
	assert_int_equal(f->out.arg, LAYOUT_MBI);
	assert_int_equal(f->out.kernel_start, LOAD);
	assert_int_equal(f->out.kernel_end, BSS_END);
	assert_memory_equal(gmem_ptr(&f->m, LOAD, IMG_SIZE), f->img, IMG_SIZE);
	bss = gmem_ptr(&f->m, LOAD + IMG_SIZE, BSS_END - LOAD - IMG_SIZE);
	for (unsigned i = 0; i < BSS_END - LOAD - IMG_SIZE; i++)
		assert_int_equal(bss[i], 0);
}

static void test_info_structure(void **state)
{
	struct boot_fixture *f = *state;
	uint32_t mmap, mods;

	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(mbi32(f, MBI_FLAGS), MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MODS |
					      MBI_FLAG_MMAP | MBI_FLAG_LOADER_NAME);
	assert_int_equal(mbi32(f, MBI_MEM_LOWER), 639);
	assert_int_equal(mbi32(f, MBI_MEM_UPPER), (64 * MiB - MiB) / 1024);
	assert_string_equal(mbi_str(f, mbi32(f, MBI_CMDLINE)), "kernel args");
	assert_string_equal(mbi_str(f, mbi32(f, MBI_LOADER_NAME)), "lodge");
	assert_int_equal(mbi32(f, MBI_MODS_COUNT), 0);

	mmap = mbi32(f, MBI_MMAP_ADDR);
	assert_int_equal(mbi32(f, MBI_MMAP_LENGTH), f->map.n * MB_MMAP_ENTRY_SIZE);
	assert_in_mbi(mmap, f->map.n * MB_MMAP_ENTRY_SIZE);
	for (unsigned i = 0; i < f->map.n; i++) {
		const uint8_t *en = gmem_ptr(&f->m, mmap + i * MB_MMAP_ENTRY_SIZE,
					     MB_MMAP_ENTRY_SIZE);

		assert_int_equal(le32(en), 20);
		assert_int_equal(le64(en + 4), f->map.e[i].addr);
		assert_int_equal(le64(en + 12), f->map.e[i].size);
		assert_int_equal(le32(en + 20), f->map.e[i].type);
	}
	mods = mbi32(f, MBI_MODS_ADDR);
	assert_int_equal(mods, 0);
}

static void test_modules(void **state)
{
	struct boot_fixture *f = *state;
	static uint8_t initrd[5000], m1[3], m2[0x1800];
	struct boot_module extra[2] = { { m1, sizeof(m1), "mod1 arg=1" }, { m2, sizeof(m2), NULL } };
	static const char *const want[] = { "", "mod1 arg=1", "" };
	const uint8_t *datas[] = { initrd, m1, m2 };
	size_t sizes[] = { sizeof(initrd), sizeof(m1), sizeof(m2) };
	uint32_t mods, prev_end = BSS_END;

	memset(initrd, 1, sizeof(initrd));
	memset(m1, 2, sizeof(m1));
	memset(m2, 3, sizeof(m2));
	f->in.initrd = initrd;
	f->in.initrd_size = sizeof(initrd);
	f->in.modules = extra;
	f->in.nmodules = 2;
	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(mbi32(f, MBI_MODS_COUNT), 3);
	mods = mbi32(f, MBI_MODS_ADDR);
	assert_in_mbi(mods, 3 * MB_MOD_ENTRY_SIZE);
	for (unsigned i = 0; i < 3; i++) {
		const uint8_t *en = gmem_ptr(&f->m, mods + i * MB_MOD_ENTRY_SIZE, MB_MOD_ENTRY_SIZE);
		uint32_t start = le32(en), end = le32(en + 4);

		assert_int_equal(start % 4096, 0);
		assert_true(start >= prev_end);
		assert_int_equal(end - start, sizes[i]);
		assert_memory_equal(gmem_ptr(&f->m, start, sizes[i]), datas[i], sizes[i]);
		assert_string_equal(mbi_str(f, le32(en + 8)), want[i]);
		assert_int_equal(le32(en + 12), 0);
		prev_end = end;
	}
	assert_int_equal(f->out.initrd_gpa, BSS_END);
}

static void test_module_limits(void **state)
{
	struct boot_fixture *f = *state;
	uint8_t *big = calloc(1, 65 * MiB);
	struct boot_module extra[64] = { { big, 20 * MiB, NULL } };

	assert_non_null(big);
	f->in.initrd = big;
	f->in.initrd_size = 65 * MiB;
	expect_fail(f, -ENOMEM, "initrd larger than guest RAM (65 MiB > 64 MiB)");
	f->in.initrd_size = 50 * MiB;
	f->in.modules = extra;
	f->in.nmodules = 1;
	expect_fail(f, -ENOMEM, "multiboot module 0 (20 MiB) does not fit");
	f->in.initrd = NULL;
	f->in.initrd_size = 0;
	extra[0].size = 65 * MiB;
	expect_fail(f, -ENOMEM, "multiboot module 0 larger than guest RAM");
	for (unsigned i = 0; i < 64; i++)
		extra[i] = (struct boot_module){ big, 1, NULL };
	f->in.nmodules = 64;
	assert_int_equal(load_mb(f), 0);
	f->in.initrd = big;
	f->in.initrd_size = 1;
	expect_fail(f, -E2BIG, "too many multiboot modules (65 > 64)");
	free(big);
}

static void test_cmdline_limits(void **state)
{
	struct boot_fixture *f = *state;
	char *line = malloc(LAYOUT_MBI_SIZE + 1);
	struct boot_module mod = { (const uint8_t *)"m", 1, line };

	assert_non_null(line);
	memset(line, 'c', LAYOUT_MBI_SIZE);
	line[LAYOUT_MBI_SIZE] = '\0';
	f->in.cmdline = line;
	expect_fail(f, -E2BIG, "kernel command line too long (65536 bytes >");
	line[40000] = '\0';
	assert_int_equal(load_mb(f), 0);
	assert_int_equal(strlen(mbi_str(f, mbi32(f, MBI_CMDLINE))), 40000);
	f->in.modules = &mod;
	f->in.nmodules = 1;
	expect_fail(f, -E2BIG, "multiboot module 0 command line too long");
	free(line);
}

static void test_truncated_everywhere(void **state)
{
	struct boot_fixture *f = *state;

	boot_fixture_expect_prefixes_fail(f, IMG_SIZE);
	f->size = IMG_SIZE - 1;
	expect_fail(f, -ENOEXEC, "past the end of the file");
}

static void test_random_corruption(void **state)
{
	struct boot_fixture *f = *state;

	boot_fixture_fuzz(f, IMG_SIZE, 3000);
	boot_fixture_fuzz(f, HDR_OFF + MB_HDR_AOUT_SIZE, 3000);
}

static void test_header_search(void **state)
{
	struct boot_fixture *f = *state;

	put_le32(f->img + HDR_OFF + MB_HDR_CHECKSUM, 0);
	expect_fail(f, -ENOEXEC, "multiboot header at offset 0x40 has a bad checksum");
	assert_int_equal(boot_fixture_load(f), -ENOEXEC);

	/* Not 4-byte aligned: not a header. */
	memset(f->img, 0, f->cap);
	put_header(f->img + 0x42, AOUT_FLAGS, LOAD + 0x42, LOAD, 0, 0, ENTRY);
	expect_fail(f, -ENOEXEC, "no multiboot header in the first 8192 bytes");
	expect_fail(f, -ENOEXEC, "no multiboot header");
	assert_int_equal(boot_fixture_load(f), -ENOEXEC);
	assert_non_null(strstr(f->e.msg, "not a bzImage, PVH ELF or multiboot kernel"));

	/* Wholly beyond the first 8 KiB. */
	memset(f->img, 0, f->cap);
	put_header(f->img + 0x2000, AOUT_FLAGS, LOAD + 0x2000, LOAD, 0, 0, ENTRY);
	f->size = 0x3000;
	expect_fail(f, -ENOEXEC, "multiboot magic at offset 0x2000 is beyond the first 8192 bytes");
	assert_int_equal(boot_fixture_load(f), -ENOEXEC);

	/* Starting within but with address fields running past 8 KiB. */
	memset(f->img, 0, f->cap);
	put_header(f->img + 0x1ff0, AOUT_FLAGS, LOAD + 0x1ff0, LOAD, 0, 0, ENTRY);
	expect_fail(f, -ENOEXEC, "runs past the first 8192 bytes");
}

static void test_required_flags(void **state)
{
	struct boot_fixture *f = *state;

	put_header(f->img + HDR_OFF, AOUT_FLAGS | MB_FLAG_VIDEO_MODE, LOAD + HDR_OFF, LOAD,
		   LOAD + IMG_SIZE, BSS_END, ENTRY);
	expect_fail(f, -ENOTSUP, "video mode");
	put_header(f->img + HDR_OFF, AOUT_FLAGS | (1u << 5) | (1u << 15), LOAD + HDR_OFF, LOAD,
		   LOAD + IMG_SIZE, BSS_END, ENTRY);
	expect_fail(f, -ENOTSUP, "unsupported required flags 0x8020");
	/* Unknown optional bits (16-31) are fine. */
	put_header(f->img + HDR_OFF, AOUT_FLAGS | (1u << 20), LOAD + HDR_OFF, LOAD,
		   LOAD + IMG_SIZE, BSS_END, ENTRY);
	assert_int_equal(load_mb(f), 0);
	/* Without bit 16 a flat binary has no way to say where it goes. */
	put_header(f->img + HDR_OFF, MB_FLAG_MEMORY_INFO, 0, 0, 0, 0, 0);
	expect_fail(f, -ENOEXEC, "not ELF and its header has no address fields");
}

static void test_aout_addresses_inconsistent(void **state)
{
	struct boot_fixture *f = *state;

	set_addrs(f, LOAD + HDR_OFF, LOAD + HDR_OFF + 4, LOAD + IMG_SIZE, 0, ENTRY);
	expect_fail(f, -ENOEXEC, "load_addr 0x100044 is above header_addr 0x100040");
	set_addrs(f, LOAD + HDR_OFF, LOAD - 0x1000, LOAD + IMG_SIZE, 0, ENTRY);
	expect_fail(f, -ENOEXEC, "before the beginning of the file");
	set_addrs(f, LOAD + HDR_OFF, LOAD, LOAD - 1, 0, ENTRY);
	expect_fail(f, -ENOEXEC, "load_end_addr 0xfffff is below load_addr 0x100000");
	set_addrs(f, LOAD + HDR_OFF, LOAD, LOAD + IMG_SIZE + 1, 0, ENTRY);
	expect_fail(f, -ENOEXEC, "past the end of the file");
	set_addrs(f, LOAD + HDR_OFF, LOAD, 0xffffffff, 0, ENTRY);
	expect_fail(f, -ENOEXEC, "past the end of the file");
	set_addrs(f, LOAD + HDR_OFF, LOAD, LOAD + HDR_OFF + 8, 0, ENTRY);
	expect_fail(f, -ENOEXEC, "header_addr 0x100040 lies outside the loaded image");
	set_addrs(f, LOAD + HDR_OFF, LOAD, LOAD + IMG_SIZE, LOAD + 0x100, ENTRY);
	expect_fail(f, -ENOEXEC, "bss_end_addr 0x100100 is below the end of the loaded image");
	set_addrs(f, LOAD + HDR_OFF, LOAD, LOAD + IMG_SIZE, BSS_END, BSS_END);
	expect_fail(f, -ENOEXEC, "entry_addr 0x103000 is outside the loaded image");
	set_addrs(f, LOAD + HDR_OFF, LOAD, LOAD + IMG_SIZE, BSS_END, LOAD - 1);
	expect_fail(f, -ENOEXEC, "entry_addr 0xfffff is outside");

	/* load_end_addr 0: the rest of the file; bss_end_addr 0: no bss. */
	set_addrs(f, LOAD + HDR_OFF, LOAD, 0, 0, ENTRY);
	f->size = IMG_SIZE + 0x100;
	assert_int_equal(load_mb(f), 0);
	assert_int_equal(f->out.kernel_end, LOAD + IMG_SIZE + 0x100);

	/* The image may start later in the file than offset 0. */
	set_addrs(f, LOAD + 0x20, LOAD, LOAD + 0x1000, 0, LOAD + 0x30);
	assert_int_equal(load_mb(f), 0);
	assert_memory_equal(gmem_ptr(&f->m, LOAD, 0x1000), f->img + 0x20, 0x1000);
}

static void test_aout_placement(void **state)
{
	struct boot_fixture *f = *state;

	set_addrs(f, 0x8040, 0x8000, 0x8000 + IMG_SIZE, 0, 0x8080);
	expect_fail(f, -EINVAL, "overlaps lodge's boot structures below 1 MiB");
	set_addrs(f, 0x7000040, 0x7000000, 0x7000000 + IMG_SIZE, 0, 0x7000080);
	expect_fail(f, -ERANGE, "multiboot kernel image [0x7000000, 0x7002000) is outside guest RAM");
	set_addrs(f, LOAD + HDR_OFF, LOAD, LOAD + IMG_SIZE, 0xfffff000, ENTRY);
	expect_fail(f, -ERANGE, "outside guest RAM");
	assert_int_equal(boot_fixture_ram(f, 4ULL << 30), 0);
	expect_fail(f, -ERANGE, "MMIO hole");
}

static void test_memory_too_small(void **state)
{
	struct boot_fixture *f = *state;

	gmem_destroy(&f->m);
	assert_int_equal(gmem_init(&f->m, 1 * MiB, 0), 0);
	f->map = (struct e820_map){ 1, { { 0, 1 * MiB, E820_RAM } } };
	expect_fail(f, -EINVAL, "memory too small");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, boot_fixture_teardown)
	const struct CMUnitTest tests[] = {
		T(test_aout_kernel_loads),
		T(test_info_structure),
		T(test_modules),
		T(test_module_limits),
		T(test_cmdline_limits),
		T(test_truncated_everywhere),
		T(test_random_corruption),
		T(test_header_search),
		T(test_required_flags),
		T(test_aout_addresses_inconsistent),
		T(test_aout_placement),
		T(test_memory_too_small),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
