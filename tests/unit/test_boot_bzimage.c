/*
 * The bzImage loader against small synthetic bzImages: a setup header as
 * boot.rst lays it out, followed by a few pages of "protected-mode kernel".
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
#include "boot/linux_abi.h"
#include "boot/loader.h"
#include "boot_fixture.h"

#define SETUP_SECTS 4
#define SETUP_SIZE  ((SETUP_SECTS + 1) * 512)
#define PM_SIZE     0x3000
#define IMG_SIZE    (SETUP_SIZE + PM_SIZE)
#define PREF        0x1000000ULL
#define INIT_SIZE   0x400000ULL
#define MiB         (1ULL << 20)

/* A 64-bit capable, relocatable protocol 2.15 bzImage with distinctive bytes. */
static void make_bzimage(struct boot_fixture *f)
{
	uint8_t *k = f->img;

	memset(k, 0, f->cap);
	k[LINUX_SETUP_SECTS_OFF] = SETUP_SECTS;
	k[BP_SENTINEL] = 0xff;                  /* must not reach the zero page */
	put_le32(k + LINUX_SYSSIZE_OFF, PM_SIZE / 16);
	put_le16(k + LINUX_BOOT_FLAG_OFF, LINUX_BOOT_FLAG);
	k[LINUX_JUMP_OFF] = 0xeb;
	k[LINUX_HDR_LEN_OFF] = 0x6a;            /* header ends at 0x26c, like Linux 6.1 */
	put_le32(k + LINUX_HDR_MAGIC_OFF, LINUX_HDR_MAGIC);
	put_le16(k + LINUX_VERSION_OFF, 0x020f);
	k[LINUX_LOADFLAGS_OFF] = LINUX_LOADED_HIGH | LINUX_QUIET_FLAG | LINUX_CAN_USE_HEAP;
	put_le32(k + LINUX_CMD_LINE_PTR_OFF, 0xdead);
	put_le32(k + LINUX_INITRD_ADDR_MAX_OFF, 0x7fffffff);
	put_le32(k + LINUX_KERNEL_ALIGN_OFF, 0x200000);
	k[LINUX_RELOCATABLE_OFF] = 1;
	put_le16(k + LINUX_XLOADFLAGS_OFF, LINUX_XLF_KERNEL_64 | LINUX_XLF_CAN_BE_LOADED_ABOVE_4G);
	put_le32(k + LINUX_CMDLINE_SIZE_OFF, 255);
	put_le64(k + LINUX_SETUP_DATA_OFF, 0x12345678);
	put_le64(k + LINUX_PREF_ADDRESS_OFF, PREF);
	put_le32(k + LINUX_INIT_SIZE_OFF, INIT_SIZE);
	put_le32(k + 0x268, 0xabcd1234);        /* kernel_info_offset: copied as is */
	for (size_t i = 0; i < 0x30; i++)
		k[0x26c + i] = 0x77;            /* past the header: must not be copied */
	for (size_t i = SETUP_SIZE; i < IMG_SIZE; i++)
		k[i] = (uint8_t)(i * 7 + 1);
	f->size = IMG_SIZE;
}

/* Each test starts from 64 MiB of RAM and the bzImage above. */
static int setup(void **state)
{
	struct boot_fixture *f = boot_fixture_new(64 * MiB, IMG_SIZE + 4096, 0, "console=ttyS0");

	*state = f;
	if (!f)
		return -1;
	make_bzimage(f);
	return 0;
}

/* Loading fails with (code) and a message containing (words). */
static void expect_fail(struct boot_fixture *f, int code, const char *words)
{
	boot_fixture_expect_fail(f, boot_load, code, words);
}

static const uint8_t *zp(struct boot_fixture *f)
{
	return gmem_ptr(&f->m, LAYOUT_ZERO_PAGE, LINUX_BOOT_PARAMS_SIZE);
}

