/*
 * libFuzzer harness for virtio-blk's request handling (blk_request() in
 * src/virtio/blk.c, reached through blk.h's detached device): the harness
 * plays a driver that lays out well-formed chains (readable buffers, then
 * writable ones) whose sizes and contents, header included, are fuzzed, and
 * the device serves them against a 64-sector image in a memfd.
 *
 * Input (little-endian):
 *   0 u8  flags: bits 0-1 the drive (0 and 3 read-write with writeback
 *         cache, 1 read-write "Unsafe", 2 read-only), 4 EVENT_IDX, 8 each
 *         chain in an indirect table
 *   then up to MAX_REQS requests, each:
 *     u8 segment count (% MAX_SEGS + 1)
 *     per segment: u16 length (& 0x1fff), u8 flags (bit 0: device-writable)
 *     the contents of the readable segments, in order (zeros where the
 *     input ends); the first 16 readable bytes are the request header
 *     (u32 type, u32 reserved, u64 sector)
 *
 * Checked after each request: one used entry, for this chain, claiming no
 * more bytes than the chain's writable part; a status byte of 0, 1 or 2.
 * After all of them: readable buffers and the 16-byte gaps between buffers
 * are as the driver left them. RAM ends with the last buffer, so ASan sees
 * a write past it.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "util/log.h"
#include "virtio/blk.h"

#define RAM_BASE   0x200000ull
#define QSIZE      128
#define MAX_REQS   16
#define MAX_SEGS   8
#define DESC_OFF   0x0000
#define AVAIL_OFF  0x0800
#define USED_OFF   0x0a00
#define TABLE_OFF  0x1000       /* MAX_REQS tables of MAX_SEGS descriptors */
#define BUF_OFF    0x1800
#define GAP        16
#define GAP_BYTE   0x5a
#define RAM_MAX    (256u << 10)
#define IMAGE_SECTORS 64

struct seg_spec {
	uint32_t len;
	bool write;
	const uint8_t *src;     /* readable: contents from the input */
	size_t src_len;
	uint64_t off;           /* offset in RAM */
};

struct req_spec {
	unsigned nseg;
	struct seg_spec seg[MAX_SEGS];
	uint64_t write_len;
};

