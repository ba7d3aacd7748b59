/*
 * The API contract test: walks Firecracker's swagger file (read with libyaml,
 * never retyped) against a real `lodge --api-sock`.
 *
 *  1. Every operation of the swagger file is in the plan below, which says
 *     only what lodge does with it: succeed, or answer 400 (before start,
 *     unsupported). Request bodies are made from the operation's schema
 *     (required fields, plus the few values lodge needs to be real files);
 *     each answer's status must be documented and its body must validate
 *     against the documented schema; errors are one-line fault_messages.
 *  2. Bad input made from the same schemas: each required field missing,
 *     each field of the wrong type, an unknown field; malformed JSON, empty
 *     and oversized bodies, unknown paths and methods, bad ids, a client
 *     that leaves mid-request, a slow client, 50 concurrent clients. lodge
 *     must answer each with a 4xx and keep serving.
 *  3. Process life: SIGTERM, stale and live sockets, bad flags.
 *  4. With /dev/kvm and a test guest: InstanceStart and the operations that
 *     need a running VM (pause/resume, FlushMetrics, balloon, live drive
 *     updates: another image, new token buckets).
 *
 * No KVM is needed for 1-3. Prints "PASS name" / "FAIL name: why" per case
 * and "CONTRACT-END N passed, N failed"; exit status 0 iff nothing failed.
 *
 * Usage: contract [LODGE [SWAGGER]]   (defaults: build/lodge,
 *   $LODGE_SWAGGER or tests/api/firecracker-api.yaml (a verbatim copy of Firecracker's); guest: $LODGE_CONTRACT_GUEST
 *   or guest/build/serial-input.elf)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "contract.h"

/* Before InstanceStart, with no KVM needed. Every operationId of the swagger file appears. */
static const struct step preboot_plan[] = {
	{ "describeInstance", SUCCESS, NULL, "\"Not started\"" },
	{ "getFirecrackerVersion", SUCCESS, NULL, NULL },
	{ "getMachineConfiguration", SUCCESS, NULL, "\"mem_size_mib\":128" },
	{ "putMachineConfiguration", SUCCESS, "{\"vcpu_count\": 1, \"mem_size_mib\": 64}", NULL },
	{ "patchMachineConfiguration", SUCCESS, "{\"vcpu_count\": 2, \"mem_size_mib\": 64}", NULL },
	{ "putGuestBootSource", SUCCESS, "{\"kernel_image_path\": \"@KERNEL@\", \"boot_args\": \"x=1\"}",
	  NULL },
	{ "putGuestDriveByID", SUCCESS, "{\"path_on_host\": \"@TMP@/disk.img\", \"is_read_only\": false}",
	  NULL },
	{ "patchGuestDriveByID", FAIL400, NULL, "before starting" },
	{ "putGuestNetworkInterfaceByID", SUCCESS, "{\"host_dev_name\": \"lodgetap9\"}", NULL },
	{ "patchGuestNetworkInterfaceByID", FAIL400, NULL, "before starting" },
	{ "putGuestVsock", SUCCESS, "{\"uds_path\": \"@TMP@/vsock.sock\"}", NULL },
	{ "putEntropyDevice", SUCCESS, NULL, NULL },
	{ "putBalloon", SUCCESS, "{\"amount_mib\": 0, \"stats_polling_interval_s\": 1}", NULL },
	{ "describeBalloonConfig", SUCCESS, NULL, "\"stats_polling_interval_s\":1" },
	{ "patchBalloon", SUCCESS, "{\"amount_mib\": 4}", NULL },
	{ "describeBalloonStats", FAIL400, NULL, "before starting" },
	{ "patchBalloonStatsInterval", SUCCESS, "{\"stats_polling_interval_s\": 2}", NULL },
	{ "startBalloonHinting", FAIL400, NULL, NULL },
	{ "describeBalloonHinting", FAIL400, NULL, NULL },
	{ "stopBalloonHinting", FAIL400, NULL, NULL },
	{ "putLogger", SUCCESS, "{\"log_path\": \"@TMP@/log\", \"level\": \"Debug\", "
	  "\"show_level\": true, \"show_log_origin\": true}", NULL },
	{ "putMetrics", SUCCESS, "{\"metrics_path\": \"@TMP@/metrics\"}", NULL },
	{ "putSerialDevice", SUCCESS, "{\"serial_out_path\": \"@TMP@/serial.out\"}", NULL },
	{ "putCpuConfiguration", FAIL400, NULL, "CPU templates" },
	{ "putGuestPmemByID", FAIL400, NULL, "pmem" },
	{ "patchGuestPmemByID", FAIL400, NULL, NULL },
	{ "putMmds", FAIL400, NULL, "MMDS" },
	{ "patchMmds", FAIL400, NULL, "MMDS" },
	{ "getMmds", FAIL400, NULL, "MMDS" },
	{ "putMmdsConfig", FAIL400, NULL, "MMDS" },
	{ "putMemoryHotplug", FAIL400, NULL, "hotplug" },
	{ "patchMemoryHotplug", FAIL400, NULL, NULL },
	{ "getMemoryHotplug", FAIL400, NULL, NULL },
	{ "createSnapshot", FAIL400, NULL, "before starting" },
	{ "loadSnapshot", FAIL400, "{\"mem_file_path\": \"@TMP@/mem\"}",
	  "not allowed after configuring" },
	{ "patchVm", FAIL400, NULL, "before starting" },
	{ "getExportVmConfig", SUCCESS, NULL, "\"drive_id\":\"drive1\"" },
	{ "createSyncAction", FAIL400, "{\"action_type\": \"FlushMetrics\"}", "before starting" },
	{ "createSyncAction", FAIL400, "{\"action_type\": \"SendCtrlAltDel\"}", "before starting" },
	/* The kernel is not one (and there may be no KVM): InstanceStart must say why. */
	{ "createSyncAction", FAIL400, "{\"action_type\": \"InstanceStart\"}", "Start microvm error" },
};

