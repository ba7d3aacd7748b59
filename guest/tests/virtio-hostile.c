/*
 * virtio-hostile: a driver that breaks the virtio rules on purpose, against
 * every virtio-blk device (or the one `blk=N` names), with a virtio-rng
 * device beside it that must keep working. Each attack uses the library's
 * raw API (virtq_raw_desc, register writes), then checks what lodge
 * documents (docs/GUEST-ABI.md, "virtio devices"): broken rings and chains
 * give DEVICE_NEEDS_RESET (status bit 64), a configuration interrupt when
 * DRIVER_OK was set, no used buffer and no further service; bad requests
 * get IOERR / UNSUPP; narrow or unknown register accesses are ignored.
 * After each attack the device is reset (status 0 must read back 0),
 * re-initialised, sectors read back with their pattern (the disk image of
 * scripts/blkimg.c, disk 0 or any d) and the rng answers a request.
 *
 *   attack=NAME[,NAME...]   attacks to run, or "all" (the default)
 *   blk=N                   attack only block device N (default: each in turn)
 *   strict=0|1              1 (default): an outcome other than lodge's
 *                           documented one fails the guest at the end;
 *                           0: it is printed ("differs: ...") and counted
 *
 * Prints "virtio-hostile: <attack>: <what happened>; recovered" per attack,
 * then "virtio-hostile: all N attacks survived"; status 1. A device that
 * cannot be recovered, or an rng that stops answering, fails at once (65).
 */
#include <stdarg.h>

#include "guest.h"
#include "virtio.h"
#include "virtio_blk.h"

#define BLK_VECTOR   0x40
#define RNG_VECTOR   0x48
#define MAX_BLK      4
#define QSIZE        16         /* queue size of the re-initialised device */
#define INFLIGHT_Q   128        /* queue size for the in-flight attacks */
#define INFLIGHT_ROUNDS 4
#define WAIT_MS      2000       /* for something that must happen */
#define QUIET_MS     60         /* for something that must not happen */
#define SECTOR       512
#define GOLDEN       0x9E3779B97F4A7C15ULL
#define BUF_BYTES    (64 * 1024)
#define BIG_BYTES    (INFLIGHT_Q * 4096)
#define ABOVE_RAM    0xfffffffff000ULL
#define LAPIC_PAGE   0xfee00000ULL
#define POISON       0xee       /* status byte before the device answers */
#define STATUS_NR    VIRTIO_STATUS_NEEDS_RESET

#define F_N VIRTQ_DESC_F_NEXT
#define F_W VIRTQ_DESC_F_WRITE
#define F_I VIRTQ_DESC_F_INDIRECT

/* A hand-made request (one page): header, status, indirect tables. */
struct raw_page {
	uint32_t type, reserved;
	uint64_t sector;
	volatile uint8_t status;
	uint8_t pad[239];
	struct virtq_desc t1[64];       /* indirect table (16-aligned: offset 256) */
	struct virtq_desc t2[8];        /* a second one, for nesting */
};

struct attack {
	const char *name;
	void (*fn)(void);
};

static struct virtio_dev *blk, *rng;
static unsigned blk_no;                 /* index among the block devices */
static unsigned disk_id;                /* d of the pattern, from sector 0 */
static struct vblk B;
static struct virtq *VQ;                /* the block queue the raw helpers use */
static struct virtq *rngq;
static struct raw_page *R;
static uint8_t *buf, *big;
static uint64_t want, capacity, ram_end;
static bool strict;

/* The attack in progress: its outcome text and how it differed. */
static const char *cur;
static char what[320];
static unsigned deviations, rng_answers;
static uint16_t used_before;
static unsigned cfg_before;

/* --- small helpers ------------------------------------------------------------ */

#define HDR    ((uint64_t)(uintptr_t)R)
#define STATUS ((uint64_t)(uintptr_t)&R->status)
#define BUF    ((uint64_t)(uintptr_t)buf)
#define T1     ((uint64_t)(uintptr_t)R->t1)
#define T2     ((uint64_t)(uintptr_t)R->t2)

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	size_t n = strlen(what);
	va_list ap;

	if (n && n + 2 < sizeof(what)) {
		what[n++] = ',';
		what[n++] = ' ';
		what[n] = 0;
	}
	va_start(ap, fmt);
	vsnprintf(what + n, sizeof(what) - n, fmt, ap);
	va_end(ap);
}

