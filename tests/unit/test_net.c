/*
 * virtio-net's data path (src/virtio/net.c, included whole to reach its
 * static functions) over fake guest RAM, with a SOCK_SEQPACKET socket pair
 * standing in for the tap (one message per frame, as a tap reads and writes).
 * The tests play the driver: they lay out chains (virtio 1.2 §2.7), send
 * frames from the "host" end, and check what the guest and the host get:
 * headers sanitised both ways, mergeable buffers and num_buffers, frames
 * that cannot fit dropped without losing the chains, no tap watching while
 * the guest has no buffers, a tap that goes away, hostile chains and
 * headers refused, and rate limiters replaced on a running interface.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

/* net.c's one external function would clash with the library's copy of it. */
#define net_update_limiters net_update_limiters_unit
#include "virtio/net.c"

#define RAM_BASE 0x100000ull
#define RAM_SIZE 0x100000ull    /* 1 MiB */
#define QSIZE    32
#define DESC(q)  (RAM_BASE + 0x3000ull * (q))
#define AVAIL(q) (DESC(q) + 0x1000)
#define USED(q)  (DESC(q) + 0x2000)
#define BUF(i)   (RAM_BASE + 0x10000 + 0x800ull * (i))     /* 2 KiB buffers */
#define BIG_GPA  (RAM_BASE + 0x80000)                      /* 64 KiB scratch */

