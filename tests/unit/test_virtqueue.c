/*
 * Split virtqueues (src/virtio/queue.c) over fake guest RAM: a malloc'd
 * buffer of exactly RAM_SIZE bytes (so the ASan build catches any access
 * outside it) seen as one region at RAM_BASE. The tests lay the rings out as
 * a driver would (virtio 1.2 §2.7) and check chains, interrupt and notify
 * suppression, the request copy helpers, and that every hostile ring is
 * refused with -EINVAL and a broken queue; and that the pages the device
 * writes are marked for diff snapshots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/queue.h"

#define RAM_BASE  0x100000ull   /* guest-physical start of the fake RAM */
#define RAM_SIZE  0x20000ull    /* 128 KiB */
#define RAM_END   (RAM_BASE + RAM_SIZE)
#define DESC_GPA  (RAM_BASE + 0x0000)  /* up to 1024 descriptors: 16 KiB */
#define AVAIL_GPA (RAM_BASE + 0x4000)
#define USED_GPA  (RAM_BASE + 0x5000)
#define TABLE_GPA (RAM_BASE + 0x8000)  /* indirect tables: 16 KiB */
#define BUF_GPA(n) (RAM_BASE + 0xc000 + (uint64_t)(n) * 0x100)

struct fake {
	struct gmem mem;
	uint8_t *ram;
	struct virtq q;
	struct vq_req req;
	uint16_t avail_idx;     /* the driver's next avail index */
};

static void *host(struct fake *f, uint64_t gpa)
{
	return f->ram + (gpa - RAM_BASE);
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->ram = calloc(1, RAM_SIZE);
	if (!f->ram) {
		free(f);
		return -1;
	}
	f->mem.fd = -1;
	f->mem.host = f->ram;
	f->mem.total = RAM_SIZE;
	f->mem.nregions = 1;
	f->mem.regions[0] = (struct gmem_region){ .gpa = RAM_BASE, .size = RAM_SIZE, .offset = 0 };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	free(f->ram);
	free(f);
	return 0;
}

/* The driver's QueueNum/QueueDesc/QueueDriver/QueueDevice writes. */
static void place(struct fake *f, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	memset(&f->q, 0, sizeof(f->q));
	f->q.size = size;
	f->q.desc_gpa = desc;
	f->q.avail_gpa = avail;
	f->q.used_gpa = used;
}

/* A fresh queue over zeroed rings (indirect tables and buffers are kept). */
static void start(struct fake *f, uint16_t size, bool event_idx, bool indirect)
{
	memset(host(f, DESC_GPA), 0, TABLE_GPA - DESC_GPA);
	place(f, size, DESC_GPA, AVAIL_GPA, USED_GPA);
	f->avail_idx = 0;
	assert_int_equal(vq_activate(&f->q, &f->mem, event_idx, indirect), 0);
}

static void desc_at(struct fake *f, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
		    uint16_t flags, uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(host(f, table + 16ull * i), &d, sizeof(d));
}

static void desc(struct fake *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	desc_at(f, DESC_GPA, i, addr, len, flags, next);
}

static uint16_t *avail_ring(struct fake *f)
{
	return host(f, AVAIL_GPA);      /* flags, idx, ring[size], used_event */
}

static uint16_t *used_hdr(struct fake *f)
{
	return host(f, USED_GPA);       /* flags, idx */
}

static struct vring_used_elem *used_elem(struct fake *f, uint16_t i)
{
	return host(f, USED_GPA + 4 + 8ull * (i % f->q.size));
}

static uint16_t *avail_event(struct fake *f)
{
	return host(f, USED_GPA + 4 + 8ull * f->q.size);
}

/* Make chain (head) available and publish the new index. */
static void offer(struct fake *f, uint16_t head)
{
	uint16_t *a = avail_ring(f);

	a[2 + f->avail_idx % f->q.size] = head;
	f->avail_idx++;
	a[1] = f->avail_idx;
}

static void fill(struct fake *f, uint64_t gpa, uint8_t first, size_t len)
{
	uint8_t *p = host(f, gpa);

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(first + i);
}

/* The queue refuses the ring for good: -EINVAL now and on every later pop. */
static void assert_broken(struct fake *f)
{
	assert_int_equal(vq_pop(&f->q, &f->req), -EINVAL);
	assert_true(f->q.broken);
	/* Even a well-formed chain is not served any more. */
	desc(f, 0, BUF_GPA(0), 16, 0, 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), -EINVAL);
}

/* ---- vq_activate: the driver's queue placement ---- */

