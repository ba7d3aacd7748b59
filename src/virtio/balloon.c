/*
 * virtio-balloon, the traditional memory balloon (virtio 1.2 §5.5), with
 * statistics (§5.5.6.3), deflate-on-OOM and free page reporting (§5.5.6.5).
 * Free page hinting (§5.5.6.4) is not offered. See balloon.h.
 *
 * Pages the guest gives (inflateq, reporting_vq) are released on the host by
 * punching holes in the guest's memfd: the KVM mapping refaults them as
 * zeroes when the guest uses them again, so deflating needs no host work.
 * A restored VM whose RAM is a private mapping of the snapshot's memory
 * file (no memfd) releases them with MADV_DONTNEED instead.
 * The driver's PFNs and reported ranges are hostile input: each page is
 * checked to lie in guest RAM before anything is released.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "devices/device.h"
#include "snapshot/format.h"
#include "util/log.h"
#include "virtio/balloon.h"
#include "virtio/mmio.h"
#include "vmm/vm.h"

/* §5.5.3 feature bits. */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ       1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON    4
#define VIRTIO_BALLOON_F_PAGE_REPORTING 5

/* inflateq, deflateq, statsq, reporting_vq: hinting is never offered. */
#define BALLOON_NQUEUES 4
#define BALLOON_QUEUE_MAX 256
#define BALLOON_CHUNK 256               /* PFNs read from the guest at a time */
#define BALLOON_MAX_PFNS (64u * 1024)   /* PFNs taken from one buffer at most (256 MiB) */
#define BALLOON_MAX_STATS 64            /* statistics entries read from one buffer */
#define BALLOON_STAT_BYTES 10           /* le16 tag + le64 value, packed */

/* §5.5.4 (little-endian, the host's order on x86). */
struct virtio_balloon_config {
	uint32_t num_pages;
	uint32_t actual;
	uint32_t free_page_hint_cmd_id;
	uint32_t poison_val;
};

struct balloon {
	struct virtio_dev dev;
	struct virtio_balloon_config config;
	bool huge;                      /* RAM in 2 MiB pages: release only whole ones */
	uint64_t ram_mib;
	uint64_t stats_interval_s;      /* statistics polling period; 0: none */
	int timer_fd;                   /* statistics polling; -1 without */
	enum balloon_queue role[BALLOON_NQUEUES];
	bool stats_held;                /* the driver's statistics buffer is ours */
	uint16_t stats_head;
	const struct vring_desc *stats_ring;    /* the ring it came from */
	bool punch_warned;
	struct balloon_stats st;        /* counters, sizes and the last statistics */
	struct vq_req req;
};

static const char *const stat_names[BALLOON_STAT_TAGS] = {
	[BALLOON_STAT_SWAP_IN] = "swap_in",
	[BALLOON_STAT_SWAP_OUT] = "swap_out",
	[BALLOON_STAT_MAJFLT] = "major_faults",
	[BALLOON_STAT_MINFLT] = "minor_faults",
	[BALLOON_STAT_MEMFREE] = "free_memory",
	[BALLOON_STAT_MEMTOT] = "total_memory",
	[BALLOON_STAT_AVAIL] = "available_memory",
	[BALLOON_STAT_CACHES] = "disk_caches",
	[BALLOON_STAT_HTLB_PGALLOC] = "hugetlb_allocations",
	[BALLOON_STAT_HTLB_PGFAIL] = "hugetlb_failures",
};

const char *balloon_stat_name(unsigned t)
{
	return t < BALLOON_STAT_TAGS ? stat_names[t] : NULL;
}

/* ---- Pure parts (balloon.h). ---- */

