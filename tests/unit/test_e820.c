/* The e820 map lodge gives every guest: fixed low layout, low RAM, RAM above 4 GiB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>

#include "arch/x86/e820.h"
#include "arch/x86/layout.h"

static void assert_entry(const struct e820_entry *en, uint64_t addr, uint64_t size, uint32_t type)
{
	assert_int_equal(en->addr, addr);
	assert_int_equal(en->size, size);
	assert_int_equal(en->type, type);
}

static void test_small_ram(void **state)
{
	struct e820_map map;
	struct gmem m;

	(void)state;
	assert_int_equal(gmem_init(&m, 64 << 20, 0), 0);
	assert_int_equal(e820_build(&map, &m), 0);
	assert_int_equal(map.n, 3);
	assert_entry(&map.e[0], 0, 0x9fc00, E820_RAM);
	assert_entry(&map.e[1], 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED);
	assert_entry(&map.e[2], 0x100000, (64 << 20) - 0x100000, E820_RAM);
	gmem_destroy(&m);
}

static void test_ram_above_hole(void **state)
{
	uint64_t size = 4ULL << 30;
	struct e820_map map;
	struct gmem m;

	(void)state;
	assert_int_equal(gmem_init(&m, size, 0), 0);
	assert_int_equal(e820_build(&map, &m), 0);
	assert_int_equal(map.n, 4);
	assert_entry(&map.e[2], LAYOUT_HIGH_MEM, GMEM_HOLE_START - LAYOUT_HIGH_MEM, E820_RAM);
	/* The MMIO hole is simply absent from the map; the rest of RAM sits at 4 GiB. */
	assert_entry(&map.e[3], GMEM_HOLE_END, size - GMEM_HOLE_START, E820_RAM);
	gmem_destroy(&m);
}

static void test_minimum_size(void **state)
{
	struct e820_map map;
	struct gmem m;

	(void)state;
	assert_int_equal(gmem_init(&m, 2 << 20, 0), 0);
	assert_int_equal(e820_build(&map, &m), 0);
	assert_entry(&map.e[2], LAYOUT_HIGH_MEM, 1 << 20, E820_RAM);
	gmem_destroy(&m);

	assert_int_equal(gmem_init(&m, (2 << 20) - 4096, 0), 0);
	assert_int_equal(e820_build(&map, &m), -EINVAL);
	gmem_destroy(&m);

	assert_int_equal(gmem_init(&m, 512 << 10, 0), 0);
	assert_int_equal(e820_build(&map, &m), -EINVAL);
	gmem_destroy(&m);
}

static void test_no_memory(void **state)
{
	struct gmem m = { .fd = -1 };
	struct e820_map map;

	(void)state;
	assert_int_equal(e820_build(&map, &m), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_ram),
		cmocka_unit_test(test_ram_above_hole),
		cmocka_unit_test(test_minimum_size),
		cmocka_unit_test(test_no_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
