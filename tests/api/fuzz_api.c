/*
 * libFuzzer harness over the API's router, handlers and JSON body parsing:
 * api_dispatch as the HTTP server calls it, without a socket. An input is
 * "METHOD PATH\nBODY". The API state lives across inputs (like a real
 * client's sequence of requests) and is rebuilt every 4096 inputs.
 *
 * PUT /logger and PUT /metrics are skipped: they create files at paths the
 * input names. InstanceStart cannot reach KVM: the harness's KVM path does
 * not exist, so it ends in vm_create's first step.
 *
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true; ninja -C build-fuzz
 * Run:   build-fuzz/tests/api/fuzz_api tests/api/corpus
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/internal.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api *api;
static unsigned runs;

static struct api *fresh_api(void)
{
	struct api_opts o = { .kvm_path = "/nonexistent/lodge-fuzz-kvm", .id = "fuzz" };
	struct api *a = malloc(sizeof(*a));
	struct err e = { "" };

	if (!a)
		abort();
	if (api_state_init(a, &o, &e) < 0)
		abort();
	return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *nl, *sp;
	struct api_request req = { 0 };
	struct api_response r = { .status = 0 };

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (!api) {
		log_set_off(true);
		api = fresh_api();
	}
	nl = memchr(text, '\n', size);
	sp = strchr(text, ' ');
	if (!nl || !sp || sp > nl) {
		free(text);
		return 0;
	}
	*nl = 0;
	*sp = 0;
	req.method = text;
	req.path = sp + 1;
	req.body = nl + 1;
	req.len = size - (size_t)(nl + 1 - text);
	if (strcmp(req.method, "PUT") == 0 &&
	    (strncmp(req.path, "/logger", 7) == 0 || strncmp(req.path, "/metrics", 8) == 0)) {
		free(text);
		return 0;
	}
	api_dispatch(api, &req, &r);
	free(r.body);
	free(text);
	if (++runs % 4096 == 0) {
		api_state_fini(api);
		free(api);
		api = fresh_api();
	}
	return 0;
}