struct fake {
	struct gmem mem;
	uint8_t *ram;
	struct vm *vm;
	struct net *n;
	struct net_config cfg;
	int peer;                       /* the host's end of the "tap" */
	uint16_t next_desc[2], avail_idx[2];
};

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static void *host(struct fake *f, uint64_t gpa)
{
	return f->ram + (gpa - RAM_BASE);
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	f->ram = calloc(1, RAM_SIZE);
	f->vm = calloc(1, sizeof(*f->vm));
	f->n = calloc(1, sizeof(*f->n));
	assert_true(f->ram && f->vm && f->n);
	f->mem.fd = -1;
	f->mem.host = f->ram;
	f->mem.total = RAM_SIZE;
	f->mem.nregions = 1;
	f->mem.regions[0] = (struct gmem_region){ .gpa = RAM_BASE, .size = RAM_SIZE };
	assert_int_equal(loop_init(&f->vm->loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	f->peer = sv[1];
	f->cfg.id = "net0";
	f->cfg.tap = "faketap";

	struct net *n = f->n;
	n->cfg = &f->cfg;
	n->tap = sv[0];
	n->rx_rl.timer_fd = n->tx_rl.timer_fd = -1;
	n->dev.ops = &net_ops;
	n->dev.priv = n;
	n->dev.vm = f->vm;
	n->dev.irq_fd = eventfd(0, EFD_NONBLOCK);
	for (unsigned q = 0; q < 2; q++)
		n->dev.kick_fd[q] = eventfd(0, EFD_NONBLOCK);
	snprintf(n->dev.name, sizeof(n->dev.name), "virtio-net net0");
	pthread_mutex_init(&n->dev.lock, NULL);
	assert_int_equal(loop_add(&f->vm->loop, n->tap, 0, net_tap_event, n), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	net_limiter_drop(f->n, &f->n->rx_rl);
	net_limiter_drop(f->n, &f->n->tx_rl);
	close(f->n->tap);
	close(f->n->dev.irq_fd);
	for (unsigned q = 0; q < 2; q++)
		close(f->n->dev.kick_fd[q]);
	if (f->peer >= 0)
		close(f->peer);
	pthread_mutex_destroy(&f->n->dev.lock);
	loop_destroy(&f->vm->loop);
	free(f->n);
	free(f->vm);
	free(f->ram);
	free(f);
	return 0;
}

/* The driver negotiated (features) (VERSION_1 added), set up both queues and DRIVER_OK. */
static void start(struct fake *f, uint64_t features, bool event_idx)
{
	struct virtio_dev *d = &f->n->dev;

	d->driver_features = features | VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			     (event_idx ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0);
	for (unsigned q = 0; q < 2; q++) {
		d->vq[q].size = QSIZE;
		d->vq[q].desc_gpa = DESC(q);
		d->vq[q].avail_gpa = AVAIL(q);
		d->vq[q].used_gpa = USED(q);
		assert_int_equal(vq_activate(&d->vq[q], &f->mem, event_idx, true), 0);
		d->vq[q].ready = true;
	}
	d->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		    VIRTIO_STATUS_DRIVER_OK;
}

/* Make a chain of (n) segments available on queue (q). */
static void add_chain(struct fake *f, unsigned q, const struct seg *s, unsigned n)
{
	struct vring_desc *table = host(f, DESC(q));
	uint16_t *avail = host(f, AVAIL(q));
	uint16_t head = f->next_desc[q];

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSIZE);

		table[idx] = (struct vring_desc){
			.addr = s[i].gpa, .len = s[i].len,
			.flags = (uint16_t)((s[i].write ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = (uint16_t)((idx + 1) % QSIZE),
		};
	}
	f->next_desc[q] = (uint16_t)((head + n) % QSIZE);
	avail[2 + f->avail_idx[q] % QSIZE] = head;
	f->avail_idx[q]++;
	__atomic_store_n(&avail[1], f->avail_idx[q], __ATOMIC_RELEASE);
}

/* One receive chain: a single writable buffer. */
static void add_rx(struct fake *f, uint64_t gpa, uint32_t len)
{
	struct seg s = { gpa, len, true };

	add_chain(f, NET_RXQ, &s, 1);
}

static uint16_t used_idx(struct fake *f, unsigned q)
{
	return ((uint16_t *)host(f, USED(q)))[1];
}

static struct vring_used_elem used_elem(struct fake *f, unsigned q, unsigned i)
{
	return ((struct vring_used_elem *)((uint8_t *)host(f, USED(q)) + 4))[i];
}

static bool failed(struct fake *f)
{
	return f->n->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

/* The "host" sends a frame (header + (len) payload bytes of pattern (seed)) into the tap. */
static void host_send(struct fake *f, const struct virtio_net_hdr_v1 *h, size_t len, uint8_t seed)
{
	static uint8_t buf[NET_HDR_LEN + NET_MAX_FRAME + 16];

	assert_true(len + NET_HDR_LEN <= sizeof(buf));
	memcpy(buf, h, sizeof(*h));
	for (size_t i = 0; i < len; i++)
		buf[NET_HDR_LEN + i] = (uint8_t)(seed + i * 7);
	assert_int_equal(send(f->peer, buf, NET_HDR_LEN + len, 0), (ssize_t)(NET_HDR_LEN + len));
}

static bool host_nothing(struct fake *f)
{
	uint8_t b;

	return recv(f->peer, &b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

static void tap_readable(struct fake *f)
{
	net_tap_event(f->n, EPOLLIN);
}

/* A transmit chain: header at BUF(0), (len) frame bytes split over BUF(1) and BUF(2). */
static void tx_frame(struct fake *f, const struct virtio_net_hdr_v1 *h, uint32_t len)
{
	uint32_t a = len / 2;
	struct seg s[3] = { { BUF(0), NET_HDR_LEN, false }, { BUF(1), a, false },
			    { BUF(2), len - a, false } };

	memcpy(host(f, BUF(0)), h, sizeof(*h));
	for (uint32_t i = 0; i < len; i++)
		*(uint8_t *)host(f, i < a ? BUF(1) + i : BUF(2) + i - a) = (uint8_t)(i * 3);
	add_chain(f, NET_TXQ, s, 3);
}

static void test_tx_frame(void **state)
{
	struct fake *f = *state;
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM |
					 VIRTIO_NET_HDR_F_DATA_VALID,
				       .csum_start = 34, .csum_offset = 16, .num_buffers = 7 };
	uint8_t got[NET_HDR_LEN + 100];
	struct virtio_net_hdr_v1 gh;
	uint64_t irqs;

	start(f, VIRTIO_BIT(VIRTIO_NET_F_CSUM), false);
	tx_frame(f, &h, 100);
	net_notify(&f->n->dev, NET_TXQ);
	assert_int_equal(recv(f->peer, got, sizeof(got), 0), NET_HDR_LEN + 100);
	memcpy(&gh, got, sizeof(gh));
	/* The host gets the guest's header with only what it may say. */
	assert_int_equal(gh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(gh.csum_start, 34);
	assert_int_equal(gh.csum_offset, 16);
	assert_int_equal(gh.num_buffers, 0);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(got[NET_HDR_LEN + i], (uint8_t)(i * 3));
	assert_int_equal(used_idx(f, NET_TXQ), 1);
	assert_int_equal(used_elem(f, NET_TXQ, 0).len, 0);
	assert_int_equal(f->n->st.tx_frames, 1);
	assert_int_equal(f->n->st.tx_bytes, 100);
	assert_int_equal(read(f->n->dev.irq_fd, &irqs, sizeof(irqs)), sizeof(irqs));
}

static void test_tx_malformed(void **state)
{
	struct fake *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	struct seg shortc = { BUF(0), NET_HDR_LEN + ETH_HDR_LEN - 1, false };
	struct seg big[10] = { { BUF(0), NET_HDR_LEN, false } };

	start(f, VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6), false);
	/* Not even a header and an Ethernet header. */
	add_chain(f, NET_TXQ, &shortc, 1);
	/* Longer than 64 KiB + the headers: nine 8 KiB pieces of the same buffer. */
	memcpy(host(f, BUF(0)), &h, sizeof(h));
	for (unsigned i = 1; i < 10; i++)
		big[i] = (struct seg){ BIG_GPA, 8192, false };
	add_chain(f, NET_TXQ, big, 10);
	/* TSO over IPv4 and a partial checksum, neither negotiated. */
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 1448;
	tx_frame(f, &h, 200);
	h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	tx_frame(f, &h, 200);
	net_notify(&f->n->dev, NET_TXQ);

	assert_true(host_nothing(f));
	assert_int_equal(f->n->st.tx_malformed, 4);
	assert_int_equal(f->n->st.tx_frames, 0);
	/* Every chain comes back, and the device still works. */
	assert_int_equal(used_idx(f, NET_TXQ), 4);
	assert_false(failed(f));
	/* TSO over IPv6 was negotiated: that one goes through. */
	h.flags = 0;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	tx_frame(f, &h, 200);
	net_notify(&f->n->dev, NET_TXQ);
	assert_int_equal(f->n->st.tx_frames, 1);
	assert_false(host_nothing(f));
}

static void test_tx_bad_chain(void **state)
{
	struct fake *f = *state;
	struct seg s = { RAM_BASE + RAM_SIZE - 8, 64, false };    /* runs past guest RAM */

	start(f, 0, false);
	add_chain(f, NET_TXQ, &s, 1);
	net_notify(&f->n->dev, NET_TXQ);
	assert_true(failed(f));
	assert_true(host_nothing(f));
	assert_int_equal(used_idx(f, NET_TXQ), 0);
}

static void test_rx_mergeable(void **state)
{
	struct fake *f = *state;
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID, .num_buffers = 0xffff };
	const size_t len = 5000, total = NET_HDR_LEN + len;
	uint8_t got[NET_HDR_LEN + 5000];
	struct virtio_net_hdr_v1 gh;
	size_t off = 0;

	start(f, VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM), true);
	for (unsigned i = 0; i < 6; i++)
		add_rx(f, BUF(i), 1536);
	host_send(f, &h, len, 5);
	tap_readable(f);

	/* ceil(5012 / 1536) = 4 chains, in order, the last one partly filled. */
	assert_int_equal(used_idx(f, NET_RXQ), 4);
	for (unsigned i = 0; i < 4; i++) {
		struct vring_used_elem e = used_elem(f, NET_RXQ, i);

		assert_int_equal(e.id, i);
		assert_int_equal(e.len, i < 3 ? 1536 : total - 3 * 1536);
		memcpy(got + off, host(f, BUF(i)), e.len);
		off += e.len;
	}
	memcpy(&gh, got, sizeof(gh));
	assert_int_equal(gh.num_buffers, 4);
	assert_int_equal(gh.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(got[NET_HDR_LEN + i], (uint8_t)(5 + i * 7));
	assert_int_equal(f->n->st.rx_frames, 1);
	assert_int_equal(f->n->st.rx_bytes, len);
	/* The tap is empty and the guest has buffers: keep watching. */
	assert_int_equal(f->n->watch, EPOLLIN);
	assert_int_equal(f->n->rx_len, 0);
}

static void test_rx_waits_for_buffers(void **state)
{
	struct fake *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint16_t *used_flags = host(f, USED(NET_RXQ));

	start(f, VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), false);
	host_send(f, &h, 300, 1);
	host_send(f, &h, 400, 2);
	tap_readable(f);
	/* No buffers: the frame waits in hand, the tap is not watched, kicks are wanted. */
	assert_int_equal(f->n->watch, 0);
	assert_int_equal(f->n->rx_len, NET_HDR_LEN + 300);
	assert_int_equal(*used_flags & VRING_USED_F_NO_NOTIFY, 0);
	assert_int_equal(f->n->st.rx_no_buffers, 1);

	/* The guest adds a buffer and kicks: the first frame goes in, the second waits. */
	add_rx(f, BUF(0), 2048);
	net_notify(&f->n->dev, NET_RXQ);
	assert_int_equal(used_idx(f, NET_RXQ), 1);
	assert_int_equal(used_elem(f, NET_RXQ, 0).len, NET_HDR_LEN + 300);
	assert_int_equal(f->n->rx_len, NET_HDR_LEN + 400);
	assert_int_equal(f->n->watch, 0);

	add_rx(f, BUF(1), 2048);
	net_notify(&f->n->dev, NET_RXQ);
	assert_int_equal(used_idx(f, NET_RXQ), 2);
	assert_int_equal(f->n->st.rx_frames, 2);
	assert_int_equal(f->n->watch, EPOLLIN);
	/* A device reset forgets a frame in hand and stops watching. */
	host_send(f, &h, 500, 3);
	tap_readable(f);
	assert_int_equal(f->n->rx_len, NET_HDR_LEN + 500);
	net_reset(&f->n->dev);
	assert_int_equal(f->n->rx_len, 0);
	assert_int_equal(f->n->watch, 0);
}

static void test_rx_not_mergeable(void **state)
{
	struct fake *f = *state;
	struct virtio_net_hdr_v1 h = { .num_buffers = 9 };
	struct seg two[2] = { { BUF(1), NET_HDR_LEN, true }, { BUF(2), 100, true } };
	struct virtio_net_hdr_v1 gh;

	start(f, 0, false);
	/* A header buffer and a data buffer (§5.1.6.3.1 without MRG_RXBUF): 112 bytes. */
	add_chain(f, NET_RXQ, two, 2);
	host_send(f, &h, 200, 1);       /* too big for the chain: dropped */
	host_send(f, &h, 80, 2);        /* fits */
	tap_readable(f);
	assert_int_equal(f->n->st.rx_dropped, 1);
	assert_int_equal(used_idx(f, NET_RXQ), 1);
	assert_int_equal(used_elem(f, NET_RXQ, 0).id, 0);
	assert_int_equal(used_elem(f, NET_RXQ, 0).len, NET_HDR_LEN + 80);
	memcpy(&gh, host(f, BUF(1)), sizeof(gh));
	assert_int_equal(gh.num_buffers, 1);
	assert_int_equal(*(uint8_t *)host(f, BUF(2)), 2);
}

static void test_rx_header_offloads(void **state)
{
	struct fake *f = *state;
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };
	struct virtio_net_hdr_v1 gh;

	start(f, VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), false);
	add_rx(f, BUF(0), 2048);
	/* DATA_VALID is a hint: cleared for a guest without GUEST_CSUM, the frame kept. */
	host_send(f, &h, 100, 1);
	/* A partial checksum or a TSO frame cannot go to it: dropped. */
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	host_send(f, &h, 100, 2);
	h.flags = 0;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	host_send(f, &h, 100, 3);
	tap_readable(f);
	assert_int_equal(used_idx(f, NET_RXQ), 1);
	memcpy(&gh, host(f, BUF(0)), sizeof(gh));
	assert_int_equal(gh.flags, 0);
	assert_int_equal(f->n->st.rx_dropped, 2);
	assert_int_equal(f->n->st.rx_frames, 1);
	assert_false(failed(f));
}

static void test_rx_never_fits(void **state)
{
	struct fake *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };

	start(f, VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), false);
	/* Every chain of the queue, 32 bytes each: 1 KiB in all. */
	for (unsigned i = 0; i < QSIZE; i++)
		add_rx(f, BUF(i), 32);
	host_send(f, &h, 2000, 1);
	host_send(f, &h, 500, 2);
	tap_readable(f);
	/* The big frame is dropped and its chains reused for the next one: 512 / 32 = 16. */
	assert_int_equal(f->n->st.rx_dropped, 1);
	assert_int_equal(f->n->st.rx_frames, 1);
	assert_int_equal(used_idx(f, NET_RXQ), 16);
	assert_false(failed(f));
}

