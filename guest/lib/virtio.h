/*
 * virtio over MMIO, modern interface only (virtio 1.2 §4.2, Version 2),
 * with split virtqueues (§2.7). Devices are found on the command line as
 * "virtio_mmio.device=<size>@<base>:<irq>" words, as Linux takes them.
 *
 * Usage: virtio_probe(), virtio_find(id, n), virtio_negotiate(dev, want),
 * virtq_setup() per queue, virtio_irq_enable() (or leave the queues
 * polled), virtio_driver_ok(); then virtq_add / virtq_kick /
 * virtq_wait / virtq_get_used.
 *
 * Everything is identity-mapped, so guest-virtual = guest-physical. The
 * "raw" functions (register access, virtq_setup_at, virtq_raw_*) leave
 * every check to the caller, for tests that want to misbehave.
 *
 * Timeouts use the library clock: the LAPIC timer, periodic at 10 ms on
 * VIRTIO_TICK_VECTOR, started by the first wait; a guest using this
 * library must not use the LAPIC timer itself.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MMIO register offsets (§4.2.2, table 4.1). */
#define VIRTIO_MMIO_MAGIC_VALUE        0x000  /* "virt", 0x74726976 */
#define VIRTIO_MMIO_VERSION            0x004
#define VIRTIO_MMIO_DEVICE_ID          0x008
#define VIRTIO_MMIO_VENDOR_ID          0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES    0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES    0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL          0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX      0x034
#define VIRTIO_MMIO_QUEUE_NUM          0x038
#define VIRTIO_MMIO_QUEUE_READY        0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY       0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS   0x060
#define VIRTIO_MMIO_INTERRUPT_ACK      0x064
#define VIRTIO_MMIO_STATUS             0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW     0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH    0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW   0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH  0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW   0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH  0x0a4
#define VIRTIO_MMIO_QUEUE_RESET        0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION  0x0fc
#define VIRTIO_MMIO_CONFIG             0x100

#define VIRTIO_MMIO_MAGIC              0x74726976

/* InterruptStatus bits (§4.2.2). */
#define VIRTIO_MMIO_INT_VRING          (1u << 0)  /* used buffer notification */
#define VIRTIO_MMIO_INT_CONFIG         (1u << 1)  /* configuration change */

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE      1
#define VIRTIO_STATUS_DRIVER           2
#define VIRTIO_STATUS_DRIVER_OK        4
#define VIRTIO_STATUS_FEATURES_OK      8
#define VIRTIO_STATUS_NEEDS_RESET      64
#define VIRTIO_STATUS_FAILED           128

/* Reserved (transport) feature bits (§6). */
#define VIRTIO_F_INDIRECT_DESC         28
#define VIRTIO_F_EVENT_IDX             29
#define VIRTIO_F_VERSION_1             32
#define VIRTIO_F_ACCESS_PLATFORM       33
#define VIRTIO_F_RING_PACKED           34
#define VIRTIO_F_IN_ORDER              35
#define VIRTIO_F_NOTIFICATION_DATA     38
#define VIRTIO_BIT(b)                  (1ULL << (b))

/* Device IDs (§5). */
#define VIRTIO_ID_NET                  1
#define VIRTIO_ID_BLOCK                2
#define VIRTIO_ID_CONSOLE              3
#define VIRTIO_ID_RNG                  4
#define VIRTIO_ID_BALLOON              5
#define VIRTIO_ID_VSOCK                19

/* Split virtqueue layout (§2.7). */
#define VIRTQ_DESC_F_NEXT              1
#define VIRTQ_DESC_F_WRITE             2
#define VIRTQ_DESC_F_INDIRECT          4
#define VIRTQ_AVAIL_F_NO_INTERRUPT     1
#define VIRTQ_USED_F_NO_NOTIFY         1
#define VIRTQ_MAX_SIZE                 32768

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];        /* num entries, then used_event (EVENT_IDX) */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];  /* num entries, then avail_event (EVENT_IDX) */
};

