/*
 * virtio-blk: block devices (virtio 1.2 §5.2) holding the test pattern:
 * 512-byte sector n of disk d is the 8-byte little-endian value
 *     (n * 0x9E3779B97F4A7C15) ^ (d << 56)
 * repeated 64 times (d = 0 for a single disk). Each disk is identified by
 * its sector 0 (the value d << 56). Disk 0 gets every test; the others a
 * capacity check and reads of their first and last sectors.
 *
 *   sectors=N       expected capacity of every disk (sectorsD=N for disk D)
 *   disks=N         expected number of block devices (default 1)
 *   poll=1          poll the used ring instead of taking interrupts
 *   event_idx=0|1   negotiate VIRTIO_F_EVENT_IDX if offered (default 1)
 *   indirect=0|1    negotiate VIRTIO_F_INDIRECT_DESC and use it for every request (default 1)
 *   qsize=N         queue size to ask for (default 128)
 *   serial=S        GET_ID must return S
 *   ro=1            VIRTIO_BLK_F_RO must be offered and a write must fail with IOERR
 *   write=1         write (~pattern) to sectors [S, S+C), flush, read back; then
 *                   WRITE_ZEROES [S+C, S+2C) and DISCARD [S+2C, S+3C) if offered
 *   wsector=S wcount=C   (defaults 64 and 8)
 *   discard_zeroes=1     discarded sectors must read back as zeros
 *   resize=N        after the other tests, print "virtio-blk: waiting for a capacity
 *                   change", wait (up to resize_ms, default 30000) for a configuration
 *                   change interrupt: disk 0's capacity must then be N sectors, its
 *                   last sector disk 0's pattern, the one after it IOERR (the host
 *                   swapped in another image: PATCH /drives)
 *   limited_reads=N min_ms=M   then N single-sector reads must take at least M ms
 *                   (the host gave the drive a rate limiter with the new image)
 */
#include "guest.h"
#include "virtio.h"
#include "virtio_blk.h"

#define BLK_VECTOR  0x40
#define MAX_DISKS   8
#define SECTOR      512
#define GOLDEN      0x9E3779B97F4A7C15ULL
#define LARGE_BYTES (256 * 1024)
#define BATCH       16

struct disk {
	struct vblk b;
	unsigned id;                    /* d of the pattern, from sector 0 */
};

struct snap {
	unsigned req, kicks, quiet, irqs;
};

static struct disk disks[MAX_DISKS];
static uint8_t *big;                    /* LARGE_BYTES + 4 KiB */
static bool poll;

static uint64_t pattern(unsigned d, uint64_t sector)
{
	return (sector * GOLDEN) ^ ((uint64_t)d << 56);
}

/* Check (n) sectors at (buf) against disk (d)'s pattern from (sector), complemented if (inv). */
static void check_sectors(const void *buf, unsigned d, uint64_t sector, uint64_t n, bool inv,
			  const char *what)
{
	const uint64_t *w = buf;

	for (uint64_t s = 0; s < n; s++) {
		uint64_t want = pattern(d, sector + s) ^ (inv ? ~0ULL : 0);

		for (unsigned i = 0; i < SECTOR / 8; i++) {
			if (w[s * SECTOR / 8 + i] != want) {
				printf("virtio-blk: %s: sector %llu word %u is %#llx, "
				       "expected %#llx\n", what, (unsigned long long)(sector + s),
				       i, (unsigned long long)w[s * SECTOR / 8 + i],
				       (unsigned long long)want);
				guest_fail(__FILE__, __LINE__, "pattern mismatch");
			}
		}
	}
}

static void fill_sectors(void *buf, unsigned d, uint64_t sector, uint64_t n, bool inv)
{
	uint64_t *w = buf;

	for (uint64_t s = 0; s < n; s++) {
		for (unsigned i = 0; i < SECTOR / 8; i++)
			w[s * SECTOR / 8 + i] = pattern(d, sector + s) ^ (inv ? ~0ULL : 0);
	}
}

static bool all_zero(const void *buf, size_t n)
{
	const uint64_t *w = buf;

	for (size_t i = 0; i < n / 8; i++) {
		if (w[i])
			return false;
	}
	return true;
}

static void snap_take(struct vblk *b, struct snap *s)
{
	*s = (struct snap){ b->vq->added, b->vq->kicks, b->vq->kicks_suppressed, b->dev->irqs };
}