static void test_activate_sizes(void **state)
{
	struct fake *f = *state;

	place(f, 0, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, 3, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, 96, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, VQ_MAX_SIZE * 2, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, 0x8000, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	/* Every power of two up to the maximum is fine. */
	for (unsigned n = 1; n <= VQ_MAX_SIZE; n *= 2) {
		place(f, (uint16_t)n, DESC_GPA, AVAIL_GPA, TABLE_GPA);
		assert_int_equal(vq_activate(&f->q, &f->mem, false, false), 0);
	}
}

static void test_activate_alignment(void **state)
{
	struct fake *f = *state;

	/* §2.7: descriptor table 16, driver area 2, device area 4. */
	place(f, 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, 8, DESC_GPA + 1, AVAIL_GPA, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, 8, DESC_GPA, AVAIL_GPA + 1, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, 8, DESC_GPA + 16, AVAIL_GPA + 2, USED_GPA + 4);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), 0);
}

static void test_activate_outside_ram(void **state)
{
	struct fake *f = *state;
	const uint16_t n = 8;
	const uint64_t dlen = 16 * n, alen = 6 + 2 * n, ulen = 6 + 8 * n;

	/* Wholly outside: below, above, far above, at the top of the address space. */
	place(f, n, 0, AVAIL_GPA, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, n, DESC_GPA, RAM_END, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, n, DESC_GPA, AVAIL_GPA, 0x100000000ull);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, n, 0xfffffffffffffff0ull, AVAIL_GPA, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, n, DESC_GPA, 0xfffffffffffffffeull, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, n, DESC_GPA, AVAIL_GPA, 0xfffffffffffffffcull);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	/* Straddling the start and the end of RAM. */
	place(f, n, RAM_BASE - 16, AVAIL_GPA, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, n, RAM_END - dlen + 16, AVAIL_GPA, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	place(f, n, DESC_GPA, RAM_END - alen + 2, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	/* The used ring needs 6 + 8n bytes; 8n + 4 before the end is 2 short. */
	place(f, n, DESC_GPA, AVAIL_GPA, RAM_END - (8 * n + 4));
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	/* Exactly at the end is fine. */
	place(f, n, RAM_END - dlen, RAM_END - dlen - alen, RAM_END - dlen - ulen - 6);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), 0);
}

/* A refused placement leaves no half-mapped queue behind (desc mapped, avail not). */
static void test_activate_failure_unmaps(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, false);
	place(f, 8, DESC_GPA, RAM_END, USED_GPA);
	assert_int_equal(vq_activate(&f->q, &f->mem, true, false), -EINVAL);
	assert_int_equal(vq_pop(&f->q, &f->req), -EINVAL);
	vq_push(&f->q, 0, 1);
	assert_false(vq_should_interrupt(&f->q));
	assert_false(vq_set_notify(&f->q, true));
	place(f, 8, DESC_GPA, AVAIL_GPA, RAM_END);
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	assert_int_equal(vq_pop(&f->q, &f->req), -EINVAL);
	/* A bad size after a good activation unmaps too. */
	start(f, 8, false, false);
	f->q.size = 3;
	assert_int_equal(vq_activate(&f->q, &f->mem, false, false), -EINVAL);
	assert_int_equal(vq_pop(&f->q, &f->req), -EINVAL);
}

/* ---- well-formed chains ---- */

static void test_simple_chain(void **state)
{
	struct fake *f = *state;

	start(f, 16, false, false);
	desc(f, 5, BUF_GPA(0), 16, VRING_DESC_F_NEXT, 9);
	desc(f, 9, BUF_GPA(1), 100, VRING_DESC_F_NEXT, 2);
	desc(f, 2, BUF_GPA(2), 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), 0);
	offer(f, 5);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.head, 5);
	assert_int_equal(f->req.nread, 2);
	assert_int_equal(f->req.nwrite, 1);
	assert_int_equal(f->req.read_len, 116);
	assert_int_equal(f->req.write_len, 1);
	assert_ptr_equal(f->req.seg[0].iov_base, host(f, BUF_GPA(0)));
	assert_int_equal(f->req.seg[0].iov_len, 16);
	assert_ptr_equal(f->req.seg[1].iov_base, host(f, BUF_GPA(1)));
	assert_int_equal(f->req.seg[1].iov_len, 100);
	assert_ptr_equal(f->req.seg[2].iov_base, host(f, BUF_GPA(2)));
	assert_int_equal(f->req.seg[2].iov_len, 1);
	assert_int_equal(vq_pop(&f->q, &f->req), 0);
	assert_int_equal(f->q.requests, 1);

	vq_push(&f->q, 5, 1);
	assert_int_equal(used_hdr(f)[1], 1);
	assert_int_equal(used_elem(f, 0)->id, 5);
	assert_int_equal(used_elem(f, 0)->len, 1);
	assert_false(f->q.broken);
}

