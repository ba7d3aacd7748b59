/*
 * snapshot: a deterministic workload to snapshot mid-run and restore. Each
 * phase runs a long computation in ring 3 (ring 0 may be instruction-
 * emulated, ring 3 is not) folded into a 64-bit state, then virtio-blk I/O
 * driven by that state, completed by the device's interrupts: batches of
 * writes of new 4 KiB blocks in flight together with reads of blocks
 * written earlier, then reads of the new blocks; everything read is checked
 * against what was written and folded into the state. The library clock
 * (the LAPIC timer, periodic at 10 ms) ticks in the background. The result
 * depends only on rounds, work, depth and batches: not on timing, interrupt
 * counts, the disk's size or its initial contents (only blocks this run
 * wrote are read), so an uninterrupted run and a restored one (or a clone
 * with its own copy of the disk as it was at the snapshot) print the same
 * lines. The TSC is read several times per phase and must never decrease.
 *
 *   rounds=N     phases (default 20)
 *   work=M       ring-3 iterations per phase (default 80M; K/M/G suffixes)
 *   depth=D      writes (and old-block reads) in flight per batch, 1..16 (default 8)
 *   batches=B    I/O batches per phase (default 4)
 *
 * Disk: virtio-blk device 0, at least 1024 sectors (512 KiB); the guest
 * uses sectors [0, 1024) and writes before it reads.
 *
 * Prints "snapshot: phase K state=0x<16 hex>" after each phase, then
 * "snapshot: result=0x<16 hex>" and a line of counts and times (these vary
 * from run to run), and exits with 0 (lodge status 1). A TSC that went
 * backwards: "snapshot: clock went backwards ..." and status 65.
 *
 * Time: one work iteration is a dependent multiply, shift and two xors,
 * ~1.5 ns in ring 3 natively here and about the same under QEMU TCG. The
 * defaults (20 x 80M) take ~3.5 s under lodge on the kvm_pvm host: ~2.4 s
 * of ring 3, ~0.6 s of I/O (~1800 requests; its ring-0 driver code is what is
 * emulated there). Per phase, batches x (2 to 3 x depth) requests plus a
 * FLUSH. In the KVM lab (QEMU TCG, nested KVM: ~450M iterations/s, ~45 us
 * per exit, a few exits per request) count rounds x (work / 450M s +
 * ~90 requests x ~0.2 ms): e.g. rounds=20 work=20M takes ~1.3 s.
 */
#include "guest.h"
#include "virtio.h"
#include "virtio_blk.h"

#define BLK_VECTOR   0x40
#define SECTOR       512
#define BLOCK        4096
#define BLOCK_SECT   (BLOCK / SECTOR)
#define NBLOCKS      128        /* the disk area used: sectors [0, 1024) */
#define MAX_DEPTH    16
#define MAX_SLOTS    (2 * MAX_DEPTH)
#define WORDS        (BLOCK / 8)
#define GOLDEN       0x9E3779B97F4A7C15ULL

/* One 4 KiB request: disk block (block), its contents derived from (seed). */
struct io_slot {
	uint64_t block, seed;
	uint64_t *buf;
	int vslot;                      /* vblk slot while in flight */
	bool write;
};

/* What ring 3 works on (user-accessible). */
struct job {
	uint64_t state, work;
	unsigned n;                     /* slots for fill / check */
	struct io_slot slot[MAX_SLOTS];
	/* check: the first mismatch */
	bool bad;
	unsigned bad_slot, bad_word;
	uint64_t bad_got, bad_want;
};

USER_DATA static struct job job;

static struct vblk blk;
static uint64_t block_seed[NBLOCKS];    /* what each block holds; 0 = not written by this run */
static uint64_t last_tsc;
static unsigned requests, phase_now;

static inline __attribute__((always_inline)) uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Word (w) of a block filled from (seed) at (block). */
static inline __attribute__((always_inline)) uint64_t block_word(uint64_t seed, uint64_t block,
								unsigned w)
{
	return mix64(seed + block * GOLDEN + w);
}

/*
 * Ring 3 ends with ud2, caught in ring 0 (run_user), rather than returning
 * through syscall: on kvm_pvm hosts `syscall` from guest ring 3 lands in
 * LSTAR still at CPL 3 (guest/tests/ring3.c fails there the same way).
 */
#define USER_DONE()                                 \
	do {                                        \
		__asm__ volatile("ud2" ::: "memory"); \
		__builtin_unreachable();            \
	} while (0)

