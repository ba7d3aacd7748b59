/*
 * Split virtqueues, device side (virtio 1.2 §2.7). See queue.h for the
 * rules enforced on the guest's rings.
 *
 * The rings live in guest memory the guest may change at any moment: every
 * descriptor is copied out once and only the copy is used, indices are read
 * once, and the host pointers come from gmem_ptr() only.
 *
 * Diff snapshots need every page lodge writes: the used ring's writes are
 * marked (gmem_mark_dirty) where they happen, and a request's device-writable
 * buffers when vq_pop() hands them out, whether the device fills them or not.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

#include "util/log.h"
#include "virtio/queue.h"

static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

int vq_activate(struct virtq *q, const struct gmem *m, bool event_idx, bool indirect)
{
	uint64_t n = q->size;
	uint8_t *used;

	q->desc = NULL;         /* the queue stays unmapped unless every check passes */
	if (n == 0 || n > VQ_MAX_SIZE || (n & (n - 1)) != 0)
		return -EINVAL;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	q->desc = gmem_ptr(m, q->desc_gpa, 16 * n);
	q->avail = gmem_ptr(m, q->avail_gpa, 6 + 2 * n);
	used = gmem_ptr(m, q->used_gpa, 6 + 8 * n);
	if (!q->desc || !q->avail || !used) {
		q->desc = NULL;
		return -EINVAL;
	}
	q->used_hdr = (uint16_t *)used;
	q->used_ring = (struct vring_used_elem *)(used + 4);
	q->avail_event = (uint16_t *)(used + 4 + 8 * n);
	q->mem = m;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_valid = false;
	q->broken = false;
	return 0;
}

void vq_reset(struct virtq *q)
{
	uint64_t requests = q->requests, suppressed = q->suppressed;

	memset(q, 0, sizeof(*q));
	q->requests = requests;
	q->suppressed = suppressed;
}

static int vq_break(struct virtq *q, const char *why, uint64_t a)
{
	log_warn("virtio", "virtqueue: %s (0x%" PRIx64 "): the device needs a reset", why, a);
	q->broken = true;
	return -EINVAL;
}

int vq_pop(struct virtq *q, struct vq_req *r)
{
	const uint8_t *table = (const uint8_t *)q->desc;
	unsigned tsize = q->size, count = 0, nseg = 0;
	bool in_indirect = false;
	uint16_t avail_idx, idx;

	if (q->broken || !q->desc)
		return -EINVAL;
	avail_idx = load16(&q->avail[1]);
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return vq_break(q, "avail index runs ahead of the queue", avail_idx);
	if (avail_idx == q->last_avail)
		return 0;
	idx = __atomic_load_n(&q->avail[2 + q->last_avail % q->size], __ATOMIC_RELAXED);
	if (idx >= q->size)
		return vq_break(q, "avail ring names a descriptor outside the table", idx);
	q->last_avail++;
	r->head = idx;
	r->nread = r->nwrite = 0;
	r->read_len = r->write_len = 0;

	for (;;) {
		struct vring_desc d;

		if (idx >= tsize)
			return vq_break(q, "descriptor index outside the table", idx);
		if (++count > tsize)
			return vq_break(q, "descriptor chain loops or is longer than its table", count);
		memcpy(&d, table + 16u * idx, sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* §2.7.5.3.1: no nesting, no NEXT with INDIRECT, whole descriptors. */
			if (!q->indirect || in_indirect || (d.flags & VRING_DESC_F_NEXT))
				return vq_break(q, "indirect descriptor not allowed here", d.flags);
			if (d.len == 0 || d.len % 16 || d.len / 16 > VQ_MAX_SEGS)
				return vq_break(q, "bad indirect table length", d.len);
			table = gmem_ptr(q->mem, d.addr, d.len);
			if (!table)
				return vq_break(q, "indirect table outside guest RAM", d.addr);
			tsize = d.len / 16;
			count = 0;
			idx = 0;
			in_indirect = true;
			continue;
		}
		if (d.len > 0) {
			void *p = gmem_ptr(q->mem, d.addr, d.len);

			if (!p)
				return vq_break(q, "buffer outside guest RAM", d.addr);
			if (nseg == VQ_MAX_SEGS)
				return vq_break(q, "too many segments", nseg);
			if (d.flags & VRING_DESC_F_WRITE) {
				gmem_mark_dirty(q->mem, d.addr, d.len);
				r->nwrite++;
				r->write_len += d.len;
			} else {
				if (r->nwrite)
					return vq_break(q, "readable buffer after a writable one", d.addr);
				r->nread++;
				r->read_len += d.len;
			}
			r->seg[nseg].iov_base = p;
			r->seg[nseg].iov_len = d.len;
			nseg++;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		idx = d.next;
	}
	q->requests++;
	return 1;
}

void vq_unpop(struct virtq *q)
{
	q->last_avail--;
	q->requests--;
}

void vq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e;

	if (!q->desc)
		return;
	e = &q->used_ring[q->used_idx % q->size];
	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	gmem_mark_dirty(q->mem, q->used_gpa + 4 + 8ull * (q->used_idx % q->size), 8);
	q->used_idx++;
	store16(&q->used_hdr[1], q->used_idx);
	gmem_mark_dirty(q->mem, q->used_gpa, 4);
}

