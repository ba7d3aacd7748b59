/*
 * Snapshots of a running VM and VMs restored from them (docs/SNAPSHOTS.md).
 *
 * A snapshot is two files: the state file (snapshot/format.h: the config,
 * every vCPU, the irqchips, the PIT, the KVM clock, every device) and the
 * memory file (guest RAM as one flat file, sparse where RAM was zero; a diff
 * snapshot's memory file holds only the pages written since the previous
 * snapshot, the rest are holes).
 */
#ifndef LODGE_SNAPSHOT_SNAPSHOT_H
#define LODGE_SNAPSHOT_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshot/format.h"
#include "util/err.h"
#include "vmm/config.h"

struct vm;

/* Section tags of the state file. */
#define SNAP_SEC_CONFIG  SNAP_TAG('C', 'O', 'N', 'F')   /* the vm_config as config-file JSON */
#define SNAP_SEC_MEMORY  SNAP_TAG('M', 'E', 'M', 'R')   /* memory layout, kind, hash */
#define SNAP_SEC_VCPU    SNAP_TAG('V', 'C', 'P', 'U')   /* instance: vCPU index */
#define SNAP_SEC_IRQCHIP SNAP_TAG('I', 'R', 'Q', 'C')   /* instance: KVM irqchip id */
#define SNAP_SEC_PIT     SNAP_TAG('P', 'I', 'T', '2')
#define SNAP_SEC_CLOCK   SNAP_TAG('C', 'L', 'C', 'K')
#define SNAP_SEC_DEVICE  SNAP_TAG('D', 'E', 'V', 'S')   /* instance: index in vm->devices */
#define SNAP_SEC_VIRTIO  SNAP_TAG('V', 'I', 'R', 'T')   /* instance: virtio-mmio slot */

enum snapshot_type { SNAPSHOT_FULL, SNAPSHOT_DIFF };

/*
 * Write a snapshot of (vm), which must be paused (vm_pause): in-flight
 * device requests complete first. A diff snapshot needs track_dirty_pages.
 * Both files are written beside their paths and renamed into place only
 * when whole; on any error the VM is as it was and files already at the
 * paths are untouched. 0 or -errno with one line in (e).
 */
int snapshot_create(struct vm *vm, enum snapshot_type type, const char *state_path,
		    const char *mem_path, struct err *e);

enum snapshot_backend {
	SNAPSHOT_MEM_FILE,              /* MAP_PRIVATE of the memory file: pages load on first touch */
	SNAPSHOT_MEM_UFFD,              /* userfaultfd handed to an external handler's socket */
	SNAPSHOT_MEM_UFFD_SELF,         /* userfaultfd served by lodge from the memory file */
};

#define SNAPSHOT_MAX_OVERRIDES 8

/* What to restore and how (PUT /snapshot/load, `lodge run --restore`). */
struct snapshot_load_args {
	const char *state_path;
	const char *mem_path;           /* the memory file (File, Uffd-self) */
	enum snapshot_backend backend;
	const char *uffd_socket;        /* Uffd: the page-fault handler's Unix socket */
	bool track_dirty_pages;         /* diff snapshots of the restored VM */
	struct { const char *id, *value; } net[SNAPSHOT_MAX_OVERRIDES];    /* iface -> tap */
	unsigned nnet;
	struct { const char *id, *value; } drive[SNAPSHOT_MAX_OVERRIDES];  /* drive -> path */
	unsigned ndrive;
	const char *vsock_uds;          /* new vsock uds_path, or NULL */
};

/* A state file read and checked, with the configuration to rebuild the VM from. */
struct snapshot_load {
	struct snap_reader rd;
	struct vm_config cfg;           /* the saved config with the overrides applied */
	struct snapshot_load_args args;
	int mem_fd;                     /* the memory file, open */
	uint64_t mem_size;
	int uffd;                       /* the userfaultfd (Uffd backends), -1 otherwise */
	int uffd_sock;                  /* the connection to the external handler, -1 otherwise */
	struct uffd_server *uffd_self;  /* lodge's own fault handler thread, or NULL */
	struct kvm *kvm;                /* a KVM VM made earlier (kvm_prepare) to use, or NULL */
};

/*
 * Read and check the state file and the memory file (size, kind), decode the
 * configuration and apply the overrides. Nothing is started. 0 or -errno
 * with one line in (e); snapshot_load_close frees what was made either way.
 */
int snapshot_load_open(struct snapshot_load *ld, const struct snapshot_load_args *a,
		       struct err *e);

/*
 * Build (vm) from (ld): like vm_create with (cfg) (ld->cfg, or a copy of it
 * that outlives ld->cfg), but guest RAM comes from the snapshot and every
 * vCPU, irqchip and device gets its saved state. The VM runs from where it
 * was when vm_run is called.
 */
int snapshot_load_vm(struct vm *vm, struct snapshot_load *ld, const struct vm_config *cfg,
		     struct err *e);

/* Release what snapshot_load_open made (call after vm_destroy). */
void snapshot_load_close(struct snapshot_load *ld);

/*
 * Apply a diff snapshot's memory file onto the memory file under it (its
 * base, a full snapshot's memory or an earlier merge): every page the diff
 * holds (its data extents, SEEK_DATA) replaces the base's. The base is
 * rewritten in place and fsynced. 0 or -errno with (e).
 */
int snapshot_merge(const char *base_mem, const char *diff_mem, struct err *e);

/* Print what a state file holds (`lodge snapshot info`); 0 or -errno with (e). */
int snapshot_info(const char *state_path, struct err *e);

#endif
