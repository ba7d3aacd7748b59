/*
 * The 8254 PIT, created on first use. KVM's in-kernel PIT costs a kernel
 * thread and its start and stop (the largest single item of lodge's start-up
 * time in the lab), yet most microVM guests never touch it: Linux on a
 * hardware-reduced ACPI platform uses the LAPIC timer and kvm-clock. So lodge
 * claims ports 0x40-0x43 and 0x61 itself; the first access creates the
 * in-kernel PIT, which from then on serves every access without an exit.
 *
 * The access that triggered creation (and any other that was already on its
 * way to lodge) is applied to the new PIT through KVM_GET_PIT2/KVM_SET_PIT2,
 * with the 8254's rules as KVM's PIT implements them (Intel 82C54 data
 * sheet: control word, read-back, counter latch, LSB/MSB access). Two
 * differences, both on a counter the guest has not programmed yet:
 * KVM_SET_PIT2 reloads every channel's count (65536 after reset), so a
 * channel starts counting from its control word rather than from its first
 * count write; and bit 1 of port 0x61 (speaker data) reads 0 when the very
 * first PIT access of the VM set it, since KVM_SET_PIT2 cannot carry it.
 *
 * Snapshots: the device's state is whether the PIT was created; a restore
 * creates it, and the core then loads KVM_GET_PIT2's saved state into it.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "devices/device.h"
#include "snapshot/format.h"
#include "util/log.h"
#include "vmm/vm.h"

#define PORT_PIT          0x40          /* channels 0-2 at 0x40-0x42, control at 0x43 */
#define PORT_PIT_SPEAKER  0x61
#define PIT_FREQ_HZ       1193182ULL

/* KVM's read/write states (arch/x86/kvm/i8254.h). */
enum { RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4 };

struct pit {
	struct vm *vm;
	pthread_mutex_t lock;
	bool created;
};

/* Ticks of the 1.193182 MHz clock since (c)'s count was loaded (ktime is CLOCK_MONOTONIC). */
static uint64_t pit_elapsed(const struct kvm_pit_channel_state *c)
{
	struct timespec ts;
	int64_t now_ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (now_ns <= c->count_load_time)
		return 0;
	return (uint64_t)(now_ns - c->count_load_time) * PIT_FREQ_HZ / 1000000000ULL;
}

static uint16_t pit_count(const struct kvm_pit_channel_state *c)
{
	uint64_t d = pit_elapsed(c), count = c->count ? c->count : 0x10000;

	switch (c->mode) {
	case 0: case 1: case 4: case 5:
		return (uint16_t)((count - d) & 0xffff);
	case 3:
		return (uint16_t)(count - (2 * d) % count);
	default:
		return (uint16_t)(count - d % count);
	}
}

static int pit_out(const struct kvm_pit_channel_state *c)
{
	uint64_t d = pit_elapsed(c), count = c->count ? c->count : 0x10000;

	switch (c->mode) {
	case 1: return d < count;
	case 2: return d % count == 0 && d != 0;
	case 3: return d % count < (count + 1) / 2;
	case 4: case 5: return d == count;
	default: return d >= count;
	}
}

static void pit_latch_count(struct kvm_pit_channel_state *c)
{
	if (!c->count_latched) {
		c->latched_count = pit_count(c);
		c->count_latched = c->rw_mode;
	}
}

