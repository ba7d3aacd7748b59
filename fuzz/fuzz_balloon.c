/*
 * libFuzzer harness for virtio-balloon's request handling (src/virtio/
 * balloon.c): the device is made by its own registered init (device_list(),
 * as vm.c does) over a fake struct vm whose KVM_IRQFD fails, which leaves a
 * complete device with ops and lock but no transport (struct balloon starts
 * with its struct virtio_dev, so the init's state is the device); counters
 * come from balloon_stats(). Two devices: RAM in 4 KiB and in 2 MiB pages
 * (--hugepages: only whole 2 MiB pages are released). The harness plays a driver that negotiates fuzzed features and makes
 * fuzzed chains available on the four queues (inflateq, deflateq, then
 * statsq and reporting_vq as negotiated, §5.5.2): PFN arrays, free page
 * reports, statistics buffers. Guest RAM is a malloc'd buffer; holes are
 * punched in a memfd of the same size standing in for its backing.
 * balloon_parse_stats also gets the raw input.
 *
 * Input (little-endian):
 *   0 u8  features: bit 0 STATS_VQ, 1 DEFLATE_ON_OOM, 2 PAGE_REPORTING,
 *         3 EVENT_IDX, 4 RAM in two regions, 5 the huge-page device
 *   then operations until the input ends, each:
 *     u8 queue (% 5: 4 is a queue no feature defines), u8 segment count (% 8 + 1); per segment u16 length
 *     (& 0x3fff) and u8 flags (bit 0: device-writable); then the readable
 *     bytes in order (PFNs are le32); the queue is kicked.
 *
 * Checked: used entries name chains made available once, with length 0
 * (the statistics buffer is held: it comes back when the next one arrives);
 * inflated/deflated/invalid counts equal what the harness computes from
 * the PFNs it placed (a PFN counts if its 4 KiB page lies in one region);
 * reported pages equal the whole pages inside the chain's buffers; bytes
 * released at most those pages (none for deflate); a kick on a queue the
 * features do not define sets DEVICE_NEEDS_RESET and serves nothing; no byte of
 * RAM outside the used rings and writable buffers changes.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

#include "devices/device.h"
#include "util/log.h"
#include "virtio/balloon.h"
#include "virtio/mmio.h"
#include "vmm/vm.h"

#define NQUEUES    5            /* the four the device has, and one past them */
#define STAT_BYTES 10           /* le16 tag + le64 value (§5.5.6.3) */
#define F_STATS     1
#define F_OOM       2
#define F_REPORTING 5

#define RAM_BASE  0x100000ull
#define RAM2_BASE 0x4000000ull
#define RAM_SIZE  (128u << 10)

#include "driver.h"

static struct vm *vm;
static struct vm_config cfgs[2];
static struct virtio_dev *devs[2];     /* 4 KiB pages, 2 MiB pages */
static int memfd;

/* A balloon from balloon.c's own init; its transport fails at KVM_IRQFD (no VM fd). */
static struct virtio_dev *make(struct vm_config *c, bool huge)
{
	const struct device_desc *const *list;
	unsigned n = device_list(&list);
	struct err e = { { 0 } };
	void *state = NULL;

	c->mem_mib = 1;
	c->hugepages = huge;
	c->balloon = (struct balloon_config){ .enabled = true, .deflate_on_oom = true,
					      .stats_interval_s = 3600,
					      .free_page_reporting = true };
	vm->cfg = c;
	for (unsigned i = 0; i < n; i++)
		if (strcmp(list[i]->name, "virtio-balloon") == 0)
			(void)list[i]->init(vm, &state, &e);
	if (!state)
		return NULL;
	/* struct balloon begins with its struct virtio_dev. */
	return state;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_threshold = LOG_ERROR;
	vm = calloc(1, sizeof(*vm));
	memfd = memfd_create("lodge-fuzz-balloon", 0);
	if (!vm || memfd < 0 || ftruncate(memfd, RAM_SIZE) < 0 || loop_init(&vm->loop) < 0) {
		perror("fuzz_balloon: setup");
		abort();
	}
	vm->kvm.vm_fd = -1;
	vm->mem.fd = memfd;
	for (int i = 0; i < 2; i++) {
		devs[i] = make(&cfgs[i], i == 1);
		if (!devs[i] || !devs[i]->ops || devs[i]->irq_fd < 0) {
			fprintf(stderr, "fuzz_balloon: no balloon device\n");
			abort();
		}
	}
	return 0;
}

static void counters(struct virtio_dev *d, struct balloon_stats *st)
{
	balloon_stats((struct balloon *)d, st);
}