unsigned balloon_queue_roles(uint64_t features, enum balloon_queue *roles, unsigned n)
{
	enum balloon_queue all[5];
	unsigned k = 0;

	all[k++] = BALLOON_Q_INFLATE;
	all[k++] = BALLOON_Q_DEFLATE;
	if (features & VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ))
		all[k++] = BALLOON_Q_STATS;
	if (features & VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT))
		all[k++] = BALLOON_Q_HINT;
	if (features & VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING))
		all[k++] = BALLOON_Q_REPORT;
	for (unsigned i = 0; i < n; i++)
		roles[i] = i < k ? all[i] : BALLOON_Q_NONE;
	return k;
}

void balloon_coalesce_flush(struct balloon_coalescer *c)
{
	if (c->len)
		c->fn(c->ctx, c->offset, c->len);
	c->len = 0;
}

void balloon_coalesce_add(struct balloon_coalescer *c, uint64_t offset, uint64_t len)
{
	if (len == 0)
		return;
	/* Joined only when neither end wraps around. */
	if (c->len && c->len <= UINT64_MAX - c->offset && offset == c->offset + c->len &&
	    len <= UINT64_MAX - offset) {
		c->len += len;
		return;
	}
	balloon_coalesce_flush(c);
	c->offset = offset;
	c->len = len;
}

uint64_t balloon_add_pfns(const struct gmem *m, const uint8_t *pfns, size_t n,
			  struct balloon_coalescer *c)
{
	uint64_t invalid = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t pfn;
		uint8_t *p;

		memcpy(&pfn, pfns + 4 * i, 4);
		p = gmem_ptr(m, (uint64_t)le32toh(pfn) << BALLOON_PAGE_SHIFT, BALLOON_PAGE_SIZE);
		if (!p) {
			invalid++;
			continue;
		}
		/* The mapping covers the whole memfd: a host offset is a memfd offset. */
		balloon_coalesce_add(c, (uint64_t)(p - m->host), BALLOON_PAGE_SIZE);
	}
	return invalid;
}

bool balloon_trim(uint64_t *offset, uint64_t *len, uint64_t unit)
{
	uint64_t start = *offset, end = *offset + *len;

	if (*len > UINT64_MAX - *offset)
		return false;
	start = (start + unit - 1) & ~(unit - 1);
	if (start < *offset)            /* rounding up wrapped */
		return false;
	end &= ~(unit - 1);
	if (end <= start)
		return false;
	*offset = start;
	*len = end - start;
	return true;
}

/* Mark the guest-physical pages behind mapping range [offset, offset+len) dirty. */
static void balloon_mark_dirty(const struct gmem *m, uint64_t offset, uint64_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct gmem_region *r = &m->regions[i];
		uint64_t lo = offset > r->offset ? offset : r->offset;
		uint64_t hi = offset + len < r->offset + r->size ? offset + len : r->offset + r->size;

		if (lo < hi)
			gmem_mark_dirty(m, r->gpa + (lo - r->offset), hi - lo);
	}
}

int balloon_punch(const struct gmem *m, bool huge, uint64_t offset, uint64_t len,
		  uint64_t *released)
{
	if (!balloon_trim(&offset, &len, huge ? BALLOON_HUGE_SIZE : BALLOON_PAGE_SIZE))
		return 0;
	if (offset > m->total || len > m->total - offset || len > INT64_MAX - offset)
		return -EINVAL;
	if (m->fd >= 0) {
		if (fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
			      (off_t)len) < 0)
			return -errno;
	} else if (madvise(m->host + offset, len, MADV_DONTNEED) < 0) {
		return -errno;
	}
	balloon_mark_dirty(m, offset, len);
	*released += len;
	return 0;
}

size_t balloon_parse_stats(const uint8_t *buf, size_t len, struct balloon_stats *s)
{
	size_t n = 0;

	s->present = 0;
	memset(s->val, 0, sizeof(s->val));
	for (size_t off = 0; len - off >= BALLOON_STAT_BYTES; off += BALLOON_STAT_BYTES) {
		uint16_t tag;
		uint64_t val;

		memcpy(&tag, buf + off, 2);
		memcpy(&val, buf + off + 2, 8);
		tag = le16toh(tag);
		n++;
		if (tag >= BALLOON_STAT_TAGS)
			continue;
		s->val[tag] = le64toh(val);
		s->present |= 1u << tag;
	}
	return n;
}

