/*
 * virtio-vsock (src/virtio/vsock.c, vsock_mux.c) without KVM: the device is
 * set up with vsock_setup() over fake guest RAM (one malloc'd region), the
 * test plays the driver on the three queues (virtio 1.2 §5.10) and the host
 * processes on the Unix sockets, and calls vsock_poll() where the I/O
 * thread would. Covers both connection directions, Firecracker's CONNECT
 * protocol, credit flow control both ways, clean shutdown, RSTs for unknown
 * flows and hostile packets, tx waiting for rx room (§5.10.6.1), the
 * transport-reset event, and the socket file rules (stale / live / other).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "state_fixture.h"
#include "virtio/vsock.h"
#include "vmm/vm.h"

#define RAM_BASE 0x100000ull
#define RAM_SIZE (8ull << 20)
#define QSIZE 64
/* Queue q: descriptors at RING_GPA(q), avail ring +0x4000, used ring +0x8000. */
#define RING_GPA(q) (RAM_BASE + (uint64_t)(q) * 0x10000)
#define RXBUF_GPA(i) (RAM_BASE + 0x40000 + (uint64_t)(i) * 0x2000)
#define RXBUF_LEN (44 + 4096)
#define TXBUF_GPA(i) (RAM_BASE + 0x100000 + (uint64_t)(i) * 0x11000)
#define EVBUF_GPA(i) (RAM_BASE + 0x7f0000 + (uint64_t)(i) * 16)
#define GUEST_CID 3
#define GUEST_PORT 49152

struct fake {
	struct gmem mem;
	uint8_t *ram;
	struct vsock *s;
	char dir[64];
	char path[80];
	uint16_t avail_idx[3];
	uint16_t used_seen[3];
	unsigned ntx;
	uint32_t rx_fwd;        /* payload the test guest consumed (its fwd_cnt) */
	uint32_t buf_alloc;     /* what the test guest advertises */
};

static void *host(struct fake *f, uint64_t gpa)
{
	return f->ram + (gpa - RAM_BASE);
}

static void offer(struct fake *f, unsigned q, uint16_t head)
{
	uint16_t *a = host(f, RING_GPA(q) + 0x4000);

	a[2 + f->avail_idx[q] % QSIZE] = head;
	f->avail_idx[q]++;
	__atomic_store_n(&a[1], f->avail_idx[q], __ATOMIC_RELEASE);
}

static void desc(struct fake *f, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		 uint16_t flags)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags };

	memcpy(host(f, RING_GPA(q) + 16ull * i), &d, sizeof(d));
}

/* The next used element of queue (q), or false. */
static bool used(struct fake *f, unsigned q, struct vring_used_elem *e)
{
	uint16_t *u = host(f, RING_GPA(q) + 0x8000);

	if (__atomic_load_n(&u[1], __ATOMIC_ACQUIRE) == f->used_seen[q])
		return false;
	memcpy(e, host(f, RING_GPA(q) + 0x8000 + 4 + 8ull * (f->used_seen[q] % QSIZE)),
	       sizeof(*e));
	f->used_seen[q]++;
	return true;
}

static void kick(struct fake *f, unsigned q)
{
	pthread_mutex_lock(&f->s->dev.lock);
	f->s->dev.ops->notify(&f->s->dev, q);
	pthread_mutex_unlock(&f->s->dev.lock);
}

static void rx_post(struct fake *f, uint16_t i)
{
	desc(f, VSOCK_Q_RX, i, RXBUF_GPA(i), RXBUF_LEN, VRING_DESC_F_WRITE);
	offer(f, VSOCK_Q_RX, i);
}

static void rx_fill(struct fake *f)
{
	for (uint16_t i = 0; i < QSIZE; i++)
		rx_post(f, i);
	kick(f, VSOCK_Q_RX);
}

static int setup_common(void **state, bool with_rx)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct err e = { "" };
	struct virtio_dev *d;

	if (!f)
		return -1;
	f->ram = calloc(1, RAM_SIZE);
	f->s = calloc(1, sizeof(*f->s));
	if (!f->ram || !f->s)
		return -1;
	f->mem.fd = -1;
	f->mem.host = f->ram;
	f->mem.total = RAM_SIZE;
	f->mem.nregions = 1;
	f->mem.regions[0] = (struct gmem_region){ .gpa = RAM_BASE, .size = RAM_SIZE };
	strcpy(f->dir, "/tmp/lodge-vsock-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/v.sock", f->dir);
	if (vsock_setup(f->s, GUEST_CID, f->path, &e) < 0) {
		fprintf(stderr, "vsock_setup: %s\n", e.msg);
		return -1;
	}
	d = &f->s->dev;
	pthread_mutex_init(&d->lock, NULL);
	d->irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	for (unsigned q = 0; q < 3; q++) {
		struct virtq *v = &d->vq[q];

		v->size = QSIZE;
		v->desc_gpa = RING_GPA(q);
		v->avail_gpa = RING_GPA(q) + 0x4000;
		v->used_gpa = RING_GPA(q) + 0x8000;
		if (vq_activate(v, &f->mem, false, false) < 0)
			return -1;
		v->ready = true;
	}
	f->buf_alloc = 256 * 1024;
	*state = f;
	if (with_rx)
		rx_fill(f);
	return 0;
}

