/*
 * virtio-net: network devices (virtio 1.2 §5.1) and a tiny responder that
 * answers ARP requests for its IPv4 address and ICMP echo requests to it.
 * Frames carry the 12-byte struct virtio_net_hdr_v1. Receive buffers are
 * 2 KiB: one descriptor with VIRTIO_NET_F_MRG_RXBUF, else a header
 * descriptor and a data descriptor. Transmit completions are polled (no
 * interrupts on the transmit queue).
 *
 * Host-driven mode (default): NIC 0 announces itself with a gratuitous
 * ARP, then answers until pings=N echo requests were answered or
 * seconds=N passed (default 10 without pings=, 30 with it).
 *
 * loopback=1: NICs 0 and 1 (on one hub or bridge) both run the
 * responder; NIC 0 ARPs for NIC 1's address and sends pings=N (default 4)
 * echo requests to it, each of which must come back.
 *
 *   ip=A.B.C.D      NIC 0's address (default 10.0.0.2)
 *   ip1=A.B.C.D     NIC 1's address in loopback mode (default NIC 0's + 1)
 *   mac=XX:..:XX    NIC 0's MAC (config space) must be this; mac1= for NIC 1
 *   mrg_rxbuf=0|1   negotiate VIRTIO_NET_F_MRG_RXBUF if offered (default 1)
 *   poll=1, event_idx=0|1, indirect=0|1   as for virtio-rng
 */
#include "guest.h"
#include "virtio.h"

#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16
#define VIRTIO_NET_CFG_MAC      0
#define VIRTIO_NET_CFG_STATUS   6
#define VIRTIO_NET_S_LINK_UP    1
#define NET_HDR_LEN             12      /* struct virtio_net_hdr_v1 */

#define NET_VECTOR  0x40
#define MAX_NICS    2
#define QSIZE       64
#define BUF_SIZE    2048
#define DATA_OFF    64                  /* frame offset in a two-descriptor buffer */
#define FRAME_MAX   1514
#define ETH_ARP     0x0806
#define ETH_IP      0x0800
#define PING_BYTES  56
#define TIMEOUT_MS  5000

struct nic {
	struct virtio_dev *dev;
	struct virtq *rxq, *txq;
	bool mrg;
	uint8_t mac[6];
	uint32_t ip;                    /* host byte order */
	uint8_t *rx, *tx;               /* buffers, BUF_SIZE each */
	unsigned nrx, ntx;
	bool *tx_busy;
	unsigned rx_frames, tx_frames, arp_answered, echo_answered, echo_replies;
	uint8_t peer_mac[6];
	bool peer_known;
	uint16_t last_reply_seq;
};

static struct nic nics[MAX_NICS];
static unsigned nnics;
static bool poll;

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* RFC 1071 Internet checksum of (n) bytes. */
static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static bool parse_ip(const char *s, uint32_t *ip)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		uint64_t b;

		if (!parse_u64(s, &s, &b) || b > 255 || (i < 3 && *s++ != '.'))
			return false;
		v = v << 8 | (uint32_t)b;
	}
	*ip = v;
	return *s == 0;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++, s++) {
			char c = *s;
			unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') :
				     c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) :
				     c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
			if (d > 15)
				return false;
			v = v << 4 | d;
		}
		mac[i] = (uint8_t)v;
		if (i < 5 && *s++ != ':')
			return false;
	}
	return *s == 0;
}

static void print_ip(const char *prefix, uint32_t ip, const char *suffix)
{
	printf("%s%u.%u.%u.%u%s", prefix, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255,
	       suffix);
}

static uint8_t *rx_buf(struct nic *n, unsigned i)
{
	return n->rx + (size_t)i * BUF_SIZE;
}

static void rx_post(struct nic *n, unsigned i)
{
	uint64_t a = (uint64_t)(uintptr_t)rx_buf(n, i);
	struct virtq_seg segs[2] = {
		{ a, NET_HDR_LEN, true },
		{ a + DATA_OFF, BUF_SIZE - DATA_OFF, true },
	};

	if (n->mrg) {
		segs[0].len = BUF_SIZE;
		GUEST_ASSERT(virtq_add(n->rxq, segs, 1, false, (void *)(uintptr_t)i) >= 0);
	} else {
		GUEST_ASSERT(virtq_add(n->rxq, segs, 2, false, (void *)(uintptr_t)i) >= 0);
	}
}

static void tx_reap(struct nic *n)
{
	void *cookie;

	while (virtq_get_used(n->txq, NULL, &cookie) >= 0)
		n->tx_busy[(uintptr_t)cookie] = false;
}

