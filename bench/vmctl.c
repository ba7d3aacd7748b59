/*
 * vmctl: what bench/restore needs of a VMM's control socket, in C so that
 * it runs the same natively and in the KVM lab's busybox (no curl, no
 * python there).
 *
 *   vmctl qmp SOCK CMD...
 *       QMP on SOCK: negotiate, then each CMD in turn: a JSON command,
 *       "wait-migration" (poll query-migrate until completed; fails on failed)
 *       or "wait-running" (poll query-status until running, "cont" if paused).
 *   vmctl torun N qmp SOCK [-f FILE] [-e LOG] -- VMM ARGS...
 *       N times: start the VMM (with -f: FILE open read-only on fd 3, for
 *       QEMU's -incoming fd:3), wait-running on SOCK, then quit it. Time:
 *       the VMM's start to the running answer.
 *   vmctl torun N api SOCK BODY [-e LOG] -- VMM ARGS...
 *       N times: start the VMM, connect to its Firecracker API socket SOCK,
 *       PUT /snapshot/load BODY; time: the VMM's start to the 204 answer
 *       (which lodge sends once the VM runs); also the request alone. Then
 *       SIGTERM.
 *   vmctl http SOCK METHOD PATH [BODY]
 *       One request to a Firecracker API socket; status 0 when answered 2xx,
 *       else the answer on stderr and status 1.
 *
 * torun prints one line: runs=N mean_us= min_us= median_us= max_us= [req_median_us=]
 * failed=. With -e LOG, each VMM's stdout and stderr are appended to LOG.
 * SOCK is removed before each start. The socket is polled every POLL_US.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_US    100
#define WAIT_S     60           /* longest wait for a socket, a status or an exit */
#define LINE_MAX_  65536

struct conn {
	int fd;
	size_t len;
	char buf[LINE_MAX_];
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Connect to the Unix socket (path), retrying until (deadline_us); -1 then. */
static int connect_until(const char *path, double deadline_us)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	while (now_us() < deadline_us) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		usleep(POLL_US);
	}
	return -1;
}

static int send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The next line (without its end) from (c) into (out); -1 at EOF or error. */
static int read_line(struct conn *c, char *out, size_t size)
{
	ssize_t r;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			size_t n = (size_t)(nl - c->buf);

			snprintf(out, size, "%.*s", (int)n, c->buf);
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return 0;
		}
		if (c->len == sizeof(c->buf))
			c->len = 0;     /* a line longer than the buffer: drop it */
		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

/* Send QMP command (cmd) and read up to its answer (events skipped) into (out). */
static int qmp_call(struct conn *c, const char *cmd, char *out, size_t size)
{
	if (send_all(c->fd, cmd, strlen(cmd)) < 0 || send_all(c->fd, "\n", 1) < 0)
		return -1;
	for (;;) {
		if (read_line(c, out, size) < 0)
			return -1;
		if (strstr(out, "\"return\"") || strstr(out, "\"error\""))
			return strstr(out, "\"error\"") ? -1 : 0;
	}
}

/* Read QMP's greeting and negotiate capabilities on a connected (c). */
static int qmp_open(struct conn *c)
{
	static char line[LINE_MAX_];

	if (read_line(c, line, sizeof(line)) < 0 || !strstr(line, "\"QMP\""))
		return -1;
	return qmp_call(c, "{\"execute\": \"qmp_capabilities\"}", line, sizeof(line));
}

/* Poll query-migrate until completed (0) or failed/cancelled (-1). */
static int qmp_wait_migration(struct conn *c)
{
	static char line[LINE_MAX_];
	double deadline = now_us() + WAIT_S * 1e6;

	while (now_us() < deadline) {
		if (qmp_call(c, "{\"execute\": \"query-migrate\"}", line, sizeof(line)) < 0)
			return -1;
		if (strstr(line, "\"completed\""))
			return 0;
		if (strstr(line, "\"failed\"") || strstr(line, "\"cancelled\"")) {
			fprintf(stderr, "vmctl: migration: %s\n", line);
			return -1;
		}
		usleep(1000);
	}
	return -1;
}

/*
 * Poll query-status until the VM runs (0) or (deadline_us) passes (-1). A
 * VM loaded "paused" (QEMU loads one saved while paused so: its global
 * state) gets a "cont", as lodge's resume_vm.
 */