/* §2.7.7.2: interrupt if used_event lies in (old, new]. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool vq_should_interrupt(struct virtq *q)
{
	bool want;

	if (!q->desc)
		return false;
	/* The used index must be visible before the driver's hint is read. */
	atomic_thread_fence(memory_order_seq_cst);
	if (q->event_idx) {
		uint16_t old = q->signalled_used;
		bool valid = q->signalled_valid;

		q->signalled_used = q->used_idx;
		q->signalled_valid = true;
		want = !valid || need_event(load16(&q->avail[2 + q->size]), q->used_idx, old);
	} else {
		want = !(load16(&q->avail[0]) & VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (!want)
		q->suppressed++;
	return want;
}

bool vq_set_notify(struct virtq *q, bool on)
{
	if (!q->desc)
		return false;
	if (q->event_idx) {
		if (on) {
			store16(q->avail_event, q->last_avail);
			gmem_mark_dirty(q->mem, q->used_gpa + 4 + 8ull * q->size, 2);
		}
	} else {
		store16(&q->used_hdr[0], on ? 0 : VRING_USED_F_NO_NOTIFY);
		gmem_mark_dirty(q->mem, q->used_gpa, 2);
	}
	if (!on)
		return false;
	atomic_thread_fence(memory_order_seq_cst);
	return load16(&q->avail[1]) != q->last_avail;
}

/* Walk the [off, off+len) window of one part of (r), calling fn on each piece. */
#define VQ_FOR_WINDOW(r, writable, off, len, piece_base, piece_len, body)               \
	do {                                                                          \
		unsigned first_ = (writable) ? (r)->nread : 0;                        \
		unsigned end_ = (writable) ? (r)->nread + (r)->nwrite : (r)->nread;  \
		uint64_t skip_ = (off), left_ = (len);                                \
		for (unsigned i_ = first_; i_ < end_ && left_ > 0; i_++) {           \
			uint64_t sl_ = (r)->seg[i_].iov_len;                          \
			if (skip_ >= sl_) {                                           \
				skip_ -= sl_;                                         \
				continue;                                             \
			}                                                             \
			uint8_t *piece_base = (uint8_t *)(r)->seg[i_].iov_base + skip_; \
			uint64_t piece_len = sl_ - skip_ < left_ ? sl_ - skip_ : left_; \
			skip_ = 0;                                                    \
			left_ -= piece_len;                                           \
			body                                                          \
		}                                                                     \
	} while (0)

size_t vq_req_read(const struct vq_req *r, uint64_t off, void *dst, size_t len)
{
	size_t done = 0;

	VQ_FOR_WINDOW(r, false, off, len, p, n, {
		memcpy((uint8_t *)dst + done, p, n);
		done += n;
	});
	return done;
}

size_t vq_req_write(const struct vq_req *r, uint64_t off, const void *src, size_t len)
{
	size_t done = 0;

	VQ_FOR_WINDOW(r, true, off, len, p, n, {
		memcpy(p, (const uint8_t *)src + done, n);
		done += n;
	});
	return done;
}

int vq_req_iov(const struct vq_req *r, bool writable, uint64_t off, uint64_t len,
	       struct iovec *iov, int max)
{
	uint64_t part = writable ? r->write_len : r->read_len;
	int n = 0;
	bool full = false;

	if (off > part || len > part - off)
		return -EINVAL;
	VQ_FOR_WINDOW(r, writable, off, len, p, plen, {
		if (n == max) {
			full = true;
			break;
		}
		iov[n].iov_base = p;
		iov[n].iov_len = plen;
		n++;
	});
	return full ? -EINVAL : n;
}
