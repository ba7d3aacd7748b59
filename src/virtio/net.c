/*
 * virtio-net (virtio 1.2 §5.1) over a host tap device: one receive queue
 * (q0) and one transmit queue (q1), mergeable receive buffers, checksum and
 * TCP segmentation offloads both ways, Firecracker's rx and tx rate
 * limiters (network-interfaces[].rx_rate_limiter / tx_rate_limiter), which
 * PATCH /network-interfaces may replace while the VM runs (net.h).
 *
 * The tap speaks the same header as the device (struct virtio_net_hdr_v1,
 * TUNSETVNETHDRSZ 12), so a frame crosses with one writev (tx) or one read
 * and one copy (rx). The header is still checked both ways: the guest gets
 * only the offloads it negotiated, the host only what lodge offered.
 *
 * Receive is driven by the tap's readability on the I/O loop. When the guest
 * has no receive buffers (or the rx limiter says wait) lodge stops watching
 * the tap and the frame in hand waits; a kick on q0 (or the limiter's timer)
 * resumes. So a guest that stops reading costs nothing: the tap's own queue
 * fills and the host kernel drops.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/device.h"
#include "util/log.h"
#include "util/ratelimit.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/tap.h"
#include "vmm/vm.h"

/* §5.1.3 feature bits. */
#define VIRTIO_NET_F_CSUM       0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU        3
#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN  9
#define VIRTIO_NET_F_HOST_TSO4  11
#define VIRTIO_NET_F_HOST_TSO6  12
#define VIRTIO_NET_F_HOST_ECN   13
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16

/* §5.1.4 */
#define VIRTIO_NET_S_LINK_UP 1

/* §5.1.6 header flags and GSO types. */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE     0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_GSO_ECN      0x80

#define NET_RXQ 0
#define NET_TXQ 1
#define NET_QUEUE_MAX 256
#define ETH_HDR_LEN 14
/*
 * The largest frame either way, header excluded: a 64 KiB GSO frame plus
 * an Ethernet and a VLAN header. Anything longer is dropped.
 */
#define NET_MAX_FRAME (65536 + ETH_HDR_LEN + 4)
#define NET_RX_BUDGET 64                /* frames per turn before others get the I/O thread */
#define NET_IOV_MAX 1024                /* writev's limit (IOV_MAX) */

/* §5.1.6: the header of every frame; num_buffers is always there with VERSION_1. */
struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
#define NET_HDR_LEN ((int)sizeof(struct virtio_net_hdr_v1))
_Static_assert(sizeof(struct virtio_net_hdr_v1) == 12, "virtio 1.2 §5.1.6");

/* §5.1.4, the fields up to mtu (little-endian, the host's order on x86). */
struct virtio_net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));

struct net_counters {
	uint64_t rx_frames, rx_bytes, rx_dropped;       /* dropped: no fit, bad header, limits */
	uint64_t rx_no_buffers;                         /* times rx waited for guest buffers */
	uint64_t tx_frames, tx_bytes, tx_dropped;       /* dropped: the tap refused */
	uint64_t tx_malformed;                          /* the guest's fault: header, size */
};

/* A receive chain filled but not yet given back (mergeable buffers). */
struct rx_held {
	uint16_t head;
	uint32_t len;
};

struct net {
	struct virtio_dev dev;
	const struct net_config *cfg;
	struct virtio_net_config config;
	int tap;
	uint32_t watch;                 /* events watched on the tap now */
	bool tap_dead;                  /* the interface went away */
	int tx_errno;                   /* the last tap write error logged */
	bool warned_malformed;
	struct rate_limiter rx_rl, tx_rl;
	struct rate_limiter_config rx_cfg, tx_cfg;      /* what the limiters were made from */
	struct net_counters st;

	/* Transmit. */
	struct vq_req tx_req;
	struct iovec tx_iov[NET_IOV_MAX];

	/* Receive: the frame in hand, and how far it went into guest buffers. */
	uint32_t rx_len;                /* bytes in rx_buf (header included); 0: none */
	uint32_t rx_done;               /* bytes of it already copied to the guest */
	bool rx_charged;                /* the rx limiter was charged for it */
	unsigned rx_nheld;
	struct rx_held rx_held[VQ_MAX_SIZE];
	struct vq_req rx_first;         /* the chain holding the header (num_buffers) */
	struct vq_req rx_req;
	uint8_t rx_buf[NET_HDR_LEN + NET_MAX_FRAME + 1] __attribute__((aligned(8)));
};

