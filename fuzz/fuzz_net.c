/*
 * libFuzzer harness for virtio-net's data path (src/virtio/net.c, included
 * whole as tests/unit/test_net.c does, to reach net_tx_request, rx_deliver
 * and the rest): the harness plays a driver that negotiates fuzzed features
 * and lays out chains on both queues, and the host end of a SOCK_SEQPACKET
 * socket pair standing in for the tap (one message per frame, with the
 * 12-byte virtio-net header in front, as IFF_VNET_HDR reads and writes).
 *
 * Input (little-endian):
 *   0 u8  features: bit 0 GUEST_CSUM, 1 GUEST_TSO4, 2 GUEST_TSO6, 3 GUEST_ECN,
 *         4 MRG_RXBUF, 5 CSUM + HOST_TSO4/6 + HOST_ECN, 6 EVENT_IDX,
 *         7 RAM in two regions
 *   then operations until the input ends, each a u8 (% 3) and its body:
 *     0 transmit: u8 segment count (% 8 + 1); per segment u16 length
 *       (& 0x7fff), u8 flags (bit 0: device-writable, which a tx chain
 *       must not have); then the readable bytes in order (header first);
 *       kick the transmit queue
 *     1 receive buffers: u8 chain count (% 4 + 1); per chain u8 segment
 *       count (% 4 + 1) and per segment u16 length (& 0x7fff), u8 flags
 *       (bit 0 clear: readable, which a receive chain must not have);
 *       kick the receive queue
 *     2 a frame from the host: u16 length, then that many bytes (the
 *       12-byte header included; fewer where the input ends); the tap
 *       becomes readable
 *
 * Checked: every used entry names a chain made available and not yet used,
 * with a length within its writable part; transmit entries are 0; a frame
 * the host gets is at most header + NET_MAX_FRAME and carries only the
 * flags and GSO types the device may pass on; each delivered receive frame
 * carries num_buffers >= 1 with that many used entries, and only what the
 * negotiated features allow in its header; at the end no byte of RAM outside
 * the used rings and the writable buffers changed. RAM ends with the first
 * buffer laid out, so ASan catches a write past it.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "fuzz.h"

/* net.c's own prototypes are static; libFuzzer's entry points come from fuzz.h. */
#define net_update_limiters net_update_limiters_fuzz   /* the library has its own copy */
#include "virtio/net.c"

#define RAM_BASE  0x100000ull
#define RAM2_BASE 0x4000000ull
#define RAM_SIZE  (128u << 10)

#include "driver.h"

static struct vm *vm;
static struct net *n;
static struct net_config cfg;
static int peer;                        /* the host's end of the "tap" */
static uint8_t frame_buf[NET_HDR_LEN + NET_MAX_FRAME + 64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int sv[2];

	(void)argc;
	(void)argv;
	log_threshold = LOG_ERROR;
	vm = calloc(1, sizeof(*vm));
	n = calloc(1, sizeof(*n));
	if (!vm || !n || loop_init(&vm->loop) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) < 0) {
		perror("fuzz_net: setup");
		abort();
	}
	peer = sv[1];
	cfg.id = "net0";
	cfg.tap = "faketap";
	n->cfg = &cfg;
	n->tap = sv[0];
	n->rx_rl.timer_fd = n->tx_rl.timer_fd = -1;
	n->dev.ops = &net_ops;
	n->dev.priv = n;
	n->dev.vm = vm;
	n->dev.irq_fd = eventfd(0, EFD_NONBLOCK);
	snprintf(n->dev.name, sizeof(n->dev.name), "virtio-net net0");
	pthread_mutex_init(&n->dev.lock, NULL);
	if (n->dev.irq_fd < 0 || loop_add(&vm->loop, n->tap, 0, net_tap_event, n) < 0)
		abort();
	return 0;
}