/* The device did not do what lodge documents. */
static void differs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void differs(const char *fmt, ...)
{
	char line[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("virtio-hostile: %s: differs: %s\n", cur, line);
	note("DIFFERS");
	deviations++;
}

static uint64_t pattern(uint64_t sector)
{
	return (sector * GOLDEN) ^ ((uint64_t)disk_id << 56);
}

static bool pattern_ok(const void *p, uint64_t sector, uint64_t n)
{
	const uint64_t *w = p;

	for (uint64_t s = 0; s < n; s++) {
		for (unsigned i = 0; i < SECTOR / 8; i++) {
			if (w[s * SECTOR / 8 + i] != pattern(sector + s))
				return false;
		}
	}
	return true;
}

static uint16_t used_idx(void)
{
	return VQ->used->idx;
}

static uint8_t status(void)
{
	return virtio_status(blk);
}

static uint16_t rd16(uint64_t a)
{
	return *(volatile uint16_t *)phys_ptr(a);
}

static void wr16(uint64_t a, uint16_t v)
{
	*(volatile uint16_t *)phys_ptr(a) = v;
}

/* Wait until (cond) holds or (ms) pass, sleeping between looks; returns cond. */
#define WAIT_FOR(cond, ms)                                                    \
	({                                                                    \
		uint64_t end_ = virtio_ms() + (ms);                           \
		while (!(cond) && virtio_ms() < end_)                         \
			virtio_idle();                                        \
		(cond);                                                       \
	})

/* --- the healthy paths --------------------------------------------------------- */

/* Reset and initialise the block device with (features) and a queue of (qsize). */
static void blk_up(uint64_t features, unsigned qsize)
{
	GUEST_ASSERT(virtio_reset(blk));
	GUEST_ASSERT_EQ(vblk_init(&B, blk, features, (uint8_t)(BLK_VECTOR + blk_no), qsize), 0);
	VQ = B.vq;
	sti();
}

/* (n) sectors at (sector) must read back with their pattern. */
static void read_check(uint64_t sector, uint32_t n)
{
	memset(buf, 0xcc, n * SECTOR);
	GUEST_ASSERT_EQ(vblk_read(&B, sector, buf, n * SECTOR), VIRTIO_BLK_S_OK);
	if (!pattern_ok(buf, sector, n))
		guest_fail(__FILE__, __LINE__, "%s: sectors %llu+%u do not hold their pattern", cur,
			   (unsigned long long)sector, n);
}

/* The rng must fill a 64-byte buffer. */
static void rng_check(void)
{
	static uint8_t r[64] __attribute__((aligned(64)));
	struct virtq_seg s = { (uint64_t)(uintptr_t)r, sizeof(r), true };
	uint32_t len = 0;
	bool nonzero = false;

	memset(r, 0, sizeof(r));
	GUEST_ASSERT(virtq_add(rngq, &s, 1, false, NULL) >= 0);
	virtq_notify(rngq);
	if (!virtq_wait(rngq, WAIT_MS))
		guest_fail(__FILE__, __LINE__, "%s: the rng device stopped answering", cur);
	GUEST_ASSERT(virtq_get_used(rngq, &len, NULL) >= 0);
	GUEST_ASSERT(len > 0 && len <= sizeof(r));
	for (uint32_t i = 0; i < len; i++)
		nonzero |= r[i] != 0;
	GUEST_ASSERT(nonzero);
	rng_answers++;
}

/* After an attack: reset, re-initialise, read, and the rng still works. */
static void recover(void)
{
	if (!virtio_reset(blk))
		guest_fail(__FILE__, __LINE__, "%s: status does not read back 0 after a reset "
			   "(%#x)", cur, status());
	blk_up(want, QSIZE);
	if (B.capacity != capacity)
		guest_fail(__FILE__, __LINE__, "%s: capacity %llu after the reset, was %llu", cur,
			   (unsigned long long)B.capacity, (unsigned long long)capacity);
	read_check(0, 1);
	read_check(capacity / 2, 8);
	read_check(capacity - 1, 1);
	rng_check();
}

/* --- raw requests ------------------------------------------------------------- */

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	virtq_raw_desc(VQ, i, addr, len, flags, next);
}

static void tdesc(struct virtq_desc *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next)
{
	t[i] = (struct virtq_desc){ addr, len, flags, next };
}

static void hdr(uint32_t type, uint64_t sector)
{
	R->type = type;
	R->reserved = 0;
	R->sector = sector;
	R->status = POISON;
}

/* Remember the device's state before the attack's request goes out. */
static void mark(void)
{
	used_before = used_idx();
	cfg_before = blk->config_irqs;
}

static void go(uint16_t head)
{
	mark();
	virtq_raw_publish(VQ, head);
	virtq_notify(VQ);
}

/* A read of sector 1 through descriptors 0 (header), 1 (addr, len) and 2 (status). */
static void read_via(uint64_t addr, uint32_t len)
{
	hdr(VIRTIO_BLK_T_IN, 1);
	desc(0, HDR, 16, F_N, 1);
	desc(1, addr, len, F_N | F_W, 2);
	desc(2, STATUS, 1, F_W, 0);
	go(0);
}

/* A valid 3-entry read chain of sector 1 into buf in table (t). */
static void table_read(struct virtq_desc *t)
{
	hdr(VIRTIO_BLK_T_IN, 1);
	tdesc(t, 0, HDR, 16, F_N, 1);
	tdesc(t, 1, BUF, SECTOR, F_N | F_W, 2);
	tdesc(t, 2, STATUS, 1, F_W, 0);
}

/* --- expectations --------------------------------------------------------------- */

static const char *status_text(uint8_t s)
{
	static char t[80];

	snprintf(t, sizeof(t), "status %#x%s%s%s", s,
		 s & VIRTIO_STATUS_DRIVER_OK ? " DRIVER_OK" : "",
		 s & STATUS_NR ? " NEEDS_RESET" : "", s & VIRTIO_STATUS_FAILED ? " FAILED" : "");
	return t;
}

/*
 * The device must set DEVICE_NEEDS_RESET, interrupt (config change) when
 * (live), leave the used ring alone and ignore further kicks.
 */
static void expect_broken(bool live)
{
	if (!WAIT_FOR(status() & STATUS_NR, WAIT_MS)) {
		if (used_idx() != used_before)
			differs("expected DEVICE_NEEDS_RESET; the request completed, blk status %#x, "
				"used length %u", R->status, VQ->used->ring[used_before % VQ->num].len);
		else
			differs("expected DEVICE_NEEDS_RESET; nothing happened in %u ms (%s)",
				WAIT_MS, status_text(status()));
		return;
	}
	note("DEVICE_NEEDS_RESET");
	if (live) {
		if (WAIT_FOR(blk->config_irqs > cfg_before, WAIT_MS))
			note("config interrupt");
		else
			differs("no configuration interrupt with DEVICE_NEEDS_RESET");
	}
	if (used_idx() != used_before)
		differs("used index moved from %u to %u", used_before, used_idx());
	virtq_notify(VQ);
	virtio_sleep_ms(QUIET_MS);
	if (used_idx() != used_before)
		differs("a kick after DEVICE_NEEDS_RESET was served");
	else if (live)
		note("later kicks ignored");
}