/* Bytes of each ring part for (num) entries, EVENT_IDX fields included. */
#define VIRTQ_DESC_BYTES(num)  ((size_t)(num) * 16)
#define VIRTQ_AVAIL_BYTES(num) (6 + (size_t)(num) * 2)
#define VIRTQ_USED_BYTES(num)  (6 + (size_t)(num) * 8)

/* Descriptors per indirect table that virtq_add builds (one table per head). */
#define VIRTQ_INDIRECT_MAX 128

#define VIRTIO_MAX_DEVICES 32
#define VIRTIO_MAX_QUEUES  8
#define VIRTIO_TICK_VECTOR 0x2f
#define VIRTIO_TICK_MS     10

struct virtio_dev;

/* One buffer segment: guest-physical (addr, len); (write) = device-writable. */
struct virtq_seg {
	uint64_t addr;
	uint32_t len;
	bool write;
};

struct virtq {
	struct virtio_dev *dev;
	unsigned index;                 /* queue number on the device */
	uint16_t num;                   /* queue size (QueueNum) */
	volatile struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	volatile uint16_t *used_event;  /* &avail->ring[num] */
	volatile uint16_t *avail_event; /* just after used->ring[num] */
	bool event_idx;                 /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;                  /* VIRTIO_F_INDIRECT_DESC negotiated */
	bool polled;                    /* device interrupts suppressed for this queue */

	/* Driver state: free list, shadow indices. */
	uint16_t free_head, nr_free;
	uint16_t avail_idx;             /* next avail->idx value to publish */
	uint16_t kicked_idx;            /* avail_idx when notification was last decided */
	uint16_t last_used;             /* used entries consumed so far */
	uint16_t *next;                 /* free-list links, [num] */
	uint16_t *chain;                /* descriptors held by head, [num] */
	void **cookie;                  /* caller's cookie per head, [num] */
	struct virtq_desc *ind;         /* [num][VIRTQ_INDIRECT_MAX] indirect tables, or NULL */

	/* Counters. */
	unsigned added;                 /* buffers made available */
	unsigned kicks;                 /* QueueNotify writes by virtq_kick */
	unsigned kicks_suppressed;      /* virtq_kick calls that found no notification needed */
	unsigned used_count;            /* buffers taken back by virtq_get_used */
};

struct virtio_dev {
	unsigned index;                 /* position among the command-line entries */
	uint64_t base, size;
	unsigned irq;                   /* GSI */
	uint32_t version, device_id, vendor_id;
	uint64_t offered;               /* device feature bits (after virtio_negotiate) */
	uint64_t features;              /* negotiated bits */
	uint8_t vector;                 /* IDT vector, 0 while not routed */
	volatile unsigned irqs;         /* interrupts with InterruptStatus != 0 */
	volatile unsigned irqs_empty;   /* interrupts that found InterruptStatus 0 */
	volatile unsigned used_irqs;    /* of them, with the used-buffer bit */
	volatile unsigned config_irqs;  /* of them, with the config-change bit */
	void (*on_irq)(struct virtio_dev *d, uint32_t isr);  /* optional, in the handler */
	struct virtq *vq[VIRTIO_MAX_QUEUES];
};

/* --- Discovery ------------------------------------------------------------- */

/*
 * Parse every "virtio_mmio.device=<size>@<base>:<irq>[:<id>]" word of the
 * command line (size and base as parse_u64: decimal, 0x hex, K/M/G), read
 * MagicValue, Version, DeviceID and VendorID, and print one line per
 * entry ("virtio: device N at 0x... ..."). Placeholders (DeviceID 0) and
 * entries with a bad magic are printed but not kept. Runs once; returns
 * the number of devices kept.
 */
unsigned virtio_probe(void);

/* Device (i) of those kept, in command-line order, or NULL. */
struct virtio_dev *virtio_get(unsigned i);