static void test_single_and_write_only(void **state)
{
	struct fake *f = *state;

	start(f, 4, false, false);
	desc(f, 3, BUF_GPA(0), 64, VRING_DESC_F_WRITE, 0);
	desc(f, 0, BUF_GPA(1), 8, 0, 0);
	offer(f, 3);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.head, 3);
	assert_int_equal(f->req.nread, 0);
	assert_int_equal(f->req.nwrite, 1);
	assert_int_equal(f->req.write_len, 64);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.head, 0);
	assert_int_equal(f->req.nread, 1);
	assert_int_equal(f->req.nwrite, 0);
	assert_int_equal(f->req.read_len, 8);
	assert_int_equal(vq_pop(&f->q, &f->req), 0);
}

/* A chain as long as the table (every descriptor once) is allowed. */
static void test_chain_as_long_as_queue(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, false);
	/* Order 0, 3, 6, 1, 4, 7, 2, 5: visits all eight. */
	for (uint16_t i = 0, at = 0; i < 8; i++, at = (uint16_t)((at + 3) % 8))
		desc(f, at, BUF_GPA(at), 4, i < 7 ? VRING_DESC_F_NEXT : 0, (uint16_t)((at + 3) % 8));
	offer(f, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.nread, 8);
	assert_int_equal(f->req.read_len, 32);
}

/* Zero-length descriptors carry nothing: skipped, their address never checked. */
static void test_zero_length_skipped(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, false);
	desc(f, 0, 0xdead00000000ull, 0, VRING_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA(1), 10, VRING_DESC_F_NEXT, 2);
	desc(f, 2, UINT64_MAX, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	desc(f, 3, BUF_GPA(3), 20, VRING_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.nread, 1);
	assert_int_equal(f->req.nwrite, 1);
	assert_int_equal(f->req.read_len, 10);
	assert_int_equal(f->req.write_len, 20);
	assert_ptr_equal(f->req.seg[1].iov_base, host(f, BUF_GPA(3)));
	/* A chain of nothing but empty descriptors is an empty request. */
	desc(f, 5, 0, 0, 0, 0);
	offer(f, 5);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.nread + f->req.nwrite, 0);
}

/* Buffers may be anywhere in RAM, including its first and last byte. */
static void test_buffers_at_ram_edges(void **state)
{
	struct fake *f = *state;

	start(f, 4, false, false);
	desc(f, 0, RAM_BASE, 1, VRING_DESC_F_NEXT, 1);
	desc(f, 1, RAM_END - 1, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	desc(f, 2, RAM_BASE, (uint32_t)RAM_SIZE, VRING_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_ptr_equal(f->req.seg[0].iov_base, f->ram);
	assert_ptr_equal(f->req.seg[1].iov_base, f->ram + RAM_SIZE - 1);
	assert_int_equal(f->req.write_len, 1 + RAM_SIZE);
}

static void test_ring_wraps(void **state)
{
	struct fake *f = *state;

	/* 70000 requests through a queue of 2: the 16-bit indices wrap. */
	start(f, 2, false, false);
	desc(f, 0, BUF_GPA(0), 4, 0, 0);
	desc(f, 1, BUF_GPA(1), 4, VRING_DESC_F_WRITE, 0);
	for (unsigned i = 0; i < 70000; i++) {
		uint16_t head = (uint16_t)(i & 1);

		offer(f, head);
		assert_int_equal(vq_pop(&f->q, &f->req), 1);
		assert_int_equal(f->req.head, head);
		assert_int_equal(vq_pop(&f->q, &f->req), 0);
		vq_push(&f->q, head, (uint32_t)i);
		assert_int_equal(used_hdr(f)[1], (uint16_t)(i + 1));
		assert_int_equal(used_elem(f, (uint16_t)i)->id, head);
		assert_int_equal(used_elem(f, (uint16_t)i)->len, i);
	}
	assert_int_equal(f->q.requests, 70000);
	/* A full ring (idx exactly size ahead) is fine, across the wrap too. */
	offer(f, 0);
	offer(f, 1);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(vq_pop(&f->q, &f->req), 0);
}

static void test_unpop(void **state)
{
	struct fake *f = *state;

	start(f, 4, false, false);
	desc(f, 1, BUF_GPA(0), 4, 0, 0);
	desc(f, 2, BUF_GPA(1), 4, 0, 0);
	offer(f, 1);
	offer(f, 2);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.head, 1);
	vq_unpop(&f->q);
	assert_int_equal(f->q.requests, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.head, 1);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.head, 2);
	assert_int_equal(f->q.requests, 2);
}