/* ---- The device. ---- */

/* One run of released guest pages (coalescer callback). */
static void balloon_release_run(void *ctx, uint64_t offset, uint64_t len)
{
	struct balloon *b = ctx;
	int r = balloon_punch(&b->dev.vm->mem, b->huge, offset, len, &b->st.released_bytes);

	if (r < 0 && !b->punch_warned) {
		b->punch_warned = true;
		log_warn("virtio", "%s: cannot release guest memory (%s: %s); pages stay allocated",
			 b->dev.name, b->dev.vm->mem.fd >= 0 ? "fallocate" : "madvise", strerror(-r));
	}
}

/* How many of the (n) le32 PFNs at (pfns) name no page of guest RAM. */
static uint64_t balloon_count_invalid(const struct gmem *m, const uint8_t *pfns, size_t n)
{
	uint64_t invalid = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t pfn;

		memcpy(&pfn, pfns + 4 * i, 4);
		if (!gmem_ptr(m, (uint64_t)le32toh(pfn) << BALLOON_PAGE_SHIFT, BALLOON_PAGE_SIZE))
			invalid++;
	}
	return invalid;
}

/* Inflate (release) or deflate (count) the PFNs in the readable part of (req). */
static void balloon_pfns(struct balloon *b, const struct vq_req *req, bool inflate)
{
	struct balloon_coalescer c = { .fn = balloon_release_run, .ctx = b };
	uint64_t n = req->read_len / 4;
	uint8_t buf[BALLOON_CHUNK * 4];

	if (n > BALLOON_MAX_PFNS) {      /* the rest is ignored, counted invalid */
		b->st.invalid += n - BALLOON_MAX_PFNS;
		n = BALLOON_MAX_PFNS;
	}
	for (uint64_t done = 0; done < n;) {
		size_t k = n - done < BALLOON_CHUNK ? (size_t)(n - done) : BALLOON_CHUNK;
		uint64_t invalid;

		vq_req_read(req, done * 4, buf, k * 4);
		if (inflate) {
			invalid = balloon_add_pfns(&b->dev.vm->mem, buf, k, &c);
			b->st.inflated += k - invalid;
		} else {
			/* Deflated pages refault as zeroes: only check and count. */
			invalid = balloon_count_invalid(&b->dev.vm->mem, buf, k);
			b->st.deflated += k - invalid;
		}
		b->st.invalid += invalid;
		done += k;
	}
	balloon_coalesce_flush(&c);
}

/*
 * §5.5.6.5: a reporting request's buffers are the free pages themselves;
 * release the whole 4 KiB pages they cover (already checked to be in RAM).
 */
static void balloon_report(struct balloon *b, const struct vq_req *req)
{
	struct balloon_coalescer c = { .fn = balloon_release_run, .ctx = b };
	const uint8_t *host = b->dev.vm->mem.host;

	for (unsigned i = 0; i < req->nread + req->nwrite; i++) {
		uint64_t off = (uint64_t)((const uint8_t *)req->seg[i].iov_base - host);
		uint64_t len = req->seg[i].iov_len;

		if (!balloon_trim(&off, &len, BALLOON_PAGE_SIZE))
			continue;
		b->st.reported += len / BALLOON_PAGE_SIZE;
		balloon_coalesce_add(&c, off, len);
	}
	balloon_coalesce_flush(&c);
}

/*
 * Give the statistics buffer we hold on queue (q) back; true if one was.
 * Not into a queue the driver set up again meanwhile: that id is not its.
 */