/* One line per test: the numbers a host compares its exit counts with. */
static void snap_report(struct vblk *b, const struct snap *s, const char *name)
{
	printf("virtio-blk: %s: %u requests, %u kicks, %u kicks not needed, %u interrupts\n", name,
	       b->vq->added - s->req, b->vq->kicks - s->kicks, b->vq->kicks_suppressed - s->quiet,
	       b->dev->irqs - s->irqs);
}

static void test_single(struct disk *k)
{
	struct vblk *b = &k->b;
	uint64_t sectors[3] = { 0, 1, b->capacity - 1 };
	struct snap s;

	snap_take(b, &s);
	for (unsigned i = 0; i < 3; i++) {
		memset(big, 0xcc, SECTOR);
		GUEST_ASSERT_EQ(vblk_read(b, sectors[i], big, SECTOR), VIRTIO_BLK_S_OK);
		check_sectors(big, k->id, sectors[i], 1, false, "single read");
	}
	snap_report(b, &s, "single-sector reads");
}

/* Data segments one request may carry: seg_max, and the ring size without indirect tables. */
static unsigned max_data_segs(struct vblk *b)
{
	unsigned n = VBLK_MAX_SEGS;

	if (b->seg_max && b->seg_max < n)
		n = b->seg_max;
	if (!b->indirect && b->vq->num - 2u < n)
		n = b->vq->num - 2u;
	return n;
}

/*
 * Up to 8 sectors into as many segments of uneven sizes as the queue
 * allows (each in its own page, at an odd offset), ending on a sector
 * boundary.
 */
static void test_segments(struct disk *k)
{
	static const uint32_t lens[] = { 100, 412, 512, 256, 256, 1024, 512, 1024 };
	struct vblk *b = &k->b;
	struct virtq_seg segs[ARRAY_SIZE(lens)];
	uint8_t *pages = page_alloc(ARRAY_SIZE(lens));
	uint64_t sector = b->capacity >= 108 ? 100 : 0;
	unsigned n = 0, limit = max_data_segs(b);
	uint32_t used, off = 0, total = 0;
	struct snap s;

	GUEST_ASSERT(pages != NULL);
	for (unsigned i = 0; i < ARRAY_SIZE(lens) && i < limit; i++) {
		total += lens[i];
		if (total % SECTOR == 0)
			n = i + 1;
	}
	if (n < 2) {
		printf("virtio-blk: %u data segments at most: multi-segment read skipped\n", limit);
		return;
	}
	snap_take(b, &s);
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = (uint64_t)(uintptr_t)pages + 4096 * i + 8 * i;

		segs[i] = (struct virtq_seg){ a, lens[i], true };
	}
	GUEST_ASSERT_EQ(vblk_do(b, VIRTIO_BLK_T_IN, sector, segs, n, &used), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < n; i++) {
		memcpy(big + off, (void *)(uintptr_t)segs[i].addr, lens[i]);
		off += lens[i];
	}
	check_sectors(big, k->id, sector, off / SECTOR, false, "multi-segment read");
	printf("virtio-blk: multi-segment read: %u segments, %u bytes, used length %u\n", n, off,
	       used);
	snap_report(b, &s, "multi-segment read");
}

/* One request of 256 KiB (split into size_max segments if the device limits them). */
static void test_large(struct disk *k)
{
	struct vblk *b = &k->b;
	struct virtq_seg segs[VBLK_MAX_SEGS];
	uint32_t seg = LARGE_BYTES;
	unsigned maxn = max_data_segs(b);
	uint64_t bytes = LARGE_BYTES, sector;
	unsigned n = 0;
	struct snap s;

	if (b->size_max && b->size_max < LARGE_BYTES)
		seg = b->size_max & ~(SECTOR - 1u);
	GUEST_ASSERT(seg >= SECTOR);
	if (bytes > (uint64_t)seg * maxn)
		bytes = (uint64_t)seg * maxn;
	if (bytes > b->capacity * SECTOR)
		bytes = b->capacity * SECTOR;
	sector = b->capacity - bytes / SECTOR > 1000 ? 1000 : 0;
	for (uint64_t off = 0; off < bytes; off += seg, n++) {
		uint64_t len = bytes - off < seg ? bytes - off : seg;
		segs[n] = (struct virtq_seg){ (uint64_t)(uintptr_t)big + off, (uint32_t)len, true };
	}
	memset(big, 0xcc, bytes);
	snap_take(b, &s);
	GUEST_ASSERT_EQ(vblk_do(b, VIRTIO_BLK_T_IN, sector, segs, n, NULL), VIRTIO_BLK_S_OK);
	check_sectors(big, k->id, sector, bytes / SECTOR, false, "large read");
	printf("virtio-blk: large read: %llu KiB at sector %llu in %u segments\n",
	       (unsigned long long)(bytes / 1024), (unsigned long long)sector, n);
	snap_report(b, &s, "large read");
}