static void test_reset(void **state)
{
	struct fake *f = *state;

	start(f, 4, false, false);
	desc(f, 0, BUF_GPA(0), 4, 0, 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	vq_reset(&f->q);
	/* Statistics survive; the rings are forgotten. */
	assert_int_equal(f->q.requests, 1);
	assert_null(f->q.desc);
	assert_int_equal(f->q.size, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), -EINVAL);
	vq_push(&f->q, 0, 4);
	assert_int_equal(used_hdr(f)[1], 0);
	assert_false(vq_should_interrupt(&f->q));
	assert_false(vq_set_notify(&f->q, true));
}

static void test_indirect(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, true);
	/* §2.7.5.3: a table of 4 in guest order 0 -> 2 -> 1 -> 3. */
	desc_at(f, TABLE_GPA, 0, BUF_GPA(0), 16, VRING_DESC_F_NEXT, 2);
	desc_at(f, TABLE_GPA, 2, BUF_GPA(1), 32, VRING_DESC_F_NEXT, 1);
	desc_at(f, TABLE_GPA, 1, BUF_GPA(2), 48, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	desc_at(f, TABLE_GPA, 3, BUF_GPA(3), 1, VRING_DESC_F_WRITE, 0);
	desc(f, 6, TABLE_GPA, 4 * 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 6);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.head, 6);
	assert_int_equal(f->req.nread, 2);
	assert_int_equal(f->req.nwrite, 2);
	assert_int_equal(f->req.read_len, 48);
	assert_int_equal(f->req.write_len, 49);
	assert_ptr_equal(f->req.seg[1].iov_base, host(f, BUF_GPA(1)));
	assert_ptr_equal(f->req.seg[3].iov_base, host(f, BUF_GPA(3)));

	/* Direct descriptors may lead into one indirect table (the last of the chain). */
	desc(f, 1, BUF_GPA(8), 8, VRING_DESC_F_NEXT, 7);
	desc(f, 7, TABLE_GPA, 4 * 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 1);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.nread, 3);
	assert_int_equal(f->req.read_len, 56);
	assert_int_equal(f->req.nwrite, 2);

	/* The table may be larger than the queue. */
	for (uint16_t i = 0; i < 64; i++)
		desc_at(f, TABLE_GPA, i, BUF_GPA(i % 32), 2, i < 63 ? VRING_DESC_F_NEXT : 0,
			(uint16_t)(i + 1));
	desc(f, 2, TABLE_GPA, 64 * 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 2);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.nread, 64);
	assert_int_equal(f->req.read_len, 128);
	assert_false(f->q.broken);
}

/* ---- interrupt suppression (§2.7.7, §2.7.10) ---- */

static void test_no_interrupt_flag(void **state)
{
	struct fake *f = *state;

	start(f, 4, false, false);
	desc(f, 0, BUF_GPA(0), 4, VRING_DESC_F_WRITE, 0);
	vq_push(&f->q, 0, 4);
	assert_true(vq_should_interrupt(&f->q));
	avail_ring(f)[0] = VRING_AVAIL_F_NO_INTERRUPT;
	vq_push(&f->q, 0, 4);
	assert_false(vq_should_interrupt(&f->q));
	assert_int_equal(f->q.suppressed, 1);
	avail_ring(f)[0] = 0;
	assert_true(vq_should_interrupt(&f->q));
	assert_int_equal(f->q.suppressed, 1);
	/* With EVENT_IDX the flag means nothing (§2.7.10); used_event decides. */
	start(f, 4, true, false);
	avail_ring(f)[0] = VRING_AVAIL_F_NO_INTERRUPT;
	avail_ring(f)[2 + 4] = 0;
	vq_push(&f->q, 0, 4);
	assert_true(vq_should_interrupt(&f->q));
}

static void test_event_idx(void **state)
{
	struct fake *f = *state;
	uint16_t *used_event;

	start(f, 4, true, false);
	used_event = &avail_ring(f)[2 + 4];
	/* The first check after activation always interrupts. */
	*used_event = 100;
	vq_push(&f->q, 0, 0);
	assert_true(vq_should_interrupt(&f->q));
	/* used 1 -> 2: interrupt only when used_event is 1 (the entry just added). */
	vq_push(&f->q, 0, 0);
	*used_event = 0;
	assert_false(vq_should_interrupt(&f->q));
	assert_int_equal(f->q.suppressed, 1);
	vq_push(&f->q, 0, 0);           /* 2 -> 3 */
	*used_event = 2;
	assert_true(vq_should_interrupt(&f->q));
	/* A batch 3 -> 6: any used_event in [3, 5] asks for one. */
	for (int i = 0; i < 3; i++)
		vq_push(&f->q, 0, 0);
	*used_event = 4;
	assert_true(vq_should_interrupt(&f->q));
	for (int i = 0; i < 3; i++)
		vq_push(&f->q, 0, 0);   /* 6 -> 9 */
	*used_event = 9;
	assert_false(vq_should_interrupt(&f->q));
	for (int i = 0; i < 3; i++)
		vq_push(&f->q, 0, 0);   /* 9 -> 12 */
	*used_event = 8;
	assert_false(vq_should_interrupt(&f->q));
	assert_int_equal(f->q.suppressed, 3);
	/* Nothing new since the last check: no interrupt whatever used_event says. */
	*used_event = 11;
	assert_false(vq_should_interrupt(&f->q));
}

