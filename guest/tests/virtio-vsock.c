/*
 * virtio-vsock: the socket device (virtio 1.2 §5.10), stream sockets. The
 * guest reads its CID from the configuration, connects to the host (CID
 * 2) at port=, sends one line, reads one line back, prints it, shuts the
 * connection down and waits for the host's RST.
 *
 * What the host must do: listen on vsock port (port=, default 1234) for
 * connections from the guest (under lodge: accept on the Unix socket
 * "<uds_path>_<port>"); read the line "hello from lodge guest CID\n";
 * answer with one line (ending in "\n"); then close (the guest's SHUTDOWN
 * is answered with RST). The guest answers CREDIT_REQUEST with
 * CREDIT_UPDATE and refuses (RST) packets for any other port.
 *
 *   cid=N           the configured guest CID must be N
 *   port=N          host port to connect to (default 1234)
 *   expect=S        the reply line must be S (without the newline)
 *   poll=1, event_idx=0|1, indirect=0|1   as for virtio-rng
 *
 * Not cross-checked under QEMU (that needs vhost-vsock on the host).
 */
#include "guest.h"
#include "virtio.h"

#define VIRTIO_VSOCK_F_STREAM     0
#define VIRTIO_VSOCK_CFG_CID      0
#define VSOCK_TYPE_STREAM         1
#define VSOCK_OP_REQUEST          1
#define VSOCK_OP_RESPONSE         2
#define VSOCK_OP_RST              3
#define VSOCK_OP_SHUTDOWN         4
#define VSOCK_OP_RW               5
#define VSOCK_OP_CREDIT_UPDATE    6
#define VSOCK_OP_CREDIT_REQUEST   7
#define VSOCK_SHUTDOWN_BOTH       3
#define VSOCK_HOST_CID            2
#define VSOCK_EVENT_TRANSPORT_RESET 0

#define VSOCK_VECTOR  0x40
#define QSIZE         32
#define RX_BUF        4096
#define LOCAL_PORT    49152
#define BUF_ALLOC     (64 * 1024)       /* what the guest says it can buffer */
#define TIMEOUT_MS    10000
#define LINE_MAX      256

struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

static struct virtio_dev *dev;
static struct virtq *rxq, *txq, *evq;
static uint8_t *rxbufs;
static uint32_t evbufs[QSIZE];
static uint64_t guest_cid;
static uint32_t host_port;
static bool poll;

/* Connection state. */
static bool connected, reset_seen;
static uint32_t fwd_cnt;                /* bytes of payload consumed */
static uint32_t tx_cnt;                 /* bytes of payload sent */
static uint32_t peer_buf_alloc, peer_fwd_cnt;
static char line[LINE_MAX];
static unsigned line_len;
static bool line_done;
static unsigned rx_packets, tx_packets, events;

/* Transmit header (h) and (len) bytes of payload as one buffer; wait until the device took it. */
static void send_raw(const struct vsock_hdr *h, const void *data, uint32_t len)
{
	static struct vsock_hdr th;
	static uint8_t payload[LINE_MAX];
	struct virtq_seg segs[2] = {
		{ (uint64_t)(uintptr_t)&th, sizeof(th), false },
		{ (uint64_t)(uintptr_t)payload, len, false },
	};

	GUEST_ASSERT(len <= sizeof(payload));
	th = *h;
	th.len = len;
	memcpy(payload, data, len);
	GUEST_ASSERT(virtq_add(txq, segs, len ? 2 : 1, len && txq->indirect, NULL) >= 0);
	virtq_kick(txq);
	GUEST_ASSERT(virtq_wait(txq, TIMEOUT_MS));
	GUEST_ASSERT(virtq_get_used(txq, NULL, NULL) >= 0);
	tx_packets++;
}

/* A packet of our connection. */
static void send_pkt(uint16_t op, uint32_t flags, const void *data, uint32_t len)
{
	struct vsock_hdr h = {
		.src_cid = guest_cid, .dst_cid = VSOCK_HOST_CID, .src_port = LOCAL_PORT,
		.dst_port = host_port, .type = VSOCK_TYPE_STREAM, .op = op, .flags = flags,
		.buf_alloc = BUF_ALLOC, .fwd_cnt = fwd_cnt,
	};

	send_raw(&h, data, len);
	tx_cnt += len;
}