static bool balloon_stats_return(struct balloon *b, unsigned q)
{
	struct virtq *vq = &b->dev.vq[q];
	bool same = b->stats_held && vq->ready && !vq->broken && vq->desc == b->stats_ring;

	if (same)
		vq_push(vq, b->stats_head, 0);
	b->stats_held = false;
	return same;
}

/*
 * §5.5.6.3: the driver keeps one statistics buffer in statsq; the device
 * holds it and gives it back to ask for fresh values (balloon_timer).
 */
static void balloon_stats_buffer(struct balloon *b, unsigned q, const struct vq_req *req)
{
	uint8_t buf[BALLOON_MAX_STATS * BALLOON_STAT_BYTES];
	size_t n = vq_req_read(req, 0, buf, sizeof(buf));

	/* The driver must keep at most one buffer there: return the older one. */
	balloon_stats_return(b, q);
	balloon_parse_stats(buf, n, &b->st);
	b->st.updates++;
	b->stats_held = true;
	b->stats_head = req->head;
	b->stats_ring = b->dev.vq[q].desc;
	log_debug("virtio", "%s: statistics: free %" PRIu64 " of %" PRIu64 " bytes",
		  b->dev.name, b->st.val[BALLOON_STAT_MEMFREE], b->st.val[BALLOON_STAT_MEMTOT]);
}

static bool balloon_request(struct virtio_dev *d, unsigned q, struct vq_req *req)
{
	struct balloon *b = d->priv;

	switch (b->role[q]) {
	case BALLOON_Q_INFLATE:
	case BALLOON_Q_DEFLATE:
		balloon_pfns(b, req, b->role[q] == BALLOON_Q_INFLATE);
		break;
	case BALLOON_Q_REPORT:
		balloon_report(b, req);
		break;
	case BALLOON_Q_STATS:
		balloon_stats_buffer(b, q, req);
		return true;            /* held until the next poll */
	default:
		break;                  /* free_page_vq: never offered, nothing to do */
	}
	vq_push(&d->vq[q], req->head, 0);
	return true;
}

static void balloon_notify(struct virtio_dev *d, unsigned q)
{
	struct balloon *b = d->priv;

	if (q >= BALLOON_NQUEUES || b->role[q] == BALLOON_Q_NONE) {
		virtio_fail(d, "kick on a queue the negotiated features do not define (§5.5.2)");
		return;
	}
	virtio_drain(d, q, &b->req, balloon_request);
}

static int balloon_activate(struct virtio_dev *d)
{
	struct balloon *b = d->priv;

	balloon_queue_roles(d->driver_features, b->role, BALLOON_NQUEUES);
	b->stats_held = false;
	return 0;
}

/* The driver wrote config space: only actual is writable (§5.5.4). */
static void balloon_config_write(struct virtio_dev *d, uint32_t off, uint32_t len)
{
	struct balloon *b = d->priv;
	uint32_t actual = b->config.actual;

	(void)off;
	(void)len;
	b->config.num_pages = b->st.target_pages;
	b->config.free_page_hint_cmd_id = 0;
	b->config.poison_val = 0;
	if (actual != b->st.actual_pages)
		log_debug("virtio", "%s: actual %" PRIu32 " pages (target %" PRIu32 ")",
			  d->name, actual, b->st.target_pages);
	b->st.actual_pages = actual;
}

static void balloon_reset(struct virtio_dev *d)
{
	struct balloon *b = d->priv;

	b->stats_held = false;
	for (unsigned i = 0; i < BALLOON_NQUEUES; i++)
		b->role[i] = BALLOON_Q_NONE;
}

