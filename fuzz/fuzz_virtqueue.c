/*
 * libFuzzer harness for the split virtqueue (src/virtio/queue.c): the input is
 * the queue's configuration and the whole of guest RAM, rings and buffers
 * alike, all of it as hostile as a guest can make it.
 *
 * Input: a HDR_LEN-byte header (little-endian), then guest RAM's contents.
 *    0 u16  queue size (QueueNum; vq_activate must refuse bad ones)
 *    2 u8   flags: 1 EVENT_IDX, 2 INDIRECT_DESC, 4 unpop and re-pop each chain
 *               once, 8 RAM in two regions, 16 the device writes 0xa5 into
 *               writable buffers (else rewrites what is there)
 *    3 u8   entries offered to vq_req_iov
 *    4 u32  descriptor table, 8 u32 driver area, 12 u32 device area:
 *           offsets from RAM_BASE (so they may miss RAM)
 *   16 u32  window offset, 20 u32 window length for vq_req_read/write/iov
 *   24 u32  used length pushed (added to the chain's writable length)
 *   28 u32  unused
 *
 * Every chain vq_pop() returns is checked (segments inside one RAM region,
 * lengths adding up) and every byte of it read and written, so ASan reports
 * any pointer outside the RAM buffer; vq_pop must end with 0 or -EINVAL.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/uio.h>

#include "fuzz.h"
#include "util/log.h"
#include "virtio/queue.h"

#define HDR_LEN   32
#define RAM_BASE  0x1000ull
#define RAM2_BASE 0x20000ull    /* the second region, past any first half (inputs < 64 KiB) */

static struct vq_req req;
static struct iovec iov[256];
static uint8_t scratch[1 << 16];

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_threshold = LOG_ERROR;      /* every broken ring would log a warning */
	return 0;
}

/* The chain's shape is consistent and each segment lies in one RAM region. */
static void check_req(const struct virtq *q, const struct gmem *m, const struct vq_req *r,
		      bool fill)
{
	uint64_t rl = 0, wl = 0;
	volatile uint8_t sink = 0;

	FUZZ_CHECK(r->head < q->size);
	FUZZ_CHECK(r->nread + r->nwrite <= VQ_MAX_SEGS);
	for (unsigned i = 0; i < r->nread + r->nwrite; i++) {
		uint8_t *p = r->seg[i].iov_base;
		size_t n = r->seg[i].iov_len;

		FUZZ_CHECK(n > 0);
		fuzz_check_in_ram(m, p, n);
		if (i < r->nread) {
			rl += n;
			for (size_t k = 0; k < n; k++)
				sink ^= p[k];
		} else {
			wl += n;
			for (size_t k = 0; k < n; k++)
				p[k] = fill ? 0xa5 : p[k];
		}
	}
	(void)sink;
	FUZZ_CHECK(rl == r->read_len && wl == r->write_len);
}

/* The copy helpers over a fuzzed window agree with the chain's lengths. */
static void check_windows(const struct gmem *m, const struct vq_req *r, uint64_t off,
			  uint64_t len, int max)
{
	uint64_t n = len < sizeof(scratch) ? len : sizeof(scratch);
	volatile uint8_t sink = 0;

	for (int w = 0; w < 2; w++) {
		uint64_t part = w ? r->write_len : r->read_len;
		uint64_t want = off >= part ? 0 : (n < part - off ? n : part - off);
		size_t got = w ? vq_req_write(r, off, scratch, n) : vq_req_read(r, off, scratch, n);
		int k = vq_req_iov(r, w, off, len, iov, max);
		uint64_t sum = 0;

		FUZZ_CHECK(got == want);
		if (off > part || len > part - off) {
			FUZZ_CHECK(k == -EINVAL);
			continue;
		}
		FUZZ_CHECK(k >= -EINVAL && k <= max);
		if (k < 0)
			continue;
		for (int i = 0; i < k; i++) {
			const uint8_t *p = iov[i].iov_base;

			fuzz_check_in_ram(m, p, iov[i].iov_len);
			for (size_t b = 0; b < iov[i].iov_len; b++)
				sink ^= p[b];
			sum += iov[i].iov_len;
		}
		FUZZ_CHECK(sum == len);
	}
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gmem m;
	struct virtq q = { 0 };
	uint8_t *ram, flags;
	unsigned pops = 0;
	int r = 0;

	if (size <= HDR_LEN)
		return 0;
	flags = data[2];
	ram = fake_ram(&m, data + HDR_LEN, size - HDR_LEN, size - HDR_LEN, RAM_BASE, flags & 8,
		       RAM2_BASE);
	if (!ram)
		return 0;
	q.size = (uint16_t)(data[0] | data[1] << 8);
	q.desc_gpa = RAM_BASE + le32(data + 4);
	q.avail_gpa = RAM_BASE + le32(data + 8);
	q.used_gpa = RAM_BASE + le32(data + 12);
	if (vq_activate(&q, &m, flags & 1, flags & 2) < 0) {
		FUZZ_CHECK(vq_pop(&q, &req) == -EINVAL);
		free(ram);
		return 0;
	}
	/*
	 * A ring offers at most (size) chains; writable buffers may overlap the
	 * rings and refill them, so bound the loop rather than trust the guest.
	 */
	while (pops++ < 4u * q.size + 4 && (r = vq_pop(&q, &req)) > 0) {
		check_req(&q, &m, &req, flags & 16);
		if ((flags & 4) && pops % 2) {
			vq_unpop(&q);
			continue;
		}
		check_windows(&m, &req, le32(data + 16), le32(data + 20), data[3]);
		vq_push(&q, req.head, (uint32_t)req.write_len + le32(data + 24));
		if (pops % 4 == 0)
			(void)vq_should_interrupt(&q);
		(void)vq_set_notify(&q, pops % 3 == 0);
	}
	FUZZ_CHECK(r >= -EINVAL && r <= 1);
	if (r < 0)
		FUZZ_CHECK(q.broken && vq_pop(&q, &req) == -EINVAL);
	(void)vq_should_interrupt(&q);
	(void)vq_set_notify(&q, true);
	vq_reset(&q);
	free(ram);
	return 0;
}
