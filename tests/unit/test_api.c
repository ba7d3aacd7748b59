/*
 * The API without a socket or KVM: the router and handlers through
 * api_dispatch, the live updates' checks, the config written back as JSON,
 * KVM's stats file parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/internal.h"
#include "api/kvm_stats.h"
#include "vmm/config_json_out.h"

static struct api *new_api(void)
{
	struct api_opts o = { .kvm_path = "/nonexistent/kvm", .id = "unit" };
	struct api *a = malloc(sizeof(*a));
	struct err e = { "" };

	assert_non_null(a);
	assert_int_equal(api_state_init(a, &o, &e), 0);
	return a;
}

static void free_api(struct api *a)
{
	api_state_fini(a);
	free(a);
}

/* Dispatch one request; the response body (or "") is returned in (body), malloc'd. */
static unsigned call(struct api *a, const char *method, const char *path, const char *body,
		     char **out)
{
	struct api_request req = { method, path, body ? body : "", body ? strlen(body) : 0 };
	struct api_response r = { .status = 0 };

	api_dispatch(a, &req, &r);
	*out = r.body ? r.body : strdup("");
	if (r.allow[0]) {
		char *both = NULL;

		assert_true(asprintf(&both, "%s|Allow: %s", *out, r.allow) > 0);
		free(*out);
		*out = both;
	}
	return r.status;
}

static void expect(struct api *a, const char *method, const char *path, const char *body,
		   unsigned status, const char *words)
{
	char *out;
	unsigned s = call(a, method, path, body, &out);

	if (s != status || (words && !strstr(out, words)))
		fail_msg("%s %s %s: %u '%s' (want %u with '%s')", method, path, body ? body : "", s,
			 out, status, words ? words : "");
	free(out);
}

static void test_routes_and_state(void **state)
{
	struct api *a = new_api();

	(void)state;
	expect(a, "GET", "/", NULL, 200, "\"state\":\"Not started\"");
	expect(a, "GET", "/", NULL, 200, "\"id\":\"unit\"");
	expect(a, "GET", "/version", NULL, 200, "firecracker_version");
	expect(a, "GET", "/version/", NULL, 200, "firecracker_version");
	expect(a, "GET", "/nope", NULL, 400, "Invalid request method and/or path: GET /nope.");
	expect(a, "POST", "/actions", "{}", 405, "Allow: PUT");
	expect(a, "PATCH", "/machine-config/", "{\"mem_size_mib\": 256}", 204, NULL);
	expect(a, "GET", "/machine-config", NULL, 200, "\"mem_size_mib\":256");
	expect(a, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64, "
	       "\"huge_pages\": \"2M\"}", 204, NULL);
	expect(a, "GET", "/machine-config", NULL, 200, "\"huge_pages\":\"2M\"");
	/* PUT resets what it leaves out; a failed PUT changes nothing. */
	expect(a, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64}", 204, NULL);
	expect(a, "PUT", "/machine-config", "{\"vcpu_count\": 4, \"mem_size_mib\": 0}", 400,
	       "mem_size_mib");
	expect(a, "GET", "/machine-config", NULL, 200,
	       "{\"vcpu_count\":2,\"mem_size_mib\":64,\"smt\":false,\"track_dirty_pages\":false,"
	       "\"huge_pages\":\"None\"}");
	expect(a, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64, "
	       "\"track_dirty_pages\": true}", 204, NULL);
	expect(a, "GET", "/machine-config", NULL, 200, "\"track_dirty_pages\":true");
	expect(a, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64}", 204, NULL);
	expect(a, "GET", "/machine-config", NULL, 200, "\"track_dirty_pages\":false");
	expect(a, "PATCH", "/vm", "{\"state\": \"Paused\"}", 400, API_MSG_PRE_BOOT);
	expect(a, "GET", "/balloon/statistics", NULL, 400, API_MSG_PRE_BOOT);
	expect(a, "GET", "/balloon", NULL, 400, "No balloon device found");
	expect(a, "PUT", "/drives", "{}", 400, "The ID cannot be empty.");
	expect(a, "PUT", "/drives/a.b", "{}", 400, "alphanumeric");
	expect(a, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth1\", "
	       "\"host_dev_name\": \"tap0\"}", 400, "[eth0] does not match the id from the body [eth1]");
	expect(a, "PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
	       "\"host_dev_name\": \"tap0\", \"guest_mac\": \"06:00:00:00:00:01\"}", 204, NULL);
	expect(a, "PUT", "/snapshot/load", "{\"snapshot_path\": \"x\"}", 400, "exactly one of");
	expect(a, "PUT", "/snapshot/load", "{\"snapshot_path\": \"x\", \"mem_file_path\": \"y\", "
	       "\"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"y\"}}", 400,
	       "exactly one of");
	expect(a, "PUT", "/snapshot/load", "{\"snapshot_path\": \"x\", \"mem_backend\": "
	       "{\"backend_type\": \"Disk\", \"backend_path\": \"y\"}}", 400, "backend_type");
	expect(a, "PUT", "/snapshot/load", "{\"snapshot_path\": \"x\", \"mem_file_path\": \"y\", "
	       "\"network_overrides\": [{\"iface_id\": \"eth0\"}]}", 400, "host_dev_name");
	/* A network interface is configured: a load is refused as Firecracker refuses it. */
	expect(a, "PUT", "/snapshot/load", "{\"snapshot_path\": \"x\", \"mem_file_path\": \"y\"}",
	       400, "not allowed after configuring");
	expect(a, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400,
	       "Cannot start microvm without kernel configuration.");
	expect(a, "PUT", "/boot-source", "{\"kernel_image_path\": \"/proc/self/exe\"}", 204, NULL);
	expect(a, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400,
	       "Start microvm error: /nonexistent/kvm");
	expect(a, "GET", "/vm/config", NULL, 200, "\"guest_mac\":\"06:00:00:00:00:01\"");
	expect(a, "GET", "/lodge/metrics", NULL, 200, "lodge_put_api_requests_actions_count 2");
	expect(a, "GET", "/", "x", 400, "GET request cannot have a body.");
	expect(a, "PUT", "/vsock", NULL, 400, "Empty PUT request.");
	expect(a, "PUT", "/vsock", "[1,", 400, "deserializing");
	free_api(a);
}