struct net_set {
	unsigned n;
	struct net *nets[CONFIG_MAX_NETS];
};

/* Watch the tap for (events) (0: not at all); a dead tap stays quiet. */
static void net_watch(struct net *n, uint32_t events)
{
	/* Level-triggered EPOLLERR is reported even for 0: edge-trigger a dead tap. */
	if (n->tap_dead)
		events = EPOLLET;
	if (events == n->watch)
		return;
	if (loop_mod(&n->dev.vm->loop, n->tap, events) == 0)
		n->watch = events;
}

static bool has(const struct net *n, unsigned bit)
{
	return virtio_has(&n->dev, bit);
}

/*
 * Make the tap's header one the guest may get (§5.1.6.4.1): no checksum
 * flags without GUEST_CSUM (DATA_VALID is only a hint and is cleared; a
 * partial checksum cannot be passed on), GSO only as negotiated. False:
 * drop the frame.
 */
static bool rx_hdr_fix(const struct net *n, struct virtio_net_hdr_v1 *h)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	if (!has(n, VIRTIO_NET_F_GUEST_CSUM)) {
		if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return false;
		h->flags = 0;
	}
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(n, VIRTIO_NET_F_GUEST_ECN))
		return false;
	return gso == VIRTIO_NET_HDR_GSO_NONE ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV4 && has(n, VIRTIO_NET_F_GUEST_TSO4)) ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV6 && has(n, VIRTIO_NET_F_GUEST_TSO6));
}

/* Does the guest's header ask only for what it negotiated (§5.1.6.2)? */
static bool tx_hdr_ok(const struct net *n, const struct virtio_net_hdr_v1 *h)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !has(n, VIRTIO_NET_F_CSUM))
		return false;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(n, VIRTIO_NET_F_HOST_ECN))
		return false;
	return gso == VIRTIO_NET_HDR_GSO_NONE ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV4 && has(n, VIRTIO_NET_F_HOST_TSO4)) ||
	       (gso == VIRTIO_NET_HDR_GSO_TCPV6 && has(n, VIRTIO_NET_F_HOST_TSO6));
}

static void tx_malformed(struct net *n, uint16_t head, const char *why)
{
	if (!n->warned_malformed) {
		n->warned_malformed = true;
		log_warn("virtio", "%s: dropping a transmitted frame: %s (further ones are only counted)",
			 n->dev.name, why);
	}
	n->st.tx_malformed++;
	vq_push(&n->dev.vq[NET_TXQ], head, 0);
}

/* One transmit chain: header + frame, device-readable (§5.1.6.2). */
static bool net_tx_request(struct virtio_dev *d, unsigned q, struct vq_req *req)
{
	struct net *n = d->priv;
	struct virtio_net_hdr_v1 h;
	uint64_t frame;
	ssize_t w;
	int cnt;

	if (req->read_len < (uint64_t)NET_HDR_LEN + ETH_HDR_LEN) {
		tx_malformed(n, req->head, "shorter than the header and an Ethernet header");
		return true;
	}
	frame = req->read_len - NET_HDR_LEN;
	if (frame > NET_MAX_FRAME) {
		tx_malformed(n, req->head, "longer than 64 KiB");
		return true;
	}
	if (!ratelimit_consume(&n->tx_rl, frame, 1)) {
		vq_unpop(&d->vq[q]);
		return false;
	}
	/* A private copy of the header: checked once, and the guest cannot change it after. */
	vq_req_read(req, 0, &h, sizeof(h));
	if (!tx_hdr_ok(n, &h)) {
		tx_malformed(n, req->head, "header asks for an offload not negotiated");
		return true;
	}
	h.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.num_buffers = 0;
	n->tx_iov[0] = (struct iovec){ &h, sizeof(h) };
	cnt = vq_req_iov(req, false, NET_HDR_LEN, frame, n->tx_iov + 1, NET_IOV_MAX - 1);
	if (cnt < 0) {
		tx_malformed(n, req->head, "more than 1023 buffers");
		return true;
	}
	do
		w = writev(n->tap, n->tx_iov, cnt + 1);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		/* Down, gone, full or refused by the host kernel: the frame is lost, as on a wire. */
		if (errno != n->tx_errno) {
			n->tx_errno = errno;
			log_warn("virtio", "%s: tap '%s': write: %s; dropping frames",
				 d->name, n->cfg->tap, strerror(errno));
		}
		n->st.tx_dropped++;
	} else {
		n->st.tx_frames++;
		n->st.tx_bytes += frame;
	}
	vq_push(&d->vq[q], req->head, 0);
	return true;
}