/* The (nth) device (0-based) with DeviceID (id), or NULL. */
struct virtio_dev *virtio_find(uint32_t id, unsigned nth);

/* Number of devices with DeviceID (id). */
unsigned virtio_count(uint32_t id);

/* "net", "block", "entropy", ... or "unknown". */
const char *virtio_id_name(uint32_t id);

/* --- Registers (raw) -------------------------------------------------------- */

uint32_t virtio_read32(struct virtio_dev *d, uint32_t off);
void virtio_write32(struct virtio_dev *d, uint32_t off, uint32_t v);

/* Device status register. */
uint8_t virtio_status(struct virtio_dev *d);
void virtio_set_status(struct virtio_dev *d, uint8_t s);

/* Write 0 to Status and wait until it reads back 0 (§4.2.3.1.1); false after 1 s. */
bool virtio_reset(struct virtio_dev *d);

/* The 64 device feature bits (DeviceFeaturesSel 0 and 1). */
uint64_t virtio_device_features(struct virtio_dev *d);

/* --- Initialisation (§3.1.1) ------------------------------------------------ */

/*
 * Reset, ACKNOWLEDGE, DRIVER, read the device features, write (want &
 * offered) | VERSION_1, set FEATURES_OK and check it stays set. Returns 0;
 * -1 for a legacy or bad device, -2 if VERSION_1 is not offered, -3 if
 * FEATURES_OK did not stick (FAILED is then set). Fills d->offered and
 * d->features.
 */
int virtio_negotiate(struct virtio_dev *d, uint64_t want);

/* True when feature (bit) was negotiated. */
static inline bool virtio_has(const struct virtio_dev *d, unsigned bit)
{
	return (d->features >> bit) & 1;
}

/*
 * Set up queue (index) with at most (max_num) entries (rounded down to a
 * power of two, capped by QueueNumMax): rings from page_alloc, indirect
 * tables if VIRTIO_F_INDIRECT_DESC was negotiated, registers written and
 * QueueReady set. Polled unless the device has a vector. Returns NULL
 * when the queue does not exist (QueueNumMax 0) or was already ready.
 */
struct virtq *virtq_setup(struct virtio_dev *d, unsigned index, unsigned max_num);

/*
 * Raw variant: queue (index) of size (num), exactly as given (no checks,
 * QueueReady set without reading it back), with the rings at (desc, avail,
 * used); the driver state is set up as for virtq_setup (which writes
 * avail->flags and used_event there), so the normal functions work if the
 * memory is sane.
 */
struct virtq *virtq_setup_at(struct virtio_dev *d, unsigned index, unsigned num,
			     uint64_t desc, uint64_t avail, uint64_t used);

/* Set DRIVER_OK. */
void virtio_driver_ok(struct virtio_dev *d);

/*
 * Route the device's GSI through the IOAPIC that the MADT says serves it
 * (edge-triggered, active-high, to this CPU) to (vector), install the
 * interrupt handler (reads InterruptStatus, writes InterruptACK, counts)
 * and enable interrupts of all the device's queues set up so far or later.
 * Give each device its own vector.
 */
void virtio_irq_enable(struct virtio_dev *d, uint8_t vector);

/* Mask the device's IOAPIC pin. */
void virtio_irq_disable(struct virtio_dev *d);

/* --- Configuration space (§4.2.2, §2.5.1) ----------------------------------- */

uint32_t virtio_config_generation(struct virtio_dev *d);
uint8_t virtio_cfg_read8(struct virtio_dev *d, uint32_t off);
uint16_t virtio_cfg_read16(struct virtio_dev *d, uint32_t off);
uint32_t virtio_cfg_read32(struct virtio_dev *d, uint32_t off);

/* Two 32-bit reads, repeated until ConfigGeneration is the same before and after. */
uint64_t virtio_cfg_read64(struct virtio_dev *d, uint32_t off);