/* Statistics polling interval elapsed (I/O thread): give the buffer back. */
static void balloon_timer(void *opaque, uint32_t events)
{
	struct balloon *b = opaque;
	uint64_t ticks;

	(void)events;
	if (read(b->timer_fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	pthread_mutex_lock(&b->dev.lock);
	for (unsigned q = 0; q < BALLOON_NQUEUES; q++) {
		if (b->role[q] != BALLOON_Q_STATS || !b->stats_held)
			continue;
		if (virtio_live(&b->dev) && balloon_stats_return(b, q))
			virtio_used(&b->dev, q);
	}
	pthread_mutex_unlock(&b->dev.lock);
}

/*
 * Snapshot state after the transport's: target and actual size, the
 * statistics period, the statistics buffer held (u32 held, u32 head), the
 * last statistics and the counters. Free page reporting holds nothing.
 */
static int balloon_save(struct virtio_dev *d, struct snap_writer *w, struct err *e)
{
	struct balloon *b = d->priv;
	const struct balloon_stats *st = &b->st;

	(void)e;
	snap_put_u32(w, st->target_pages);
	snap_put_u32(w, st->actual_pages);
	snap_put_u64(w, b->stats_interval_s);
	snap_put_u32(w, b->stats_held);
	snap_put_u32(w, b->stats_held ? b->stats_head : 0);
	snap_put_u64(w, st->updates);
	snap_put_u32(w, st->present);
	for (unsigned t = 0; t < BALLOON_STAT_TAGS; t++)
		snap_put_u64(w, st->val[t]);
	snap_put_u64(w, st->inflated);
	snap_put_u64(w, st->deflated);
	snap_put_u64(w, st->reported);
	snap_put_u64(w, st->invalid);
	snap_put_u64(w, st->released_bytes);
	return 0;
}

/* The statistics buffer the snapshot says we hold: back on the stats queue's ring. */
static int balloon_restore_held(struct balloon *b, uint32_t head, struct err *e)
{
	for (unsigned q = 0; q < BALLOON_NQUEUES; q++) {
		const struct virtq *vq = &b->dev.vq[q];

		if (b->role[q] != BALLOON_Q_STATS)
			continue;
		if (!vq->ready || head >= vq->size)
			break;
		b->stats_held = true;
		b->stats_head = (uint16_t)head;
		b->stats_ring = vq->desc;
		return 0;
	}
	return errf(e, -EINVAL, "%s: holds statistics buffer %u, but no live statistics queue "
		    "has it", b->dev.name, head);
}

static int balloon_restore(struct virtio_dev *d, struct snap_cursor *c, struct err *e)
{
	struct balloon *b = d->priv;
	struct balloon_stats st;
	uint64_t interval;
	uint32_t held, head;

	memset(&st, 0, sizeof(st));
	st.target_pages = snap_get_u32(c);
	st.actual_pages = snap_get_u32(c);
	interval = snap_get_u64(c);
	held = snap_get_u32(c);
	head = snap_get_u32(c);
	st.updates = snap_get_u64(c);
	st.present = snap_get_u32(c);
	for (unsigned t = 0; t < BALLOON_STAT_TAGS; t++)
		st.val[t] = snap_get_u64(c);
	st.inflated = snap_get_u64(c);
	st.deflated = snap_get_u64(c);
	st.reported = snap_get_u64(c);
	st.invalid = snap_get_u64(c);
	st.released_bytes = snap_get_u64(c);
	if (c->error)
		return errf(e, -EINVAL, "%s: state truncated", d->name);
	if (st.target_pages > b->ram_mib << (20 - BALLOON_PAGE_SHIFT))
		return errf(e, -EINVAL, "%s: target of %" PRIu32 " pages is more than the guest's "
			    "%" PRIu64 " MiB", d->name, st.target_pages, b->ram_mib);
	if (interval != b->stats_interval_s)
		return errf(e, -EINVAL, "%s: statistics every %" PRIu64 " s in the snapshot, %" PRIu64
			    " s here", d->name, interval, b->stats_interval_s);
	if (held > 1 || (st.present >> BALLOON_STAT_TAGS))
		return errf(e, -EINVAL, "%s: statistics state malformed", d->name);
	b->stats_held = false;
	/* A failed device (not live) drops it: the driver must reset it anyway. */
	if (held && virtio_live(d) && balloon_restore_held(b, head, e) < 0)
		return -EINVAL;
	b->st = st;
	b->config.num_pages = st.target_pages;
	b->config.actual = st.actual_pages;
	b->config.free_page_hint_cmd_id = 0;
	b->config.poison_val = 0;
	return 0;
}

static const struct virtio_ops balloon_ops = {
	.kind = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.nqueues = BALLOON_NQUEUES,
	.queue_max = BALLOON_QUEUE_MAX,
	.activate = balloon_activate,
	.notify = balloon_notify,
	.config_write = balloon_config_write,
	.reset = balloon_reset,
	.save = balloon_save,
	.restore = balloon_restore,
};

/* The statistics timer, firing every (secs) seconds from now (not watched yet). */
static int balloon_timer_make(struct balloon *b, uint64_t secs, struct err *e)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = (time_t)secs },
		.it_value = { .tv_sec = (time_t)secs },
	};

	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->timer_fd < 0)
		return errf(e, -errno, "virtio-balloon: timerfd: %s", strerror(errno));
	if (timerfd_settime(b->timer_fd, 0, &its, NULL) < 0)
		return errf(e, -errno, "virtio-balloon: timerfd: %s", strerror(errno));
	return 0;
}