/* §5.10.6.4: answer a packet for no connection of ours with RST. */
static void send_rst(const struct vsock_hdr *in)
{
	struct vsock_hdr h = {
		.src_cid = guest_cid, .dst_cid = in->src_cid, .src_port = in->dst_port,
		.dst_port = in->src_port, .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_RST,
	};

	send_raw(&h, NULL, 0);
}

static void rx_post(unsigned i)
{
	struct virtq_seg s = { (uint64_t)(uintptr_t)rxbufs + (uint64_t)i * RX_BUF, RX_BUF, true };

	GUEST_ASSERT(virtq_add(rxq, &s, 1, false, (void *)(uintptr_t)i) >= 0);
}

static void ev_post(unsigned i)
{
	struct virtq_seg s = { (uint64_t)(uintptr_t)&evbufs[i], sizeof(evbufs[i]), true };

	GUEST_ASSERT(virtq_add(evq, &s, 1, false, (void *)(uintptr_t)i) >= 0);
}

static void handle_pkt(const struct vsock_hdr *h, const uint8_t *data, uint32_t avail)
{
	rx_packets++;
	if (h->dst_cid != guest_cid || h->type != VSOCK_TYPE_STREAM)
		return;
	if (h->src_cid != VSOCK_HOST_CID || h->src_port != host_port || h->dst_port != LOCAL_PORT) {
		/* Not our connection (e.g. the host connecting to us): refuse. */
		if (h->op != VSOCK_OP_RST) {
			printf("virtio-vsock: packet op %u for port %u from %llu:%u refused\n",
			       h->op, h->dst_port, (unsigned long long)h->src_cid, h->src_port);
			send_rst(h);
		}
		return;
	}
	peer_buf_alloc = h->buf_alloc;
	peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		connected = true;
		break;
	case VSOCK_OP_RST:
		reset_seen = true;
		connected = false;
		break;
	case VSOCK_OP_RW:
		GUEST_ASSERT(h->len <= avail);
		for (uint32_t i = 0; i < h->len && !line_done; i++) {
			if (data[i] == '\n')
				line_done = true;
			else if (line_len < LINE_MAX - 1)
				line[line_len++] = (char)data[i];
		}
		fwd_cnt += h->len;
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		send_pkt(VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		break;
	case VSOCK_OP_SHUTDOWN:
		line_done = true;       /* no more data comes */
		break;
	default:
		break;
	}
}

/* Process what arrived on the rx and event queues. */
static void service(void)
{
	uint32_t len;
	void *cookie;
	bool posted = false;

	while (virtq_get_used(rxq, &len, &cookie) >= 0) {
		unsigned i = (unsigned)(uintptr_t)cookie;
		const uint8_t *b = rxbufs + (uint64_t)i * RX_BUF;
		struct vsock_hdr h;

		GUEST_ASSERT(len >= sizeof(h) && len <= RX_BUF);
		memcpy(&h, b, sizeof(h));
		handle_pkt(&h, b + sizeof(h), len - (uint32_t)sizeof(h));
		rx_post(i);
		posted = true;
	}
	if (posted)
		virtq_kick(rxq);
	while (virtq_get_used(evq, NULL, &cookie) >= 0) {
		unsigned i = (unsigned)(uintptr_t)cookie;

		printf("virtio-vsock: event %u%s\n", evbufs[i],
		       evbufs[i] == VSOCK_EVENT_TRANSPORT_RESET ? " (transport reset)" : "");
		events++;
		ev_post(i);
		virtq_kick(evq);
	}
}

static bool wait_for(volatile bool *flag)
{
	uint64_t end = virtio_ms() + TIMEOUT_MS;

	for (;;) {
		service();
		if (*flag)
			return true;
		if (virtio_ms() >= end)
			return false;
		cli();
		if (virtq_has_used(rxq) || virtq_has_used(evq) || poll)
			sti();
		else
			sti_hlt();
	}
}