/* Broken before DRIVER_OK (queue set-up): NEEDS_RESET at once, QueueReady 0, never live. */
static void expect_broken_setup(void)
{
	uint8_t s = status();
	uint32_t ready = virtio_read32(blk, VIRTIO_MMIO_QUEUE_READY);

	if (!(s & STATUS_NR)) {
		differs("expected DEVICE_NEEDS_RESET after QueueReady; %s, QueueReady %u",
			status_text(s), ready);
		return;
	}
	note("DEVICE_NEEDS_RESET at QueueReady");
	if (ready)
		differs("QueueReady reads %u", ready);
	else
		note("QueueReady 0");
	virtio_set_status(blk, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	s = status();
	if (!(s & STATUS_NR))
		differs("DRIVER_OK cleared DEVICE_NEEDS_RESET (%s)", status_text(s));
	else
		note("DRIVER_OK keeps it");
}

/* Take the used entries of raw requests out of the library's sight. */
static void absorb(void)
{
	VQ->last_used = used_idx();
	if (VQ->event_idx)
		*VQ->used_event = VQ->last_used;
}

/* The raw request must complete with blk status (st) and used length (len); device live. */
static void expect_done(uint8_t st, uint32_t len)
{
	uint32_t got_len;

	if (!WAIT_FOR(used_idx() != used_before || (status() & STATUS_NR), WAIT_MS)) {
		differs("no answer in %u ms (%s)", WAIT_MS, status_text(status()));
		return;
	}
	if (used_idx() == used_before) {
		differs("DEVICE_NEEDS_RESET instead of an answer");
		return;
	}
	got_len = VQ->used->ring[used_before % VQ->num].len;
	if (R->status != st || got_len != len)
		differs("blk status %#x used length %u, expected %#x and %u", R->status, got_len,
			st, len);
	else
		note("answered: blk status %#x, used length %u", st, len);
	if (status() & STATUS_NR)
		differs("DEVICE_NEEDS_RESET set (%s)", status_text(status()));
	absorb();
}

/* Nothing may happen to the queue for a while, and the device stays live. */
static void expect_quiet(const char *after)
{
	virtio_sleep_ms(QUIET_MS);
	if (used_idx() != used_before)
		differs("a buffer was used after %s", after);
	else if (status() & STATUS_NR)
		differs("DEVICE_NEEDS_RESET after %s", after);
	else
		note("%s ignored", after);
}

/* The device must still serve a normal read without being reset. */
static void expect_still_works(void)
{
	uint8_t s = status();

	if (s & STATUS_NR) {
		differs("%s: the device needs a reset", status_text(s));
		return;
	}
	memset(buf, 0xcc, SECTOR);
	if (vblk_read(&B, 3, buf, SECTOR) != VIRTIO_BLK_S_OK || !pattern_ok(buf, 3, 1))
		differs("a read afterwards failed");
	else
		note("device still serves reads");
}

/* --- descriptor chains ------------------------------------------------------------ */

static void a_loop_self(void)
{
	hdr(VIRTIO_BLK_T_IN, 1);
	desc(0, HDR, 16, F_N, 0);
	go(0);
	expect_broken(true);
}

static void a_loop_2(void)
{
	hdr(VIRTIO_BLK_T_IN, 1);
	desc(0, HDR, 16, F_N, 1);
	desc(1, BUF, SECTOR, F_N | F_W, 0);
	go(0);
	expect_broken(true);
}

/* Every descriptor of the queue in one chain, the last one leading back to the second. */
static void a_chain_long(void)
{
	hdr(VIRTIO_BLK_T_IN, 1);
	desc(0, HDR, 16, F_N, 1);
	for (uint16_t i = 1; i < VQ->num; i++)
		desc(i, BUF + 32u * i, 32, F_N | F_W, (uint16_t)(i + 1 < VQ->num ? i + 1 : 1));
	go(0);
	expect_broken(true);
}

static void a_next_out_of_range(void)
{
	hdr(VIRTIO_BLK_T_IN, 1);
	desc(0, HDR, 16, F_N, 1);
	desc(1, BUF, SECTOR, F_N | F_W, VQ->num);
	go(0);
	expect_broken(true);
}

static void a_head_out_of_range(void)
{
	hdr(VIRTIO_BLK_T_IN, 1);
	desc(0, HDR, 16, F_N, 1);
	desc(1, BUF, SECTOR, F_N | F_W, 2);
	desc(2, STATUS, 1, F_W, 0);
	go((uint16_t)(VQ->num + 5));
	expect_broken(true);
}

static void a_readable_after_writable(void)
{
	hdr(VIRTIO_BLK_T_IN, 1);
	desc(0, HDR, 16, F_N, 1);
	desc(1, BUF, SECTOR, F_N | F_W, 2);
	desc(2, BUF + SECTOR, 16, F_N, 3);
	desc(3, STATUS, 1, F_W, 0);
	go(0);
	expect_broken(true);
}

/* --- buffer addresses and lengths ---------------------------------------------------- */

static void a_buf_above_ram(void)
{
	read_via(ABOVE_RAM, SECTOR);
	expect_broken(true);
}

/* The device's own register page (lodge: 0xd0000000 for the first device, the MMIO hole). */
static void a_buf_mmio(void)
{
	note("buffer at %#llx", (unsigned long long)blk->base);
	read_via(blk->base, SECTOR);
	expect_broken(true);
}

static void a_buf_lapic(void)
{
	read_via(LAPIC_PAGE, SECTOR);
	expect_broken(true);
}

static void a_buf_straddle(void)
{
	note("buffer at %#llx, RAM ends at %#llx", (unsigned long long)(ram_end - 256),
	     (unsigned long long)ram_end);
	read_via(ram_end - 256, SECTOR);
	expect_broken(true);
}

static void a_buf_wrap(void)
{
	read_via(0xffffffffffffff00ULL, SECTOR);
	expect_broken(true);
}

static void a_len_huge(void)
{
	read_via(BUF, 0xffffffffu);
	expect_broken(true);
}

/* A zero-length descriptor at an address outside RAM, between good ones. */
static void a_len_zero(void)
{
	memset(buf, 0xcc, SECTOR);
	hdr(VIRTIO_BLK_T_IN, 1);
	desc(0, HDR, 16, F_N, 1);
	desc(1, BUF, SECTOR, F_N | F_W, 2);
	desc(2, ABOVE_RAM, 0, F_N | F_W, 3);
	desc(3, STATUS, 1, F_W, 0);
	go(0);
	expect_done(VIRTIO_BLK_S_OK, SECTOR + 1);
	if (R->status == VIRTIO_BLK_S_OK && !pattern_ok(buf, 1, 1))
		differs("the data around the empty descriptor is wrong");
}

/* --- indirect descriptors ----------------------------------------------------------- */

static void a_indirect_len_odd(void)
{
	table_read(R->t1);
	desc(0, T1, 40, F_I, 0);
	go(0);
	expect_broken(true);
}

static void a_indirect_len_zero(void)
{
	table_read(R->t1);
	desc(0, T1, 0, F_I, 0);
	go(0);
	expect_broken(true);
}

static void a_indirect_huge(void)
{
	table_read(R->t1);
	desc(0, T1, 0xfffffff0u, F_I, 0);
	go(0);
	expect_broken(true);
}

static void a_indirect_nested(void)
{
	table_read(R->t2);
	tdesc(R->t1, 0, T2, 3 * 16, F_I, 0);
	desc(0, T1, 16, F_I, 0);
	go(0);
	expect_broken(true);
}

static void a_indirect_next(void)
{
	table_read(R->t1);
	desc(0, T1, 3 * 16, F_I | F_N, 1);
	desc(1, BUF + SECTOR, 16, F_W, 0);
	go(0);
	expect_broken(true);
}

static void a_indirect_loop(void)
{
	table_read(R->t1);
	tdesc(R->t1, 2, STATUS, 1, F_W | F_N, 1);
	desc(0, T1, 3 * 16, F_I, 0);
	go(0);
	expect_broken(true);
}

static void a_indirect_outside(void)
{
	desc(0, ABOVE_RAM, 3 * 16, F_I, 0);
	go(0);
	expect_broken(true);
}

/* VIRTIO_F_INDIRECT_DESC not negotiated, yet an indirect descriptor. */
static void a_indirect_unnegotiated(void)
{
	blk_up(want & ~VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC), QSIZE);
	table_read(R->t1);
	desc(0, T1, 3 * 16, F_I, 0);
	go(0);
	expect_broken(true);
}

