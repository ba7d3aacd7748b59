/*
 * virtio-vsock connections: the table, each one's state machine, its host
 * AF_UNIX socket and the credit accounting of virtio 1.2 §5.10.6.3. See
 * vsock.h for the host-side protocol. Everything here runs with the
 * device's lock held.
 *
 * A connection's life:
 *   CMD      host-accepted socket, reading "CONNECT <port>\n"
 *   REQUEST  host-initiated, our OP_REQUEST queued or sent, waiting for the
 *            guest's RESPONSE (or RST) for VSOCK_CONNECT_TIMEOUT_MS
 *   EST      established: bytes both ways, SHUTDOWN flags collected
 *   DEAD     host socket closed, an RST for the guest waits for an rx buffer
 *
 * Flow control, guest -> host: we advertise buf_alloc = VSOCK_CONN_BUF and
 * count in fwd_cnt the bytes written to the host socket; what the socket
 * does not take at once is kept in a per-connection ring of that size, so a
 * guest that honours its credit never overruns it (one that does not is
 * reset). Host -> guest: we read from the host socket only as much as the
 * guest's credit (peer buf_alloc - (tx_cnt - peer fwd_cnt)) and the rx
 * buffer allow, straight into the rx buffer; nothing is buffered here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/vsock.h"

enum conn_state { CONN_CMD, CONN_REQUEST, CONN_EST, CONN_DEAD };

/* Control packets waiting for an rx buffer. */
#define CTRL_REQUEST  1u
#define CTRL_RESPONSE 2u
#define CTRL_SHUTDOWN 4u
#define CTRL_CREDIT   8u

#define HDR_LEN ((uint32_t)sizeof(struct vsock_hdr))

struct vsock_conn {
	uint32_t slot, gen;
	enum conn_state state;
	int fd;                         /* host socket, -1 once closed */
	bool registered;                /* fd in the private epoll set */
	uint32_t events;                /* interest registered */
	uint32_t host_port, guest_port; /* the flow; in the hash once known */
	bool in_hash;
	struct vsock_conn *hnext;
	struct vsock_conn *pnext, *pprev;
	bool queued;                    /* on the pending list */
	unsigned ctrl;
	uint64_t deadline;              /* CLOCK_MONOTONIC ns; 0: none */

	bool rx_ready;                  /* the host socket may have data or EOF to read */
	bool host_eof;                  /* read EOF: the host sends no more */
	bool host_gone;                 /* the host takes no more data */
	bool host_wr_shut;              /* we passed the guest's EOF on (shutdown SHUT_WR) */
	uint8_t guest_shut;             /* SHUTDOWN flags the guest sent */
	uint8_t shut_want, shut_sent;   /* SHUTDOWN flags for the guest: to send, sent */

	/* guest -> host */
	uint32_t rx_cnt;                /* payload bytes taken from the guest */
	uint32_t fwd_cnt;               /* ... written to the host socket (or dropped) */
	uint32_t fwd_told;              /* fwd_cnt as the guest last heard it */
	uint8_t *buf;                   /* VSOCK_CONN_BUF ring, only while not empty */
	uint32_t buf_off, buf_len;

	/* host -> guest */
	uint32_t tx_cnt;
	uint32_t peer_buf_alloc, peer_fwd_cnt;

	char line[32];                  /* the CONNECT line so far */
	unsigned line_len;
};

static void conn_reset(struct vsock *s, struct vsock_conn *c);
static void conn_read_connect(struct vsock *s, struct vsock_conn *c);

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int vsock_parse_connect(const char *line, uint32_t *port)
{
	uint64_t v = 0;
	unsigned digits = 0;

	if (strncmp(line, "CONNECT ", 8) != 0)
		return -EINVAL;
	line += 8;
	while (*line == ' ')
		line++;
	for (; *line >= '0' && *line <= '9'; line++) {
		v = v * 10 + (uint64_t)(*line - '0');
		if (++digits > 10 || v > UINT32_MAX)
			return -EINVAL;
	}
	while (*line == ' ' || *line == '\r')
		line++;
	if (digits == 0 || *line)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}

