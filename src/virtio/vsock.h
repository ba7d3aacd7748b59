/*
 * virtio-vsock (virtio 1.2 §5.10), host side in Firecracker's shape: guest
 * stream sockets meet host AF_UNIX sockets.
 *
 *   host -> guest   a host process connects to the Unix socket (uds_path)
 *                   lodge listens on, writes "CONNECT <port>\n"; lodge sends
 *                   OP_REQUEST to guest port <port> from host CID 2 and a
 *                   local port it picks (from 2^30 up); on OP_RESPONSE it
 *                   writes "OK <local port>\n" and the socket carries the
 *                   stream; on OP_RST (no listener) the host socket closes.
 *   guest -> host   a guest OP_REQUEST to CID 2 port P connects to the Unix
 *                   socket "<uds_path>_<P>"; if that fails the guest gets OP_RST.
 *
 * vsock.c is the device (queues, packet parsing, events, the listening
 * socket, set-up); vsock_mux.c holds the connections (their table, state
 * machine, host socket I/O and credit accounting). Both run under
 * s->dev.lock: the virtqueue kicks and one epoll fd of vsock's own, watched
 * by the I/O loop, are their only entry points (plus reset on a vCPU thread).
 *
 * Connection fds live in that private epoll set, not in the I/O loop
 * itself: connections come and go while the loop is dispatching a batch of
 * events, and a private set lets the mux drop one without leaving the loop
 * a dangling source (events carry a slot and generation that are checked).
 */
#ifndef LODGE_VIRTIO_VSOCK_H
#define LODGE_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "virtio/mmio.h"

/* Queues, §5.10.2. */
#define VSOCK_Q_RX    0
#define VSOCK_Q_TX    1
#define VSOCK_Q_EVENT 2

/* §5.10.3 */
#define VIRTIO_VSOCK_F_STREAM 0

#define VSOCK_HOST_CID 2
#define VSOCK_TYPE_STREAM 1

/* §5.10.6 operations. */
enum {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* §5.10.6.5 SHUTDOWN flags. */
#define VSOCK_SHUT_RCV  1u      /* the sender will receive no more data */
#define VSOCK_SHUT_SEND 2u      /* the sender will send no more data */
#define VSOCK_SHUT_BOTH 3u

/* §5.10.6.7 */
#define VSOCK_EVENT_TRANSPORT_RESET 0

/* Limits. */
#define VSOCK_MAX_CONNS   1024          /* host sockets at once, any state */
#define VSOCK_CONN_BUF    (64 * 1024)   /* buf_alloc we advertise per connection */
#define VSOCK_MAX_PAYLOAD (64 * 1024)   /* largest packet payload either way */
#define VSOCK_RST_RING    64            /* RSTs for unknown flows waiting for rx buffers */
#define VSOCK_LOCAL_PORT_BASE (1u << 30) /* first local port of host-initiated flows */
#define VSOCK_CONNECT_TIMEOUT_MS 2000   /* host-initiated: guest answers the REQUEST */
#define VSOCK_CLOSE_TIMEOUT_MS   2000   /* after our SHUTDOWN both ways: the guest's RST */

/* §5.10.6: the packet header, little-endian (x86's order). */
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

_Static_assert(sizeof(struct vsock_hdr) == 44, "virtio_vsock_hdr is 44 bytes");

struct vsock_conn;

/* An RST for a flow lodge does not know, waiting for an rx buffer. */
struct vsock_rst {
	uint64_t src_cid;               /* the CID the guest addressed (usually 2) */
	uint32_t src_port, dst_port;    /* as sent: src is the side the guest addressed */
};

struct vsock_counters {
	uint64_t host_conns;            /* host-initiated connections established */
	uint64_t guest_conns;           /* guest-initiated connections established */
	uint64_t refused;               /* REQUESTs answered with RST, CONNECTs closed */
	uint64_t resets;                /* connections ended by an RST either way */
	uint64_t bytes_to_guest, bytes_from_guest;
	uint64_t dropped;               /* malformed or misaddressed packets dropped */
};

struct vsock {
	struct virtio_dev dev;
	uint64_t config_cid;            /* the config space: guest_cid, le64 (§5.10.4) */
	uint64_t cid;
	const char *uds_path;
	int listen_fd;
	dev_t listen_dev;               /* the socket file we bound, removed at the end */
	ino_t listen_ino;
	bool listen_paused;             /* out of fds: listener unwatched until one closes */
	int epfd;                       /* private epoll set: listener, timer, connections */
	int timer_fd;                   /* ticks while a connection has a deadline */
	bool tx_stalled;                /* tx processing waits for room to queue an RST */
	bool event_pending;             /* TRANSPORT_RESET waiting for an event buffer */
	struct vq_req txreq, rxreq, evreq;