/* A transmit buffer's frame area, waiting for one to come free. */
static unsigned tx_slot(struct nic *n)
{
	uint64_t end = virtio_ms() + TIMEOUT_MS;

	for (;;) {
		tx_reap(n);
		for (unsigned i = 0; i < n->ntx; i++) {
			if (!n->tx_busy[i])
				return i;
		}
		GUEST_ASSERT(virtio_ms() < end);
		virtio_idle();
	}
}

static uint8_t *tx_frame(struct nic *n, unsigned slot)
{
	return n->tx + (size_t)slot * BUF_SIZE + DATA_OFF;
}

/* Send (len) bytes already in tx_frame(n, slot): header + frame, indirect if negotiated. */
static void tx_send(struct nic *n, unsigned slot, size_t len)
{
	uint8_t *hdr = n->tx + (size_t)slot * BUF_SIZE;
	struct virtq_seg segs[2] = {
		{ (uint64_t)(uintptr_t)hdr, NET_HDR_LEN, false },
		{ (uint64_t)(uintptr_t)hdr + DATA_OFF, (uint32_t)len, false },
	};

	memset(hdr, 0, NET_HDR_LEN);    /* no offloads; num_buffers 0 on transmit */
	n->tx_busy[slot] = true;
	GUEST_ASSERT(virtq_add(n->txq, segs, 2, n->txq->indirect, (void *)(uintptr_t)slot) >= 0);
	virtq_kick(n->txq);
	n->tx_frames++;
}

static size_t eth_header(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
	return 14;
}

static void send_arp(struct nic *n, uint16_t op, const uint8_t *dst_mac, const uint8_t *tha,
		     uint32_t tpa)
{
	unsigned slot = tx_slot(n);
	uint8_t *f = tx_frame(n, slot), *a = f + 14;

	eth_header(f, dst_mac, n->mac, ETH_ARP);
	put16(a, 1);                    /* Ethernet */
	put16(a + 2, ETH_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, n->mac, 6);
	put32(a + 14, n->ip);
	memcpy(a + 18, tha, 6);
	put32(a + 24, tpa);
	memset(a + 28, 0, 60 - 14 - 28);        /* pad to the 60-byte minimum */
	tx_send(n, slot, 60);
}

/* An IPv4 + ICMP echo (type 8) or echo reply (type 0) of (data, dlen). */
static void send_icmp(struct nic *n, const uint8_t *dst_mac, uint32_t dst_ip, uint8_t type,
		      uint16_t id, uint16_t seq, const uint8_t *data, size_t dlen)
{
	unsigned slot = tx_slot(n);
	uint8_t *f = tx_frame(n, slot), *ip = f + 14, *icmp = ip + 20;

	GUEST_ASSERT(dlen <= FRAME_MAX - 14 - 20 - 8);
	eth_header(f, dst_mac, n->mac, ETH_IP);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 8 + dlen));
	ip[8] = 64;
	ip[9] = 1;                      /* ICMP */
	put32(ip + 12, n->ip);
	put32(ip + 16, dst_ip);
	put16(ip + 10, csum(ip, 20));
	icmp[0] = type;
	icmp[1] = 0;
	put16(icmp + 2, 0);
	put16(icmp + 4, id);
	put16(icmp + 6, seq);
	memcpy(icmp + 8, data, dlen);
	put16(icmp + 2, csum(icmp, 8 + dlen));
	tx_send(n, slot, 14 + 20 + 8 + dlen < 60 ? 60 : 14 + 20 + 8 + dlen);
}

static void handle_arp(struct nic *n, const uint8_t *f, size_t len)
{
	const uint8_t *a = f + 14;

	if (len < 14 + 28 || get16(a) != 1 || get16(a + 2) != ETH_IP || a[4] != 6 || a[5] != 4)
		return;
	if (get32(a + 24) != n->ip)
		return;
	if (get16(a + 6) == 1) {
		send_arp(n, 2, a + 8, a + 8, get32(a + 14));
		n->arp_answered++;
	} else if (get16(a + 6) == 2) {
		memcpy(n->peer_mac, a + 8, 6);
		n->peer_known = true;
	}
}

static void handle_ip(struct nic *n, const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *icmp;
	size_t ihl, tot;

	if (len < 14 + 20 || (ip[0] >> 4) != 4 || ip[9] != 1 || get32(ip + 16) != n->ip)
		return;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = get16(ip + 2);
	if (ihl < 20 || tot < ihl + 8 || 14 + tot > len || csum(ip, ihl) != 0)
		return;
	icmp = ip + ihl;
	if (csum(icmp, tot - ihl) != 0)
		return;
	if (icmp[0] == 8) {
		send_icmp(n, f + 6, get32(ip + 12), 0, get16(icmp + 4), get16(icmp + 6), icmp + 8,
			  tot - ihl - 8);
		n->echo_answered++;
	} else if (icmp[0] == 0 && tot - ihl - 8 == PING_BYTES) {
		for (unsigned i = 0; i < PING_BYTES; i++)
			GUEST_ASSERT_EQ(icmp[8 + i], (uint8_t)(get16(icmp + 6) + i));
		n->last_reply_seq = get16(icmp + 6);
		n->echo_replies++;
	}
}