/* --- the table: slots (epoll identities), the flow hash, the pending list --- */

void vsock_mux_init(struct vsock *s)
{
	s->nfree = VSOCK_MAX_CONNS;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		s->free_slots[i] = (uint16_t)(VSOCK_MAX_CONNS - 1 - i);
	s->next_gen = 1;
	s->next_local_port = VSOCK_LOCAL_PORT_BASE;
}

static unsigned flow_hash(uint32_t host_port, uint32_t guest_port)
{
	return ((host_port * 2654435761u) ^ (guest_port * 40503u)) % VSOCK_MAX_CONNS;
}

static struct vsock_conn *conn_find(const struct vsock *s, uint32_t host_port, uint32_t guest_port)
{
	for (struct vsock_conn *c = s->hash[flow_hash(host_port, guest_port)]; c; c = c->hnext)
		if (c->host_port == host_port && c->guest_port == guest_port)
			return c;
	return NULL;
}

static void hash_add(struct vsock *s, struct vsock_conn *c)
{
	unsigned h = flow_hash(c->host_port, c->guest_port);

	c->hnext = s->hash[h];
	s->hash[h] = c;
	c->in_hash = true;
}

static void hash_del(struct vsock *s, struct vsock_conn *c)
{
	if (!c->in_hash)
		return;
	for (struct vsock_conn **p = &s->hash[flow_hash(c->host_port, c->guest_port)]; *p;
	     p = &(*p)->hnext) {
		if (*p == c) {
			*p = c->hnext;
			break;
		}
	}
	c->in_hash = false;
}

static void pend_add(struct vsock *s, struct vsock_conn *c)
{
	c->pnext = NULL;
	c->pprev = s->pend_tail;
	if (s->pend_tail)
		s->pend_tail->pnext = c;
	else
		s->pend_head = c;
	s->pend_tail = c;
	c->queued = true;
}

static void pend_del(struct vsock *s, struct vsock_conn *c)
{
	if (!c->queued)
		return;
	if (c->pprev)
		c->pprev->pnext = c->pnext;
	else
		s->pend_head = c->pnext;
	if (c->pnext)
		c->pnext->pprev = c->pprev;
	else
		s->pend_tail = c->pprev;
	c->pnext = c->pprev = NULL;
	c->queued = false;
}

/* The guest's free receive space for this flow (§5.10.6.3), 0 if its numbers do not add up. */
static uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool conn_can_send_data(const struct vsock_conn *c)
{
	return c->state == CONN_EST && c->rx_ready && !(c->guest_shut & VSOCK_SHUT_RCV) &&
	       !(c->shut_sent & VSOCK_SHUT_SEND) && peer_credit(c) > 0;
}

static bool conn_wants_rx(const struct vsock_conn *c)
{
	switch (c->state) {
	case CONN_DEAD: return true;
	case CONN_REQUEST: return c->ctrl & CTRL_REQUEST;
	case CONN_EST: return c->ctrl || conn_can_send_data(c);
	default: return false;
	}
}

/* Put (c) on the pending list if it has something for the guest. */
static void conn_kick(struct vsock *s, struct vsock_conn *c)
{
	if (!c->queued && conn_wants_rx(c))
		pend_add(s, c);
}

bool vsock_mux_rx_pending(const struct vsock *s)
{
	return s->rst_count > 0 || s->pend_head != NULL;
}

bool vsock_mux_can_reply(const struct vsock *s)
{
	return s->rst_count < VSOCK_RST_RING;
}

/* --- deadlines: one timerfd ticks while any connection has one --- */

static void timer_arm(struct vsock *s, bool on)
{
	struct itimerspec t = { 0 };

	if (s->timer_fd < 0)
		return;
	if (on) {
		t.it_value.tv_nsec = 200 * 1000000l;
		t.it_interval.tv_nsec = 200 * 1000000l;
	}
	timerfd_settime(s->timer_fd, 0, &t, NULL);
}