static int balloon_timer_start(struct vm *vm, struct balloon *b, uint64_t secs, struct err *e)
{
	int r = balloon_timer_make(b, secs, e);

	if (r < 0)
		return r;
	if (loop_add(&vm->loop, b->timer_fd, EPOLLIN, balloon_timer, b) < 0)
		return errf(e, -ENOMEM, "virtio-balloon: cannot watch the statistics timer");
	return 0;
}

static int balloon_init(struct vm *vm, void **state, struct err *e)
{
	const struct balloon_config *c = &vm->cfg->balloon;
	struct balloon *b;

	if (!c->enabled)
		return 0;
	if (c->free_page_hinting)
		return errf(e, -ENOTSUP, "virtio-balloon: free_page_hinting: not supported");
	if (c->amount_mib > vm->cfg->mem_mib)
		return errf(e, -EINVAL, "virtio-balloon: amount_mib %" PRIu64
			    " is more than the guest's %" PRIu64 " MiB of RAM",
			    c->amount_mib, vm->cfg->mem_mib);
	b = calloc(1, sizeof(*b));
	if (!b)
		return errf(e, -ENOMEM, "out of memory");
	*state = b;
	b->timer_fd = -1;
	b->huge = vm->cfg->hugepages;
	b->ram_mib = vm->cfg->mem_mib;
	b->stats_interval_s = c->stats_interval_s;
	b->st.target_pages = (uint32_t)(c->amount_mib << (20 - BALLOON_PAGE_SHIFT));
	b->config.num_pages = b->st.target_pages;
	b->dev.ops = &balloon_ops;
	b->dev.priv = b;
	b->dev.config = (uint8_t *)&b->config;
	b->dev.config_size = sizeof(b->config);
	snprintf(b->dev.name, sizeof(b->dev.name), "virtio-balloon");
	if (c->stats_interval_s)
		b->dev.features |= VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ);
	if (c->deflate_on_oom)
		b->dev.features |= VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	if (c->free_page_reporting)
		b->dev.features |= VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING);
	if (c->stats_interval_s) {
		int r = balloon_timer_start(vm, b, c->stats_interval_s, e);

		if (r < 0)
			return r;
	}
	return virtio_mmio_create(vm, &b->dev, e);
}