static int setup(void **state)
{
	return setup_common(state, true);
}

static int setup_no_rx(void **state)
{
	return setup_common(state, false);
}

static int teardown(void **state)
{
	struct fake *f = *state;
	char p[160];

	vsock_teardown(f->s);
	close(f->s->dev.irq_fd);
	pthread_mutex_destroy(&f->s->dev.lock);
	/* The listening socket file is gone; remove what the tests made. */
	assert_int_equal(access(f->path, F_OK), -1);
	for (unsigned port = 6000; port < 6010; port++) {
		snprintf(p, sizeof(p), "%s_%u", f->path, port);
		unlink(p);
	}
	rmdir(f->dir);
	free(f->s);
	free(f->ram);
	free(f);
	return 0;
}

/* The driver sends one packet: header fields and (len) payload bytes in one buffer. */
static void tx_full(struct fake *f, uint64_t src_cid, uint64_t dst_cid, uint32_t src_port,
		    uint32_t dst_port, uint16_t type, uint16_t op, uint32_t flags, uint32_t hdr_len,
		    const void *data, uint32_t len)
{
	uint16_t i = (uint16_t)(f->ntx++ % QSIZE);
	struct vsock_hdr h = {
		.src_cid = src_cid, .dst_cid = dst_cid, .src_port = src_port,
		.dst_port = dst_port, .len = hdr_len, .type = type, .op = op, .flags = flags,
		.buf_alloc = f->buf_alloc, .fwd_cnt = f->rx_fwd,
	};

	memcpy(host(f, TXBUF_GPA(i)), &h, sizeof(h));
	if (len)
		memcpy(host(f, TXBUF_GPA(i) + sizeof(h)), data, len);
	desc(f, VSOCK_Q_TX, i, TXBUF_GPA(i), (uint32_t)sizeof(h) + len, 0);
	offer(f, VSOCK_Q_TX, i);
	kick(f, VSOCK_Q_TX);
}

/* A well-formed packet of the flow (guest_port <-> host_port). */
static void tx(struct fake *f, uint32_t guest_port, uint32_t host_port, uint16_t op,
	       uint32_t flags, const void *data, uint32_t len)
{
	tx_full(f, GUEST_CID, VSOCK_HOST_CID, guest_port, host_port, VSOCK_TYPE_STREAM, op, flags,
		len, data, len);
}

/* The next packet the device put in an rx buffer (reposted at once), or false. */
static bool rx(struct fake *f, struct vsock_hdr *h, void *data, uint32_t *len)
{
	struct vring_used_elem e;

	if (!used(f, VSOCK_Q_RX, &e))
		return false;
	assert_true(e.len >= sizeof(*h));
	assert_true(e.id < QSIZE);
	memcpy(h, host(f, RXBUF_GPA(e.id)), sizeof(*h));
	assert_int_equal(e.len, sizeof(*h) + h->len);
	if (data)
		memcpy(data, host(f, RXBUF_GPA(e.id) + sizeof(*h)), h->len);
	if (len)
		*len = h->len;
	rx_post(f, (uint16_t)e.id);
	kick(f, VSOCK_Q_RX);
	return true;
}

/* Expect one packet with (op) on flow host_port -> guest_port. */
static void expect_rx(struct fake *f, uint16_t op, uint32_t host_port, uint32_t guest_port,
		      struct vsock_hdr *out)
{
	struct vsock_hdr h;

	assert_true(rx(f, &h, NULL, NULL));
	assert_int_equal(h.op, op);
	assert_int_equal(h.src_cid, VSOCK_HOST_CID);
	assert_int_equal(h.dst_cid, GUEST_CID);
	assert_int_equal(h.src_port, host_port);
	assert_int_equal(h.dst_port, guest_port);
	assert_int_equal(h.type, VSOCK_TYPE_STREAM);
	if (op != VSOCK_OP_RST)
		assert_int_equal(h.buf_alloc, VSOCK_CONN_BUF);
	if (out)
		*out = h;
}

static void expect_no_rx(struct fake *f)
{
	struct vsock_hdr h;

	vsock_poll(f->s);
	assert_false(rx(f, &h, NULL, NULL));
}

