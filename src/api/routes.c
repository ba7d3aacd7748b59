/*
 * The router: method + path -> handler, with Firecracker's rules for what a
 * request must look like before a handler sees it (a body for PUT/PATCH and
 * none for GET, JSON that parses, ids of letters, digits and '_') and for
 * when each operation is allowed (before or after InstanceStart). Every
 * error is {"fault_message": "..."} with 400, except a method the path does
 * not have (405) and an oversized body (413, server.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "util/log.h"
#include "vmm/config_json.h"

#define GET(f, w)   [API_GET] = { f, w }
#define PUT(f, w)   [API_PUT] = { f, w }
#define PATCH(f, w) [API_PATCH] = { f, w }
#define DEL(f, w)   [API_DELETE] = { f, w }

/* Every path of the swagger file, and lodge's own under /lodge. */
static const struct api_route routes[] = {
	{ "/", "instance_info", false, { GET(api_get_instance, API_ANY) } },
	{ "/version", "vmm_version", false, { GET(api_get_version, API_ANY) } },
	{ "/actions", "actions", false, { PUT(api_put_actions, API_ANY) } },
	{ "/machine-config", "machine_cfg", false,
	  { GET(api_get_machine_config, API_ANY), PUT(api_put_machine_config, API_PREBOOT),
	    PATCH(api_patch_machine_config, API_PREBOOT) } },
	{ "/boot-source", "boot_source", false, { PUT(api_put_boot_source, API_PREBOOT) } },
	{ "/drives/{}", "drive", false,
	  { PUT(api_put_drive, API_PREBOOT), PATCH(api_patch_drive, API_POSTBOOT),
	    DEL(api_unsupported, API_POSTBOOT) } },
	{ "/network-interfaces/{}", "network", false,
	  { PUT(api_put_net, API_PREBOOT), PATCH(api_patch_net, API_POSTBOOT),
	    DEL(api_unsupported, API_POSTBOOT) } },
	{ "/vsock", "vsock", false, { PUT(api_put_vsock, API_PREBOOT) } },
	{ "/entropy", "entropy", false, { PUT(api_put_entropy, API_PREBOOT) } },
	{ "/balloon", "balloon", false,
	  { GET(api_get_balloon, API_ANY), PUT(api_put_balloon, API_PREBOOT),
	    PATCH(api_patch_balloon, API_ANY) } },
	{ "/balloon/statistics", "balloon_statistics", false,
	  { GET(api_get_balloon_stats, API_POSTBOOT), PATCH(api_patch_balloon_stats, API_ANY) } },
	{ "/balloon/hinting/start", "balloon_hinting_start", true,
	  { PATCH(api_unsupported, API_POSTBOOT) } },
	{ "/balloon/hinting/status", "balloon_hinting_status", false,
	  { GET(api_unsupported, API_POSTBOOT) } },
	{ "/balloon/hinting/stop", "balloon_hinting_stop", true,
	  { PATCH(api_unsupported, API_POSTBOOT) } },
	{ "/logger", "logger", false, { PUT(api_put_logger, API_PREBOOT) } },
	{ "/metrics", "metrics", false, { PUT(api_put_metrics, API_PREBOOT) } },
	{ "/serial", "serial", false, { PUT(api_put_serial, API_PREBOOT) } },
	{ "/vm", "vm_state", false, { PATCH(api_patch_vm, API_POSTBOOT) } },
	{ "/vm/config", "vm_config", false, { GET(api_get_vm_config, API_ANY) } },
	{ "/snapshot/create", "snapshot_create", false,
	  { PUT(api_put_snapshot_create, API_POSTBOOT) } },
	{ "/snapshot/load", "snapshot_load", false, { PUT(api_put_snapshot_load, API_PREBOOT) } },
	{ "/cpu-config", "cpu_cfg", false, { PUT(api_unsupported, API_PREBOOT) } },
	{ "/mmds", "mmds", false,
	  { GET(api_unsupported, API_ANY), PUT(api_unsupported, API_ANY),
	    PATCH(api_unsupported, API_ANY) } },
	{ "/mmds/config", "mmds_config", false, { PUT(api_unsupported, API_PREBOOT) } },
	{ "/pmem/{}", "pmem", false,
	  { PUT(api_unsupported, API_PREBOOT), PATCH(api_unsupported, API_POSTBOOT),
	    DEL(api_unsupported, API_POSTBOOT) } },
	{ "/hotplug/memory", "hotplug_memory", false,
	  { GET(api_unsupported, API_POSTBOOT), PUT(api_unsupported, API_PREBOOT),
	    PATCH(api_unsupported, API_POSTBOOT) } },
	{ "/lodge/metrics", "lodge_metrics", false, { GET(api_get_prometheus, API_ANY) } },
};