/* need_event across the 16-bit wrap: used index 65534 -> 1. */
static void test_event_idx_wraps(void **state)
{
	struct fake *f = *state;
	static const struct {
		uint16_t event;
		bool want;
	} cases[] = {
		{ 65533, false }, { 65534, true }, { 65535, true }, { 0, true },
		{ 1, false }, { 2, false }, { 32768, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start(f, 4, true, false);
		f->q.used_idx = 65534;
		assert_true(vq_should_interrupt(&f->q));    /* signalled_used = 65534 */
		for (int k = 0; k < 3; k++)
			vq_push(&f->q, 0, 0);
		assert_int_equal(f->q.used_idx, 1);
		assert_int_equal(used_hdr(f)[1], 1);
		avail_ring(f)[2 + 4] = cases[i].event;
		assert_int_equal(vq_should_interrupt(&f->q), cases[i].want);
	}
}

/* ---- notification suppression (§2.7.7, §2.7.10) ---- */

static void test_set_notify_flag(void **state)
{
	struct fake *f = *state;

	start(f, 4, false, false);
	desc(f, 0, BUF_GPA(0), 4, 0, 0);
	assert_false(vq_set_notify(&f->q, false));
	assert_int_equal(used_hdr(f)[0], VRING_USED_F_NO_NOTIFY);
	assert_false(vq_set_notify(&f->q, true));
	assert_int_equal(used_hdr(f)[0], 0);
	/* Something arrived while kicks were off: the caller must look again. */
	vq_set_notify(&f->q, false);
	offer(f, 0);
	assert_true(vq_set_notify(&f->q, true));
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_false(vq_set_notify(&f->q, true));
	assert_int_equal(*avail_event(f), 0);   /* not used without EVENT_IDX */
}

static void test_set_notify_event_idx(void **state)
{
	struct fake *f = *state;

	start(f, 4, true, false);
	desc(f, 0, BUF_GPA(0), 4, 0, 0);
	*avail_event(f) = 77;
	/* "off" leaves avail_event alone: no kick is asked for beyond it. */
	assert_false(vq_set_notify(&f->q, false));
	assert_int_equal(*avail_event(f), 77);
	assert_int_equal(used_hdr(f)[0], 0);
	for (int i = 0; i < 3; i++) {
		offer(f, 0);
		assert_int_equal(vq_pop(&f->q, &f->req), 1);
	}
	/* "on": kick me at the next entry (avail_event = last_avail). */
	assert_false(vq_set_notify(&f->q, true));
	assert_int_equal(*avail_event(f), 3);
	assert_int_equal(used_hdr(f)[0], 0);
	offer(f, 0);
	assert_true(vq_set_notify(&f->q, true));
}

/* ---- copying across segment boundaries ---- */

/* Readable 3 + 5 + 7 bytes (values 0..14), writable 4 + 4 + 2. */
static void pop_windows_chain(struct fake *f)
{
	start(f, 8, false, false);
	fill(f, BUF_GPA(0), 0, 3);
	fill(f, BUF_GPA(1), 3, 5);
	fill(f, BUF_GPA(2), 8, 7);
	memset(host(f, BUF_GPA(3)), 0xee, 0x300);
	desc(f, 0, BUF_GPA(0), 3, VRING_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA(1), 5, VRING_DESC_F_NEXT, 2);
	desc(f, 2, BUF_GPA(2), 7, VRING_DESC_F_NEXT, 3);
	desc(f, 3, BUF_GPA(3), 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 4);
	desc(f, 4, BUF_GPA(4), 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 5);
	desc(f, 5, BUF_GPA(5), 2, VRING_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	assert_int_equal(f->req.read_len, 15);
	assert_int_equal(f->req.write_len, 10);
}

static void test_req_read(void **state)
{
	struct fake *f = *state;
	uint8_t buf[32];

	pop_windows_chain(f);
	for (uint64_t off = 0; off <= 16; off++) {
		for (size_t len = 0; len <= 17; len++) {
			size_t want = off >= 15 ? 0 : (len < 15 - off ? len : 15 - off);

			memset(buf, 0xaa, sizeof(buf));
			assert_int_equal(vq_req_read(&f->req, off, buf, len), want);
			for (size_t i = 0; i < want; i++)
				assert_int_equal(buf[i], off + i);
			assert_int_equal(buf[want], 0xaa);
		}
	}
	assert_int_equal(vq_req_read(&f->req, UINT64_MAX, buf, 4), 0);
}

static void test_req_write(void **state)
{
	struct fake *f = *state;
	const uint8_t src[10] = { 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 };
	const uint8_t *w0 = host(f, BUF_GPA(3)), *w1 = host(f, BUF_GPA(4)),
		      *w2 = host(f, BUF_GPA(5));

	pop_windows_chain(f);
	/* [3, 7): the last byte of the first buffer, three of the second. */
	assert_int_equal(vq_req_write(&f->req, 3, src, 4), 4);
	assert_int_equal(w0[2], 0xee);
	assert_int_equal(w0[3], 10);
	assert_int_equal(w1[0], 11);
	assert_int_equal(w1[2], 13);
	assert_int_equal(w1[3], 0xee);
	/* Clipped at the end of the writable part; nothing past it is touched. */
	assert_int_equal(vq_req_write(&f->req, 7, src, 10), 3);
	assert_int_equal(w1[3], 10);
	assert_int_equal(w2[0], 11);
	assert_int_equal(w2[1], 12);
	assert_int_equal(w2[2], 0xee);
	assert_int_equal(vq_req_write(&f->req, 10, src, 1), 0);
	assert_int_equal(vq_req_write(&f->req, UINT64_MAX, src, 1), 0);
	/* The readable part is never written. */
	assert_int_equal(((uint8_t *)host(f, BUF_GPA(2)))[6], 14);
	assert_int_equal(vq_req_write(&f->req, 0, src, 10), 10);
	assert_memory_equal(w0, src, 4);
	assert_memory_equal(w1, src + 4, 4);
	assert_memory_equal(w2, src + 8, 2);
}

static void test_req_iov(void **state)
{
	struct fake *f = *state;
	struct iovec iov[8];

	pop_windows_chain(f);
	/* Readable [2, 11): 1 byte of seg 0, all 5 of seg 1, 3 of seg 2. */
	assert_int_equal(vq_req_iov(&f->req, false, 2, 9, iov, 8), 3);
	assert_ptr_equal(iov[0].iov_base, (uint8_t *)host(f, BUF_GPA(0)) + 2);
	assert_int_equal(iov[0].iov_len, 1);
	assert_ptr_equal(iov[1].iov_base, host(f, BUF_GPA(1)));
	assert_int_equal(iov[1].iov_len, 5);
	assert_ptr_equal(iov[2].iov_base, host(f, BUF_GPA(2)));
	assert_int_equal(iov[2].iov_len, 3);
	/* Too few entries for the window. */
	assert_int_equal(vq_req_iov(&f->req, false, 2, 9, iov, 2), -EINVAL);
	assert_int_equal(vq_req_iov(&f->req, false, 0, 1, iov, 0), -EINVAL);
	/* Whole parts, empty windows, windows past the end. */
	assert_int_equal(vq_req_iov(&f->req, false, 0, 15, iov, 8), 3);
	assert_int_equal(vq_req_iov(&f->req, true, 0, 10, iov, 8), 3);
	assert_int_equal(vq_req_iov(&f->req, true, 10, 0, iov, 8), 0);
	assert_int_equal(vq_req_iov(&f->req, false, 3, 0, iov, 0), 0);
	assert_int_equal(vq_req_iov(&f->req, false, 0, 16, iov, 8), -EINVAL);
	assert_int_equal(vq_req_iov(&f->req, true, 11, 0, iov, 8), -EINVAL);
	assert_int_equal(vq_req_iov(&f->req, true, 1, UINT64_MAX, iov, 8), -EINVAL);
	assert_int_equal(vq_req_iov(&f->req, true, UINT64_MAX, 2, iov, 8), -EINVAL);
	/* Writable [4, 9): exactly the second buffer, then one byte of the third. */
	assert_int_equal(vq_req_iov(&f->req, true, 4, 5, iov, 8), 2);
	assert_ptr_equal(iov[0].iov_base, host(f, BUF_GPA(4)));
	assert_int_equal(iov[0].iov_len, 4);
	assert_ptr_equal(iov[1].iov_base, host(f, BUF_GPA(5)));
	assert_int_equal(iov[1].iov_len, 1);
}

/* ---- hostile rings: -EINVAL, a broken queue, nothing read outside RAM ---- */

static void test_self_loop(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, false);
	desc(f, 3, BUF_GPA(0), 4, VRING_DESC_F_NEXT, 3);
	offer(f, 3);
	assert_broken(f);
}

static void test_two_cycle(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, false);
	desc(f, 1, BUF_GPA(0), 4, VRING_DESC_F_NEXT, 2);
	desc(f, 2, BUF_GPA(1), 4, VRING_DESC_F_NEXT, 1);
	offer(f, 1);
	assert_broken(f);
}