/*
 * PATCH /drives, /network-interfaces, /balloon/statistics: when they may
 * run, and the checks made before a device is touched (the instance is
 * marked running without a VM: nothing here may reach one).
 */
static void test_live_update_rules(void **state)
{
	struct api *a = new_api();

	(void)state;
	expect(a, "PUT", "/drives/d0", "{\"drive_id\": \"d0\", \"path_on_host\": \"/proc/self/exe\", "
	       "\"is_root_device\": false, \"is_read_only\": true}", 204, NULL);
	expect(a, "PUT", "/network-interfaces/n0", "{\"iface_id\": \"n0\", \"host_dev_name\": \"tap0\"}",
	       204, NULL);
	expect(a, "PUT", "/balloon", "{\"amount_mib\": 0, \"deflate_on_oom\": false, "
	       "\"stats_polling_interval_s\": 2}", 204, NULL);
	expect(a, "PATCH", "/drives/d0", "{\"drive_id\": \"d0\"}", 400, API_MSG_PRE_BOOT);
	expect(a, "PATCH", "/network-interfaces/n0", "{\"iface_id\": \"n0\"}", 400, API_MSG_PRE_BOOT);
	/* Before start the interval is the initial one, 0 included. */
	expect(a, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 0}", 204, NULL);
	expect(a, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 3}", 204, NULL);
	expect(a, "GET", "/balloon", NULL, 200, "\"stats_polling_interval_s\":3");

	atomic_store(&a->state, API_RUNNING);
	expect(a, "PATCH", "/drives/d0", "{\"drive_id\": \"d1\"}", 400, "does not match");
	expect(a, "PATCH", "/drives/d1", "{\"drive_id\": \"d1\"}", 400, "no drive 'd1'");
	expect(a, "PATCH", "/drives/d0", "{\"drive_id\": \"d0\", \"is_read_only\": false}", 400,
	       "unknown field 'is_read_only'");
	expect(a, "PATCH", "/drives/d0", "{\"drive_id\": \"d0\", \"path_on_host\": 7}", 400,
	       "drives/d0.path_on_host: expected a non-empty string");
	expect(a, "PATCH", "/drives/d0", "{\"drive_id\": \"d0\", \"path_on_host\": \"\"}", 400,
	       "non-empty");
	expect(a, "PATCH", "/drives/d0", "{\"drive_id\": \"d0\", \"rate_limiter\": "
	       "{\"ops\": {\"size\": 5}}}", 400, "drives/d0.rate_limiter.ops");
	expect(a, "PATCH", "/drives/d0", "{\"drive_id\": \"d0\", \"rate_limiter\": "
	       "{\"bandwidth\": {\"size\": 5, \"refill_time\": 0}}}", 400, "refill_time");
	expect(a, "PATCH", "/drives/d0", "{\"drive_id\": \"d0\", \"rate_limiter\": 3}", 400,
	       "expected an object");
	/* Nothing to change (a null limiter is none): 204 without a device. */
	expect(a, "PATCH", "/drives/d0", "{\"drive_id\": \"d0\"}", 204, NULL);
	expect(a, "PATCH", "/drives/d0", "{\"drive_id\": \"d0\", \"rate_limiter\": null}", 204, NULL);
	expect(a, "PATCH", "/network-interfaces/n0", "{\"iface_id\": \"n9\"}", 400,
	       "[n0] does not match the id from the body [n9]");
	expect(a, "PATCH", "/network-interfaces/n9", "{\"iface_id\": \"n9\"}", 400,
	       "no network interface 'n9'");
	expect(a, "PATCH", "/network-interfaces/n0", "{\"iface_id\": \"n0\", \"tx_rate_limiter\": "
	       "{\"ops\": {\"size\": 1, \"refill_time\": 1, \"burst\": 2}}}", 400,
	       "unknown field 'burst'");
	expect(a, "PATCH", "/network-interfaces/n0", "{\"iface_id\": \"n0\", \"rx_rate_limiter\": "
	       "{\"ops\": {\"size\": -1, \"refill_time\": 1}}}", 400, "rx_rate_limiter.ops.size");
	expect(a, "PATCH", "/network-interfaces/n0", "{\"iface_id\": \"n0\", \"rx_rate_limiter\": "
	       "null}", 204, NULL);
	/* The refused updates left the configuration alone. */
	expect(a, "GET", "/vm/config", NULL, 200, "\"path_on_host\":\"/proc/self/exe\"");
	{
		char *out;

		assert_int_equal(call(a, "GET", "/vm/config", NULL, &out), 200);
		assert_null(strstr(out, "rate_limiter"));
		free(out);
	}
	/* Running, but no balloon device (no VM here): Firecracker's answer. */
	expect(a, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 1}", 400,
	       "No balloon device found");
	atomic_store(&a->state, API_NOT_STARTED);
	free_api(a);
}

