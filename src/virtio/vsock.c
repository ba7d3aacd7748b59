/*
 * virtio-vsock (virtio 1.2 §5.10), the device: three queues (rx, tx, event),
 * guest_cid in the config space, the host's listening Unix socket and the
 * private epoll set the connections live in. The connections themselves are
 * vsock_mux.c's; vsock.h says how the host side looks (Firecracker's).
 *
 * tx: each packet is handed to the mux and its buffer given back at once;
 * replies (RESPONSE, RST, credit updates) wait as per-connection flags or in
 * a small ring of RSTs for unknown flows. When that ring is full, tx waits
 * for rx buffers (§5.10.6.1: processing stops until the other side serves
 * the queue it neglected) instead of holding more state.
 * rx: whenever anything is pending and the guest gave buffers, the mux fills
 * them one packet each.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/device.h"
#include "util/log.h"
#include "virtio/vsock.h"
#include "vmm/vm.h"

#define VSOCK_QUEUE_MAX 256

static void vsock_tx_drain(struct vsock *s);

static bool queue_usable(const struct virtio_dev *d, unsigned q)
{
	return virtio_live(d) && d->vq[q].ready && !d->vq[q].broken;
}

/* One rx buffer: the mux's next packet, or back to the ring when there is none. */
static bool vsock_rx_one(struct virtio_dev *d, unsigned q, struct vq_req *req)
{
	struct vsock *s = d->priv;
	uint32_t n;

	if (req->write_len < sizeof(struct vsock_hdr)) {
		/* Too small for any packet: give it back empty. */
		s->stats.dropped++;
		vq_push(&d->vq[q], req->head, 0);
		return true;
	}
	n = vsock_mux_rx(s, req);
	if (n == 0) {
		vq_unpop(&d->vq[q]);
		return false;
	}
	vq_push(&d->vq[q], req->head, n);
	return true;
}

/* Move what is pending to the guest; resume tx if it waited for room. */
static void vsock_rx_flush(struct vsock *s)
{
	for (;;) {
		if (!queue_usable(&s->dev, VSOCK_Q_RX))
			return;
		if (vsock_mux_rx_pending(s))
			virtio_drain(&s->dev, VSOCK_Q_RX, &s->rxreq, vsock_rx_one);
		if (!s->tx_stalled || !vsock_mux_can_reply(s))
			return;
		s->tx_stalled = false;
		vsock_tx_drain(s);
	}
}

static bool vsock_tx_one(struct virtio_dev *d, unsigned q, struct vq_req *req)
{
	struct vsock *s = d->priv;
	struct vsock_hdr h;

	if (!vsock_mux_can_reply(s)) {
		vq_unpop(&d->vq[q]);
		s->tx_stalled = true;
		return false;
	}
	if (vq_req_read(req, 0, &h, sizeof(h)) == sizeof(h))
		vsock_mux_tx(s, &h, req);
	else
		s->stats.dropped++;
	vq_push(&d->vq[q], req->head, 0);
	return true;
}

static void vsock_tx_drain(struct vsock *s)
{
	if (queue_usable(&s->dev, VSOCK_Q_TX))
		virtio_drain(&s->dev, VSOCK_Q_TX, &s->txreq, vsock_tx_one);
}

/* Post a pending TRANSPORT_RESET into the next event buffer (§5.10.6.7). */
static void vsock_event_post(struct vsock *s)
{
	struct virtq *q = &s->dev.vq[VSOCK_Q_EVENT];
	const uint32_t id = VSOCK_EVENT_TRANSPORT_RESET;
	int r;

	if (!s->event_pending || !queue_usable(&s->dev, VSOCK_Q_EVENT))
		return;
	r = vq_pop(q, &s->evreq);
	if (r < 0) {
		virtio_fail(&s->dev, "malformed event virtqueue");
		return;
	}
	if (r == 0) {
		vq_set_notify(q, true);
		return;
	}
	s->event_pending = false;
	vq_push(q, s->evreq.head, (uint32_t)vq_req_write(&s->evreq, 0, &id, sizeof(id)));
	virtio_used(&s->dev, VSOCK_Q_EVENT);
}

void vsock_transport_reset(struct vsock *s, bool tell_guest)
{
	vsock_mux_reset(s);
	s->tx_stalled = false;
	s->event_pending = tell_guest;
	if (tell_guest) {
		vsock_event_post(s);
		vsock_tx_drain(s);
		vsock_rx_flush(s);
	}
}

