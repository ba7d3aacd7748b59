/*
 * The configuration model shared by the CLI, the config file and (later) the
 * API. Shapes follow Firecracker's config file: boot-source, machine-config.
 */
#ifndef LODGE_VMM_CONFIG_H
#define LODGE_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define CONFIG_MAX_VCPUS 254            /* xAPIC IDs in the MADT */
#define CONFIG_MAX_MEM_MIB (1024 * 1024)  /* 1 TiB */
#define CONFIG_MAX_CPU_MASK 32
#define CONFIG_MAX_MODULES 8

enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE };

#define CONFIG_MAX_DRIVES 8
#define CONFIG_MAX_NETS 4

/* Firecracker's TokenBucket: (size) tokens refilled every (refill_time_ms); size 0: no limit. */
struct token_bucket_config {
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_time_ms;
};

/* Firecracker's RateLimiter: bytes and operations. */
struct rate_limiter_config {
	struct token_bucket_config bandwidth, ops;
};

enum drive_cache { DRIVE_CACHE_UNSAFE, DRIVE_CACHE_WRITEBACK, DRIVE_CACHE_DIRECT };
enum drive_io { DRIVE_IO_SYNC, DRIVE_IO_ASYNC };

/* drives[] (Firecracker's Drive); "Direct" as cache_type is lodge's: O_DIRECT. */
struct drive_config {
	char *id;
	char *path;
	char *partuuid;
	bool root;
	bool read_only;
	enum drive_cache cache;
	enum drive_io io;
	struct rate_limiter_config limiter;
};

/* network-interfaces[] (Firecracker's NetworkInterface). */
struct net_config {
	char *id;
	char *tap;                      /* host_dev_name */
	bool has_mac;
	uint8_t mac[6];
	unsigned mtu;                   /* 0: not advertised */
	struct rate_limiter_config rx, tx;
};

struct vsock_config {
	bool enabled;
	uint32_t cid;
	char *uds_path;
};

struct balloon_config {
	bool enabled;
	uint64_t amount_mib;
	bool deflate_on_oom;
	uint64_t stats_interval_s;
	bool free_page_hinting;
	bool free_page_reporting;
};

struct entropy_config {
	bool enabled;
	struct rate_limiter_config limiter;
};

struct vm_config {
	/* boot-source */
	char *kernel_path;
	char *initrd_path;
	char *cmdline;                  /* NULL: the default command line */
	char *modules[CONFIG_MAX_MODULES];  /* extra multiboot modules: "PATH[ ARGS]" */
	unsigned nmodules;
	/* machine-config */
	unsigned vcpus;
	uint64_t mem_mib;
	bool hugepages;
	bool track_dirty_pages;         /* KVM dirty logging on: diff snapshots possible */
	bool smt;                       /* accepted for compatibility; must be false */
	char *cpu_mask[CONFIG_MAX_CPU_MASK];   /* CPUID feature names to hide */
	unsigned ncpu_mask;
	/* serial */
	enum serial_mode serial;
	char *serial_path;
	/* devices */
	struct drive_config drives[CONFIG_MAX_DRIVES];
	unsigned ndrives;
	struct net_config nets[CONFIG_MAX_NETS];
	unsigned nnets;
	struct vsock_config vsock;
	struct balloon_config balloon;
	struct entropy_config entropy;
	/* host */
	char *kvm_path;                 /* default /dev/kvm (LODGE_KVM_DEVICE overrides) */
};

#define CONFIG_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"

/* Defaults: 1 vCPU, 128 MiB, serial on stdio. */
void config_init(struct vm_config *c);

/* Free every string the config owns. */
void config_free(struct vm_config *c);

/* Free and forget the device sections only. */
void config_free_devices(struct vm_config *c);

/*
 * Apply the JSON config file text (Firecracker config-file shape) on top of
 * (c). Unknown sections or fields are errors. 0 or -EINVAL with the field named.
 */
int config_parse_json(struct vm_config *c, const char *text, struct err *e);

/* Read and apply config file (path); 0 or -errno. */
int config_load_file(struct vm_config *c, const char *path, struct err *e);

/* Check the whole config for consistency (kernel given, sizes in range); 0 or -EINVAL. */
int config_validate(const struct vm_config *c, struct err *e);

/* Replace the string at (dst) with a copy of (s); 0 or -ENOMEM. */
int config_set_string(char **dst, const char *s, struct err *e);

/* Hide CPUID feature (name); errors start with (what), the field it came from. 0 or -errno. */
int config_add_cpu_mask(struct vm_config *c, const char *name, const char *what,
			struct err *e);

/* Add multiboot module "PATH[ ARGS]" (spec); errors start with (what). 0 or -errno. */
int config_add_module(struct vm_config *c, const char *spec, const char *what, struct err *e);

/*
 * Device sections, one object each, in Firecracker's shapes (also the API's
 * request bodies): drives and network interfaces are added, or replace the
 * one with the same id. (where) starts error messages. 0 or -errno.
 */
struct json_t;
int config_set_drive(struct vm_config *c, struct json_t *o, const char *where, struct err *e);
int config_set_net(struct vm_config *c, struct json_t *o, const char *where, struct err *e);
int config_set_vsock(struct vm_config *c, struct json_t *o, const char *where, struct err *e);
int config_set_balloon(struct vm_config *c, struct json_t *o, const char *where, struct err *e);
int config_set_entropy(struct vm_config *c, struct json_t *o, const char *where, struct err *e);

/*
 * The CLI form of a device section: "[VALUE,]key=value,..." with dotted keys
 * for nested objects (rate_limiter.bandwidth.size=...), true/false and
 * integers typed as JSON. VALUE, when given, is (first_key)'s value;
 * (defaults), "key=value,...", fills top-level keys the spec left out. The
 * object goes to (set) as if it came from the config file.
 */
int config_set_from_spec(struct vm_config *c, const char *spec, const char *first_key,
			 const char *defaults,
			 int (*set)(struct vm_config *, struct json_t *, const char *,
				    struct err *),
			 const char *what, struct err *e);

/* Parse "stdio", "none" or "file:PATH" into (c); 0 or -EINVAL. */
int config_set_serial(struct vm_config *c, const char *spec, struct err *e);

/* Parse a decimal in [min, max] from (s), naming (what) in errors; 0 or -EINVAL. */
int config_parse_uint(const char *s, uint64_t min, uint64_t max, const char *what,
		      uint64_t *out, struct err *e);

#endif
