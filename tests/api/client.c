/* Raw HTTP over a Unix socket and lodge processes, for the contract test. */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int http_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Parse "HTTP/1.1 204 ..." and split headers from body; the body ends at EOF. */
static int parse(char *buf, size_t len, struct http_resp *r)
{
	char *end = strstr(buf, "\r\n\r\n");
	size_t hl;

	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || !end)
		return -1;
	r->status = atoi(buf + 9);
	hl = (size_t)(end - buf);
	if (hl >= sizeof(r->headers))
		hl = sizeof(r->headers) - 1;
	memcpy(r->headers, buf, hl);
	r->headers[hl] = 0;
	r->len = len - (size_t)(end + 4 - buf);
	r->body = malloc(r->len + 1);
	if (!r->body)
		return -1;
	memcpy(r->body, end + 4, r->len);
	r->body[r->len] = 0;
	return 0;
}

/* Is a whole response in (buf)? Headers, then Content-Length bytes (none: up to EOF). */
static bool complete(const char *buf, size_t len)
{
	const char *end = strstr(buf, "\r\n\r\n"), *cl;

	if (!end)
		return false;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (!cl || cl > end)
		return strncmp(buf + 9, "204", 3) == 0 || strncmp(buf + 9, "304", 3) == 0;
	return len - (size_t)(end + 4 - buf) >= strtoull(cl + 17, NULL, 10);
}

int http_read_response(int fd, struct http_resp *r, int timeout_ms)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap + 1);
	long deadline = now_ms() + timeout_ms;
	int rc;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (!buf)
		return -1;
	buf[0] = 0;
	while (!complete(buf, len)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		if (len == cap) {
			char *b = realloc(buf, cap * 2 + 1);

			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = 0;
	}
	rc = parse(buf, len, r);
	free(buf);
	return rc;
}

int http_raw(const char *sock, const char *raw, size_t len, struct http_resp *r, int timeout_ms)
{
	int fd = http_connect(sock), rc;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (fd < 0)
		return -1;
	/* A server may answer and close before taking the whole request (413): read anyway. */
	write_all(fd, raw, len);
	rc = http_read_response(fd, r, timeout_ms);
	close(fd);
	return rc;
}

int http_request(const char *sock, const char *method, const char *target, const char *body,
		 size_t len, struct http_resp *r, int timeout_ms)
{
	char head[1024];
	char *msg;
	int n, rc;

	if (body)
		n = snprintf(head, sizeof(head),
			     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			     method, target, len);
	else
		n = snprintf(head, sizeof(head),
			     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
			     method, target);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	msg = malloc((size_t)n + len);
	if (!msg)
		return -1;
	memcpy(msg, head, (size_t)n);
	if (body)
		memcpy(msg + n, body, len);
	rc = http_raw(sock, msg, (size_t)n + (body ? len : 0), r, timeout_ms);
	free(msg);
	return rc;
}

bool http_header(const struct http_resp *r, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);

	for (const char *p = strstr(r->headers, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		const char *h = p + 2, *e;

		if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
			h += nl + 1;
			while (*h == ' ')
				h++;
			e = strstr(h, "\r\n");
			snprintf(out, n, "%.*s", (int)(e ? e - h : (long)strlen(h)), h);
			return true;
		}
	}
	return false;
}

void http_resp_free(struct http_resp *r)
{
	free(r->body);
	r->body = NULL;
}

pid_t proc_start(char *const argv[], int in_fd, const char *out_path, const char *err_path,
		 const char *sock)
{
	pid_t pid = fork();
	long deadline;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int in = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (in < 0 || out < 0 || err < 0)
			_exit(127);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (!sock)
		return pid;
	deadline = now_ms() + 10000;
	while (now_ms() < deadline) {
		int fd = http_connect(sock);

		if (fd >= 0) {
			close(fd);
			return pid;
		}
		if (proc_wait(pid, 0) >= 0)
			return -1;      /* it ended without serving */
		usleep(2000);
	}
	kill(pid, SIGKILL);
	proc_wait(pid, 1000);
	return -1;
}

int proc_wait(pid_t pid, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0 || now_ms() >= deadline)
			return -1;
		usleep(2000);
	}
}
