/*
 * virtio-mmio (virtio 1.2 §4.2, modern interface) and split virtqueues
 * (§2.7): discovery from the command line, feature negotiation, queue set-up,
 * buffers in and out, notifications and interrupts through the IOAPIC.
 */
#include "guest.h"
#include "virtio.h"

#define CMDLINE_KEY "virtio_mmio.device="
#define MADT_IOAPIC 1
#define MADT_ENTRIES_OFFSET 44          /* ACPI 6.4 §5.2.12: after the LAPIC address and flags */

static struct virtio_dev devs[VIRTIO_MAX_DEVICES];
static unsigned ndevs;
static bool probed;

/* A full barrier: orders the avail->idx store before the used->flags/avail_event load. */
static inline void mb(void)
{
	__asm__ volatile("lock; addl $0, (%%rsp)" : : : "memory", "cc");
}

/* --- Clock: LAPIC timer ticks --------------------------------------------- */

static volatile uint64_t ticks;
static bool lapic_ready, clock_on;

static void tick(struct trap_frame *f)
{
	(void)f;
	ticks++;
}

static void lapic_ready_once(void)
{
	if (!lapic_ready) {
		lapic_init();
		lapic_ready = true;
	}
}

static void clock_start(void)
{
	if (clock_on)
		return;
	lapic_ready_once();
	irq_set_handler(VIRTIO_TICK_VECTOR, tick);
	lapic_timer_periodic(VIRTIO_TICK_VECTOR,
			     (uint32_t)(VIRTIO_TICK_MS * (LAPIC_TIMER_HZ / 1000)));
	clock_on = true;
}

uint64_t virtio_ms(void)
{
	clock_start();
	return ticks * VIRTIO_TICK_MS;
}

void virtio_idle(void)
{
	uint64_t rf = read_rflags();

	clock_start();
	sti_hlt();
	if (!(rf & RFLAGS_IF))
		cli();
}

void virtio_sleep_ms(unsigned ms)
{
	uint64_t end = virtio_ms() + ms;

	while (virtio_ms() < end)
		virtio_idle();
}

/* --- Registers ------------------------------------------------------------ */

