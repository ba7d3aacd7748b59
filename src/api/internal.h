/*
 * The API's state and the pieces that share it: the state machine (vmm.c),
 * the router (routes.c), the handlers (preboot.c, runtime.c) and metrics.
 *
 * Threads: the HTTP server thread runs every handler, one at a time, with
 * (lock) held; the main thread runs the VM (vm_run) once InstanceStart has
 * built it, and takes (lock) only to change (state); the metrics thread reads
 * counters only. The VM, once published in (live_vm), lives until the server
 * and the metrics thread have stopped.
 */
#ifndef LODGE_API_INTERNAL_H
#define LODGE_API_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/server.h"
#include "kvm/kvm.h"
#include "util/err.h"
#include "vmm/config.h"

struct vm;
struct metrics;
struct snapshot_load;
struct snapshot_load_args;
struct kvm_stats;

/* The instance's states, as the API sees them (PATCH /vm adds Paused inside RUNNING). */
enum api_state {
	API_NOT_STARTED,                /* configuring */
	API_STARTING,                   /* VM built, waiting for the main thread to run it */
	API_RUNNING,                    /* vm_run on the main thread */
	API_EXITED,                     /* the VM ended; the process is about to */
};

enum api_method { API_GET, API_PUT, API_PATCH, API_DELETE, API_NMETHODS };

#define API_MAX_ROUTES 40

/* Per route and method: requests, failed ones (4xx/5xx) and time spent, for metrics. */
struct api_route_stats {
	_Atomic uint64_t count, fails, lat_sum_us, lat_max_us;
};

struct api {
	pthread_mutex_t lock;           /* state changes, cfg, the settings below */
	pthread_cond_t cond;            /* state changed */
	_Atomic int state;              /* enum api_state; written with (lock) held */
	struct vm_config cfg;           /* edited before start; once the VM exists only by the
					   live updates (PATCH drives, network-interfaces,
					   balloon/statistics), after the device took them */
	struct vm *vm;                  /* built by InstanceStart or PUT /snapshot/load */
	struct snapshot_load *restore;  /* the snapshot (vm) was loaded from, freed after it */
	/* A KVM VM made while the API waits (kvm_prepare), for InstanceStart or a load to use. */
	pthread_t prep_thread;
	bool prep_started;
	struct kvm prep_kvm;
	char prep_path[256];            /* the /dev/kvm path it opens (a copy: cfg may change) */
	_Atomic(struct vm *) live_vm;   /* (vm) once it runs, for readers without (lock) */
	int start_fd;                   /* eventfd: the main thread should run (vm) */
	char id[65];
	json_t *logger_cfg;             /* the Logger object applied, for GET /vm/config */
	json_t *metrics_cfg;            /* the Metrics object applied */
	struct metrics *metrics;        /* NULL until PUT /metrics or --metrics-path */
	struct api_route_stats stats[API_MAX_ROUTES][API_NMETHODS];
	_Atomic uint64_t unrouted;      /* requests for no route */
	uint64_t startup_us, startup_cpu_us;   /* process start to the socket accepting */
	struct kvm_stats *kvm_stats;    /* the VM's vCPU stats files, opened by metrics */
	bool kvm_stats_tried;
	pthread_mutex_t kvm_stats_lock;
};

/* One request as a handler sees it. */
struct api_call {
	enum api_method method;
	const char *path;
	const char *id;                 /* the {id} path segment, or NULL */
	json_t *body;                   /* the parsed body (an object, or anything for PATCH), or NULL */
};

typedef void (*api_route_fn)(struct api *a, const struct api_call *c, struct api_response *r);

/* When a method of a route may run. */
enum api_when { API_ANY, API_PREBOOT, API_POSTBOOT };

struct api_method_entry {
	api_route_fn fn;
	enum api_when when;
};

struct api_route {
	const char *pattern;            /* "/drives/{}": {} is one path segment, the id */
	const char *metric;             /* Firecracker's metric stem: "drive", "machine_cfg" */
	bool body_optional;             /* PUT/PATCH without a body reaches the handler */
	struct api_method_entry m[API_NMETHODS];
};

/* The route table (routes.c): (*n) entries. */
const struct api_route *api_routes(unsigned *n);

/* Answer (req) (the server's handler): route, parse the body, run the handler, count. */
void api_dispatch(void *api, const struct api_request *req, struct api_response *resp);

/* Method names, "GET" ...; lower case for metrics, "get" .... */
const char *api_method_name(enum api_method m);
const char *api_method_metric(enum api_method m);

