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
	bool smt;                       /* accepted for compatibility; must be false */
	char *cpu_mask[CONFIG_MAX_CPU_MASK];   /* CPUID feature names to hide */
	unsigned ncpu_mask;
	/* serial */
	enum serial_mode serial;
	char *serial_path;
	/* host */
	char *kvm_path;                 /* default /dev/kvm (LODGE_KVM_DEVICE overrides) */
};

#define CONFIG_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"

/* Defaults: 1 vCPU, 128 MiB, serial on stdio. */
void config_init(struct vm_config *c);

/* Free every string the config owns. */
void config_free(struct vm_config *c);

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

/* Parse "stdio", "none" or "file:PATH" into (c); 0 or -EINVAL. */
int config_set_serial(struct vm_config *c, const char *spec, struct err *e);

/* Parse a decimal in [min, max] from (s), naming (what) in errors; 0 or -EINVAL. */
int config_parse_uint(const char *s, uint64_t min, uint64_t max, const char *what,
		      uint64_t *out, struct err *e);

#endif
