/*
 * virtio-blk (virtio 1.2 §5.2) over raw image files: read, write, flush,
 * get-id, discard and write-zeroes; read-only drives; a synchronous backend
 * and an io_uring one (Firecracker's io_engine "Sync" / "Async"; Async falls
 * back to Sync where io_uring is unavailable); O_DIRECT (cache_type
 * "Direct"); Firecracker's rate limiter; live updates of a running drive
 * (another image, a new rate limiter: PATCH /drives, blk.h).
 *
 * A request is a header (type, sector), data, and a status byte, laid out
 * any way across the chain's buffers (§5.2.6: no framing assumed).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/device.h"
#include "util/log.h"
#include "util/ratelimit.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "vmm/vm.h"

/* §5.2.3 feature bits. */
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* §5.2.6 request types and status. */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK           0
#define VIRTIO_BLK_S_IOERR        1
#define VIRTIO_BLK_S_UNSUPP       2
#define VIRTIO_BLK_WZ_UNMAP       1u
#define VIRTIO_BLK_ID_BYTES       20

#define SECTOR 512ull
#define BLK_QUEUE_MAX 256
#define BLK_SEG_MAX (VQ_MAX_SEGS - 2)
#define BLK_MAX_DISCARD_SECTORS (1u << 22)      /* 2 GiB per range */