/* BATCH requests of 4 KiB in flight together, made available before a single kick. */
static void test_batch(struct disk *k)
{
	struct vblk *b = &k->b;
	unsigned per = b->indirect ? 1 : 3, n = BATCH;
	int slots[BATCH];
	uint64_t sector0 = b->capacity >= 8 * BATCH + 2000 ? 2000 : 0;
	struct snap s;
	bool kicked;

	if (n > b->vq->num / per)
		n = b->vq->num / per;
	if (b->capacity < 8ULL * n)
		n = (unsigned)(b->capacity / 8);
	if (n < 2) {
		printf("virtio-blk: queue size %u: batch skipped\n", b->vq->num);
		return;
	}
	memset(big, 0xcc, (size_t)n * 4096);
	snap_take(b, &s);
	for (unsigned i = 0; i < n; i++) {
		struct virtq_seg seg = { (uint64_t)(uintptr_t)big + 4096 * i, 4096, true };

		slots[i] = vblk_submit(b, VIRTIO_BLK_T_IN, sector0 + 8 * i, &seg, 1, 0, 0, 0);
		GUEST_ASSERT(slots[i] >= 0);
	}
	kicked = vblk_kick(b);
	for (unsigned i = 0; i < n; i++)
		GUEST_ASSERT_EQ(vblk_complete(b, slots[i], NULL), VIRTIO_BLK_S_OK);
	check_sectors(big, k->id, sector0, 8ULL * n, false, "batched reads");
	printf("virtio-blk: batch: %u requests in flight, %s\n", n,
	       kicked ? "one kick" : "no kick needed");
	snap_report(b, &s, "batch");
}

static void test_out_of_range(struct disk *k)
{
	struct vblk *b = &k->b;
	struct virtq_seg two = { (uint64_t)(uintptr_t)big, 2 * SECTOR, true };
	struct snap s;

	snap_take(b, &s);
	GUEST_ASSERT_EQ(vblk_read(b, b->capacity, big, SECTOR), VIRTIO_BLK_S_IOERR);
	GUEST_ASSERT_EQ(vblk_do(b, VIRTIO_BLK_T_IN, b->capacity - 1, &two, 1, NULL),
			VIRTIO_BLK_S_IOERR);
	GUEST_ASSERT_EQ(vblk_read(b, 0, big, SECTOR), VIRTIO_BLK_S_OK);
	check_sectors(big, k->id, 0, 1, false, "read after errors");
	puts("virtio-blk: read beyond capacity: IOERR, device still works");
	snap_report(b, &s, "out of range");
}

static void test_get_id(struct disk *k)
{
	struct vblk *b = &k->b;
	const char *serial = cmdline_get("serial");
	char id[VIRTIO_BLK_ID_BYTES + 1] = { 0 };
	struct virtq_seg seg = { (uint64_t)(uintptr_t)id, VIRTIO_BLK_ID_BYTES, true };
	uint8_t st;

	st = vblk_do(b, VIRTIO_BLK_T_GET_ID, 0, &seg, 1, NULL);
	if (st == VIRTIO_BLK_S_UNSUPP && !serial) {
		puts("virtio-blk: GET_ID unsupported");
		return;
	}
	GUEST_ASSERT_EQ(st, VIRTIO_BLK_S_OK);
	printf("virtio-blk: id \"%s\"\n", id);
	if (serial)
		GUEST_ASSERT(strcmp(id, serial) == 0);
}

static void test_read_only(struct disk *k)
{
	struct vblk *b = &k->b;
	struct snap s;

	GUEST_ASSERT(virtio_has(b->dev, VIRTIO_BLK_F_RO));
	snap_take(b, &s);
	fill_sectors(big, k->id, 1, 1, true);
	GUEST_ASSERT_EQ(vblk_write(b, 1, big, SECTOR), VIRTIO_BLK_S_IOERR);
	GUEST_ASSERT_EQ(vblk_read(b, 1, big, SECTOR), VIRTIO_BLK_S_OK);
	check_sectors(big, k->id, 1, 1, false, "read-only sector after a write");
	puts("virtio-blk: read-only: write got IOERR, sector unchanged");
	snap_report(b, &s, "read-only");
}

