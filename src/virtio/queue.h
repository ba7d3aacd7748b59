/*
 * Split virtqueues (virtio 1.2 §2.7), device side, over guest memory reached
 * only through kvm/mem.h's checked accessors.
 *
 * Everything in the rings is written by the guest and untrusted: indices,
 * descriptor addresses, lengths, flags and chains. vq_pop() turns one chain
 * into a list of host segments, each checked to lie wholly in guest RAM, and
 * refuses (with -EINVAL, which makes the device need a reset) loops, chains
 * longer than the queue, nested or malformed indirect tables, readable
 * descriptors after writable ones and avail indices that run ahead of the
 * queue size.
 */
#ifndef LODGE_VIRTIO_QUEUE_H
#define LODGE_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kvm/mem.h"

#define VQ_MAX_SIZE 1024        /* largest queue lodge offers (QueueNumMax) */
#define VQ_MAX_SEGS 1024        /* most segments one request may have */

/* Descriptor flags, §2.7.5. */
#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4
/* §2.7.6 / §2.7.8 */
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY     1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

/* One request: the chain's buffers, device-readable ones first. */
struct vq_req {
	uint16_t head;                  /* id to give back in the used ring */
	unsigned nread, nwrite;         /* segments: seg[0..nread) readable, then writable */
	uint64_t read_len, write_len;   /* bytes in each part */
	struct iovec seg[VQ_MAX_SEGS];
};

struct virtq {
	/* Set by the driver through the transport. */
	uint16_t size;                  /* QueueNum */
	bool ready;                     /* QueueReady */
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* Set by vq_activate(). */
	bool event_idx;                 /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;                  /* VIRTIO_F_INDIRECT_DESC negotiated */
	const struct gmem *mem;
	struct vring_desc *desc;        /* host views of the rings */
	uint16_t *avail;                /* flags, idx, ring[size], used_event */
	uint16_t *used_hdr;             /* flags, idx */
	struct vring_used_elem *used_ring;
	uint16_t *avail_event;          /* after used ring[size] */

	uint16_t last_avail;            /* next avail entry to take */
	uint16_t used_idx;              /* next used entry to fill */
	uint16_t signalled_used;        /* used_idx at the last interrupt */
	bool signalled_valid;
	bool broken;                    /* the guest broke the rules: no more processing */

	/* Statistics. */
	uint64_t requests;
	uint64_t suppressed;            /* interrupts not sent thanks to the driver's hints */
};

/*
 * Check the driver's queue configuration and map the rings: size a power of
 * two in 1..VQ_MAX_SIZE (§2.7), the rings aligned (§2.7: 16, 2, 4) and
 * inside guest RAM. 0 or -EINVAL.
 */
int vq_activate(struct virtq *q, const struct gmem *m, bool event_idx, bool indirect);

/* Forget the queue's configuration and state (device reset). */
void vq_reset(struct virtq *q);

/*
 * Take the next available chain into (r). Returns 1 with (r) filled, 0 when
 * the ring is empty, or -EINVAL when the guest broke the rules (the queue is
 * marked broken and returns -EINVAL from then on).
 */
int vq_pop(struct virtq *q, struct vq_req *r);

/* Put the chain vq_pop() just returned back (it will be popped again). */
void vq_unpop(struct virtq *q);

/* Give chain (head) back with (len) bytes written into its writable part. */
void vq_push(struct virtq *q, uint16_t head, uint32_t len);

/*
 * After a batch of vq_push(): does the driver want an interrupt (§2.7.7,
 * used_event with EVENT_IDX, else the NO_INTERRUPT flag)? Counts the ones it
 * suppresses.
 */
bool vq_should_interrupt(struct virtq *q);

/*
 * Tell the driver whether to notify (kick) the device: off while the device
 * is already draining the queue. With EVENT_IDX, "on" asks for a kick at the
 * next entry. Returns true when entries arrived meanwhile (check again).
 */
bool vq_set_notify(struct virtq *q, bool on);

/* Copy (len) bytes at (off) of the readable part of (r) into (dst); bytes copied. */
size_t vq_req_read(const struct vq_req *r, uint64_t off, void *dst, size_t len);

/* Copy (len) bytes from (src) into the writable part of (r) at (off); bytes copied. */
size_t vq_req_write(const struct vq_req *r, uint64_t off, const void *src, size_t len);

/*
 * Fill (iov) (at most (max) entries) with the [off, off+len) window of the
 * readable (writable == false) or writable part of (r). Returns the entry
 * count, or -EINVAL if the window is out of range or needs more than (max).
 */
int vq_req_iov(const struct vq_req *r, bool writable, uint64_t off, uint64_t len,
	       struct iovec *iov, int max);

#endif