static void test_rx_oversized_from_tap(void **state)
{
	struct fake *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };

	start(f, VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), false);
	add_rx(f, BUF(0), 2048);
	/* A tap read of a frame longer than lodge's buffer comes back truncated: dropped. */
	host_send(f, &h, NET_MAX_FRAME + 1, 1);
	host_send(f, &h, 10, 1);        /* shorter than an Ethernet header: dropped */
	host_send(f, &h, 60, 2);
	tap_readable(f);
	assert_int_equal(f->n->st.rx_dropped, 2);
	assert_int_equal(f->n->st.rx_frames, 1);
	assert_int_equal(used_elem(f, NET_RXQ, 0).len, NET_HDR_LEN + 60);
}

static void test_rx_hostile_chains(void **state)
{
	struct fake *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	struct seg readable = { BUF(0), 2048, false };

	/* A device-readable receive buffer. */
	start(f, VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), false);
	add_chain(f, NET_RXQ, &readable, 1);
	host_send(f, &h, 100, 1);
	tap_readable(f);
	assert_true(failed(f));
	assert_int_equal(used_idx(f, NET_RXQ), 0);
	assert_int_equal(f->n->watch, 0);
	/* Failed: the tap stays unwatched whatever comes. */
	tap_readable(f);
	assert_int_equal(f->n->watch, 0);
}