/* Take every received frame of (n), answer what needs answering, give the buffers back. */
static void rx_process(struct nic *n)
{
	uint32_t len;
	void *cookie;
	bool posted = false;

	while (virtq_get_used(n->rxq, &len, &cookie) >= 0) {
		unsigned i = (unsigned)(uintptr_t)cookie;
		uint8_t *b = rx_buf(n, i), *f = b + (n->mrg ? NET_HDR_LEN : DATA_OFF);
		size_t flen;

		GUEST_ASSERT(len >= NET_HDR_LEN && len <= BUF_SIZE);
		if (n->mrg)     /* frames of at most 1514 bytes fit one buffer */
			GUEST_ASSERT_EQ(b[10] | b[11] << 8, 1);
		flen = len - NET_HDR_LEN;
		n->rx_frames++;
		if (flen >= 14 && (memcmp(f, n->mac, 6) == 0 || (f[0] & 1))) {
			if (get16(f + 12) == ETH_ARP)
				handle_arp(n, f, flen);
			else if (get16(f + 12) == ETH_IP)
				handle_ip(n, f, flen);
		}
		rx_post(n, i);
		posted = true;
	}
	if (posted)
		virtq_kick(n->rxq);
	tx_reap(n);
}

static void service_all(void)
{
	for (unsigned i = 0; i < nnics; i++)
		rx_process(&nics[i]);
}

/* Serve all NICs until (*done)() or (timeout_ms) passed; sleeps between interrupts. */
static bool serve_until(bool (*done)(void), uint64_t timeout_ms)
{
	uint64_t end = virtio_ms() + timeout_ms;

	for (;;) {
		service_all();
		if (done())
			return true;
		if (virtio_ms() >= end)
			return false;
		cli();
		bool pending = false;
		for (unsigned i = 0; i < nnics; i++)
			pending |= virtq_has_used(nics[i].rxq);
		if (pending || poll)
			sti();
		else
			sti_hlt();
	}
}