static void vsock_notify(struct virtio_dev *d, unsigned q)
{
	struct vsock *s = d->priv;

	if (q == VSOCK_Q_TX)
		vsock_tx_drain(s);
	else if (q == VSOCK_Q_EVENT)
		vsock_event_post(s);
	vsock_rx_flush(s);
}

/* Device reset: the driver starts over, so every connection ends; nothing to tell it. */
static void vsock_reset(struct virtio_dev *d)
{
	vsock_transport_reset(d->priv, false);
}

/*
 * Snapshot restore: connections are not kept (their host sockets belong to
 * the old process), so the guest is told to drop its side and reread
 * guest_cid (§5.10.6.7), as Firecracker does. The event is posted when the
 * I/O thread serves the event queue's restore-time kick, after the irqchip
 * state is back, so its interrupt is not lost. Nothing of vsock's own is saved.
 */
static int vsock_restore(struct virtio_dev *d, struct snap_cursor *c, struct err *e)
{
	struct vsock *s = d->priv;

	(void)c;
	(void)e;
	vsock_transport_reset(s, false);
	s->event_pending = virtio_live(d);
	return 0;
}

static const struct virtio_ops vsock_ops = {
	.kind = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.nqueues = 3,
	.queue_max = VSOCK_QUEUE_MAX,
	.notify = vsock_notify,
	.reset = vsock_reset,
	.restore = vsock_restore,
};

void vsock_poll(struct vsock *s)
{
	struct epoll_event ev[64];
	int n;

	pthread_mutex_lock(&s->dev.lock);
	n = epoll_wait(s->epfd, ev, 64, 0);
	for (int i = 0; i < n; i++) {
		uint64_t ticks;

		if (ev[i].data.u64 == VSOCK_EV_LISTEN) {
			vsock_mux_accept(s);
		} else if (ev[i].data.u64 == VSOCK_EV_TIMER) {
			if (read(s->timer_fd, &ticks, sizeof(ticks)) == sizeof(ticks))
				vsock_mux_timer(s);
		} else {
			vsock_mux_conn_event(s, ev[i].data.u64, ev[i].events);
		}
	}
	vsock_rx_flush(s);
	pthread_mutex_unlock(&s->dev.lock);
}

static void vsock_io(void *opaque, uint32_t events)
{
	(void)events;
	vsock_poll(opaque);
}

/*
 * An existing file at the socket path: a socket nobody listens on is stale
 * and removed; a live one, or anything else, is an error. 0 or -errno.
 */
static int vsock_clear_stale(const char *path, struct err *e)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errf(e, -errno, "vsock: %s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return errf(e, -EEXIST, "vsock: %s: exists and is not a socket", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errf(e, -errno, "vsock: socket: %s", strerror(errno));
	memcpy(a.sun_path, path, strlen(path));
	r = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : -errno;
	close(fd);
	if (r == 0 || r == -EAGAIN)
		return errf(e, -EADDRINUSE, "vsock: %s: another process listens on it", path);
	if (r != -ECONNREFUSED)
		return errf(e, r, "vsock: %s: %s", path, strerror(-r));
	if (unlink(path) < 0 && errno != ENOENT)
		return errf(e, -errno, "vsock: %s: removing the stale socket: %s", path,
			    strerror(errno));
	log_info("virtio", "virtio-vsock: %s: removed a stale socket", path);
	return 0;
}

static int vsock_listen(struct vsock *s, struct err *e)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t len = strlen(s->uds_path);
	struct stat st;
	int r;

	if (len == 0 || len > VSOCK_UDS_MAX)
		return errf(e, -ENAMETOOLONG, "vsock: uds_path '%s': %zu bytes; 1 to %d allowed, "
			    "so that '<uds_path>_<port>' fits a Unix socket address",
			    s->uds_path, len, VSOCK_UDS_MAX);
	memcpy(a.sun_path, s->uds_path, len);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return errf(e, -errno, "vsock: socket: %s", strerror(errno));
	r = bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a));
	if (r < 0 && errno == EADDRINUSE) {
		r = vsock_clear_stale(s->uds_path, e);
		if (r < 0)
			return r;
		r = bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a));
	}
	if (r < 0)
		return errf(e, -errno, "vsock: %s: %s", s->uds_path, strerror(errno));
	if (stat(s->uds_path, &st) == 0) {
		s->listen_dev = st.st_dev;
		s->listen_ino = st.st_ino;
	}
	if (listen(s->listen_fd, 128) < 0)
		return errf(e, -errno, "vsock: %s: listen: %s", s->uds_path, strerror(errno));
	return 0;
}

