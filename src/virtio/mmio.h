/*
 * The virtio-mmio transport, modern interface only (virtio 1.2 §4.2.2,
 * Version 2), and the plumbing that keeps I/O off the vCPU threads:
 *
 *   guest kick   -> QueueNotify write -> KVM_IOEVENTFD (no exit) -> kick eventfd
 *                -> I/O thread -> ops->notify()
 *   completion   -> virtio_interrupt() -> KVM_IRQFD eventfd -> IOAPIC pin (no exit)
 *
 * Register accesses other than QueueNotify do exit (to the vCPU thread that
 * made them) and are counted. A device is one struct virtio_dev with an ops
 * table; the transport owns feature negotiation, queue configuration, the
 * status machine, interrupts and the per-device counters.
 *
 * Locking: (lock) serialises the vCPU threads' register accesses with the
 * I/O thread's queue work. ops callbacks run with it held.
 */
#ifndef LODGE_VIRTIO_MMIO_H
#define LODGE_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"
#include "virtio/queue.h"
#include "virtio/virtio.h"

struct vm;
struct virtio_dev;
struct snap_writer;
struct snap_cursor;

#define VIRTIO_MAX_QUEUES 8

/* InterruptStatus bits, §4.2.2. */
#define VIRTIO_INT_USED   1u
#define VIRTIO_INT_CONFIG 2u

struct virtio_ops {
	const char *kind;               /* "virtio-blk" ... */
	uint32_t device_id;
	unsigned nqueues;
	uint16_t queue_max;             /* QueueNumMax for every queue */
	/*
	 * DRIVER_OK was set and every queue the driver made ready is mapped.
	 * 0, or -errno to fail the device (status gets DEVICE_NEEDS_RESET).
	 */
	int (*activate)(struct virtio_dev *d);
	/* Queue (q) was kicked (I/O thread). */
	void (*notify)(struct virtio_dev *d, unsigned q);
	/*
	 * The driver wrote (len) bytes at (off) of the config space (already
	 * stored in d->config); optional: absent means the space is read-only
	 * and writes are dropped.
	 */
	void (*config_write)(struct virtio_dev *d, uint32_t off, uint32_t len);
	/* Device reset: finish or abandon in-flight work; the queues are cleared after. */
	void (*reset)(struct virtio_dev *d);
	/*
	 * The driver wrote QueueReady 0 on queue (q): finish or abandon its
	 * in-flight work (no used entries for it); optional when a device
	 * completes everything inside notify().
	 */
	void (*stop_queue)(struct virtio_dev *d, unsigned q);
	/*
	 * Snapshots, all optional. quiesce: finish in-flight work (used
	 * entries pushed, nothing the state cannot hold left between the rings
	 * and the host). save / restore: the device's own state after the
	 * transport's; restore runs after the queues are mapped and activate()
	 * ran (when the saved status was live), and checks every value it reads.
	 * 0 or -errno with (e) filled.
	 */
	int (*quiesce)(struct virtio_dev *d, struct err *e);
	int (*save)(struct virtio_dev *d, struct snap_writer *w, struct err *e);
	int (*restore)(struct virtio_dev *d, struct snap_cursor *c, struct err *e);
};

/* Counters, readable at any time (relaxed). */
struct virtio_counters {
	_Atomic uint64_t exits;         /* register accesses that exited to lodge */
	_Atomic uint64_t kicks;         /* queue notifications served (most arrive without an exit) */
	_Atomic uint64_t interrupts;    /* interrupts injected */
	_Atomic uint64_t early_kicks;   /* notifications before DRIVER_OK or on a dead queue */
};

struct virtio_dev {
	/* Filled by the device before virtio_mmio_create(). */
	const struct virtio_ops *ops;
	char name[32];                  /* e.g. "virtio-blk drive0" */
	void *priv;
	uint64_t features;              /* device features (transport bits added) */
	uint8_t *config;                /* config space, (config_size) bytes */
	uint32_t config_size;

	/* Transport state. */
	struct vm *vm;
	pthread_mutex_t lock;
	uint64_t base;                  /* guest-physical base of the register window */
	unsigned gsi;
	uint32_t status;
	uint32_t device_features_sel, driver_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	uint32_t config_generation;
	_Atomic uint32_t isr;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	int kick_fd[VIRTIO_MAX_QUEUES];
	int irq_fd;
	struct virtio_counters stats;
};

/*
 * Place (d) in the next virtio-mmio slot of (vm): claim the register window,
 * describe it in the DSDT and on the kernel command line, wire ioeventfds
 * and the irqfd, and watch the kicks from the I/O loop. 0 or -errno.
 */
int virtio_mmio_create(struct vm *vm, struct virtio_dev *d, struct err *e);

/* Undo virtio_mmio_create (after the vCPUs and the I/O thread stopped); logs the counters. */
void virtio_mmio_destroy(struct virtio_dev *d);

/* Has the driver negotiated feature (bit)? */
static inline bool virtio_has(const struct virtio_dev *d, unsigned bit)
{
	return (d->driver_features >> bit) & 1;
}

/* Is the device live (DRIVER_OK, not failed)? */
bool virtio_live(const struct virtio_dev *d);

/* After pushing used buffers on queue (q): interrupt the guest unless it asked not to. */
void virtio_used(struct virtio_dev *d, unsigned q);

/*
 * Serve queue (q) until it is empty: (handle) gets each request and returns
 * true to go on, false to stop (it put the request back with vq_unpop, e.g.
 * rate limited). Kicks are turned off while draining. Then interrupts the
 * guest if it wants one. A guest that broke the ring fails the device.
 */
void virtio_drain(struct virtio_dev *d, unsigned q, struct vq_req *req,
		  bool (*handle)(struct virtio_dev *d, unsigned q, struct vq_req *req));

/* The device changed its config space: bump the generation and interrupt. */
void virtio_config_changed(struct virtio_dev *d);

/* The guest broke the rules on (d): DEVICE_NEEDS_RESET, stop, tell the driver (§2.1.2). */
void virtio_fail(struct virtio_dev *d, const char *why);

/*
 * Snapshot, step 1 (vCPUs and I/O thread parked): finish every in-flight
 * request of (d) so that the rings say all there is (ops->quiesce). 0 or -errno.
 */
int virtio_quiesce(struct virtio_dev *d, struct err *e);

/*
 * Append (d)'s state to (w): the device kind, offered features, status,
 * negotiated features and selectors, ISR, config generation and space,
 * every queue (layout, ready, indices, EVENT_IDX shadow), then ops->save's.
 * After virtio_quiesce(). 0 or -errno.
 */
int virtio_save(struct virtio_dev *d, struct snap_writer *w, struct err *e);

/*
 * Load what virtio_save() wrote into (d), which virtio_mmio_create() has
 * just made from the same configuration (before the I/O thread and the
 * vCPUs start). Refuses (-EINVAL, one line in (e)) another kind of device,
 * negotiated features (d) does not offer, and any inconsistent value. Maps
 * the ready queues without touching the rings, re-activates a live device
 * as a DRIVER_OK write would (a failed one stays DEVICE_NEEDS_RESET), runs
 * ops->restore, and kicks every ready queue once (served when the I/O thread starts).
 */
int virtio_restore(struct virtio_dev *d, struct snap_cursor *c, struct err *e);

/* Totals over the queues: requests taken and interrupts suppressed. */
void virtio_queue_totals(const struct virtio_dev *d, uint64_t *requests, uint64_t *suppressed);

#endif