static void test_rx_mergeable_tiny_first(void **state)
{
	struct fake *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };

	/* §5.1.6.3.1: with MRG_RXBUF every buffer holds at least the header. */
	start(f, VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), false);
	add_rx(f, BUF(0), 8);
	add_rx(f, BUF(1), 2048);
	host_send(f, &h, 100, 1);
	tap_readable(f);
	assert_true(failed(f));
	assert_int_equal(used_idx(f, NET_RXQ), 0);
}

static void test_tap_gone(void **state)
{
	struct fake *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };

	start(f, VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), false);
	f->n->config.status = VIRTIO_NET_S_LINK_UP;
	add_rx(f, BUF(0), 2048);
	host_send(f, &h, 60, 1);
	close(f->peer);
	f->peer = -1;
	net_tap_event(f->n, EPOLLIN);
	/* The frame sent before still arrives; then the link is down and the tap quiet. */
	assert_int_equal(f->n->st.rx_frames, 1);
	assert_true(f->n->tap_dead);
	assert_int_equal(f->n->config.status, 0);
	assert_int_equal(f->n->dev.config_generation, 1);
	assert_int_equal(f->n->watch, EPOLLET);
	assert_false(failed(f));
	/* Told again (EPOLLERR on a deleted tap): nothing more happens. */
	net_tap_event(f->n, EPOLLERR);
	assert_int_equal(f->n->dev.config_generation, 1);
	assert_int_equal(f->n->watch, EPOLLET);
}

