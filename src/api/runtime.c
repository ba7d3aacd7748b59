/*
 * The endpoints that read the instance or act on the running VM: instance
 * info, version, the full config, actions, pause/resume, the balloon, live
 * drive and interface updates, snapshots, and the answers for what lodge
 * does not have (always a 400 that says so).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "api/metrics.h"
#include "devices/i8042.h"
#include "snapshot/snapshot.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "vmm/config_json.h"
#include "vmm/config_json_out.h"
#include "vmm/vm.h"

#ifndef LODGE_VERSION
#define LODGE_VERSION "0.1.0"
#endif

#define PAGES_PER_MIB (1u << (20 - BALLOON_PAGE_SHIFT))

void api_get_instance(struct api *a, const struct api_call *c, struct api_response *r)
{
	(void)c;
	api_json(r, 200, json_pack("{s:s, s:s, s:s, s:s}", "id", a->id, "state",
				   api_state_name(a), "vmm_version", LODGE_VERSION, "app_name",
				   "lodge"));
}

void api_get_version(struct api *a, const struct api_call *c, struct api_response *r)
{
	(void)a;
	(void)c;
	api_json(r, 200, json_pack("{s:s}", "firecracker_version", LODGE_VERSION));
}

/* The running VM's balloon, or NULL (not started, or no balloon). */
static struct balloon *live_balloon(struct api *a)
{
	struct vm *vm = atomic_load(&a->live_vm);

	return vm ? balloon_find(vm) : NULL;
}

void api_get_vm_config(struct api *a, const struct api_call *c, struct api_response *r)
{
	json_t *o = config_to_json(&a->cfg), *b;
	struct balloon *bl = live_balloon(a);
	struct balloon_stats s;

	(void)c;
	if (o && a->logger_cfg)
		json_object_set(o, "logger", a->logger_cfg);
	if (o && a->metrics_cfg)
		json_object_set(o, "metrics", a->metrics_cfg);
	/* A running balloon's target is what PATCH /balloon set last. */
	if (o && bl && (b = json_object_get(o, "balloon"))) {
		balloon_stats(bl, &s);
		json_object_set_new(b, "amount_mib", json_integer(s.target_pages / PAGES_PER_MIB));
	}
	api_json(r, 200, o);
}

void api_put_actions(struct api *a, const struct api_call *c, struct api_response *r)
{
	static const char *const keys[] = { "action_type", NULL };
	struct err e = { "" };
	const char *t;
	int st = atomic_load(&a->state);

	if (api_check_keys(c->body, "actions", keys, &e) < 0) {
		api_fault_err(r, &e);
		return;
	}
	t = json_string_value(json_object_get(c->body, "action_type"));
	if (!t) {
		api_fault(r, 400, "actions: missing field 'action_type' (a string)");
	} else if (strcmp(t, "InstanceStart") == 0) {
		api_instance_start(a, r);
	} else if (strcmp(t, "FlushMetrics") == 0) {
		if (st != API_RUNNING)
			api_fault(r, 400, st < API_RUNNING ? API_MSG_PRE_BOOT : "The microVM has stopped.");
		else if (metrics_flush(a->metrics) < 0)
			api_fault(r, 400, "Metrics error: the metrics line could not be written");
		else
			api_ok(r);
	} else if (strcmp(t, "SendCtrlAltDel") == 0) {
		if (st != API_RUNNING)
			api_fault(r, 400, st < API_RUNNING ? API_MSG_PRE_BOOT : "The microVM has stopped.");
		else if (i8042_send_ctrl_alt_del(a->vm) < 0)
			api_fault(r, 400, "SendCtrlAltDel: this microVM has no i8042 keyboard");
		else
			api_ok(r);
	} else {
		api_fault(r, 400, "actions.action_type: '%s' is not FlushMetrics, InstanceStart or "
			  "SendCtrlAltDel", t);
	}
}

void api_patch_vm(struct api *a, const struct api_call *c, struct api_response *r)
{
	static const char *const keys[] = { "state", NULL };
	struct err e = { "" };
	const char *s;

	if (api_check_keys(c->body, "vm", keys, &e) < 0) {
		api_fault_err(r, &e);
		return;
	}
	s = json_string_value(json_object_get(c->body, "state"));
	if (s && strcmp(s, "Paused") == 0) {
		if (vm_pause(a->vm) < 0)
			api_fault(r, 400, "The microVM has stopped.");
		else
			api_ok(r);
	} else if (s && strcmp(s, "Resumed") == 0) {
		vm_resume(a->vm);
		api_ok(r);
	} else {
		api_fault(r, 400, "vm.state: expected \"Paused\" or \"Resumed\"");
	}
}