static void conn_set_deadline(struct vsock *s, struct vsock_conn *c, unsigned ms)
{
	if (!c->deadline && s->ndeadlines++ == 0)
		timer_arm(s, true);
	c->deadline = now_ns() + (uint64_t)ms * 1000000ull;
}

static void conn_clear_deadline(struct vsock *s, struct vsock_conn *c)
{
	if (!c->deadline)
		return;
	c->deadline = 0;
	if (--s->ndeadlines == 0)
		timer_arm(s, false);
}

/* --- host sockets --- */

static uint64_t conn_ev_data(const struct vsock_conn *c)
{
	return (uint64_t)c->gen << 32 | c->slot;
}

/* Register what (c) should be woken for, given its state. */
static void conn_set_events(struct vsock *s, struct vsock_conn *c)
{
	uint32_t want = 0;
	struct epoll_event ev;

	if (!c->registered)
		return;
	if (c->state == CONN_CMD) {
		want = EPOLLIN;
	} else if (c->state == CONN_EST) {
		if (!c->rx_ready && !c->host_eof)
			want |= EPOLLIN;
		if (c->buf_len)
			want |= EPOLLOUT;
	}
	if (want == c->events)
		return;
	ev.events = want;
	ev.data.u64 = conn_ev_data(c);
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

/*
 * Stop watching (c)'s socket: a hangup is reported whatever the interest,
 * so a socket that hung up would wake the loop forever.
 */
static void conn_unwatch(struct vsock *s, struct vsock_conn *c)
{
	if (c->registered)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->registered = false;
}

static void conn_close_fd(struct vsock *s, struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	conn_unwatch(s, c);
	close(c->fd);
	c->fd = -1;
}

static void conn_drop_buf(struct vsock_conn *c)
{
	free(c->buf);
	c->buf = NULL;
	c->buf_off = c->buf_len = 0;
}

static void listener_resume(struct vsock *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = VSOCK_EV_LISTEN };

	if (s->listen_paused && epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listen_fd, &ev) == 0)
		s->listen_paused = false;
}

static struct vsock_conn *conn_new(struct vsock *s, int fd, enum conn_state state)
{
	struct vsock_conn *c;
	struct epoll_event ev;

	if (s->nfree == 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->slot = s->free_slots[s->nfree - 1];
	c->gen = s->next_gen++;
	c->fd = fd;
	c->state = state;
	c->events = state == CONN_EST || state == CONN_CMD ? EPOLLIN : 0;
	ev.events = c->events;
	ev.data.u64 = conn_ev_data(c);
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c);
		return NULL;
	}
	c->registered = true;
	s->nfree--;
	s->slots[c->slot] = c;
	return c;
}

/* Forget (c) entirely: the guest will not hear of it again. */
static void conn_free(struct vsock *s, struct vsock_conn *c)
{
	conn_clear_deadline(s, c);
	pend_del(s, c);
	hash_del(s, c);
	conn_close_fd(s, c);
	conn_drop_buf(c);
	s->slots[c->slot] = NULL;
	s->free_slots[s->nfree++] = (uint16_t)c->slot;
	free(c);
	listener_resume(s);
}

/*
 * End (c) with an RST to the guest (unless the guest never heard of it):
 * the host socket closes now, the RST goes out with the next rx buffer.
 */
static void conn_end(struct vsock *s, struct vsock_conn *c)
{
	if (c->state == CONN_DEAD)
		return;
	if (c->state == CONN_CMD || (c->state == CONN_REQUEST && (c->ctrl & CTRL_REQUEST))) {
		conn_free(s, c);
		return;
	}
	conn_clear_deadline(s, c);
	conn_close_fd(s, c);
	conn_drop_buf(c);
	c->state = CONN_DEAD;
	c->ctrl = 0;
	conn_kick(s, c);
}

