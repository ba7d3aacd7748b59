/* Configuration: Firecracker-shaped JSON, flags' number parsing, and every bad input's message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "vmm/config.h"

static void test_firecracker_shape(void **state)
{
	struct vm_config c;
	struct err e = { "" };
	const char *json =
		"{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"console=ttyS0\","
		" \"initrd_path\": \"/i\"},"
		" \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": false},"
		" \"drives\": [], \"network-interfaces\": [],"
		" \"lodge\": {\"serial\": \"none\", \"cpu_mask\": [\"avx2\"]}}";

	(void)state;
	config_init(&c);
	assert_int_equal(config_parse_json(&c, json, &e), 0);
	assert_string_equal(c.kernel_path, "/k");
	assert_string_equal(c.initrd_path, "/i");
	assert_string_equal(c.cmdline, "console=ttyS0");
	assert_int_equal(c.vcpus, 2);
	assert_int_equal(c.mem_mib, 256);
	assert_int_equal(c.serial, SERIAL_NONE);
	assert_int_equal(c.ncpu_mask, 1);
	assert_int_equal(config_validate(&c, &e), 0);
	config_free(&c);
}

struct bad_case {
	const char *json;
	const char *words;      /* the one-line error must contain this */
};

static void test_bad_json(void **state)
{
	static const struct bad_case cases[] = {
		{ "{", "line 1" },
		{ "[]", "top level must be an object" },
		{ "{\"boot-sauce\": {}}", "unknown section 'boot-sauce'" },
		{ "{\"boot-source\": {}}", "missing field 'kernel_image_path'" },
		{ "{\"boot-source\": {\"kernel_image_path\": 3}}", "boot-source.kernel_image_path: expected a string" },
		{ "{\"boot-source\": {\"kernel_image_path\": \"/k\", \"x\": 1}}", "unknown field 'x'" },
		{ "{\"machine-config\": {\"vcpu_count\": 0, \"mem_size_mib\": 1}}", "vcpu_count: 0 out of range" },
		{ "{\"machine-config\": {\"vcpu_count\": 1}}", "missing field 'mem_size_mib'" },
		{ "{\"machine-config\": {\"vcpu_count\": \"2\", \"mem_size_mib\": 1}}", "vcpu_count: expected an integer" },
		{ "{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": -5}}", "mem_size_mib: -5 out of range" },
		{ "{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 8, \"smt\": true}}", "SMT is not supported" },
		{ "{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 8, \"huge_pages\": \"1G\"}}", "huge_pages" },
		{ "{\"drives\": [{\"drive_id\": \"root\"}]}", "drives: not supported" },
		{ "{\"lodge\": {\"cpu_mask\": [\"warp-drive\"]}}", "unknown CPUID feature 'warp-drive'" },
		{ "{\"lodge\": {\"serial\": \"tty\"}}", "lodge.serial" },
		{ "{\"a\": 1, \"a\": 2}", "duplicate" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vm_config c;
		struct err e = { "" };

		config_init(&c);
		assert_true(config_parse_json(&c, cases[i].json, &e) < 0);
		if (!strstr(e.msg, cases[i].words))
			fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, cases[i].words);
		assert_null(strchr(e.msg, '\n'));
		config_free(&c);
	}
}

static void test_validate(void **state)
{
	struct vm_config c;
	struct err e = { "" };

	(void)state;
	config_init(&c);
	assert_int_equal(config_validate(&c, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "no kernel"));
	c.kernel_path = strdup("/k");
	c.hugepages = true;
	c.mem_mib = 129;
	assert_int_equal(config_validate(&c, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "huge pages"));
	config_free(&c);
}

static void test_numbers_and_serial(void **state)
{
	struct vm_config c;
	struct err e = { "" };
	uint64_t v = 0;

	(void)state;
	assert_int_equal(config_parse_uint("42", 1, 100, "--cpus", &v, &e), 0);
	assert_int_equal(v, 42);
	assert_int_equal(config_parse_uint("0", 1, 100, "--cpus", &v, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "--cpus: 0 out of range [1, 100]"));
	assert_int_equal(config_parse_uint("-1", 1, 100, "--cpus", &v, &e), -EINVAL);
	assert_int_equal(config_parse_uint("12abc", 1, 100, "--cpus", &v, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a number"));
	assert_int_equal(config_parse_uint("99999999999999999999999", 1, 100, "--m", &v, &e), -EINVAL);
	assert_int_equal(config_parse_uint("", 1, 100, "--m", &v, &e), -EINVAL);
	config_init(&c);
	assert_int_equal(config_set_serial(&c, "file:/tmp/x", &e), 0);
	assert_int_equal(c.serial, SERIAL_FILE);
	assert_string_equal(c.serial_path, "/tmp/x");
	assert_int_equal(config_set_serial(&c, "file:", &e), -EINVAL);
	assert_int_equal(config_set_serial(&c, "stdout", &e), -EINVAL);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_firecracker_shape),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_numbers_and_serial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