static void net_tx(struct net *n)
{
	virtio_drain(&n->dev, NET_TXQ, &n->tx_req, net_tx_request);
}

/* The tap interface went away: tell the guest its link is down (§5.1.4, STATUS). */
static void net_tap_gone(struct net *n, const char *why)
{
	if (n->tap_dead)
		return;
	log_warn("virtio", "%s: tap '%s': %s; the guest's link is down", n->dev.name, n->cfg->tap,
		 why);
	n->tap_dead = true;
	n->config.status = 0;
	virtio_config_changed(&n->dev);
}

/*
 * Read the next frame from the tap into rx_buf. 1: a frame; 0: the tap is
 * empty (or gone); -1: a frame was dropped, try the next.
 */
static int rx_read(struct net *n)
{
	ssize_t r;

	do
		r = read(n->tap, n->rx_buf, sizeof(n->rx_buf));
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		/* EBADFD and friends: the interface was deleted under us. */
		if (errno != EAGAIN)
			net_tap_gone(n, strerror(errno));
		return 0;
	}
	if (r == 0) {
		net_tap_gone(n, "end of file");
		return 0;
	}
	/* A frame longer than the buffer comes truncated, with its full length returned. */
	if (r < NET_HDR_LEN + ETH_HDR_LEN || r >= (ssize_t)sizeof(n->rx_buf)) {
		n->st.rx_dropped++;
		return -1;
	}
	n->rx_len = (uint32_t)r;
	n->rx_done = 0;
	n->rx_charged = false;
	return 1;
}

static void rx_finish(struct net *n)
{
	n->rx_len = n->rx_done = 0;
	n->rx_nheld = 0;
	n->rx_charged = false;
}

/* Give back the chains the frame was spread over (§5.1.6.4: num_buffers in the first). */
static void rx_complete(struct net *n)
{
	uint16_t nbuf = (uint16_t)n->rx_nheld;

	vq_req_write(&n->rx_first, offsetof(struct virtio_net_hdr_v1, num_buffers), &nbuf,
		     sizeof(nbuf));
	for (unsigned i = 0; i < n->rx_nheld; i++)
		vq_push(&n->dev.vq[NET_RXQ], n->rx_held[i].head, n->rx_held[i].len);
	n->st.rx_frames++;
	n->st.rx_bytes += n->rx_len - NET_HDR_LEN;
	rx_finish(n);
}

/* Drop the frame in hand; chains taken for it go back to the avail ring unused. */
static void rx_drop(struct net *n)
{
	for (unsigned i = 0; i < n->rx_nheld; i++)
		vq_unpop(&n->dev.vq[NET_RXQ]);
	n->st.rx_dropped++;
	rx_finish(n);
}

/* The next receive chain: 1, 0 when the ring is empty (kicks enabled), -1 when broken. */
static int rx_pop(struct net *n, struct vq_req *r)
{
	struct virtq *q = &n->dev.vq[NET_RXQ];
	int got;

	for (;;) {
		got = vq_pop(q, r);
		if (got < 0) {
			virtio_fail(&n->dev, "malformed receive queue");
			return -1;
		}
		if (got > 0)
			break;
		if (!vq_set_notify(q, true))
			return 0;
	}
	/* §5.1.6.3: receive buffers are device-writable only. */
	if (r->nread > 0 || r->write_len == 0) {
		virtio_fail(&n->dev, "receive buffer that is not device-writable");
		return -1;
	}
	return 1;
}

enum rx_result { RX_DELIVERED, RX_DROPPED, RX_NO_BUFFERS, RX_BROKEN };