/* --- queue configuration ------------------------------------------------------------ */

/* Negotiate, then configure queue 0 by hand and set QueueReady. */
static void queue_by_hand(uint32_t num, uint64_t desc_a, uint64_t avail_a, uint64_t used_a)
{
	GUEST_ASSERT(virtio_reset(blk));
	GUEST_ASSERT_EQ(virtio_negotiate(blk, want), 0);
	virtio_write32(blk, VIRTIO_MMIO_QUEUE_SEL, 0);
	virtio_write32(blk, VIRTIO_MMIO_QUEUE_NUM, num);
	virtio_write32(blk, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc_a);
	virtio_write32(blk, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc_a >> 32));
	virtio_write32(blk, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail_a);
	virtio_write32(blk, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail_a >> 32));
	virtio_write32(blk, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used_a);
	virtio_write32(blk, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used_a >> 32));
	virtio_write32(blk, VIRTIO_MMIO_QUEUE_READY, 1);
	expect_broken_setup();
}

/* Rings for a queue of (num) entries, fresh and zeroed: descriptors, avail, used. */
static uint64_t rings(uint32_t num, uint64_t *avail_a, uint64_t *used_a)
{
	size_t d = VIRTQ_DESC_BYTES(num), a = (VIRTQ_AVAIL_BYTES(num) + 4095) & ~4095ul;
	uint8_t *p = page_alloc((d + a + VIRTQ_USED_BYTES(num) + 4095) / 4096 + 1);

	GUEST_ASSERT(p != NULL);
	*avail_a = (uint64_t)(uintptr_t)p + d;
	*used_a = *avail_a + a;
	return (uint64_t)(uintptr_t)p;
}

static void a_qsize_zero(void)
{
	uint64_t av, us, de = rings(QSIZE, &av, &us);

	queue_by_hand(0, de, av, us);
}

static void a_qsize_npot(void)
{
	uint64_t av, us, de = rings(QSIZE, &av, &us);

	queue_by_hand(12, de, av, us);
}

static void a_qsize_above_max(void)
{
	uint32_t max;
	uint64_t av, us, de;

	virtio_write32(blk, VIRTIO_MMIO_QUEUE_SEL, 0);
	max = virtio_read32(blk, VIRTIO_MMIO_QUEUE_NUM_MAX);
	GUEST_ASSERT(max > 0 && max <= VIRTQ_MAX_SIZE / 2);
	de = rings(2 * max, &av, &us);
	note("QueueNum %u, QueueNumMax %u", 2 * max, max);
	queue_by_hand(2 * max, de, av, us);
}

/* The descriptor table over the device's own registers. */
static void a_ring_mmio(void)
{
	uint64_t av, us;

	rings(QSIZE, &av, &us);
	queue_by_hand(QSIZE, blk->base, av, us);
}

/* The avail ring just past the end of RAM. */
static void a_ring_outside(void)
{
	uint64_t av, us, de = rings(QSIZE, &av, &us);

	queue_by_hand(QSIZE, de, ram_end, us);
}

static void a_ring_high(void)
{
	uint64_t av, us, de = rings(QSIZE, &av, &us);

	queue_by_hand(QSIZE, de, av, ABOVE_RAM);
}