static void nic_init(struct nic *n, struct virtio_dev *d, unsigned idx, uint64_t want)
{
	char key[8];
	const char *want_mac;
	uint8_t m[6];
	uint16_t status;

	n->dev = d;
	GUEST_ASSERT_EQ(d->version, 2);
	GUEST_ASSERT_EQ(virtio_negotiate(d, want), 0);
	n->mrg = virtio_has(d, VIRTIO_NET_F_MRG_RXBUF);
	GUEST_ASSERT(virtio_has(d, VIRTIO_NET_F_MAC));
	virtio_cfg_read(d, VIRTIO_NET_CFG_MAC, n->mac, 6);
	n->rxq = virtq_setup(d, 0, QSIZE);
	n->txq = virtq_setup(d, 1, QSIZE);
	GUEST_ASSERT(n->rxq && n->txq);
	n->nrx = n->mrg ? n->rxq->num : n->rxq->num / 2u;
	n->ntx = n->txq->indirect ? n->txq->num : n->txq->num / 2u;
	n->rx = page_alloc(n->nrx * BUF_SIZE / 4096);
	n->tx = page_alloc(n->ntx * BUF_SIZE / 4096);
	n->tx_busy = page_alloc(1);
	GUEST_ASSERT(n->rx && n->tx && n->tx_busy);
	for (unsigned i = 0; i < n->nrx; i++)
		rx_post(n, i);
	if (!poll)
		virtio_irq_enable(d, (uint8_t)(NET_VECTOR + idx));
	virtq_set_polled(n->txq, true);
	virtio_driver_ok(d);
	virtq_kick(n->rxq);

	status = 0;
	if (virtio_has(d, VIRTIO_NET_F_STATUS))
		status = virtio_cfg_read16(d, VIRTIO_NET_CFG_STATUS);
	snprintf(key, sizeof(key), idx ? "mac%u" : "mac", idx);
	want_mac = cmdline_get(key);
	printf("virtio-net: nic %u mac %02x:%02x:%02x:%02x:%02x:%02x", idx, n->mac[0], n->mac[1],
	       n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
	print_ip(" ip ", n->ip, "");
	printf(", mrg_rxbuf %s, event_idx %s, indirect %s, status %#x\n", n->mrg ? "on" : "off",
	       virtio_has(d, VIRTIO_F_EVENT_IDX) ? "on" : "off", n->txq->indirect ? "on" : "off",
	       status);
	if (want_mac) {
		GUEST_ASSERT(parse_mac(want_mac, m));
		GUEST_ASSERT(memcmp(m, n->mac, 6) == 0);
	}
	if (virtio_has(d, VIRTIO_NET_F_STATUS))
		GUEST_ASSERT(status & VIRTIO_NET_S_LINK_UP);
}

static uint64_t target;

static bool peer_known(void)
{
	return nics[0].peer_known;
}

static bool reply_arrived(void)
{
	return nics[0].echo_replies >= target;
}

static bool enough_answered(void)
{
	return target && nics[0].echo_answered >= target;
}

static bool never(void)
{
	return false;
}

static void loopback(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, zero[6] = { 0 };
	struct nic *a = &nics[0], *b = &nics[1];
	uint8_t data[PING_BYTES];
	uint64_t pings = cmdline_get_u64("pings", 4);

	GUEST_ASSERT(nnics >= 2);
	send_arp(a, 1, bcast, zero, b->ip);
	GUEST_ASSERT(serve_until(peer_known, TIMEOUT_MS));
	GUEST_ASSERT(memcmp(a->peer_mac, b->mac, 6) == 0);
	print_ip("virtio-net: nic 1 answered ARP for ", b->ip, "\n");
	for (uint64_t i = 1; i <= pings; i++) {
		for (unsigned k = 0; k < PING_BYTES; k++)
			data[k] = (uint8_t)(i + k);
		target = i;
		send_icmp(a, a->peer_mac, b->ip, 8, 0x4c47, (uint16_t)i, data, PING_BYTES);
		GUEST_ASSERT(serve_until(reply_arrived, TIMEOUT_MS));
		GUEST_ASSERT_EQ(a->last_reply_seq, i);
	}
	printf("virtio-net: %u echo replies received\n", a->echo_replies);
	GUEST_ASSERT_EQ(b->echo_answered, pings);
}

static void responder(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct nic *n = &nics[0];
	uint64_t secs;

	target = cmdline_get_u64("pings", 0);
	secs = cmdline_get_u64("seconds", target ? 30 : 10);
	send_arp(n, 1, bcast, bcast, n->ip);     /* gratuitous ARP: announce the address */
	puts("virtio-net: sent gratuitous ARP");
	printf("virtio-net: responding for %llu s%s\n", (unsigned long long)secs,
	       target ? " or until the pings arrived" : "");
	serve_until(target ? enough_answered : never, secs * 1000);
	printf("virtio-net: answered %u ARP requests, %u echo requests\n", n->arp_answered,
	       n->echo_answered);
	GUEST_ASSERT(n->echo_answered >= target);
}

int guest_main(void)
{
	bool lb = cmdline_flag("loopback");
	uint64_t want = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS);
	const char *ip = cmdline_get("ip"), *ip1 = cmdline_get("ip1");

	poll = cmdline_flag("poll");
	if (cmdline_get_u64("mrg_rxbuf", 1))
		want |= VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
	if (cmdline_get_u64("event_idx", 1))
		want |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (cmdline_get_u64("indirect", 1))
		want |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	nics[0].ip = 0x0a000002;
	GUEST_ASSERT(!ip || parse_ip(ip, &nics[0].ip));
	nics[1].ip = nics[0].ip + 1;
	GUEST_ASSERT(!ip1 || parse_ip(ip1, &nics[1].ip));
	virtio_probe();
	nnics = virtio_count(VIRTIO_ID_NET);
	GUEST_ASSERT(nnics >= 1);
	if (nnics > (lb ? 2u : 1u))
		nnics = lb ? 2 : 1;
	for (unsigned i = 0; i < nnics; i++)
		nic_init(&nics[i], virtio_find(VIRTIO_ID_NET, i), i, want);
	sti();
	if (lb)
		loopback();
	else
		responder();

	for (unsigned i = 0; i < nnics; i++) {
		if (!poll && nics[i].rx_frames)
			GUEST_ASSERT(virtio_wait_irqs(nics[i].dev, 1, TIMEOUT_MS));
	}
	cli();
	for (unsigned i = 0; i < nnics; i++) {
		struct nic *n = &nics[i];

		printf("virtio-net: nic %u: %u frames received, %u sent, %u requests, %u kicks, "
		       "%u interrupts\n", i, n->rx_frames, n->tx_frames,
		       n->rxq->added + n->txq->added, n->rxq->kicks + n->txq->kicks, n->dev->irqs);
		if (poll)
			GUEST_ASSERT_EQ(n->dev->irqs, 0);
	}
	puts("virtio-net: all checks passed");
	return 0;
}