#define DAY_MS 86400000ull      /* a refill so slow that no test sees a token of it */

/* A kick is waiting on queue (q)'s eventfd (the I/O thread would serve it). */
static bool kicked(struct fake *f, unsigned q)
{
	uint64_t v;

	return read(f->n->dev.kick_fd[q], &v, sizeof(v)) == sizeof(v);
}

/* PATCH /network-interfaces: new transmit limiters on a running interface. */
static void test_tx_limiter_update(void **state)
{
	struct fake *f = *state;
	struct net *n = f->n;
	struct virtio_net_hdr_v1 h = { 0 };
	struct rate_limiter_config two = { .ops = { .size = 2, .refill_time_ms = DAY_MS } };
	struct rate_limiter_config none = { 0 };
	uint8_t got[NET_HDR_LEN + 64];
	struct err e = { "" };

	start(f, 0, false);
	assert_int_equal(net_set_limiters(n, NULL, &two, &e), 0);
	assert_true(ratelimit_active(&n->tx_rl));
	assert_false(ratelimit_active(&n->rx_rl));
	tx_frame(f, &h, 60);
	net_notify(&n->dev, NET_TXQ);
	assert_int_equal(recv(f->peer, got, sizeof(got), 0), NET_HDR_LEN + 60);
	/* The same buckets again keep their tokens: one frame more, then the limiter holds. */
	assert_int_equal(net_set_limiters(n, NULL, &two, &e), 0);
	tx_frame(f, &h, 60);
	tx_frame(f, &h, 60);
	net_notify(&n->dev, NET_TXQ);
	assert_int_equal(recv(f->peer, got, sizeof(got), 0), NET_HDR_LEN + 60);
	assert_true(host_nothing(f));
	assert_true(n->tx_rl.waiting);
	assert_int_equal(used_idx(f, NET_TXQ), 2);
	assert_false(kicked(f, NET_TXQ));
	/* No limit: the held frame goes out when the I/O thread serves the kick. */
	assert_int_equal(net_set_limiters(n, NULL, &none, &e), 0);
	assert_false(ratelimit_active(&n->tx_rl));
	assert_true(kicked(f, NET_TXQ));
	net_notify(&n->dev, NET_TXQ);
	assert_int_equal(recv(f->peer, got, sizeof(got), 0), NET_HDR_LEN + 60);
	assert_int_equal(used_idx(f, NET_TXQ), 3);
	assert_int_equal(n->tx_rl.throttled, 1);
	assert_int_equal(n->tx_cfg.ops.size, 0);
}

