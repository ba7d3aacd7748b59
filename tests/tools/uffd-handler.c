/*
 * uffd-handler: an external page-fault handler for snapshot restore with
 * a userfaultfd memory backend, speaking Firecracker's protocol (PUT
 * /snapshot/load, "mem_backend": {"backend_type": "Uffd", "backend_path":
 * SOCKET}; Firecracker's docs/snapshotting/handling-page-faults-on-
 * snapshot-resume.md):
 *
 *   usage: uffd-handler SOCKET MEMFILE
 *
 * 1. Listens on the Unix stream socket SOCKET. The path appears only once
 *    the socket listens (bound under a temporary name, then renamed), so a
 *    caller may wait for the path to exist and then start the VMM.
 * 2. Accepts one connection (then removes the path) and receives one
 *    message within 10 s: a JSON array of regions
 *        [{"base_host_virt_addr": A, "size": S, "offset": O, "page_size": P}, ...]
 *    (P in bytes; "page_size_kib" instead of "page_size" is accepted: a
 *    value >= 4096 is bytes, as Firecracker sends it despite the name, a
 *    smaller one KiB) with the userfaultfd attached as SCM_RIGHTS. The
 *    bytes of region i are at offset O in MEMFILE; the VMM has registered
 *    [A, A + S) with the userfaultfd (missing mode).
 * 3. Serves UFFD_EVENT_PAGEFAULT with UFFDIO_COPY of the page from MEMFILE
 *    (mapped privately, read-only). UFFD_EVENT_REMOVE (madvise(DONTNEED),
 *    e.g. the balloon) and UFFD_EVENT_UNMAP mark their pages removed: a
 *    later fault there gets a zero page (UFFDIO_ZEROPAGE; a copy of zeros
 *    for huge pages), never the file's old contents.
 * 4. Ends when the VMM closes its end of the connection (as Firecracker,
 *    the VMM keeps it open while it needs pages, and its exit closes it),
 *    when the userfaultfd reports an error, or on SIGTERM/SIGINT. Prints
 *    "uffd-handler: served N pages (C from the file, Z zero), F faults,
 *    R removed ranges" on stderr.
 *
 * Exit status: 0 after the VMM hung up or a signal; 1 on an error (bad
 * message, a fault outside every region, a failed ioctl); 2 bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REGIONS     64
#define MAX_MSG_BYTES   (1u << 20)
#define MSG_TIMEOUT_MS  10000
#define MIN_PAGE        4096ULL
#define MAX_PAGE        (1ULL << 30)

struct region {
	uint64_t base, size, offset, page_size;
	uint8_t *removed;               /* one bit per page, allocated at the first removal */
};