/* Empty both directions of the "tap" and the interrupt eventfd. */
static void drain(void)
{
	uint64_t x;

	while (recv(peer, frame_buf, sizeof(frame_buf), MSG_DONTWAIT) >= 0)
		;
	while (recv(n->tap, frame_buf, sizeof(frame_buf), MSG_DONTWAIT) >= 0)
		;
	while (read(n->dev.irq_fd, &x, sizeof(x)) == sizeof(x))
		;
}

/* Frames the host got: sizes and headers as the device may send them. */
static void check_host_frames(void)
{
	ssize_t r;

	while ((r = recv(peer, frame_buf, sizeof(frame_buf), MSG_DONTWAIT)) >= 0) {
		struct virtio_net_hdr_v1 h;
		uint8_t gso;

		FUZZ_CHECK(r >= NET_HDR_LEN + ETH_HDR_LEN && r <= NET_HDR_LEN + NET_MAX_FRAME);
		memcpy(&h, frame_buf, sizeof(h));
		gso = h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
		FUZZ_CHECK((h.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) == 0 && h.num_buffers == 0);
		FUZZ_CHECK(!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || has(n, VIRTIO_NET_F_CSUM));
		FUZZ_CHECK(gso == VIRTIO_NET_HDR_GSO_NONE ||
			   (gso == VIRTIO_NET_HDR_GSO_TCPV4 && has(n, VIRTIO_NET_F_HOST_TSO4)) ||
			   (gso == VIRTIO_NET_HDR_GSO_TCPV6 && has(n, VIRTIO_NET_F_HOST_TSO6)));
	}
}

static void check_tx_used(struct drv *v)
{
	struct vring_used_elem e;

	while (drv_used(v, NET_TXQ, &e))
		FUZZ_CHECK(e.len == 0);
}

/* Delivered frames: num_buffers entries each, the header as negotiated. */
static void check_rx_used(struct drv *v)
{
	struct vring_used_elem e;

	while (drv_used(v, NET_RXQ, &e)) {
		struct virtio_net_hdr_v1 h;
		uint8_t gso;

		FUZZ_CHECK(e.len >= NET_HDR_LEN + ETH_HDR_LEN || has(n, VIRTIO_NET_F_MRG_RXBUF));
		FUZZ_CHECK(drv_chain_read(v, NET_RXQ, (uint16_t)e.id, 0, &h, sizeof(h)) ==
			   sizeof(h));
		FUZZ_CHECK(h.num_buffers >= 1);
		FUZZ_CHECK(has(n, VIRTIO_NET_F_MRG_RXBUF) || h.num_buffers == 1);
		gso = h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
		FUZZ_CHECK((h.flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) == 0);
		FUZZ_CHECK(has(n, VIRTIO_NET_F_GUEST_CSUM) || h.flags == 0);
		FUZZ_CHECK(!(h.gso_type & VIRTIO_NET_HDR_GSO_ECN) || has(n, VIRTIO_NET_F_GUEST_ECN));
		FUZZ_CHECK(gso == VIRTIO_NET_HDR_GSO_NONE ||
			   (gso == VIRTIO_NET_HDR_GSO_TCPV4 && has(n, VIRTIO_NET_F_GUEST_TSO4)) ||
			   (gso == VIRTIO_NET_HDR_GSO_TCPV6 && has(n, VIRTIO_NET_F_GUEST_TSO6)));
		/* The frame's other buffers were given back with it. */
		for (unsigned i = 1; i < h.num_buffers; i++)
			FUZZ_CHECK(drv_used(v, NET_RXQ, &e));
	}
}

