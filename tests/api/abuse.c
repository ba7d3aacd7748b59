/*
 * The contract test's bad input: bodies made wrong from the swagger schemas,
 * malformed requests, clients that misbehave on the wire, and the lodge
 * process's life (signals, sockets, flags). lodge must answer each with a
 * 4xx and a one-line fault_message, and keep serving.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "contract.h"

/* ---- Bad input made from the schemas. ---- */

static json_t *wrong_type(json_t *v)
{
	if (json_is_string(v))
		return json_integer(12345);
	if (json_is_integer(v) || json_is_real(v))
		return json_string("not a number");
	if (json_is_boolean(v))
		return json_string("not a boolean");
	return json_integer(7);         /* objects, arrays */
}

/* Send (body) to (op) and expect a one-line 400 fault, naming (word) when given. */
static void expect_bad(const char *name, const char *method, const char *path, json_t *body,
		       const char *word)
{
	char *text = json_dumps(body, JSON_COMPACT), why[1024] = "";
	struct http_resp resp;
	bool ok;

	http_request(T.sock, method, path, text, text ? strlen(text) : 0, &resp, TIMEOUT_MS);
	ok = check_fault(&resp, 400, why, sizeof(why));
	if (ok && word && !strstr(resp.body, word)) {
		ok = false;
		snprintf(why, sizeof(why), "fault does not name '%s': %s", word, resp.body);
	}
	result(name, ok, "%s %s %s: %s", method, path, text ? text : "", why);
	http_resp_free(&resp);
	free(text);
}

/* For an operation that succeeds: drop each required field, mistype each field, add one. */
void bad_bodies(const struct step *s)
{
	const char *tmpl, *key;
	char method[16], path[256], name[192];
	json_t *op = find_op(s->op, &tmpl, method), *body, *schema, *v, *bad;
	size_t i;

	schema = op ? sw_body_schema(T.sw, op) : NULL;
	if (!schema || s->expect != SUCCESS || strcmp(method, "PUT") != 0)
		return;
	fill_path(tmpl, path, sizeof(path));
	body = make_body(op, s->body);
	json_array_foreach(json_object_get(schema, "required"), i, v) {
		bad = json_deep_copy(body);
		json_object_del(bad, json_string_value(v));
		snprintf(name, sizeof(name), "bad:%s:missing:%s", s->op, json_string_value(v));
		expect_bad(name, method, path, bad, json_string_value(v));
		json_decref(bad);
	}
	json_object_foreach(body, key, v) {
		bad = json_deep_copy(body);
		json_object_set_new(bad, key, wrong_type(v));
		snprintf(name, sizeof(name), "bad:%s:type:%s", s->op, key);
		expect_bad(name, method, path, bad, key);
		json_decref(bad);
	}
	bad = json_deep_copy(body);
	json_object_set_new(bad, "lodge_unknown_field", json_true());
	snprintf(name, sizeof(name), "bad:%s:unknown-field", s->op);
	expect_bad(name, method, path, bad, "lodge_unknown_field");
	json_decref(bad);
	snprintf(name, sizeof(name), "bad:%s:not-an-object", s->op);
	bad = json_array();
	expect_bad(name, method, path, bad, NULL);
	json_decref(bad);
	json_decref(body);
}

/* One raw request and its expected status; (word) in the body when given. */
static void raw_case(const char *name, const char *method, const char *path, const char *body,
		     int want, const char *word)
{
	struct http_resp resp;
	char why[1024] = "";
	bool ok;

	http_request(T.sock, method, path, body, body ? strlen(body) : 0, &resp, TIMEOUT_MS);
	ok = check_fault(&resp, want, why, sizeof(why));
	if (ok && word && !strstr(resp.body, word)) {
		ok = false;
		snprintf(why, sizeof(why), "body lacks '%s': %s", word, resp.body);
	}
	result(name, ok, "%s %s: %s", method, path, why);
	http_resp_free(&resp);
}

/* GET / answers 200 quickly: lodge still serves. */
static bool alive(void)
{
	struct http_resp resp;
	bool ok = http_request(T.sock, "GET", "/", NULL, 0, &resp, TIMEOUT_MS) == 0 &&
		  resp.status == 200;

	http_resp_free(&resp);
	return ok;
}

