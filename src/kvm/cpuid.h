/*
 * The CPUID a vCPU sees: KVM_GET_SUPPORTED_CPUID, filtered (docs/ARCHITECTURE.md
 * "CPUID"), with per-vCPU APIC IDs and a flat topology of N cores, 1 thread
 * each, in one package; features can be hidden by name.
 */
#ifndef LODGE_KVM_CPUID_H
#define LODGE_KVM_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

#include "util/err.h"

#define CPUID_MAX_ENTRIES 256

struct cpuid_table {
	struct kvm_cpuid2 hdr;
	struct kvm_cpuid_entry2 entries[CPUID_MAX_ENTRIES];
};

/* Fill (t) from KVM_GET_SUPPORTED_CPUID on (kvm_sys_fd); 0 or -errno. */
int cpuid_get_supported(int kvm_sys_fd, struct cpuid_table *t, struct err *e);

/*
 * Adapt (t) in place for vCPU (apic_id) of (ncpus): APIC IDs, topology
 * leaves, the hypervisor bit, then hide each feature named in (mask).
 * 0 or -EINVAL naming an unknown feature.
 */
int cpuid_filter(struct cpuid_table *t, unsigned apic_id, unsigned ncpus,
		 char *const *mask, unsigned nmask, struct err *e);

/* Whether (name) is a feature cpuid_filter can hide. */
int cpuid_feature_known(const char *name);

/* Find entry (function, index) in (t), or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct cpuid_table *t, uint32_t function, uint32_t index);

#endif