static void test_loads_at_pref_address(void **state)
{
	struct boot_fixture *f = *state;
	const uint8_t *bp;

	assert_int_equal(boot_fixture_load(f), 0);
	assert_string_equal(f->out.format, "bzimage");
	assert_int_equal(f->out.mode, BOOT_LINUX64);
	assert_int_equal(f->out.rip, PREF + 0x200);
	assert_int_equal(f->out.arg, LAYOUT_ZERO_PAGE);
	assert_int_equal(f->out.kernel_start, PREF);
	assert_int_equal(f->out.kernel_end, PREF + INIT_SIZE);
	assert_int_equal(f->out.initrd_gpa, 0);
	assert_memory_equal(gmem_ptr(&f->m, PREF, PM_SIZE), f->img + SETUP_SIZE, PM_SIZE);
	assert_string_equal(gmem_ptr(&f->m, LAYOUT_CMDLINE, 14), "console=ttyS0");

	bp = zp(f);
	assert_int_equal(le16(bp + LINUX_VERSION_OFF), 0x020f);
	assert_int_equal(le32(bp + LINUX_HDR_MAGIC_OFF), LINUX_HDR_MAGIC);
	assert_int_equal(le32(bp + 0x268), 0xabcd1234);
	assert_int_equal(bp[0x26c], 0);
	assert_int_equal(bp[BP_SENTINEL], 0);
	assert_int_equal(bp[LINUX_TYPE_OF_LOADER_OFF], 0xff);
	assert_int_equal(bp[LINUX_LOADFLAGS_OFF], LINUX_LOADED_HIGH);
	assert_int_equal(le16(bp + LINUX_VID_MODE_OFF), 0xffff);
	assert_int_equal(le32(bp + LINUX_CMD_LINE_PTR_OFF), LAYOUT_CMDLINE);
	assert_int_equal(le32(bp + BP_EXT_CMD_LINE_PTR), 0);
	assert_int_equal(le64(bp + LINUX_SETUP_DATA_OFF), 0);
	assert_int_equal(le32(bp + LINUX_RAMDISK_IMAGE_OFF), 0);
	assert_int_equal(le32(bp + LINUX_RAMDISK_SIZE_OFF), 0);
	assert_int_equal(le64(bp + BP_ACPI_RSDP_ADDR), 0xe0000);
	assert_int_equal(bp[BP_E820_ENTRIES], 3);
	for (unsigned i = 0; i < 3; i++) {
		const uint8_t *en = bp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE;

		assert_int_equal(le64(en), f->map.e[i].addr);
		assert_int_equal(le64(en + 8), f->map.e[i].size);
		assert_int_equal(le32(en + 16), f->map.e[i].type);
	}
}

static void test_initrd_at_top_of_ram(void **state)
{
	struct boot_fixture *f = *state;
	static uint8_t initrd[10000];
	const uint8_t *bp;

	memset(initrd, 0x5c, sizeof(initrd));
	f->in.initrd = initrd;
	f->in.initrd_size = sizeof(initrd);
	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(f->out.initrd_gpa, (64 * MiB - sizeof(initrd)) & ~4095ULL);
	assert_true(f->out.initrd_gpa >= f->out.kernel_end);
	assert_memory_equal(gmem_ptr(&f->m, f->out.initrd_gpa, sizeof(initrd)), initrd,
			    sizeof(initrd));
	bp = zp(f);
	assert_int_equal(le32(bp + LINUX_RAMDISK_IMAGE_OFF), f->out.initrd_gpa);
	assert_int_equal(le32(bp + LINUX_RAMDISK_SIZE_OFF), sizeof(initrd));
	assert_int_equal(le32(bp + BP_EXT_RAMDISK_IMAGE), 0);
	assert_int_equal(le32(bp + BP_EXT_RAMDISK_SIZE), 0);
}

static void test_initrd_below_initrd_addr_max(void **state)
{
	struct boot_fixture *f = *state;
	static uint8_t initrd[5000];

	assert_int_equal(boot_fixture_ram(f, 256 * MiB), 0);
	put_le32(f->img + LINUX_INITRD_ADDR_MAX_OFF, 0x2ffffff);
	f->in.initrd = initrd;
	f->in.initrd_size = sizeof(initrd);
	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(f->out.initrd_gpa, (0x3000000 - sizeof(initrd)) & ~4095ULL);

	/* A limit below the kernel's end leaves no room. */
	put_le32(f->img + LINUX_INITRD_ADDR_MAX_OFF, 0x13fffff);
	expect_fail(f, -ENOMEM, "does not fit");
}

static void test_initrd_too_big(void **state)
{
	struct boot_fixture *f = *state;
	uint8_t *big = calloc(1, 65 * MiB);

	assert_non_null(big);
	f->in.initrd = big;
	f->in.initrd_size = 65 * MiB;
	expect_fail(f, -ENOMEM, "initrd larger than guest RAM (65 MiB > 64 MiB)");
	f->in.initrd_size = 50 * MiB;
	expect_fail(f, -ENOMEM, "does not fit");
	free(big);
}