void bad_requests(void)
{
	char *big = malloc(MAX_BODY + 2);
	struct http_resp resp;
	char allow[64] = "";

	raw_case("bad:malformed-json", "PUT", "/machine-config", "{\"vcpu_count\": ", 400,
		 "deserializing");
	raw_case("bad:duplicate-key", "PUT", "/machine-config",
		 "{\"vcpu_count\": 1, \"vcpu_count\": 2, \"mem_size_mib\": 64}", 400, NULL);
	raw_case("bad:empty-put", "PUT", "/machine-config", NULL, 400, "Empty PUT request.");
	raw_case("bad:empty-patch", "PATCH", "/machine-config", NULL, 400, "Empty PATCH request.");
	raw_case("bad:empty-patch-object", "PATCH", "/machine-config", "{}", 400, NULL);
	raw_case("bad:get-with-body", "GET", "/machine-config", "{}", 400, "cannot have a body");
	raw_case("bad:unknown-path", "GET", "/no/such/path", NULL, 400,
		 "Invalid request method and/or path");
	raw_case("bad:empty-id", "PUT", "/drives", "{}", 400, "ID cannot be empty");
	raw_case("bad:id-chars", "PUT", "/drives/a-b", "{}", 400, "alphanumeric");
	raw_case("bad:id-mismatch", "PUT", "/drives/drive1",
		 "{\"drive_id\": \"other\", \"path_on_host\": \"/x\", \"is_root_device\": false}", 400,
		 "does not match");
	raw_case("bad:unknown-action", "PUT", "/actions", "{\"action_type\": \"Reboot\"}", 400,
		 "action_type");
	raw_case("bad:vm-state", "PATCH", "/vm", "{\"state\": \"Sleeping\"}", 400, NULL);
	raw_case("bad:log-level", "PUT", "/logger", "{\"level\": \"Loud\"}", 400, "level");
	raw_case("bad:huge-vcpus", "PUT", "/machine-config",
		 "{\"vcpu_count\": 100000, \"mem_size_mib\": 64}", 400, "vcpu_count");
	raw_case("bad:negative-mem", "PUT", "/machine-config",
		 "{\"vcpu_count\": 1, \"mem_size_mib\": -5}", 400, "mem_size_mib");
	raw_case("bad:smt", "PUT", "/machine-config",
		 "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"smt\": true}", 400, "smt");
	raw_case("bad:nul-in-string", "PUT", "/boot-source",
		 "{\"kernel_image_path\": \"a\\u0000b\"}", 400, NULL);

	http_request(T.sock, "POST", "/actions", "{}", 2, &resp, TIMEOUT_MS);
	http_header(&resp, "Allow", allow, sizeof(allow));
	result("bad:method-post", resp.status == 405 && strcmp(allow, "PUT") == 0,
	       "POST /actions: status %d, Allow '%s'", resp.status, allow);
	http_resp_free(&resp);
	http_request(T.sock, "DELETE", "/version", NULL, 0, &resp, TIMEOUT_MS);
	http_header(&resp, "Allow", allow, sizeof(allow));
	result("bad:method-delete", resp.status == 405 && strcmp(allow, "GET") == 0,
	       "DELETE /version: status %d, Allow '%s'", resp.status, allow);
	http_resp_free(&resp);

	if (big) {
		memset(big, ' ', MAX_BODY + 1);
		big[0] = '{';
		big[MAX_BODY] = '}';
		big[MAX_BODY + 1] = 0;
		http_request(T.sock, "PUT", "/machine-config", big, MAX_BODY + 1, &resp, TIMEOUT_MS);
		result("bad:oversized-body", resp.status == 413 && strstr(resp.body, "larger than"),
		       "status %d body '%.200s'", resp.status, resp.body ? resp.body : "");
		http_resp_free(&resp);
		free(big);
	}
	result("bad:alive-after-bad-requests", alive(), "GET / failed");
}

/* A body sent in chunks past the limit, with no Content-Length to refuse it early. */
void chunked_oversized(void)
{
	const char *head = "PUT /machine-config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n";
	char chunk[8200];
	size_t n = 0;
	struct http_resp resp;
	int fd = http_connect(T.sock);

	if (fd < 0) {
		result("bad:chunked-oversized", false, "connect: %s", strerror(-fd));
		return;
	}
	if (send(fd, head, strlen(head), MSG_NOSIGNAL) < 0)
		goto out;
	n = (size_t)sprintf(chunk, "%x\r\n", 8000);
	memset(chunk + n, ' ', 8000);
	memcpy(chunk + n + 8000, "\r\n", 2);
	for (int i = 0; i < 8; i++)     /* 64000 bytes > 51200 */
		if (send(fd, chunk, n + 8002, MSG_NOSIGNAL) < 0)
			break;
	send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL);
out:
	http_read_response(fd, &resp, TIMEOUT_MS);
	close(fd);
	result("bad:chunked-oversized", resp.status == 413, "status %d", resp.status);
	http_resp_free(&resp);
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Clients that misbehave on the wire: lodge answers the others and carries on. */
void misbehaving_clients(void)
{
	const char *partial = "PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"vcpu";
	const char *slow = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct http_resp resp;
	int fd;
	long t0;
	bool fast = true;

	/* Leaves in the middle of its body. */
	fd = http_connect(T.sock);
	if (fd >= 0) {
		send(fd, partial, strlen(partial), MSG_NOSIGNAL);
		close(fd);
	}
	result("wire:disconnect-mid-request", alive(), "GET / failed after a client left");

	/* Garbage instead of HTTP. */
	http_raw(T.sock, "\x01\x02garbage\r\n\r\n", 13, &resp, TIMEOUT_MS);
	http_resp_free(&resp);
	http_raw(T.sock, "GET / HTTP/9.9\r\n\r\n", 18, &resp, TIMEOUT_MS);
	http_resp_free(&resp);
	result("wire:garbage", alive(), "GET / failed after garbage");

	/* One byte every 20 ms; others are served meanwhile. */
	fd = http_connect(T.sock);
	for (size_t i = 0; fd >= 0 && i < strlen(slow); i++) {
		send(fd, slow + i, 1, MSG_NOSIGNAL);
		usleep(20000);
		if (i % 10 == 0) {
			t0 = now_ms();
			fast &= alive() && now_ms() - t0 < 1000;
		}
	}
	result("wire:slow-client-does-not-block", fast, "another client waited");
	if (fd >= 0) {
		http_read_response(fd, &resp, TIMEOUT_MS);
		close(fd);
		result("wire:slow-client-served", resp.status == 200, "status %d", resp.status);
		http_resp_free(&resp);
	}
}