/*
 * Put the frame in hand into receive chains: all the chains it needs with
 * mergeable buffers, else one chain that holds it whole (§5.1.6.3.1).
 */
static enum rx_result rx_deliver(struct net *n)
{
	struct virtio_net_hdr_v1 *h = (struct virtio_net_hdr_v1 *)n->rx_buf;
	bool mrg = has(n, VIRTIO_NET_F_MRG_RXBUF);
	struct virtq *q = &n->dev.vq[NET_RXQ];

	if (n->rx_done == 0) {
		if (!rx_hdr_fix(n, h)) {
			rx_drop(n);
			return RX_DROPPED;
		}
		h->num_buffers = 1;
	}
	while (n->rx_done < n->rx_len) {
		struct vq_req *r = n->rx_nheld == 0 ? &n->rx_first : &n->rx_req;
		uint64_t left = n->rx_len - n->rx_done;
		int got = rx_pop(n, r);

		if (got < 0)
			return RX_BROKEN;
		if (got == 0) {
			/* All the queue's chains taken and still short: it will never fit. */
			if (n->rx_nheld == q->size) {
				rx_drop(n);
				return RX_DROPPED;
			}
			n->st.rx_no_buffers++;
			return RX_NO_BUFFERS;
		}
		if (!mrg && r->write_len < left) {
			vq_unpop(q);
			rx_drop(n);
			return RX_DROPPED;
		}
		if (mrg && n->rx_nheld == 0 && r->write_len < (uint64_t)NET_HDR_LEN) {
			virtio_fail(&n->dev, "mergeable receive buffer smaller than the header");
			return RX_BROKEN;
		}
		if (left > r->write_len)
			left = r->write_len;
		vq_req_write(r, 0, n->rx_buf + n->rx_done, left);
		n->rx_held[n->rx_nheld++] = (struct rx_held){ r->head, (uint32_t)left };
		n->rx_done += (uint32_t)left;
	}
	rx_complete(n);
	return RX_DELIVERED;
}

static bool net_rx_ready(const struct net *n)
{
	const struct virtq *q = &n->dev.vq[NET_RXQ];

	return virtio_live(&n->dev) && q->ready && !q->broken && !n->tap_dead;
}

/*
 * Move frames from the tap to the guest until the tap is empty, the guest
 * has no buffers, the limiter says wait, or the budget is spent; then watch
 * the tap only if more frames are welcome.
 */
static void net_rx(struct net *n)
{
	struct virtq *q = &n->dev.vq[NET_RXQ];
	uint16_t used_before = q->used_idx;
	uint32_t watch = EPOLLIN;       /* budget spent: come back after the others */

	if (!net_rx_ready(n)) {
		net_watch(n, 0);
		return;
	}
	/* Buffers are looked for when frames come; kicks only when they ran out. */
	vq_set_notify(q, false);
	for (unsigned budget = NET_RX_BUDGET; budget > 0; budget--) {
		enum rx_result res;

		if (n->rx_len == 0) {
			int r = rx_read(n);

			if (r == 0) {
				watch = EPOLLIN;
				break;
			}
			if (r < 0)
				continue;
		}
		if (!n->rx_charged) {
			if (!ratelimit_consume(&n->rx_rl, n->rx_len - NET_HDR_LEN, 1)) {
				watch = 0;      /* the limiter's timer resumes */
				break;
			}
			n->rx_charged = true;
		}
		res = rx_deliver(n);
		if (res == RX_NO_BUFFERS || res == RX_BROKEN) {
			watch = 0;      /* a kick on the receive queue resumes */
			break;
		}
	}
	net_watch(n, watch);
	if (q->used_idx != used_before)
		virtio_used(&n->dev, NET_RXQ);
}

static void net_notify(struct virtio_dev *d, unsigned q)
{
	struct net *n = d->priv;

	if (q == NET_TXQ)
		net_tx(n);
	else
		net_rx(n);
}

/* The tap has frames, or went away (I/O thread). */
static void net_tap_event(void *opaque, uint32_t events)
{
	struct net *n = opaque;

	pthread_mutex_lock(&n->dev.lock);
	if (events & (EPOLLERR | EPOLLHUP))
		net_tap_gone(n, "the interface went away");
	net_rx(n);
	pthread_mutex_unlock(&n->dev.lock);
}

