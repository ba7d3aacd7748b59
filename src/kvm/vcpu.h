/* vCPUs: creation, boot register state, the run loop on its own thread, register dumps. */
#ifndef LODGE_KVM_VCPU_H
#define LODGE_KVM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "boot/boot.h"
#include "kvm/cpuid.h"
#include "util/err.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;                    /* vCPU index = APIC ID */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	/* Statistics, read after the thread ends. */
	unsigned long exits_io, exits_mmio, exits_other;
};

/*
 * Create vCPU (id) of (vm) and set its CPUID (from (cpuid), KVM's supported
 * table, filtered for this vCPU), MSRs, LAPIC LINT pins and FPU. 0 or -errno.
 */
int vcpu_create(struct vcpu *c, struct vm *vm, unsigned id, const struct cpuid_table *cpuid,
		struct err *e);

/* Load the boot state (registers, segments, paging) that (entry) asks for into the BSP. */
int vcpu_set_boot_state(struct vcpu *c, const struct boot_entry *entry, struct err *e);

/* Start the thread running KVM_RUN until the VM exits; 0 or -errno. */
int vcpu_start(struct vcpu *c);

/* Make a running vCPU leave KVM_RUN (any thread). */
void vcpu_kick(struct vcpu *c);

/* Wait for the thread (after vcpu_kick or the VM's end). */
void vcpu_join(struct vcpu *c);

/* Wait for the thread and close the fds. */
void vcpu_destroy(struct vcpu *c);

/* Print the vCPU's registers to stderr (for fatal guest errors). */
void vcpu_dump(struct vcpu *c);

struct snap_writer;
struct snap_cursor;

/*
 * Snapshots (kvm/vcpu_state.c): append the vCPU's whole state (CPUID,
 * registers, XSAVE, XCRs, MSRs, LAPIC, events, debug registers, MP state,
 * TSC rate) to the open section of (w); the vCPU must not be running.
 */
int vcpu_save(struct vcpu *c, struct snap_writer *w, struct err *e);

/*
 * Load what vcpu_save wrote into a vCPU vcpu_create just made, after
 * checking that this host's CPU offers everything the snapshot's CPUID
 * promised. 0 or -errno with the record or the missing feature named.
 */
int vcpu_restore(struct vcpu *c, struct snap_cursor *cur, struct err *e);

/* Install the kick signal handler once per process; 0 or -errno. */
int vcpu_init_signals(void);

#endif