_Static_assert(sizeof(routes) / sizeof(routes[0]) <= API_MAX_ROUTES, "raise API_MAX_ROUTES");

static const char *const method_names[API_NMETHODS] = { "GET", "PUT", "PATCH", "DELETE" };
static const char *const method_metrics[API_NMETHODS] = { "get", "put", "patch", "delete" };

const struct api_route *api_routes(unsigned *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

const char *api_method_name(enum api_method m)
{
	return method_names[m];
}

const char *api_method_metric(enum api_method m)
{
	return method_metrics[m];
}

/* ---- Responses. ---- */

void api_ok(struct api_response *r)
{
	r->status = 204;
	free(r->body);
	r->body = NULL;
}

void api_json(struct api_response *r, unsigned status, json_t *body)
{
	free(r->body);
	r->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	r->status = r->body ? status : 500;
	r->content_type = "application/json";
}

static void fault_text(struct api_response *r, unsigned status, char *msg)
{
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	api_json(r, status, json_pack("{s:s}", "fault_message", msg));
	if (!r->body)
		r->status = 500;
	else
		r->status = status;
}

void api_fault(struct api_response *r, unsigned status, const char *fmt, ...)
{
	char msg[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fault_text(r, status, msg);
}

void api_fault_err(struct api_response *r, const struct err *e)
{
	const char *m = e->msg;
	char msg[sizeof(e->msg)];

	if (strncmp(m, "config: ", 8) == 0)
		m += 8;
	snprintf(msg, sizeof(msg), "%s", m[0] ? m : "invalid request");
	fault_text(r, 400, msg);
}

int api_check_keys(json_t *o, const char *schema, const char *const *allowed, struct err *e)
{
	if (!json_is_object(o))
		return errf(e, -EINVAL, "%s: expected an object", schema);
	return cfg_check_keys(o, schema, allowed, e);
}

/* ---- Routing. ---- */

enum match { NO_MATCH, MATCH, MATCH_EMPTY_ID };

/*
 * Does (path) (no trailing '/') match (pattern)? The {} segment's text goes
 * to (id) (at most (idsz) - 1 characters; longer ids do not match).
 */
static enum match match_route(const char *pattern, const char *path, char *id, size_t idsz)
{
	const char *brace = strstr(pattern, "{}");
	size_t pre, n;

	if (!brace)
		return strcmp(pattern, path) == 0 ? MATCH : NO_MATCH;
	pre = (size_t)(brace - pattern);        /* "/drives/" */
	if (strlen(path) + 1 == pre && strncmp(pattern, path, pre - 1) == 0)
		return MATCH_EMPTY_ID;          /* "/drives" */
	if (strncmp(pattern, path, pre) != 0)
		return NO_MATCH;
	path += pre;
	n = strcspn(path, "/");
	if (path[n] != 0 || n >= idsz)
		return NO_MATCH;
	memcpy(id, path, n);
	id[n] = 0;
	return MATCH;
}

/* Firecracker's checked_id: non-empty, letters, digits and '_'. */
static bool id_valid(const char *id)
{
	size_t n = strlen(id);

	return n && strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			      "0123456789_") == n;
}

static int method_of(const char *m)
{
	for (int i = 0; i < API_NMETHODS; i++)
		if (strcmp(m, method_names[i]) == 0)
			return i;
	return -1;
}

static void allow_header(const struct api_route *rt, char *buf, size_t n)
{
	buf[0] = 0;
	for (int i = 0; i < API_NMETHODS; i++)
		if (rt->m[i].fn)
			snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? ", " : "",
				 method_names[i]);
}

/* Check the body rules, parse it into (c)->body; false when (r) holds the error. */
static bool take_body(const struct api_route *rt, enum api_method m,
		      const struct api_request *req, struct api_call *c, struct api_response *r)
{
	json_error_t je;

	if (m == API_GET || m == API_DELETE) {
		if (req->len) {
			api_fault(r, 400, "%s request cannot have a body.", method_names[m]);
			return false;
		}
		return true;
	}
	if (req->len == 0) {
		if (rt->body_optional)
			return true;
		api_fault(r, 400, "Empty %s request.", method_names[m]);
		return false;
	}
	c->body = json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, &je);
	if (!c->body) {
		api_fault(r, 400, "An error occurred when deserializing the json body of a request: "
			  "%s at line %d column %d.", je.text, je.line, je.column);
		return false;
	}
	return true;
}