static void a_ring_misaligned(void)
{
	uint64_t av, us, de = rings(QSIZE, &av, &us);

	queue_by_hand(QSIZE, de + 8, av, us);
}

/* The used ring across the end of RAM. */
static void a_ring_straddle(void)
{
	uint64_t av, us, de = rings(QSIZE, &av, &us);

	queue_by_hand(QSIZE, de, av, ram_end - 64);
}

/* avail->idx more than the queue size ahead of what the device took. */
static void a_avail_jump(void)
{
	mark();
	virtq_raw_set_avail_idx(VQ, (uint16_t)(VQ->avail_idx + VQ->num + 1));
	virtq_notify(VQ);
	expect_broken(true);
}

/* --- the status machine and registers ------------------------------------------------- */

/* QueueNotify before FEATURES_OK, and with a buffer ready before DRIVER_OK. */
static void a_notify_early(void)
{
	uint8_t s;

	GUEST_ASSERT(virtio_reset(blk));
	virtio_set_status(blk, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_set_status(blk, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_write32(blk, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_sleep_ms(QUIET_MS);
	s = status();
	if (s != (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER))
		differs("a kick before FEATURES_OK changed the status: %s", status_text(s));
	else
		note("kick before FEATURES_OK ignored");

	GUEST_ASSERT_EQ(virtio_negotiate(blk, want), 0);
	VQ = virtq_setup(blk, 0, QSIZE);
	GUEST_ASSERT(VQ != NULL);
	virtio_irq_enable(blk, (uint8_t)(BLK_VECTOR + blk_no));
	memset(buf, 0xcc, SECTOR);
	read_via(BUF, SECTOR);
	expect_quiet("a kick before DRIVER_OK");
	virtio_driver_ok(blk);
	expect_done(VIRTIO_BLK_S_OK, SECTOR + 1);
	if (R->status == VIRTIO_BLK_S_OK && pattern_ok(buf, 1, 1))
		note("served at DRIVER_OK");
	else
		differs("the buffer made available before DRIVER_OK was not served right");
}

/* Features the device did not offer, and no VERSION_1: FEATURES_OK must not stick. */
static void a_features_unoffered(void)
{
	const uint8_t ad = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	uint64_t offered, f;
	int bit;

	GUEST_ASSERT(virtio_reset(blk));
	virtio_set_status(blk, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_set_status(blk, ad);
	offered = virtio_device_features(blk);
	for (bit = 63; bit >= 0 && (offered >> bit) & 1; bit--)
		;
	GUEST_ASSERT(bit >= 0);
	f = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(bit);
	virtio_write32(blk, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	virtio_write32(blk, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	virtio_write32(blk, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	virtio_write32(blk, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	virtio_set_status(blk, ad | VIRTIO_STATUS_FEATURES_OK);
	if (status() & VIRTIO_STATUS_FEATURES_OK)
		differs("FEATURES_OK stuck with bit %d, which was not offered", bit);
	else
		note("FEATURES_OK refused for unoffered bit %d", bit);

	GUEST_ASSERT(virtio_reset(blk));
	virtio_set_status(blk, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_set_status(blk, ad);
	virtio_write32(blk, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	virtio_write32(blk, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	virtio_write32(blk, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	virtio_write32(blk, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	virtio_set_status(blk, ad | VIRTIO_STATUS_FEATURES_OK);
	if (status() & VIRTIO_STATUS_FEATURES_OK)
		differs("FEATURES_OK stuck without VERSION_1");
	else
		note("refused without VERSION_1");

	/* DRIVER_OK regardless: the device must not go live. */
	virtio_set_status(blk, ad | VIRTIO_STATUS_DRIVER_OK);
	uint8_t s = status();
	if ((s & VIRTIO_STATUS_DRIVER_OK) && !(s & STATUS_NR))
		differs("DRIVER_OK without FEATURES_OK accepted (%s)", status_text(s));
	else
		note("DRIVER_OK then: %s", status_text(s));
}

/* 1- and 2-byte and misaligned register accesses: read 0, writes ignored. */
static void a_narrow_regs(void)
{
	uint64_t base = blk->base;
	uint8_t s0 = status();
	uint32_t r8, r16, rmis;

	r8 = mmio_read8(base + VIRTIO_MMIO_MAGIC_VALUE);
	r16 = rd16(base + VIRTIO_MMIO_VERSION);
	rmis = mmio_read32(base + VIRTIO_MMIO_STATUS + 2);
	if (r8 || r16 || rmis)
		differs("narrow/misaligned reads gave %#x %#x %#x, expected 0", r8, r16, rmis);
	else
		note("narrow and misaligned reads give 0");
	mmio_write8(base + VIRTIO_MMIO_STATUS, 0);
	wr16(base + VIRTIO_MMIO_STATUS, 0);
	mmio_write32(base + VIRTIO_MMIO_STATUS + 1, 0);
	if (status() != s0)
		differs("narrow writes of 0 to Status changed it: %s", status_text(status()));
	else
		note("narrow writes to Status ignored");
	/* A narrow QueueNotify is not a kick (lodge's ioeventfd and register take 32 bits). */
	memset(buf, 0xcc, SECTOR);
	hdr(VIRTIO_BLK_T_IN, 1);
	desc(0, HDR, 16, F_N, 1);
	desc(1, BUF, SECTOR, F_N | F_W, 2);
	desc(2, STATUS, 1, F_W, 0);
	mark();
	virtq_raw_publish(VQ, 0);
	mmio_write8(base + VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	wr16(base + VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	expect_quiet("narrow QueueNotify writes");
	virtq_notify(VQ);
	expect_done(VIRTIO_BLK_S_OK, SECTOR + 1);
}

/*
 * Config space: an 8-byte read, reads and writes past its end (up to the end
 * of the register window), writes to read-only fields.
 */
static void a_config_oob(void)
{
	uint32_t end = (uint32_t)(blk->size - VIRTIO_MMIO_CONFIG), far = 0, edge;
	uint64_t c64;
	uint8_t last;

	c64 = *(volatile uint64_t *)phys_ptr(blk->base + VIRTIO_MMIO_CONFIG);
	if (c64 != capacity)
		differs("an 8-byte read of capacity gave %#llx", (unsigned long long)c64);
	for (uint32_t off = 0x100; off + 4 <= end; off += 0x100)
		far |= virtio_cfg_read32(blk, off);
	edge = virtio_cfg_read32(blk, end - 4);
	last = virtio_cfg_read8(blk, end - 1);
	if (far || edge || last)
		differs("reads past the config space gave %#x %#x %#x, expected 0", far, edge, last);
	else
		note("reads past the config space give 0");
	virtio_cfg_write32(blk, end - 4, 0xffffffffu);
	virtio_cfg_write8(blk, end - 1, 0xff);
	virtio_cfg_write32(blk, 0, 0xffffffffu);
	virtio_cfg_write16(blk, 4, 0xffff);
	c64 = virtio_cfg_read64(blk, VIRTIO_BLK_CFG_CAPACITY);
	if (c64 != capacity)
		differs("capacity changed by a config write: %#llx", (unsigned long long)c64);
	else
		note("writes ignored, capacity unchanged");
	expect_still_works();
}

/* QueueNotify and QueueSel with queue indices the device does not have. */
static void a_bad_queue_index(void)
{
	static const uint32_t bad[] = { 1, 8, 0xffff, 0x10000, 0xffffffffu };
	unsigned before = deviations;
	uint32_t nmax, ready;

	mark();
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++)
		virtio_write32(blk, VIRTIO_MMIO_QUEUE_NOTIFY, bad[i]);
	expect_quiet("QueueNotify 1, 8, 0xffff, 0x10000, 0xffffffff");
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		virtio_write32(blk, VIRTIO_MMIO_QUEUE_SEL, bad[i]);
		virtio_write32(blk, VIRTIO_MMIO_QUEUE_NUM, 16);
		virtio_write32(blk, VIRTIO_MMIO_QUEUE_READY, 1);
		nmax = virtio_read32(blk, VIRTIO_MMIO_QUEUE_NUM_MAX);
		ready = virtio_read32(blk, VIRTIO_MMIO_QUEUE_READY);
		if (nmax || ready)
			differs("QueueSel %#x: QueueNumMax %u, QueueReady %u; expected 0 and 0", bad[i],
				nmax, ready);
	}
	virtio_write32(blk, VIRTIO_MMIO_QUEUE_SEL, 0);
	if (virtio_read32(blk, VIRTIO_MMIO_QUEUE_READY) != 1)
		differs("queue 0 is no longer ready");
	if (deviations == before)
		note("queues that do not exist read QueueNumMax 0, QueueReady 0");
	expect_still_works();
}

/* --- bad requests (the device answers them) -------------------------------------------- */

static void request_status(const char *name, uint8_t got, uint8_t exp, bool exact)
{
	if (exact ? got != exp : got == VIRTIO_BLK_S_OK)
		differs("%s: blk status %#x, expected %s%#x", name, got, exact ? "" : "not OK, e.g. ",
			exp);
}

static void a_bad_requests(void)
{
	struct virtq_seg one = { BUF, SECTOR, true }, two = { BUF, 2 * SECTOR, true };
	struct virtq_seg odd = { BUF, 100, true };

	request_status("read at capacity", vblk_do(&B, VIRTIO_BLK_T_IN, capacity, &one, 1, NULL),
		       VIRTIO_BLK_S_IOERR, true);
	request_status("read of 2 sectors at capacity - 1",
		       vblk_do(&B, VIRTIO_BLK_T_IN, capacity - 1, &two, 1, NULL), VIRTIO_BLK_S_IOERR,
		       true);
	request_status("read at sector 2^64 - 1", vblk_do(&B, VIRTIO_BLK_T_IN, ~0ULL, &one, 1, NULL),
		       VIRTIO_BLK_S_IOERR, true);
	request_status("read of 100 bytes", vblk_do(&B, VIRTIO_BLK_T_IN, 0, &odd, 1, NULL),
		       VIRTIO_BLK_S_IOERR, true);
	request_status("request type 0x7fffffff",
		       vblk_do(&B, 0x7fffffff, 0, &one, 1, NULL), VIRTIO_BLK_S_UNSUPP, true);
	note("IOERR for bad sectors and lengths, UNSUPP for an unknown type");
	if (virtio_has(blk, VIRTIO_BLK_F_WRITE_ZEROES))
		request_status("write zeroes at 2^64 - 8",
			       vblk_range(&B, VIRTIO_BLK_T_WRITE_ZEROES, ~0ULL - 7, 16, 0),
			       VIRTIO_BLK_S_IOERR, false);
	if (virtio_has(blk, VIRTIO_BLK_F_DISCARD))
		request_status("discard of 2^32 - 1 sectors",
			       vblk_range(&B, VIRTIO_BLK_T_DISCARD, 0, 0xffffffffu, 0),
			       VIRTIO_BLK_S_UNSUPP, false);
	if (virtio_has(blk, VIRTIO_BLK_F_DISCARD) || virtio_has(blk, VIRTIO_BLK_F_WRITE_ZEROES))
		note("out-of-range discard / write zeroes refused");
	expect_still_works();
}

/* A header of 8 bytes instead of 16: IOERR. */
static void a_short_header(void)
{
	hdr(VIRTIO_BLK_T_IN, 0);
	desc(0, HDR, 8, F_N, 1);
	desc(1, STATUS, 1, F_W, 0);
	go(0);
	expect_done(VIRTIO_BLK_S_IOERR, 1);
	expect_still_works();
}

/* No writable byte for the status: given back with length 0. */
static void a_no_status(void)
{
	hdr(VIRTIO_BLK_T_IN, 0);
	desc(0, HDR, 16, F_N, 1);
	desc(1, BUF, SECTOR, 0, 0);
	go(0);
	expect_done(POISON, 0);
	expect_still_works();
}

/* --- requests in flight ------------------------------------------------------------------ */

static uint64_t hash(const void *p, size_t n, uint64_t h)
{
	const volatile uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* What the device may write: data, status bytes, the used ring. */
struct inflight_view {
	uint64_t data, status, used;
};

static void inflight_look(unsigned n, struct inflight_view *v)
{
	const uint64_t seed = 0xcbf29ce484222325ULL;

	v->data = hash(big, (size_t)n * 4096, seed);
	v->status = hash(B.reqs, sizeof(*B.reqs) * B.vq->num, seed);
	v->used = hash((const void *)VQ->used, VIRTQ_USED_BYTES(VQ->num), seed);
}

/*
 * Fill the queue with 4 KiB reads, kick, and at once (stop) it: reset
 * (status 0) or QueueReady 0, each read back until it took. From then on the
 * device must not write guest memory (§4.2.2.2, §2.4). Reads that completed
 * must hold the right data. Returns the number completed before the stop;
 * false in (*clean) when something was written after it.
 */
static unsigned inflight_round(bool reset, bool *clean)
{
	unsigned n = 0, done = 0;
	struct inflight_view v0, v1;
	uint64_t t0;

	blk_up(want, INFLIGHT_Q);
	memset(big, 0xcc, BIG_BYTES);
	while (n < INFLIGHT_Q && 8ULL * (n + 1) <= capacity) {
		struct virtq_seg s = { (uint64_t)(uintptr_t)big + 4096ULL * n, 4096, true };

		if (vblk_submit(&B, VIRTIO_BLK_T_IN, 8ULL * n, &s, 1, 0, 0, 0) < 0)
			break;
		n++;
	}
	GUEST_ASSERT(n >= 2);
	virtq_notify(VQ);
	t0 = virtio_ms();
	if (reset) {
		virtio_set_status(blk, 0);
		while (status() != 0)
			GUEST_ASSERT(virtio_ms() - t0 < WAIT_MS);
	} else {
		virtio_write32(blk, VIRTIO_MMIO_QUEUE_SEL, 0);
		virtio_write32(blk, VIRTIO_MMIO_QUEUE_READY, 0);
		while (virtio_read32(blk, VIRTIO_MMIO_QUEUE_READY) != 0)
			GUEST_ASSERT(virtio_ms() - t0 < WAIT_MS);
	}
	inflight_look(n, &v0);
	for (unsigned i = 0; i < B.vq->num; i++) {
		struct vblk_req *r = &B.reqs[i];

		if (!r->busy || r->status == POISON)
			continue;
		done++;
		if (r->status != VIRTIO_BLK_S_OK || !pattern_ok(big + 4096ULL * (r->sector / 8),
								r->sector, 8))
			differs("request for sector %llu: status %#x or data wrong",
				(unsigned long long)r->sector, r->status);
	}
	virtio_sleep_ms(QUIET_MS * 2);
	inflight_look(n, &v1);
	*clean = v0.data == v1.data && v0.status == v1.status && v0.used == v1.used;
	if (!*clean)
		differs("%u reads in flight, %u completed before %s read back; then the device "
			"wrote%s%s%s (used index %u)", n, done, reset ? "status 0" : "QueueReady 0",
			v0.data != v1.data ? " data" : "", v0.status != v1.status ? " status bytes" : "",
			v0.used != v1.used ? " used ring" : "", used_idx());
	return done;
}

/* A few rounds: whether the device was still busy when the stop came is a matter of timing. */
static void inflight(bool reset)
{
	unsigned lo = ~0u, hi = 0, r;
	bool clean = true;

	for (r = 0; r < INFLIGHT_ROUNDS && clean; r++) {
		unsigned done = inflight_round(reset, &clean);

		lo = done < lo ? done : lo;
		hi = done > hi ? done : hi;
	}
	note("%s with %u reads in flight, %u time%s: %u to %u completed before", reset ? "reset" :
	     "QueueReady 0", B.vq->num, r, r == 1 ? "" : "s", lo, hi);
	if (clean)
		note("nothing written after");
}

static void a_reset_in_flight(void)
{
	inflight(true);
}

static void a_unready_in_flight(void)
{
	inflight(false);
}

/* --- the attacks, in order ----------------------------------------------------------------- */

static const struct attack attacks[] = {
	{ "loop-self", a_loop_self },
	{ "loop-2", a_loop_2 },
	{ "chain-long", a_chain_long },
	{ "next-out-of-range", a_next_out_of_range },
	{ "head-out-of-range", a_head_out_of_range },
	{ "readable-after-writable", a_readable_after_writable },
	{ "buf-above-ram", a_buf_above_ram },
	{ "buf-mmio", a_buf_mmio },
	{ "buf-lapic", a_buf_lapic },
	{ "buf-straddle", a_buf_straddle },
	{ "buf-wrap", a_buf_wrap },
	{ "len-huge", a_len_huge },
	{ "len-zero", a_len_zero },
	{ "indirect-len-odd", a_indirect_len_odd },
	{ "indirect-len-zero", a_indirect_len_zero },
	{ "indirect-huge", a_indirect_huge },
	{ "indirect-nested", a_indirect_nested },
	{ "indirect-next", a_indirect_next },
	{ "indirect-loop", a_indirect_loop },
	{ "indirect-outside", a_indirect_outside },
	{ "indirect-unnegotiated", a_indirect_unnegotiated },
	{ "qsize-zero", a_qsize_zero },
	{ "qsize-npot", a_qsize_npot },
	{ "qsize-above-max", a_qsize_above_max },
	{ "ring-mmio", a_ring_mmio },
	{ "ring-outside", a_ring_outside },
	{ "ring-high", a_ring_high },
	{ "ring-misaligned", a_ring_misaligned },
	{ "ring-straddle", a_ring_straddle },
	{ "avail-jump", a_avail_jump },
	{ "notify-early", a_notify_early },
	{ "features-unoffered", a_features_unoffered },
	{ "narrow-regs", a_narrow_regs },
	{ "config-oob", a_config_oob },
	{ "bad-queue-index", a_bad_queue_index },
	{ "bad-requests", a_bad_requests },
	{ "short-header", a_short_header },
	{ "no-status", a_no_status },
	{ "reset-in-flight", a_reset_in_flight },
	{ "unready-in-flight", a_unready_in_flight },
};

/* Is (name) in the comma-separated list (list), or is the list "all"? */
static bool selected(const char *list, const char *name)
{
	size_t n = strlen(name);

	if (strcmp(list, "all") == 0)
		return true;
	for (const char *p = list; *p;) {
		const char *e = p;

		while (*e && *e != ',')
			e++;
		if ((size_t)(e - p) == n && strncmp(p, name, n) == 0)
			return true;
		p = *e ? e + 1 : e;
	}
	return false;
}

/* Every name in (list) must be an attack. */
static void check_names(const char *list)
{
	if (strcmp(list, "all") == 0)
		return;
	for (const char *p = list; *p;) {
		const char *e = p;
		bool known = false;

		while (*e && *e != ',')
			e++;
		for (unsigned i = 0; i < ARRAY_SIZE(attacks); i++)
			known |= strlen(attacks[i].name) == (size_t)(e - p) &&
				 strncmp(p, attacks[i].name, (size_t)(e - p)) == 0;
		if (!known)
			guest_fail(__FILE__, __LINE__, "unknown attack \"%.*s\"", (int)(e - p), p);
		p = *e ? e + 1 : e;
	}
}

/* The highest end of a RAM region below 4 GiB. */
static uint64_t find_ram_end(void)
{
	const struct boot_info *bi = boot_info();
	uint64_t end = 0;

	for (unsigned i = 0; i < bi->nr_mem; i++) {
		const struct mem_region *r = &bi->mem[i];

		if (r->type == MEM_RAM && r->addr + r->size <= (4ULL << 30) &&
		    r->addr + r->size > end)
			end = r->addr + r->size;
	}
	return end;
}

static unsigned attack_device(const char *list)
{
	uint64_t v;
	unsigned n = 0;

	blk_up(want, QSIZE);
	capacity = B.capacity;
	GUEST_ASSERT(capacity >= 1024);
	GUEST_ASSERT_EQ(vblk_read(&B, 0, buf, SECTOR), VIRTIO_BLK_S_OK);
	memcpy(&v, buf, 8);
	disk_id = (unsigned)(v >> 56);
	cur = "start";
	read_check(0, 1);
	printf("virtio-hostile: block device %u at %#llx: disk %u, %llu sectors, features %#llx\n",
	       blk_no, (unsigned long long)blk->base, disk_id, (unsigned long long)capacity,
	       (unsigned long long)blk->features);
	for (unsigned i = 0; i < ARRAY_SIZE(attacks); i++) {
		if (!selected(list, attacks[i].name))
			continue;
		cur = attacks[i].name;
		what[0] = 0;
		attacks[i].fn();
		recover();
		printf("virtio-hostile: %s: %s; recovered\n", cur, what);
		n++;
	}
	return n;
}

int guest_main(void)
{
	const char *list = cmdline_get("attack");
	uint64_t only = cmdline_get_u64("blk", ~0ULL);
	unsigned nblk, total = 0;

	if (!list || !*list)
		list = "all";
	check_names(list);
	strict = cmdline_get_u64("strict", 1) != 0;
	want = VBLK_FEATURES | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	R = page_alloc(1);
	buf = page_alloc(BUF_BYTES / 4096);
	big = page_alloc(BIG_BYTES / 4096);
	GUEST_ASSERT(R && buf && big);
	ram_end = find_ram_end();
	GUEST_ASSERT(ram_end > (uint64_t)(uintptr_t)big);

	virtio_probe();
	nblk = virtio_count(VIRTIO_ID_BLOCK);
	rng = virtio_find(VIRTIO_ID_RNG, 0);
	GUEST_ASSERT(nblk >= 1 && nblk <= MAX_BLK);
	GUEST_ASSERT(rng != NULL);
	GUEST_ASSERT_EQ(virtio_negotiate(rng, VIRTIO_BIT(VIRTIO_F_EVENT_IDX)), 0);
	rngq = virtq_setup(rng, 0, 16);
	GUEST_ASSERT(rngq != NULL);
	virtio_irq_enable(rng, RNG_VECTOR);
	virtio_driver_ok(rng);
	sti();
	cur = "start";
	rng_check();
	printf("virtio-hostile: %u block devices, rng at %#llx, RAM ends at %#llx, attacks: %s%s\n",
	       nblk, (unsigned long long)rng->base, (unsigned long long)ram_end, list,
	       strict ? "" : " (not strict)");

	for (blk_no = 0; blk_no < nblk; blk_no++) {
		if (only != ~0ULL && only != blk_no)
			continue;
		blk = virtio_find(VIRTIO_ID_BLOCK, blk_no);
		total += attack_device(list);
	}
	GUEST_ASSERT(total > 0);
	cli();
	printf("virtio-hostile: rng answered %u requests, %u interrupts\n", rng_answers, rng->irqs);
	if (deviations) {
		printf("virtio-hostile: %u outcomes differ from lodge's documented behaviour\n",
		       deviations);
		if (strict)
			guest_fail(__FILE__, __LINE__, "%u attacks had an undocumented outcome",
				   deviations);
	}
	printf("virtio-hostile: all %u attacks survived\n", total);
	return 0;
}