/* 50 clients connected at once, each with a request in flight. */
void concurrent_clients(void)
{
	enum { N = 50 };
	const char *req = "GET /machine-config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	int fds[N], ok = 0, connected = 0;
	struct http_resp resp;
	char err[256];

	for (int i = 0; i < N; i++) {
		fds[i] = http_connect(T.sock);
		connected += fds[i] >= 0;
	}
	for (int i = 0; i < N; i++)
		if (fds[i] >= 0)
			send(fds[i], req, strlen(req), MSG_NOSIGNAL);
	for (int i = 0; i < N; i++) {
		if (fds[i] < 0)
			continue;
		if (http_read_response(fds[i], &resp, TIMEOUT_MS) == 0 && resp.status == 200) {
			json_t *j = json_loads(resp.body, 0, NULL);
			json_t *schema = json_object_get(json_object_get(T.sw, "definitions"),
							 "MachineConfiguration");

			ok += j && sw_validate(T.sw, schema, j, "body", err, sizeof(err)) == 0;
			json_decref(j);
		}
		http_resp_free(&resp);
		close(fds[i]);
	}
	result("wire:50-concurrent-clients", ok == N, "%d connected, %d answered well", connected, ok);

	/* Keep-alive: two requests on one connection. */
	fds[0] = http_connect(T.sock);
	ok = 0;
	for (int i = 0; fds[0] >= 0 && i < 2; i++) {
		send(fds[0], "GET /version HTTP/1.1\r\nHost: x\r\n\r\n", 34, MSG_NOSIGNAL);
		ok += http_read_response(fds[0], &resp, TIMEOUT_MS) == 0 && resp.status == 200;
		http_resp_free(&resp);
	}
	if (fds[0] >= 0)
		close(fds[0]);
	result("wire:keep-alive", ok == 2, "%d of 2 answered", ok);
}

/* ---- Process life. ---- */

/* Run (argv...) expecting exit status (want) and one line on stderr containing (word). */
static void expect_exit(const char *name, char *const argv[], int want, const char *word)
{
	char out[256], err[256], line[512] = "", tail[512];
	pid_t pid;
	int st, lines = 0;
	FILE *f;

	snprintf(out, sizeof(out), "%s/exit.out", T.tmp);
	snprintf(err, sizeof(err), "%s/exit.err", T.tmp);
	pid = proc_start(argv, -1, out, err, NULL);
	st = pid > 0 ? proc_wait(pid, TIMEOUT_MS) : -1;
	if (st < 0 && pid > 0) {
		kill(pid, SIGKILL);
		proc_wait(pid, 1000);
	}
	f = fopen(err, "r");
	while (f && fgets(lines ? tail : line, sizeof(line), f))
		lines++;
	if (f)
		fclose(f);
	result(name, st == want && lines == 1 && strstr(line, word),
	       "status %d (want %d), %d stderr line(s): %s", st, want, lines, line);
}

void process_life(void)
{
	char stale[200], file[200];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, st;
	pid_t pid;

	/* A socket file nobody listens on any more is replaced. */
	snprintf(stale, sizeof(stale), "%s/stale.sock", T.tmp);
	memcpy(sa.sun_path, stale, strlen(stale) < sizeof(sa.sun_path) ? strlen(stale) + 1 : 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	pid = start_lodge(stale, "stale", -1, NULL);
	result("life:stale-socket-replaced", pid > 0, "lodge did not serve %s", stale);
	if (pid > 0) {
		char *again[] = { (char *)T.lodge, "--api-sock", stale, NULL };

		/* ... but one a live lodge serves is not taken over. */
		expect_exit("life:live-socket-refused", again, 2, "another process");
		kill(pid, SIGTERM);
		st = proc_wait(pid, TIMEOUT_MS);
		result("life:sigterm-before-start", st == 10, "exit status %d (want 10)", st);
		result("life:socket-removed", access(stale, F_OK) < 0, "%s still exists", stale);
	}
	snprintf(file, sizeof(file), "%s/disk.img", T.tmp);
	{
		char *args[] = { (char *)T.lodge, "--api-sock", file, NULL };
		char *noapi[] = { (char *)T.lodge, "--no-api", NULL };
		char *badflag[] = { (char *)T.lodge, "--api-sock", stale, "--frobnicate", NULL };

		expect_exit("life:path-not-a-socket", args, 2, "not a socket");
		expect_exit("life:no-api-needs-config", noapi, 2, "--config-file");
		expect_exit("life:unknown-flag", badflag, 2, "--frobnicate");
	}
}