static void test_not_relocatable_loads_at_1mib(void **state)
{
	struct boot_fixture *f = *state;

	f->img[LINUX_RELOCATABLE_OFF] = 0;
	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(f->out.rip, 0x100200);
	assert_int_equal(f->out.kernel_start, 0x100000);
	/* It moves itself to pref_address and needs init_size there. */
	assert_int_equal(f->out.kernel_end, PREF + INIT_SIZE);
	assert_memory_equal(gmem_ptr(&f->m, 0x100000, PM_SIZE), f->img + SETUP_SIZE, PM_SIZE);

	put_le64(f->img + LINUX_PREF_ADDRESS_OFF, 0x80000);
	expect_fail(f, -ENOEXEC, "below 1 MiB");
}

static void test_unaligned_pref_address(void **state)
{
	struct boot_fixture *f = *state;

	/* Not a multiple of kernel_alignment: load at 1 MiB; it runs from 18 MiB. */
	put_le64(f->img + LINUX_PREF_ADDRESS_OFF, 0x1100000);
	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(f->out.kernel_start, 0x100000);
	assert_int_equal(f->out.kernel_end, 0x1200000 + INIT_SIZE);

	put_le32(f->img + LINUX_KERNEL_ALIGN_OFF, 0x300000);
	expect_fail(f, -ENOEXEC, "kernel_alignment 0x300000 is not a power of two");
	put_le32(f->img + LINUX_KERNEL_ALIGN_OFF, 0);
	expect_fail(f, -ENOEXEC, "kernel_alignment");
}

static void test_trailing_bytes_not_loaded(void **state)
{
	struct boot_fixture *f = *state;

	/* E.g. a signature appended after syssize. */
	memset(f->img + IMG_SIZE, 0xee, 4096);
	f->size = IMG_SIZE + 4096;
	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(*(uint8_t *)gmem_ptr(&f->m, PREF + PM_SIZE, 1), 0);
}

static void test_truncated_everywhere(void **state)
{
	struct boot_fixture *f = *state;

	boot_fixture_expect_prefixes_fail(f, IMG_SIZE);
	f->size = IMG_SIZE - 1;
	expect_fail(f, -ENOEXEC, "bzImage truncated: syssize");
	f->size = SETUP_SIZE - 1;
	expect_fail(f, -ENOEXEC, "bzImage truncated: setup_sects");
}

static void test_random_corruption(void **state)
{
	struct boot_fixture *f = *state;

	/* Most flips land in the kernel bytes; aim at the setup sector and header too. */
	boot_fixture_fuzz(f, IMG_SIZE, 3000);
	boot_fixture_fuzz(f, 0x300, 3000);
}

static void test_bad_magic(void **state)
{
	struct boot_fixture *f = *state;

	f->img[LINUX_HDR_MAGIC_OFF] = 'X';
	expect_fail(f, -ENOEXEC, "not a bzImage, PVH ELF or multiboot kernel");
	assert_int_equal(boot_load_bzimage(&f->m, &f->in, &f->out, &f->e), -ENOEXEC);
	assert_non_null(strstr(f->e.msg, "HdrS"));

	make_bzimage(f);
	f->img[LINUX_BOOT_FLAG_OFF] = 0;
	expect_fail(f, -ENOEXEC, "not a bzImage");
	assert_int_equal(boot_load_bzimage(&f->m, &f->in, &f->out, &f->e), -ENOEXEC);
	assert_non_null(strstr(f->e.msg, "0xAA55"));
}

static void test_old_protocol(void **state)
{
	struct boot_fixture *f = *state;

	put_le16(f->img + LINUX_VERSION_OFF, 0x0205);
	expect_fail(f, -ENOEXEC, "bzImage boot protocol 2.05 too old (need >= 2.12 for 64-bit boot)");
	put_le16(f->img + LINUX_VERSION_OFF, 0x020b);
	expect_fail(f, -ENOEXEC, "2.11 too old");
	put_le16(f->img + LINUX_VERSION_OFF, 0x020c);
	assert_int_equal(boot_fixture_load(f), 0);
}

static void test_setup_sects_past_eof(void **state)
{
	struct boot_fixture *f = *state;

	f->img[LINUX_SETUP_SECTS_OFF] = 200;
	expect_fail(f, -ENOEXEC, "setup_sects says 200 sectors");
	/* 0 means 4: the image still loads. */
	f->img[LINUX_SETUP_SECTS_OFF] = 0;
	assert_int_equal(boot_fixture_load(f), 0);
}