static int qmp_wait_running(struct conn *c, double deadline_us)
{
	static char line[LINE_MAX_];

	while (now_us() < deadline_us) {
		if (qmp_call(c, "{\"execute\": \"query-status\"}", line, sizeof(line)) < 0)
			return -1;
		if (strstr(line, "\"status\": \"running\""))
			return 0;
		if (strstr(line, "\"status\": \"paused\"") &&
		    qmp_call(c, "{\"execute\": \"cont\"}", line, sizeof(line)) < 0)
			return -1;
		usleep(POLL_US);
	}
	return -1;
}

static int cmd_qmp(int argc, char **argv)
{
	static struct conn c;
	static char line[LINE_MAX_];

	if (argc < 3)
		return fprintf(stderr, "usage: vmctl qmp SOCK CMD...\n"), 2;
	c.fd = connect_until(argv[2], now_us() + WAIT_S * 1e6);
	if (c.fd < 0 || qmp_open(&c) < 0)
		return fprintf(stderr, "vmctl: no QMP on %s\n", argv[2]), 1;
	for (int i = 3; i < argc; i++) {
		int r;

		if (strcmp(argv[i], "wait-migration") == 0)
			r = qmp_wait_migration(&c);
		else if (strcmp(argv[i], "wait-running") == 0)
			r = qmp_wait_running(&c, now_us() + WAIT_S * 1e6);
		else
			r = qmp_call(&c, argv[i], line, sizeof(line));

		/* quit may close the socket before its answer */
		if (r < 0 && !strstr(argv[i], "\"quit\""))
			return fprintf(stderr, "vmctl: %s failed: %s\n", argv[i], line), 1;
	}
	close(c.fd);
	return 0;
}

struct torun {
	const char *mode, *sock, *body, *file, *log;
	char **argv;            /* the VMM's command line */
};

/* Fork and exec the VMM of (t); -1 on failure. */
static pid_t start_vmm(const struct torun *t)
{
	pid_t pid = fork();
	int null, log;

	if (pid != 0)
		return pid;
	null = open("/dev/null", O_RDWR);
	log = t->log ? open(t->log, O_WRONLY | O_APPEND | O_CREAT, 0644) : null;
	dup2(null, 0);
	dup2(log, 1);
	dup2(log, 2);
	if (t->file) {
		int fd = open(t->file, O_RDONLY);

		if (fd < 0 || dup2(fd, 3) < 0)
			_exit(127);
	}
	execvp(t->argv[0], t->argv);
	_exit(127);
}

/* Wait for (pid) for WAIT_S seconds, then kill it. */
static void reap(pid_t pid)
{
	double deadline = now_us() + WAIT_S * 1e6;
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_us() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return;
		}
		usleep(1000);
	}
}

/* QEMU: poll until running; the time in (*total). */
static int once_qmp(const struct torun *t, double t0, pid_t pid, double *total)
{
	static struct conn c;
	static char line[LINE_MAX_];
	double deadline = t0 + WAIT_S * 1e6;
	int r = -1;

	c.len = 0;
	c.fd = connect_until(t->sock, deadline);
	if (c.fd < 0 || qmp_open(&c) < 0)
		goto out;
	r = qmp_wait_running(&c, deadline);
	if (r == 0)
		*total = now_us() - t0;
	qmp_call(&c, "{\"execute\": \"quit\"}", line, sizeof(line));
out:
	if (c.fd >= 0)
		close(c.fd);
	if (r < 0)
		kill(pid, SIGKILL);
	reap(pid);
	return r;
}

/*
 * One HTTP request (method path body) on the connected (fd); the start of
 * the answer (its status line first) in (ans). 0 when it is 2xx.
 */
static int http_call(int fd, const char *method, const char *path, const char *body,
		     char *ans, size_t size)
{
	static char msg[LINE_MAX_];
	ssize_t got;
	int n;

	n = snprintf(msg, sizeof(msg), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		     method, path, strlen(body), body);
	ans[0] = 0;
	if (n < 0 || (size_t)n >= sizeof(msg) || send_all(fd, msg, (size_t)n) < 0)
		return -1;
	got = read(fd, ans, size - 1);
	if (got <= 0)
		return -1;
	ans[got] = 0;
	return strncmp(ans, "HTTP/1.1 2", 10) == 0 ? 0 : -1;
}