/* With a running guest (only where /dev/kvm works). */
static const struct step postboot_plan[] = {
	{ "describeInstance", SUCCESS, NULL, "\"Running\"" },
	{ "patchVm", SUCCESS, "{\"state\": \"Paused\"}", NULL },
	{ "describeInstance", SUCCESS, NULL, "\"Paused\"" },
	{ "patchVm", SUCCESS, "{\"state\": \"Resumed\"}", NULL },
	{ "describeInstance", SUCCESS, NULL, "\"Running\"" },
	{ "createSyncAction", SUCCESS, "{\"action_type\": \"FlushMetrics\"}", NULL },
	{ "createSyncAction", SUCCESS, "{\"action_type\": \"SendCtrlAltDel\"}", NULL },
	{ "createSyncAction", FAIL400, "{\"action_type\": \"InstanceStart\"}", "after starting" },
	{ "patchGuestDriveByID", SUCCESS, NULL, NULL },
	/* Live updates: another image (2 MiB, was 1 MiB), new token buckets, a refused file. */
	{ "patchGuestDriveByID", SUCCESS, "{\"path_on_host\": \"@TMP@/disk2.img\"}", NULL },
	{ "patchGuestDriveByID", SUCCESS, "{\"rate_limiter\": {\"bandwidth\": {\"size\": 1048576, "
	  "\"refill_time\": 100}, \"ops\": {\"size\": 1000, \"refill_time\": 100}}}", NULL },
	{ "patchGuestDriveByID", FAIL400, "{\"path_on_host\": \"@TMP@/nonexistent.img\"}",
	  "No such file" },
	{ "patchGuestDriveByID", FAIL400, "{\"rate_limiter\": {\"ops\": {\"size\": 10}}}",
	  "refill_time" },
	{ "getExportVmConfig", SUCCESS, NULL, "disk2.img\"" },
	{ "getExportVmConfig", SUCCESS, NULL, "\"ops\":{\"size\":1000," },
	{ "describeBalloonConfig", SUCCESS, NULL, NULL },
	{ "patchBalloon", SUCCESS, "{\"amount_mib\": 1}", NULL },
	{ "describeBalloonConfig", SUCCESS, NULL, "\"amount_mib\":1" },
	{ "describeBalloonStats", SUCCESS, NULL, "\"target_mib\":1" },
	{ "patchBalloonStatsInterval", SUCCESS, "{\"stats_polling_interval_s\": 1}", NULL },
	{ "patchBalloonStatsInterval", SUCCESS, "{\"stats_polling_interval_s\": 2}", NULL },
	{ "describeBalloonConfig", SUCCESS, NULL, "\"stats_polling_interval_s\":2" },
	{ "patchBalloonStatsInterval", FAIL400, "{\"stats_polling_interval_s\": 0}",
	  "enabled/disabled" },
	{ "getMachineConfiguration", SUCCESS, NULL, NULL },
	{ "getExportVmConfig", SUCCESS, NULL, NULL },
	{ "putMachineConfiguration", FAIL400, "{\"vcpu_count\": 1, \"mem_size_mib\": 64}",
	  "after starting" },
	{ "putGuestBootSource", FAIL400, NULL, "after starting" },
	{ "putGuestDriveByID", FAIL400, NULL, "after starting" },
	{ "putLogger", FAIL400, NULL, "after starting" },
	{ "putMetrics", FAIL400, NULL, "after starting" },
	{ "putBalloon", FAIL400, NULL, "after starting" },
	{ "createSnapshot", FAIL400, "{\"snapshot_path\": \"@TMP@/vm.state\", "
	  "\"mem_file_path\": \"@TMP@/vm.mem\"}", "must be paused" },
	{ "patchVm", SUCCESS, "{\"state\": \"Paused\"}", NULL },
	{ "createSnapshot", FAIL400, "{\"snapshot_type\": \"Diff\", \"snapshot_path\": "
	  "\"@TMP@/vm.state\", \"mem_file_path\": \"@TMP@/vm.mem\"}", "dirty page tracking" },
	{ "createSnapshot", SUCCESS, "{\"snapshot_type\": \"Full\", \"snapshot_path\": "
	  "\"@TMP@/vm.state\", \"mem_file_path\": \"@TMP@/vm.mem\"}", NULL },
	{ "patchVm", SUCCESS, "{\"state\": \"Resumed\"}", NULL },
	{ "loadSnapshot", FAIL400, "{\"mem_file_path\": \"@TMP@/mem\"}", "after starting" },
};

