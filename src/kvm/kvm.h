/* The KVM system and VM file descriptors: capability checks, memory slots, irqchip. */
#ifndef LODGE_KVM_KVM_H
#define LODGE_KVM_KVM_H

#include <stdint.h>

#include "kvm/mem.h"
#include "util/err.h"

struct kvm {
	int sys_fd;             /* /dev/kvm */
	int vm_fd;
	int run_size;           /* bytes to mmap for each vCPU's struct kvm_run */
	int max_vcpus;
};

/*
 * Open (path) (normally /dev/kvm), check the API version and every
 * capability lodge relies on, create a VM with an in-kernel irqchip (the
 * PIT comes later, on first use: devices/pit.c).
 * Returns 0 or -errno with the missing piece named in (e).
 */
int kvm_open(struct kvm *k, const char *path, struct err *e);

/*
 * Create KVM's in-kernel 8254 PIT (with the dummy speaker port 0x61); once
 * it exists, KVM serves ports 0x40-0x43 and 0x61 without exits. 0 or -errno.
 */
int kvm_create_pit(struct kvm *k);

/* Close the VM and system fds. */
void kvm_close(struct kvm *k);

/* Register every region of (m) as a KVM memory slot; 0 or -errno. */
int kvm_map_memory(struct kvm *k, const struct gmem *m, struct err *e);

/* Drive in-kernel irqchip input (gsi) to (level); 0 or -errno. */
int kvm_irq_line(struct kvm *k, unsigned gsi, int level);

/* Value of KVM_CHECK_EXTENSION(cap) on the VM fd (0 when unsupported). */
int kvm_check_cap(const struct kvm *k, long cap);

#endif