/* The heavy part: (work) dependent multiply-shift steps on the state. */
USER_TEXT static uint64_t user_compute(uint64_t arg)
{
	struct job *j = (struct job *)(uintptr_t)arg;
	uint64_t h = j->state, n = j->work;

	for (uint64_t i = 0; i < n; i++) {
		h = (h ^ i) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	j->state = h;
	USER_DONE();
}

/* Fill the write slots' buffers; poison the read slots' (0xcc). */
USER_TEXT static uint64_t user_fill(uint64_t arg)
{
	struct job *j = (struct job *)(uintptr_t)arg;

	for (unsigned s = 0; s < j->n; s++) {
		struct io_slot *io = &j->slot[s];

		for (unsigned w = 0; w < WORDS; w++)
			io->buf[w] = io->write ? block_word(io->seed, io->block, w)
					       : 0xccccccccccccccccULL;
	}
	USER_DONE();
}

/* Check the read slots' buffers and fold them into the state; the first mismatch in bad_*. */
USER_TEXT static uint64_t user_check(uint64_t arg)
{
	struct job *j = (struct job *)(uintptr_t)arg;
	uint64_t h = j->state;

	j->bad = false;
	for (unsigned s = 0; s < j->n && !j->bad; s++) {
		struct io_slot *io = &j->slot[s];

		if (io->write)
			continue;
		for (unsigned w = 0; w < WORDS; w++) {
			uint64_t want = block_word(io->seed, io->block, w);

			if (io->buf[w] != want) {
				j->bad = true;
				j->bad_slot = s;
				j->bad_word = w;
				j->bad_got = io->buf[w];
				j->bad_want = want;
				break;
			}
			h = (h + io->buf[w]) * GOLDEN;
			h ^= h >> 31;
		}
	}
	j->state = h;
	USER_DONE();
}

static void enter_user(void *fn)
{
	user_run(*(uint64_t (**)(uint64_t))fn, (uint64_t)(uintptr_t)&job);
}

/* Run (fn)(&job) in ring 3 with interrupts as they are; it ends with ud2. */
static void run_user(uint64_t (*fn)(uint64_t))
{
	struct trap_info ti;
	int v = trap_catch(enter_user, &fn, &ti);

	if (v != VEC_UD || ti.cs != (SEL_UCODE | 3)) {
		printf("snapshot: phase %u: exception %d (%s) rip=%#llx err=%#llx cr2=%#llx "
		       "cs=%#llx, expected #UD from ring 3\n", phase_now, v,
		       v >= 0 ? trap_name((unsigned)v) : "none", (unsigned long long)ti.rip,
		       (unsigned long long)ti.error_code, (unsigned long long)ti.cr2,
		       (unsigned long long)ti.cs);
		guest_fail(__FILE__, __LINE__, "ring 3 did not end as expected");
	}
}

/* The guest's clock must not go backwards, across a snapshot and restore included. */
static void clock_check(const char *where)
{
	uint64_t t = rdtsc();

	if (t < last_tsc) {
		printf("snapshot: clock went backwards in phase %u (%s): tsc %#llx after %#llx\n",
		       phase_now, where, (unsigned long long)t, (unsigned long long)last_tsc);
		guest_fail(__FILE__, __LINE__, "clock went backwards");
	}
	last_tsc = t;
}

static void slot_submit(struct io_slot *io)
{
	struct virtq_seg seg = { (uint64_t)(uintptr_t)io->buf, BLOCK, !io->write };

	io->vslot = vblk_submit(&blk, io->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
				io->block * BLOCK_SECT, &seg, 1, 0, 0, 0);
	GUEST_ASSERT(io->vslot >= 0);
	requests++;
}

/* Submit job.slot[0, n) with one kick, wait for each (interrupts), check the reads. */
static void run_requests(void)
{
	run_user(user_fill);
	for (unsigned s = 0; s < job.n; s++)
		slot_submit(&job.slot[s]);
	vblk_kick(&blk);
	clock_check("requests in flight");
	for (unsigned s = 0; s < job.n; s++) {
		struct io_slot *io = &job.slot[s];
		uint8_t st = vblk_complete(&blk, io->vslot, NULL);

		if (st != VIRTIO_BLK_S_OK) {
			printf("snapshot: phase %u: %s of block %llu: status %u\n", phase_now,
			       io->write ? "write" : "read", (unsigned long long)io->block, st);
			guest_fail(__FILE__, __LINE__, "request failed");
		}
	}
	run_user(user_check);
	if (job.bad) {
		struct io_slot *io = &job.slot[job.bad_slot];

		printf("snapshot: phase %u: block %llu word %u is %#llx, expected %#llx\n",
		       phase_now, (unsigned long long)io->block, job.bad_word,
		       (unsigned long long)job.bad_got, (unsigned long long)job.bad_want);
		guest_fail(__FILE__, __LINE__, "data read back differs from what was written");
	}
}

/*
 * One batch: (depth) writes of new contents to distinct blocks chosen by
 * the state, in flight together with reads of up to (depth) other blocks
 * written before; then the new blocks read back.
 */
static void io_batch(unsigned depth, uint64_t *bufs[], unsigned batch)
{
	uint64_t r = mix64(job.state ^ ((uint64_t)phase_now << 32 | batch));
	uint64_t base = r % NBLOCKS, step = ((r >> 8) % NBLOCKS) | 1;  /* odd: distinct blocks */
	uint64_t rbase = (r >> 16) % NBLOCKS, rstep = ((r >> 24) % NBLOCKS) | 1;
	uint64_t seed = mix64(r + GOLDEN) | 1;  /* never 0: 0 marks unwritten blocks */
	bool writing[NBLOCKS] = { false };
	unsigned n = 0;

	for (unsigned i = 0; i < depth; i++) {
		uint64_t b = (base + i * step) % NBLOCKS;

		job.slot[n++] = (struct io_slot){ b, seed, bufs[i], -1, true };
		writing[b] = true;
	}
	for (unsigned i = 0; i < depth; i++) {
		uint64_t b = (rbase + i * rstep) % NBLOCKS;

		if (block_seed[b] && !writing[b])
			job.slot[n++] = (struct io_slot){ b, block_seed[b], bufs[depth + i], -1, false };
	}
	job.n = n;
	run_requests();
	for (unsigned i = 0; i < depth; i++)
		block_seed[job.slot[i].block] = seed;

	/* The new blocks, read back. */
	for (unsigned i = 0; i < depth; i++) {
		job.slot[i].write = false;
		job.slot[i].buf = bufs[depth + i];
	}
	job.n = depth;
	run_requests();
}

static void setup_disk(void)
{
	uint64_t want = VBLK_FEATURES | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
			VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	struct virtio_dev *d;

	virtio_probe();
	d = virtio_find(VIRTIO_ID_BLOCK, 0);
	GUEST_ASSERT(d != NULL);
	GUEST_ASSERT_EQ(vblk_init(&blk, d, want, BLK_VECTOR, 128), 0);
	GUEST_ASSERT(!virtio_has(d, VIRTIO_BLK_F_RO));
	if (blk.capacity < NBLOCKS * BLOCK_SECT) {
		printf("snapshot: the disk has %llu sectors, at least %u needed\n",
		       (unsigned long long)blk.capacity, NBLOCKS * BLOCK_SECT);
		guest_fail(__FILE__, __LINE__, "disk too small");
	}
}

int guest_main(void)
{
	uint64_t rounds = cmdline_get_u64("rounds", 20);
	uint64_t work = cmdline_get_u64("work", 80000000);
	uint64_t depth = cmdline_get_u64("depth", 8), batches = cmdline_get_u64("batches", 4);
	uint64_t *bufs[2 * MAX_DEPTH];
	uint8_t *pages;
	uint64_t t0, ms0;

	GUEST_ASSERT(rounds >= 1 && depth >= 1 && depth <= MAX_DEPTH && batches >= 1);
	user_init();
	setup_disk();
	pages = page_alloc(2 * depth);
	GUEST_ASSERT(pages != NULL);
	paging_set_user((uint64_t)(uintptr_t)pages, 2 * depth * BLOCK);
	for (unsigned i = 0; i < 2 * depth; i++)
		bufs[i] = (uint64_t *)(pages + (size_t)i * BLOCK);
	printf("snapshot: rounds=%llu work=%llu depth=%llu batches=%llu\n",
	       (unsigned long long)rounds, (unsigned long long)work, (unsigned long long)depth,
	       (unsigned long long)batches);

	ms0 = virtio_ms();              /* starts the background LAPIC timer */
	t0 = last_tsc = rdtsc();
	job.state = 0x5eed0f5a9500c0deULL;
	sti();
	for (unsigned k = 0; k < rounds; k++) {
		phase_now = k;
		clock_check("phase start");
		job.work = work;
		run_user(user_compute);
		clock_check("after ring 3");
		for (unsigned b = 0; b < batches; b++)
			io_batch((unsigned)depth, bufs, b);
		if (virtio_has(blk.dev, VIRTIO_BLK_F_FLUSH)) {
			GUEST_ASSERT_EQ(vblk_do(&blk, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL),
					VIRTIO_BLK_S_OK);
			requests++;
		}
		clock_check("after I/O");
		printf("snapshot: phase %u state=0x%016llx\n", k, (unsigned long long)job.state);
	}
	printf("snapshot: result=0x%016llx\n", (unsigned long long)job.state);
	cli();
	printf("snapshot: %u requests, %u blk interrupts, %llu timer ms, %llu TSC cycles\n",
	       requests, blk.dev->irqs, (unsigned long long)(virtio_ms() - ms0),
	       (unsigned long long)(rdtsc() - t0));
	return 0;
}