/* DISCARD or WRITE_ZEROES over [start, start + n), in requests of at most (max) sectors. */
static void zero_range(struct vblk *b, uint32_t type, uint64_t start, uint64_t n, uint32_t max)
{
	GUEST_ASSERT(max > 0);
	for (uint64_t done = 0; done < n;) {
		uint32_t c = n - done < max ? (uint32_t)(n - done) : max;

		GUEST_ASSERT_EQ(vblk_range(b, type, start + done, c, 0), VIRTIO_BLK_S_OK);
		done += c;
	}
}

static void test_write(struct disk *k)
{
	struct vblk *b = &k->b;
	uint64_t s0 = cmdline_get_u64("wsector", 64), c = cmdline_get_u64("wcount", 8);
	struct virtq_seg segs[2];
	struct snap s;

	GUEST_ASSERT(c > 0 && c * SECTOR <= LARGE_BYTES / 2 && s0 + 3 * c <= b->capacity);
	GUEST_ASSERT(!virtio_has(b->dev, VIRTIO_BLK_F_RO));
	snap_take(b, &s);
	fill_sectors(big, k->id, s0, c, true);
	/* Two segments: the first sector, then the rest. */
	segs[0] = (struct virtq_seg){ (uint64_t)(uintptr_t)big, SECTOR, false };
	segs[1] = (struct virtq_seg){ (uint64_t)(uintptr_t)big + SECTOR, (uint32_t)(c - 1) * SECTOR,
				      false };
	GUEST_ASSERT_EQ(vblk_do(b, VIRTIO_BLK_T_OUT, s0, segs, c > 1 ? 2 : 1, NULL),
			VIRTIO_BLK_S_OK);
	if (virtio_has(b->dev, VIRTIO_BLK_F_FLUSH))
		GUEST_ASSERT_EQ(vblk_do(b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	memset(big, 0xcc, (c + 2) * SECTOR);
	GUEST_ASSERT_EQ(vblk_read(b, s0 - 1, big, (uint32_t)(c + 2) * SECTOR), VIRTIO_BLK_S_OK);
	check_sectors(big, k->id, s0 - 1, 1, false, "sector before the written range");
	check_sectors(big + SECTOR, k->id, s0, c, true, "written range");
	printf("virtio-blk: wrote sectors %llu-%llu, %s, read back\n", (unsigned long long)s0,
	       (unsigned long long)(s0 + c - 1),
	       virtio_has(b->dev, VIRTIO_BLK_F_FLUSH) ? "flushed" : "no flush offered");
	snap_report(b, &s, "write");

	if (virtio_has(b->dev, VIRTIO_BLK_F_WRITE_ZEROES)) {
		printf("virtio-blk: write zeroes: max %u sectors, %u segments, may unmap %u\n",
		       b->max_wz_sectors, b->max_wz_seg, b->wz_may_unmap);
		GUEST_ASSERT(b->max_wz_seg > 0);
		snap_take(b, &s);
		zero_range(b, VIRTIO_BLK_T_WRITE_ZEROES, s0 + c, c, b->max_wz_sectors);
		memset(big, 0xcc, c * SECTOR);
		GUEST_ASSERT_EQ(vblk_read(b, s0 + c, big, (uint32_t)c * SECTOR), VIRTIO_BLK_S_OK);
		GUEST_ASSERT(all_zero(big, c * SECTOR));
		printf("virtio-blk: write zeroes of sectors %llu-%llu read back as zeros\n",
		       (unsigned long long)(s0 + c), (unsigned long long)(s0 + 2 * c - 1));
		snap_report(b, &s, "write zeroes");
	} else {
		puts("virtio-blk: WRITE_ZEROES not offered");
	}

	if (virtio_has(b->dev, VIRTIO_BLK_F_DISCARD)) {
		uint64_t d0 = s0 + 2 * c;
		bool zero;

		printf("virtio-blk: discard: max %u sectors, %u segments, alignment %u\n",
		       b->max_discard_sectors, b->max_discard_seg, b->discard_align);
		GUEST_ASSERT(b->max_discard_seg > 0);
		if (b->discard_align > 1 && (d0 % b->discard_align || c % b->discard_align)) {
			puts("virtio-blk: discard range not aligned, skipped");
			return;
		}
		snap_take(b, &s);
		zero_range(b, VIRTIO_BLK_T_DISCARD, d0, c, b->max_discard_sectors);
		GUEST_ASSERT_EQ(vblk_read(b, d0, big, (uint32_t)c * SECTOR), VIRTIO_BLK_S_OK);
		zero = all_zero(big, c * SECTOR);
		printf("virtio-blk: discarded sectors %llu-%llu, they read back as %s\n",
		       (unsigned long long)d0, (unsigned long long)(d0 + c - 1),
		       zero ? "zeros" : "old data");
		if (cmdline_flag("discard_zeroes"))
			GUEST_ASSERT(zero);
		snap_report(b, &s, "discard");
	} else {
		puts("virtio-blk: DISCARD not offered");
	}
}

/* Wait for a configuration change interrupt and check the new capacity (resize=N). */
static void test_resize(struct disk *k, uint64_t want)
{
	struct vblk *b = &k->b;
	unsigned before = b->dev->config_irqs;
	uint64_t end = virtio_ms() + cmdline_get_u64("resize_ms", 30000), cap;

	GUEST_ASSERT(!poll);
	printf("virtio-blk: waiting for a capacity change (%llu sectors now)\n",
	       (unsigned long long)b->capacity);
	for (;;) {
		unsigned seen = b->dev->irqs;   /* before the check: no interrupt slips by */
		uint64_t now = virtio_ms();

		if (b->dev->config_irqs != before)
			break;
		if (now >= end)
			guest_fail(__FILE__, __LINE__, "no configuration change interrupt");
		virtio_wait_irqs(b->dev, seen + 1, (unsigned)(end - now));
	}
	cap = virtio_cfg_read64(b->dev, VIRTIO_BLK_CFG_CAPACITY);
	printf("virtio-blk: configuration change: capacity %llu sectors (was %llu)\n",
	       (unsigned long long)cap, (unsigned long long)b->capacity);
	GUEST_ASSERT_EQ(cap, want);
	b->capacity = cap;
	GUEST_ASSERT_EQ(vblk_read(b, cap - 1, big, SECTOR), VIRTIO_BLK_S_OK);
	check_sectors(big, k->id, cap - 1, 1, false, "last sector after the change");
	GUEST_ASSERT_EQ(vblk_read(b, cap, big, SECTOR), VIRTIO_BLK_S_IOERR);
	puts("virtio-blk: new capacity: last sector matches, the next one is IOERR");
}

/* limited_reads=N min_ms=M: N single-sector reads take at least M ms. */
static void test_limited(struct disk *k, uint64_t n, uint64_t min_ms)
{
	struct vblk *b = &k->b;
	uint64_t t0 = virtio_ms(), ms;

	for (uint64_t i = 0; i < n; i++) {
		GUEST_ASSERT_EQ(vblk_read(b, i % b->capacity, big, SECTOR), VIRTIO_BLK_S_OK);
		check_sectors(big, k->id, i % b->capacity, 1, false, "rate-limited read");
	}
	ms = virtio_ms() - t0;
	printf("virtio-blk: %llu rate-limited reads took %llu ms\n", (unsigned long long)n,
	       (unsigned long long)ms);
	GUEST_ASSERT(ms >= min_ms);
}

/* Read sector 0 of (k) to learn its pattern index; check the capacity. */
static void identify(struct disk *k, unsigned i)
{
	struct vblk *b = &k->b;
	char key[16];
	uint64_t v, want;

	memset(big, 0xcc, SECTOR);
	GUEST_ASSERT_EQ(vblk_read(b, 0, big, SECTOR), VIRTIO_BLK_S_OK);
	memcpy(&v, big, 8);
	k->id = (unsigned)(v >> 56);
	if (v & ((1ULL << 56) - 1) || k->id >= MAX_DISKS) {
		printf("virtio-blk: device %u: sector 0 starts with %#llx, not a test pattern\n", i,
		       (unsigned long long)v);
		guest_fail(__FILE__, __LINE__, "unknown disk");
	}
	check_sectors(big, k->id, 0, 1, false, "sector 0");
	snprintf(key, sizeof(key), "sectors%u", k->id);
	want = cmdline_get_u64(key, cmdline_get_u64("sectors", b->capacity));
	printf("virtio-blk: device %u is disk %u: %llu sectors, features %#llx, size_max %u, "
	       "seg_max %u, blk_size %u\n", i, k->id, (unsigned long long)b->capacity,
	       (unsigned long long)b->dev->features, b->size_max, b->seg_max, b->blk_size);
	GUEST_ASSERT_EQ(b->capacity, want);
	GUEST_ASSERT(b->capacity > 0);
}

int guest_main(void)
{
	unsigned ndisks = (unsigned)cmdline_get_u64("disks", 1), seen = 0;
	unsigned qsize = (unsigned)cmdline_get_u64("qsize", 128);
	uint64_t want = VBLK_FEATURES;
	unsigned req = 0, kicks = 0, irqs = 0;
	struct disk *main_disk = NULL;

	poll = cmdline_flag("poll");
	if (cmdline_get_u64("event_idx", 1))
		want |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (cmdline_get_u64("indirect", 1))
		want |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	big = page_alloc(LARGE_BYTES / 4096 + 1);
	GUEST_ASSERT(big != NULL);
	virtio_probe();
	GUEST_ASSERT_EQ(virtio_count(VIRTIO_ID_BLOCK), ndisks);
	GUEST_ASSERT(ndisks >= 1 && ndisks <= MAX_DISKS);
	for (unsigned i = 0; i < ndisks; i++) {
		struct disk *k = &disks[i];
		struct virtio_dev *d = virtio_find(VIRTIO_ID_BLOCK, i);

		GUEST_ASSERT_EQ(d->version, 2);
		uint8_t vector = poll ? 0 : (uint8_t)(BLK_VECTOR + i);

		GUEST_ASSERT_EQ(vblk_init(&k->b, d, want, vector, qsize), 0);
		sti();
		identify(k, i);
		GUEST_ASSERT(!(seen & (1u << k->id)));
		seen |= 1u << k->id;
		if (k->id == 0)
			main_disk = k;
	}
	GUEST_ASSERT_EQ(seen, (1u << ndisks) - 1);
	printf("virtio-blk: mode %s, event_idx %s, indirect %s, queue size %u\n",
	       poll ? "polled" : "interrupt",
	       virtio_has(main_disk->b.dev, VIRTIO_F_EVENT_IDX) ? "on" : "off",
	       main_disk->b.indirect ? "on" : "off", main_disk->b.vq->num);

	test_single(main_disk);
	test_segments(main_disk);
	test_large(main_disk);
	test_batch(main_disk);
	test_out_of_range(main_disk);
	test_get_id(main_disk);
	if (cmdline_flag("ro"))
		test_read_only(main_disk);
	else if (cmdline_flag("write"))
		test_write(main_disk);
	if (cmdline_get_u64("resize", 0))
		test_resize(main_disk, cmdline_get_u64("resize", 0));
	if (cmdline_get_u64("limited_reads", 0))
		test_limited(main_disk, cmdline_get_u64("limited_reads", 0),
			     cmdline_get_u64("min_ms", 0));
	for (unsigned i = 0; i < ndisks; i++) {
		struct disk *k = &disks[i];

		if (k == main_disk)
			continue;
		GUEST_ASSERT_EQ(vblk_read(&k->b, k->b.capacity - 1, big, SECTOR), VIRTIO_BLK_S_OK);
		check_sectors(big, k->id, k->b.capacity - 1, 1, false, "last sector");
		printf("virtio-blk: disk %u: first and last sectors match\n", k->id);
	}

	for (unsigned i = 0; i < ndisks; i++) {
		struct vblk *b = &disks[i].b;

		if (!poll)
			GUEST_ASSERT(virtio_wait_irqs(b->dev, 1, VBLK_TIMEOUT_MS));
		GUEST_ASSERT_EQ(b->vq->nr_free, b->vq->num);
	}
	cli();
	for (unsigned i = 0; i < ndisks; i++) {
		req += disks[i].b.vq->added;
		kicks += disks[i].b.vq->kicks;
		irqs += disks[i].b.dev->irqs;
	}
	printf("virtio-blk: %u requests, %u kicks, %u interrupts\n", req, kicks, irqs);
	if (poll)
		GUEST_ASSERT_EQ(irqs, 0);
	puts("virtio-blk: all checks passed");
	return 0;
}
