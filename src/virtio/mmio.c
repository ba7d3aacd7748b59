/*
 * virtio-mmio transport, Version 2 registers (virtio 1.2 §4.2.2), with
 * ioeventfd kicks and irqfd interrupts. See mmio.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "snapshot/format.h"
#include "util/log.h"
#include "virtio/mmio.h"
#include "vmm/vm.h"

/* Register offsets, §4.2.2. */
enum {
	REG_MAGIC = 0x000, REG_VERSION = 0x004, REG_DEVICE_ID = 0x008, REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010, REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020, REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030, REG_QUEUE_NUM_MAX = 0x034, REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044, REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060, REG_INTERRUPT_ACK = 0x064, REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080, REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090, REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0, REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_SHM_SEL = 0x0ac, REG_SHM_LEN_LOW = 0x0b0, REG_SHM_LEN_HIGH = 0x0b4,
	REG_SHM_BASE_LOW = 0x0b8, REG_SHM_BASE_HIGH = 0x0bc,
	REG_CONFIG_GENERATION = 0x0fc, REG_CONFIG = 0x100,
};

#define VIRTIO_MMIO_MAGIC  0x74726976u     /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x45444f4cu     /* "LODE" */

/* What every lodge device offers on top of its own features. */
#define TRANSPORT_FEATURES (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | \
			    VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))