/* A host process listening on "<uds_path>_<port>". */
static int host_listen(struct fake *f, unsigned port)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", f->path, port);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

/* A host process connecting to uds_path. */
static int host_connect(struct fake *f)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(a.sun_path, f->path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* recv with a timeout; -2 on timeout. */
static ssize_t host_recv(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 2000) != 1)
		return -2;
	return recv(fd, buf, len, 0);
}

static void host_send(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Establish a host-initiated flow to guest port (port); returns the host fd, sets *local. */
static int host_flow(struct fake *f, uint32_t port, uint32_t *local)
{
	struct vsock_hdr h;
	char line[32] = { 0 }, want[32];
	int fd = host_connect(f);

	/* The line may arrive in pieces. */
	host_send(fd, "CONNECT ");
	vsock_poll(f->s);
	snprintf(want, sizeof(want), "%u\n", port);
	host_send(fd, want);
	vsock_poll(f->s);
	assert_true(rx(f, &h, NULL, NULL));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.src_cid, VSOCK_HOST_CID);
	assert_int_equal(h.dst_port, port);
	assert_true(h.src_port >= VSOCK_LOCAL_PORT_BASE);
	*local = h.src_port;
	tx(f, port, h.src_port, VSOCK_OP_RESPONSE, 0, NULL, 0);
	snprintf(want, sizeof(want), "OK %u\n", h.src_port);
	assert_int_equal(host_recv(fd, line, strlen(want)), (ssize_t)strlen(want));
	assert_string_equal(line, want);
	return fd;
}

/* ---- tests ---- */

static void test_parse_connect(void **state)
{
	uint32_t p = 0;

	(void)state;
	assert_int_equal(vsock_parse_connect("CONNECT 52", &p), 0);
	assert_int_equal(p, 52);
	assert_int_equal(vsock_parse_connect("CONNECT 4294967295", &p), 0);
	assert_int_equal(p, 4294967295u);
	assert_int_equal(vsock_parse_connect("CONNECT 1234\r", &p), 0);
	assert_int_equal(p, 1234);
	assert_int_equal(vsock_parse_connect("CONNECT 4294967296", &p), -EINVAL);
	assert_int_equal(vsock_parse_connect("CONNECT 00000000001", &p), -EINVAL);
	assert_int_equal(vsock_parse_connect("CONNECT ", &p), -EINVAL);
	assert_int_equal(vsock_parse_connect("CONNECT -1", &p), -EINVAL);
	assert_int_equal(vsock_parse_connect("CONNECT 12x", &p), -EINVAL);
	assert_int_equal(vsock_parse_connect("connect 12", &p), -EINVAL);
	assert_int_equal(vsock_parse_connect("CONNECT12", &p), -EINVAL);
	assert_int_equal(vsock_parse_connect("", &p), -EINVAL);
}

static void test_config_space(void **state)
{
	struct fake *f = *state;
	uint64_t cid;

	assert_int_equal(f->s->dev.config_size, 8);
	memcpy(&cid, f->s->dev.config, 8);
	assert_int_equal(cid, GUEST_CID);
	assert_true(f->s->dev.features & VIRTIO_BIT(VIRTIO_VSOCK_F_STREAM));
	assert_int_equal(f->s->dev.ops->device_id, VIRTIO_ID_VSOCK);
	assert_int_equal(f->s->dev.ops->nqueues, 3);
}