/* Is the 4 KiB page at guest-physical (gpa) wholly in one region? */
static bool page_in_ram(const struct gmem *m, uint64_t gpa)
{
	for (unsigned i = 0; i < m->nregions; i++)
		if (gpa >= m->regions[i].gpa && gpa - m->regions[i].gpa < m->regions[i].size &&
		    m->regions[i].size - (gpa - m->regions[i].gpa) >= BALLOON_PAGE_SIZE)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct balloon_stats ps, before, after;
	enum balloon_queue role[NQUEUES];
	struct virtio_dev *d;
	struct drv v;
	const uint8_t *in;
	size_t left, np;
	uint64_t x;
	uint8_t f;

	if (size < 1)
		return 0;
	/* The statistics parser on its own, over the raw input. */
	memset(&ps, 0, sizeof(ps));
	np = balloon_parse_stats(data, size, &ps);
	FUZZ_CHECK(np == size / STAT_BYTES);
	FUZZ_CHECK((ps.present >> BALLOON_STAT_TAGS) == 0);

	f = data[0];
	d = devs[(f >> 5) & 1];
	if (!drv_init(&v, RAM_SIZE, RAM_BASE, 4, f & 16, RAM2_BASE))
		return 0;
	vm->mem = v.m;
	vm->mem.fd = memfd;
	d->ops->reset(d);
	d->status = 0;
	d->driver_features = VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			     (f & 1 ? VIRTIO_BIT(F_STATS) : 0) | (f & 2 ? VIRTIO_BIT(F_OOM) : 0) |
			     (f & 4 ? VIRTIO_BIT(F_REPORTING) : 0) |
			     (f & 8 ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0);
	for (unsigned q = 0; q < 4; q++)
		FUZZ_CHECK(drv_queue(&v, &d->vq[q], q, f & 8) == 0);
	FUZZ_CHECK(d->ops->activate(d) == 0);
	d->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		    VIRTIO_STATUS_DRIVER_OK;
	balloon_queue_roles(d->driver_features, role, NQUEUES);

	in = data + 1;
	left = size - 1;
	while (left >= 2 && !(d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
		unsigned q = in[0] % NQUEUES, nseg = in[1] % 8 + 1, nr = 0;
		uint64_t valid = 0, invalid = 0, pages = 0;
		struct dseg t[8], s[8];
		struct vring_used_elem e;

		in += 2;
		left -= 2;
		if (left < 3 * (size_t)nseg)
			break;
		for (unsigned i = 0; i < nseg; i++)
			t[i] = (struct dseg){ .len = le16(in + 3 * i) & 0x3fff,
					      .write = in[3 * i + 2] & 1 };
		in += 3 * (size_t)nseg;
		left -= 3 * (size_t)nseg;
		for (int pass = 0; pass < 2; pass++)
			for (unsigned i = 0; i < nseg; i++)
				if (t[i].write == (pass == 1))
					s[nr++] = t[i];
		for (unsigned i = 0; i < nseg && !s[i].write; i++) {
			s[i].src = in;
			s[i].src_len = s[i].len < left ? s[i].len : left;
			in += s[i].src_len;
			left -= s[i].src_len;
		}
		if (q == 4) {
			/* No queue 4: the kick alone must fail the device. */
			pthread_mutex_lock(&d->lock);
			d->ops->notify(d, q);
			pthread_mutex_unlock(&d->lock);
			FUZZ_CHECK(d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
			break;
		}
		if (!drv_chain(&v, q, s, nseg))
			break;
		/* What the device should count: the PFNs in the readable part; whole pages of all. */
		{
			uint64_t rlen = 0, k = 0;
			uint8_t pb[4];

			for (unsigned i = 0; i < nseg; i++) {
				uint64_t off = s[i].off, len = s[i].len;

				if (!s[i].write)
					rlen += s[i].len;
				if (balloon_trim(&off, &len, BALLOON_PAGE_SIZE))
					pages += len / BALLOON_PAGE_SIZE;
			}
			for (unsigned i = 0; i < nseg && !s[i].write; i++)
				for (uint32_t o = 0; o < s[i].len && k < rlen / 4 * 4; o++) {
					pb[k++ % 4] = v.ram[s[i].off + o];
					if (k % 4 == 0) {
						uint32_t pfn = (uint32_t)(pb[0] | pb[1] << 8 |
									  pb[2] << 16 |
									  (uint32_t)pb[3] << 24);

						if (page_in_ram(&v.m, (uint64_t)pfn << 12))
							valid++;
						else
							invalid++;
					}
				}
		}
		counters(d, &before);
		pthread_mutex_lock(&d->lock);
		d->ops->notify(d, q);
		pthread_mutex_unlock(&d->lock);
		counters(d, &after);
		while (drv_used(&v, q, &e))
			FUZZ_CHECK(e.len == 0 && role[q] != BALLOON_Q_NONE);
		if (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
			FUZZ_CHECK(role[q] == BALLOON_Q_NONE);
			break;
		}
		switch (role[q]) {
		case BALLOON_Q_INFLATE:
			FUZZ_CHECK(after.inflated - before.inflated == valid);
			FUZZ_CHECK(after.invalid - before.invalid == invalid);
			FUZZ_CHECK(after.released_bytes - before.released_bytes <=
				   valid * BALLOON_PAGE_SIZE);
			break;
		case BALLOON_Q_DEFLATE:
			FUZZ_CHECK(after.deflated - before.deflated == valid);
			FUZZ_CHECK(after.invalid - before.invalid == invalid);
			FUZZ_CHECK(after.released_bytes == before.released_bytes);
			break;
		case BALLOON_Q_REPORT:
			FUZZ_CHECK(after.reported - before.reported == pages);
			FUZZ_CHECK(after.released_bytes - before.released_bytes <=
				   pages * BALLOON_PAGE_SIZE);
			break;
		case BALLOON_Q_STATS:
			FUZZ_CHECK(after.updates == before.updates + 1);
			FUZZ_CHECK((after.present >> BALLOON_STAT_TAGS) == 0);
			break;
		default:
			FUZZ_CHECK(!"a kick on an undefined queue was served");
		}
	}
	drv_check_untouched(&v);
	d->ops->reset(d);
	for (unsigned q = 0; q < 4; q++)
		vq_reset(&d->vq[q]);
	while (read(d->irq_fd, &x, sizeof(x)) == sizeof(x))
		;
	memset(&vm->mem, 0, sizeof(vm->mem));
	vm->mem.fd = memfd;
	drv_free(&v);
	return 0;
}