struct contract T;

void result(const char *name, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		T.passed++;
		printf("PASS %s%s\n", T.prefix, name);
	} else {
		T.failed++;
		printf("FAIL %s%s: ", T.prefix, name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

/* ---- The swagger's operations. ---- */

/* Find operation (id): its path template, method (upper case) and object. */
json_t *find_op(const char *id, const char **path, char *method)
{
	const char *p, *m;
	json_t *item, *op;

	json_object_foreach(json_object_get(T.sw, "paths"), p, item) {
		json_object_foreach(item, m, op) {
			const char *oid = json_string_value(json_object_get(op, "operationId"));

			if (oid && strcmp(oid, id) == 0) {
				*path = p;
				for (int i = 0; m[i] && i < 15; i++)
					method[i] = (char)(m[i] - (m[i] >= 'a' && m[i] <= 'z' ? 32 : 0));
				method[strlen(m) < 15 ? strlen(m) : 15] = 0;
				return op;
			}
		}
	}
	return NULL;
}

/* The path with its {param}s filled from the fixtures. */
void fill_path(const char *tmpl, char *out, size_t n)
{
	size_t o = 0;

	while (*tmpl && o + 1 < n) {
		if (*tmpl == '{') {
			const char *end = strchr(tmpl, '}');
			char name[64];
			const char *v;

			snprintf(name, sizeof(name), "%.*s", (int)(end - tmpl - 1), tmpl + 1);
			v = json_string_value(json_object_get(T.fixtures, name));
			o += (size_t)snprintf(out + o, n - o, "%s", v ? v : "x");
			tmpl = end + 1;
		} else {
			out[o++] = *tmpl++;
		}
	}
	out[o < n ? o : n - 1] = 0;
}

/* Replace @TMP@ and @KERNEL@ in (text); malloc'd. */
static char *expand(const char *text)
{
	char *out = malloc(strlen(text) * 4 + 512), *o = out;

	while (out && *text) {
		if (strncmp(text, "@TMP@", 5) == 0) {
			o += sprintf(o, "%s", T.tmp);
			text += 5;
		} else if (strncmp(text, "@KERNEL@", 8) == 0) {
			o += sprintf(o, "%s", T.kernel);
			text += 8;
		} else {
			*o++ = *text++;
		}
	}
	if (out)
		*o = 0;
	return out;
}

/* The request body for (op): the schema's example with (extra) over it; NULL when none. */
json_t *make_body(json_t *op, const char *extra)
{
	json_t *schema = sw_body_schema(T.sw, op), *body, *over = NULL;
	char *text;

	if (!schema && !extra)
		return NULL;
	body = schema ? sw_example(T.sw, schema, NULL, T.fixtures) : json_object();
	if (extra) {
		text = expand(extra);
		over = text ? json_loads(text, 0, NULL) : NULL;
		free(text);
		if (over)
			json_object_update(body, over);
		json_decref(over);
	}
	return body;
}

/* The first 2xx code (op) documents. */
static int success_code(json_t *op)
{
	const char *code;
	json_t *r;

	json_object_foreach(json_object_get(op, "responses"), code, r) {
		(void)r;
		if (code[0] == '2')
			return atoi(code);
	}
	return 200;
}

/* Is (resp) a one-line {"fault_message": "..."} answer with status (want)? */
bool check_fault(const struct http_resp *resp, int want, char *why, size_t n)
{
	json_t *j = json_loads(resp->body ? resp->body : "", 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "fault_message"));
	bool ok = resp->status == want && msg && msg[0] && !strchr(msg, '\n');

	if (!ok)
		snprintf(why, n, "status %d (want %d), body '%.200s'", resp->status, want,
			 resp->body ? resp->body : "");
	json_decref(j);
	return ok;
}

/* Check (resp) to (op) against the swagger: documented status, body schema. */
static bool check_documented(json_t *op, const struct http_resp *resp, char *why, size_t n)
{
	int documented;
	json_t *schema = sw_response_schema(T.sw, op, resp->status, &documented), *j;
	char err[512];
	int r = 0;

	if (!documented) {
		snprintf(why, n, "status %d is not documented", resp->status);
		return false;
	}
	if (resp->status == 204) {
		if (resp->len) {
			snprintf(why, n, "204 with a body");
			return false;
		}
		return true;
	}
	j = json_loads(resp->body ? resp->body : "", 0, NULL);
	if (!j) {
		snprintf(why, n, "body is not JSON: '%.200s'", resp->body ? resp->body : "");
		return false;
	}
	if (schema)
		r = sw_validate(T.sw, schema, j, "body", err, sizeof(err));
	json_decref(j);
	if (r < 0)
		snprintf(why, n, "%.300s (body '%.300s')", err, resp->body);
	return r == 0;
}

/* Run one step of a plan; (tag) prefixes the case's name. */
static void run_step(const char *tag, const struct step *s)
{
	const char *tmpl;
	char method[16], path[256], name[160], why[1024] = "";
	json_t *op = find_op(s->op, &tmpl, method), *body;
	char *text = NULL;
	struct http_resp resp;
	bool ok;

	snprintf(name, sizeof(name), "%s:%s %s", tag, s->op, s->body ? s->body : "");
	if (!op) {
		result(name, false, "operation not in the swagger file");
		return;
	}
	fill_path(tmpl, path, sizeof(path));
	body = make_body(op, s->body);
	if (body)
		text = json_dumps(body, JSON_COMPACT);
	http_request(T.sock, method, path, text, text ? strlen(text) : 0, &resp, TIMEOUT_MS);
	if (s->expect == SUCCESS)
		ok = resp.status == success_code(op);
	else
		ok = check_fault(&resp, 400, why, sizeof(why));
	if (ok && s->expect == SUCCESS)
		snprintf(why, sizeof(why), "status %d, body '%.300s'", resp.status,
			 resp.body ? resp.body : "");
	else if (!ok && !why[0])
		snprintf(why, sizeof(why), "status %d (want %d), body '%.300s'", resp.status,
			 success_code(op), resp.body ? resp.body : "");
	if (ok)
		ok = check_documented(op, &resp, why, sizeof(why));
	if (ok && s->words && !(resp.body && strstr(resp.body, s->words))) {
		ok = false;
		snprintf(why, sizeof(why), "body lacks '%s': '%.300s'", s->words,
			 resp.body ? resp.body : "");
	}
	result(name, ok, "%s %s %s: %s", method, path, text ? text : "", why);
	http_resp_free(&resp);
	free(text);
	json_decref(body);
}

/* Every operation of the swagger file must be in the pre-boot plan. */
static void check_plan_covers_swagger(void)
{
	const char *p, *m;
	json_t *item, *op;

	json_object_foreach(json_object_get(T.sw, "paths"), p, item) {
		json_object_foreach(item, m, op) {
			const char *id = json_string_value(json_object_get(op, "operationId"));
			bool found = false;
			char name[128];

			for (size_t i = 0; id && i < sizeof(preboot_plan) / sizeof(preboot_plan[0]); i++)
				found |= strcmp(preboot_plan[i].op, id) == 0;
			snprintf(name, sizeof(name), "plan:%s", id ? id : p);
			result(name, found, "%s %s is in the swagger file but not in the test's plan",
			       m, p);
		}
	}
}

pid_t start_lodge(const char *sock, const char *tag, int in_fd, char *const extra[])
{
	char out[256], err[256];
	char *argv[16] = { (char *)T.lodge, "--api-sock", (char *)sock, "--id", "contract" };
	int n = 5;

	for (int i = 0; extra && extra[i] && n < 15; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/%s.out", T.tmp, tag);
	snprintf(err, sizeof(err), "%s/%s.err", T.tmp, tag);
	return proc_start(argv, in_fd, out, err, sock);
}

/* ---- Files the test needs. ---- */

static int write_file(const char *path, const char *text, size_t size)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	if (text)
		fputs(text, f);
	if (size && ftruncate(fileno(f), (off_t)size) < 0) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static void setup_fixtures(void)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/disk.img", T.tmp);
	write_file(p, NULL, 1 << 20);
	snprintf(p, sizeof(p), "%s/disk2.img", T.tmp);
	write_file(p, NULL, 2 << 20);
	snprintf(T.kernel, sizeof(T.kernel), "%s/not-a-kernel", T.tmp);
	write_file(T.kernel, "this is not a kernel\n", 0);
	T.fixtures = json_pack("{s:s, s:s, s:s, s:i}", "drive_id", "drive1", "iface_id", "net1",
			       "id", "pmem1", "mem_size_mib", 64);
}

/* The log file has Firecracker-format lines; the metrics file a JSON line per flush. */
static void check_log_and_metrics(const char *tag, bool want_metrics)
{
	char path[256], line[4096], name[96], *big = NULL;
	size_t cap = 0;
	bool log_ok = false, metrics_ok = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/log", T.tmp);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		log_ok |= strstr(line, "[contract:") && strstr(line, ":INFO:src/api/") &&
			  strstr(line, "api: GET /");
	if (f)
		fclose(f);
	snprintf(name, sizeof(name), "%s:logger-file", tag);
	result(name, log_ok, "no line like '... [contract:THREAD:INFO:src/api/...] api: GET /...' in %s",
	       path);
	if (!want_metrics)
		return;
	snprintf(path, sizeof(path), "%s/metrics", T.tmp);
	f = fopen(path, "r");
	while (f && getline(&big, &cap, f) > 0) {
		json_t *j = json_loads(big, 0, NULL);

		metrics_ok |= json_integer_value(json_object_get(json_object_get(j, "put_api_requests"),
								 "drive_count")) >= 1 &&
			      json_object_get(j, "utc_timestamp_ms") != NULL;
		json_decref(j);
	}
	if (f)
		fclose(f);
	free(big);
	snprintf(name, sizeof(name), "%s:metrics-file", tag);
	result(name, metrics_ok, "no JSON line with put_api_requests.drive_count >= 1 in %s", path);
}

static void preboot_phase(void)
{
	pid_t pid;
	int st;

	snprintf(T.sock, sizeof(T.sock), "%s/api.sock", T.tmp);
	pid = start_lodge(T.sock, "preboot", -1, NULL);
	if (pid < 0) {
		result("preboot:start", false, "lodge --api-sock did not serve %s", T.sock);
		return;
	}
	check_plan_covers_swagger();
	for (size_t i = 0; i < sizeof(preboot_plan) / sizeof(preboot_plan[0]); i++)
		run_step("preboot", &preboot_plan[i]);
	for (size_t i = 0; i < sizeof(preboot_plan) / sizeof(preboot_plan[0]); i++)
		bad_bodies(&preboot_plan[i]);
	bad_requests();
	chunked_oversized();
	misbehaving_clients();
	concurrent_clients();
	kill(pid, SIGTERM);
	st = proc_wait(pid, TIMEOUT_MS);
	result("preboot:sigterm", st == 10, "exit status %d (want 10)", st);
	check_log_and_metrics("preboot", true);
}

/* ---- With a running guest. ---- */

static bool kvm_usable(const char *guest)
{
	const char *dev = getenv("LODGE_KVM_DEVICE") ? getenv("LODGE_KVM_DEVICE") : "/dev/kvm";

	return access(dev, R_OK | W_OK) == 0 && access(guest, R_OK) == 0;
}

static void put(const char *path, const char *body)
{
	struct http_resp resp;
	char name[256], *text = expand(body);

	http_request(T.sock, "PUT", path, text, strlen(text), &resp, TIMEOUT_MS);
	snprintf(name, sizeof(name), "postboot:setup PUT %s", path);
	result(name, resp.status == 204, "status %d: %s", resp.status, resp.body ? resp.body : "");
	http_resp_free(&resp);
	free(text);
}

static void postboot_phase(const char *guest)
{
	const char *start = "{\"action_type\": \"InstanceStart\"}";
	int in[2];
	pid_t pid;
	int st;
	struct http_resp resp;
	char path[256];

	if (!kvm_usable(guest)) {
		printf("SKIP postboot: no usable /dev/kvm or no guest %s\n", guest);
		return;
	}
	snprintf(T.sock, sizeof(T.sock), "%s/run.sock", T.tmp);
	snprintf(T.kernel, sizeof(T.kernel), "%s", guest);
	if (pipe(in) < 0)
		return;
	pid = start_lodge(T.sock, "postboot", in[0], NULL);
	close(in[0]);
	if (pid < 0) {
		result("postboot:start", false, "lodge did not serve %s", T.sock);
		close(in[1]);
		return;
	}
	put("/boot-source", "{\"kernel_image_path\": \"@KERNEL@\", \"boot_args\": \"\"}");
	put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
	put("/drives/drive1", "{\"drive_id\": \"drive1\", \"path_on_host\": \"@TMP@/disk.img\", "
	    "\"is_root_device\": false}");
	put("/balloon", "{\"amount_mib\": 0, \"deflate_on_oom\": false, \"stats_polling_interval_s\": 1}");
	snprintf(path, sizeof(path), "%s/metrics", T.tmp);
	unlink(path);
	put("/metrics", "{\"metrics_path\": \"@TMP@/metrics\"}");
	snprintf(path, sizeof(path), "%s/log", T.tmp);
	unlink(path);
	put("/logger", "{\"log_path\": \"@TMP@/log\", \"level\": \"info\", \"show_level\": true, "
	    "\"show_log_origin\": true}");
	http_request(T.sock, "PUT", "/actions", start, strlen(start), &resp, TIMEOUT_MS * 6);
	result("postboot:InstanceStart", resp.status == 204, "status %d: %s", resp.status,
	       resp.body ? resp.body : "");
	http_resp_free(&resp);
	for (size_t i = 0; i < sizeof(postboot_plan) / sizeof(postboot_plan[0]); i++)
		run_step("postboot", &postboot_plan[i]);
	http_request(T.sock, "GET", "/lodge/metrics", NULL, 0, &resp, TIMEOUT_MS);
	result("postboot:prometheus", resp.status == 200 && resp.body &&
	       strstr(resp.body, "lodge_block_kicks{id=\"drive1\"}") &&
	       strstr(resp.body, "lodge_vcpu_exit_io{id=\"0\"}"),
	       "status %d, body %.400s", resp.status, resp.body ? resp.body : "");
	result("postboot:kvm-binary-stats", resp.body && strstr(resp.body, "lodge_kvm_vcpu_io_exits"),
	       "no lodge_kvm_vcpu_io_exits (KVM_GET_STATS_FD needs Linux 5.14)");
	http_resp_free(&resp);
	/* Clients that misbehave while the guest runs: the guest must carry on (it answers below). */
	T.prefix = "postboot:";
	chunked_oversized();
	misbehaving_clients();
	concurrent_clients();
	T.prefix = "";
	/* The guest reads a line, prints it and ends: lodge ends with it. */
	if (write(in[1], "bye\n", 4) != 4)
		result("postboot:guest-input", false, "write: %s", strerror(errno));
	st = proc_wait(pid, TIMEOUT_MS * 6);
	if (st < 0) {
		kill(pid, SIGKILL);
		proc_wait(pid, 1000);
	}
	close(in[1]);
	result("postboot:guest-ended", st == 1, "exit status %d (want 1: the guest's exit)", st);
	result("postboot:socket-removed", access(T.sock, F_OK) < 0, "%s still exists", T.sock);
	check_log_and_metrics("postboot", true);
}

static const char *default_swagger(char *buf, size_t n)
{
	if (getenv("LODGE_SWAGGER"))
		return getenv("LODGE_SWAGGER");
	/* The repository's copy of Firecracker's file (run from the repository root). */
	snprintf(buf, n, "tests/api/firecracker-api.yaml");
	if (access(buf, R_OK) == 0)
		return buf;
	return "../shared/firecracker-api.yaml";
}

int main(int argc, char **argv)
{
	char swbuf[256];
	const char *swagger = argc > 2 ? argv[2] : default_swagger(swbuf, sizeof(swbuf));
	const char *guest = getenv("LODGE_CONTRACT_GUEST") ? getenv("LODGE_CONTRACT_GUEST")
							    : "guest/build/serial-input.elf";
	char cmd[300];

	signal(SIGPIPE, SIG_IGN);
	T.prefix = "";
	T.lodge = argc > 1 ? argv[1] : "build/lodge";
	T.sw = sw_load(swagger);
	if (!T.sw) {
		printf("FAIL contract: cannot read the swagger file %s\n", swagger);
		printf("CONTRACT-END 0 passed, 1 failed\n");
		return 1;
	}
	snprintf(T.tmp, sizeof(T.tmp), "%s/lodge-contract.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(T.tmp)) {
		perror("mkdtemp");
		return 1;
	}
	setup_fixtures();
	preboot_phase();
	process_life();
	postboot_phase(guest);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T.tmp);
	if (!getenv("LODGE_CONTRACT_KEEP") && system(cmd) != 0)
		fprintf(stderr, "contract: could not remove %s\n", T.tmp);
	printf("CONTRACT-END %u passed, %u failed\n", T.passed, T.failed);
	json_decref(T.fixtures);
	json_decref(T.sw);
	return T.failed ? 1 : 0;
}