/* Every descriptor once, then back to the start: one more than the queue holds. */
static void test_chain_longer_than_queue(void **state)
{
	struct fake *f = *state;

	start(f, 4, false, false);
	for (uint16_t i = 0; i < 4; i++)
		desc(f, i, BUF_GPA(i), 4, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % 4));
	offer(f, 0);
	assert_broken(f);
	/* Zero-length descriptors count too (no free loop through empty ones). */
	start(f, 4, false, false);
	for (uint16_t i = 0; i < 4; i++)
		desc(f, i, 0, 0, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % 4));
	offer(f, 2);
	assert_int_equal(vq_pop(&f->q, &f->req), -EINVAL);
	assert_true(f->q.broken);
}

static void test_next_outside_table(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, false);
	desc(f, 0, BUF_GPA(0), 4, VRING_DESC_F_NEXT, 8);
	offer(f, 0);
	assert_broken(f);
	start(f, 8, false, false);
	desc(f, 0, BUF_GPA(0), 4, VRING_DESC_F_NEXT, 0xffff);
	offer(f, 0);
	assert_broken(f);
}

static void test_head_outside_table(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, false);
	offer(f, 8);
	assert_broken(f);
	start(f, 8, false, false);
	offer(f, 0xffff);
	assert_broken(f);
}

