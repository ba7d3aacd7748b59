/*
 * lodge as Firecracker runs: `lodge --api-sock PATH [--config-file FILE]
 * [--no-api] [--id ID] ...`. The API server starts before any VM exists;
 * PUT /actions InstanceStart (or the config file) builds the VM and the
 * main thread runs it. docs/API.md describes the endpoints.
 */
#ifndef LODGE_API_API_H
#define LODGE_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_DEFAULT_MAX_PAYLOAD 51200   /* Firecracker's --http-api-max-payload-size default */

struct api_opts {
	const char *sock_path;          /* NULL only with no_api */
	const char *config_file;        /* boot from it at once; NULL: wait for InstanceStart */
	bool no_api;
	const char *id;                 /* instance id (default "anonymous-instance") */
	size_t max_payload;             /* request body limit in bytes */
	const char *metrics_path;       /* --metrics-path */
	const char *kvm_path;           /* NULL: /dev/kvm */
	/* The jailer's clocks (Firecracker's --start-time-us ...); 0: measured here. */
	uint64_t start_time_us;         /* CLOCK_MONOTONIC when the jailer started us */
	uint64_t start_time_cpu_us;     /* our CPU clock then */
	uint64_t parent_cpu_time_us;    /* CPU time the jailer spent */
};

/* Serve the API and run the VM until it ends or SIGINT/SIGTERM; returns lodge's exit status. */
int api_main(const struct api_opts *o);

#endif