/* ---- Balloon. ---- */

#define NO_BALLOON "Balloon config error: No balloon device found."

void api_get_balloon(struct api *a, const struct api_call *c, struct api_response *r)
{
	struct balloon *b = live_balloon(a);
	struct balloon_stats s;
	json_t *o;

	(void)c;
	if (!a->cfg.balloon.enabled || (atomic_load(&a->state) == API_RUNNING && !b)) {
		api_fault(r, 400, NO_BALLOON);
		return;
	}
	o = config_balloon_to_json(&a->cfg.balloon);
	if (o && b) {
		balloon_stats(b, &s);
		json_object_set_new(o, "amount_mib", json_integer(s.target_pages / PAGES_PER_MIB));
	}
	api_json(r, 200, o);
}

void api_patch_balloon(struct api *a, const struct api_call *c, struct api_response *r)
{
	static const char *const keys[] = { "amount_mib", NULL };
	struct err e = { "" };
	uint64_t mib = 0;
	struct balloon *b = live_balloon(a);

	if (api_check_keys(c->body, "balloon", keys, &e) < 0 ||
	    cfg_get_uint(c->body, "balloon", "amount_mib", 0, CONFIG_MAX_MEM_MIB, &mib, true,
			 &e) < 0) {
		api_fault_err(r, &e);
		return;
	}
	if (!a->cfg.balloon.enabled || (atomic_load(&a->state) >= API_STARTING && !b)) {
		api_fault(r, 400, NO_BALLOON);
	} else if (!b) {
		a->cfg.balloon.amount_mib = mib;        /* before start: the initial target */
		api_ok(r);
	} else if (balloon_set_target(b, mib) < 0) {
		api_fault(r, 400, "Balloon config error: Amount of pages requested is too large.");
	} else {
		api_ok(r);
	}
}

void api_get_balloon_stats(struct api *a, const struct api_call *c, struct api_response *r)
{
	struct balloon *b = live_balloon(a);
	struct balloon_stats s;
	json_t *o;

	(void)c;
	if (!b) {
		api_fault(r, 400, NO_BALLOON);
		return;
	}
	if (a->cfg.balloon.stats_interval_s == 0) {
		api_fault(r, 400, "Balloon update error: Statistics for the balloon device are not "
			  "enabled (stats_polling_interval_s is 0).");
		return;
	}
	balloon_stats(b, &s);
	o = json_pack("{s:I, s:I, s:I, s:I}", "target_pages", (json_int_t)s.target_pages,
		      "actual_pages", (json_int_t)s.actual_pages, "target_mib",
		      (json_int_t)(s.target_pages / PAGES_PER_MIB), "actual_mib",
		      (json_int_t)(s.actual_pages / PAGES_PER_MIB));
	for (unsigned t = 0; o && t < BALLOON_STAT_TAGS; t++) {
		const char *name = balloon_stat_name(t);

		if (name && (s.present >> t) & 1)
			json_object_set_new(o, name, json_integer((json_int_t)s.val[t]));
	}
	api_json(r, 200, o);
}

void api_patch_balloon_stats(struct api *a, const struct api_call *c, struct api_response *r)
{
	static const char *const keys[] = { "stats_polling_interval_s", NULL };
	struct err e = { "" };
	uint64_t v = 0, cur = a->cfg.balloon.stats_interval_s;
	bool running = atomic_load(&a->state) >= API_STARTING;

	if (api_check_keys(c->body, "balloon/statistics", keys, &e) < 0 ||
	    cfg_get_uint(c->body, "balloon/statistics", "stats_polling_interval_s", 0, INT32_MAX,
			 &v, true, &e) < 0) {
		api_fault_err(r, &e);
		return;
	}
	if (!a->cfg.balloon.enabled || (running && !live_balloon(a))) {
		api_fault(r, 400, NO_BALLOON);
	} else if (!running) {
		a->cfg.balloon.stats_interval_s = v;
		api_ok(r);
	} else if ((cur == 0) != (v == 0)) {
		api_fault(r, 400, "Balloon update error: Statistics cannot be enabled/disabled "
			  "after activation.");
	} else if (v != cur && balloon_set_stats_interval(live_balloon(a), v) < 0) {
		api_fault(r, 400, "Balloon update error: the statistics interval cannot become %llu s",
			  (unsigned long long)v);
	} else {
		a->cfg.balloon.stats_interval_s = v;    /* GET /vm/config and snapshots show it */
		api_ok(r);
	}
}

/* ---- Live changes to devices. ---- */