/* §5.2.4, the fields lodge fills (little-endian, the host's order on x86). */
struct virtio_blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint8_t geometry[4];
	uint32_t blk_size;
	uint8_t topology[8];
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_range {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* An io_uring request in flight. */
struct blk_slot {
	bool busy;
	uint16_t head;
	uint8_t *status;                /* host pointer to the status byte (checked at pop) */
	uint32_t used_len;              /* bytes written into the chain on success */
	uint64_t expect;                /* bytes the operation must transfer */
	struct iovec *iov;
};

struct blk {
	struct virtio_dev dev;
	const struct drive_config *cfg;
	struct virtio_blk_config config;
	int fd;                         /* the image */
	int fd_buffered;                /* without O_DIRECT, for unaligned guest buffers; else -1 */
	uint64_t sectors;
	struct rate_limiter rl;
	struct rate_limiter_config rl_cfg;      /* what (rl) was made from */
	char id[VIRTIO_BLK_ID_BYTES];
	struct vq_req req;
	struct iovec iov[VQ_MAX_SEGS];

	bool uring;
	struct io_uring ring;
	int ring_fd;                    /* eventfd signalled on completions */
	unsigned inflight;
	struct blk_slot slots[BLK_QUEUE_MAX];
};

struct blk_set {
	unsigned n;
	struct blk *disks[CONFIG_MAX_DRIVES];
};

/* An opened image file. */
struct blk_image {
	int fd;
	int fd_buffered;                /* without O_DIRECT, for unaligned guest buffers; else -1 */
	uint64_t sectors;
};

static bool range_ok(const struct blk *b, uint64_t sector, uint64_t count)
{
	return sector <= b->sectors && count <= b->sectors - sector;
}

/* Positional read/write; with O_DIRECT an unaligned buffer goes through the buffered fd. */
static ssize_t blk_rw(struct blk *b, bool write, struct iovec *iov, int n, uint64_t off)
{
	ssize_t r = write ? pwritev(b->fd, iov, n, (off_t)off) : preadv(b->fd, iov, n, (off_t)off);

	if (r < 0 && errno == EINVAL && b->fd_buffered >= 0)
		r = write ? pwritev(b->fd_buffered, iov, n, (off_t)off)
			  : preadv(b->fd_buffered, iov, n, (off_t)off);
	return r;
}

/* Full transfer or failure, retrying short counts. */
static int blk_rw_all(struct blk *b, bool write, struct iovec *iov, int n, uint64_t off,
		      uint64_t len)
{
	while (len > 0) {
		ssize_t r = blk_rw(b, write, iov, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		off += (uint64_t)r;
		len -= (uint64_t)r;
		/* Advance the iovec past what was done. */
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

static int blk_zero(struct blk *b, uint64_t off, uint64_t len, bool unmap)
{
	static const uint8_t zeros[65536];

	if (fallocate(b->fd, unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
				   : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == 0)
		return 0;
	while (len > 0) {
		struct iovec v = { (void *)zeros, len < sizeof(zeros) ? len : sizeof(zeros) };
		int fd = b->fd_buffered >= 0 ? b->fd_buffered : b->fd;
		ssize_t r = pwritev(fd, &v, 1, (off_t)off);

		if (r <= 0)
			return -EIO;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

/* DISCARD / WRITE_ZEROES: a list of ranges after the header (§5.2.6.2). */
static uint8_t blk_ranges(struct blk *b, const struct vq_req *req, uint32_t type)
{
	struct blk_range rg;
	uint64_t bytes = req->read_len - sizeof(struct blk_hdr);

	if (bytes == 0 || bytes % sizeof(rg) || bytes / sizeof(rg) > 1)
		return VIRTIO_BLK_S_UNSUPP;     /* max_*_seg is 1 */
	vq_req_read(req, sizeof(struct blk_hdr), &rg, sizeof(rg));
	if (type == VIRTIO_BLK_T_DISCARD && rg.flags)
		return VIRTIO_BLK_S_UNSUPP;
	if ((rg.flags & ~VIRTIO_BLK_WZ_UNMAP) || rg.num_sectors > BLK_MAX_DISCARD_SECTORS)
		return VIRTIO_BLK_S_UNSUPP;
	if (!range_ok(b, rg.sector, rg.num_sectors))
		return VIRTIO_BLK_S_IOERR;
	if (type == VIRTIO_BLK_T_DISCARD) {
		/* A hint: a file system that cannot punch holes just keeps the data. */
		if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)(rg.sector * SECTOR), (off_t)(rg.num_sectors * SECTOR)) < 0)
			log_debug("virtio", "%s: discard: %s", b->dev.name, strerror(errno));
		return VIRTIO_BLK_S_OK;
	}
	return blk_zero(b, rg.sector * SECTOR, rg.num_sectors * SECTOR,
			rg.flags & VIRTIO_BLK_WZ_UNMAP) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

static void blk_complete(struct blk *b, uint16_t head, uint8_t *status, uint8_t value,
			 uint32_t used_len)
{
	*status = value;
	vq_push(&b->dev.vq[0], head, used_len);
}

/* io_uring submission of a read, write or flush; false when it must be done synchronously. */
static bool blk_submit(struct blk *b, const struct blk_hdr *h, int n, uint64_t len,
		       uint8_t *status, uint32_t used_len, uint16_t head)
{
	struct io_uring_sqe *sqe;
	struct blk_slot *s = NULL;
	unsigned i;

	for (i = 0; i < BLK_QUEUE_MAX; i++) {
		if (!b->slots[i].busy) {
			s = &b->slots[i];
			break;
		}
	}
	if (!s || !(sqe = io_uring_get_sqe(&b->ring)))
		return false;
	if (h->type != VIRTIO_BLK_T_FLUSH) {
		s->iov = malloc((size_t)n * sizeof(struct iovec));
		if (!s->iov)
			return false;
		memcpy(s->iov, b->iov, (size_t)n * sizeof(struct iovec));
	}
	if (h->type == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, b->fd, s->iov, (unsigned)n, h->sector * SECTOR);
	else if (h->type == VIRTIO_BLK_T_OUT)
		io_uring_prep_writev(sqe, b->fd, s->iov, (unsigned)n, h->sector * SECTOR);
	else {
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_IO_DRAIN;   /* after every write before it */
	}
	io_uring_sqe_set_data64(sqe, i);
	s->busy = true;
	s->head = head;
	s->status = status;
	s->used_len = used_len;
	s->expect = len;
	b->inflight++;
	return true;
}

bool blk_request(struct virtio_dev *d, unsigned q, struct vq_req *req)
{
	struct blk *b = d->priv;
	struct blk_hdr h;
	uint8_t *status;
	uint64_t len = 0;
	uint8_t st = VIRTIO_BLK_S_OK;
	uint32_t used = 1;
	int n = 0;

	(void)q;
	if (req->write_len == 0) {
		/* No room for a status: nothing can be reported; give the chain back. */
		vq_push(&d->vq[0], req->head, 0);
		return true;
	}
	{
		const struct iovec *last = &req->seg[req->nread + req->nwrite - 1];

		status = (uint8_t *)last->iov_base + last->iov_len - 1;
	}
	if (vq_req_read(req, 0, &h, sizeof(h)) != sizeof(h)) {
		blk_complete(b, req->head, status, VIRTIO_BLK_S_IOERR, 1);
		return true;
	}
	if (h.type == VIRTIO_BLK_T_IN || h.type == VIRTIO_BLK_T_OUT) {
		bool in = h.type == VIRTIO_BLK_T_IN;

		len = in ? req->write_len - 1 : req->read_len - sizeof(h);
		if (!ratelimit_consume(&b->rl, len, 1)) {
			vq_unpop(&d->vq[0]);
			return false;
		}
		if (len % SECTOR || !range_ok(b, h.sector, len / SECTOR) ||
		    (!in && b->cfg->read_only)) {
			st = VIRTIO_BLK_S_IOERR;
		} else if (len > 0) {
			n = vq_req_iov(req, in, in ? 0 : sizeof(h), len, b->iov, VQ_MAX_SEGS);
			if (n < 0)
				st = VIRTIO_BLK_S_IOERR;
			else if (b->uring && blk_submit(b, &h, n, len, status,
							in ? (uint32_t)len + 1 : 1, req->head))
				return true;
			else if (blk_rw_all(b, !in, b->iov, n, h.sector * SECTOR, len) < 0)
				st = VIRTIO_BLK_S_IOERR;
		}
		if (in && st == VIRTIO_BLK_S_OK)
			used = (uint32_t)len + 1;
	} else if (h.type == VIRTIO_BLK_T_FLUSH) {
		if (!ratelimit_consume(&b->rl, 0, 1)) {
			vq_unpop(&d->vq[0]);
			return false;
		}
		if (b->cfg->cache != DRIVE_CACHE_UNSAFE && !b->cfg->read_only) {
			if (b->uring && blk_submit(b, &h, 0, 0, status, 1, req->head))
				return true;
			if (fdatasync(b->fd) < 0)
				st = VIRTIO_BLK_S_IOERR;
		}
	} else if (h.type == VIRTIO_BLK_T_GET_ID) {
		uint64_t room = req->write_len - 1;

		used += (uint32_t)vq_req_write(req, 0, b->id, room < sizeof(b->id) ? room : sizeof(b->id));
	} else if (h.type == VIRTIO_BLK_T_DISCARD || h.type == VIRTIO_BLK_T_WRITE_ZEROES) {
		st = b->cfg->read_only ? VIRTIO_BLK_S_IOERR : blk_ranges(b, req, h.type);
	} else {
		st = VIRTIO_BLK_S_UNSUPP;
	}
	blk_complete(b, req->head, status, st, used);
	return true;
}

/*
 * Reap io_uring completions (lock held): those ready, or with (wait) all in
 * flight. (complete): push their used entries; else drop the results (a
 * reset: the rings are gone). Returns 0, or the wait's -errno with some
 * still in flight.
 */
static int blk_reap(struct blk *b, bool wait, bool complete)
{
	struct io_uring_cqe *cqe;

	while (b->inflight > 0) {
		int r = wait ? io_uring_wait_cqe(&b->ring, &cqe) : io_uring_peek_cqe(&b->ring, &cqe);
		struct blk_slot *s;
		uint64_t i;

		if (r == -EINTR && wait)
			continue;
		if (r < 0)
			return wait ? r : 0;
		i = io_uring_cqe_get_data64(cqe);
		if (i < BLK_QUEUE_MAX && b->slots[i].busy) {
			bool ok = cqe->res >= 0 && (uint64_t)cqe->res == b->slots[i].expect;

			s = &b->slots[i];
			if (complete)
				blk_complete(b, s->head, s->status,
					     ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR,
					     ok ? s->used_len : 1);
			free(s->iov);
			s->iov = NULL;
			s->busy = false;
			b->inflight--;
		}
		io_uring_cqe_seen(&b->ring, cqe);
	}
	return 0;
}

static void blk_notify(struct virtio_dev *d, unsigned q)
{
	struct blk *b = d->priv;

	virtio_drain(d, q, &b->req, blk_request);
	if (b->uring && io_uring_sq_ready(&b->ring))
		io_uring_submit(&b->ring);
}

static void blk_ring_event(void *opaque, uint32_t events)
{
	struct blk *b = opaque;
	uint64_t n;
	uint16_t before;

	(void)events;
	if (read(b->ring_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&b->dev.lock);
	before = b->dev.vq[0].used_idx;
	blk_reap(b, false, true);
	if (b->dev.vq[0].used_idx != before)
		virtio_used(&b->dev, 0);
	pthread_mutex_unlock(&b->dev.lock);
}

static void blk_timer(void *opaque, uint32_t events)
{
	struct blk *b = opaque;

	(void)events;
	pthread_mutex_lock(&b->dev.lock);
	ratelimit_timer_fired(&b->rl);
	if (virtio_live(&b->dev) && b->dev.vq[0].ready)
		blk_notify(&b->dev, 0);
	pthread_mutex_unlock(&b->dev.lock);
}

/* Device reset: in-flight requests finish before the rings are forgotten. */
static void blk_reset(struct virtio_dev *d)
{
	struct blk *b = d->priv;

	if (b->uring)
		blk_reap(b, true, false);
}

/*
 * Snapshot: every io_uring request completes and its used entry is pushed
 * (with an interrupt if the driver wants one), so the rings hold the whole
 * state and nothing is in flight.
 */
static int blk_quiesce(struct virtio_dev *d, struct err *e)
{
	struct blk *b = d->priv;
	uint16_t before = d->vq[0].used_idx;
	int r;

	if (!b->uring)
		return 0;
	if (io_uring_sq_ready(&b->ring))
		io_uring_submit(&b->ring);
	r = blk_reap(b, true, true);
	if (d->vq[0].used_idx != before)
		virtio_used(d, 0);
	if (r < 0)
		return errf(e, r, "%s: %u requests still in flight: %s", d->name, b->inflight,
			    strerror(-r));
	return 0;
}

/* QueueReady 0: the same wait as a reset, for the one queue there is. */
static void blk_stop_queue(struct virtio_dev *d, unsigned q)
{
	(void)q;
	blk_reset(d);
}

static const struct virtio_ops blk_ops = {
	.kind = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nqueues = 1,
	.queue_max = BLK_QUEUE_MAX,
	.notify = blk_notify,
	.reset = blk_reset,
	.stop_queue = blk_stop_queue,
	.quiesce = blk_quiesce,
};

static void blk_image_close(struct blk_image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	if (img->fd_buffered >= 0)
		close(img->fd_buffered);
	img->fd = img->fd_buffered = -1;
}

/*
 * Open (path) as drive (c)'s image: read-only or read-write as the drive
 * is, O_DIRECT for cache_type "Direct"; a regular file or a block device.
 * 0, or -errno with (e) filled and nothing left open.
 */
static int blk_image_open(const struct drive_config *c, const char *path, struct blk_image *img,
			  struct err *e)
{
	int flags = (c->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	int r = 0;

	img->fd_buffered = -1;
	img->fd = open(path, flags | (c->cache == DRIVE_CACHE_DIRECT ? O_DIRECT : 0));
	if (img->fd < 0)
		return errf(e, -errno, "drive '%s': %s: %s", c->id, path, strerror(errno));
	if (c->cache == DRIVE_CACHE_DIRECT) {
		img->fd_buffered = open(path, flags);
		if (img->fd_buffered < 0)
			r = errf(e, -errno, "drive '%s': %s: %s", c->id, path, strerror(errno));
	}
	if (!r && fstat(img->fd, &st) < 0)
		r = errf(e, -errno, "drive '%s': %s: %s", c->id, path, strerror(errno));
	if (!r && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		r = errf(e, -EINVAL, "drive '%s': %s: not a file or block device", c->id, path);
	if (r) {
		blk_image_close(img);
		return r;
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(img->fd, 0, SEEK_END);

		st.st_size = end < 0 ? 0 : end;
	}
	if (st.st_size % SECTOR)
		log_warn("virtio", "drive '%s': %s: size is not a multiple of 512; the tail is unused",
			 c->id, path);
	img->sectors = (uint64_t)st.st_size / SECTOR;
	return 0;
}

/* The part of set-up that needs no VM: the image, config space and features. */
static int blk_setup(struct blk *b, const struct drive_config *c, struct err *e)
{
	struct blk_image img;
	int r;

	b->cfg = c;
	b->fd = b->fd_buffered = b->ring_fd = -1;
	b->rl.timer_fd = -1;
	b->dev.ops = &blk_ops;
	b->dev.priv = b;
	snprintf(b->dev.name, sizeof(b->dev.name), "virtio-blk %s", c->id);
	/* GET_ID: up to 20 bytes, NUL-terminated only if shorter (§5.2.6). */
	memcpy(b->id, c->id, strlen(c->id) < sizeof(b->id) ? strlen(c->id) : sizeof(b->id));
	r = blk_image_open(c, c->path, &img, e);
	if (r < 0)
		return r;
	b->fd = img.fd;
	b->fd_buffered = img.fd_buffered;
	b->sectors = img.sectors;
	b->config.capacity = b->sectors;
	b->config.seg_max = BLK_SEG_MAX;
	b->config.blk_size = SECTOR;
	b->config.num_queues = 1;
	b->config.max_discard_sectors = BLK_MAX_DISCARD_SECTORS;
	b->config.max_discard_seg = 1;
	b->config.discard_sector_alignment = 1;
	b->config.max_write_zeroes_sectors = BLK_MAX_DISCARD_SECTORS;
	b->config.max_write_zeroes_seg = 1;
	b->config.write_zeroes_may_unmap = 1;
	b->dev.config = (uint8_t *)&b->config;
	b->dev.config_size = sizeof(b->config);
	b->dev.features = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
			  VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
	if (c->read_only)
		b->dev.features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	else
		b->dev.features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |
				   VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	return 0;
}

static int blk_create(struct vm *vm, struct blk *b, const struct drive_config *c, struct err *e)
{
	int r = blk_setup(b, c, e);

	if (r < 0)
		return r;
	if (c->io == DRIVE_IO_ASYNC) {
		r = io_uring_queue_init(BLK_QUEUE_MAX, &b->ring, 0);
		if (r < 0) {
			log_warn("virtio", "drive '%s': io_uring unavailable (%s): using the synchronous engine",
				 c->id, strerror(-r));
		} else {
			b->uring = true;
			b->ring_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (b->ring_fd < 0 || io_uring_register_eventfd(&b->ring, b->ring_fd) < 0 ||
			    loop_add(&vm->loop, b->ring_fd, EPOLLIN, blk_ring_event, b) < 0)
				return errf(e, -EIO, "drive '%s': cannot wire io_uring completions", c->id);
		}
	}
	r = ratelimit_init(&b->rl, &c->limiter);
	if (r < 0)
		return errf(e, r, "drive '%s': rate limiter: %s", c->id, strerror(-r));
	b->rl_cfg = c->limiter;
	if (ratelimit_active(&b->rl) && loop_add(&vm->loop, b->rl.timer_fd, EPOLLIN, blk_timer, b) < 0)
		return errf(e, -ENOMEM, "drive '%s': cannot watch the rate limiter", c->id);
	return virtio_mmio_create(vm, &b->dev, e);
}

static void blk_destroy(struct vm *vm, struct blk *b)
{
	if (b->uring) {
		blk_reap(b, true, false);
		if (b->ring_fd >= 0)
			loop_del(&vm->loop, b->ring_fd);
		io_uring_queue_exit(&b->ring);
	}
	if (b->ring_fd >= 0)
		close(b->ring_fd);
	if (vm && ratelimit_active(&b->rl))
		loop_del(&vm->loop, b->rl.timer_fd);
	ratelimit_destroy(&b->rl);
	virtio_mmio_destroy(&b->dev);
	if (b->fd >= 0)
		close(b->fd);
	if (b->fd_buffered >= 0)
		close(b->fd_buffered);
	free(b);
}

struct blk *blk_detached_create(const struct drive_config *c, struct err *e)
{
	struct blk *b = calloc(1, sizeof(*b));

	if (!b) {
		errf(e, -ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&b->dev.lock, NULL);
	if (blk_setup(b, c, e) < 0) {
		blk_destroy(NULL, b);
		return NULL;
	}
	return b;
}

struct virtio_dev *blk_detached_dev(struct blk *b)
{
	return &b->dev;
}

void blk_detached_destroy(struct blk *b)
{
	blk_destroy(NULL, b);
}

/* Firecracker's rule: the root drive is /dev/vda and the kernel is told so. */
static int blk_root_arg(struct vm *vm, const struct drive_config *c)
{
	char arg[96];

	if (c->partuuid)
		snprintf(arg, sizeof(arg), "root=PARTUUID=%s %s", c->partuuid,
			 c->read_only ? "ro" : "rw");
	else
		snprintf(arg, sizeof(arg), "root=/dev/vda %s", c->read_only ? "ro" : "rw");
	return vm_cmdline_append(vm, arg);
}

static int blk_init(struct vm *vm, void **state, struct err *e)
{
	const struct vm_config *cfg = vm->cfg;
	struct blk_set *set;
	unsigned order[CONFIG_MAX_DRIVES], n = 0;

	if (cfg->ndrives == 0)
		return 0;
	set = calloc(1, sizeof(*set));
	if (!set)
		return errf(e, -ENOMEM, "out of memory");
	*state = set;
	/* The root drive first, the others in the order given. */
	for (unsigned i = 0; i < cfg->ndrives; i++)
		if (cfg->drives[i].root)
			order[n++] = i;
	for (unsigned i = 0; i < cfg->ndrives; i++)
		if (!cfg->drives[i].root)
			order[n++] = i;
	for (unsigned i = 0; i < n; i++) {
		const struct drive_config *c = &cfg->drives[order[i]];
		struct blk *b = calloc(1, sizeof(*b));
		int r;

		if (!b)
			return errf(e, -ENOMEM, "out of memory");
		set->disks[set->n++] = b;
		r = blk_create(vm, b, c, e);
		if (r < 0)
			return r;
		if (c->root && blk_root_arg(vm, c) < 0)
			return errf(e, -ENOSPC, "drive '%s': kernel command line too long", c->id);
	}
	return 0;
}

static void blk_fini(struct vm *vm, void *state)
{
	struct blk_set *set = state;

	if (!set)
		return;
	for (unsigned i = 0; i < set->n; i++)
		blk_destroy(vm, set->disks[i]);
	free(set);
}

static const struct device_desc blk_desc = {
	.name = "virtio-blk",
	.order = DEVICE_ORDER_VIRTIO + 0,
	.init = blk_init,
	.fini = blk_fini,
};
DEVICE_DEFINE(blk_desc);

/* ---- Live updates (PATCH /drives, blk.h). ---- */

static struct blk *blk_find(struct vm *vm, const char *drive_id)
{
	for (unsigned i = 0; i < vm->ndevices; i++) {
		struct blk_set *set = vm->devices[i].state;

		if (vm->devices[i].desc != &blk_desc || !set)
			continue;
		for (unsigned j = 0; j < set->n; j++)
			if (strcmp(set->disks[j]->cfg->id, drive_id) == 0)
				return set->disks[j];
	}
	return NULL;
}

/* A limiter for (c) in (rl), its timer watched by the I/O loop (a detached device has none). */
static int blk_limiter_make(struct blk *b, const struct rate_limiter_config *c,
			    struct rate_limiter *rl, struct err *e)
{
	int r = ratelimit_init(rl, c);

	if (r < 0)
		return errf(e, r, "drive '%s': rate limiter: %s", b->cfg->id, strerror(-r));
	if (b->dev.vm && ratelimit_active(rl) &&
	    loop_add(&b->dev.vm->loop, rl->timer_fd, EPOLLIN, blk_timer, b) < 0) {
		ratelimit_destroy(rl);
		return errf(e, -ENOMEM, "drive '%s': cannot watch the rate limiter", b->cfg->id);
	}
	return 0;
}

static void blk_limiter_drop(struct blk *b, struct rate_limiter *rl)
{
	if (b->dev.vm && ratelimit_active(rl))
		loop_del(&b->dev.vm->loop, rl->timer_fd);
	ratelimit_destroy(rl);
}

/*
 * Lock held: put (img) in place of the image between two requests. The
 * Async engine's requests in flight complete first (on the old file); the
 * Sync engine has none outside notify(). The guest learns the new capacity
 * from a configuration change interrupt (virtio 1.2 §5.2.4 / §4.2.2).
 * (img) gets the old image for the caller to close; -errno leaves all as it was.
 */
static int blk_swap_image(struct blk *b, struct blk_image *img, struct err *e)
{
	struct blk_image old = { b->fd, b->fd_buffered, b->sectors };
	int r = blk_quiesce(&b->dev, e);

	if (r < 0)
		return r;
	b->fd = img->fd;
	b->fd_buffered = img->fd_buffered;
	b->sectors = img->sectors;
	b->config.capacity = b->sectors;
	virtio_config_changed(&b->dev);
	*img = old;
	return 0;
}

/*
 * Lock held: make (rl), built for (c), the device's limiter; (rl) gets the
 * old one. True when requests were held back for the old one's timer.
 */
static bool blk_swap_limiter(struct blk *b, const struct rate_limiter_config *c,
			     struct rate_limiter *rl)
{
	struct rate_limiter old = b->rl;

	ratelimit_carry(rl, c, &b->rl, &b->rl_cfg);
	b->rl = *rl;
	b->rl_cfg = *c;
	*rl = old;
	return old.waiting;
}

int blk_device_update(struct blk *b, const char *path, const struct rate_limiter_config *rl,
		      struct err *e)
{
	struct blk_image img = { -1, -1, 0 };
	struct rate_limiter fresh = { .timer_fd = -1 };
	static const uint64_t one = 1;
	bool held = false;
	int r;

	if (path && (r = blk_image_open(b->cfg, path, &img, e)) < 0)
		return r;
	if (rl && (r = blk_limiter_make(b, rl, &fresh, e)) < 0) {
		blk_image_close(&img);
		return r;
	}
	pthread_mutex_lock(&b->dev.lock);
	r = path ? blk_swap_image(b, &img, e) : 0;
	if (!r && rl)
		held = blk_swap_limiter(b, rl, &fresh);
	pthread_mutex_unlock(&b->dev.lock);
	/* The old (or, on failure, the unused new) limiter and image. */
	blk_limiter_drop(b, &fresh);
	blk_image_close(&img);
	if (!r && path)
		log_info("virtio", "%s: now %s, %" PRIu64 " sectors", b->dev.name, path, b->sectors);
	/* Requests waited for a timer that is gone: the I/O thread serves the queue again. */
	if (held && b->dev.vm && write(b->dev.kick_fd[0], &one, sizeof(one)) < 0)
		log_warn("virtio", "%s: kick eventfd: %s", b->dev.name, strerror(errno));
	return r;
}

int blk_update(struct vm *vm, const char *drive_id, const char *path,
	       const struct rate_limiter_config *rl, struct err *e)
{
	struct blk *b = blk_find(vm, drive_id);

	if (!b)
		return errf(e, -ENOENT, "no drive '%s'", drive_id);
	return blk_device_update(b, path, rl, e);
}