/* A forced end: a protocol violation, a host socket error, a timeout. */
static void conn_reset(struct vsock *s, struct vsock_conn *c)
{
	s->stats.resets++;
	conn_end(s, c);
}

/*
 * After any change of an established connection: pass EOFs on, collect the
 * SHUTDOWN flags the guest must hear, and end the connection once both
 * sides are done (§5.10.6.5: SHUTDOWN both ways, answered by an RST).
 */
static void conn_progress(struct vsock *s, struct vsock_conn *c)
{
	uint8_t want;

	if (c->state != CONN_EST)
		return;
	if ((c->guest_shut & VSOCK_SHUT_SEND) && c->buf_len == 0 && !c->host_wr_shut &&
	    !c->host_gone) {
		shutdown(c->fd, SHUT_WR);
		c->host_wr_shut = true;
	}
	if (c->guest_shut == VSOCK_SHUT_BOTH && c->buf_len == 0) {
		conn_end(s, c);
		return;
	}
	want = c->shut_want;
	if (c->host_eof)
		want |= VSOCK_SHUT_SEND;
	if (c->host_gone)
		want |= VSOCK_SHUT_RCV;
	if (want != c->shut_want) {
		c->shut_want = want;
		c->ctrl |= CTRL_SHUTDOWN;
		if (want == VSOCK_SHUT_BOTH)
			conn_set_deadline(s, c, VSOCK_CLOSE_TIMEOUT_MS);
	}
	conn_kick(s, c);
	conn_set_events(s, c);
}

/* The host socket takes no more data: what was buffered for it is dropped. */
static void conn_host_gone(struct vsock *s, struct vsock_conn *c)
{
	c->host_gone = true;
	conn_drop_buf(c);
	conn_progress(s, c);
}

/* Tell the guest about freed space once a quarter of the buffer was forwarded. */
static void conn_credit_check(struct vsock *s, struct vsock_conn *c)
{
	if (c->fwd_cnt - c->fwd_told >= VSOCK_CONN_BUF / 4) {
		c->ctrl |= CTRL_CREDIT;
		conn_kick(s, c);
	}
}

/* Write the ring out to the host socket as far as it takes it. */
static void conn_flush(struct vsock *s, struct vsock_conn *c)
{
	while (c->buf_len > 0) {
		uint32_t first = VSOCK_CONN_BUF - c->buf_off;
		struct iovec v[2] = {
			{ c->buf + c->buf_off, first < c->buf_len ? first : c->buf_len },
			{ c->buf, first < c->buf_len ? c->buf_len - first : 0 },
		};
		struct msghdr m = { .msg_iov = v, .msg_iovlen = v[1].iov_len ? 2 : 1 };
		ssize_t r = sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) {
			conn_host_gone(s, c);
			return;
		}
		c->buf_off = (c->buf_off + (uint32_t)r) % VSOCK_CONN_BUF;
		c->buf_len -= (uint32_t)r;
		c->fwd_cnt += (uint32_t)r;
	}
	if (c->buf_len == 0)
		conn_drop_buf(c);
	conn_credit_check(s, c);
	conn_progress(s, c);
}