/*
 * (out) = (cur) changed by the RateLimiter object (key) of (body), as
 * Firecracker updates one: a bucket left out (or null) stays as it is, a
 * bucket given replaces it ({"size": 0, "refill_time": 0} turns it off).
 * 1 when (key) is given, 0 when not (or null), -EINVAL with (e).
 */
static int patch_limiter(json_t *body, const char *where, const char *key,
			 const struct rate_limiter_config *cur, struct rate_limiter_config *out,
			 struct err *e)
{
	json_t *o = json_object_get(body, key);
	struct rate_limiter_config given;
	int r;

	*out = *cur;
	if (!o || json_is_null(o))
		return 0;
	r = cfg_get_limiter(body, where, key, &given, e);
	if (r < 0)
		return r;
	if (json_object_get(o, "bandwidth") && !json_is_null(json_object_get(o, "bandwidth")))
		out->bandwidth = given.bandwidth;
	if (json_object_get(o, "ops") && !json_is_null(json_object_get(o, "ops")))
		out->ops = given.ops;
	return 1;
}

/*
 * PATCH /drives/{id} (Firecracker's PartialDrive): a new path_on_host is
 * opened and swapped in even when it is the same path (the file may have
 * grown); the guest gets a configuration change interrupt.
 */
void api_patch_drive(struct api *a, const struct api_call *c, struct api_response *r)
{
	static const char *const keys[] = { "drive_id", "path_on_host", "rate_limiter", NULL };
	struct err e = { "" };
	struct drive_config *d = NULL;
	json_t *path = json_object_get(c->body, "path_on_host");
	struct rate_limiter_config rl;
	char where[96], *copy = NULL;
	int has_rl;

	if (api_check_keys(c->body, "drives", keys, &e) < 0) {
		api_fault_err(r, &e);
		return;
	}
	if (!json_is_string(json_object_get(c->body, "drive_id")) ||
	    strcmp(json_string_value(json_object_get(c->body, "drive_id")), c->id) != 0) {
		api_fault(r, 400, "The id from the path does not match the id from the body!");
		return;
	}
	for (unsigned i = 0; i < a->cfg.ndrives; i++)
		if (strcmp(a->cfg.drives[i].id, c->id) == 0)
			d = &a->cfg.drives[i];
	if (!d) {
		api_fault(r, 400, "Drive config error: no drive '%s'", c->id);
		return;
	}
	snprintf(where, sizeof(where), "drives/%s", c->id);
	if (path && (!json_is_string(path) || !*json_string_value(path))) {
		api_fault(r, 400, "%s.path_on_host: expected a non-empty string", where);
		return;
	}
	has_rl = patch_limiter(c->body, where, "rate_limiter", &d->limiter, &rl, &e);
	if (has_rl < 0) {
		api_fault_err(r, &e);
		return;
	}
	if (!path && !has_rl) {
		api_ok(r);      /* nothing to change */
		return;
	}
	if (path && !(copy = strdup(json_string_value(path)))) {
		api_fault(r, 500, "out of memory");
		return;
	}
	if (blk_update(a->vm, d->id, copy, has_rl ? &rl : NULL, &e) < 0) {
		free(copy);
		api_fault(r, 400, "Drive config error: %s", e.msg);
		return;
	}
	/* The device took it: GET /vm/config and snapshots show the new values. */
	if (copy) {
		free(d->path);
		d->path = copy;
	}
	if (has_rl)
		d->limiter = rl;
	api_ok(r);
}

/* PATCH /network-interfaces/{id} (Firecracker's PartialNetworkInterface): new rate limiters. */
void api_patch_net(struct api *a, const struct api_call *c, struct api_response *r)
{
	static const char *const keys[] = { "iface_id", "rx_rate_limiter", "tx_rate_limiter",
					    NULL };
	struct err e = { "" };
	struct net_config *n = NULL;
	struct rate_limiter_config rx, tx;
	char where[96];
	int has_rx, has_tx;
	json_t *id;

	if (api_check_keys(c->body, "network-interfaces", keys, &e) < 0) {
		api_fault_err(r, &e);
		return;
	}
	id = json_object_get(c->body, "iface_id");
	if (!json_is_string(id) || strcmp(json_string_value(id), c->id) != 0) {
		api_fault(r, 400, "The id from the path [%s] does not match the id from the body [%s]!",
			  c->id, json_is_string(id) ? json_string_value(id) : "");
		return;
	}
	for (unsigned i = 0; i < a->cfg.nnets; i++)
		if (strcmp(a->cfg.nets[i].id, c->id) == 0)
			n = &a->cfg.nets[i];
	if (!n) {
		api_fault(r, 400, "Network config error: no network interface '%s'", c->id);
		return;
	}
	snprintf(where, sizeof(where), "network-interfaces/%s", c->id);
	has_rx = patch_limiter(c->body, where, "rx_rate_limiter", &n->rx, &rx, &e);
	has_tx = has_rx < 0 ? 0 : patch_limiter(c->body, where, "tx_rate_limiter", &n->tx, &tx, &e);
	if (has_rx < 0 || has_tx < 0) {
		api_fault_err(r, &e);
		return;
	}
	if (!has_rx && !has_tx) {
		api_ok(r);      /* nothing to change */
		return;
	}
	if (net_update_limiters(a->vm, n->id, has_rx ? &rx : NULL, has_tx ? &tx : NULL, &e) < 0) {
		api_fault(r, 400, "Network config error: %s", e.msg);
		return;
	}
	if (has_rx)
		n->rx = rx;
	if (has_tx)
		n->tx = tx;
	api_ok(r);
}

