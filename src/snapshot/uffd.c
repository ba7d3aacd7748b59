#include "snapshot/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "util/log.h"

#define PAGE 4096u

struct uffd_server {
	pthread_t thread;
	int uffd, mem_fd, stop_fd;
	const struct gmem *m;
	uint64_t served;
};

int uffd_register(const struct gmem *m, int *fd, struct err *e)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)m->host, .len = m->total },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int u = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	*fd = -1;
	if (u < 0)
		return errf(e, -errno, "userfaultfd: %s", strerror(errno));
	if (ioctl(u, UFFDIO_API, &api) < 0) {
		/* An older kernel without EVENT_REMOVE: plain missing faults are all lodge needs. */
		api = (struct uffdio_api){ .api = UFFD_API };
		close(u);
		u = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		if (u < 0 || ioctl(u, UFFDIO_API, &api) < 0) {
			int r = errf(e, -errno, "UFFDIO_API: %s", strerror(errno));

			if (u >= 0)
				close(u);
			return r;
		}
	}
	if (ioctl(u, UFFDIO_REGISTER, &reg) < 0) {
		int r = errf(e, -errno, "UFFDIO_REGISTER: %s", strerror(errno));

		close(u);
		return r;
	}
	*fd = u;
	return 0;
}

int uffd_send(const struct gmem *m, int uffd, const char *socket_path, int *sock, struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_t *arr = json_array();
	char *text = NULL;
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int s = -1, r = 0;

	*sock = -1;
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return errf(e, -ENAMETOOLONG, "uffd socket %s: path too long", socket_path);
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
	for (unsigned i = 0; arr && i < m->nregions; i++) {
		json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I}",
				      "base_host_virt_addr", (json_int_t)(uintptr_t)(m->host + m->regions[i].offset),
				      "size", (json_int_t)m->regions[i].size,
				      "offset", (json_int_t)m->regions[i].offset,
				      "page_size", (json_int_t)PAGE,
				      /* Firecracker's older name; it carries bytes too, despite it. */
				      "page_size_kib", (json_int_t)PAGE);

		if (!o || json_array_append_new(arr, o) < 0)
			r = -ENOMEM;
	}
	text = arr && r == 0 ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	if (!text)
		return errf(e, -ENOMEM, "out of memory");
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errf(e, -errno, "uffd socket %s: %s", socket_path, strerror(errno));
		goto out;
	}
	iov = (struct iovec){ .iov_base = text, .iov_len = strlen(text) };
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &uffd, sizeof(int));
	if (sendmsg(s, &msg, MSG_NOSIGNAL) != (ssize_t)iov.iov_len)
		r = errf(e, -EIO, "uffd socket %s: sending the mappings failed", socket_path);
	else
		log_info("snapshot", "userfaultfd handed to %s", socket_path);
out:
	/* Firecracker keeps the connection open while the VM lives; so does lodge (*sock). */
	if (s >= 0 && r < 0)
		close(s);
	else
		*sock = s;
	free(text);
	return r;
}

/* Fill the page at (addr) from the memory file. */
static void serve_fault(struct uffd_server *s, uint64_t addr)
{
	static __thread uint8_t page[PAGE] __attribute__((aligned(PAGE)));
	uint64_t off = (addr & ~(uint64_t)(PAGE - 1)) - (uintptr_t)s->m->host;
	struct uffdio_copy copy = {
		.dst = (uintptr_t)s->m->host + off,
		.src = (uintptr_t)page,
		.len = PAGE,
	};
	ssize_t n = off < s->m->total ? pread(s->mem_fd, page, PAGE, (off_t)off) : -1;

	if (n < 0)
		memset(page, 0, PAGE);
	else if ((size_t)n < PAGE)
		memset(page + n, 0, PAGE - (size_t)n);
	if (ioctl(s->uffd, UFFDIO_COPY, &copy) < 0 && errno != EEXIST)
		log_warn("snapshot", "UFFDIO_COPY at +0x%" PRIx64 ": %s", off, strerror(errno));
	s->served++;
}

static void *uffd_thread(void *arg)
{
	struct uffd_server *s = arg;
	struct pollfd fds[2] = { { .fd = s->uffd, .events = POLLIN },
				 { .fd = s->stop_fd, .events = POLLIN } };

	for (;;) {
		struct uffd_msg msg;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			break;
		if (read(s->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event == UFFD_EVENT_PAGEFAULT)
			serve_fault(s, msg.arg.pagefault.address);
		/* UFFD_EVENT_REMOVE (balloon): the next touch faults again and gets the file's page. */
	}
	return NULL;
}

int uffd_server_start(struct uffd_server **out, int uffd, int mem_fd, const struct gmem *m,
		      struct err *e)
{
	struct uffd_server *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return errf(e, -ENOMEM, "out of memory");
	s->uffd = uffd;
	s->mem_fd = mem_fd;
	s->m = m;
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (s->stop_fd < 0 || pthread_create(&s->thread, NULL, uffd_thread, s) != 0) {
		if (s->stop_fd >= 0)
			close(s->stop_fd);
		free(s);
		return errf(e, -EAGAIN, "cannot start the userfaultfd thread");
	}
	*out = s;
	return 0;
}

void uffd_server_stop(struct uffd_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (write(s->stop_fd, &one, sizeof(one)) < 0)
		log_warn("snapshot", "uffd stop: %s", strerror(errno));
	pthread_join(s->thread, NULL);
	log_debug("snapshot", "userfaultfd: %" PRIu64 " pages served", s->served);
	close(s->stop_fd);
	free(s);
}