static void test_avail_idx_runs_ahead(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, false);
	desc(f, 0, BUF_GPA(0), 4, 0, 0);
	avail_ring(f)[1] = 9;
	assert_broken(f);
	/* Behind (a driver that moved idx backwards) is as bad: 0 - 1 is 65535 ahead. */
	start(f, 8, false, false);
	desc(f, 0, BUF_GPA(0), 4, 0, 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	avail_ring(f)[1] = 0;
	assert_broken(f);
}

static void test_readable_after_writable(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, false);
	desc(f, 0, BUF_GPA(0), 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA(1), 4, 0, 0);
	offer(f, 0);
	assert_broken(f);
	/* The same inside an indirect table. */
	start(f, 8, false, true);
	desc_at(f, TABLE_GPA, 0, BUF_GPA(0), 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc_at(f, TABLE_GPA, 1, BUF_GPA(1), 4, 0, 0);
	desc(f, 0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_broken(f);
}

/* Buffers that are not wholly inside RAM, with every overflow a 64-bit sum allows. */
static void test_buffer_outside_ram(void **state)
{
	struct fake *f = *state;
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = {
		{ 0, 16 },                              /* below RAM */
		{ RAM_BASE - 1, 2 },                    /* straddles the start */
		{ RAM_END, 1 },                         /* just past the end */
		{ RAM_END - 4, 8 },                     /* straddles the end */
		{ RAM_BASE, (uint32_t)RAM_SIZE + 1 },   /* one byte too long */
		{ RAM_BASE + 0x10, 0xffffffffu },       /* huge length */
		{ 0x100000000ull, 4096 },               /* far above */
		{ 0xfffffffffffffff0ull, 0x20 },        /* addr + len wraps to RAM_BASE-ish */
		{ UINT64_MAX, 1 },
		{ UINT64_MAX - RAM_SIZE + 1, 0xffffffffu },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int write = 0; write < 2; write++) {
			start(f, 8, false, false);
			desc(f, 0, BUF_GPA(0), 4, VRING_DESC_F_NEXT, 1);
			desc(f, 1, bad[i].addr, bad[i].len, write ? VRING_DESC_F_WRITE : 0, 0);
			offer(f, 0);
			assert_broken(f);
		}
	}
}

static void test_indirect_not_negotiated(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, false);
	desc_at(f, TABLE_GPA, 0, BUF_GPA(0), 4, 0, 0);
	desc(f, 0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_broken(f);
}

static void test_indirect_bad_length(void **state)
{
	struct fake *f = *state;
	static const uint32_t lens[] = { 0, 1, 8, 15, 17, 24, 16 * 3 + 8,
					 16 * (VQ_MAX_SEGS + 1), 0xfffffff0u };

	for (uint16_t i = 0; i < VQ_MAX_SEGS + 1; i++)
		desc_at(f, TABLE_GPA, i, BUF_GPA(0), 1, 0, 0);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		start(f, 8, false, true);
		desc(f, 0, TABLE_GPA, lens[i], VRING_DESC_F_INDIRECT, 0);
		offer(f, 0);
		assert_broken(f);
	}
}