/* A frame held by the receive limiter is delivered once a new one lets it through. */
static void test_rx_limiter_update(void **state)
{
	struct fake *f = *state;
	struct net *n = f->n;
	struct virtio_net_hdr_v1 h = { 0 };
	struct rate_limiter_config one = { .ops = { .size = 1, .refill_time_ms = DAY_MS } };
	struct rate_limiter_config many = { .ops = { .size = 100, .refill_time_ms = DAY_MS } };
	struct err e = { "" };

	start(f, VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), false);
	assert_int_equal(net_set_limiters(n, &one, NULL, &e), 0);
	assert_false(ratelimit_active(&n->tx_rl));
	add_rx(f, BUF(0), 2048);
	add_rx(f, BUF(1), 2048);
	host_send(f, &h, 60, 1);
	host_send(f, &h, 60, 2);
	tap_readable(f);
	assert_int_equal(n->st.rx_frames, 1);
	assert_int_not_equal(n->rx_len, 0);
	assert_int_equal(n->watch, 0);
	/* A bigger bucket starts full: the frame in hand goes in on the kick. */
	assert_int_equal(net_set_limiters(n, &many, NULL, &e), 0);
	assert_true(kicked(f, NET_RXQ));
	net_notify(&n->dev, NET_RXQ);
	assert_int_equal(n->st.rx_frames, 2);
	assert_int_equal(used_idx(f, NET_RXQ), 2);
	assert_int_equal(n->rx_rl.ops.tokens, 99);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tx_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_bad_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_mergeable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_waits_for_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_not_mergeable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_header_offloads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_never_fits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_oversized_from_tap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_hostile_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_mergeable_tiny_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tap_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_limiter_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_limiter_update, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