static int vsock_watch(struct vsock *s, int fd, uint64_t data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int vsock_setup(struct vsock *s, uint64_t cid, const char *uds_path, struct err *e)
{
	int r;

	s->listen_fd = s->epfd = s->timer_fd = -1;
	s->cid = cid;
	s->config_cid = cid;
	s->uds_path = uds_path;
	s->dev.ops = &vsock_ops;
	s->dev.priv = s;
	snprintf(s->dev.name, sizeof(s->dev.name), "virtio-vsock");
	s->dev.config = (uint8_t *)&s->config_cid;
	s->dev.config_size = sizeof(s->config_cid);
	s->dev.features = VIRTIO_BIT(VIRTIO_VSOCK_F_STREAM);
	vsock_mux_init(s);

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return errf(e, -errno, "vsock: epoll_create1: %s", strerror(errno));
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0)
		return errf(e, -errno, "vsock: timerfd_create: %s", strerror(errno));
	r = vsock_listen(s, e);
	if (r < 0)
		return r;
	r = vsock_watch(s, s->listen_fd, VSOCK_EV_LISTEN);
	if (r == 0)
		r = vsock_watch(s, s->timer_fd, VSOCK_EV_TIMER);
	if (r < 0)
		return errf(e, r, "vsock: epoll_ctl: %s", strerror(-r));
	return 0;
}

void vsock_teardown(struct vsock *s)
{
	struct stat st;

	vsock_mux_reset(s);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		/* Remove the socket file if it is still the one we bound. */
		if (s->listen_ino && stat(s->uds_path, &st) == 0 && st.st_dev == s->listen_dev &&
		    st.st_ino == s->listen_ino)
			unlink(s->uds_path);
	}
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	s->listen_fd = s->timer_fd = s->epfd = -1;
}

struct vsock_state {
	struct vsock *s;
	bool in_loop;
};

static int vsock_init(struct vm *vm, void **state, struct err *e)
{
	const struct vsock_config *c = &vm->cfg->vsock;
	struct vsock_state *st;
	int r;

	if (!c->enabled)
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return errf(e, -ENOMEM, "out of memory");
	*state = st;
	st->s = calloc(1, sizeof(*st->s));
	if (!st->s)
		return errf(e, -ENOMEM, "out of memory");
	r = vsock_setup(st->s, c->cid, c->uds_path, e);
	if (r < 0)
		return r;
	if (loop_add(&vm->loop, st->s->epfd, EPOLLIN, vsock_io, st->s) < 0)
		return errf(e, -ENOMEM, "vsock: cannot watch the connections");
	st->in_loop = true;
	r = virtio_mmio_create(vm, &st->s->dev, e);
	if (r < 0)
		return r;
	log_debug("virtio", "virtio-vsock: guest CID %" PRIu64 ", listening on %s",
		  st->s->cid, c->uds_path);
	return 0;
}

static void vsock_fini(struct vm *vm, void *state)
{
	struct vsock_state *st = state;
	struct vsock *s;

	if (!st)
		return;
	s = st->s;
	if (s) {
		const struct vsock_counters *n = &s->stats;

		if (st->in_loop)
			loop_del(&vm->loop, s->epfd);
		vsock_teardown(s);
		if (s->dev.vm)
			log_info("virtio", "virtio-vsock: connections: %" PRIu64 " from the host, %" PRIu64
				 " from the guest, %" PRIu64 " refused, %" PRIu64 " reset; %" PRIu64
				 " bytes to the guest, %" PRIu64 " from it; %" PRIu64 " packets dropped",
				 n->host_conns, n->guest_conns, n->refused, n->resets,
				 n->bytes_to_guest, n->bytes_from_guest, n->dropped);
		virtio_mmio_destroy(&s->dev);
		free(s);
	}
	free(st);
}

static const struct device_desc vsock_desc = {
	.name = "virtio-vsock",
	.order = DEVICE_ORDER_VIRTIO + 2,
	.init = vsock_init,
	.fini = vsock_fini,
};
DEVICE_DEFINE(vsock_desc);