/* OP_RW from the guest: (len) payload bytes after the header of (req). */
static void conn_write(struct vsock *s, struct vsock_conn *c, const struct vq_req *req,
		       uint32_t len)
{
	uint32_t done = 0;

	if (len == 0)
		return;
	if (c->buf_len + len > VSOCK_CONN_BUF) {
		log_debug("virtio", "virtio-vsock: port %" PRIu32 " -> %" PRIu32
			  ": the guest sent beyond its credit", c->guest_port, c->host_port);
		conn_reset(s, c);
		return;
	}
	c->rx_cnt += len;
	s->stats.bytes_from_guest += len;
	if (c->host_gone || c->host_wr_shut) {
		c->fwd_cnt += len;              /* discarded: the guest was told to stop */
		return;
	}
	if (c->buf_len == 0) {
		int n = vq_req_iov(req, false, HDR_LEN, len, s->iov, VQ_MAX_SEGS);
		struct msghdr m = { .msg_iov = s->iov, .msg_iovlen = n > 0 ? (size_t)n : 0 };
		ssize_t r;

		if (n < 0) {
			conn_reset(s, c);
			return;
		}
		do
			r = sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (r < 0 && errno == EINTR);
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			c->fwd_cnt += len;
			conn_host_gone(s, c);
			return;
		}
		done = r > 0 ? (uint32_t)r : 0;
		c->fwd_cnt += done;
	}
	if (done < len) {
		uint32_t left = len - done, at, first;

		if (!c->buf && !(c->buf = malloc(VSOCK_CONN_BUF))) {
			conn_reset(s, c);
			return;
		}
		at = (c->buf_off + c->buf_len) % VSOCK_CONN_BUF;
		first = VSOCK_CONN_BUF - at < left ? VSOCK_CONN_BUF - at : left;
		vq_req_read(req, HDR_LEN + done, c->buf + at, first);
		vq_req_read(req, HDR_LEN + done + first, c->buf, left - first);
		c->buf_len += left;
	}
	conn_credit_check(s, c);
	conn_set_events(s, c);
}

/* --- packets for the guest --- */

static uint32_t put_hdr(struct vsock *s, struct vsock_conn *c, const struct vq_req *req,
			uint16_t op, uint32_t flags, uint32_t len)
{
	struct vsock_hdr h = {
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = s->cid,
		.src_port = c->host_port,
		.dst_port = c->guest_port,
		.len = len,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
		.flags = flags,
		.buf_alloc = VSOCK_CONN_BUF,
		.fwd_cnt = c->fwd_cnt,
	};

	vq_req_write(req, 0, &h, sizeof(h));
	/* Every packet carries our credit (§5.10.6.3): no separate update needed. */
	c->fwd_told = c->fwd_cnt;
	c->ctrl &= ~CTRL_CREDIT;
	return HDR_LEN + len;
}

/*
 * Read host bytes for the guest into (req) after the header, as many as the
 * buffer, the guest's credit and VSOCK_MAX_PAYLOAD allow. Returns the count
 * (0: nothing now; EOF and errors change (c)'s state).
 */
static uint32_t conn_read(struct vsock *s, struct vsock_conn *c, const struct vq_req *req)
{
	uint64_t cap = req->write_len - HDR_LEN;
	uint32_t credit = peer_credit(c);
	ssize_t r;
	int n;

	if (cap > credit)
		cap = credit;
	if (cap > VSOCK_MAX_PAYLOAD)
		cap = VSOCK_MAX_PAYLOAD;
	if (cap == 0)
		return 0;
	n = vq_req_iov(req, true, HDR_LEN, cap, s->iov, VQ_MAX_SEGS);
	if (n <= 0)
		return 0;
	do
		r = readv(c->fd, s->iov, n);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		return (uint32_t)r;
	c->rx_ready = false;
	if (r == 0) {
		c->host_eof = true;
		conn_progress(s, c);
	} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
		conn_set_events(s, c);
	} else {
		conn_reset(s, c);
	}
	return 0;
}

