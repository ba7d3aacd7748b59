/*
 * libFuzzer harness for virtio-vsock's packet handling (src/virtio/vsock.c,
 * vsock_mux.c) through vsock.h: the device is made with vsock_setup() in a
 * private temporary directory, as tests/unit/test_vsock.c does, and the
 * harness plays both the driver (tx packets with fuzzed headers and
 * payloads, rx and event buffers, on fake guest RAM) and the host processes
 * (Unix sockets listening on "<uds_path>_1000" and "_1001", connections to
 * uds_path with fuzzed CONNECT lines, data and shutdowns on the host ends).
 *
 * Input (little-endian): 0 u8 flags (bit 0 EVENT_IDX, bit 1 RAM in two
 * regions), then operations until the input ends, each a u8 (% 8) and:
 *   0 tx packet: u8 fixes (bit 0 src_cid = the guest's, 1 dst_cid = host,
 *     2 type = stream, 3 dst_port = 1000 + (dst_port & 1), 4 len = the
 *     payload's, 5 a trailing device-writable buffer); the 44-byte header;
 *     u16 payload length (& 0x7fff); u8 buffers (% 4 + 1: header and
 *     payload cut into that many pieces); the payload; kick tx
 *   1 rx buffers: u8 count (% 8 + 1), per buffer u16 length (& 0x3fff; bit
 *     15: in two pieces); kick rx
 *   2 host: accept on the two listeners
 *   3 host: u8 which connection, u8 length, bytes sent on it; poll
 *   4 host: u8 which connection; bit 7 set: close it, else shut it for writing; poll
 *   5 host: connect to uds_path and send u8 length bytes (a CONNECT line); poll
 *   6 event: u8 length (% 16) of an event buffer made available; u8 bit 0:
 *     transport reset (tell the guest), else kick the event queue
 *   7 host: read everything waiting on every connection; poll
 *
 * Checked: used entries name chains made available once, within their
 * writable part; tx entries are 0; every packet in an rx buffer is a whole
 * header plus exactly hdr.len <= VSOCK_MAX_PAYLOAD bytes, to the guest's
 * CID, of stream type, with a valid op, payload only on OP_RW; an event is
 * 4 bytes of TRANSPORT_RESET; no byte of RAM outside the used rings and the
 * writable buffers changes. FUZZ_DEBUG=1 in the environment prints the
 * device's debug log and each packet the guest gets (to see what a seed does).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz.h"
#include "util/log.h"
#include "virtio/vsock.h"

#define RAM_BASE  0x100000ull
#define RAM2_BASE 0x4000000ull
#define RAM_SIZE  (192u << 10)
#define GUEST_CID 3
#define MAX_HOST  16

#include "driver.h"

static struct vsock *s;
static char dir[64], path[96];
static int listeners[2];
static int host[MAX_HOST];
static unsigned nhost;
static uint8_t scratch[64 * 1024];

/* At exit: the device's socket file, the listeners' and the directory go. */
static void cleanup(void)
{
	char p[128];

	vsock_teardown(s);
	for (int i = 0; i < 2; i++) {
		close(listeners[i]);
		snprintf(p, sizeof(p), "%s_%d", path, 1000 + i);
		unlink(p);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct err e = { { 0 } };

	(void)argc;
	(void)argv;
	log_threshold = getenv("FUZZ_DEBUG") ? LOG_DEBUG : LOG_ERROR;
	s = calloc(1, sizeof(*s));
	strcpy(dir, "/tmp/lodge-fuzz-vsock-XXXXXX");
	if (!s || !mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	if (vsock_setup(s, GUEST_CID, path, &e) < 0) {
		fprintf(stderr, "fuzz_vsock: vsock_setup: %s\n", e.msg);
		abort();
	}
	pthread_mutex_init(&s->dev.lock, NULL);
	s->dev.irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	for (int i = 0; i < 2; i++) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		listeners[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s_%d", path, 1000 + i);
		if (listeners[i] < 0 || bind(listeners[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(listeners[i], 64) < 0) {
			perror("fuzz_vsock: host listener");
			abort();
		}
	}
	atexit(cleanup);
	return 0;
}

static void kick(unsigned q)
{
	pthread_mutex_lock(&s->dev.lock);
	s->dev.ops->notify(&s->dev, q);
	pthread_mutex_unlock(&s->dev.lock);
}

static void host_add(int fd)
{
	if (nhost < MAX_HOST) {
		fcntl(fd, F_SETFL, O_NONBLOCK);
		host[nhost++] = fd;
	} else {
		close(fd);
	}
}

static void host_accept(void)
{
	for (int i = 0; i < 2; i++) {
		int fd;

		while ((fd = accept4(listeners[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
			host_add(fd);
	}
}

static void check_used(struct drv *v)
{
	struct vring_used_elem e;

	while (drv_used(v, VSOCK_Q_TX, &e))
		FUZZ_CHECK(e.len == 0);
	while (drv_used(v, VSOCK_Q_RX, &e)) {
		struct vsock_hdr h;

		if (e.len == 0)
			continue;       /* a buffer too small for any packet, given back */
		FUZZ_CHECK(e.len >= sizeof(h));
		FUZZ_CHECK(drv_chain_read(v, VSOCK_Q_RX, (uint16_t)e.id, 0, &h, sizeof(h)) ==
			   sizeof(h));
		FUZZ_CHECK(h.len <= VSOCK_MAX_PAYLOAD && e.len == sizeof(h) + h.len);
		FUZZ_CHECK(h.dst_cid == GUEST_CID && h.type == VSOCK_TYPE_STREAM);
		FUZZ_CHECK(h.op >= VSOCK_OP_REQUEST && h.op <= VSOCK_OP_CREDIT_REQUEST);
		FUZZ_CHECK(h.len == 0 || h.op == VSOCK_OP_RW);
		if (getenv("FUZZ_DEBUG"))
			fprintf(stderr, "rx: op %u %u:%u -> %u:%u len %u\n", h.op, (unsigned)h.src_cid,
				h.src_port, (unsigned)h.dst_cid, h.dst_port, h.len);
	}
	while (drv_used(v, VSOCK_Q_EVENT, &e)) {
		uint32_t id;

		FUZZ_CHECK(e.len <= 4);
		if (e.len == 4) {
			FUZZ_CHECK(drv_chain_read(v, VSOCK_Q_EVENT, (uint16_t)e.id, 0, &id, 4) == 4);
			FUZZ_CHECK(id == VSOCK_EVENT_TRANSPORT_RESET);
		}
	}
}

/* A tx packet; returns false when the input or RAM ran out. */
static bool op_tx(struct drv *v, const uint8_t **in, size_t *left)
{
	static uint8_t pkt[sizeof(struct vsock_hdr) + 0x8000];
	struct vsock_hdr h;
	struct dseg sg[5];
	uint8_t fix;
	size_t plen, total, n, at = 0;

	if (*left < 1 + sizeof(h) + 3)
		return false;
	fix = (*in)[0];
	memcpy(&h, *in + 1, sizeof(h));
	plen = le16(*in + 1 + sizeof(h)) & 0x7fff;
	n = (*in)[3 + sizeof(h)] % 4 + 1;
	*in += 4 + sizeof(h);
	*left -= 4 + sizeof(h);
	if (fix & 1)
		h.src_cid = GUEST_CID;
	if (fix & 2)
		h.dst_cid = VSOCK_HOST_CID;
	if (fix & 4)
		h.type = VSOCK_TYPE_STREAM;
	if (fix & 8)
		h.dst_port = 1000 + (h.dst_port & 1);
	if (fix & 16)
		h.len = (uint32_t)plen;
	memcpy(pkt, &h, sizeof(h));
	memset(pkt + sizeof(h), 0, plen);
	{
		size_t k = plen < *left ? plen : *left;

		memcpy(pkt + sizeof(h), *in, k);
		*in += k;
		*left -= k;
	}
	total = sizeof(h) + plen;
	for (size_t i = 0; i < n; i++) {
		size_t len = i + 1 < n ? total / n : total - at;

		sg[i] = (struct dseg){ .len = (uint32_t)len, .src = pkt + at, .src_len = len };
		at += len;
	}
	if (fix & 32)
		sg[n++] = (struct dseg){ .len = 64, .write = true };
	if (!drv_chain(v, VSOCK_Q_TX, sg, (unsigned)n))
		return false;
	kick(VSOCK_Q_TX);
	return true;
}

static bool op_rx(struct drv *v, const uint8_t **in, size_t *left)
{
	unsigned count;

	if (*left < 1)
		return false;
	count = (*in)[0] % 8 + 1;
	(*in)++;
	(*left)--;
	for (unsigned i = 0; i < count; i++) {
		struct dseg sg[2];
		uint16_t w;
		unsigned n = 1;

		if (*left < 2)
			return false;
		w = le16(*in);
		*in += 2;
		*left -= 2;
		sg[0] = (struct dseg){ .len = w & 0x3fff, .write = true };
		if (w & 0x8000) {
			sg[1] = (struct dseg){ .len = sg[0].len - sg[0].len / 2, .write = true };
			sg[0].len /= 2;
			n = 2;
		}
		if (!drv_chain(v, VSOCK_Q_RX, sg, n))
			break;
	}
	kick(VSOCK_Q_RX);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_dev *d = &s->dev;
	struct drv v;
	const uint8_t *in;
	size_t left;
	uint64_t x;
	uint8_t f;

	if (size < 1)
		return 0;
	f = data[0];
	if (!drv_init(&v, RAM_SIZE, RAM_BASE, 3, f & 2, RAM2_BASE))
		return 0;
	d->status = 0;
	d->driver_features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_VSOCK_F_STREAM) |
			     (f & 1 ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0);
	for (unsigned q = 0; q < 3; q++)
		FUZZ_CHECK(drv_queue(&v, &d->vq[q], q, f & 1) == 0);
	d->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		    VIRTIO_STATUS_DRIVER_OK;

	in = data + 1;
	left = size - 1;
	while (left >= 1) {
		uint8_t op = in[0] % 8;
		bool go = true;

		in++;
		left--;
		switch (op) {
		case 0:
			go = op_tx(&v, &in, &left);
			break;
		case 1:
			go = op_rx(&v, &in, &left);
			break;
		case 2:
			host_accept();
			break;
		case 3:
		case 5: {
			size_t len;
			int fd = -1;

			if (left < 2) {
				go = false;
				break;
			}
			if (op == 3) {
				if (nhost)
					fd = host[in[0] % nhost];
			} else {
				struct sockaddr_un a = { .sun_family = AF_UNIX };

				fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
				strcpy(a.sun_path, path);
				if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
					close(fd);
					fd = -1;
				} else if (fd >= 0) {
					host_add(fd);
				}
			}
			len = in[1];
			in += 2;
			left -= 2;
			if (len > left)
				len = left;
			if (fd >= 0 && len)
				(void)send(fd, in, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			in += len;
			left -= len;
			vsock_poll(s);
			break;
		}
		case 4: {
			unsigned i;

			if (left < 1) {
				go = false;
				break;
			}
			if (nhost) {
				i = in[0] % nhost;
				if (in[0] & 0x80) {
					close(host[i]);
					host[i] = host[--nhost];
				} else {
					shutdown(host[i], SHUT_WR);
				}
			}
			in++;
			left--;
			vsock_poll(s);
			break;
		}
		case 6: {
			struct dseg sg = { .write = true };

			if (left < 2) {
				go = false;
				break;
			}
			sg.len = in[0] % 16;
			if (sg.len && !drv_chain(&v, VSOCK_Q_EVENT, &sg, 1))
				go = false;
			if (in[1] & 1) {
				pthread_mutex_lock(&d->lock);
				vsock_transport_reset(s, true);
				pthread_mutex_unlock(&d->lock);
			} else {
				kick(VSOCK_Q_EVENT);
			}
			in += 2;
			left -= 2;
			break;
		}
		default:
			for (unsigned i = 0; i < nhost; i++)
				while (recv(host[i], scratch, sizeof(scratch), MSG_DONTWAIT) > 0)
					;
			vsock_poll(s);
			break;
		}
		check_used(&v);
		if (!go)
			break;
	}
	check_used(&v);
	drv_check_untouched(&v);

	/* Back to nothing: host ends closed, leftovers accepted and closed, no connections. */
	for (unsigned i = 0; i < nhost; i++)
		close(host[i]);
	nhost = 0;
	host_accept();
	for (unsigned i = 0; i < nhost; i++)
		close(host[i]);
	nhost = 0;
	vsock_poll(s);
	pthread_mutex_lock(&d->lock);
	vsock_transport_reset(s, false);
	pthread_mutex_unlock(&d->lock);
	for (unsigned q = 0; q < 3; q++)
		vq_reset(&d->vq[q]);
	memset(&s->stats, 0, sizeof(s->stats));
	while (read(d->irq_fd, &x, sizeof(x)) == sizeof(x))
		;
	drv_free(&v);
	return 0;
}