/* (len) bytes with 8-bit reads, under the generation loop. */
void virtio_cfg_read(struct virtio_dev *d, uint32_t off, void *buf, size_t len);

void virtio_cfg_write8(struct virtio_dev *d, uint32_t off, uint8_t v);
void virtio_cfg_write16(struct virtio_dev *d, uint32_t off, uint16_t v);
void virtio_cfg_write32(struct virtio_dev *d, uint32_t off, uint32_t v);

/* --- Virtqueue operation ---------------------------------------------------- */

#define VIRTQ_EFULL  -1         /* not enough free descriptors */
#define VIRTQ_EINVAL -2         /* no segments, readable after writable, indirect unusable */

/*
 * Make the buffer (segs, n) available: device-readable segments first.
 * With (indirect) (needs VIRTIO_F_INDIRECT_DESC and n <= VIRTQ_INDIRECT_MAX)
 * the chain goes into the head's indirect table and takes one ring
 * descriptor. Publishes avail->idx; does not notify. Returns the head
 * descriptor index, or VIRTQ_EFULL / VIRTQ_EINVAL. (cookie) comes back
 * from virtq_get_used.
 */
int virtq_add(struct virtq *vq, const struct virtq_seg *segs, unsigned n, bool indirect,
	      void *cookie);

/*
 * Does the device need a notification for what was added since the last
 * virtq_kick? avail_event with EVENT_IDX (§2.7.10), else
 * VIRTQ_USED_F_NO_NOTIFY. Issues a full memory barrier first.
 */
bool virtq_kick_needed(struct virtq *vq);

/* Write the queue index to QueueNotify, unconditionally. */
void virtq_notify(struct virtq *vq);

/* Notify if needed (counted in kicks / kicks_suppressed); returns whether it did. */
bool virtq_kick(struct virtq *vq);

/* True when the device has used buffers not yet taken. */
bool virtq_has_used(struct virtq *vq);

/*
 * Take the next used buffer: its head index (or -1 when there is none),
 * the length the device wrote (len) and the cookie (both optional). Frees
 * its descriptors. For a polled queue, keeps interrupts suppressed; else
 * re-arms them (used_event = last_used with EVENT_IDX).
 */
int virtq_get_used(struct virtq *vq, uint32_t *len, void **cookie);

/*
 * Wait until the queue has a used buffer: sleeping in hlt between
 * interrupts when the device has a vector and the queue is not polled,
 * spinning otherwise. Interrupts are enabled while waiting and restored
 * after. False after (timeout_ms).
 */
bool virtq_wait(struct virtq *vq, unsigned timeout_ms);

/* Wait (sleeping) until d->irqs >= (count); false after (timeout_ms). */
bool virtio_wait_irqs(struct virtio_dev *d, unsigned count, unsigned timeout_ms);

/* Suppress (true) or allow (false) used-buffer interrupts of this queue. */
void virtq_set_polled(struct virtq *vq, bool polled);

/* --- Raw virtqueue access ---------------------------------------------------- */

/* Write descriptor (i) of the ring's table as given. */
void virtq_raw_desc(struct virtq *vq, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next);

/* Put (head) in the next avail slot and publish avail->idx (no notify, no checks). */
void virtq_raw_publish(struct virtq *vq, uint16_t head);

/* Set avail->idx to (idx) directly (the shadow follows). */
void virtq_raw_set_avail_idx(struct virtq *vq, uint16_t idx);

/* --- Time ------------------------------------------------------------------- */

/* Milliseconds since the library clock started (in VIRTIO_TICK_MS steps; starts it). */
uint64_t virtio_ms(void);

/* Wait (ms) milliseconds with interrupts enabled (sleeping in hlt). */
void virtio_sleep_ms(unsigned ms);

/* Sleep in hlt until any interrupt, at most one clock tick; interrupts restored after. */
void virtio_idle(void);

#endif
