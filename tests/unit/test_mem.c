/* Guest memory: regions around the MMIO hole and the checked accessor's bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>

#include "kvm/mem.h"

static void test_small_ram_one_region(void **state)
{
	struct gmem m;

	(void)state;
	assert_int_equal(gmem_init(&m, 64 << 20, 0), 0);
	assert_int_equal(m.nregions, 1);
	assert_int_equal(gmem_low_end(&m), 64 << 20);
	assert_non_null(gmem_ptr(&m, 0, 64 << 20));
	assert_null(gmem_ptr(&m, 0, (64 << 20) + 1));
	assert_null(gmem_ptr(&m, 64 << 20, 1));
	assert_non_null(gmem_ptr(&m, (64 << 20) - 1, 1));
	gmem_destroy(&m);
}

static void test_overflow_rejected(void **state)
{
	struct gmem m;

	(void)state;
	assert_int_equal(gmem_init(&m, 16 << 20, 0), 0);
	assert_null(gmem_ptr(&m, 4096, UINT64_MAX));
	assert_null(gmem_ptr(&m, UINT64_MAX, 2));
	assert_null(gmem_ptr(&m, UINT64_MAX - 4095, 4096));
	gmem_destroy(&m);
}

static void test_large_ram_splits_at_hole(void **state)
{
	struct gmem m;
	uint64_t size = 4ULL << 30;
	uint8_t byte = 0x5a, back = 0;

	(void)state;
	assert_int_equal(gmem_init(&m, size, 0), 0);
	assert_int_equal(m.nregions, 2);
	assert_int_equal(m.regions[0].size, GMEM_HOLE_START);
	assert_int_equal(m.regions[1].gpa, GMEM_HOLE_END);
	assert_int_equal(m.regions[1].size, size - GMEM_HOLE_START);
	/* The hole itself is not RAM, and no access may straddle into it. */
	assert_null(gmem_ptr(&m, GMEM_HOLE_START, 1));
	assert_null(gmem_ptr(&m, GMEM_HOLE_START - 1, 2));
	assert_int_equal(gmem_write(&m, GMEM_HOLE_END + 4096, &byte, 1), 0);
	assert_int_equal(gmem_read(&m, GMEM_HOLE_END + 4096, &back, 1), 0);
	assert_int_equal(back, 0x5a);
	/* The byte landed right after the low region in the memfd. */
	assert_int_equal(m.host[GMEM_HOLE_START + 4096], 0x5a);
	assert_int_equal(gmem_read(&m, GMEM_HOLE_END + size, &back, 1), -EFAULT);
	gmem_destroy(&m);
}

static void test_bad_sizes(void **state)
{
	struct gmem m;

	(void)state;
	assert_int_equal(gmem_init(&m, 0, 0), -EINVAL);
	assert_int_equal(gmem_init(&m, 4097, 0), -EINVAL);
	assert_int_equal(gmem_init(&m, 3 << 20, GMEM_HUGEPAGES), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_ram_one_region),
		cmocka_unit_test(test_overflow_rejected),
		cmocka_unit_test(test_large_ram_splits_at_hole),
		cmocka_unit_test(test_bad_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
