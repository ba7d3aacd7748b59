/* The KVM system and VM file descriptors: capability checks, memory slots, irqchip. */
#ifndef LODGE_KVM_KVM_H
#define LODGE_KVM_KVM_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/mem.h"
#include "util/err.h"

struct cpuid_table;

struct kvm {
	int sys_fd;             /* /dev/kvm */
	int vm_fd;
	int run_size;           /* bytes to mmap for each vCPU's struct kvm_run */
	int max_vcpus;
	struct cpuid_table *cpuid;      /* KVM_GET_SUPPORTED_CPUID once read, or NULL */
};

/*
 * Open (path) (normally /dev/kvm), check the API version and every
 * capability lodge relies on, create a VM with an in-kernel irqchip (the
 * PIT comes later, on first use: devices/pit.c).
 * Returns 0 or -errno with the missing piece named in (e).
 */
int kvm_open(struct kvm *k, const char *path, struct err *e);

/*
 * kvm_open, then pay in advance what a VM's first memory slot costs: on
 * some hosts (kvm_pvm) the first KVM_SET_USER_MEMORY_REGION after the
 * irqchip exists takes milliseconds whatever its size, later ones
 * microseconds. A one-page slot is added and removed again. For a VM that
 * is built later from this one (the API's InstanceStart and snapshot load).
 */
int kvm_prepare(struct kvm *k, const char *path, struct err *e);

/*
 * Create KVM's in-kernel 8254 PIT (with the dummy speaker port 0x61); once
 * it exists, KVM serves ports 0x40-0x43 and 0x61 without exits. 0 or -errno.
 */
int kvm_create_pit(struct kvm *k);

/* KVM's supported CPUID, read once (it takes ~0.4 ms) and kept; NULL with (e) on failure. */
const struct cpuid_table *kvm_supported_cpuid(struct kvm *k, struct err *e);

/* Close the VM and system fds. */
void kvm_close(struct kvm *k);

/*
 * Register every region of (m) as a KVM memory slot (slot i = region i);
 * with (log_dirty) KVM logs the guest's writes (diff snapshots). 0 or -errno.
 */
int kvm_map_memory(struct kvm *k, const struct gmem *m, bool log_dirty, struct err *e);

/*
 * OR the pages the guest wrote since the last call into (bitmap) (one bit
 * per 4 KiB page by offset in m's mapping, like gmem_take_dirty) and clear
 * KVM's log. The slots must log (kvm_map_memory's log_dirty). 0 or -errno.
 */
int kvm_take_dirty(struct kvm *k, const struct gmem *m, uint64_t *bitmap, struct err *e);

/* Drive in-kernel irqchip input (gsi) to (level); 0 or -errno. */
int kvm_irq_line(struct kvm *k, unsigned gsi, int level);

/* Value of KVM_CHECK_EXTENSION(cap) on the VM fd (0 when unsupported). */
int kvm_check_cap(const struct kvm *k, long cap);

#endif
