/* I/O bus: registration rules and dispatch, including accesses nobody claims. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "devices/bus.h"

struct probe {
	uint64_t last_off;
	uint32_t last_len;
	int calls;
};

static enum io_result probe_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
			       bool is_write)
{
	struct probe *p = opaque;

	p->last_off = off;
	p->last_len = len;
	p->calls++;
	if (!is_write)
		memset(data, 0x42, len);
	return IO_HANDLED;
}

static void test_register_overlaps(void **state)
{
	struct bus b = { .name = "pio" };
	struct probe p = { 0 };

	(void)state;
	assert_int_equal(bus_register(&b, 0x100, 0x10, probe_io, &p, "a"), 0);
	assert_int_equal(bus_register(&b, 0x10f, 1, probe_io, &p, "b"), -EEXIST);
	assert_int_equal(bus_register(&b, 0xf8, 0x9, probe_io, &p, "c"), -EEXIST);
	assert_int_equal(bus_register(&b, 0xf8, 0x8, probe_io, &p, "d"), 0);
	assert_int_equal(bus_register(&b, 0x110, 0x10, probe_io, &p, "e"), 0);
	assert_int_equal(bus_register(&b, 0x0, 0, probe_io, &p, "empty"), -EINVAL);
	assert_int_equal(bus_register(&b, UINT64_MAX - 1, 4, probe_io, &p, "wrap"), -EINVAL);
	assert_int_equal(b.n, 3);
	assert_true(b.ranges[0].base < b.ranges[1].base && b.ranges[1].base < b.ranges[2].base);
	bus_destroy(&b);
}

static void test_dispatch_offsets(void **state)
{
	struct bus b = { .name = "mmio" };
	struct probe p = { 0 };
	uint8_t data[8];

	(void)state;
	for (uint64_t i = 0; i < 40; i++)
		assert_int_equal(bus_register(&b, 0x1000 * (i + 1), 0x100, probe_io, &p, "x"), 0);
	assert_int_equal(bus_access(&b, 0x5004, data, 4, false), IO_HANDLED);
	assert_int_equal(p.last_off, 4);
	assert_int_equal(p.last_len, 4);
	assert_int_equal(data[0], 0x42);
	/* Between ranges: unclaimed, reads all ones, writes vanish. */
	assert_int_equal(bus_access(&b, 0x5100, data, 4, false), IO_UNHANDLED);
	assert_int_equal(data[3], 0xff);
	assert_int_equal(bus_access(&b, 0x0, data, 1, true), IO_UNHANDLED);
	/* Straddling a range end is nobody's access. */
	assert_int_equal(bus_access(&b, 0x50fe, data, 4, false), IO_UNHANDLED);
	assert_int_equal(p.calls, 1);
	assert_int_equal(b.unhandled, 3);
	bus_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_overlaps),
		cmocka_unit_test(test_dispatch_offsets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