/* With (a)->lock held: may (e) run in the current state? If not, (r) says why. */
static bool state_allows(struct api *a, const struct api_method_entry *e, struct api_response *r)
{
	int s = atomic_load(&a->state);

	if (e->when == API_PREBOOT && s != API_NOT_STARTED) {
		api_fault(r, 400, API_MSG_POST_BOOT);
		return false;
	}
	if (e->when == API_POSTBOOT && s != API_RUNNING) {
		if (s == API_EXITED)
			api_fault(r, 400, "The microVM has stopped.");
		else
			api_fault(r, 400, API_MSG_PRE_BOOT);
		return false;
	}
	return true;
}

static uint64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

static void count(struct api *a, unsigned route, int m, const struct api_response *r,
		  uint64_t us)
{
	struct api_route_stats *s = &a->stats[route][m];
	uint64_t max = atomic_load(&s->lat_max_us);

	atomic_fetch_add(&s->count, 1);
	if (r->status >= 400)
		atomic_fetch_add(&s->fails, 1);
	atomic_fetch_add(&s->lat_sum_us, us);
	while (us > max && !atomic_compare_exchange_weak(&s->lat_max_us, &max, us))
		;
}

/* Find the route of (path); (*found) says whether one matched. */
static unsigned find_route(const char *path, char *id, size_t idsz, enum match *found)
{
	unsigned n = sizeof(routes) / sizeof(routes[0]);

	for (unsigned i = 0; i < n; i++) {
		*found = match_route(routes[i].pattern, path, id, idsz);
		if (*found != NO_MATCH)
			return i;
	}
	return n;
}

void api_dispatch(void *ctx, const struct api_request *req, struct api_response *r)
{
	struct api *a = ctx;
	uint64_t t0 = now_us();
	char path[256], id[128];
	struct api_call c = { .path = path };
	const struct api_route *rt;
	enum match found;
	unsigned ri;
	int m = method_of(req->method);
	size_t n = strlen(req->path);

	r->status = 500;
	/* Firecracker ignores one trailing '/': "/drives/x/" is "/drives/x". */
	if (n > 1 && req->path[n - 1] == '/')
		n--;
	if (n >= sizeof(path)) {
		atomic_fetch_add(&a->unrouted, 1);
		api_fault(r, 400, "Invalid request method and/or path: %s (path too long).",
			  req->method);
		return;
	}
	memcpy(path, req->path, n);
	path[n] = 0;
	/* The path is percent-decoded: no control characters into logs and answers. */
	for (char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	ri = find_route(path, id, sizeof(id), &found);
	if (found == NO_MATCH) {
		atomic_fetch_add(&a->unrouted, 1);
		api_fault(r, 400, "Invalid request method and/or path: %s %s.", req->method, path);
		return;
	}
	rt = &routes[ri];
	if (m < 0 || !rt->m[m].fn) {
		atomic_fetch_add(&a->unrouted, 1);
		api_fault(r, 405, "Invalid request method and/or path: %s %s.", req->method, path);
		allow_header(rt, r->allow, sizeof(r->allow));
		log_info("api", "%s %s: 405 (allowed: %s)", req->method, path, r->allow);
		return;
	}
	c.method = (enum api_method)m;
	if (found == MATCH_EMPTY_ID) {
		api_fault(r, 400, "The ID cannot be empty.");
	} else if (strstr(rt->pattern, "{}") && !id_valid(id)) {
		api_fault(r, 400, "API Resource IDs can only contain alphanumeric characters and "
			  "underscores.");
	} else if (take_body(rt, c.method, req, &c, r)) {
		c.id = strstr(rt->pattern, "{}") ? id : NULL;
		pthread_mutex_lock(&a->lock);
		if (state_allows(a, &rt->m[m], r))
			rt->m[m].fn(a, &c, r);
		pthread_mutex_unlock(&a->lock);
	}
	json_decref(c.body);
	count(a, ri, m, r, now_us() - t0);
	log_info("api", "%s %s: %u", req->method, path, r->status);
}