static void test_guest_connect_refused(void **state)
{
	struct fake *f = *state;

	/* Nobody listens on <uds_path>_7000: RST, from the address the guest asked for. */
	tx(f, GUEST_PORT, 7000, VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_rx(f, VSOCK_OP_RST, 7000, GUEST_PORT, NULL);
	expect_no_rx(f);
	assert_int_equal(f->s->stats.refused, 1);
}

static void test_guest_connect_stream(void **state)
{
	struct fake *f = *state;
	int lfd = host_listen(f, 6000), hfd;
	char buf[64] = { 0 };
	struct vsock_hdr h;
	uint32_t len;

	tx(f, GUEST_PORT, 6000, VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_rx(f, VSOCK_OP_RESPONSE, 6000, GUEST_PORT, NULL);
	hfd = accept(lfd, NULL, NULL);
	assert_true(hfd >= 0);

	/* guest -> host */
	tx(f, GUEST_PORT, 6000, VSOCK_OP_RW, 0, "hello\n", 6);
	assert_int_equal(host_recv(hfd, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "hello\n", 6);

	/* host -> guest: the data and our fwd_cnt of 6 */
	host_send(hfd, "world!");
	vsock_poll(f->s);
	assert_true(rx(f, &h, buf, &len));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "world!", 6);
	assert_int_equal(h.fwd_cnt, 6);
	expect_no_rx(f);

	/* The guest closes: the host reads EOF, the guest gets the final RST. */
	tx(f, GUEST_PORT, 6000, VSOCK_OP_SHUTDOWN, VSOCK_SHUT_BOTH, NULL, 0);
	assert_int_equal(host_recv(hfd, buf, sizeof(buf)), 0);
	expect_rx(f, VSOCK_OP_RST, 6000, GUEST_PORT, NULL);
	expect_no_rx(f);
	assert_int_equal(f->s->stats.guest_conns, 1);
	assert_int_equal(f->s->stats.resets, 0);
	close(hfd);
	close(lfd);
}

static void test_host_connect_stream(void **state)
{
	struct fake *f = *state;
	uint32_t local, len;
	char buf[64] = { 0 };
	struct vsock_hdr h;
	int fd = host_flow(f, 5000, &local);

	assert_int_equal(local, VSOCK_LOCAL_PORT_BASE);
	host_send(fd, "ping");
	vsock_poll(f->s);
	assert_true(rx(f, &h, buf, &len));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.src_port, local);
	assert_int_equal(h.dst_port, 5000);
	assert_memory_equal(buf, "ping", 4);
	tx(f, 5000, local, VSOCK_OP_RW, 0, "pong", 4);
	assert_int_equal(host_recv(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pong", 4);

	/* Host half-close: the guest hears SHUTDOWN(SEND) and may still send. */
	shutdown(fd, SHUT_WR);
	vsock_poll(f->s);
	expect_rx(f, VSOCK_OP_SHUTDOWN, local, 5000, &h);
	assert_int_equal(h.flags, VSOCK_SHUT_SEND);
	tx(f, 5000, local, VSOCK_OP_RW, 0, "late", 4);
	assert_int_equal(host_recv(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "late", 4);
	tx(f, 5000, local, VSOCK_OP_SHUTDOWN, VSOCK_SHUT_BOTH, NULL, 0);
	assert_int_equal(host_recv(fd, buf, sizeof(buf)), 0);
	expect_rx(f, VSOCK_OP_RST, local, 5000, NULL);
	expect_no_rx(f);
	assert_int_equal(f->s->stats.host_conns, 1);
	close(fd);

	/* The next flow gets the next local port. */
	fd = host_flow(f, 5001, &local);
	assert_int_equal(local, VSOCK_LOCAL_PORT_BASE + 1);
	/* The guest resets it: the host socket closes. */
	tx(f, 5001, local, VSOCK_OP_RST, 0, NULL, 0);
	assert_int_equal(host_recv(fd, buf, sizeof(buf)), 0);
	expect_no_rx(f);
	close(fd);
}

static void test_host_connect_refused(void **state)
{
	struct fake *f = *state;
	struct vsock_hdr h;
	char buf[16];
	ssize_t r;
	int fd = host_connect(f);

	host_send(fd, "CONNECT 5001\n");
	vsock_poll(f->s);
	assert_true(rx(f, &h, NULL, NULL));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	/* No listener in the guest: its RST closes the host socket without "OK". */
	tx(f, 5001, h.src_port, VSOCK_OP_RST, 0, NULL, 0);
	assert_int_equal(host_recv(fd, buf, sizeof(buf)), 0);
	expect_no_rx(f);
	close(fd);

	/* Not a CONNECT line: closed at once, the guest hears nothing. */
	fd = host_connect(f);
	host_send(fd, "HELLO 12\n");
	vsock_poll(f->s);
	assert_int_equal(host_recv(fd, buf, sizeof(buf)), 0);
	close(fd);
	/* A line that never ends: closed once it is too long. */
	fd = host_connect(f);
	host_send(fd, "CONNECT 000000000000000000000000000000000000000001\n");
	vsock_poll(f->s);
	/* (closed with the rest of the line unread: ECONNRESET) */
	r = host_recv(fd, buf, sizeof(buf));
	assert_true(r == 0 || (r == -1 && errno == ECONNRESET));
	close(fd);
	expect_no_rx(f);
	assert_int_equal(f->s->stats.refused, 3);
}

/* Host -> guest never exceeds the guest's credit; its CREDIT_UPDATE opens more. */
static void test_credit_to_guest(void **state)
{
	struct fake *f = *state;
	static char blob[1000];
	char buf[4096];
	struct vsock_hdr h;
	uint32_t local, len, got = 0;
	int fd;

	f->buf_alloc = 100;
	fd = host_flow(f, 5000, &local);
	memset(blob, 'x', sizeof(blob));
	assert_int_equal(send(fd, blob, sizeof(blob), 0), (ssize_t)sizeof(blob));
	vsock_poll(f->s);
	while (rx(f, &h, buf, &len)) {
		assert_int_equal(h.op, VSOCK_OP_RW);
		got += len;
	}
	assert_int_equal(got, 100);
	expect_no_rx(f);
	/* The guest read 60: 60 more may come. */
	f->rx_fwd = 60;
	tx(f, 5000, local, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	vsock_poll(f->s);
	got = 0;
	while (rx(f, &h, buf, &len))
		got += len;
	assert_int_equal(got, 60);
	/* A CREDIT_REQUEST is answered with our numbers. */
	tx(f, 5000, local, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
	expect_rx(f, VSOCK_OP_CREDIT_UPDATE, local, 5000, NULL);
	close(fd);
}

/* Guest -> host: fwd_cnt follows what the host read; a guest past its credit is reset. */
static void test_credit_from_guest(void **state)
{
	struct fake *f = *state;
	static char blob[VSOCK_MAX_PAYLOAD];
	int lfd = host_listen(f, 6001), hfd;
	struct vsock_hdr h;
	unsigned sent = 0;
	bool reset = false;

	tx(f, GUEST_PORT, 6001, VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_rx(f, VSOCK_OP_RESPONSE, 6001, GUEST_PORT, NULL);
	hfd = accept(lfd, NULL, NULL);
	memset(blob, 'y', sizeof(blob));
	/* The host does not read: the socket fills, then lodge's buffer; then RST. */
	while (sent < 64 && !reset) {
		tx(f, GUEST_PORT, 6001, VSOCK_OP_RW, 0, blob, sizeof(blob));
		sent++;
		vsock_poll(f->s);
		while (rx(f, &h, NULL, NULL)) {
			assert_int_not_equal(h.op, VSOCK_OP_RW);
			if (h.op == VSOCK_OP_RST)
				reset = true;
			else
				assert_int_equal(h.op, VSOCK_OP_CREDIT_UPDATE);
		}
	}
	assert_true(reset);
	assert_int_equal(f->s->stats.resets, 1);
	/* The host sees its socket reset or closed. */
	for (;;) {
		ssize_t r = host_recv(hfd, blob, sizeof(blob));

		assert_true(r != -2);
		if (r <= 0)
			break;
	}
	close(hfd);
	close(lfd);
}

/* A large transfer both ways through a host echo, guest honouring credit. */
static void test_bulk_echo(void **state)
{
	struct fake *f = *state;
	enum { TOTAL = 1 << 20 };
	static uint8_t out[TOTAL], back[TOTAL];
	uint32_t local, sent = 0, recvd = 0, peer_fwd = 0;
	size_t host_in = 0;
	static uint8_t hostbuf[TOTAL];
	size_t host_out = 0;
	struct vsock_hdr h;
	int fd, lfd = host_listen(f, 6002);
	uint32_t len;
	unsigned rounds = 0;

	for (unsigned i = 0; i < TOTAL; i++)
		out[i] = (uint8_t)(i * 7 + (i >> 9));
	tx(f, GUEST_PORT, 6002, VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_rx(f, VSOCK_OP_RESPONSE, 6002, GUEST_PORT, &h);
	peer_fwd = h.fwd_cnt;
	fd = accept(lfd, NULL, NULL);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	local = 6002;
	while (recvd < TOTAL && rounds++ < 100000) {
		/* Guest sends within lodge's credit (VSOCK_CONN_BUF - in flight). */
		uint32_t credit = VSOCK_CONN_BUF - (sent - peer_fwd);
		uint32_t n = TOTAL - sent < 3000 ? TOTAL - sent : 3000;
		ssize_t r;

		if (n > credit)
			n = credit;
		if (n) {
			tx(f, GUEST_PORT, local, VSOCK_OP_RW, 0, out + sent, n);
			sent += n;
		}
		/* Host echo. */
		r = recv(fd, hostbuf + host_in, sizeof(hostbuf) - host_in, 0);
		if (r > 0)
			host_in += (size_t)r;
		if (host_out < host_in) {
			r = send(fd, hostbuf + host_out, host_in - host_out, MSG_NOSIGNAL);
			if (r > 0)
				host_out += (size_t)r;
		}
		vsock_poll(f->s);
		while (rx(f, &h, back + recvd, &len)) {
			peer_fwd = h.fwd_cnt;
			assert_true(h.op == VSOCK_OP_RW || h.op == VSOCK_OP_CREDIT_UPDATE);
			recvd += len;
			assert_true(recvd <= TOTAL);
			/* The guest consumes at once and says so now and then. */
			f->rx_fwd += len;
			if (f->rx_fwd % 65536 < len)
				tx(f, GUEST_PORT, local, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		}
	}
	assert_int_equal(recvd, TOTAL);
	assert_memory_equal(out, back, TOTAL);
	assert_int_equal(f->s->stats.resets, 0);
	close(fd);
	close(lfd);
}

static void test_hostile_packets(void **state)
{
	struct fake *f = *state;
	struct vring_used_elem e;
	struct vsock_hdr h;
	char data[8] = "abcdefg";
	uint16_t i;

	while (used(f, VSOCK_Q_TX, &e))
		;
	/* Not from the guest's CID: dropped without an answer. */
	tx_full(f, 99, VSOCK_HOST_CID, GUEST_PORT, 7000, VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 0, 0,
		NULL, 0);
	expect_no_rx(f);
	/* len beyond what the chain holds: RST. */
	tx_full(f, GUEST_CID, VSOCK_HOST_CID, GUEST_PORT, 7000, VSOCK_TYPE_STREAM, VSOCK_OP_RW, 0,
		4096, data, 8);
	expect_rx(f, VSOCK_OP_RST, 7000, GUEST_PORT, NULL);
	tx_full(f, GUEST_CID, VSOCK_HOST_CID, GUEST_PORT, 7000, VSOCK_TYPE_STREAM, VSOCK_OP_RW, 0,
		UINT32_MAX, data, 8);
	expect_rx(f, VSOCK_OP_RST, 7000, GUEST_PORT, NULL);
	/* An unknown type (seqpacket was not offered): RST (§5.10.6.4). */
	tx_full(f, GUEST_CID, VSOCK_HOST_CID, GUEST_PORT, 7000, 2, VSOCK_OP_REQUEST, 0, 0, NULL, 0);
	expect_rx(f, VSOCK_OP_RST, 7000, GUEST_PORT, NULL);
	/* Another CID: RST from that CID. */
	tx_full(f, GUEST_CID, 77, GUEST_PORT, 7000, VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 0, 0, NULL, 0);
	assert_true(rx(f, &h, NULL, NULL));
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(h.src_cid, 77);
	/* Data, shutdown, response for unknown flows: RST; an RST: nothing. */
	tx(f, GUEST_PORT, 7001, VSOCK_OP_RW, 0, data, 4);
	expect_rx(f, VSOCK_OP_RST, 7001, GUEST_PORT, NULL);
	tx(f, GUEST_PORT, 7001, VSOCK_OP_SHUTDOWN, 3, NULL, 0);
	expect_rx(f, VSOCK_OP_RST, 7001, GUEST_PORT, NULL);
	tx(f, GUEST_PORT, 7001, VSOCK_OP_RESPONSE, 0, NULL, 0);
	expect_rx(f, VSOCK_OP_RST, 7001, GUEST_PORT, NULL);
	tx(f, GUEST_PORT, 7001, VSOCK_OP_RST, 0, NULL, 0);
	expect_no_rx(f);
	/* A buffer shorter than a header: given back, nothing else. */
	i = (uint16_t)(f->ntx++ % QSIZE);
	desc(f, VSOCK_Q_TX, i, TXBUF_GPA(i), 10, 0);
	offer(f, VSOCK_Q_TX, i);
	kick(f, VSOCK_Q_TX);
	expect_no_rx(f);
	/* A device-writable tx buffer has no readable header: dropped too. */
	i = (uint16_t)(f->ntx++ % QSIZE);
	desc(f, VSOCK_Q_TX, i, TXBUF_GPA(i), 64, VRING_DESC_F_WRITE);
	offer(f, VSOCK_Q_TX, i);
	kick(f, VSOCK_Q_TX);
	expect_no_rx(f);
	/* Every tx buffer came back; the device still works. */
	for (unsigned n = 0; n < f->ntx; n++)
		assert_true(used(f, VSOCK_Q_TX, &e));
	assert_false(f->s->dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	tx(f, GUEST_PORT, 7002, VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_rx(f, VSOCK_OP_RST, 7002, GUEST_PORT, NULL);
}

/* Protocol errors on a live flow reset it; the host socket closes. */
static void test_flow_violations(void **state)
{
	struct fake *f = *state;
	static char blob[2 * VSOCK_MAX_PAYLOAD];
	uint32_t local;
	char buf[8];
	int fd;

	fd = host_flow(f, 5000, &local);
	tx(f, 5000, local, VSOCK_OP_REQUEST, 0, NULL, 0);      /* a second REQUEST */
	expect_rx(f, VSOCK_OP_RST, local, 5000, NULL);
	assert_int_equal(host_recv(fd, buf, sizeof(buf)), 0);
	close(fd);

	fd = host_flow(f, 5000, &local);
	/* A payload over the largest packet. */
	tx(f, 5000, local, VSOCK_OP_RW, 0, blob, VSOCK_MAX_PAYLOAD + 1);
	expect_rx(f, VSOCK_OP_RST, local, 5000, NULL);
	assert_int_equal(host_recv(fd, buf, sizeof(buf)), 0);
	close(fd);

	fd = host_flow(f, 5000, &local);
	/* Data after the guest said it sends no more. */
	tx(f, 5000, local, VSOCK_OP_SHUTDOWN, VSOCK_SHUT_SEND, NULL, 0);
	assert_int_equal(host_recv(fd, buf, sizeof(buf)), 0);     /* EOF passed on */
	tx(f, 5000, local, VSOCK_OP_RW, 0, "x", 1);
	expect_rx(f, VSOCK_OP_RST, local, 5000, NULL);
	close(fd);
	expect_no_rx(f);
	assert_int_equal(f->s->stats.resets, 3);
}

/* No rx buffers: RSTs for unknown flows queue up to the ring, then tx waits (§5.10.6.1). */
static void test_tx_waits_for_rx(void **state)
{
	struct fake *f = *state;
	struct vring_used_elem e;
	struct vsock_hdr h;
	unsigned n = 0, rsts = 0;

	for (unsigned i = 0; i < VSOCK_RST_RING + 10; i++)
		tx(f, GUEST_PORT, 8000 + i, VSOCK_OP_RW, 0, "z", 1);
	while (used(f, VSOCK_Q_TX, &e))
		n++;
	assert_int_equal(n, VSOCK_RST_RING);
	/* Buffers arrive: the RSTs go out and tx goes on. */
	rx_fill(f);
	while (rx(f, &h, NULL, NULL)) {
		assert_int_equal(h.op, VSOCK_OP_RST);
		assert_int_equal(h.src_port, 8000 + rsts);
		rsts++;
	}
	assert_int_equal(rsts, VSOCK_RST_RING + 10);
	while (used(f, VSOCK_Q_TX, &e))
		n++;
	assert_int_equal(n, VSOCK_RST_RING + 10);
}

static void test_transport_reset_event(void **state)
{
	struct fake *f = *state;
	struct vring_used_elem e;
	uint32_t local, id = 0xffffffff;
	char buf[8];
	int fd = host_flow(f, 5000, &local);

	desc(f, VSOCK_Q_EVENT, 0, EVBUF_GPA(0), 4, VRING_DESC_F_WRITE);
	offer(f, VSOCK_Q_EVENT, 0);
	kick(f, VSOCK_Q_EVENT);
	assert_false(used(f, VSOCK_Q_EVENT, &e));
	pthread_mutex_lock(&f->s->dev.lock);
	vsock_transport_reset(f->s, true);
	pthread_mutex_unlock(&f->s->dev.lock);
	assert_true(used(f, VSOCK_Q_EVENT, &e));
	assert_int_equal(e.len, 4);
	memcpy(&id, host(f, EVBUF_GPA(0)), 4);
	assert_int_equal(id, VSOCK_EVENT_TRANSPORT_RESET);
	/* The host side of every connection is gone; the guest was told at once. */
	assert_int_equal(host_recv(fd, buf, sizeof(buf)), 0);
	expect_no_rx(f);
	close(fd);
	/* Without an event buffer the event waits for one. */
	pthread_mutex_lock(&f->s->dev.lock);
	vsock_transport_reset(f->s, true);
	pthread_mutex_unlock(&f->s->dev.lock);
	assert_false(used(f, VSOCK_Q_EVENT, &e));
	desc(f, VSOCK_Q_EVENT, 1, EVBUF_GPA(1), 4, VRING_DESC_F_WRITE);
	offer(f, VSOCK_Q_EVENT, 1);
	kick(f, VSOCK_Q_EVENT);
	assert_true(used(f, VSOCK_Q_EVENT, &e));
	assert_int_equal(e.id, 1);
	/* A device reset drops connections and tells nobody. */
	fd = host_flow(f, 5000, &local);
	pthread_mutex_lock(&f->s->dev.lock);
	f->s->dev.ops->reset(&f->s->dev);
	pthread_mutex_unlock(&f->s->dev.lock);
	assert_int_equal(host_recv(fd, buf, sizeof(buf)), 0);
	close(fd);
}

static int save_vsock(void *ctx, struct snap_writer *w, struct err *e)
{
	return virtio_save(ctx, w, e);
}

/*
 * A snapshot restore: the transport state comes back, connections do not;
 * the guest gets TRANSPORT_RESET once the I/O thread serves the restore's
 * kicks (here: the test's kick), not during the restore itself.
 */
static void test_snapshot_restore(void **state)
{
	static struct vm vm;
	struct fake *f = *state;
	struct virtio_dev *d = &f->s->dev;
	struct vring_used_elem e;
	struct err err = { "" };
	struct snap_cursor c;
	uint32_t local, id = 0xffffffff;
	uint64_t n;
	uint8_t *p;
	size_t len;
	char buf[8];
	int fd = host_flow(f, 5000, &local);

	vm.mem = f->mem;
	d->vm = &vm;
	d->driver_features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_VSOCK_F_STREAM);
	for (unsigned q = 0; q < 3; q++)
		d->kick_fd[q] = eventfd(0, EFD_NONBLOCK);
	desc(f, VSOCK_Q_EVENT, 0, EVBUF_GPA(0), 4, VRING_DESC_F_WRITE);
	offer(f, VSOCK_Q_EVENT, 0);
	kick(f, VSOCK_Q_EVENT);
	p = state_fixture_payload(save_vsock, d, &len);
	c = state_fixture_cursor(p, len);
	if (virtio_restore(d, &c, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(snap_cursor_done(&c, "vsock", &err), 0);
	assert_int_equal(host_recv(fd, buf, sizeof(buf)), 0);   /* the connection is gone */
	assert_false(used(f, VSOCK_Q_EVENT, &e));               /* not yet told */
	for (unsigned q = 0; q < 3; q++) {
		assert_int_equal(read(d->kick_fd[q], &n, sizeof(n)), sizeof(n));
		assert_int_equal(n, 1);
	}
	kick(f, VSOCK_Q_EVENT);
	assert_true(used(f, VSOCK_Q_EVENT, &e));
	memcpy(&id, host(f, EVBUF_GPA(0)), 4);
	assert_int_equal(id, VSOCK_EVENT_TRANSPORT_RESET);
	/* The rx queue's state came back: a new flow still reaches the guest. */
	close(fd);
	fd = host_flow(f, 5001, &local);
	close(fd);
	for (unsigned q = 0; q < 3; q++) {
		close(d->kick_fd[q]);
		d->kick_fd[q] = -1;
	}
	d->vm = NULL;
	free(p);
}

/* Host connections beyond the limit are closed at once. */
static void test_connection_limit(void **state)
{
	struct fake *f = *state;
	static int fds[VSOCK_MAX_CONNS + 1];
	unsigned n = 0;
	struct rlimit rl;
	char c;

	/* Each connection costs two fds here (lodge's and the test's). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS + 1; i++) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			break;
		strcpy(a.sun_path, f->path);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(fd);
			break;
		}
		fds[n++] = fd;
		vsock_poll(f->s);
		if (f->s->listen_paused)
			break;  /* the process ran out of fds first */
	}
	if (rl.rlim_cur >= 2 * VSOCK_MAX_CONNS + 64)
		assert_int_equal(n, VSOCK_MAX_CONNS + 1);
	if (n == VSOCK_MAX_CONNS + 1) {
		/* The last one was refused: its socket reads EOF. */
		assert_int_equal(host_recv(fds[n - 1], &c, 1), 0);
		assert_int_equal(f->s->nfree, 0);
	}
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	for (unsigned i = 0; i < 1000 && f->s->nfree < VSOCK_MAX_CONNS; i++)
		vsock_poll(f->s);
	assert_int_equal(f->s->nfree, VSOCK_MAX_CONNS);
	assert_false(f->s->listen_paused);
}

static void test_socket_file_rules(void **state)
{
	char dir[] = "/tmp/lodge-vsock-XXXXXX", path[VSOCK_UDS_MAX + 2];
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vsock *s = calloc(1, sizeof(*s));
	struct err e = { "" };
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	strcpy(a.sun_path, path);

	/* A live listener: refused. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(vsock_setup(s, 3, path, &e), -EADDRINUSE);
	assert_non_null(strstr(e.msg, "another process listens"));
	vsock_teardown(s);
	assert_int_equal(access(path, F_OK), 0);        /* not ours: left alone */
	/* The listener gone, its file stale: replaced, then removed at the end. */
	close(fd);
	memset(s, 0, sizeof(*s));
	assert_int_equal(vsock_setup(s, 3, path, &e), 0);
	vsock_teardown(s);
	assert_int_equal(access(path, F_OK), -1);
	/* A regular file: refused and kept. */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	memset(s, 0, sizeof(*s));
	assert_int_equal(vsock_setup(s, 3, path, &e), -EEXIST);
	vsock_teardown(s);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	/* Too long for "<uds_path>_<port>". */
	memset(s, 0, sizeof(*s));
	memset(path, 'a', VSOCK_UDS_MAX + 1);
	path[0] = '/';
	path[VSOCK_UDS_MAX + 1] = 0;
	assert_int_equal(vsock_setup(s, 3, path, &e), -ENAMETOOLONG);
	vsock_teardown(s);
	rmdir(dir);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_connect),
		cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_connect_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_connect_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_to_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_from_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_packets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_violations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_waits_for_rx, setup_no_rx, teardown),
		cmocka_unit_test_setup_teardown(test_transport_reset_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
		cmocka_unit_test(test_socket_file_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
