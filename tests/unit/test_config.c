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

static void test_devices(void **state)
{
	struct vm_config c;
	struct err e = { "" };
	static const char json[] =
		"{\"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", \"is_root_device\": true,"
		"  \"is_read_only\": true, \"cache_type\": \"Writeback\", \"io_engine\": \"Async\","
		"  \"rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"one_time_burst\": 5, \"refill_time\": 100}}},"
		" {\"drive_id\": \"data\", \"path_on_host\": \"/d\", \"is_root_device\": false}],"
		" \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap7\","
		"  \"guest_mac\": \"06:00:AC:10:00:02\", \"mtu\": 1400}],"
		" \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v.sock\"},"
		" \"balloon\": {\"amount_mib\": 16, \"deflate_on_oom\": true, \"stats_polling_interval_s\": 1},"
		" \"entropy\": {}}";

	(void)state;
	config_init(&c);
	assert_int_equal(config_parse_json(&c, json, &e), 0);
	assert_int_equal(c.ndrives, 2);
	assert_string_equal(c.drives[0].id, "rootfs");
	assert_true(c.drives[0].root && c.drives[0].read_only);
	assert_int_equal(c.drives[0].cache, DRIVE_CACHE_WRITEBACK);
	assert_int_equal(c.drives[0].io, DRIVE_IO_ASYNC);
	assert_int_equal(c.drives[0].limiter.bandwidth.size, 1000);
	assert_int_equal(c.drives[0].limiter.bandwidth.one_time_burst, 5);
	assert_int_equal(c.drives[0].limiter.bandwidth.refill_time_ms, 100);
	assert_int_equal(c.drives[1].io, DRIVE_IO_SYNC);
	assert_int_equal(c.nnets, 1);
	assert_true(c.nets[0].has_mac);
	assert_int_equal(c.nets[0].mac[2], 0xac);
	assert_int_equal(c.nets[0].mtu, 1400);
	assert_true(c.vsock.enabled);
	assert_int_equal(c.vsock.cid, 3);
	assert_true(c.balloon.enabled && c.balloon.deflate_on_oom);
	assert_int_equal(c.balloon.amount_mib, 16);
	assert_true(c.entropy.enabled);

	/* The CLI form: same objects; the same drive_id replaces. */
	assert_int_equal(config_set_from_spec(&c, "/new,drive_id=data,is_read_only=true,"
					      "rate_limiter.ops.size=10,rate_limiter.ops.refill_time=1000",
					      "path_on_host", "drive_id=drive9,is_root_device=false",
					      config_set_drive, "--drive", &e), 0);
	assert_int_equal(c.ndrives, 2);
	assert_string_equal(c.drives[1].path, "/new");
	assert_true(c.drives[1].read_only);
	assert_int_equal(c.drives[1].limiter.ops.size, 10);
	assert_int_equal(config_set_from_spec(&c, "/third", "path_on_host",
					      "drive_id=drive2,is_root_device=false",
					      config_set_drive, "--drive", &e), 0);
	assert_int_equal(c.ndrives, 3);
	assert_string_equal(c.drives[2].id, "drive2");
	assert_true(config_set_from_spec(&c, "/x,bogus", "path_on_host", NULL, config_set_drive,
					 "--drive", &e) < 0);
	assert_non_null(strstr(e.msg, "'bogus' is not key=value"));
	assert_true(config_set_from_spec(&c, "/x,is_read_only=1,is_read_only=0", "path_on_host",
					 NULL, config_set_drive, "--drive", &e) < 0);
	assert_non_null(strstr(e.msg, "repeated"));
	config_free(&c);
}

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
		{ "{\"drives\": [{\"drive_id\": \"root\"}]}", "drives[0]: missing field 'path_on_host'" },
		{ "{\"drives\": [{\"drive_id\": \"a b\", \"path_on_host\": \"/d\", \"is_root_device\": false}]}", "drive_id: 'a b' must be" },
		{ "{\"drives\": [{\"drive_id\": \"d\", \"path_on_host\": \"/d\"}]}", "missing field 'is_root_device'" },
		{ "{\"drives\": [{\"drive_id\": \"d\", \"path_on_host\": \"/d\", \"is_root_device\": false, \"cache_type\": \"Fast\"}]}", "cache_type: expected one of" },
		{ "{\"drives\": [{\"drive_id\": \"d\", \"path_on_host\": \"/d\", \"is_root_device\": false, \"io_engine\": 1}]}", "io_engine: expected one of" },
		{ "{\"drives\": [{\"drive_id\": \"d\", \"path_on_host\": \"/d\", \"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": 5}}}]}", "rate_limiter.ops: missing field 'refill_time'" },
		{ "{\"drives\": [{\"drive_id\": \"d\", \"path_on_host\": \"/d\", \"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": 5, \"refill_time\": 0}}}]}", "must be > 0" },
		{ "{\"entropy\": {\"rate_limiter\": {\"bandwidth\": {\"size\": 5, \"refill_time\": 1099511627777}}}}", "refill_time: 1099511627777 out of range" },
		{ "{\"drives\": [{\"drive_id\": \"d\", \"is_root_device\": false, \"socket\": \"/s\"}]}", "vhost-user drives are not supported" },
		{ "{\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/d\", \"is_root_device\": true}, {\"drive_id\": \"b\", \"path_on_host\": \"/d\", \"is_root_device\": true}]}", "already the root device" },
		{ "{\"network-interfaces\": [{\"iface_id\": \"n\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"06:00:00:00:00\"}]}", "guest_mac: '06:00:00:00:00' is not a MAC" },
		{ "{\"network-interfaces\": [{\"iface_id\": \"n\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"01:00:00:00:00:01\"}]}", "multicast" },
		{ "{\"network-interfaces\": [{\"iface_id\": \"n\", \"host_dev_name\": \"tap0\"}, {\"iface_id\": \"m\", \"host_dev_name\": \"tap0\"}]}", "tap 'tap0' is already used" },
		{ "{\"network-interfaces\": [{\"iface_id\": \"n\", \"host_dev_name\": \"a-very-long-tap-name\"}]}", "not a tap name" },
		{ "{\"vsock\": {\"guest_cid\": 2, \"uds_path\": \"/v\"}}", "vsock.guest_cid: 2 out of range" },
		{ "{\"balloon\": {\"amount_mib\": 1}}", "balloon: missing field 'deflate_on_oom'" },
		{ "{\"entropy\": {\"rate\": 1}}", "entropy: unknown field 'rate'" },
		{ "{\"drives\": {}}", "drives: expected an array" },
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
		cmocka_unit_test(test_devices),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_numbers_and_serial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