static void net_rx_timer(void *opaque, uint32_t events)
{
	struct net *n = opaque;

	(void)events;
	pthread_mutex_lock(&n->dev.lock);
	ratelimit_timer_fired(&n->rx_rl);
	net_rx(n);
	pthread_mutex_unlock(&n->dev.lock);
}

static void net_tx_timer(void *opaque, uint32_t events)
{
	struct net *n = opaque;

	(void)events;
	pthread_mutex_lock(&n->dev.lock);
	ratelimit_timer_fired(&n->tx_rl);
	if (virtio_live(&n->dev) && n->dev.vq[NET_TXQ].ready && !n->dev.vq[NET_TXQ].broken)
		net_tx(n);
	pthread_mutex_unlock(&n->dev.lock);
}

/* The tap hands over only what the guest accepts (§5.1.3.1: TSO needs GUEST_CSUM). */
static unsigned net_offloads(const struct net *n)
{
	unsigned o = 0;

	if (!has(n, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	o |= TAP_OFFLOAD_CSUM;
	if (has(n, VIRTIO_NET_F_GUEST_TSO4))
		o |= TAP_OFFLOAD_TSO4;
	if (has(n, VIRTIO_NET_F_GUEST_TSO6))
		o |= TAP_OFFLOAD_TSO6;
	if ((o & (TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6)) && has(n, VIRTIO_NET_F_GUEST_ECN))
		o |= TAP_OFFLOAD_TSO_ECN;
	return o;
}

static int net_activate(struct virtio_dev *d)
{
	struct net *n = d->priv;
	int r = tap_set_offload(n->tap, net_offloads(n));

	if (r < 0) {
		log_warn("virtio", "%s: tap '%s': TUNSETOFFLOAD: %s", d->name, n->cfg->tap,
			 strerror(-r));
		return r;
	}
	log_debug("virtio", "%s: features 0x%" PRIx64 ", tap offloads 0x%x", d->name,
		  d->driver_features, net_offloads(n));
	/* Receiving starts with the first kick of q0 (the transport sends one now). */
	return 0;
}

/* Device reset: the frame in hand and the chains it took are forgotten with the rings. */
static void net_reset(struct virtio_dev *d)
{
	struct net *n = d->priv;

	net_watch(n, 0);
	rx_finish(n);
	tap_set_offload(n->tap, 0);
}

/*
 * Snapshot: the frame in hand is dropped (the network may lose frames) and
 * the receive chains it took go back to the avail ring, so the rings hold
 * the whole state. The tap is watched again to pick up from there.
 */
static int net_quiesce(struct virtio_dev *d, struct err *e)
{
	struct net *n = d->priv;

	(void)e;
	if (n->rx_nheld)
		rx_drop(n);
	else if (n->rx_len)
		n->st.rx_dropped++;
	rx_finish(n);
	if (net_rx_ready(n))
		net_watch(n, EPOLLIN);
	return 0;
}

static const struct virtio_ops net_ops = {
	.kind = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.nqueues = 2,
	.queue_max = NET_QUEUE_MAX,
	.activate = net_activate,
	.notify = net_notify,
	.reset = net_reset,
	.quiesce = net_quiesce,
};

/* Offloads the guest may ask for in its receive direction, if this tap can give them. */
static uint64_t net_guest_offloads(struct net *n)
{
	if (tap_set_offload(n->tap, TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO4 | TAP_OFFLOAD_TSO6 |
				    TAP_OFFLOAD_TSO_ECN) < 0) {
		log_warn("virtio", "%s: tap '%s' cannot hand over offloaded frames; the guest gets "
			 "plain ones", n->dev.name, n->cfg->tap);
		return 0;
	}
	tap_set_offload(n->tap, 0);
	return VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |
	       VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN);
}

static int net_limiter(struct vm *vm, struct net *n, struct rate_limiter *rl,
		       const struct rate_limiter_config *c, loop_fn fn, const char *which,
		       struct err *e)
{
	int r = ratelimit_init(rl, c);

	if (r < 0)
		return errf(e, r, "network interface '%s': %s rate limiter: %s", n->cfg->id, which,
			    strerror(-r));
	if (ratelimit_active(rl) && loop_add(&vm->loop, rl->timer_fd, EPOLLIN, fn, n) < 0)
		return errf(e, -ENOMEM, "network interface '%s': cannot watch the %s rate limiter",
			    n->cfg->id, which);
	return 0;
}

static int net_create(struct vm *vm, struct net *n, const struct net_config *c, struct err *e)
{
	int r;

	n->cfg = c;
	n->rx_rl.timer_fd = n->tx_rl.timer_fd = -1;
	n->dev.ops = &net_ops;
	n->dev.priv = n;
	snprintf(n->dev.name, sizeof(n->dev.name), "virtio-net %s", c->id);
	n->tap = tap_open(c->tap, NET_HDR_LEN, e);
	if (n->tap < 0) {
		char prefix[96];

		snprintf(prefix, sizeof(prefix), "network interface '%s'", c->id);
		return errprefix(e, n->tap, prefix);
	}
	if (loop_add(&vm->loop, n->tap, 0, net_tap_event, n) < 0)
		return errf(e, -ENOMEM, "network interface '%s': cannot watch the tap", c->id);
	/* Host direction: the tap takes any offload from us, and checks the header itself. */
	n->dev.features = VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) |
			  VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
			  VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN) |
			  net_guest_offloads(n);
	n->config.status = VIRTIO_NET_S_LINK_UP;
	n->config.max_virtqueue_pairs = 1;
	if (c->has_mac) {
		memcpy(n->config.mac, c->mac, sizeof(n->config.mac));
		n->dev.features |= VIRTIO_BIT(VIRTIO_NET_F_MAC);
	}
	if (c->mtu) {
		n->config.mtu = (uint16_t)c->mtu;
		n->dev.features |= VIRTIO_BIT(VIRTIO_NET_F_MTU);
	}
	n->dev.config = (uint8_t *)&n->config;
	n->dev.config_size = sizeof(n->config);
	r = net_limiter(vm, n, &n->rx_rl, &c->rx, net_rx_timer, "rx", e);
	if (r < 0)
		return r;
	r = net_limiter(vm, n, &n->tx_rl, &c->tx, net_tx_timer, "tx", e);
	if (r < 0)
		return r;
	n->rx_cfg = c->rx;
	n->tx_cfg = c->tx;
	return virtio_mmio_create(vm, &n->dev, e);
}