static void pit_write_control(struct kvm_pit_state2 *ps, uint8_t v)
{
	unsigned ch = v >> 6, access = (v >> 4) & 3;
	struct kvm_pit_channel_state *c;

	if (ch == 3) {
		/* Read-back: bits 1-3 pick channels; bit 5 clear latches counts, bit 4 clear status. */
		for (unsigned i = 0; i < 3; i++) {
			c = &ps->channels[i];
			if (!(v & (2u << i)))
				continue;
			if (!(v & 0x20))
				pit_latch_count(c);
			if (!(v & 0x10) && !c->status_latched) {
				c->status = (uint8_t)((pit_out(c) << 7) | (c->rw_mode << 4) |
						      (c->mode << 1) | c->bcd);
				c->status_latched = 1;
			}
		}
		return;
	}
	c = &ps->channels[ch];
	if (access == 0) {
		pit_latch_count(c);
		return;
	}
	c->rw_mode = c->read_state = c->write_state = (uint8_t)access;
	c->mode = (v >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;
	c->bcd = v & 1;
}

static void pit_write_data(struct kvm_pit_channel_state *c, uint8_t v)
{
	switch (c->write_state) {
	case RW_MSB:
		c->count = (uint32_t)v << 8;
		break;
	case RW_WORD0:
		c->write_latch = v;
		c->write_state = RW_WORD1;
		break;
	case RW_WORD1:
		c->count = c->write_latch | ((uint32_t)v << 8);
		c->write_state = RW_WORD0;
		break;
	default:
		c->count = v;
		break;
	}
	/* KVM_SET_PIT2 loads every count (0 meaning 65536) and restarts channel 0's timer. */
}

static uint8_t pit_read_data(struct kvm_pit_channel_state *c)
{
	uint16_t count;

	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	if (c->count_latched) {
		uint8_t r = (c->count_latched == RW_MSB) ? c->latched_count >> 8
							  : c->latched_count & 0xff;

		c->count_latched = (c->count_latched == RW_WORD0) ? RW_MSB : 0;
		return r;
	}
	count = pit_count(c);
	switch (c->read_state) {
	case RW_MSB:
		return count >> 8;
	case RW_WORD0:
		c->read_state = RW_WORD1;
		return count & 0xff;
	case RW_WORD1:
		c->read_state = RW_WORD0;
		return count >> 8;
	default:
		return count & 0xff;
	}
}

/* Apply one guest access to the in-kernel PIT's state; returns the byte read. */
static uint8_t pit_apply(struct kvm_pit_state2 *ps, uint16_t port, uint8_t v, bool is_write)
{
	struct kvm_pit_channel_state *c2 = &ps->channels[2];

	if (port == PORT_PIT_SPEAKER) {
		if (!is_write)
			return (uint8_t)(c2->gate | (pit_out(c2) << 5));
		c2->gate = v & 1; /* KVM_SET_PIT2 reloads the count, as a rising gate would */
		return 0;
	}
	if (port == PORT_PIT + 3) {
		if (is_write)
			pit_write_control(ps, v);
		return 0xff;
	}
	if (is_write) {
		pit_write_data(&ps->channels[port - PORT_PIT], v);
		return 0;
	}
	return pit_read_data(&ps->channels[port - PORT_PIT]);
}

static enum io_result pit_io(struct pit *p, uint16_t port, uint8_t *data, uint32_t len,
			     bool is_write)
{
	struct kvm_pit_state2 ps;
	int fd = p->vm->kvm.vm_fd;
	enum io_result res = IO_HANDLED;

	if (len != 1)
		return IO_FAILED;
	pthread_mutex_lock(&p->lock);
	if (!p->created) {
		int r = kvm_create_pit(&p->vm->kvm);

		if (r < 0) {
			log_err("pit", "KVM_CREATE_PIT2: %s", strerror(-r));
			pthread_mutex_unlock(&p->lock);
			vm_request_exit(p->vm, VM_STATUS_HOST, "cannot create the PIT");
			return IO_FAILED;
		}
		p->created = true;
		log_debug("pit", "created on the guest's first access (port 0x%x)", port);
	}
	if (ioctl(fd, KVM_GET_PIT2, &ps) < 0) {
		res = IO_FAILED;
	} else {
		uint8_t v = pit_apply(&ps, port, data[0], is_write);

		if (!is_write)
			data[0] = v;
		if (ioctl(fd, KVM_SET_PIT2, &ps) < 0)
			res = IO_FAILED;
	}
	pthread_mutex_unlock(&p->lock);
	return res;
}

static enum io_result pit_counter_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
				     bool is_write)
{
	return pit_io(opaque, (uint16_t)(PORT_PIT + off), data, len, is_write);
}

static enum io_result pit_speaker_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
				     bool is_write)
{
	(void)off;
	return pit_io(opaque, PORT_PIT_SPEAKER, data, len, is_write);
}

static int pit_init(struct vm *vm, void **state, struct err *e)
{
	struct pit *p = calloc(1, sizeof(*p));

	*state = p;
	if (!p)
		return errf(e, -ENOMEM, "pit: out of memory");
	p->vm = vm;
	pthread_mutex_init(&p->lock, NULL);
	if (bus_register(&vm->pio, PORT_PIT, 4, pit_counter_io, p, "pit") < 0 ||
	    bus_register(&vm->pio, PORT_PIT_SPEAKER, 1, pit_speaker_io, p, "pit-speaker") < 0)
		return errf(e, -EEXIST, "pit: ports already claimed");
	return 0;
}

static void pit_fini(struct vm *vm, void *state)
{
	struct pit *p = state;

	(void)vm;
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/*
 * Snapshot state: u32, whether the in-kernel PIT exists. A restore creates
 * it here so that the core's KVM_SET_PIT2 (its PIT section, present exactly
 * when the PIT existed) has a PIT to load.
 */
static int pit_save(struct vm *vm, void *state, struct snap_writer *w, struct err *e)
{
	struct pit *p = state;

	(void)vm;
	(void)e;
	pthread_mutex_lock(&p->lock);
	snap_put_u32(w, p->created);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static int pit_restore(struct vm *vm, void *state, struct snap_cursor *c, struct err *e)
{
	struct pit *p = state;
	uint32_t created = snap_get_u32(c);
	int r = 0;

	if (c->error || created > 1)
		return errf(e, -EINVAL, "pit: state truncated or malformed");
	pthread_mutex_lock(&p->lock);
	if (created && !p->created) {
		r = kvm_create_pit(&vm->kvm);
		if (r < 0)
			errf(e, r, "pit: KVM_CREATE_PIT2: %s", strerror(-r));
		else
			p->created = true;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

static const struct device_desc pit_device = {
	.name = "pit",
	.order = DEVICE_ORDER_PLATFORM,
	.init = pit_init,
	.fini = pit_fini,
	.save = pit_save,
	.restore = pit_restore,
};
DEVICE_DEFINE(pit_device);
