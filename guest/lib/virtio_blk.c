/* virtio block driver (virtio 1.2 §5.2): requests in flight as slots of a table. */
#include "guest.h"
#include "virtio_blk.h"

static void read_config(struct vblk *b)
{
	struct virtio_dev *d = b->dev;

	b->capacity = virtio_cfg_read64(d, VIRTIO_BLK_CFG_CAPACITY);
	if (virtio_has(d, VIRTIO_BLK_F_SIZE_MAX))
		b->size_max = virtio_cfg_read32(d, VIRTIO_BLK_CFG_SIZE_MAX);
	if (virtio_has(d, VIRTIO_BLK_F_SEG_MAX))
		b->seg_max = virtio_cfg_read32(d, VIRTIO_BLK_CFG_SEG_MAX);
	if (virtio_has(d, VIRTIO_BLK_F_BLK_SIZE))
		b->blk_size = virtio_cfg_read32(d, VIRTIO_BLK_CFG_BLK_SIZE);
	if (virtio_has(d, VIRTIO_BLK_F_DISCARD)) {
		b->max_discard_sectors = virtio_cfg_read32(d, VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS);
		b->max_discard_seg = virtio_cfg_read32(d, VIRTIO_BLK_CFG_MAX_DISCARD_SEG);
		b->discard_align = virtio_cfg_read32(d, VIRTIO_BLK_CFG_DISCARD_ALIGN);
	}
	if (virtio_has(d, VIRTIO_BLK_F_WRITE_ZEROES)) {
		b->max_wz_sectors = virtio_cfg_read32(d, VIRTIO_BLK_CFG_MAX_WZ_SECTORS);
		b->max_wz_seg = virtio_cfg_read32(d, VIRTIO_BLK_CFG_MAX_WZ_SEG);
		b->wz_may_unmap = virtio_cfg_read8(d, VIRTIO_BLK_CFG_WZ_MAY_UNMAP);
	}
}

int vblk_init(struct vblk *b, struct virtio_dev *d, uint64_t want, uint8_t vector, unsigned qsize)
{
	int err;

	*b = (struct vblk){ .dev = d };
	err = virtio_negotiate(d, want);
	if (err)
		return err;
	read_config(b);
	b->vq = virtq_setup(d, 0, qsize);
	if (!b->vq)
		return -4;
	b->indirect = (want & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) && b->vq->indirect;
	b->reqs = page_alloc((sizeof(struct vblk_req) * b->vq->num + 4095) / 4096);
	if (!b->reqs)
		return -4;
	if (vector)
		virtio_irq_enable(d, vector);
	virtio_driver_ok(d);
	return 0;
}

int vblk_submit(struct vblk *b, uint32_t type, uint64_t sector, const struct virtq_seg *data,
		unsigned n, uint64_t range_sector, uint32_t range_num, uint32_t range_flags)
{
	struct virtq_seg segs[VBLK_MAX_SEGS + 3];
	unsigned k = 0, slot;
	struct vblk_req *r;
	int head;

	if (n > VBLK_MAX_SEGS)
		return VIRTQ_EINVAL;
	for (slot = 0; slot < b->vq->num && b->reqs[slot].busy; slot++)
		;
	if (slot == b->vq->num)
		return VIRTQ_EFULL;
	r = &b->reqs[slot];
	*r = (struct vblk_req){ .type = type, .sector = sector, .status = 0xee };
	/* §5.2.6: header (device-readable), data, then the status byte (device-writable). */
	segs[k++] = (struct virtq_seg){ (uint64_t)(uintptr_t)r, 16, false };
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		r->range_sector = range_sector;
		r->range_num = range_num;
		r->range_flags = range_flags;
		segs[k++] = (struct virtq_seg){ (uint64_t)(uintptr_t)&r->range_sector, 16, false };
	}
	for (unsigned i = 0; i < n; i++)
		segs[k++] = data[i];
	segs[k++] = (struct virtq_seg){ (uint64_t)(uintptr_t)&r->status, 1, true };
	head = virtq_add(b->vq, segs, k, b->indirect && k <= VIRTQ_INDIRECT_MAX, r);
	if (head < 0)
		return head;
	r->busy = true;
	return (int)slot;
}

bool vblk_kick(struct vblk *b)
{
	return virtq_kick(b->vq);
}

unsigned vblk_reap(struct vblk *b)
{
	unsigned n = 0;
	uint32_t len;
	void *cookie;

	while (virtq_get_used(b->vq, &len, &cookie) >= 0) {
		struct vblk_req *r = cookie;

		r->used_len = len;
		r->done = true;
		n++;
	}
	return n;
}

uint8_t vblk_complete(struct vblk *b, int slot, uint32_t *used_len)
{
	struct vblk_req *r = &b->reqs[slot];

	while (!r->done) {
		if (!vblk_reap(b) && !virtq_wait(b->vq, VBLK_TIMEOUT_MS))
			return VBLK_S_TIMEOUT;
	}
	r->busy = false;
	if (used_len)
		*used_len = r->used_len;
	return r->status;
}

uint8_t vblk_do(struct vblk *b, uint32_t type, uint64_t sector, const struct virtq_seg *data,
		unsigned n, uint32_t *used_len)
{
	int slot = vblk_submit(b, type, sector, data, n, 0, 0, 0);

	if (slot < 0)
		guest_fail(__FILE__, __LINE__, "virtio-blk: cannot submit (%d)", slot);
	vblk_kick(b);
	return vblk_complete(b, slot, used_len);
}

uint8_t vblk_read(struct vblk *b, uint64_t sector, void *buf, uint32_t len)
{
	struct virtq_seg s = { (uint64_t)(uintptr_t)buf, len, true };

	return vblk_do(b, VIRTIO_BLK_T_IN, sector, &s, 1, NULL);
}

uint8_t vblk_write(struct vblk *b, uint64_t sector, const void *buf, uint32_t len)
{
	struct virtq_seg s = { (uint64_t)(uintptr_t)buf, len, false };

	return vblk_do(b, VIRTIO_BLK_T_OUT, sector, &s, 1, NULL);
}

uint8_t vblk_range(struct vblk *b, uint32_t type, uint64_t sector, uint32_t num, uint32_t flags)
{
	int slot = vblk_submit(b, type, 0, NULL, 0, sector, num, flags);

	if (slot < 0)
		guest_fail(__FILE__, __LINE__, "virtio-blk: cannot submit (%d)", slot);
	vblk_kick(b);
	return vblk_complete(b, slot, NULL);
}
