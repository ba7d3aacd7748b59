/*
 * The configuration endpoints, allowed before InstanceStart only (the router
 * enforces that and holds the API lock): each body goes through the same
 * parser as the config file's section, so the API, the config file and the
 * CLI accept exactly the same objects.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/internal.h"
#include "api/metrics.h"
#include "vmm/config_json.h"
#include "vmm/config_json_out.h"

/* Apply {"(section)": body} to (c) through the config-file parser. 0 or -errno with (e). */
static int apply_section(struct vm_config *c, const char *section, json_t *body, struct err *e)
{
	json_t *w = json_pack("{s:O}", section, body);
	char *text = w ? json_dumps(w, JSON_COMPACT) : NULL;
	int r = text ? config_parse_json(c, text, e) : errf(e, -ENOMEM, "out of memory");

	free(text);
	json_decref(w);
	return r;
}

/* Would (section) (body) parse? Checked on a scratch config, so a failure changes nothing. */
static int check_section(const char *section, json_t *body, struct err *e)
{
	struct vm_config scratch;
	int r;

	config_init(&scratch);
	r = apply_section(&scratch, section, body, e);
	config_free(&scratch);
	return r;
}

/* A file the guest will need must be there and readable (and writable if (rw)). */
static int check_file(const char *what, json_t *o, const char *key, bool rw, struct err *e)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return 0;               /* the parser reports missing or mistyped fields */
	if (access(json_string_value(v), R_OK | (rw ? W_OK : 0)) < 0)
		return errf(e, -errno, "%s: %s '%s' cannot be opened: %s", what, key,
			    json_string_value(v), strerror(errno));
	return 0;
}

void api_put_boot_source(struct api *a, const struct api_call *c, struct api_response *r)
{
	struct err e = { "" };

	if (check_section("boot-source", c->body, &e) < 0 ||
	    check_file("Boot source error", c->body, "kernel_image_path", false, &e) < 0 ||
	    check_file("Boot source error", c->body, "initrd_path", false, &e) < 0) {
		api_fault_err(r, &e);
		return;
	}
	/* PUT replaces the whole boot source: what the body leaves out goes back to default. */
	free(a->cfg.kernel_path);
	free(a->cfg.initrd_path);
	free(a->cfg.cmdline);
	a->cfg.kernel_path = a->cfg.initrd_path = a->cfg.cmdline = NULL;
	if (apply_section(&a->cfg, "boot-source", c->body, &e) < 0)
		api_fault_err(r, &e);
	else
		api_ok(r);
}

void api_get_machine_config(struct api *a, const struct api_call *c, struct api_response *r)
{
	(void)c;
	api_json(r, 200, config_machine_to_json(&a->cfg));
}

void api_put_machine_config(struct api *a, const struct api_call *c, struct api_response *r)
{
	struct err e = { "" };

	if (check_section("machine-config", c->body, &e) < 0) {
		api_fault_err(r, &e);
		return;
	}
	/* Optional fields not given take their defaults (swagger: PUT /machine-config). */
	a->cfg.hugepages = false;
	a->cfg.track_dirty_pages = false;
	if (apply_section(&a->cfg, "machine-config", c->body, &e) < 0)
		api_fault_err(r, &e);
	else
		api_ok(r);
}

void api_patch_machine_config(struct api *a, const struct api_call *c, struct api_response *r)
{
	static const char *const keys[] = { "vcpu_count", "mem_size_mib", "smt", "huge_pages",
					    "track_dirty_pages", "cpu_template", NULL };
	struct err e = { "" };
	json_t *merged;

	if (api_check_keys(c->body, "machine-config", keys, &e) < 0) {
		api_fault_err(r, &e);
		return;
	}
	if (json_object_size(c->body) == 0) {
		api_fault(r, 400, "Empty PATCH request.");
		return;
	}
	/* The current values, overwritten by the body's, make a whole machine-config. */
	merged = config_machine_to_json(&a->cfg);
	if (!merged || json_object_update(merged, c->body) < 0) {
		json_decref(merged);
		api_fault(r, 500, "out of memory");
		return;
	}
	if (check_section("machine-config", merged, &e) < 0 ||
	    apply_section(&a->cfg, "machine-config", merged, &e) < 0)
		api_fault_err(r, &e);
	else
		api_ok(r);
	json_decref(merged);
}