/* ---- What lodge does not have. ---- */

/* ---- Snapshots. ---- */

void api_put_snapshot_create(struct api *a, const struct api_call *c, struct api_response *r)
{
	static const char *const keys[] = { "snapshot_path", "mem_file_path", "snapshot_type",
					    "version", NULL };
	const char *state, *mem, *type;
	struct err e = { "" };

	if (api_check_keys(c->body, "SnapshotCreateParams", keys, &e) < 0) {
		api_fault_err(r, &e);
		return;
	}
	state = json_string_value(json_object_get(c->body, "snapshot_path"));
	mem = json_string_value(json_object_get(c->body, "mem_file_path"));
	type = json_string_value(json_object_get(c->body, "snapshot_type"));
	if (!state || !mem || !*state || !*mem) {
		api_fault(r, 400, "SnapshotCreateParams: snapshot_path and mem_file_path are required strings");
		return;
	}
	if (json_object_get(c->body, "snapshot_type") &&
	    (!type || (strcmp(type, "Full") != 0 && strcmp(type, "Diff") != 0))) {
		api_fault(r, 400, "SnapshotCreateParams.snapshot_type: expected \"Full\" or \"Diff\"");
		return;
	}
	if (!vm_paused(a->vm)) {
		api_fault(r, 400, "Create snapshot error: the microVM must be paused (PATCH /vm "
			  "{\"state\": \"Paused\"}) first");
		return;
	}
	if (snapshot_create(a->vm, type && strcmp(type, "Diff") == 0 ? SNAPSHOT_DIFF : SNAPSHOT_FULL,
			    state, mem, &e) < 0)
		api_fault(r, 400, "Create snapshot error: %s", e.msg);
	else
		api_ok(r);
}