static void net_destroy(struct vm *vm, struct net *n)
{
	const struct net_counters *s = &n->st;

	if (n->dev.vm)
		log_info("virtio", "%s: rx %" PRIu64 " frames %" PRIu64 " bytes %" PRIu64 " dropped, %"
			 PRIu64 " waits for buffers, %" PRIu64 " throttled; tx %" PRIu64 " frames %"
			 PRIu64 " bytes %" PRIu64 " dropped, %" PRIu64 " malformed, %" PRIu64
			 " throttled", n->dev.name, s->rx_frames, s->rx_bytes, s->rx_dropped,
			 s->rx_no_buffers, n->rx_rl.throttled, s->tx_frames, s->tx_bytes,
			 s->tx_dropped, s->tx_malformed, n->tx_rl.throttled);
	if (ratelimit_active(&n->rx_rl))
		loop_del(&vm->loop, n->rx_rl.timer_fd);
	if (ratelimit_active(&n->tx_rl))
		loop_del(&vm->loop, n->tx_rl.timer_fd);
	ratelimit_destroy(&n->rx_rl);
	ratelimit_destroy(&n->tx_rl);
	virtio_mmio_destroy(&n->dev);
	if (n->tap >= 0) {
		loop_del(&vm->loop, n->tap);
		close(n->tap);
	}
	free(n);
}

static int net_init(struct vm *vm, void **state, struct err *e)
{
	const struct vm_config *cfg = vm->cfg;
	struct net_set *set;

	if (cfg->nnets == 0)
		return 0;
	set = calloc(1, sizeof(*set));
	if (!set)
		return errf(e, -ENOMEM, "out of memory");
	*state = set;
	for (unsigned i = 0; i < cfg->nnets; i++) {
		struct net *n = calloc(1, sizeof(*n));
		int r;

		if (!n)
			return errf(e, -ENOMEM, "out of memory");
		n->tap = -1;
		set->nets[set->n++] = n;
		r = net_create(vm, n, &cfg->nets[i], e);
		if (r < 0)
			return r;
	}
	return 0;
}

