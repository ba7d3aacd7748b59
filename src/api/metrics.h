/*
 * Metrics in Firecracker's shape: one JSON object per line, written to the
 * metrics file (or named pipe) every 60 s, on FlushMetrics and when lodge
 * ends. Counters are written as the change since the previous line, as
 * Firecracker does; gauges as their value. The same numbers, as running
 * totals, are served in Prometheus's text format by GET /lodge/metrics.
 *
 * Groups (docs/API.md lists the fields): api_server, get/put/patch/
 * delete_api_requests, latencies_us, logger, vmm, vcpu, kvm_vcpu (KVM's
 * binary stats: per-reason exits), and per virtio device block_ID, net_ID
 * (plus the sums block, net), vsock, balloon, entropy.
 */
#ifndef LODGE_API_METRICS_H
#define LODGE_API_METRICS_H

#include <jansson.h>
#include <stdbool.h>

#include "util/err.h"

struct api;
struct metrics;

#define METRICS_PERIOD_S 60

/*
 * Start writing metrics of (a) to (path) (created if missing, appended to),
 * with the instance id when (emit_id) and (properties) (an object of
 * strings, or NULL) on every line; a thread flushes every METRICS_PERIOD_S.
 * NULL with (e) filled on failure.
 */
struct metrics *metrics_open(struct api *a, const char *path, bool emit_id, json_t *properties,
			     struct err *e);

/* Write one line now. 0 or -errno (the line is counted as missed). */
int metrics_flush(struct metrics *m);

/* Write a last line, stop the thread, close the file, free (m). NULL is fine. */
void metrics_close(struct metrics *m);

/* Every metric of (a) as Prometheus text (running totals); malloc'd, NULL without memory. */
char *metrics_prometheus(struct api *a);

/*
 * Open the KVM statistics of (vm) now, before it runs (they are otherwise
 * opened on first use, and the VM's last metrics line comes after its vCPU
 * fds are gone).
 */
struct vm;
void metrics_attach_vm(struct api *a, struct vm *vm);

/* Close the KVM statistics files metrics opened for (a)'s VM (before it is destroyed). */
void metrics_release_vm(struct api *a);

#endif
