/*
 * virtio block device driver (virtio 1.2 §5.2) on top of virtio.h: one
 * request queue, requests built as header + data segments + status byte,
 * submitted asynchronously (vblk_submit / vblk_kick / vblk_complete) or
 * synchronously (vblk_do, vblk_read, vblk_write).
 */
#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio.h"

/* Feature bits (§5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX      1
#define VIRTIO_BLK_F_SEG_MAX       2
#define VIRTIO_BLK_F_GEOMETRY      4
#define VIRTIO_BLK_F_RO            5
#define VIRTIO_BLK_F_BLK_SIZE      6
#define VIRTIO_BLK_F_FLUSH         9
#define VIRTIO_BLK_F_TOPOLOGY      10
#define VIRTIO_BLK_F_CONFIG_WCE    11
#define VIRTIO_BLK_F_MQ            12
#define VIRTIO_BLK_F_DISCARD       13
#define VIRTIO_BLK_F_WRITE_ZEROES  14

/* Configuration space offsets (§5.2.4). */
#define VIRTIO_BLK_CFG_CAPACITY          0
#define VIRTIO_BLK_CFG_SIZE_MAX          8
#define VIRTIO_BLK_CFG_SEG_MAX           12
#define VIRTIO_BLK_CFG_BLK_SIZE          20
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG   40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN     44
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS    48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG        52
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP      56

/* Request types and status values (§5.2.6). */
#define VIRTIO_BLK_T_IN            0
#define VIRTIO_BLK_T_OUT           1
#define VIRTIO_BLK_T_FLUSH         4
#define VIRTIO_BLK_T_GET_ID        8
#define VIRTIO_BLK_T_DISCARD       11
#define VIRTIO_BLK_T_WRITE_ZEROES  13
#define VIRTIO_BLK_S_OK            0
#define VIRTIO_BLK_S_IOERR         1
#define VIRTIO_BLK_S_UNSUPP        2
#define VIRTIO_BLK_ID_BYTES        20
#define VIRTIO_BLK_WZ_F_UNMAP      1
#define VBLK_S_TIMEOUT             0xff  /* vblk_do: the device did not answer */

/* The block features this driver can use; vblk_init negotiates what the caller asks for. */
#define VBLK_FEATURES                                                                       \
	(VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |             \
	 VIRTIO_BIT(VIRTIO_BLK_F_GEOMETRY) | VIRTIO_BIT(VIRTIO_BLK_F_RO) |                  \
	 VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |               \
	 VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY) | VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |             \
	 VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES))

#define VBLK_MAX_SEGS    64     /* data segments per request */
#define VBLK_TIMEOUT_MS  10000

/* Header, status and discard/write-zeroes range of one request slot. */
struct vblk_req {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
	uint64_t range_sector;          /* struct virtio_blk_discard_write_zeroes */
	uint32_t range_num;
	uint32_t range_flags;
	volatile uint8_t status;
	bool busy;
	uint32_t used_len;
	bool done;
};

struct vblk {
	struct virtio_dev *dev;
	struct virtq *vq;
	bool indirect;                  /* put each request in an indirect table */
	uint64_t capacity;              /* 512-byte sectors */
	uint32_t size_max, seg_max, blk_size;       /* 0 when not offered */
	uint32_t max_discard_sectors, max_discard_seg, discard_align;
	uint32_t max_wz_sectors, max_wz_seg;
	uint8_t wz_may_unmap;
	struct vblk_req *reqs;          /* one slot per queue entry */
};

/*
 * Negotiate (want & offered) (e.g. VBLK_FEATURES | VIRTIO_F_EVENT_IDX),
 * read the configuration, set up the request queue (at most (qsize)
 * entries), route interrupts to (vector) unless it is 0 (polled), set
 * DRIVER_OK. Uses indirect descriptors when (want) includes
 * VIRTIO_F_INDIRECT_DESC and the device offers it. Returns 0 or the
 * virtio_negotiate error, -4 when the queue cannot be set up.
 */
int vblk_init(struct vblk *b, struct virtio_dev *d, uint64_t want, uint8_t vector, unsigned qsize);

/*
 * Make a request available (no kick): (type) at (sector) with data
 * segments (data, n) (their (write) flags as the device sees them). For
 * DISCARD / WRITE_ZEROES pass n = 0 and the range in (range_sector,
 * range_num, range_flags). Returns the slot (>= 0) or a VIRTQ_E* error.
 */
int vblk_submit(struct vblk *b, uint32_t type, uint64_t sector, const struct virtq_seg *data,
		unsigned n, uint64_t range_sector, uint32_t range_num, uint32_t range_flags);

/* Notify the device if it needs it; returns whether it did. */
bool vblk_kick(struct vblk *b);

/* Take every used request so far (slot->done set); returns how many. */
unsigned vblk_reap(struct vblk *b);

/* Wait for slot (slot) to complete and free it; returns its status (VBLK_S_TIMEOUT on timeout). */
uint8_t vblk_complete(struct vblk *b, int slot, uint32_t *used_len);

/* Submit, kick, complete: one synchronous request. */
uint8_t vblk_do(struct vblk *b, uint32_t type, uint64_t sector, const struct virtq_seg *data,
		unsigned n, uint32_t *used_len);

/* Read / write (len) bytes (a multiple of 512) at (sector) from/to (buf), one data segment. */
uint8_t vblk_read(struct vblk *b, uint64_t sector, void *buf, uint32_t len);
uint8_t vblk_write(struct vblk *b, uint64_t sector, const void *buf, uint32_t len);

/* DISCARD or WRITE_ZEROES of (num) sectors at (sector), one range; (flags) e.g. UNMAP. */
uint8_t vblk_range(struct vblk *b, uint32_t type, uint64_t sector, uint32_t num, uint32_t flags);

#endif