struct handler {
	int uffd, sock;
	const char *mem_path;
	const uint8_t *file;
	uint64_t file_size;
	struct region reg[MAX_REGIONS];
	unsigned nreg;
	uint8_t *zeros;                 /* one page of the largest size, for huge-page zero fills */
	uint64_t *pending;              /* fault addresses not served yet (UFFDIO_* said EAGAIN) */
	size_t npending, cap;
	unsigned long long copied, zeroed, faults, removes;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "uffd-handler: <message>" and return -1. */
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("uffd-handler: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* Listen on (path), which appears only once it listens; returns the fd or -1. */
static int listen_at(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, n;

	n = snprintf(a.sun_path, sizeof(a.sun_path), "%s.%d.tmp", path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(a.sun_path))
		return fail("%s: socket path too long", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("socket: %s", strerror(errno));
	unlink(a.sun_path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
	    rename(a.sun_path, path) < 0) {
		fail("%s: cannot listen: %s", path, strerror(errno));
		unlink(a.sun_path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Keep the first SCM_RIGHTS fd of (m) in (*fd) (if none yet); close any others. */
static void take_fds(struct msghdr *m, int *fd)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		size_t n;
		int *fds;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			if (*fd < 0)
				*fd = fds[i];
			else
				close(fds[i]);
		}
	}
}

/*
 * Receive the regions message and the userfaultfd: read until the bytes
 * parse as one JSON document (a stream may split it). Returns the JSON
 * (the caller frees it) and sets h->uffd, or NULL.
 */
static json_t *recv_message(struct handler *h)
{
	char *buf = malloc(MAX_MSG_BYTES);
	size_t len = 0;
	json_t *j = NULL;

	if (!buf) {
		fail("out of memory");
		return NULL;
	}
	while (!j) {
		union {
			char b[CMSG_SPACE(4 * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { buf + len, MAX_MSG_BYTES - len };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				    .msg_controllen = sizeof(ctl.b) };
		struct pollfd p = { h->sock, POLLIN, 0 };
		json_error_t e;
		ssize_t n;

		if (len == MAX_MSG_BYTES) {
			fail("message longer than %u bytes", MAX_MSG_BYTES);
			break;
		}
		n = poll(&p, 1, MSG_TIMEOUT_MS);
		if (n == 0) {
			fail("no complete message from the VMM within %d ms", MSG_TIMEOUT_MS);
			break;
		}
		n = n < 0 ? n : recvmsg(h->sock, &m, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR && !stop)
			continue;
		if (n < 0) {
			fail("receiving the message: %s", strerror(errno));
			break;
		}
		take_fds(&m, &h->uffd);
		if (m.msg_flags & MSG_CTRUNC) {
			fail("the message carried more file descriptors than expected");
			break;
		}
		if (n == 0) {
			fail("the VMM closed the connection after %zu bytes of message", len);
			break;
		}
		len += (size_t)n;
		j = json_loadb(buf, len, 0, &e);
		if (!j && json_error_code(&e) != json_error_premature_end_of_input) {
			fail("message is not JSON: %s (at byte %d)", e.text, e.position);
			break;
		}
	}
	free(buf);
	if (j && h->uffd < 0) {
		fail("the message came without a userfaultfd (SCM_RIGHTS)");
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* A non-negative JSON integer member (key) of (o) into (*v); false if absent or wrong. */
static bool get_u64(json_t *o, const char *key, uint64_t *v)
{
	json_t *x = json_object_get(o, key);

	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return false;
	*v = (uint64_t)json_integer_value(x);
	return true;
}

static int parse_region(json_t *o, unsigned i, struct region *r)
{
	uint64_t kib;

	if (!json_is_object(o))
		return fail("region %u is not an object", i);
	if (!get_u64(o, "base_host_virt_addr", &r->base) || !get_u64(o, "size", &r->size) ||
	    !get_u64(o, "offset", &r->offset))
		return fail("region %u: base_host_virt_addr, size and offset must be "
			    "non-negative integers", i);
	if (!get_u64(o, "page_size", &r->page_size)) {
		if (!get_u64(o, "page_size_kib", &kib))
			return fail("region %u has neither page_size nor page_size_kib", i);
		/* Firecracker sends bytes under this name; other tools KiB. */
		r->page_size = kib >= MIN_PAGE ? kib : kib * 1024;
	}
	return 0;
}

/* Every region must be page-aligned, inside the file, without overflow or overlap. */
static int check_region(const struct handler *h, unsigned i)
{
	const struct region *r = &h->reg[i];
	uint64_t ps = r->page_size;

	if (ps < MIN_PAGE || ps > MAX_PAGE || (ps & (ps - 1)))
		return fail("region %u: page size %llu is not a power of two in [4 KiB, 1 GiB]",
			    i, (unsigned long long)ps);
	if (r->size == 0 || r->size % ps || r->base % ps || r->offset % MIN_PAGE)
		return fail("region %u: base %#llx, size %#llx or offset %#llx not page-aligned "
			    "(page size %llu) or empty", i, (unsigned long long)r->base,
			    (unsigned long long)r->size, (unsigned long long)r->offset,
			    (unsigned long long)ps);
	if (r->base + r->size < r->base)
		return fail("region %u: base + size overflows", i);
	if (r->offset + r->size < r->offset || r->offset + r->size > h->file_size)
		return fail("region %u: [%#llx, +%#llx) lies beyond the end of %s (%llu bytes)", i,
			    (unsigned long long)r->offset, (unsigned long long)r->size,
			    h->mem_path, (unsigned long long)h->file_size);
	for (unsigned k = 0; k < i; k++) {
		const struct region *o = &h->reg[k];

		if (r->base < o->base + o->size && o->base < r->base + r->size)
			return fail("regions %u and %u overlap", k, i);
	}
	return 0;
}

static int parse_regions(struct handler *h, json_t *j)
{
	size_t n = json_is_array(j) ? json_array_size(j) : 0;
	uint64_t max_ps = MIN_PAGE;

	if (n == 0 || n > MAX_REGIONS)
		return fail("the message must be a JSON array of 1 to %d regions", MAX_REGIONS);
	for (unsigned i = 0; i < n; i++) {
		if (parse_region(json_array_get(j, i), i, &h->reg[i]) < 0)
			return -1;
		h->nreg = i + 1;
		if (check_region(h, i) < 0)
			return -1;
		if (h->reg[i].page_size > max_ps)
			max_ps = h->reg[i].page_size;
		fprintf(stderr, "uffd-handler: region %u: host %#llx size %#llx file offset %#llx "
			"page size %llu\n", i, (unsigned long long)h->reg[i].base,
			(unsigned long long)h->reg[i].size, (unsigned long long)h->reg[i].offset,
			(unsigned long long)h->reg[i].page_size);
	}
	if (max_ps > MIN_PAGE) {
		h->zeros = mmap(NULL, max_ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (h->zeros == MAP_FAILED)
			return fail("mmap of a zero page: %s", strerror(errno));
	}
	return 0;
}

static int map_file(struct handler *h)
{
	struct stat st;
	int fd = open(h->mem_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail("%s: %s", h->mem_path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		return fail("%s: empty or unreadable", h->mem_path);
	}
	h->file_size = (uint64_t)st.st_size;
	h->file = mmap(NULL, h->file_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (h->file == MAP_FAILED)
		return fail("%s: mmap: %s", h->mem_path, strerror(errno));
	return 0;
}

static struct region *find_region(struct handler *h, uint64_t addr)
{
	for (unsigned i = 0; i < h->nreg; i++) {
		if (addr >= h->reg[i].base && addr - h->reg[i].base < h->reg[i].size)
			return &h->reg[i];
	}
	return NULL;
}

/* Mark the pages of every region that [start, end) touches as removed. */
static int mark_removed(struct handler *h, uint64_t start, uint64_t end)
{
	h->removes++;
	for (unsigned i = 0; i < h->nreg; i++) {
		struct region *r = &h->reg[i];
		uint64_t lo = start > r->base ? start : r->base;
		uint64_t hi = end < r->base + r->size ? end : r->base + r->size;

		if (lo >= hi)
			continue;
		if (!r->removed) {
			r->removed = calloc(r->size / r->page_size / 8 + 1, 1);
			if (!r->removed)
				return fail("out of memory");
		}
		for (uint64_t p = (lo - r->base) / r->page_size;
		     p <= (hi - 1 - r->base) / r->page_size; p++)
			r->removed[p / 8] |= (uint8_t)(1u << (p % 8));
	}
	return 0;
}

/* Wake whoever waits on (page) (after EEXIST: someone else filled it). */
static void wake(struct handler *h, uint64_t page, uint64_t len)
{
	struct uffdio_range range = { page, len };

	ioctl(h->uffd, UFFDIO_WAKE, &range);
}

/*
 * Fill the page holding (addr): 1 when done (or no longer needed), 0 to
 * retry later (EAGAIN: the address space is changing, events pending), -1
 * on an error.
 */
static int serve_fault(struct handler *h, uint64_t addr)
{
	struct region *r = find_region(h, addr);
	uint64_t page, idx;
	bool zero;
	int ret;

	if (!r)
		return fail("fault at %#llx, outside every region", (unsigned long long)addr);
	page = addr & ~(r->page_size - 1);
	idx = (page - r->base) / r->page_size;
	zero = r->removed && (r->removed[idx / 8] >> (idx % 8) & 1);
	if (zero && r->page_size == MIN_PAGE) {
		struct uffdio_zeropage z = { .range = { page, MIN_PAGE } };

		ret = ioctl(h->uffd, UFFDIO_ZEROPAGE, &z);
	} else {
		const uint8_t *src = zero ? h->zeros : h->file + r->offset + (page - r->base);
		struct uffdio_copy c = { .dst = page, .src = (uint64_t)(uintptr_t)src,
					 .len = r->page_size };

		ret = ioctl(h->uffd, UFFDIO_COPY, &c);
	}
	if (ret == 0) {
		if (zero)
			h->zeroed++;
		else
			h->copied++;
		return 1;
	}
	switch (errno) {
	case EAGAIN:
		return 0;
	case EEXIST:            /* filled by an earlier fault on the same page */
		wake(h, page, r->page_size);
		return 1;
	case ENOENT:            /* the VMM changed its mappings meanwhile */
	case ESRCH:             /* the VMM is gone */
		return 1;
	default:
		return fail("%s at %#llx: %s", zero ? "zero fill" : "UFFDIO_COPY",
			    (unsigned long long)page, strerror(errno));
	}
}

static int add_pending(struct handler *h, uint64_t addr)
{
	if (h->npending == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		uint64_t *p = realloc(h->pending, cap * sizeof(*p));

		if (!p)
			return fail("out of memory");
		h->pending = p;
		h->cap = cap;
	}
	h->pending[h->npending++] = addr;
	return 0;
}

/* Serve the pending faults in order; keep those that must wait. */
static int serve_pending(struct handler *h)
{
	size_t keep = 0;

	for (size_t i = 0; i < h->npending; i++) {
		int r = serve_fault(h, h->pending[i]);

		if (r < 0)
			return -1;
		if (r == 0)
			h->pending[keep++] = h->pending[i];
	}
	h->npending = keep;
	return 0;
}

/* Read what the userfaultfd has (one read: the fd may be blocking) and queue it. */
static int read_events(struct handler *h)
{
	struct uffd_msg msgs[64];
	ssize_t n = read(h->uffd, msgs, sizeof(msgs));

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : fail("read: %s", strerror(errno));
	if (n % (ssize_t)sizeof(msgs[0]))
		return fail("short read of %zd bytes from the userfaultfd", n);
	for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++) {
		struct uffd_msg *m = &msgs[i];
		int r = 0;

		switch (m->event) {
		case UFFD_EVENT_PAGEFAULT:
			h->faults++;
			r = add_pending(h, m->arg.pagefault.address);
			break;
		case UFFD_EVENT_REMOVE:
		case UFFD_EVENT_UNMAP:
			r = mark_removed(h, m->arg.remove.start, m->arg.remove.end);
			break;
		case UFFD_EVENT_FORK:
			close((int)m->arg.fork.ufd);
			fail("the VMM forked; not serving the child");
			break;
		default:
			fail("event %#x ignored", m->event);
			break;
		}
		if (r < 0)
			return -1;
	}
	return 0;
}

/* True when the VMM closed the connection (extra bytes are read and ignored). */
static bool peer_gone(struct handler *h)
{
	char buf[4096];
	ssize_t n = recv(h->sock, buf, sizeof(buf), MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

static int serve(struct handler *h)
{
	while (!stop) {
		struct pollfd p[2] = { { h->uffd, POLLIN, 0 }, { h->sock, POLLIN, 0 } };
		int n = poll(p, 2, h->npending ? 1 : -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail("poll: %s", strerror(errno));
		}
		if ((p[0].revents & POLLIN) && read_events(h) < 0)
			return -1;
		if (serve_pending(h) < 0)
			return -1;
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			return fail("the userfaultfd reports an error");
		if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && peer_gone(h))
			return 0;
	}
	return 0;
}

static int run(struct handler *h, const char *sock_path)
{
	int lfd = listen_at(sock_path);
	json_t *j;
	int ret;

	if (lfd < 0)
		return -1;
	do {
		h->sock = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	} while (h->sock < 0 && errno == EINTR && !stop);
	close(lfd);
	unlink(sock_path);
	if (h->sock < 0)
		return stop ? 0 : fail("accept: %s", strerror(errno));
	j = recv_message(h);
	if (!j)
		return -1;
	ret = parse_regions(h, j);
	json_decref(j);
	if (ret < 0)
		return -1;
	return serve(h);
}

int main(int argc, char **argv)
{
	struct handler h = { .uffd = -1, .sock = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: uffd-handler SOCKET MEMFILE\n");
		return 2;
	}
	h.mem_path = argv[2];
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (map_file(&h) < 0)
		return 1;
	ret = run(&h, argv[1]);
	fprintf(stderr, "uffd-handler: served %llu pages (%llu from the file, %llu zero), "
		"%llu faults, %llu removed ranges\n", h.copied + h.zeroed, h.copied, h.zeroed,
		h.faults, h.removes);
	free(h.pending);
	for (unsigned i = 0; i < h.nreg; i++)
		free(h.reg[i].removed);
	return ret < 0 ? 1 : 0;
}