static void setup(uint64_t want)
{
	dev = virtio_find(VIRTIO_ID_VSOCK, 0);
	GUEST_ASSERT(dev != NULL);
	GUEST_ASSERT_EQ(dev->version, 2);
	GUEST_ASSERT_EQ(virtio_negotiate(dev, want), 0);
	guest_cid = virtio_cfg_read64(dev, VIRTIO_VSOCK_CFG_CID);
	rxq = virtq_setup(dev, 0, QSIZE);
	txq = virtq_setup(dev, 1, QSIZE);
	evq = virtq_setup(dev, 2, QSIZE);
	GUEST_ASSERT(rxq && txq && evq);
	rxbufs = page_alloc((size_t)rxq->num * RX_BUF / 4096);
	GUEST_ASSERT(rxbufs != NULL);
	for (unsigned i = 0; i < rxq->num; i++)
		rx_post(i);
	for (unsigned i = 0; i < evq->num && i < QSIZE; i++)
		ev_post(i);
	if (!poll)
		virtio_irq_enable(dev, VSOCK_VECTOR);
	virtq_set_polled(txq, true);
	virtio_driver_ok(dev);
	virtq_kick(rxq);
	virtq_kick(evq);
}

int guest_main(void)
{
	uint64_t want = VIRTIO_BIT(VIRTIO_VSOCK_F_STREAM);
	const char *expect = cmdline_get("expect");
	char msg[64];
	int n;

	poll = cmdline_flag("poll");
	host_port = (uint32_t)cmdline_get_u64("port", 1234);
	if (cmdline_get_u64("event_idx", 1))
		want |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (cmdline_get_u64("indirect", 1))
		want |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	virtio_probe();
	setup(want);
	sti();
	printf("virtio-vsock: guest cid %llu, features %#llx, mode %s\n",
	       (unsigned long long)guest_cid, (unsigned long long)dev->features,
	       poll ? "polled" : "interrupt");
	if (cmdline_has("cid"))
		GUEST_ASSERT_EQ(guest_cid, cmdline_get_u64("cid", 0));

	send_pkt(VSOCK_OP_REQUEST, 0, NULL, 0);
	if (!wait_for(&connected) || reset_seen) {
		printf("virtio-vsock: connection to %u:%u %s\n", VSOCK_HOST_CID, host_port,
		       reset_seen ? "refused (RST)" : "timed out");
		guest_fail(__FILE__, __LINE__, "no connection");
	}
	printf("virtio-vsock: connected to %u:%u (peer buf_alloc %u)\n", VSOCK_HOST_CID, host_port,
	       peer_buf_alloc);

	n = snprintf(msg, sizeof(msg), "hello from lodge guest %llu\n",
		     (unsigned long long)guest_cid);
	/* Credit (§5.10.6.3): the peer can take buf_alloc - (tx_cnt - fwd_cnt) more bytes. */
	GUEST_ASSERT(peer_buf_alloc - (tx_cnt - peer_fwd_cnt) >= (uint32_t)n);
	send_pkt(VSOCK_OP_RW, 0, msg, (uint32_t)n);
	printf("virtio-vsock: sent %d bytes\n", n);
	GUEST_ASSERT(wait_for(&line_done));
	line[line_len] = 0;
	printf("virtio-vsock: received: %s\n", line);
	if (expect)
		GUEST_ASSERT(strcmp(line, expect) == 0);

	send_pkt(VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_BOTH, NULL, 0);
	if (wait_for(&reset_seen))
		puts("virtio-vsock: connection closed (RST)");
	else
		puts("virtio-vsock: no RST after SHUTDOWN, closing anyway");

	if (!poll)
		GUEST_ASSERT(virtio_wait_irqs(dev, 1, TIMEOUT_MS));
	else
		GUEST_ASSERT_EQ(dev->irqs, 0);
	cli();
	printf("virtio-vsock: %u packets received, %u sent, %u events, %u requests, %u kicks, "
	       "%u interrupts\n", rx_packets, tx_packets, events,
	       rxq->added + txq->added + evq->added, rxq->kicks + txq->kicks + evq->kicks,
	       dev->irqs);
	puts("virtio-vsock: all checks passed");
	return 0;
}