static void test_indirect_nested(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, true);
	desc_at(f, TABLE_GPA + 0x100, 0, BUF_GPA(0), 4, 0, 0);
	desc_at(f, TABLE_GPA, 0, BUF_GPA(1), 4, VRING_DESC_F_NEXT, 1);
	desc_at(f, TABLE_GPA, 1, TABLE_GPA + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	desc(f, 0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_broken(f);
	/* A table that names itself. */
	start(f, 8, false, true);
	desc_at(f, TABLE_GPA, 0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	desc(f, 0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_broken(f);
}

static void test_indirect_with_next(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, true);
	desc_at(f, TABLE_GPA, 0, BUF_GPA(0), 4, 0, 0);
	desc(f, 0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	desc(f, 1, BUF_GPA(1), 4, 0, 0);
	offer(f, 0);
	assert_broken(f);
}

static void test_indirect_table_outside_ram(void **state)
{
	struct fake *f = *state;
	static const uint64_t addrs[] = { 0, RAM_BASE - 16, RAM_END - 16, RAM_END,
					  0xfffffffffffffff0ull };

	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		start(f, 8, false, true);
		desc(f, 0, addrs[i], 32, VRING_DESC_F_INDIRECT, 0);
		offer(f, 0);
		assert_broken(f);
	}
}

static void test_indirect_loops(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, true);
	desc_at(f, TABLE_GPA, 0, BUF_GPA(0), 4, VRING_DESC_F_NEXT, 1);
	desc_at(f, TABLE_GPA, 1, BUF_GPA(1), 4, VRING_DESC_F_NEXT, 0);
	desc(f, 0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_broken(f);
	/* next beyond the table's own length (but inside the queue's size). */
	start(f, 8, false, true);
	desc_at(f, TABLE_GPA, 0, BUF_GPA(0), 4, VRING_DESC_F_NEXT, 2);
	desc_at(f, TABLE_GPA, 1, BUF_GPA(1), 4, 0, 0);
	desc_at(f, TABLE_GPA, 2, BUF_GPA(1), 4, 0, 0);
	desc(f, 0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_broken(f);
}

/* More than VQ_MAX_SEGS buffers: a direct one plus a full indirect table. */
static void test_too_many_segments(void **state)
{
	struct fake *f = *state;

	start(f, 8, false, true);
	for (uint16_t i = 0; i < VQ_MAX_SEGS; i++)
		desc_at(f, TABLE_GPA, i, BUF_GPA(0), 1, i + 1 < VQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0,
			(uint16_t)(i + 1));
	desc(f, 1, TABLE_GPA, 16 * VQ_MAX_SEGS, VRING_DESC_F_INDIRECT, 0);
	offer(f, 1);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);   /* exactly VQ_MAX_SEGS: fine */
	assert_int_equal(f->req.nread, VQ_MAX_SEGS);
	desc(f, 0, BUF_GPA(1), 1, VRING_DESC_F_NEXT, 1);
	offer(f, 0);
	assert_broken(f);
}

/* ---- Dirty tracking for diff snapshots ---- */

/* Writable buffers are marked when popped, the used ring when written; readable ones never. */
static void test_dirty_marking(void **state)
{
	struct fake *f = *state;
	uint64_t bits[1] = { 0 };
	const uint64_t wbuf = RAM_BASE + 0x10f00;      /* 0x200 bytes: pages 0x10 and 0x11 */

	start(f, 16, true, false);
	assert_int_equal(gmem_track_dirty(&f->mem, true), 0);
	desc(f, 0, BUF_GPA(0), 16, VRING_DESC_F_NEXT, 1);
	desc(f, 1, wbuf, 0x200, VRING_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	gmem_take_dirty(&f->mem, bits);
	assert_true(bits[0] == ((1ull << 0x10) | (1ull << 0x11)));
	vq_push(&f->q, 0, 0x200);
	vq_set_notify(&f->q, true);                     /* avail_event, after the used ring */
	bits[0] = 0;
	gmem_take_dirty(&f->mem, bits);
	assert_true(bits[0] == (1ull << ((USED_GPA - RAM_BASE) >> 12)));
	/* Tracking off: nothing recorded, nothing to free. */
	assert_int_equal(gmem_track_dirty(&f->mem, false), 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->q, &f->req), 1);
	vq_push(&f->q, 0, 0);
	assert_null(f->mem.dirty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_activate_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirty_marking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_alignment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_failure_unmaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simple_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_and_write_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_as_long_as_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffers_at_ram_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unpop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_notify_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_notify_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_req_iov, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_cycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_longer_than_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_outside_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_outside_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_avail_idx_runs_ahead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_not_negotiated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_bad_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_nested, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_with_next, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_table_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_segments, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