static void net_fini(struct vm *vm, void *state)
{
	struct net_set *set = state;

	if (!set)
		return;
	for (unsigned i = 0; i < set->n; i++)
		net_destroy(vm, set->nets[i]);
	free(set);
}

static const struct device_desc net_desc = {
	.name = "virtio-net",
	.order = DEVICE_ORDER_VIRTIO + 1,
	.init = net_init,
	.fini = net_fini,
};
DEVICE_DEFINE(net_desc);

/* ---- Live updates (PATCH /network-interfaces, net.h). ---- */

static struct net *net_find(struct vm *vm, const char *iface_id)
{
	for (unsigned i = 0; i < vm->ndevices; i++) {
		struct net_set *set = vm->devices[i].state;

		if (vm->devices[i].desc != &net_desc || !set)
			continue;
		for (unsigned j = 0; j < set->n; j++)
			if (strcmp(set->nets[j]->cfg->id, iface_id) == 0)
				return set->nets[j];
	}
	return NULL;
}

static void net_limiter_drop(struct net *n, struct rate_limiter *rl)
{
	if (ratelimit_active(rl))
		loop_del(&n->dev.vm->loop, rl->timer_fd);
	ratelimit_destroy(rl);
}

/*
 * Lock held: (fresh), built for (c), replaces (*rl) (made from (*cur));
 * (fresh) gets the old limiter. True when frames waited for its timer.
 */
static bool net_swap_limiter(struct rate_limiter *rl, struct rate_limiter_config *cur,
			     const struct rate_limiter_config *c, struct rate_limiter *fresh)
{
	struct rate_limiter old = *rl;

	ratelimit_carry(fresh, c, rl, cur);
	*rl = *fresh;
	*cur = *c;
	*fresh = old;
	return old.waiting;
}

/* Serve queue (q) again from the I/O thread, as a kick would. */
static void net_kick(struct net *n, unsigned q)
{
	static const uint64_t one = 1;

	if (n->dev.kick_fd[q] >= 0 && write(n->dev.kick_fd[q], &one, sizeof(one)) < 0)
		log_warn("virtio", "%s: kick eventfd: %s", n->dev.name, strerror(errno));
}

/* net_update_limiters() on device (n). */
static int net_set_limiters(struct net *n, const struct rate_limiter_config *rx,
			    const struct rate_limiter_config *tx, struct err *e)
{
	struct rate_limiter rxl = { .timer_fd = -1 }, txl = { .timer_fd = -1 };
	bool rx_held = false, tx_held = false;
	int r = 0;

	if (rx)
		r = net_limiter(n->dev.vm, n, &rxl, rx, net_rx_timer, "rx", e);
	if (!r && tx)
		r = net_limiter(n->dev.vm, n, &txl, tx, net_tx_timer, "tx", e);
	if (r < 0) {
		net_limiter_drop(n, &rxl);
		net_limiter_drop(n, &txl);
		return r;
	}
	pthread_mutex_lock(&n->dev.lock);
	if (rx)
		rx_held = net_swap_limiter(&n->rx_rl, &n->rx_cfg, rx, &rxl);
	if (tx)
		tx_held = net_swap_limiter(&n->tx_rl, &n->tx_cfg, tx, &txl);
	pthread_mutex_unlock(&n->dev.lock);
	net_limiter_drop(n, &rxl);
	net_limiter_drop(n, &txl);
	/* A frame in hand or transmit chains waited for a timer that is gone. */
	if (rx_held)
		net_kick(n, NET_RXQ);
	if (tx_held)
		net_kick(n, NET_TXQ);
	return 0;
}

int net_update_limiters(struct vm *vm, const char *iface_id, const struct rate_limiter_config *rx,
			const struct rate_limiter_config *tx, struct err *e)
{
	struct net *n = net_find(vm, iface_id);

	if (!n)
		return errf(e, -ENOENT, "no network interface '%s'", iface_id);
	return net_set_limiters(n, rx, tx, e);
}
