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

/* ---- The driver's side (the same in fuzz_net.c, fuzz_vsock.c, fuzz_balloon.c). ---- */
#define GAP      16
#define QSIZE    64
#define RING_SPAN 0x2000ull     /* per queue: descriptors, avail at +0x800, used at +0x1000 */

struct dseg {
	uint32_t len;
	bool write;
	const uint8_t *src;     /* readable: contents (zeros past src_len) */
	size_t src_len;
	uint64_t off;           /* set by drv_chain: offset in RAM */
};

struct drv {
	struct gmem m;
	uint8_t *ram, *shadow;          /* RAM, and what the driver wrote there */
	size_t len;
	uint64_t base, top;             /* buffers are taken from the end of RAM down */
	unsigned nq;
	uint16_t next_desc[4], avail_idx[4], used_seen[4];
	uint64_t chain_wlen[4][QSIZE];  /* per head: the chain's writable bytes */
	uint8_t chain_state[4][QSIZE];  /* 1: made available, 2: used */
	uint64_t chain_off[4][QSIZE][8];        /* per head: its buffers (offsets, lengths) */
	uint32_t chain_len[4][QSIZE][8];
	bool chain_w[4][QSIZE][8];
	uint8_t chain_nseg[4][QSIZE];
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static bool drv_init(struct drv *v, size_t len, uint64_t base, unsigned nq, int split,
		     uint64_t base2)
{
	memset(v, 0, sizeof(*v));
	v->ram = fake_ram(&v->m, NULL, 0, len, base, split, base2);
	v->shadow = calloc(1, len);
	if (!v->ram || !v->shadow) {
		free(v->ram);
		free(v->shadow);
		return false;
	}
	v->len = len;
	v->base = base;
	v->top = len;
	v->nq = nq;
	return true;
}

static void drv_free(struct drv *v)
{
	free(v->ram);
	free(v->shadow);
}

/* Guest-physical address of RAM offset (off) (the split layout maps offsets above len/2). */
static uint64_t drv_gpa(const struct drv *v, uint64_t off)
{
	for (unsigned i = 0; i < v->m.nregions; i++)
		if (off >= v->m.regions[i].offset &&
		    off < v->m.regions[i].offset + v->m.regions[i].size)
			return v->m.regions[i].gpa + (off - v->m.regions[i].offset);
	return 0;
}

static void drv_put(struct drv *v, uint64_t off, const void *p, size_t n)
{
	memcpy(v->ram + off, p, n);
	memcpy(v->shadow + off, p, n);
}

/* Queue (q)'s rings, activated over this iteration's RAM. */
static int drv_queue(struct drv *v, struct virtq *vq, unsigned q, bool event_idx)
{
	vq_reset(vq);
	vq->size = QSIZE;
	vq->desc_gpa = drv_gpa(v, q * RING_SPAN);
	vq->avail_gpa = drv_gpa(v, q * RING_SPAN + 0x800);
	vq->used_gpa = drv_gpa(v, q * RING_SPAN + 0x1000);
	if (vq_activate(vq, &v->m, event_idx, false) < 0)
		return -1;
	vq->ready = true;
	return 0;
}

/*
 * Make a chain of (n) buffers available on queue (q) (readable ones must
 * come first for a well-formed chain; the caller decides). Buffers are
 * placed below the previous ones, (GAP) bytes apart, the first at the very
 * end of RAM; a buffer that does not
 * fit, or a segment that does not fit one region, ends the chain early
 * (false: nothing was made available).
 */
static bool drv_chain(struct drv *v, unsigned q, struct dseg *s, unsigned n)
{
	uint16_t head = v->next_desc[q];
	uint64_t wlen = 0, ring = q * RING_SPAN;
	uint16_t avail_at;

	if (n == 0 || n > 8 || head + n > QSIZE || v->avail_idx[q] >= QSIZE)
		return false;
	for (unsigned i = 0; i < n; i++) {
		uint64_t lo = v->nq * RING_SPAN;
		bool fits = false;

		/* The first buffer ends RAM: ASan sees an access past it. */
		uint64_t gap = v->top == v->len ? 0 : GAP;

		if (v->top < lo + gap + s[i].len)
			return false;
		s[i].off = v->top - gap - s[i].len;
		/* The buffer must not straddle the two regions (split RAM). */
		for (unsigned r = 0; r < v->m.nregions; r++)
			if (s[i].off >= v->m.regions[r].offset &&
			    s[i].off + s[i].len <= v->m.regions[r].offset + v->m.regions[r].size)
				fits = true;
		if (!fits && v->m.nregions > 1) {
			/* Start over below the second region's start. */
			uint64_t mid = v->m.regions[1].offset;

			if (mid < lo + GAP + s[i].len)
				return false;
			s[i].off = mid - GAP - s[i].len;
		}
		v->top = s[i].off;
	}
	for (unsigned i = 0; i < n; i++) {
		struct vring_desc d = {
			.addr = drv_gpa(v, s[i].off), .len = s[i].len,
			.flags = (uint16_t)((s[i].write ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = (uint16_t)(head + i + 1),
		};

		if (s[i].write) {
			memset(v->ram + s[i].off, 0xcc, s[i].len);
			memset(v->shadow + s[i].off, 0xcc, s[i].len);
			wlen += s[i].len;
		} else if (s[i].src_len) {
			drv_put(v, s[i].off, s[i].src, s[i].src_len < s[i].len ? s[i].src_len : s[i].len);
		}
		drv_put(v, ring + 16u * (head + i), &d, sizeof(d));
		v->chain_off[q][head][i] = s[i].off;
		v->chain_len[q][head][i] = s[i].len;
		v->chain_w[q][head][i] = s[i].write;
	}
	v->chain_nseg[q][head] = (uint8_t)n;
	v->chain_wlen[q][head] = wlen;
	v->chain_state[q][head] = 1;
	v->next_desc[q] = (uint16_t)(head + n);
	avail_at = v->avail_idx[q]++;
	drv_put(v, ring + 0x800 + 4 + 2u * avail_at, &head, 2);
	drv_put(v, ring + 0x800 + 2, &v->avail_idx[q], 2);
	return true;
}

/* The next used entry of queue (q), checked: a chain we made available, not used before, len within its writable part. */
static bool drv_used(struct drv *v, unsigned q, struct vring_used_elem *e)
{
	uint64_t ring = q * RING_SPAN + 0x1000;
	uint16_t idx;

	memcpy(&idx, v->ram + ring + 2, 2);
	if (idx == v->used_seen[q])
		return false;
	FUZZ_CHECK((uint16_t)(idx - v->used_seen[q]) <= v->avail_idx[q]);
	memcpy(e, v->ram + ring + 4 + 8u * (v->used_seen[q] % QSIZE), sizeof(*e));
	v->used_seen[q]++;
	FUZZ_CHECK(e->id < QSIZE && v->chain_state[q][e->id] == 1);
	FUZZ_CHECK(e->len <= v->chain_wlen[q][e->id]);
	v->chain_state[q][e->id] = 2;
	return true;
}

/* Copy up to (n) bytes from offset (at) of chain (head)'s writable part. */
__attribute__((unused)) static size_t drv_chain_read(const struct drv *v, unsigned q, uint16_t head, uint64_t at,
			     void *dst, size_t n)
{
	size_t done = 0;

	for (unsigned i = 0; i < v->chain_nseg[q][head] && done < n; i++) {
		uint32_t l = v->chain_len[q][head][i];

		if (!v->chain_w[q][head][i])
			continue;
		if (at >= l) {
			at -= l;
			continue;
		}
		size_t k = l - at < n - done ? l - at : n - done;

		memcpy((uint8_t *)dst + done, v->ram + v->chain_off[q][head][i] + at, k);
		done += k;
		at = 0;
	}
	return done;
}

/* Nothing but used rings and writable buffers changed. */
static void drv_check_untouched(struct drv *v)
{
	/* What the device may write is taken as it is; then all the rest must match. */
	for (unsigned q = 0; q < v->nq; q++) {
		uint64_t used = q * RING_SPAN + 0x1000;

		memcpy(v->shadow + used, v->ram + used, 4 + 8 * QSIZE + 2);
		for (unsigned h = 0; h < QSIZE; h++)
			for (unsigned i = 0; v->chain_state[q][h] && i < v->chain_nseg[q][h]; i++)
				if (v->chain_w[q][h][i])
					memcpy(v->shadow + v->chain_off[q][h][i],
					       v->ram + v->chain_off[q][h][i], v->chain_len[q][h][i]);
	}
	if (memcmp(v->ram, v->shadow, v->len) == 0)
		return;
	for (size_t i = 0; i < v->len; i++)
		if (v->ram[i] != v->shadow[i]) {
			fprintf(stderr, "RAM offset 0x%zx changed (0x%02x, was 0x%02x)\n", i,
				v->ram[i], v->shadow[i]);
			break;
		}
	FUZZ_CHECK(!"the device wrote outside the used rings and writable buffers");
}
/* ---- End of the driver's side. ---- */

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