uint32_t virtio_read32(struct virtio_dev *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

void virtio_write32(struct virtio_dev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

uint8_t virtio_status(struct virtio_dev *d)
{
	return (uint8_t)virtio_read32(d, VIRTIO_MMIO_STATUS);
}

void virtio_set_status(struct virtio_dev *d, uint8_t s)
{
	virtio_write32(d, VIRTIO_MMIO_STATUS, s);
}

bool virtio_reset(struct virtio_dev *d)
{
	virtio_set_status(d, 0);
	for (unsigned i = 0; i < 100000; i++) {
		if (virtio_status(d) == 0)
			return true;
		cpu_relax();
	}
	return false;
}

uint64_t virtio_device_features(struct virtio_dev *d)
{
	uint64_t f;

	virtio_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)virtio_read32(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	virtio_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return f | virtio_read32(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

/* --- Discovery -------------------------------------------------------------- */

const char *virtio_id_name(uint32_t id)
{
	switch (id) {
	case VIRTIO_ID_NET: return "net";
	case VIRTIO_ID_BLOCK: return "block";
	case VIRTIO_ID_CONSOLE: return "console";
	case VIRTIO_ID_RNG: return "entropy";
	case VIRTIO_ID_BALLOON: return "balloon";
	case VIRTIO_ID_VSOCK: return "vsock";
	default: return "unknown";
	}
}

/* Parse "<size>@<base>:<irq>[:<id>]" (Linux's virtio_mmio.device syntax). */
static bool parse_entry(const char *s, uint64_t *size, uint64_t *base, uint64_t *irq)
{
	if (!parse_u64(s, &s, size) || *s++ != '@')
		return false;
	if (!parse_u64(s, &s, base) || *s++ != ':')
		return false;
	if (!parse_u64(s, &s, irq))
		return false;
	return *s == 0 || *s == ' ' || *s == ':';
}

static void probe_one(unsigned entry, uint64_t size, uint64_t base, uint64_t irq,
		      unsigned *placeholders)
{
	struct virtio_dev *d = &devs[ndevs];
	uint32_t magic;

	if (base >= PAGING_MAPPED_END || size < VIRTIO_MMIO_CONFIG ||
	    size > PAGING_MAPPED_END - base) {
		printf("virtio: entry %u at %#llx size %#llx: not in the mapped 4 GiB, ignored\n",
		       entry, (unsigned long long)base, (unsigned long long)size);
		return;
	}
	*d = (struct virtio_dev){ .index = ndevs, .base = base, .size = size };
	d->irq = (unsigned)irq;
	magic = virtio_read32(d, VIRTIO_MMIO_MAGIC_VALUE);
	d->version = virtio_read32(d, VIRTIO_MMIO_VERSION);
	d->device_id = virtio_read32(d, VIRTIO_MMIO_DEVICE_ID);
	d->vendor_id = virtio_read32(d, VIRTIO_MMIO_VENDOR_ID);
	if (magic != VIRTIO_MMIO_MAGIC) {
		printf("virtio: entry %u at %#llx: bad magic %#x, ignored\n", entry,
		       (unsigned long long)base, magic);
		return;
	}
	if (d->device_id == 0) {        /* §4.2.3.1.1: a placeholder, ignored */
		(*placeholders)++;
		return;
	}
	printf("virtio: device %u at %#llx size %#llx irq %u: id %u (%s) version %u vendor %#x\n",
	       ndevs, (unsigned long long)base, (unsigned long long)size, d->irq, d->device_id,
	       virtio_id_name(d->device_id), d->version, d->vendor_id);
	ndevs++;
}

unsigned virtio_probe(void)
{
	const char *p = boot_info()->cmdline;
	size_t klen = strlen(CMDLINE_KEY);
	unsigned entries = 0, placeholders = 0;

	if (probed)
		return ndevs;
	probed = true;
	while (*p) {
		uint64_t size, base, irq;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (strncmp(p, CMDLINE_KEY, klen) == 0) {
			if (!parse_entry(p + klen, &size, &base, &irq)) {
				printf("virtio: cannot parse \"%.60s\"\n", p);
			} else if (ndevs < VIRTIO_MAX_DEVICES) {
				probe_one(entries, size, base, irq, &placeholders);
			}
			entries++;
		}
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
	}
	printf("virtio: %u command-line entries, %u devices, %u placeholders\n", entries, ndevs,
	       placeholders);
	return ndevs;
}

struct virtio_dev *virtio_get(unsigned i)
{
	virtio_probe();
	return i < ndevs ? &devs[i] : NULL;
}

struct virtio_dev *virtio_find(uint32_t id, unsigned nth)
{
	virtio_probe();
	for (unsigned i = 0; i < ndevs; i++) {
		if (devs[i].device_id == id && nth-- == 0)
			return &devs[i];
	}
	return NULL;
}

unsigned virtio_count(uint32_t id)
{
	unsigned n = 0;

	virtio_probe();
	for (unsigned i = 0; i < ndevs; i++)
		n += devs[i].device_id == id;
	return n;
}

/* --- Initialisation ----------------------------------------------------------- */

int virtio_negotiate(struct virtio_dev *d, uint64_t want)
{
	uint8_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	if (d->version != 2 || !virtio_reset(d))
		return -1;
	virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_set_status(d, s);
	d->offered = virtio_device_features(d);
	if (!(d->offered & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
		virtio_set_status(d, s | VIRTIO_STATUS_FAILED);
		return -2;
	}
	d->features = (want & d->offered) | VIRTIO_BIT(VIRTIO_F_VERSION_1);
	virtio_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	virtio_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)d->features);
	virtio_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	virtio_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	virtio_set_status(d, s | VIRTIO_STATUS_FEATURES_OK);
	if (!(virtio_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_set_status(d, s | VIRTIO_STATUS_FAILED);
		return -3;
	}
	return 0;
}

void virtio_driver_ok(struct virtio_dev *d)
{
	virtio_set_status(d, virtio_status(d) | VIRTIO_STATUS_DRIVER_OK);
}

static void *alloc_bytes(size_t n)
{
	void *p = page_alloc((n + 4095) / 4096);

	if (!p)
		guest_fail(__FILE__, __LINE__, "virtio: out of memory for %zu bytes", n);
	return p;
}

/* Driver-side state of a queue whose rings are at (desc, avail, used). */
static struct virtq *vq_init(struct virtio_dev *d, unsigned index, unsigned num, uint64_t desc,
			     uint64_t avail, uint64_t used)
{
	struct virtq *vq = alloc_bytes(sizeof(*vq));

	vq->dev = d;
	vq->index = index;
	vq->num = (uint16_t)num;
	vq->desc = phys_ptr(desc);
	vq->avail = phys_ptr(avail);
	vq->used = phys_ptr(used);
	vq->used_event = &vq->avail->ring[num];
	vq->avail_event = (volatile uint16_t *)&vq->used->ring[num];
	vq->event_idx = virtio_has(d, VIRTIO_F_EVENT_IDX);
	vq->indirect = virtio_has(d, VIRTIO_F_INDIRECT_DESC);
	vq->next = alloc_bytes(sizeof(uint16_t) * 2 * num);
	vq->chain = vq->next + num;
	vq->cookie = alloc_bytes(sizeof(void *) * num);
	for (unsigned i = 0; i < num; i++)
		vq->next[i] = (uint16_t)(i + 1);
	vq->nr_free = (uint16_t)num;
	if (vq->indirect)
		vq->ind = alloc_bytes(sizeof(struct virtq_desc) * VIRTQ_INDIRECT_MAX * num);
	if (index < VIRTIO_MAX_QUEUES)
		d->vq[index] = vq;
	virtq_set_polled(vq, d->vector == 0);
	return vq;
}

static void write_queue_regs(struct virtio_dev *d, unsigned index, unsigned num, uint64_t desc,
			     uint64_t avail, uint64_t used)
{
	virtio_write32(d, VIRTIO_MMIO_QUEUE_SEL, index);
	virtio_write32(d, VIRTIO_MMIO_QUEUE_NUM, num);
	virtio_write32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	virtio_write32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	virtio_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
	virtio_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	virtio_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
	virtio_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
	virtio_write32(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

struct virtq *virtq_setup(struct virtio_dev *d, unsigned index, unsigned max_num)
{
	unsigned num_max, num = 1;
	size_t front, back;
	uint8_t *mem;

	virtio_write32(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (virtio_read32(d, VIRTIO_MMIO_QUEUE_READY) != 0)
		return NULL;
	num_max = virtio_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (num_max == 0)
		return NULL;
	if (max_num > num_max)
		max_num = num_max;
	if (max_num > VIRTQ_MAX_SIZE)
		max_num = VIRTQ_MAX_SIZE;
	while (num * 2 <= max_num)
		num *= 2;
	/* Descriptors and the avail ring together, the used ring on its own page(s). */
	front = (VIRTQ_DESC_BYTES(num) + VIRTQ_AVAIL_BYTES(num) + 4095) & ~(size_t)4095;
	back = VIRTQ_USED_BYTES(num);
	mem = alloc_bytes(front + back);
	uint64_t desc = (uint64_t)(uintptr_t)mem;
	uint64_t avail = desc + VIRTQ_DESC_BYTES(num), used = desc + front;
	struct virtq *vq = vq_init(d, index, num, desc, avail, used);

	write_queue_regs(d, index, num, desc, avail, used);
	if (virtio_read32(d, VIRTIO_MMIO_QUEUE_READY) != 1)
		return NULL;
	return vq;
}

struct virtq *virtq_setup_at(struct virtio_dev *d, unsigned index, unsigned num, uint64_t desc,
			     uint64_t avail, uint64_t used)
{
	struct virtq *vq = vq_init(d, index, num, desc, avail, used);

	write_queue_regs(d, index, num, desc, avail, used);
	return vq;
}

/* --- Interrupts ---------------------------------------------------------------- */

static uint32_t ioapic_read_at(uint64_t base, uint32_t reg)
{
	mmio_write32(base, reg);
	return mmio_read32(base + 0x10);
}

static void ioapic_write_at(uint64_t base, uint32_t reg, uint32_t v)
{
	mmio_write32(base, reg);
	mmio_write32(base + 0x10, v);
}

/* The IOAPIC serving (gsi), from the MADT (QEMU microvm has a second one for GSI 24-47). */
static bool ioapic_for_gsi(unsigned gsi, uint64_t *base, unsigned *pin)
{
	const struct acpi_header *h = acpi_find("APIC");

	if (!h) {
		*base = IOAPIC_BASE;
		*pin = gsi;
		return gsi < ioapic_pins();
	}
	const uint8_t *p = (const uint8_t *)h + MADT_ENTRIES_OFFSET;
	const uint8_t *end = (const uint8_t *)h + h->length;

	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		if (p[0] == MADT_IOAPIC && p[1] >= 12) {
			uint32_t addr, gsi_base, pins;
			memcpy(&addr, p + 4, 4);
			memcpy(&gsi_base, p + 8, 4);
			pins = ((ioapic_read_at(addr, 1) >> 16) & 0xff) + 1;
			if (gsi >= gsi_base && gsi < gsi_base + pins) {
				*base = addr;
				*pin = gsi - gsi_base;
				return true;
			}
		}
		p += p[1];
	}
	return false;
}

static void virtio_isr(struct trap_frame *f)
{
	for (unsigned i = 0; i < ndevs; i++) {
		struct virtio_dev *d = &devs[i];
		uint32_t isr;

		if (d->vector != f->vector)
			continue;
		isr = virtio_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
		if (!isr) {
			d->irqs_empty++;
			continue;
		}
		virtio_write32(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
		d->irqs++;
		if (isr & VIRTIO_MMIO_INT_VRING)
			d->used_irqs++;
		if (isr & VIRTIO_MMIO_INT_CONFIG)
			d->config_irqs++;
		if (d->on_irq)
			d->on_irq(d, isr);
	}
}

void virtio_irq_enable(struct virtio_dev *d, uint8_t vector)
{
	uint64_t base;
	unsigned pin;

	if (!ioapic_for_gsi(d->irq, &base, &pin))
		guest_fail(__FILE__, __LINE__, "virtio: no IOAPIC serves GSI %u", d->irq);
	lapic_ready_once();
	d->vector = vector;
	irq_set_handler(vector, virtio_isr);
	/* Edge-triggered, active-high, fixed delivery, physical destination: this CPU. */
	ioapic_write_at(base, 0x10 + 2 * pin, 1u << 16);
	ioapic_write_at(base, 0x10 + 2 * pin + 1, lapic_id() << 24);
	ioapic_write_at(base, 0x10 + 2 * pin, vector);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (d->vq[i])
			virtq_set_polled(d->vq[i], false);
	}
}

void virtio_irq_disable(struct virtio_dev *d)
{
	uint64_t base;
	unsigned pin;

	if (ioapic_for_gsi(d->irq, &base, &pin))
		ioapic_write_at(base, 0x10 + 2 * pin, 1u << 16);
	d->vector = 0;
}

/* --- Configuration space ---------------------------------------------------------- */

uint32_t virtio_config_generation(struct virtio_dev *d)
{
	return virtio_read32(d, VIRTIO_MMIO_CONFIG_GENERATION);
}

uint8_t virtio_cfg_read8(struct virtio_dev *d, uint32_t off)
{
	return mmio_read8(d->base + VIRTIO_MMIO_CONFIG + off);
}

uint16_t virtio_cfg_read16(struct virtio_dev *d, uint32_t off)
{
	return *(volatile uint16_t *)phys_ptr(d->base + VIRTIO_MMIO_CONFIG + off);
}

uint32_t virtio_cfg_read32(struct virtio_dev *d, uint32_t off)
{
	return mmio_read32(d->base + VIRTIO_MMIO_CONFIG + off);
}

uint64_t virtio_cfg_read64(struct virtio_dev *d, uint32_t off)
{
	uint32_t gen, lo, hi;

	do {
		gen = virtio_config_generation(d);
		lo = virtio_cfg_read32(d, off);
		hi = virtio_cfg_read32(d, off + 4);
	} while (virtio_config_generation(d) != gen);
	return (uint64_t)hi << 32 | lo;
}

void virtio_cfg_read(struct virtio_dev *d, uint32_t off, void *buf, size_t len)
{
	uint8_t *b = buf;
	uint32_t gen;

	do {
		gen = virtio_config_generation(d);
		for (size_t i = 0; i < len; i++)
			b[i] = virtio_cfg_read8(d, off + (uint32_t)i);
	} while (virtio_config_generation(d) != gen);
}

void virtio_cfg_write8(struct virtio_dev *d, uint32_t off, uint8_t v)
{
	mmio_write8(d->base + VIRTIO_MMIO_CONFIG + off, v);
}

void virtio_cfg_write16(struct virtio_dev *d, uint32_t off, uint16_t v)
{
	*(volatile uint16_t *)phys_ptr(d->base + VIRTIO_MMIO_CONFIG + off) = v;
}

void virtio_cfg_write32(struct virtio_dev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + VIRTIO_MMIO_CONFIG + off, v);
}

/* --- Virtqueues -------------------------------------------------------------------- */

void virtq_set_polled(struct virtq *vq, bool polled)
{
	vq->polled = polled;
	/*
	 * §2.7.10: the device interrupts when used->idx passes used_event;
	 * last_used - 1 is not passed before 65535 more buffers (and moves on).
	 */
	if (vq->event_idx)
		*vq->used_event = polled ? (uint16_t)(vq->last_used - 1) : vq->last_used;
	vq->avail->flags = polled ? VIRTQ_AVAIL_F_NO_INTERRUPT : 0;
	mb();
}

int virtq_add(struct virtq *vq, const struct virtq_seg *segs, unsigned n, bool indirect,
	      void *cookie)
{
	bool seen_write = false;
	uint16_t head, idx, last = 0;

	if (n == 0)
		return VIRTQ_EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (seen_write && !segs[i].write)
			return VIRTQ_EINVAL;    /* §2.7.4.2: readable before writable */
		seen_write |= segs[i].write;
	}
	if (indirect && (!vq->ind || n > VIRTQ_INDIRECT_MAX))
		return VIRTQ_EINVAL;
	if ((indirect ? 1 : n) > vq->nr_free)
		return VIRTQ_EFULL;
	head = vq->free_head;
	if (indirect) {
		struct virtq_desc *t = &vq->ind[(size_t)head * VIRTQ_INDIRECT_MAX];

		for (unsigned i = 0; i < n; i++) {
			t[i].addr = segs[i].addr;
			t[i].len = segs[i].len;
			t[i].flags = (uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
						(i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
			t[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
		}
		vq->desc[head].addr = (uint64_t)(uintptr_t)t;
		vq->desc[head].len = (uint32_t)(n * sizeof(*t));
		vq->desc[head].flags = VIRTQ_DESC_F_INDIRECT;
		vq->desc[head].next = 0;
		vq->free_head = vq->next[head];
		vq->nr_free--;
		vq->chain[head] = 1;
	} else {
		idx = head;
		for (unsigned i = 0; i < n; i++) {
			volatile struct virtq_desc *d = &vq->desc[idx];

			d->addr = segs[i].addr;
			d->len = segs[i].len;
			d->flags = (uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
					      (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
			d->next = i + 1 < n ? vq->next[idx] : 0;
			last = idx;
			idx = vq->next[idx];
		}
		vq->free_head = vq->next[last];
		vq->nr_free = (uint16_t)(vq->nr_free - n);
		vq->chain[head] = (uint16_t)n;
	}
	vq->cookie[head] = cookie;
	vq->avail->ring[vq->avail_idx % vq->num] = head;
	barrier();      /* x86 keeps stores in order: the ring entry before the index */
	vq->avail->idx = ++vq->avail_idx;
	vq->added++;
	return head;
}

bool virtq_kick_needed(struct virtq *vq)
{
	uint16_t new_idx = vq->avail_idx, old = vq->kicked_idx;

	mb();
	vq->kicked_idx = new_idx;
	if (vq->event_idx) {
		uint16_t ev = *vq->avail_event;

		/* §2.7.10: vring_need_event(avail_event, new, old) */
		return (uint16_t)(new_idx - ev - 1) < (uint16_t)(new_idx - old);
	}
	return !(vq->used->flags & VIRTQ_USED_F_NO_NOTIFY);
}

void virtq_notify(struct virtq *vq)
{
	virtio_write32(vq->dev, VIRTIO_MMIO_QUEUE_NOTIFY, vq->index);
}

bool virtq_kick(struct virtq *vq)
{
	if (!virtq_kick_needed(vq)) {
		vq->kicks_suppressed++;
		return false;
	}
	virtq_notify(vq);
	vq->kicks++;
	return true;
}

bool virtq_has_used(struct virtq *vq)
{
	return vq->used->idx != vq->last_used;
}

int virtq_get_used(struct virtq *vq, uint32_t *len, void **cookie)
{
	uint16_t id, i, n;
	uint32_t raw_id, l;

	if (!virtq_has_used(vq))
		return -1;
	barrier();      /* the index before the entry (loads are not reordered on x86) */
	raw_id = vq->used->ring[vq->last_used % vq->num].id;
	l = vq->used->ring[vq->last_used % vq->num].len;
	if (raw_id >= vq->num || vq->chain[raw_id] == 0)
		guest_fail(__FILE__, __LINE__, "virtio: queue %u: device used id %u, not in flight",
			   vq->index, raw_id);
	id = (uint16_t)raw_id;
	vq->last_used++;
	/* Back to the free list, through the driver's own links (the device never writes them). */
	n = vq->chain[id];
	i = id;
	for (uint16_t k = 1; k < n; k++)
		i = vq->next[i];
	vq->next[i] = vq->free_head;
	vq->free_head = id;
	vq->nr_free = (uint16_t)(vq->nr_free + n);
	vq->chain[id] = 0;
	if (len)
		*len = l;
	if (cookie)
		*cookie = vq->cookie[id];
	vq->used_count++;
	if (vq->event_idx) {
		*vq->used_event = vq->polled ? (uint16_t)(vq->last_used - 1) : vq->last_used;
		mb();
	}
	return id;
}

bool virtq_wait(struct virtq *vq, unsigned timeout_ms)
{
	bool sleep = vq->dev->vector && !vq->polled;
	uint64_t rf = read_rflags(), start = virtio_ms();
	bool ok = false;

	for (;;) {
		cli();
		if (virtq_has_used(vq)) {
			ok = true;
			break;
		}
		if (ticks * VIRTIO_TICK_MS - start > timeout_ms)
			break;
		if (sleep) {
			sti_hlt();
		} else {
			sti();
			cpu_relax();
		}
	}
	if (rf & RFLAGS_IF)
		sti();
	return ok;
}

bool virtio_wait_irqs(struct virtio_dev *d, unsigned count, unsigned timeout_ms)
{
	uint64_t rf = read_rflags(), start = virtio_ms();
	bool ok;

	for (;;) {
		cli();
		ok = d->irqs >= count;
		if (ok || ticks * VIRTIO_TICK_MS - start > timeout_ms)
			break;
		sti_hlt();
	}
	if (rf & RFLAGS_IF)
		sti();
	return ok;
}

/* --- Raw access ---------------------------------------------------------------------- */

void virtq_raw_desc(struct virtq *vq, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next)
{
	vq->desc[i].addr = addr;
	vq->desc[i].len = len;
	vq->desc[i].flags = flags;
	vq->desc[i].next = next;
}

void virtq_raw_publish(struct virtq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx % vq->num] = head;
	barrier();
	vq->avail->idx = ++vq->avail_idx;
}

void virtq_raw_set_avail_idx(struct virtq *vq, uint16_t idx)
{
	vq->avail_idx = idx;
	vq->avail->idx = idx;
}