static void balloon_log(const struct balloon *b)
{
	const struct balloon_stats *s = &b->st;
	char line[512];
	size_t used = 0;

	log_info("virtio", "%s: target %" PRIu32 " pages, actual %" PRIu32 "; inflated %" PRIu64
		 ", deflated %" PRIu64 ", reported %" PRIu64 " pages, %" PRIu64
		 " invalid PFNs; released %" PRIu64 " bytes",
		 b->dev.name, s->target_pages, s->actual_pages, s->inflated, s->deflated,
		 s->reported, s->invalid, s->released_bytes);
	if (!s->updates)
		return;
	for (unsigned t = 0; t < BALLOON_STAT_TAGS && used < sizeof(line); t++) {
		int n;

		if (!(s->present & (1u << t)))
			continue;
		n = stat_names[t] ? snprintf(line + used, sizeof(line) - used, " %s=%" PRIu64,
					     stat_names[t], s->val[t])
				  : snprintf(line + used, sizeof(line) - used, " tag%u=%" PRIu64,
					     t, s->val[t]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	log_info("virtio", "%s: last statistics (%" PRIu64 " received):%s", b->dev.name,
		 s->updates, used ? line : " none");
}

static void balloon_fini(struct vm *vm, void *state)
{
	struct balloon *b = state;

	if (!b)
		return;
	if (b->dev.vm)
		balloon_log(b);
	if (b->timer_fd >= 0) {
		loop_del(&vm->loop, b->timer_fd);
		close(b->timer_fd);
	}
	virtio_mmio_destroy(&b->dev);
	free(b);
}

static const struct device_desc balloon_desc = {
	.name = "virtio-balloon",
	.order = DEVICE_ORDER_VIRTIO + 3,
	.init = balloon_init,
	.fini = balloon_fini,
};
DEVICE_DEFINE(balloon_desc);

/* ---- The API's view (balloon.h). ---- */

struct balloon *balloon_find(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].desc == &balloon_desc)
			return vm->devices[i].state;
	return NULL;
}

int balloon_set_target(struct balloon *b, uint64_t mib)
{
	if (mib > b->ram_mib)
		return -EINVAL;
	pthread_mutex_lock(&b->dev.lock);
	b->st.target_pages = (uint32_t)(mib << (20 - BALLOON_PAGE_SHIFT));
	b->config.num_pages = b->st.target_pages;
	virtio_config_changed(&b->dev);
	pthread_mutex_unlock(&b->dev.lock);
	return 0;
}

int balloon_set_stats_interval(struct balloon *b, uint64_t secs)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = (time_t)secs },
		.it_value = { .tv_sec = (time_t)secs },
	};
	int r = 0;

	/* Statistics on or off is in the features the driver negotiated: it stays. */
	if (secs == 0 || secs > INT32_MAX || b->timer_fd < 0)
		return -EINVAL;
	pthread_mutex_lock(&b->dev.lock);
	if (secs != b->stats_interval_s) {
		if (timerfd_settime(b->timer_fd, 0, &its, NULL) < 0)
			r = -errno;
		else
			b->stats_interval_s = secs;
	}
	pthread_mutex_unlock(&b->dev.lock);
	return r;
}

void balloon_stats(struct balloon *b, struct balloon_stats *out)
{
	pthread_mutex_lock(&b->dev.lock);
	*out = b->st;
	out->stats_interval_s = b->stats_interval_s;
	pthread_mutex_unlock(&b->dev.lock);
}

struct balloon *balloon_detached_create(uint64_t ram_mib, uint64_t stats_interval_s)
{
	struct balloon *b = calloc(1, sizeof(*b));
	struct err e;

	if (!b)
		return NULL;
	pthread_mutex_init(&b->dev.lock, NULL);
	b->timer_fd = -1;
	b->ram_mib = ram_mib;
	b->stats_interval_s = stats_interval_s;
	if (stats_interval_s && balloon_timer_make(b, stats_interval_s, &e) < 0) {
		balloon_detached_destroy(b);
		return NULL;
	}
	return b;
}

void balloon_detached_destroy(struct balloon *b)
{
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	pthread_mutex_destroy(&b->dev.lock);
	free(b);
}
