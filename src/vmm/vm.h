/*
 * A virtual machine: its KVM VM, guest memory, buses, devices, vCPU threads
 * and I/O thread, and its lifecycle (created -> running -> exiting -> done).
 * This is the interface devices use: claim bus ranges, raise interrupts,
 * reach guest memory, register fds with the I/O loop, end the VM.
 */
#ifndef LODGE_VMM_VM_H
#define LODGE_VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/acpi.h"
#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "devices/bus.h"
#include "io/loop.h"
#include "kvm/kvm.h"
#include "kvm/mem.h"
#include "util/err.h"
#include "vmm/config.h"

struct vcpu;
struct device_desc;
struct virtio_dev;
struct i8042;

/* Exit statuses of `lodge run` (docs/GUEST-ABI.md). Debug-exit statuses are odd. */
enum vm_status {
	VM_STATUS_OFF = 0,              /* guest powered off or reset */
	VM_STATUS_USAGE = 2,            /* bad flags, config or input files */
	VM_STATUS_TRIPLE_FAULT = 4,     /* KVM_EXIT_SHUTDOWN */
	VM_STATUS_INTERNAL = 6,         /* KVM internal error, failed entry, unknown exit */
	VM_STATUS_HOST = 8,             /* host error while running */
	VM_STATUS_SIGNAL = 10,          /* SIGINT/SIGTERM */
};

enum vm_state { VM_CREATED, VM_RUNNING, VM_EXITING, VM_DONE };

struct vm_device {
	const struct device_desc *desc;
	void *state;
};

struct vm {
	const struct vm_config *cfg;
	struct kvm kvm;
	struct gmem mem;
	struct bus pio, mmio;
	struct e820_map e820;
	struct acpi_config acpi;        /* devices add DSDT entries during init */
	struct loop loop;
	pthread_t io_thread;
	bool io_started;

	unsigned ncpus;
	struct vcpu *vcpus;

	unsigned ndevices;
	struct vm_device devices[64];
	unsigned virtio_slots;          /* virtio-mmio slots handed out (virtio/mmio.c) */
	struct virtio_dev *virtio[VIRTIO_MMIO_MAX_SLOTS];  /* the device in each slot (metrics) */
	char cmdline_extra[1024];       /* devices' additions to the kernel command line */
	struct i8042 *i8042;            /* the keyboard controller (devices/i8042.h) */

	/* Pause: vCPU threads park between KVM_RUN calls while pause_requested. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;      /* parked count changed, or pause/exit state changed */
	_Atomic bool pause_requested;
	unsigned parked;

	_Atomic int state;              /* enum vm_state */
	_Atomic int exit_status;
	int exit_fd;                    /* eventfd written once the VM should end */
	int signal_fd;                  /* SIGINT/SIGTERM, served by the I/O loop */
};

/* Build the whole VM from (cfg): KVM, memory, devices, tables, kernel, vCPUs. 0 or -errno. */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct err *e);

/*
 * vm_create with a KVM VM made earlier (kvm_prepare): (vm) takes it over,
 * and (*kvm) is left closed. NULL or a closed (*kvm): vm_create.
 */
int vm_create_prepared(struct vm *vm, const struct vm_config *cfg, struct kvm *kvm,
		       struct err *e);

/* A restore's part in building a VM (snapshot/snapshot.c). */
struct vm_restore {
	/* Make vm->mem (guest RAM holding the snapshot's memory). 0 or -errno. */
	int (*make_memory)(struct vm *vm, void *arg, struct err *e);
	/* Load every saved state; devices and vCPUs exist, no thread runs. 0 or -errno. */
	int (*apply)(struct vm *vm, void *arg, struct err *e);
	void *arg;
	struct kvm *kvm;                /* a KVM VM made earlier (kvm_prepare), or NULL */
};

/*
 * Build the VM from (cfg) as vm_create does, except that no tables, kernel
 * or boot registers are loaded: (rs) supplies guest RAM and the state.
 */
int vm_create_restored(struct vm *vm, const struct vm_config *cfg, const struct vm_restore *rs,
		       struct err *e);

/* Make vm_run start with every vCPU parked (a restore with resume_vm false). */
void vm_start_paused(struct vm *vm);

/* Start the vCPU and I/O threads, wait for the guest to end, stop everything; returns the exit status. */
int vm_run(struct vm *vm);

/* Free everything vm_create made (safe on a half-built VM). */
void vm_destroy(struct vm *vm);

/*
 * End the VM with (status) (the first request wins); callable from any
 * thread. (why) is logged at info level.
 */
void vm_request_exit(struct vm *vm, int status, const char *why);

/* True once an exit has been requested. */
bool vm_exiting(const struct vm *vm);

/* Append " (arg)" to the kernel command line lodge passes; 0 or -ENOSPC. */
int vm_cmdline_append(struct vm *vm, const char *arg);

/*
 * Stop every vCPU between two KVM_RUN calls and return once all are parked
 * (or the VM is ending). Devices keep serving in-flight I/O. Any thread but
 * a vCPU's. 0, or -ESHUTDOWN when the VM is not running.
 */
int vm_pause(struct vm *vm);

/* Let parked vCPUs run again. */
void vm_resume(struct vm *vm);

/* True while paused (vm_pause returned and no vm_resume yet). */
bool vm_paused(const struct vm *vm);

/* Called by a vCPU thread between runs: parks while a pause is requested. */
void vm_vcpu_checkpoint(struct vm *vm);

/* Set interrupt line (gsi) to (level) in the in-kernel irqchip. */
int vm_irq_line(struct vm *vm, unsigned gsi, int level);

#endif