/* lodge: PUT /snapshot/load (body); the times in (*total) and (*req). */
static int once_api(const struct torun *t, double t0, pid_t pid, double *total, double *req)
{
	char ans[1024];
	double t1;
	int fd, r = -1;

	fd = connect_until(t->sock, t0 + WAIT_S * 1e6);
	if (fd < 0)
		goto out;
	t1 = now_us();
	r = http_call(fd, "PUT", "/snapshot/load", t->body, ans, sizeof(ans));
	*total = now_us() - t0;
	*req = now_us() - t1;
	if (r < 0)
		fprintf(stderr, "vmctl: load answered: %.200s\n", ans);
out:
	if (fd >= 0)
		close(fd);
	kill(pid, SIGTERM);
	reap(pid);
	return r;
}

static int cmd_http(int argc, char **argv)
{
	char ans[4096];
	int fd, r;

	if (argc < 5)
		return fprintf(stderr, "usage: vmctl http SOCK METHOD PATH [BODY]\n"), 2;
	fd = connect_until(argv[2], now_us() + WAIT_S * 1e6);
	if (fd < 0)
		return fprintf(stderr, "vmctl: cannot connect to %s\n", argv[2]), 1;
	r = http_call(fd, argv[3], argv[4], argc > 5 ? argv[5] : "", ans, sizeof(ans));
	close(fd);
	if (r < 0)
		return fprintf(stderr, "vmctl: %s %s: %.300s\n", argv[3], argv[4], ans), 1;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts (v) in place; its median. */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n ? v[n / 2] : 0;
}

static int parse_torun(int argc, char **argv, struct torun *t)
{
	int i = 5;

	t->mode = argv[3];
	t->sock = argv[4];
	if (strcmp(t->mode, "api") == 0) {
		if (argc < 7)
			return -1;
		t->body = argv[i++];
	} else if (strcmp(t->mode, "qmp") != 0) {
		return -1;
	}
	for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
		if (strcmp(argv[i], "-f") == 0)
			t->file = argv[i + 1];
		else if (strcmp(argv[i], "-e") == 0)
			t->log = argv[i + 1];
		else
			return -1;
	}
	if (i + 1 >= argc || strcmp(argv[i], "--") != 0)
		return -1;
	t->argv = argv + i + 1;
	return 0;
}

static int cmd_torun(int argc, char **argv)
{
	struct torun t = { 0 };
	int n = argc > 2 ? atoi(argv[2]) : 0, ok = 0, failed = 0;
	double *tot, *req, sum = 0;

	if (n < 1 || argc < 6 || parse_torun(argc, argv, &t) < 0)
		return fprintf(stderr, "usage: vmctl torun N qmp SOCK [-f FILE] [-e LOG] -- VMM...\n"
			       "       vmctl torun N api SOCK BODY [-e LOG] -- VMM...\n"), 2;
	tot = calloc((size_t)n, sizeof(*tot));
	req = calloc((size_t)n, sizeof(*req));
	for (int i = 0; i < n; i++) {
		double t0;
		pid_t pid;
		int r;

		unlink(t.sock);
		t0 = now_us();
		pid = start_vmm(&t);
		if (pid < 0)
			return perror("vmctl: fork"), 1;
		r = t.body ? once_api(&t, t0, pid, &tot[ok], &req[ok])
			   : once_qmp(&t, t0, pid, &tot[ok]);
		if (r < 0) {
			failed++;
			continue;
		}
		sum += tot[ok++];
	}
	unlink(t.sock);
	if (!ok)
		return printf("runs=0 failed=%d\n", failed), 1;
	printf("runs=%d mean_us=%.0f median_us=%.0f", ok, sum / ok, median(tot, ok));
	printf(" min_us=%.0f max_us=%.0f", tot[0], tot[ok - 1]);
	if (t.body)
		printf(" req_median_us=%.0f", median(req, ok));
	printf(" failed=%d\n", failed);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "qmp") == 0)
		return cmd_qmp(argc, argv);
	if (argc > 1 && strcmp(argv[1], "torun") == 0)
		return cmd_torun(argc, argv);
	if (argc > 1 && strcmp(argv[1], "http") == 0)
		return cmd_http(argc, argv);
	fprintf(stderr, "usage: vmctl qmp|torun|http ... (see bench/vmctl.c)\n");
	return 2;
}