/* (nseg) segment specs (u16 length, u8 flags) from the input into (s). */
static unsigned take_segs(const uint8_t **in, size_t *left, struct dseg *s, unsigned nseg,
			  bool write_bit_means_write)
{
	const uint8_t *p = *in;

	if (*left < 3 * (size_t)nseg)
		return 0;
	for (unsigned i = 0; i < nseg; i++) {
		bool bit = p[3 * i + 2] & 1;

		s[i] = (struct dseg){ .len = le16(p + 3 * i) & 0x7fff,
				      .write = write_bit_means_write ? bit : !bit };
	}
	*in += 3 * (size_t)nseg;
	*left -= 3 * (size_t)nseg;
	return nseg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_dev *d = &n->dev;
	struct drv v;
	const uint8_t *in;
	size_t left;
	uint8_t f;

	if (size < 1)
		return 0;
	f = data[0];
	if (!drv_init(&v, RAM_SIZE, RAM_BASE, 2, f & 0x80, RAM2_BASE))
		return 0;
	drain();
	/* A fresh device: reset state, then the driver's features and DRIVER_OK. */
	rx_finish(n);
	n->tap_dead = false;
	n->watch = 0;
	n->config.status = VIRTIO_NET_S_LINK_UP;
	n->dev.status = 0;
	d->driver_features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
			     (f & 1 ? VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) : 0) |
			     (f & 2 ? VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) : 0) |
			     (f & 4 ? VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) : 0) |
			     (f & 8 ? VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) : 0) |
			     (f & 16 ? VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) : 0) |
			     (f & 32 ? VIRTIO_BIT(VIRTIO_NET_F_CSUM) |
				       VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
				       VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |
				       VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN) : 0) |
			     (f & 64 ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0);
	for (unsigned q = 0; q < 2; q++)
		FUZZ_CHECK(drv_queue(&v, &d->vq[q], q, f & 64) == 0);
	d->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		    VIRTIO_STATUS_DRIVER_OK;

	in = data + 1;
	left = size - 1;
	while (left >= 2) {
		uint8_t op = in[0] % 3;
		struct dseg s[8];
		unsigned k;

		in++;
		left--;
		if (op == 0) {
			unsigned nseg = in[0] % 8 + 1, nr = 0;
			struct dseg t[8];

			in++;
			left--;
			k = take_segs(&in, &left, t, nseg, true);
			if (k == 0)
				break;
			/* Readable first (as a driver must), then writable, each in input order. */
			for (int pass = 0; pass < 2; pass++)
				for (unsigned i = 0; i < k; i++)
					if (t[i].write == (pass == 1))
						s[nr++] = t[i];
			for (unsigned i = 0; i < k && !s[i].write; i++) {
				s[i].src = in;
				s[i].src_len = s[i].len < left ? s[i].len : left;
				in += s[i].src_len;
				left -= s[i].src_len;
			}
			if (!drv_chain(&v, NET_TXQ, s, k))
				break;
			net_notify(d, NET_TXQ);
			check_tx_used(&v);
			check_host_frames();
		} else if (op == 1) {
			unsigned nchain = in[0] % 4 + 1;
			bool ok = true;

			in++;
			left--;
			for (unsigned c = 0; c < nchain && ok; c++) {
				unsigned nseg;

				if (left < 1) {
					ok = false;
					break;
				}
				nseg = in[0] % 4 + 1;
				in++;
				left--;
				k = take_segs(&in, &left, s, nseg, false);
				ok = k && drv_chain(&v, NET_RXQ, s, k);
			}
			net_notify(d, NET_RXQ);
			check_rx_used(&v);
			if (!ok)
				break;
		} else {
			size_t len;

			if (left < 2)
				break;
			len = le16(in);
			in += 2;
			left -= 2;
			if (len > left)
				len = left;
			if (len)
				(void)send(peer, in, len, MSG_DONTWAIT);
			in += len;
			left -= len;
			net_tap_event(n, EPOLLIN);
			check_rx_used(&v);
		}
	}
	check_tx_used(&v);
	check_rx_used(&v);
	check_host_frames();
	drv_check_untouched(&v);
	net_reset(d);
	for (unsigned q = 0; q < 2; q++)
		vq_reset(&d->vq[q]);
	drain();
	drv_free(&v);
	return 0;
}