bool virtio_live(const struct virtio_dev *d)
{
	return (d->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(d->status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

static void virtio_raise(struct virtio_dev *d, uint32_t bits)
{
	static const uint64_t one = 1;

	atomic_fetch_or(&d->isr, bits);
	if (write(d->irq_fd, &one, sizeof(one)) == sizeof(one))
		atomic_fetch_add_explicit(&d->stats.interrupts, 1, memory_order_relaxed);
}

void virtio_used(struct virtio_dev *d, unsigned q)
{
	if (vq_should_interrupt(&d->vq[q]))
		virtio_raise(d, VIRTIO_INT_USED);
}

void virtio_drain(struct virtio_dev *d, unsigned q, struct vq_req *req,
		  bool (*handle)(struct virtio_dev *d, unsigned q, struct vq_req *req))
{
	struct virtq *vq = &d->vq[q];
	uint16_t used_before = vq->used_idx;
	bool more = true;
	int r = 0;

	do {
		vq_set_notify(vq, false);
		while (more && (r = vq_pop(vq, req)) > 0)
			more = handle(d, q, req);
		if (r < 0) {
			virtio_fail(d, "malformed virtqueue");
			break;
		}
	} while (more && vq_set_notify(vq, true));
	if (!more)
		vq_set_notify(vq, true);
	if (vq->used_idx != used_before)
		virtio_used(d, q);
}

void virtio_config_changed(struct virtio_dev *d)
{
	d->config_generation++;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_raise(d, VIRTIO_INT_CONFIG);
}

void virtio_fail(struct virtio_dev *d, const char *why)
{
	if (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	log_warn("virtio", "%s: %s; the device needs a reset", d->name, why);
	d->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_raise(d, VIRTIO_INT_CONFIG);
}

void virtio_queue_totals(const struct virtio_dev *d, uint64_t *requests, uint64_t *suppressed)
{
	*requests = *suppressed = 0;
	for (unsigned i = 0; i < d->ops->nqueues; i++) {
		*requests += d->vq[i].requests;
		*suppressed += d->vq[i].suppressed;
	}
}

static void virtio_reset(struct virtio_dev *d)
{
	if (d->ops->reset)
		d->ops->reset(d);
	for (unsigned i = 0; i < d->ops->nqueues; i++)
		vq_reset(&d->vq[i]);
	d->status = 0;
	d->device_features_sel = d->driver_features_sel = 0;
	d->driver_features = 0;
	d->queue_sel = 0;
	atomic_store(&d->isr, 0);
}

static struct virtq *selected_queue(struct virtio_dev *d)
{
	return d->queue_sel < d->ops->nqueues ? &d->vq[d->queue_sel] : NULL;
}

static uint64_t offered(const struct virtio_dev *d)
{
	return d->features | TRANSPORT_FEATURES;
}

static uint32_t reg_read(struct virtio_dev *d, uint64_t off)
{
	struct virtq *q = selected_queue(d);

	switch (off) {
	case REG_MAGIC: return VIRTIO_MMIO_MAGIC;
	case REG_VERSION: return 2;
	case REG_DEVICE_ID: return d->ops->device_id;
	case REG_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case REG_DEVICE_FEATURES:
		return d->device_features_sel < 2 ?
			(uint32_t)(offered(d) >> (32 * d->device_features_sel)) : 0;
	case REG_QUEUE_NUM_MAX: return q ? d->ops->queue_max : 0;
	case REG_QUEUE_READY: return q ? q->ready : 0;
	case REG_INTERRUPT_STATUS: return atomic_load(&d->isr);
	case REG_STATUS: return d->status;
	case REG_SHM_LEN_LOW: case REG_SHM_LEN_HIGH:
	case REG_SHM_BASE_LOW: case REG_SHM_BASE_HIGH:
		return 0xffffffffu;     /* no shared memory regions (§4.2.2) */
	case REG_CONFIG_GENERATION: return d->config_generation;
	default: return 0;
	}
}

/*
 * QueueReady 1: map the rings (a bad size or placement fails the device);
 * QueueReady 0: the driver takes the queue back (§4.2.2.2), so its
 * in-flight work ends before the register reads 0.
 */
static void queue_ready(struct virtio_dev *d, struct virtq *q, uint32_t v)
{
	if (!v) {
		if (q->ready && d->ops->stop_queue)
			d->ops->stop_queue(d, (unsigned)(q - d->vq));
		q->ready = false;
		q->desc = NULL;
		return;
	}
	if (q->ready)
		return;
	if (q->size > d->ops->queue_max ||
	    vq_activate(q, &d->vm->mem, virtio_has(d, VIRTIO_F_EVENT_IDX),
			virtio_has(d, VIRTIO_F_INDIRECT_DESC)) < 0) {
		virtio_fail(d, "queue size or ring placement invalid");
		return;
	}
	q->ready = true;
}

/* Signal every ready queue's kick eventfd: the I/O thread serves them as if kicked. */
static void kick_ready_queues(struct virtio_dev *d)
{
	static const uint64_t one = 1;

	for (unsigned i = 0; i < d->ops->nqueues; i++)
		if (d->vq[i].ready && write(d->kick_fd[i], &one, sizeof(one)) < 0)
			log_warn("virtio", "%s: kick eventfd: %s", d->name, strerror(errno));
}

static void set_status(struct virtio_dev *d, uint32_t v)
{
	uint32_t added = v & ~d->status;

	if (v == 0) {
		virtio_reset(d);
		return;
	}
	if (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		v |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if (added & VIRTIO_STATUS_FEATURES_OK) {
		/* §2.2: only offered features, and this transport needs VERSION_1. */
		if ((d->driver_features & ~offered(d)) ||
		    !virtio_has(d, VIRTIO_F_VERSION_1))
			v &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((added & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK)) {
		d->status = v & ~VIRTIO_STATUS_DRIVER_OK;
		virtio_fail(d, "DRIVER_OK without FEATURES_OK");
		return;
	}
	d->status = v;
	if ((added & VIRTIO_STATUS_DRIVER_OK) && virtio_live(d)) {
		int r = d->ops->activate ? d->ops->activate(d) : 0;

		if (r < 0) {
			virtio_fail(d, "could not start");
			return;
		}
		/* Buffers made available before DRIVER_OK are served now. */
		kick_ready_queues(d);
	}
}

static void set_hi_lo(uint64_t *dst, uint32_t v, bool high)
{
	*dst = high ? (*dst & 0xffffffffull) | ((uint64_t)v << 32) : (*dst & ~0xffffffffull) | v;
}

static void reg_write(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	struct virtq *q = selected_queue(d);
	/* §4.2.2.2: queue layout is fixed while the queue is ready. */
	bool q_writable = q && !q->ready;

	switch (off) {
	case REG_DEVICE_FEATURES_SEL: d->device_features_sel = v; break;
	case REG_DRIVER_FEATURES:
		/* Features are fixed once FEATURES_OK is set (§3.1.1). */
		if (d->driver_features_sel < 2 && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned sh = 32 * d->driver_features_sel;

			d->driver_features = (d->driver_features & ~(0xffffffffull << sh)) |
					     ((uint64_t)v << sh);
		}
		break;
	case REG_DRIVER_FEATURES_SEL: d->driver_features_sel = v; break;
	case REG_QUEUE_SEL: d->queue_sel = v; break;
	case REG_QUEUE_NUM: if (q_writable) q->size = (uint16_t)(v > 0xffff ? 0 : v); break;
	case REG_QUEUE_READY: if (q) queue_ready(d, q, v & 1); break;
	case REG_QUEUE_NOTIFY:
		/*
		 * The ioeventfd catches 32-bit writes of a valid queue index, so
		 * this runs only for an index the device does not have (ignored)
		 * or where KVM did not take the ioeventfd.
		 */
		if (v < d->ops->nqueues) {
			static const uint64_t one = 1;

			if (write(d->kick_fd[v], &one, sizeof(one)) < 0)
				log_warn("virtio", "%s: kick eventfd: %s", d->name, strerror(errno));
		}
		break;
	case REG_INTERRUPT_ACK: atomic_fetch_and(&d->isr, ~v); break;
	case REG_STATUS: set_status(d, v); break;
	case REG_QUEUE_DESC_LOW: case REG_QUEUE_DESC_HIGH:
		if (q_writable) set_hi_lo(&q->desc_gpa, v, off == REG_QUEUE_DESC_HIGH);
		break;
	case REG_QUEUE_DRIVER_LOW: case REG_QUEUE_DRIVER_HIGH:
		if (q_writable) set_hi_lo(&q->avail_gpa, v, off == REG_QUEUE_DRIVER_HIGH);
		break;
	case REG_QUEUE_DEVICE_LOW: case REG_QUEUE_DEVICE_HIGH:
		if (q_writable) set_hi_lo(&q->used_gpa, v, off == REG_QUEUE_DEVICE_HIGH);
		break;
	default: break;         /* read-only or unknown: ignored */
	}
}

static enum io_result virtio_mmio_access(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
					 bool is_write)
{
	struct virtio_dev *d = opaque;

	atomic_fetch_add_explicit(&d->stats.exits, 1, memory_order_relaxed);
	if (off >= REG_CONFIG) {
		uint64_t c = off - REG_CONFIG;

		if (c >= d->config_size || len > d->config_size - c) {
			if (!is_write)
				memset(data, 0, len);
			return IO_HANDLED;
		}
		pthread_mutex_lock(&d->lock);
		if (!is_write) {
			memcpy(data, d->config + c, len);
		} else if (d->ops->config_write) {
			memcpy(d->config + c, data, len);
			d->ops->config_write(d, (uint32_t)c, len);
		}
		pthread_mutex_unlock(&d->lock);
		return IO_HANDLED;
	}
	/* §4.2.2.2: registers are 32-bit and aligned; anything else is ignored. */
	if (len != 4 || (off & 3)) {
		if (!is_write)
			memset(data, 0, len);
		return IO_HANDLED;
	}
	if (!is_write && off == REG_INTERRUPT_STATUS) {
		uint32_t v = atomic_load(&d->isr);

		memcpy(data, &v, 4);
		return IO_HANDLED;
	}
	if (is_write && off == REG_INTERRUPT_ACK) {
		uint32_t v;

		memcpy(&v, data, 4);
		atomic_fetch_and(&d->isr, ~v);
		return IO_HANDLED;
	}
	pthread_mutex_lock(&d->lock);
	if (is_write) {
		uint32_t v;

		memcpy(&v, data, 4);
		reg_write(d, off, v);
	} else {
		uint32_t v = reg_read(d, off);

		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
	return IO_HANDLED;
}

/* One kick eventfd fired (I/O thread). */
static void virtio_kick(struct virtio_dev *d, unsigned q)
{
	uint64_t n;

	if (read(d->kick_fd[q], &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&d->lock);
	if (virtio_live(d) && d->vq[q].ready && !d->vq[q].broken) {
		atomic_fetch_add_explicit(&d->stats.kicks, 1, memory_order_relaxed);
		d->ops->notify(d, q);
	} else {
		atomic_fetch_add_explicit(&d->stats.early_kicks, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&d->lock);
}

#define KICK_FN(n)                                                                  \
	static void virtio_kick_##n(void *opaque, uint32_t events)                  \
	{                                                                           \
		(void)events;                                                       \
		virtio_kick(opaque, n);                                             \
	}
KICK_FN(0) KICK_FN(1) KICK_FN(2) KICK_FN(3) KICK_FN(4) KICK_FN(5) KICK_FN(6) KICK_FN(7)
static const loop_fn kick_fns[VIRTIO_MAX_QUEUES] = {
	virtio_kick_0, virtio_kick_1, virtio_kick_2, virtio_kick_3,
	virtio_kick_4, virtio_kick_5, virtio_kick_6, virtio_kick_7,
};

static int wire_queue(struct virtio_dev *d, unsigned q, struct err *e)
{
	struct kvm_ioeventfd io = {
		.datamatch = q,
		.addr = d->base + REG_QUEUE_NOTIFY,
		.len = 4,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	d->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->kick_fd[q] < 0)
		return errf(e, -errno, "%s: eventfd: %s", d->name, strerror(errno));
	io.fd = d->kick_fd[q];
	if (ioctl(d->vm->kvm.vm_fd, KVM_IOEVENTFD, &io) < 0)
		return errf(e, -errno, "%s: KVM_IOEVENTFD: %s", d->name, strerror(errno));
	return loop_add(&d->vm->loop, d->kick_fd[q], EPOLLIN, kick_fns[q], d) < 0 ?
		errf(e, -ENOMEM, "%s: cannot watch the kick eventfd", d->name) : 0;
}

int virtio_mmio_create(struct vm *vm, struct virtio_dev *d, struct err *e)
{
	struct kvm_irqfd irqfd = { 0 };
	unsigned slot;
	char arg[64];
	int r;

	d->vm = vm;
	d->irq_fd = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		d->kick_fd[i] = -1;
	if (d->ops->nqueues > VIRTIO_MAX_QUEUES)
		return errf(e, -EINVAL, "%s: too many queues", d->name);
	pthread_mutex_init(&d->lock, NULL);
	slot = vm->virtio_slots;
	if (slot >= VIRTIO_MMIO_MAX_SLOTS || vm->acpi.nmmio >= ACPI_MAX_MMIO_DEVS)
		return errf(e, -ENOSPC, "%s: at most %d virtio devices", d->name,
			    VIRTIO_MMIO_MAX_SLOTS);
	vm->virtio_slots++;
	vm->virtio[slot] = d;
	d->base = LAYOUT_VIRTIO_MMIO + slot * LAYOUT_VIRTIO_SLOT;
	d->gsi = GSI_VIRTIO_BASE + slot;

	r = bus_register(&vm->mmio, d->base, LAYOUT_VIRTIO_SLOT, virtio_mmio_access, d, d->name);
	if (r < 0)
		return errf(e, r, "%s: cannot claim 0x%" PRIx64, d->name, d->base);
	vm->acpi.mmio[vm->acpi.nmmio++] = (struct acpi_mmio_dev){
		.hid = "LNRO0005", .base = d->base, .size = LAYOUT_VIRTIO_SLOT, .gsi = d->gsi,
	};
	snprintf(arg, sizeof(arg), "virtio_mmio.device=4K@0x%" PRIx64 ":%u", d->base, d->gsi);
	r = vm_cmdline_append(vm, arg);
	if (r < 0)
		return errf(e, r, "%s: kernel command line too long", d->name);

	d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->irq_fd < 0)
		return errf(e, -errno, "%s: eventfd: %s", d->name, strerror(errno));
	irqfd.fd = (uint32_t)d->irq_fd;
	irqfd.gsi = d->gsi;
	if (ioctl(vm->kvm.vm_fd, KVM_IRQFD, &irqfd) < 0)
		return errf(e, -errno, "%s: KVM_IRQFD: %s", d->name, strerror(errno));
	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		r = wire_queue(d, q, e);
		if (r < 0)
			return r;
	}
	log_debug("virtio", "%s at 0x%" PRIx64 ", GSI %u", d->name, d->base, d->gsi);
	return 0;
}

void virtio_mmio_destroy(struct virtio_dev *d)
{
	uint64_t requests, suppressed, exits;

	if (!d->vm)
		return;
	virtio_queue_totals(d, &requests, &suppressed);
	exits = atomic_load(&d->stats.exits);
	log_info("virtio", "%s: %" PRIu64 " requests, %" PRIu64 " exits to lodge (%.2f per request), "
		 "%" PRIu64 " kicks, %" PRIu64 " interrupts, %" PRIu64 " suppressed",
		 d->name, requests, exits, requests ? (double)exits / (double)requests : 0.0,
		 atomic_load(&d->stats.kicks), atomic_load(&d->stats.interrupts), suppressed);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (d->kick_fd[q] < 0)
			continue;
		loop_del(&d->vm->loop, d->kick_fd[q]);
		close(d->kick_fd[q]);
	}
	if (d->irq_fd >= 0)
		close(d->irq_fd);
	pthread_mutex_destroy(&d->lock);
	d->vm = NULL;
}

/* ---- Snapshots. ---- */

/* Queue flags in a snapshot. */
#define SNAPQ_READY           1u
#define SNAPQ_BROKEN          2u
#define SNAPQ_SIGNALLED_VALID 4u

/* The transport state as saved, checked before any of it reaches (d). */
struct virtio_snap {
	uint32_t device_id, nqueues;
	uint64_t offered;
	uint32_t status, device_features_sel, driver_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel, config_generation, isr, config_size;
	const uint8_t *config;
	struct {
		uint32_t size, flags;
		uint64_t desc, avail, used;
		uint32_t last_avail, used_idx, signalled_used;
	} q[VIRTIO_MAX_QUEUES];
};

int virtio_quiesce(struct virtio_dev *d, struct err *e)
{
	int r = 0;

	pthread_mutex_lock(&d->lock);
	if (d->ops->quiesce)
		r = d->ops->quiesce(d, e);
	pthread_mutex_unlock(&d->lock);
	return r;
}

static void save_queue(struct snap_writer *w, const struct virtq *q)
{
	uint32_t flags = (q->ready ? SNAPQ_READY : 0) | (q->broken ? SNAPQ_BROKEN : 0) |
			 (q->signalled_valid ? SNAPQ_SIGNALLED_VALID : 0);

	snap_put_u32(w, q->size);
	snap_put_u32(w, flags);
	snap_put_u64(w, q->desc_gpa);
	snap_put_u64(w, q->avail_gpa);
	snap_put_u64(w, q->used_gpa);
	snap_put_u32(w, q->last_avail);
	snap_put_u32(w, q->used_idx);
	snap_put_u32(w, q->signalled_used);
}

int virtio_save(struct virtio_dev *d, struct snap_writer *w, struct err *e)
{
	int r = 0;

	pthread_mutex_lock(&d->lock);
	snap_put_u32(w, d->ops->device_id);
	snap_put_u32(w, d->ops->nqueues);
	snap_put_u64(w, offered(d));
	snap_put_u32(w, d->status);
	snap_put_u32(w, d->device_features_sel);
	snap_put_u32(w, d->driver_features_sel);
	snap_put_u64(w, d->driver_features);
	snap_put_u32(w, d->queue_sel);
	snap_put_u32(w, d->config_generation);
	snap_put_u32(w, atomic_load(&d->isr));
	snap_put_u32(w, d->config_size);
	snap_put(w, d->config, d->config_size);
	for (unsigned i = 0; i < d->ops->nqueues; i++)
		save_queue(w, &d->vq[i]);
	if (d->ops->save)
		r = d->ops->save(d, w, e);
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* Read the transport state; only its framing is checked here. */
static int read_snap(struct snap_cursor *c, struct virtio_snap *s)
{
	s->device_id = snap_get_u32(c);
	s->nqueues = snap_get_u32(c);
	s->offered = snap_get_u64(c);
	s->status = snap_get_u32(c);
	s->device_features_sel = snap_get_u32(c);
	s->driver_features_sel = snap_get_u32(c);
	s->driver_features = snap_get_u64(c);
	s->queue_sel = snap_get_u32(c);
	s->config_generation = snap_get_u32(c);
	s->isr = snap_get_u32(c);
	s->config_size = snap_get_u32(c);
	if (c->error || s->nqueues > VIRTIO_MAX_QUEUES)
		return -EINVAL;
	s->config = snap_get_ptr(c, s->config_size);
	for (unsigned i = 0; i < s->nqueues; i++) {
		s->q[i].size = snap_get_u32(c);
		s->q[i].flags = snap_get_u32(c);
		s->q[i].desc = snap_get_u64(c);
		s->q[i].avail = snap_get_u64(c);
		s->q[i].used = snap_get_u64(c);
		s->q[i].last_avail = snap_get_u32(c);
		s->q[i].used_idx = snap_get_u32(c);
		s->q[i].signalled_used = snap_get_u32(c);
	}
	return c->error ? -EINVAL : 0;
}

/* Is the saved transport state one (d) can take? 0, or -EINVAL with the reason. */
static int check_snap(const struct virtio_dev *d, const struct virtio_snap *s, struct err *e)
{
	const uint32_t feat_ok = VIRTIO_STATUS_FEATURES_OK;

	if (s->device_id != d->ops->device_id || s->nqueues != d->ops->nqueues)
		return errf(e, -EINVAL, "%s: the snapshot holds virtio device type %u with %u queues "
			    "here", d->name, s->device_id, s->nqueues);
	if (s->driver_features & ~offered(d))
		return errf(e, -EINVAL, "%s: the snapshot's driver uses features 0x%" PRIx64
			    " this device does not offer (it offers 0x%" PRIx64 ")", d->name,
			    s->driver_features & ~offered(d), offered(d));
	if (s->config_size != d->config_size)
		return errf(e, -EINVAL, "%s: config space of %u bytes, this device has %u",
			    d->name, s->config_size, d->config_size);
	if (s->isr & ~(VIRTIO_INT_USED | VIRTIO_INT_CONFIG))
		return errf(e, -EINVAL, "%s: interrupt status 0x%x", d->name, s->isr);
	/* What set_status() lets through (§2.2, §3.1.1). */
	if (((s->status & VIRTIO_STATUS_DRIVER_OK) && !(s->status & feat_ok)) ||
	    ((s->status & feat_ok) && !((s->driver_features >> VIRTIO_F_VERSION_1) & 1)))
		return errf(e, -EINVAL, "%s: status 0x%x with features 0x%" PRIx64 " is not a "
			    "state a driver can reach", d->name, s->status, s->driver_features);
	for (unsigned i = 0; i < s->nqueues; i++) {
		bool ready = s->q[i].flags & SNAPQ_READY;

		if (s->q[i].size > 0xffff || (ready && s->q[i].size > d->ops->queue_max) ||
		    s->q[i].flags & ~(SNAPQ_READY | SNAPQ_BROKEN | SNAPQ_SIGNALLED_VALID) ||
		    s->q[i].last_avail > 0xffff || s->q[i].used_idx > 0xffff ||
		    s->q[i].signalled_used > 0xffff ||
		    (ready && (uint16_t)(s->q[i].last_avail - s->q[i].used_idx) > s->q[i].size))
			return errf(e, -EINVAL, "%s: queue %u: state out of range", d->name, i);
	}
	return 0;
}

/* Map a ready queue over the rings the guest already has, keeping their indices. */
static int restore_queue(struct virtio_dev *d, unsigned i, const struct virtio_snap *s,
			 struct err *e)
{
	struct virtq *q = &d->vq[i];

	vq_reset(q);
	q->size = (uint16_t)s->q[i].size;
	q->desc_gpa = s->q[i].desc;
	q->avail_gpa = s->q[i].avail;
	q->used_gpa = s->q[i].used;
	if (!(s->q[i].flags & SNAPQ_READY))
		return 0;
	if (vq_activate(q, &d->vm->mem, virtio_has(d, VIRTIO_F_EVENT_IDX),
			virtio_has(d, VIRTIO_F_INDIRECT_DESC)) < 0)
		return errf(e, -EINVAL, "%s: queue %u: size %u or ring placement invalid", d->name,
			    i, q->size);
	q->last_avail = (uint16_t)s->q[i].last_avail;
	q->used_idx = (uint16_t)s->q[i].used_idx;
	q->signalled_used = (uint16_t)s->q[i].signalled_used;
	q->signalled_valid = s->q[i].flags & SNAPQ_SIGNALLED_VALID;
	q->broken = s->q[i].flags & SNAPQ_BROKEN;
	q->ready = true;
	return 0;
}

/* Apply a checked state to (d) (lock held). */
static int apply_snap(struct virtio_dev *d, const struct virtio_snap *s, struct err *e)
{
	int r;

	d->status = s->status;
	d->device_features_sel = s->device_features_sel;
	d->driver_features_sel = s->driver_features_sel;
	d->driver_features = s->driver_features;
	d->queue_sel = s->queue_sel;
	d->config_generation = s->config_generation;
	atomic_store(&d->isr, s->isr);
	/* A device that never takes config writes rebuilds its space from the configuration. */
	if (d->ops->config_write && d->config_size)
		memcpy(d->config, s->config, d->config_size);
	for (unsigned i = 0; i < s->nqueues; i++) {
		r = restore_queue(d, i, s, e);
		if (r < 0)
			return r;
	}
	if (virtio_live(d) && d->ops->activate && d->ops->activate(d) < 0)
		virtio_fail(d, "could not start");
	return 0;
}

int virtio_restore(struct virtio_dev *d, struct snap_cursor *c, struct err *e)
{
	struct virtio_snap s;
	int r;

	if (read_snap(c, &s) < 0)
		return errf(e, -EINVAL, "%s: transport state truncated or malformed", d->name);
	r = check_snap(d, &s, e);
	if (r < 0)
		return r;
	pthread_mutex_lock(&d->lock);
	r = apply_snap(d, &s, e);
	if (r == 0 && d->ops->restore)
		r = d->ops->restore(d, c, e);
	if (r == 0 && virtio_live(d))
		kick_ready_queues(d);
	pthread_mutex_unlock(&d->lock);
	return r;
}