static void test_header_too_short(void **state)
{
	struct boot_fixture *f = *state;

	f->img[LINUX_HDR_LEN_OFF] = 0x40;
	expect_fail(f, -ENOEXEC, "setup header too short");
}

static void test_long_header_clamped(void **state)
{
	struct boot_fixture *f = *state;

	/* 0x202 + 0xff would run into edd_mbr_sig_buffer at 0x290. */
	f->img[LINUX_HDR_LEN_OFF] = 0xff;
	memset(f->img + 0x26c, 0x77, 0x301 - 0x26c);
	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(zp(f)[0x28f], 0x77);
	assert_int_equal(zp(f)[0x290], 0);
}

static void test_not_64bit(void **state)
{
	struct boot_fixture *f = *state;

	put_le16(f->img + LINUX_XLOADFLAGS_OFF, LINUX_XLF_CAN_BE_LOADED_ABOVE_4G);
	expect_fail(f, -ENOEXEC, "not 64-bit capable");
	make_bzimage(f);
	f->img[LINUX_LOADFLAGS_OFF] = 0;
	expect_fail(f, -ENOEXEC, "LOADED_HIGH");
}

static void test_bad_syssize(void **state)
{
	struct boot_fixture *f = *state;

	put_le32(f->img + LINUX_SYSSIZE_OFF, 0);
	expect_fail(f, -ENOEXEC, "syssize is 0");
	put_le32(f->img + LINUX_SYSSIZE_OFF, UINT32_MAX);
	expect_fail(f, -ENOEXEC, "syssize says 0xffffffff0 bytes");
}

static void test_init_size_larger_than_ram(void **state)
{
	struct boot_fixture *f = *state;

	put_le32(f->img + LINUX_INIT_SIZE_OFF, 0x8000000);
	expect_fail(f, -ENOMEM, "init_size needs 128 MiB from 0x1000000");
	put_le32(f->img + LINUX_INIT_SIZE_OFF, UINT32_MAX);
	expect_fail(f, -ENOMEM, "init_size");
	put_le32(f->img + LINUX_INIT_SIZE_OFF, 0);
	expect_fail(f, -ENOEXEC, "init_size is 0");
	/* pref_address beyond RAM: falls back to 1 MiB, but it still runs from pref. */
	make_bzimage(f);
	put_le64(f->img + LINUX_PREF_ADDRESS_OFF, 0xfffffffff0000000ULL);
	expect_fail(f, -ENOMEM, "init_size");
}

static void test_cmdline_too_long(void **state)
{
	struct boot_fixture *f = *state;
	char line[300];

	memset(line, 'a', sizeof(line));
	line[255] = '\0';
	f->in.cmdline = line;
	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(strlen(gmem_ptr(&f->m, LAYOUT_CMDLINE, 256)), 255);
	line[255] = 'a';
	line[256] = '\0';
	expect_fail(f, -E2BIG,
		    "kernel command line too long (256 bytes > 255 allowed by this kernel)");
}

static void test_memory_too_small(void **state)
{
	struct boot_fixture *f = *state;

	gmem_destroy(&f->m);
	assert_int_equal(gmem_init(&f->m, 1 * MiB, 0), 0);
	f->map = (struct e820_map){ 1, { { 0, 1 * MiB, E820_RAM } } };
	expect_fail(f, -EINVAL, "memory too small (1 MiB of RAM below 4 GiB < 2 MiB minimum)");
}

static void test_extra_modules_refused(void **state)
{
	struct boot_fixture *f = *state;
	struct boot_module mod = { (const uint8_t *)"x", 1, NULL };

	f->in.modules = &mod;
	f->in.nmodules = 1;
	expect_fail(f, -EINVAL, "only supported for multiboot");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, boot_fixture_teardown)
	const struct CMUnitTest tests[] = {
		T(test_loads_at_pref_address),
		T(test_initrd_at_top_of_ram),
		T(test_initrd_below_initrd_addr_max),
		T(test_initrd_too_big),
		T(test_not_relocatable_loads_at_1mib),
		T(test_unaligned_pref_address),
		T(test_trailing_bytes_not_loaded),
		T(test_truncated_everywhere),
		T(test_random_corruption),
		T(test_bad_magic),
		T(test_old_protocol),
		T(test_setup_sects_past_eof),
		T(test_header_too_short),
		T(test_long_header_clamped),
		T(test_not_64bit),
		T(test_bad_syssize),
		T(test_init_size_larger_than_ram),
		T(test_cmdline_too_long),
		T(test_memory_too_small),
		T(test_extra_modules_refused),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
