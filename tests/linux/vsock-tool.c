/*
 * vsock-tool: both ends of tests/integration/cases/linux-virtio-vsock.sh,
 * one static binary (tests/linux/prepare builds it with the host gcc, packs
 * it into the test initrd as /bin/vsock-tool and leaves a copy next to the
 * Linux artifacts for the host side). Busybox has no vsock tools.
 *
 * In the guest (AF_VSOCK):
 *   vsock-tool cid                     print this guest's CID (/dev/vsock)
 *   vsock-tool listen PORT [N]         listen on PORT, print "VSOCK-LISTENING PORT",
 *                                      echo N connections (default 1) until EOF
 *   vsock-tool connect CID PORT LINE   send LINE\n, shut the write side, print
 *                                      what comes back; status 1 if refused
 * On the host (lodge's Unix sockets, Firecracker's protocol):
 *   vsock-tool uds-connect PATH PORT IN OUT
 *                                      "CONNECT PORT\n" to PATH, print the "OK <n>"
 *                                      line, send file IN while writing what comes
 *                                      back to OUT, shut the write side after IN,
 *                                      read to EOF; status 1 without "OK"
 *   vsock-tool uds-listen PATH OUT REPLY
 *                                      listen on PATH, accept one connection, save
 *                                      what it sends (to EOF) in OUT, answer REPLY\n
 *                                      after its first line (or at EOF)
 * Every mode gives up after VSOCK_TOOL_TIMEOUT seconds (default 120).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static int timeout_s = 120;

static void die(const char *what)
{
	fprintf(stderr, "vsock-tool: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t r = write(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static unsigned long number(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end) {
		fprintf(stderr, "vsock-tool: '%s' is not a number\n", s);
		exit(2);
	}
	return v;
}

/* Wait up to (ms) for (fd) to be readable; 0 on timeout. */
static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r;
}

static int cmd_cid(void)
{
	unsigned int cid = 0;
	int fd = open("/dev/vsock", O_RDONLY);

	if (fd < 0 || ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0)
		die("/dev/vsock");
	printf("%u\n", cid);
	return 0;
}

static int cmd_listen(unsigned port, unsigned n)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
	static char buf[65536];
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket(AF_VSOCK)");
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0)
		die("bind/listen");
	printf("VSOCK-LISTENING %u\n", port);
	fflush(stdout);
	for (unsigned i = 0; i < n; i++) {
		unsigned long total = 0;
		int c;

		if (wait_readable(fd, timeout_s * 1000) <= 0) {
			fprintf(stderr, "vsock-tool: no connection on port %u\n", port);
			return 1;
		}
		c = accept(fd, NULL, NULL);
		if (c < 0)
			die("accept");
		for (;;) {
			ssize_t r = read(c, buf, sizeof(buf));

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				die("read");
			if (r == 0)
				break;
			if (write_all(c, buf, (size_t)r) < 0)
				die("write");
			total += (unsigned long)r;
		}
		close(c);
		printf("VSOCK-ECHOED %lu\n", total);
		fflush(stdout);
	}
	close(fd);
	return 0;
}

/* Copy (fd) to stdout until EOF. */
static int drain_to(int fd, int out)
{
	char buf[4096];

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		if (write_all(out, buf, (size_t)r) < 0)
			return -1;
	}
}

static int cmd_connect(unsigned cid, unsigned port, const char *line)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket(AF_VSOCK)");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "vsock-tool: connect %u:%u: %s\n", cid, port, strerror(errno));
		return 1;
	}
	if (write_all(fd, line, strlen(line)) < 0 || write_all(fd, "\n", 1) < 0)
		die("write");
	shutdown(fd, SHUT_WR);
	if (drain_to(fd, 1) < 0)
		die("read");
	close(fd);
	return 0;
}

static int unix_socket(const char *path, struct sockaddr_un *a)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket(AF_UNIX)");
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path)) {
		fprintf(stderr, "vsock-tool: %s: path too long\n", path);
		exit(2);
	}
	strcpy(a->sun_path, path);
	return fd;
}