/* The next packet of (c) into (req); 0 when it has none that fits. (c) may be freed. */
static uint32_t conn_rx(struct vsock *s, struct vsock_conn *c, const struct vq_req *req)
{
	uint32_t n;

	if (c->state != CONN_DEAD && (c->ctrl & (CTRL_REQUEST | CTRL_RESPONSE))) {
		bool request = c->ctrl & CTRL_REQUEST;

		c->ctrl &= ~(CTRL_REQUEST | CTRL_RESPONSE);
		n = put_hdr(s, c, req, request ? VSOCK_OP_REQUEST : VSOCK_OP_RESPONSE, 0, 0);
		conn_kick(s, c);
		return n;
	}
	if (conn_can_send_data(c)) {
		uint32_t got = conn_read(s, c, req);

		if (got > 0) {
			c->tx_cnt += got;
			s->stats.bytes_to_guest += got;
			n = put_hdr(s, c, req, VSOCK_OP_RW, 0, got);
			conn_kick(s, c);
			return n;
		}
	}
	if (c->state == CONN_DEAD) {
		n = put_hdr(s, c, req, VSOCK_OP_RST, 0, 0);
		conn_free(s, c);
		return n;
	}
	if (c->ctrl & (CTRL_SHUTDOWN | CTRL_CREDIT)) {
		bool shut = c->ctrl & CTRL_SHUTDOWN;

		c->ctrl &= ~CTRL_SHUTDOWN;
		c->shut_sent = c->shut_want;
		n = put_hdr(s, c, req, shut ? VSOCK_OP_SHUTDOWN : VSOCK_OP_CREDIT_UPDATE,
			    shut ? c->shut_want : 0, 0);
		conn_kick(s, c);
		return n;
	}
	return 0;
}

uint32_t vsock_mux_rx(struct vsock *s, const struct vq_req *req)
{
	struct vsock_conn *c, *last = s->pend_tail;

	if (s->rst_count > 0) {
		const struct vsock_rst *r = &s->rst[s->rst_head];
		struct vsock_hdr h = {
			.src_cid = r->src_cid,
			.dst_cid = s->cid,
			.src_port = r->src_port,
			.dst_port = r->dst_port,
			.type = VSOCK_TYPE_STREAM,
			.op = VSOCK_OP_RST,
		};

		s->rst_head = (s->rst_head + 1) % VSOCK_RST_RING;
		s->rst_count--;
		vq_req_write(req, 0, &h, sizeof(h));
		return HDR_LEN;
	}
	/* One pass over the list: connections whose packet did not fit go back at the end. */
	while ((c = s->pend_head)) {
		bool end = c == last;
		uint32_t n;

		pend_del(s, c);
		n = conn_rx(s, c, req);
		if (n)
			return n;
		conn_kick(s, c);
		if (end)
			break;
	}
	return 0;
}

/* An RST for a packet (h) of a flow lodge does not know (room checked by the caller). */
static void rst_reply(struct vsock *s, const struct vsock_hdr *h)
{
	struct vsock_rst *r;

	if (h->op == VSOCK_OP_RST || s->rst_count == VSOCK_RST_RING)
		return;
	r = &s->rst[(s->rst_head + s->rst_count++) % VSOCK_RST_RING];
	r->src_cid = h->dst_cid;
	r->src_port = h->dst_port;
	r->dst_port = h->src_port;
}

/* --- packets from the guest --- */

/* OP_REQUEST to CID 2 port P: connect to "<uds_path>_<P>"; RESPONSE, or RST when that fails. */
static void guest_connect(struct vsock *s, const struct vsock_hdr *h)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd, n;

	n = snprintf(a.sun_path, sizeof(a.sun_path), "%s_%" PRIu32, s->uds_path, h->dst_port);
	if (s->nfree == 0 || n < 0 || (size_t)n >= sizeof(a.sun_path)) {
		s->stats.refused++;
		rst_reply(s, h);
		return;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		log_debug("virtio", "virtio-vsock: guest port %" PRIu32 " -> %s: %s", h->src_port,
			  a.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		s->stats.refused++;
		rst_reply(s, h);
		return;
	}
	c = conn_new(s, fd, CONN_EST);
	if (!c) {
		close(fd);
		s->stats.refused++;
		rst_reply(s, h);
		return;
	}
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	hash_add(s, c);
	c->ctrl = CTRL_RESPONSE;
	s->stats.guest_conns++;
	conn_kick(s, c);
}

