/*
 * The driver's side of the virtio device harnesses (fuzz_net.c,
 * fuzz_vsock.c, fuzz_balloon.c): split rings laid out in fake guest RAM
 * (fuzz.h), chains of buffers placed from the end of RAM downwards, the used
 * entries checked against what was made available, and a shadow copy of RAM
 * to prove the device wrote nothing outside the used rings and the writable
 * buffers. Header-only, static, like fuzz.h.
 */
#ifndef LODGE_FUZZ_DRIVER_H
#define LODGE_FUZZ_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "fuzz.h"
#include "virtio/queue.h"

#define GAP      16
#define QSIZE    64
#define RING_SPAN 0x2000ull     /* per queue: descriptors, avail at +0x800, used at +0x1000 */

struct dseg {
	uint32_t len;
	bool write;
	const uint8_t *src;     /* readable: contents (zeros past src_len) */
	size_t src_len;
	uint64_t off;           /* set by drv_chain: offset in RAM */
};

struct drv {
	struct gmem m;
	uint8_t *ram, *shadow;          /* RAM, and what the driver wrote there */
	size_t len;
	uint64_t base, top;             /* buffers are taken from the end of RAM down */
	unsigned nq;
	uint16_t next_desc[4], avail_idx[4], used_seen[4];
	uint64_t chain_wlen[4][QSIZE];  /* per head: the chain's writable bytes */
	uint8_t chain_state[4][QSIZE];  /* 1: made available, 2: used */
	uint64_t chain_off[4][QSIZE][8];        /* per head: its buffers (offsets, lengths) */
	uint32_t chain_len[4][QSIZE][8];
	bool chain_w[4][QSIZE][8];
	uint8_t chain_nseg[4][QSIZE];
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static bool drv_init(struct drv *v, size_t len, uint64_t base, unsigned nq, int split,
		     uint64_t base2)
{
	memset(v, 0, sizeof(*v));
	v->ram = fake_ram(&v->m, NULL, 0, len, base, split, base2);
	v->shadow = calloc(1, len);
	if (!v->ram || !v->shadow) {
		free(v->ram);
		free(v->shadow);
		return false;
	}
	v->len = len;
	v->base = base;
	v->top = len;
	v->nq = nq;
	return true;
}

static void drv_free(struct drv *v)
{
	free(v->ram);
	free(v->shadow);
}

/* Guest-physical address of RAM offset (off) (the split layout maps offsets above len/2). */
static uint64_t drv_gpa(const struct drv *v, uint64_t off)
{
	for (unsigned i = 0; i < v->m.nregions; i++)
		if (off >= v->m.regions[i].offset &&
		    off < v->m.regions[i].offset + v->m.regions[i].size)
			return v->m.regions[i].gpa + (off - v->m.regions[i].offset);
	return 0;
}

static void drv_put(struct drv *v, uint64_t off, const void *p, size_t n)
{
	memcpy(v->ram + off, p, n);
	memcpy(v->shadow + off, p, n);
}

/* Queue (q)'s rings, activated over this iteration's RAM. */
static int drv_queue(struct drv *v, struct virtq *vq, unsigned q, bool event_idx)
{
	vq_reset(vq);
	vq->size = QSIZE;
	vq->desc_gpa = drv_gpa(v, q * RING_SPAN);
	vq->avail_gpa = drv_gpa(v, q * RING_SPAN + 0x800);
	vq->used_gpa = drv_gpa(v, q * RING_SPAN + 0x1000);
	if (vq_activate(vq, &v->m, event_idx, false) < 0)
		return -1;
	vq->ready = true;
	return 0;
}

/*
 * Make a chain of (n) buffers available on queue (q) (readable ones must
 * come first for a well-formed chain; the caller decides). Buffers are
 * placed below the previous ones, (GAP) bytes apart, the first at the very
 * end of RAM; a buffer that does not
 * fit, or a segment that does not fit one region, ends the chain early
 * (false: nothing was made available).
 */
static bool drv_chain(struct drv *v, unsigned q, struct dseg *s, unsigned n)
{
	uint16_t head = v->next_desc[q];
	uint64_t wlen = 0, ring = q * RING_SPAN;
	uint16_t avail_at;

	if (n == 0 || n > 8 || head + n > QSIZE || v->avail_idx[q] >= QSIZE)
		return false;
	for (unsigned i = 0; i < n; i++) {
		uint64_t lo = v->nq * RING_SPAN;
		bool fits = false;

		/* The first buffer ends RAM: ASan sees an access past it. */
		uint64_t gap = v->top == v->len ? 0 : GAP;

		if (v->top < lo + gap + s[i].len)
			return false;
		s[i].off = v->top - gap - s[i].len;
		/* The buffer must not straddle the two regions (split RAM). */
		for (unsigned r = 0; r < v->m.nregions; r++)
			if (s[i].off >= v->m.regions[r].offset &&
			    s[i].off + s[i].len <= v->m.regions[r].offset + v->m.regions[r].size)
				fits = true;
		if (!fits && v->m.nregions > 1) {
			/* Start over below the second region's start. */
			uint64_t mid = v->m.regions[1].offset;

			if (mid < lo + GAP + s[i].len)
				return false;
			s[i].off = mid - GAP - s[i].len;
		}
		v->top = s[i].off;
	}
	for (unsigned i = 0; i < n; i++) {
		struct vring_desc d = {
			.addr = drv_gpa(v, s[i].off), .len = s[i].len,
			.flags = (uint16_t)((s[i].write ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = (uint16_t)(head + i + 1),
		};

		if (s[i].write) {
			memset(v->ram + s[i].off, 0xcc, s[i].len);
			memset(v->shadow + s[i].off, 0xcc, s[i].len);
			wlen += s[i].len;
		} else if (s[i].src_len) {
			drv_put(v, s[i].off, s[i].src, s[i].src_len < s[i].len ? s[i].src_len : s[i].len);
		}
		drv_put(v, ring + 16u * (head + i), &d, sizeof(d));
		v->chain_off[q][head][i] = s[i].off;
		v->chain_len[q][head][i] = s[i].len;
		v->chain_w[q][head][i] = s[i].write;
	}
	v->chain_nseg[q][head] = (uint8_t)n;
	v->chain_wlen[q][head] = wlen;
	v->chain_state[q][head] = 1;
	v->next_desc[q] = (uint16_t)(head + n);
	avail_at = v->avail_idx[q]++;
	drv_put(v, ring + 0x800 + 4 + 2u * avail_at, &head, 2);
	drv_put(v, ring + 0x800 + 2, &v->avail_idx[q], 2);
	return true;
}

/* The next used entry of queue (q), checked: a chain we made available, not used before, len within its writable part. */
static bool drv_used(struct drv *v, unsigned q, struct vring_used_elem *e)
{
	uint64_t ring = q * RING_SPAN + 0x1000;
	uint16_t idx;

	memcpy(&idx, v->ram + ring + 2, 2);
	if (idx == v->used_seen[q])
		return false;
	FUZZ_CHECK((uint16_t)(idx - v->used_seen[q]) <= v->avail_idx[q]);
	memcpy(e, v->ram + ring + 4 + 8u * (v->used_seen[q] % QSIZE), sizeof(*e));
	v->used_seen[q]++;
	FUZZ_CHECK(e->id < QSIZE && v->chain_state[q][e->id] == 1);
	FUZZ_CHECK(e->len <= v->chain_wlen[q][e->id]);
	v->chain_state[q][e->id] = 2;
	return true;
}

/* Copy up to (n) bytes from offset (at) of chain (head)'s writable part. */
__attribute__((unused)) static size_t drv_chain_read(const struct drv *v, unsigned q, uint16_t head, uint64_t at,
			     void *dst, size_t n)
{
	size_t done = 0;

	for (unsigned i = 0; i < v->chain_nseg[q][head] && done < n; i++) {
		uint32_t l = v->chain_len[q][head][i];

		if (!v->chain_w[q][head][i])
			continue;
		if (at >= l) {
			at -= l;
			continue;
		}
		size_t k = l - at < n - done ? l - at : n - done;

		memcpy((uint8_t *)dst + done, v->ram + v->chain_off[q][head][i] + at, k);
		done += k;
		at = 0;
	}
	return done;
}

/* Nothing but used rings and writable buffers changed. */
static void drv_check_untouched(struct drv *v)
{
	/* What the device may write is taken as it is; then all the rest must match. */
	for (unsigned q = 0; q < v->nq; q++) {
		uint64_t used = q * RING_SPAN + 0x1000;

		memcpy(v->shadow + used, v->ram + used, 4 + 8 * QSIZE + 2);
		for (unsigned h = 0; h < QSIZE; h++)
			for (unsigned i = 0; v->chain_state[q][h] && i < v->chain_nseg[q][h]; i++)
				if (v->chain_w[q][h][i])
					memcpy(v->shadow + v->chain_off[q][h][i],
					       v->ram + v->chain_off[q][h][i], v->chain_len[q][h][i]);
	}
	if (memcmp(v->ram, v->shadow, v->len) == 0)
		return;
	for (size_t i = 0; i < v->len; i++)
		if (v->ram[i] != v->shadow[i]) {
			fprintf(stderr, "RAM offset 0x%zx changed (0x%02x, was 0x%02x)\n", i,
				v->ram[i], v->shadow[i]);
			break;
		}
	FUZZ_CHECK(!"the device wrote outside the used rings and writable buffers");
}

#endif