/* The body's optional string (key) of object (o), or fault. */
static int opt_string(json_t *o, const char *key, const char *where, const char **out,
		      struct api_response *r)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || !*json_string_value(v)) {
		api_fault(r, 400, "%s.%s: expected a non-empty string", where, key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* network_overrides, vsock_override and lodge_drive_overrides into (a). */
static int load_overrides(json_t *body, struct snapshot_load_args *a, struct api_response *r)
{
	static const struct { const char *key, *id, *value; } lists[] = {
		{ "network_overrides", "iface_id", "host_dev_name" },
		{ "lodge_drive_overrides", "drive_id", "path_on_host" },
	};
	json_t *v;

	for (unsigned l = 0; l < 2; l++) {
		json_t *arr = json_object_get(body, lists[l].key), *o;
		size_t i;

		if (!arr)
			continue;
		if (!json_is_array(arr) || json_array_size(arr) > SNAPSHOT_MAX_OVERRIDES) {
			api_fault(r, 400, "SnapshotLoadParams.%s: expected an array of at most %d objects",
				  lists[l].key, SNAPSHOT_MAX_OVERRIDES);
			return -1;
		}
		json_array_foreach(arr, i, o) {
			const char *id, *value;

			if (!json_is_object(o) || json_object_size(o) != 2) {
				api_fault(r, 400, "SnapshotLoadParams.%s: each entry needs exactly %s "
					  "and %s", lists[l].key, lists[l].id, lists[l].value);
				return -1;
			}
			if (opt_string(o, lists[l].id, lists[l].key, &id, r) < 0 ||
			    opt_string(o, lists[l].value, lists[l].key, &value, r) < 0)
				return -1;
			if (!id || !value) {
				api_fault(r, 400, "SnapshotLoadParams.%s: each entry needs %s and %s",
					  lists[l].key, lists[l].id, lists[l].value);
				return -1;
			}
			if (l == 0) {
				a->net[a->nnet].id = id;
				a->net[a->nnet++].value = value;
			} else {
				a->drive[a->ndrive].id = id;
				a->drive[a->ndrive++].value = value;
			}
		}
	}
	v = json_object_get(body, "vsock_override");
	if (v && (!json_is_object(v) || json_object_size(v) != 1 ||
		  !json_is_string(json_object_get(v, "uds_path")))) {
		api_fault(r, 400, "SnapshotLoadParams.vsock_override: expected {\"uds_path\": \"...\"}");
		return -1;
	}
	if (v && opt_string(v, "uds_path", "vsock_override", &a->vsock_uds, r) < 0)
		return -1;
	return 0;
}

void api_put_snapshot_load(struct api *a, const struct api_call *c, struct api_response *r)
{
	static const char *const keys[] = { "snapshot_path", "mem_file_path", "mem_backend",
					    "enable_diff_snapshots", "track_dirty_pages", "resume_vm",
					    "network_overrides", "vsock_override",
					    "lodge_drive_overrides", NULL };
	static const char *const backend_keys[] = { "backend_type", "backend_path", NULL };
	struct snapshot_load_args args = { .backend = SNAPSHOT_MEM_FILE };
	json_t *backend = json_object_get(c->body, "mem_backend");
	const char *type = NULL, *path = NULL;
	struct err e = { "" };

	if (api_check_keys(c->body, "SnapshotLoadParams", keys, &e) < 0 ||
	    (backend && api_check_keys(backend, "MemoryBackend", backend_keys, &e) < 0)) {
		api_fault_err(r, &e);
		return;
	}
	if (opt_string(c->body, "snapshot_path", "SnapshotLoadParams", &args.state_path, r) < 0 ||
	    opt_string(c->body, "mem_file_path", "SnapshotLoadParams", &args.mem_path, r) < 0 ||
	    (backend && (opt_string(backend, "backend_type", "mem_backend", &type, r) < 0 ||
			 opt_string(backend, "backend_path", "mem_backend", &path, r) < 0)) ||
	    load_overrides(c->body, &args, r) < 0)
		return;
	if (!args.state_path) {
		api_fault(r, 400, "SnapshotLoadParams: snapshot_path is required");
		return;
	}
	if (!!backend == !!args.mem_path) {
		api_fault(r, 400, "SnapshotLoadParams: exactly one of mem_backend and mem_file_path "
			  "must be given");
		return;
	}
	if (backend) {
		if (!type || !path || (strcmp(type, "File") != 0 && strcmp(type, "Uffd") != 0)) {
			api_fault(r, 400, "MemoryBackend: backend_type \"File\" or \"Uffd\" and "
				  "backend_path are required");
			return;
		}
		if (strcmp(type, "File") == 0) {
			args.mem_path = path;
		} else {
			args.backend = SNAPSHOT_MEM_UFFD;
			args.uffd_socket = path;
		}
	}
	args.track_dirty_pages = json_is_true(json_object_get(c->body, "track_dirty_pages")) ||
				 json_is_true(json_object_get(c->body, "enable_diff_snapshots"));
	api_snapshot_load(a, &args, json_is_true(json_object_get(c->body, "resume_vm")), r);
}

void api_unsupported(struct api *a, const struct api_call *c, struct api_response *r)
{
	static const char *const what[][2] = {
		{ "/cpu-config", "CPU templates are not supported by this lodge (its config file's "
				 "\"lodge\": {\"cpu_mask\": [...]} hides CPUID features)" },
		{ "/mmds", "MMDS is not supported by this lodge" },
		{ "/pmem", "pmem devices are not supported by this lodge" },
		{ "/hotplug/memory", "memory hotplug is not supported by this lodge" },
		{ "/balloon/hinting", "free page hinting is not supported by this lodge yet" },
		{ "/drives", "hot-unplugging a drive is not supported by this lodge" },
		{ "/network-interfaces", "hot-unplugging a network interface is not supported by "
					 "this lodge" },
	};

	(void)a;
	for (unsigned i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		if (strncmp(c->path, what[i][0], strlen(what[i][0])) == 0) {
			api_fault(r, 400, "%s", what[i][1]);
			return;
		}
	}
	api_fault(r, 400, "%s %s is not supported by this lodge", api_method_name(c->method),
		  c->path);
}

void api_get_prometheus(struct api *a, const struct api_call *c, struct api_response *r)
{
	char *text = metrics_prometheus(a);

	(void)c;
	if (!text) {
		api_fault(r, 500, "out of memory");
		return;
	}
	free(r->body);
	r->body = text;
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4";
}