static void test_config_round_trip(void **state)
{
	static const char json[] =
		"{\"boot-source\": {\"kernel_image_path\": \"/k\", \"initrd_path\": \"/i\", \"boot_args\": \"a=1\"},"
		" \"machine-config\": {\"vcpu_count\": 3, \"mem_size_mib\": 300, \"huge_pages\": \"2M\"},"
		" \"drives\": [{\"drive_id\": \"root\", \"path_on_host\": \"/r\", \"is_root_device\": true,"
		"   \"partuuid\": \"abc\", \"is_read_only\": true, \"cache_type\": \"Writeback\","
		"   \"io_engine\": \"Async\", \"rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 100}}}],"
		" \"network-interfaces\": [{\"iface_id\": \"n0\", \"host_dev_name\": \"tap0\","
		"   \"guest_mac\": \"02:00:00:00:00:aa\", \"mtu\": 1400,"
		"   \"tx_rate_limiter\": {\"bandwidth\": {\"size\": 1, \"one_time_burst\": 2, \"refill_time\": 3}}}],"
		" \"vsock\": {\"guest_cid\": 7, \"uds_path\": \"/v\"},"
		" \"balloon\": {\"amount_mib\": 5, \"deflate_on_oom\": true, \"stats_polling_interval_s\": 2,"
		"   \"free_page_reporting\": true},"
		" \"entropy\": {\"rate_limiter\": {\"bandwidth\": {\"size\": 100, \"refill_time\": 10}}},"
		" \"lodge\": {\"serial\": \"file:/s\", \"cpu_mask\": [\"avx2\"], \"modules\": [\"/m arg\"]}}";
	struct vm_config c1, c2;
	struct err e = { "" };
	json_t *j1, *j2;
	char *t1, *t2;

	(void)state;
	config_init(&c1);
	config_init(&c2);
	assert_int_equal(config_parse_json(&c1, json, &e), 0);
	j1 = config_to_json(&c1);
	assert_non_null(j1);
	t1 = json_dumps(j1, JSON_COMPACT | JSON_SORT_KEYS);
	if (config_parse_json(&c2, t1, &e) != 0)
		fail_msg("%s: %s", t1, e.msg);
	j2 = config_to_json(&c2);
	t2 = json_dumps(j2, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(t1, t2);
	assert_non_null(strstr(t1, "\"cache_type\":\"Writeback\""));
	assert_non_null(strstr(t1, "\"serial\":\"file:/s\""));
	assert_non_null(strstr(t1, "\"mtu\":1400"));
	free(t1);
	free(t2);
	json_decref(j1);
	json_decref(j2);
	config_free(&c1);
	config_free(&c2);
}

/* A stats file image: header, (n) descriptors with 16-byte names, no data. */
static size_t stats_image(uint8_t *buf, const char *const *names, const uint32_t *flags,
			  const uint16_t *sizes, unsigned n)
{
	struct kvm_stats_header h = { .name_size = 16, .num_desc = n, .id_offset = 24,
				      .desc_offset = 64, .data_offset = 4096 };
	size_t dl = sizeof(struct kvm_stats_desc) + 16, off = 0;

	memset(buf, 0, 64 + n * dl);
	memcpy(buf, &h, sizeof(h));
	for (unsigned i = 0; i < n; i++) {
		struct kvm_stats_desc d = { .flags = flags[i], .size = sizes[i], .offset = (uint32_t)off };

		memcpy(buf + 64 + i * dl, &d, sizeof(d));
		strcpy((char *)buf + 64 + i * dl + sizeof(d), names[i]);
		off += 8u * sizes[i];
	}
	return 64 + n * dl;
}

static void test_kvm_stats_parse(void **state)
{
	static const char *const names[] = { "exits", "halt_poll_hist", "io_exits", "guest_mode" };
	static const uint32_t flags[] = { KVM_STATS_TYPE_CUMULATIVE, KVM_STATS_TYPE_LOG_HIST,
					  KVM_STATS_TYPE_CUMULATIVE, KVM_STATS_TYPE_INSTANT };
	static const uint16_t sizes[] = { 1, 32, 1, 1 };
	uint8_t buf[1024];
	struct kvm_stat_field f[8];
	uint32_t doff, dsize;
	size_t len = stats_image(buf, names, flags, sizes, 4);
	struct kvm_stats_header *h = (struct kvm_stats_header *)buf;

	(void)state;
	assert_int_equal(kvm_stats_parse(buf, len, f, 8, &doff, &dsize), 3);
	assert_string_equal(f[0].name, "exits");
	assert_true(f[0].cumulative);
	assert_string_equal(f[1].name, "io_exits");
	assert_int_equal(f[1].offset, 8 + 32 * 8);
	assert_string_equal(f[2].name, "guest_mode");
	assert_false(f[2].cumulative);
	assert_int_equal(doff, 4096);
	assert_int_equal(dsize, 8 * 35);
	/* Hostile headers: descriptors past the end, absurd counts, no room for names. */
	assert_int_equal(kvm_stats_parse(buf, len - 1, f, 8, &doff, &dsize), -EINVAL);
	h->num_desc = 100000;
	assert_int_equal(kvm_stats_parse(buf, len, f, 8, &doff, &dsize), -EINVAL);
	h->num_desc = 4;
	h->desc_offset = 4000;
	assert_int_equal(kvm_stats_parse(buf, len, f, 8, &doff, &dsize), -EINVAL);
	h->desc_offset = 64;
	h->name_size = 0;
	assert_int_equal(kvm_stats_parse(buf, len, f, 8, &doff, &dsize), -EINVAL);
	assert_int_equal(kvm_stats_parse(buf, 8, f, 8, &doff, &dsize), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_and_state),
		cmocka_unit_test(test_live_update_rules),
		cmocka_unit_test(test_config_round_trip),
		cmocka_unit_test(test_kvm_stats_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