/* The guest accepted our REQUEST: tell the host process "OK <local port>\n". */
static void host_established(struct vsock *s, struct vsock_conn *c)
{
	char ok[24];
	int n = snprintf(ok, sizeof(ok), "OK %" PRIu32 "\n", c->host_port);

	conn_clear_deadline(s, c);
	c->state = CONN_EST;
	if (send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
		conn_reset(s, c);
		return;
	}
	s->stats.host_conns++;
	conn_set_events(s, c);
	conn_kick(s, c);
}

/* A packet for a known flow (c); (payload) bytes follow the header in (req). */
static void conn_packet(struct vsock *s, struct vsock_conn *c, const struct vsock_hdr *h,
			const struct vq_req *req)
{
	if (c->state == CONN_DEAD) {
		/* Our RST is on its way; the guest's own ends it at once. */
		if (h->op == VSOCK_OP_RST)
			conn_free(s, c);
		return;
	}
	/* §5.10.6.3: every packet of a flow carries the sender's credit. */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VSOCK_OP_RST:
		/* To our REQUEST: nobody listens on that guest port. To our
		 * SHUTDOWN both ways: the clean end (§5.10.6.5). */
		if (c->state == CONN_REQUEST)
			s->stats.refused++;
		else if (c->shut_sent != VSOCK_SHUT_BOTH)
			s->stats.resets++;
		conn_free(s, c);
		return;
	case VSOCK_OP_RESPONSE:
		if (c->state == CONN_REQUEST && !(c->ctrl & CTRL_REQUEST))
			host_established(s, c);
		else
			conn_reset(s, c);
		return;
	case VSOCK_OP_SHUTDOWN:
		if (c->state != CONN_EST) {
			conn_reset(s, c);
			return;
		}
		c->guest_shut |= (uint8_t)(h->flags & VSOCK_SHUT_BOTH);
		conn_progress(s, c);
		return;
	case VSOCK_OP_RW:
		if (c->state != CONN_EST || (c->guest_shut & VSOCK_SHUT_SEND)) {
			conn_reset(s, c);
			return;
		}
		conn_write(s, c, req, h->len);
		if (c->state == CONN_EST)
			conn_kick(s, c);
		return;
	case VSOCK_OP_CREDIT_REQUEST:
		c->ctrl |= CTRL_CREDIT;
		conn_kick(s, c);
		return;
	case VSOCK_OP_CREDIT_UPDATE:
		conn_kick(s, c);
		return;
	default:                /* a second REQUEST, INVALID, unknown ops */
		conn_reset(s, c);
		return;
	}
}

void vsock_mux_tx(struct vsock *s, const struct vsock_hdr *h, const struct vq_req *req)
{
	uint64_t payload = req->read_len - HDR_LEN;
	struct vsock_conn *c;

	/* §5.10.6.4: the guest sends from guest_cid; anything else is not ours to answer. */
	if (h->src_cid != s->cid) {
		s->stats.dropped++;
		return;
	}
	c = h->dst_cid == VSOCK_HOST_CID ? conn_find(s, h->dst_port, h->src_port) : NULL;
	if (h->dst_cid != VSOCK_HOST_CID || h->type != VSOCK_TYPE_STREAM ||
	    h->len > payload || h->len > VSOCK_MAX_PAYLOAD) {
		/* §5.10.6.4: an unknown type gets an RST; so do bad lengths and other CIDs. */
		s->stats.dropped++;
		if (c)
			conn_reset(s, c);
		else
			rst_reply(s, h);
		return;
	}
	if (c)
		conn_packet(s, c, h, req);
	else if (h->op == VSOCK_OP_REQUEST)
		guest_connect(s, h);
	else
		rst_reply(s, h);
}

/* --- host side: the listener, connection sockets, the timer --- */