static struct drive_config drives[3];
static struct blk *disks[3];
static struct vq_req req;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char path[64];
	static const char *const ids[3] = { "fuzz-rw", "fuzz-unsafe", "fuzz-ro" };
	struct err e = { { 0 } };
	int fd;

	(void)argc;
	(void)argv;
	log_threshold = LOG_ERROR;
	fd = memfd_create("lodge-fuzz-blk", 0);
	if (fd < 0 || ftruncate(fd, IMAGE_SECTORS * 512) < 0) {
		perror("fuzz_blk: memfd");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (int i = 0; i < 3; i++) {
		drives[i].id = (char *)ids[i];
		drives[i].path = path;
		drives[i].read_only = i == 2;
		drives[i].cache = i == 1 ? DRIVE_CACHE_UNSAFE : DRIVE_CACHE_WRITEBACK;
		drives[i].io = DRIVE_IO_SYNC;
		disks[i] = blk_detached_create(&drives[i], &e);
		if (!disks[i]) {
			fprintf(stderr, "fuzz_blk: %s\n", e.msg);
			abort();
		}
	}
	return 0;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Parse the requests and place their buffers; returns the count, sets (*ram_len). */
static unsigned parse(const uint8_t *in, size_t n, struct req_spec *reqs, size_t *ram_len)
{
	uint64_t at = BUF_OFF;
	unsigned nreq = 0;

	while (nreq < MAX_REQS && n >= 1) {
		struct req_spec *r = &reqs[nreq];
		unsigned nseg = in[0] % MAX_SEGS + 1, k = 0;
		uint64_t need = 0;

		if (n < 1 + 3 * (size_t)nseg)
			break;
		/* Readable segments first, then writable ones, each in input order. */
		for (int pass = 0; pass < 2; pass++) {
			for (unsigned i = 0; i < nseg; i++) {
				const uint8_t *s = in + 1 + 3 * i;
				bool w = s[2] & 1;

				if (w != (pass == 1))
					continue;
				r->seg[k] = (struct seg_spec){ .len = le16(s) & 0x1fff, .write = w };
				need += GAP + r->seg[k].len;
				k++;
			}
		}
		if (at + need > RAM_MAX)
			break;
		in += 1 + 3 * (size_t)nseg;
		n -= 1 + 3 * (size_t)nseg;
		r->nseg = nseg;
		r->write_len = 0;
		for (unsigned i = 0; i < nseg; i++) {
			struct seg_spec *s = &r->seg[i];

			s->off = at + GAP;
			at += GAP + s->len;
			if (s->write) {
				r->write_len += s->len;
				continue;
			}
			s->src = in;
			s->src_len = s->len < n ? s->len : n;
			in += s->src_len;
			n -= s->src_len;
		}
		nreq++;
	}
	*ram_len = at;
	return nreq;
}

static void put_desc(uint8_t *ram, uint64_t off, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(ram + off + 16u * i, &d, sizeof(d));
}

/* The driver's side: buffers, gaps, descriptors and the avail ring. */
static void lay_out(uint8_t *ram, size_t ram_len, const struct req_spec *reqs, unsigned nreq,
		    bool indirect)
{
	uint16_t next_desc = 0, *avail = (uint16_t *)(ram + AVAIL_OFF);

	memset(ram + BUF_OFF, GAP_BYTE, ram_len - BUF_OFF);
	for (unsigned r = 0; r < nreq; r++) {
		const struct req_spec *q = &reqs[r];
		uint64_t table = indirect ? TABLE_OFF + 16u * MAX_SEGS * r : DESC_OFF;
		uint16_t first = indirect ? 0 : next_desc;

		for (unsigned i = 0; i < q->nseg; i++) {
			const struct seg_spec *s = &q->seg[i];
			uint16_t flags = (s->write ? VRING_DESC_F_WRITE : 0) |
					 (i + 1 < q->nseg ? VRING_DESC_F_NEXT : 0);

			if (s->write) {
				memset(ram + s->off, 0xcc, s->len);
			} else {
				memset(ram + s->off, 0, s->len);
				if (s->src_len)
					memcpy(ram + s->off, s->src, s->src_len);
			}
			put_desc(ram, table, (uint16_t)(first + i), RAM_BASE + s->off, s->len, flags,
				 (uint16_t)(first + i + 1));
		}
		if (indirect) {
			put_desc(ram, DESC_OFF, (uint16_t)r, RAM_BASE + table, 16 * q->nseg,
				 VRING_DESC_F_INDIRECT, 0);
			avail[2 + r] = (uint16_t)r;
		} else {
			avail[2 + r] = first;
			next_desc = (uint16_t)(next_desc + q->nseg);
		}
	}
	avail[1] = (uint16_t)nreq;
}

/* Readable buffers and the gaps are as the driver wrote them. */
static void check_untouched(const uint8_t *ram, const struct req_spec *reqs, unsigned nreq)
{
	uint64_t at = BUF_OFF;

	for (unsigned r = 0; r < nreq; r++) {
		for (unsigned i = 0; i < reqs[r].nseg; i++) {
			const struct seg_spec *s = &reqs[r].seg[i];

			for (uint64_t b = at; b < s->off; b++)
				FUZZ_CHECK(ram[b] == GAP_BYTE);
			if (!s->write) {
				FUZZ_CHECK(!s->src_len || memcmp(ram + s->off, s->src, s->src_len) == 0);
				for (uint64_t b = s->src_len; b < s->len; b++)
					FUZZ_CHECK(ram[s->off + b] == 0);
			}
			at = s->off + s->len;
		}
	}
}

/* The status byte: the last byte of the last writable segment. */
static const uint8_t *status_byte(const uint8_t *ram, const struct req_spec *q)
{
	for (unsigned i = q->nseg; i-- > 0;)
		if (q->seg[i].write && q->seg[i].len)
			return ram + q->seg[i].off + q->seg[i].len - 1;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct req_spec reqs[MAX_REQS];
	struct virtio_dev *d;
	struct virtq *vq;
	struct gmem m;
	unsigned nreq, served = 0;
	size_t ram_len;
	uint8_t *ram, flags;
	int r;

	if (size < 1)
		return 0;
	flags = data[0];
	nreq = parse(data + 1, size - 1, reqs, &ram_len);
	ram = fake_ram(&m, NULL, 0, ram_len, RAM_BASE, 0, 0);
	if (!ram)
		return 0;
	lay_out(ram, ram_len, reqs, nreq, flags & 8);

	d = blk_detached_dev(disks[(flags & 3) == 3 ? 0 : flags & 3]);
	vq = &d->vq[0];
	vq_reset(vq);
	vq->size = QSIZE;
	vq->desc_gpa = RAM_BASE + DESC_OFF;
	vq->avail_gpa = RAM_BASE + AVAIL_OFF;
	vq->used_gpa = RAM_BASE + USED_OFF;
	FUZZ_CHECK(vq_activate(vq, &m, flags & 4, flags & 8) == 0);

	while ((r = vq_pop(vq, &req)) > 0) {
		const struct req_spec *q = &reqs[served];
		const struct vring_used_elem *u = (const void *)(ram + USED_OFF + 4 + 8u * served);
		const uint8_t *st = status_byte(ram, q);
		uint16_t used_before = vq->used_idx;

		FUZZ_CHECK(served < nreq && req.write_len == q->write_len);
		FUZZ_CHECK(blk_request(d, 0, &req));
		FUZZ_CHECK(vq->used_idx == (uint16_t)(used_before + 1));
		FUZZ_CHECK(u->id == req.head && u->len <= q->write_len);
		FUZZ_CHECK(!st || *st <= 2);
		served++;
	}
	FUZZ_CHECK(r == 0 && served == nreq);
	check_untouched(ram, reqs, nreq);
	vq_reset(vq);
	free(ram);
	return 0;
}