/* ---- Responses (routes.c). ---- */
#define API_MSG_POST_BOOT "The requested operation is not supported after starting the microVM."
#define API_MSG_PRE_BOOT "The requested operation is not supported before starting the microVM."

/* 204 No Content. */
void api_ok(struct api_response *r);
/* (status) with (body) as JSON text; takes the reference. NULL body: 500. */
void api_json(struct api_response *r, unsigned status, json_t *body);
/* (status) with {"fault_message": "..."}, one line. */
void api_fault(struct api_response *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 400 with (e)'s message, without the config parser's "config: " prefix. */
void api_fault_err(struct api_response *r, const struct err *e);

/* ---- Body helpers (routes.c). ---- */

/* Reject keys of (o) not in (allowed) and type-check: 0 or -EINVAL with (e) naming (schema). */
int api_check_keys(json_t *o, const char *schema, const char *const *allowed, struct err *e);

/* ---- The state machine (vmm.c). ---- */

struct api_opts;

/*
 * Set (a) up from (o): the instance id, the KVM path, --metrics-path and the
 * config file (not the server, nor any thread but the metrics one). Used
 * by api_main, the unit tests and the fuzzer. 0 or -errno with (e);
 * api_state_fini frees what was made either way.
 */
int api_state_init(struct api *a, const struct api_opts *o, struct err *e);
void api_state_fini(struct api *a);

/* InstanceStart: validate, build the VM, hand it to the main thread, wait until it runs. */
void api_instance_start(struct api *a, struct api_response *r);

/*
 * PUT /snapshot/load: restore the VM from (args) and start it, paused
 * unless (resume), as InstanceStart starts a fresh one.
 */
void api_snapshot_load(struct api *a, const struct snapshot_load_args *args, bool resume,
		       struct api_response *r);

/* Apply a Logger / Metrics object (PUT /logger, /metrics, the config file). 0 or -errno. */
int api_logger_apply(struct api *a, json_t *o, struct err *e);
int api_metrics_apply(struct api *a, json_t *o, struct err *e);

/* "Not started", "Running" or "Paused". */
const char *api_state_name(struct api *a);

/* ---- Handlers (preboot.c, runtime.c), as the route table names them. ---- */
void api_put_boot_source(struct api *a, const struct api_call *c, struct api_response *r);
void api_get_machine_config(struct api *a, const struct api_call *c, struct api_response *r);
void api_put_machine_config(struct api *a, const struct api_call *c, struct api_response *r);
void api_patch_machine_config(struct api *a, const struct api_call *c, struct api_response *r);
void api_put_drive(struct api *a, const struct api_call *c, struct api_response *r);
void api_patch_drive(struct api *a, const struct api_call *c, struct api_response *r);
void api_put_net(struct api *a, const struct api_call *c, struct api_response *r);
void api_patch_net(struct api *a, const struct api_call *c, struct api_response *r);
void api_put_vsock(struct api *a, const struct api_call *c, struct api_response *r);
void api_put_entropy(struct api *a, const struct api_call *c, struct api_response *r);
void api_put_balloon(struct api *a, const struct api_call *c, struct api_response *r);
void api_put_logger(struct api *a, const struct api_call *c, struct api_response *r);
void api_put_metrics(struct api *a, const struct api_call *c, struct api_response *r);
void api_put_serial(struct api *a, const struct api_call *c, struct api_response *r);

void api_get_instance(struct api *a, const struct api_call *c, struct api_response *r);
void api_get_version(struct api *a, const struct api_call *c, struct api_response *r);
void api_get_vm_config(struct api *a, const struct api_call *c, struct api_response *r);
void api_put_actions(struct api *a, const struct api_call *c, struct api_response *r);
void api_patch_vm(struct api *a, const struct api_call *c, struct api_response *r);
void api_get_balloon(struct api *a, const struct api_call *c, struct api_response *r);
void api_patch_balloon(struct api *a, const struct api_call *c, struct api_response *r);
void api_get_balloon_stats(struct api *a, const struct api_call *c, struct api_response *r);
void api_patch_balloon_stats(struct api *a, const struct api_call *c, struct api_response *r);
void api_put_snapshot_create(struct api *a, const struct api_call *c, struct api_response *r);
void api_put_snapshot_load(struct api *a, const struct api_call *c, struct api_response *r);
void api_unsupported(struct api *a, const struct api_call *c, struct api_response *r);
void api_get_prometheus(struct api *a, const struct api_call *c, struct api_response *r);

#endif