void vsock_mux_accept(struct vsock *s)
{
	struct vsock_conn *c;

	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			struct epoll_event ev = { .events = 0, .data.u64 = VSOCK_EV_LISTEN };

			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* Out of fds or memory: wait for a connection to close. */
			log_warn("virtio", "virtio-vsock: %s: accept: %s", s->uds_path, strerror(errno));
			if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listen_fd, &ev) == 0)
				s->listen_paused = true;
			return;
		}
		c = conn_new(s, fd, CONN_CMD);
		if (!c) {
			/* At the limit: the host process sees its socket close. */
			s->stats.refused++;
			close(fd);
			continue;
		}
		/* The CONNECT line is often there already. */
		conn_read_connect(s, c);
	}
}

/* A free local port for a flow to guest port (guest_port). */
static uint32_t local_port(struct vsock *s, uint32_t guest_port)
{
	for (;;) {
		uint32_t p = s->next_local_port++;

		if (s->next_local_port == 0)
			s->next_local_port = VSOCK_LOCAL_PORT_BASE;
		if (!conn_find(s, p, guest_port))
			return p;
	}
}

/* CMD state: read the "CONNECT <port>\n" line byte by byte (what follows it is the stream's). */
static void conn_read_connect(struct vsock *s, struct vsock_conn *c)
{
	uint32_t port;

	for (;;) {
		char ch;
		ssize_t r = read(c->fd, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			conn_free(s, c);
			return;
		}
		if (ch == '\n')
			break;
		if (c->line_len == sizeof(c->line) - 1) {
			c->line_len = 0;
			break;
		}
		c->line[c->line_len++] = ch;
	}
	c->line[c->line_len] = 0;
	if (vsock_parse_connect(c->line, &port) < 0) {
		log_debug("virtio", "virtio-vsock: %s: not a CONNECT line", s->uds_path);
		s->stats.refused++;
		conn_free(s, c);
		return;
	}
	c->guest_port = port;
	c->host_port = local_port(s, port);
	hash_add(s, c);
	c->state = CONN_REQUEST;
	c->ctrl = CTRL_REQUEST;
	conn_set_deadline(s, c, VSOCK_CONNECT_TIMEOUT_MS);
	conn_set_events(s, c);
	conn_kick(s, c);
}

void vsock_mux_conn_event(struct vsock *s, uint64_t data, uint32_t events)
{
	uint32_t slot = (uint32_t)data;
	struct vsock_conn *c = slot < VSOCK_MAX_CONNS ? s->slots[slot] : NULL;

	/* The connection may have ended, its slot reused, since the event was queued. */
	if (!c || c->gen != (uint32_t)(data >> 32) || !c->registered)
		return;
	switch (c->state) {
	case CONN_CMD:
		conn_read_connect(s, c);
		return;
	case CONN_REQUEST:
		if (events & (EPOLLHUP | EPOLLERR))
			conn_reset(s, c);       /* the host process gave up waiting */
		return;
	case CONN_EST:
		break;
	default:
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* Read what is left (to EOF or the error); nothing more can be written. */
		conn_unwatch(s, c);
		c->rx_ready = true;
		conn_host_gone(s, c);
		return;
	}
	if (events & EPOLLIN) {
		c->rx_ready = true;
		conn_kick(s, c);
	}
	if (events & EPOLLOUT)
		conn_flush(s, c);
	if (c->state == CONN_EST)
		conn_set_events(s, c);
}

void vsock_mux_timer(struct vsock *s)
{
	uint64_t now = now_ns();

	for (unsigned i = 0; i < VSOCK_MAX_CONNS && s->ndeadlines > 0; i++) {
		struct vsock_conn *c = s->slots[i];

		if (!c || !c->deadline || c->deadline > now)
			continue;
		conn_clear_deadline(s, c);
		if (c->state == CONN_REQUEST) {
			log_debug("virtio", "virtio-vsock: guest port %" PRIu32
				  ": no answer to the host's connection", c->guest_port);
			s->stats.refused++;
		}
		conn_reset(s, c);
	}
}

void vsock_mux_reset(struct vsock *s)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (s->slots[i])
			conn_free(s, s->slots[i]);
	s->rst_head = s->rst_count = 0;
}
