/* Boot CPU state: segments, control registers and page tables for each boot mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "arch/x86/cpu.h"
#include "arch/x86/layout.h"

static void test_linux64(void **state)
{
	struct gmem m;
	struct kvm_regs regs;
	struct kvm_sregs sregs = { 0 };
	struct boot_entry entry = { .mode = BOOT_LINUX64, .rip = 0x1000200, .arg = LAYOUT_ZERO_PAGE };
	uint64_t pml4, pdpt3, pde;

	(void)state;
	assert_int_equal(gmem_init(&m, 64 << 20, 0), 0);
	assert_int_equal(cpu_boot_state(&m, &entry, &regs, &sregs), 0);
	assert_int_equal(regs.rip, 0x1000200);
	assert_int_equal(regs.rsi, LAYOUT_ZERO_PAGE);
	assert_int_equal(regs.rflags, 2);
	assert_int_equal(sregs.cs.selector, GDT_SEL_CODE);
	assert_int_equal(sregs.cs.l, 1);
	assert_int_equal(sregs.cs.db, 0);
	assert_int_equal(sregs.ds.selector, GDT_SEL_DATA);
	assert_int_equal(sregs.ss.limit, 0xffffffff);
	assert_true(sregs.cr0 & (1u << 31));
	assert_true(sregs.cr4 & (1u << 5));
	assert_int_equal(sregs.efer & 0x500, 0x500);
	assert_int_equal(sregs.cr3, LAYOUT_PML4);
	/* 4 GiB identity map: the last 2 MiB page maps 0xffe00000. */
	assert_int_equal(gmem_read(&m, LAYOUT_PML4, &pml4, 8), 0);
	assert_int_equal(pml4 & ~0xfffULL, LAYOUT_PDPT);
	assert_int_equal(gmem_read(&m, LAYOUT_PDPT + 3 * 8, &pdpt3, 8), 0);
	assert_int_equal(pdpt3 & ~0xfffULL, LAYOUT_PD + 3 * 4096);
	assert_int_equal(gmem_read(&m, LAYOUT_PD + 4 * 4096 - 8, &pde, 8), 0);
	assert_int_equal(pde & ~0xfffULL, 0xffe00000ULL);
	assert_true(pde & 0x80);
	gmem_destroy(&m);
}

static void test_pvh_and_multiboot(void **state)
{
	struct gmem m;
	struct kvm_regs regs;
	struct kvm_sregs sregs = { 0 };
	struct boot_entry pvh = { .mode = BOOT_PVH, .rip = 0x100000, .arg = LAYOUT_PVH_INFO };
	struct boot_entry mb = { .mode = BOOT_MULTIBOOT, .rip = 0x100010, .arg = LAYOUT_MBI };
	uint64_t gdt[5];

	(void)state;
	assert_int_equal(gmem_init(&m, 16 << 20, 0), 0);
	assert_int_equal(cpu_boot_state(&m, &pvh, &regs, &sregs), 0);
	assert_int_equal(regs.rbx, LAYOUT_PVH_INFO);
	assert_int_equal(sregs.cs.l, 0);
	assert_int_equal(sregs.cs.db, 1);
	assert_int_equal(sregs.cs.base, 0);
	assert_int_equal(sregs.cs.limit, 0xffffffff);
	assert_false(sregs.cr0 & (1u << 31));
	assert_int_equal(sregs.efer, 0);
	assert_int_equal(sregs.tr.type, 0xb);
	/* The table in memory says what the hidden segment state says. */
	assert_int_equal(gmem_read(&m, LAYOUT_GDT, gdt, sizeof(gdt)), 0);
	assert_int_equal(gdt[GDT_SEL_CODE / 8], 0x00cf9b000000ffffULL);
	assert_int_equal(gdt[GDT_SEL_DATA / 8], 0x00cf93000000ffffULL);
	assert_int_equal(cpu_boot_state(&m, &mb, &regs, &sregs), 0);
	assert_int_equal(regs.rax, 0x2BADB002);
	assert_int_equal(regs.rbx, LAYOUT_MBI);
	gmem_destroy(&m);
}

static void test_ram_too_small_for_tables(void **state)
{
	struct gmem m;
	struct kvm_regs regs;
	struct kvm_sregs sregs = { 0 };
	struct boot_entry entry = { .mode = BOOT_LINUX64 };

	(void)state;
	assert_int_equal(gmem_init(&m, 0x8000, 0), 0);
	assert_int_equal(cpu_boot_state(&m, &entry, &regs, &sregs), -EFAULT);
	gmem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linux64),
		cmocka_unit_test(test_pvh_and_multiboot),
		cmocka_unit_test(test_ram_too_small_for_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