/* Host side of a host-initiated connection: CONNECT, OK, then IN out and OUT back at once. */
static int cmd_uds_connect(const char *path, unsigned port, const char *in, const char *out)
{
	struct sockaddr_un a;
	int fd = unix_socket(path, &a), ifd, ofd;
	char line[64], buf[65536];
	size_t n, have = 0, off = 0;
	int sending = 1;

	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die(path);
	n = (size_t)snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (write_all(fd, line, n) < 0)
		die("write");
	/* The reply line, byte by byte: what follows it is the stream. */
	for (n = 0; n < sizeof(line) - 1;) {
		ssize_t r = read(fd, line + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	if (strncmp(line, "OK ", 3) != 0) {
		fprintf(stderr, "vsock-tool: CONNECT %u: no OK (got '%s')\n", port, line);
		return 1;
	}
	printf("%s\n", line);
	fflush(stdout);
	ifd = open(in, O_RDONLY);
	ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (ifd < 0 || ofd < 0)
		die("open");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sending ? POLLOUT : 0) };
		ssize_t r;

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (sending && (p.revents & POLLOUT)) {
			if (off == have) {
				r = read(ifd, buf, sizeof(buf));
				if (r < 0)
					die(in);
				have = (size_t)r;
				off = 0;
				if (r == 0) {
					sending = 0;
					shutdown(fd, SHUT_WR);
				}
			}
			if (off < have) {
				r = write(fd, buf + off, have - off);
				if (r < 0 && errno != EAGAIN && errno != EINTR)
					die("write");
				if (r > 0)
					off += (size_t)r;
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			char back[65536];

			r = read(fd, back, sizeof(back));
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r < 0)
				die("read");
			if (r == 0)
				break;
			if (write_all(ofd, back, (size_t)r) < 0)
				die(out);
		}
	}
	if (sending)
		fprintf(stderr, "vsock-tool: the connection ended before all of %s was sent\n", in);
	close(ofd);
	close(fd);
	return sending ? 1 : 0;
}

/* Host side of a guest-initiated connection. */
static int cmd_uds_listen(const char *path, const char *out, const char *reply)
{
	struct sockaddr_un a;
	int fd = unix_socket(path, &a), c, ofd;

	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0)
		die(path);
	if (wait_readable(fd, timeout_s * 1000) <= 0) {
		fprintf(stderr, "vsock-tool: nobody connected to %s\n", path);
		unlink(path);
		return 1;
	}
	c = accept(fd, NULL, NULL);
	if (c < 0)
		die("accept");
	ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (ofd < 0)
		die(out);
	/* The reply goes out after the first line (or at EOF), then the rest is saved. */
	for (bool replied = false;;) {
		char buf[4096];
		ssize_t n;

		if (wait_readable(c, timeout_s * 1000) <= 0) {
			fprintf(stderr, "vsock-tool: %s: no EOF from the peer\n", path);
			return 1;
		}
		n = read(c, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n > 0 && write_all(ofd, buf, (size_t)n) < 0)
			die(out);
		if (!replied && (n == 0 || memchr(buf, '\n', (size_t)n))) {
			if (write_all(c, reply, strlen(reply)) < 0 || write_all(c, "\n", 1) < 0)
				die("write");
			replied = true;
		}
		if (n == 0)
			break;
	}
	close(c);
	close(ofd);
	close(fd);
	unlink(path);
	return 0;
}

static void usage(void)
{
	fputs("usage: vsock-tool cid | listen PORT [N] | connect CID PORT LINE\n"
	      "       | uds-connect PATH PORT IN OUT | uds-listen PATH OUT REPLY\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *t = getenv("VSOCK_TOOL_TIMEOUT");

	if (t && *t)
		timeout_s = (int)number(t);
	/* The poll timeouts above come first; this catches every other wait. */
	alarm((unsigned)timeout_s + 5);
	if (argc == 2 && !strcmp(argv[1], "cid"))
		return cmd_cid();
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "listen"))
		return cmd_listen((unsigned)number(argv[2]), argc == 4 ? (unsigned)number(argv[3]) : 1);
	if (argc == 5 && !strcmp(argv[1], "connect"))
		return cmd_connect((unsigned)number(argv[2]), (unsigned)number(argv[3]), argv[4]);
	if (argc == 6 && !strcmp(argv[1], "uds-connect"))
		return cmd_uds_connect(argv[2], (unsigned)number(argv[3]), argv[4], argv[5]);
	if (argc == 5 && !strcmp(argv[1], "uds-listen"))
		return cmd_uds_listen(argv[2], argv[3], argv[4]);
	usage();
	return 2;
}