/* The body's (key) must name the path's id; false with (r) filled when it does not. */
static bool same_id(json_t *body, const char *key, const char *id, bool net,
		    struct api_response *r)
{
	json_t *v = json_is_object(body) ? json_object_get(body, key) : NULL;

	if (!json_is_string(v) || strcmp(json_string_value(v), id) == 0)
		return true;            /* a missing or mistyped id is the parser's to report */
	if (net)
		api_fault(r, 400, "The id from the path [%s] does not match the id from the body [%s]!",
			  id, json_string_value(v));
	else
		api_fault(r, 400, "The id from the path does not match the id from the body!");
	return false;
}

void api_put_drive(struct api *a, const struct api_call *c, struct api_response *r)
{
	struct err e = { "" };
	char where[96];
	bool ro = json_is_object(c->body) && json_is_true(json_object_get(c->body, "is_read_only"));

	if (!same_id(c->body, "drive_id", c->id, false, r))
		return;
	snprintf(where, sizeof(where), "drives/%s", c->id);
	if (check_file(where, c->body, "path_on_host", !ro, &e) < 0 ||
	    config_set_drive(&a->cfg, c->body, where, &e) < 0) {
		api_fault_err(r, &e);
		return;
	}
	api_ok(r);
}

void api_put_net(struct api *a, const struct api_call *c, struct api_response *r)
{
	struct err e = { "" };
	char where[96];

	if (!same_id(c->body, "iface_id", c->id, true, r))
		return;
	snprintf(where, sizeof(where), "network-interfaces/%s", c->id);
	if (config_set_net(&a->cfg, c->body, where, &e) < 0)
		api_fault_err(r, &e);
	else
		api_ok(r);
}

/* PUT of a singleton device section through its parser (set). */
static void put_device(struct api *a, const struct api_call *c, struct api_response *r,
		       const char *where,
		       int (*set)(struct vm_config *, json_t *, const char *, struct err *))
{
	struct err e = { "" };

	if (set(&a->cfg, c->body, where, &e) < 0)
		api_fault_err(r, &e);
	else
		api_ok(r);
}

void api_put_vsock(struct api *a, const struct api_call *c, struct api_response *r)
{
	put_device(a, c, r, "vsock", config_set_vsock);
}

void api_put_entropy(struct api *a, const struct api_call *c, struct api_response *r)
{
	put_device(a, c, r, "entropy", config_set_entropy);
}

void api_put_balloon(struct api *a, const struct api_call *c, struct api_response *r)
{
	put_device(a, c, r, "balloon", config_set_balloon);
}

void api_put_logger(struct api *a, const struct api_call *c, struct api_response *r)
{
	struct err e = { "" };

	if (api_logger_apply(a, c->body, &e) < 0)
		api_fault_err(r, &e);
	else
		api_ok(r);
}

void api_put_metrics(struct api *a, const struct api_call *c, struct api_response *r)
{
	struct err e = { "" };

	if (api_metrics_apply(a, c->body, &e) < 0)
		api_fault_err(r, &e);
	else
		api_ok(r);
}

void api_put_serial(struct api *a, const struct api_call *c, struct api_response *r)
{
	static const char *const keys[] = { "serial_out_path", "rate_limiter", NULL };
	struct err e = { "" };
	char *path = NULL;
	json_t *rl;

	if (api_check_keys(c->body, "serial", keys, &e) < 0 ||
	    cfg_get_string(c->body, "serial", "serial_out_path", &path, false, &e) < 0) {
		api_fault_err(r, &e);
		return;
	}
	rl = json_object_get(c->body, "rate_limiter");
	if (rl && !json_is_null(rl)) {
		free(path);
		api_fault(r, 400, "serial.rate_limiter: rate limiting the serial console is not "
			  "supported by this lodge yet");
		return;
	}
	free(a->cfg.serial_path);
	a->cfg.serial_path = path;
	a->cfg.serial = path ? SERIAL_FILE : SERIAL_STDIO;
	api_ok(r);
}