	/* The mux (vsock_mux.c). */
	struct vsock_conn *slots[VSOCK_MAX_CONNS];
	uint16_t free_slots[VSOCK_MAX_CONNS];
	unsigned nfree;
	uint32_t next_gen;
	struct vsock_conn *hash[VSOCK_MAX_CONNS];
	struct vsock_conn *pend_head, *pend_tail;       /* connections with packets for the guest */
	struct vsock_rst rst[VSOCK_RST_RING];
	unsigned rst_head, rst_count;
	uint32_t next_local_port;
	unsigned ndeadlines;
	struct iovec iov[VQ_MAX_SEGS];  /* scratch for one transfer */
	struct vsock_counters stats;
};

/* epoll data of the listener and the timer; connections use (gen << 32 | slot). */
#define VSOCK_EV_LISTEN UINT64_MAX
#define VSOCK_EV_TIMER  (UINT64_MAX - 1)

/* --- vsock_mux.c --- */

/* Parse a host's "CONNECT <port>" line (without its '\n') into (port); 0 or -EINVAL. */
int vsock_parse_connect(const char *line, uint32_t *port);

/* Empty connection table; (s->cid) set. */
void vsock_mux_init(struct vsock *s);

/* Close every connection (their host sockets) and forget queued RSTs. */
void vsock_mux_reset(struct vsock *s);

/*
 * One packet (h) from the guest's tx queue, (req) the chain holding it (the
 * payload follows the header). Answers go to the rx side as pending packets.
 */
void vsock_mux_tx(struct vsock *s, const struct vsock_hdr *h, const struct vq_req *req);

/* Room for one more RST to an unknown flow (tx processing may go on)? */
bool vsock_mux_can_reply(const struct vsock *s);

/* Does any packet wait for an rx buffer? */
bool vsock_mux_rx_pending(const struct vsock *s);

/*
 * Fill the device-writable rx buffer (req) with the next packet for the
 * guest. Returns the bytes written (header + payload), or 0 when nothing
 * was ready (the buffer is untouched).
 */
uint32_t vsock_mux_rx(struct vsock *s, const struct vq_req *req);

/* The listening socket is readable: accept host connections. */
void vsock_mux_accept(struct vsock *s);

/* An event (events) on the connection socket registered with (data). */
void vsock_mux_conn_event(struct vsock *s, uint64_t data, uint32_t events);

/* The timer ticked: expire connections past their deadline. */
void vsock_mux_timer(struct vsock *s);

/* --- vsock.c --- */

/* Longest uds_path: "<uds_path>_<port>" must fit a sockaddr_un. */
#define VSOCK_UDS_MAX 96

/*
 * Everything but the transport: the config space, the listening socket at
 * (uds_path) (a stale socket file is replaced, a live one is an error), the
 * private epoll set and timer, the empty mux. 0 or -errno with (e) filled.
 */
int vsock_setup(struct vsock *s, uint64_t cid, const char *uds_path, struct err *e);

/* Undo vsock_setup (connections closed, the socket file removed if still ours). */
void vsock_teardown(struct vsock *s);

/*
 * Serve the private epoll set once (lock taken here): host sockets, the
 * listener, the timer; then move what became ready to the guest.
 */
void vsock_poll(struct vsock *s);

/*
 * Drop every connection and, when (tell_guest) and the driver is live, post
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (§5.10.6.7) so the guest drops its side
 * and rereads guest_cid (after a snapshot restore). Lock held.
 */
void vsock_transport_reset(struct vsock *s, bool tell_guest);

#endif
