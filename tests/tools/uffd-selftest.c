/*
 * Self test of tests/tools/uffd-handler without lodge: this process plays
 * the VMM. It writes a memory file with a known pattern, maps anonymous
 * regions, registers them with a userfaultfd, starts the handler, sends it
 * the regions (Firecracker's JSON) with the userfaultfd, touches the pages
 * and checks what the handler put there: the file's bytes at each region's
 * offset, zeros after madvise(MADV_DONTNEED) (UFFD_EVENT_REMOVE) and after
 * munmap + a new mapping (UFFD_EVENT_UNMAP). Bad messages must make the
 * handler exit with status 1 and one line saying why.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define PAGE        4096UL
#define FILE_PAGES  40
#define TIMEOUT_S   60

struct ctx {
	char dir[64], sock[96], mem[96], log[96];
	pid_t pid;
	int uffd, conn;
	char out[4096];                 /* the handler's stderr, after it exits */
	int status;                     /* its exit status */
};

/* Word (w) of page (p) of the memory file. */
static uint64_t pattern(uint64_t p, uint64_t w)
{
	return (p << 32 | w) ^ 0x5a5a000000005a5aULL;
}

static void write_mem_file(const char *path)
{
	uint64_t *buf = malloc(FILE_PAGES * PAGE);
	FILE *f = fopen(path, "wb");

	assert_non_null(buf);
	assert_non_null(f);
	for (uint64_t p = 0; p < FILE_PAGES; p++) {
		for (uint64_t w = 0; w < PAGE / 8; w++)
			buf[p * PAGE / 8 + w] = pattern(p, w);
	}
	assert_int_equal(fwrite(buf, PAGE, FILE_PAGES, f), FILE_PAGES);
	assert_int_equal(fclose(f), 0);
	free(buf);
}

/* A userfaultfd with (features): the syscall, else /dev/userfaultfd. -1 if neither works. */
static int make_uffd(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		if (dev < 0)
			return -1;
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
		if (fd < 0)
			return -1;
	}
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void register_range(int uffd, void *addr, size_t len)
{
	struct uffdio_register r = {
		.range = { (uint64_t)(uintptr_t)addr, len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	assert_int_equal(ioctl(uffd, UFFDIO_REGISTER, &r), 0);
}

static void *map_anon(size_t pages)
{
	void *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

/* Start the handler (stderr to c->log) and wait until its socket exists. */
static void start_handler(struct ctx *c)
{
	struct stat st;

	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		int fd = open(c->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execl(UFFD_HANDLER_PATH, "uffd-handler", c->sock, c->mem, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 5000 && stat(c->sock, &st) < 0; i++)
		usleep(1000);
	assert_int_equal(stat(c->sock, &st), 0);
}

static void connect_handler(struct ctx *c)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", c->sock);
	c->conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->conn >= 0);
	assert_int_equal(connect(c->conn, (struct sockaddr *)&a, sizeof(a)), 0);
}

/* Send (len) bytes of (msg), with (fd) attached when it is >= 0. */
static void send_part(struct ctx *c, const char *msg, size_t len, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)msg, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.b;
		m.msg_controllen = sizeof(ctl.b);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	assert_int_equal(sendmsg(c->conn, &m, 0), (ssize_t)len);
}

/*
 * Hang up (as a VMM that exits) and collect the handler's status and
 * stderr. Our userfaultfd is closed too: with the handler gone, a munmap
 * or madvise would otherwise wait for it to read the event.
 */
static void finish(struct ctx *c)
{
	FILE *f;
	size_t n;

	if (c->conn >= 0)
		close(c->conn);
	c->conn = -1;
	assert_int_equal(waitpid(c->pid, &c->status, 0), c->pid);
	c->pid = -1;
	close(c->uffd);
	c->uffd = -1;
	assert_true(WIFEXITED(c->status));
	c->status = WEXITSTATUS(c->status);
	f = fopen(c->log, "r");
	assert_non_null(f);
	n = fread(c->out, 1, sizeof(c->out) - 1, f);
	c->out[n] = '\0';
	fclose(f);
	printf("    handler (status %d):\n%s", c->status, c->out);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	snprintf(c->dir, sizeof(c->dir), "/tmp/uffd-test.XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	snprintf(c->sock, sizeof(c->sock), "%s/uffd.sock", c->dir);
	snprintf(c->mem, sizeof(c->mem), "%s/mem", c->dir);
	snprintf(c->log, sizeof(c->log), "%s/log", c->dir);
	c->uffd = c->conn = -1;
	c->pid = -1;
	/* The default action: fatal, so it also ends a wait for an unread uffd event. */
	signal(SIGALRM, SIG_DFL);
	alarm(TIMEOUT_S);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	alarm(0);
	if (c->conn >= 0)
		close(c->conn);
	if (c->uffd >= 0)
		close(c->uffd);
	if (c->pid > 0 && waitpid(c->pid, NULL, WNOHANG) == 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	unlink(c->sock);
	unlink(c->mem);
	unlink(c->log);
	rmdir(c->dir);
	free(c);
	return 0;
}

/* Check (pages) pages at (addr): file page (first) onwards, or zeros when first < 0. */
static void check_pages(const void *addr, size_t pages, long first)
{
	const volatile uint64_t *w = addr;

	for (size_t p = 0; p < pages; p++) {
		for (size_t i = 0; i < PAGE / 8; i += 97) {
			uint64_t want = first < 0 ? 0 : pattern((uint64_t)first + p, i);

			if (w[p * PAGE / 8 + i] != want)
				fail_msg("page %zu word %zu: %#llx, expected %#llx", p, i,
					 (unsigned long long)w[p * PAGE / 8 + i],
					 (unsigned long long)want);
		}
	}
}

static struct ctx *begin(void **state, uint64_t features)
{
	struct ctx *c = *state;

	write_mem_file(c->mem);
	c->uffd = make_uffd(features);
	if (c->uffd < 0)
		skip();
	return c;
}

/*
 * Two regions (16 pages at file offset 0, 8 at file page 20), "page_size"
 * in bytes; reads and a write fault; then DONTNEED of two pages: zeros.
 */
static void test_two_regions_and_remove(void **state)
{
	struct ctx *c = begin(state, UFFD_FEATURE_EVENT_REMOVE);
	uint8_t *r0 = map_anon(16), *r1 = map_anon(8);
	char msg[512];

	register_range(c->uffd, r0, 16 * PAGE);
	register_range(c->uffd, r1, 8 * PAGE);
	snprintf(msg, sizeof(msg),
		 "[{\"base_host_virt_addr\":%llu,\"size\":%lu,\"offset\":0,\"page_size\":4096},"
		 "{\"base_host_virt_addr\":%llu,\"size\":%lu,\"offset\":%lu,\"page_size\":4096}]",
		 (unsigned long long)(uintptr_t)r0, 16 * PAGE, (unsigned long long)(uintptr_t)r1,
		 8 * PAGE, 20 * PAGE);
	start_handler(c);
	connect_handler(c);
	send_part(c, msg, strlen(msg), c->uffd);

	check_pages(r0, 16, 0);
	r1[5 * PAGE + 8] = 0xab;        /* a write fault: the page comes from the file first */
	check_pages(r1, 5, 20);
	check_pages(r1 + 6 * PAGE, 2, 26);
	assert_int_equal(r1[5 * PAGE + 8], 0xab);
	assert_int_equal(r1[5 * PAGE + 7], (uint8_t)(pattern(25, 0) >> 56));

	assert_int_equal(madvise(r0 + 3 * PAGE, 2 * PAGE, MADV_DONTNEED), 0);
	check_pages(r0 + 3 * PAGE, 2, -1);
	check_pages(r0 + 2 * PAGE, 1, 2);
	check_pages(r0 + 5 * PAGE, 1, 5);

	finish(c);
	assert_int_equal(c->status, 0);
	assert_non_null(strstr(c->out, "region 1: host "));
	assert_non_null(strstr(c->out, "uffd-handler: served 26 pages (24 from the file, 2 zero)"));
	assert_non_null(strstr(c->out, ", 1 removed ranges"));
	munmap(r0, 16 * PAGE);
	munmap(r1, 8 * PAGE);
}

/* The older field name, its value in bytes (Firecracker) or KiB; a message in two parts. */
static void run_kib(void **state, unsigned kib_value)
{
	struct ctx *c = begin(state, 0);
	uint8_t *r = map_anon(4);
	char msg[256];
	size_t len, half;

	register_range(c->uffd, r, 4 * PAGE);
	len = (size_t)snprintf(msg, sizeof(msg),
			       "[{\"base_host_virt_addr\":%llu,\"size\":%lu,\"offset\":%lu,"
			       "\"page_size_kib\":%u}]", (unsigned long long)(uintptr_t)r,
			       4 * PAGE, 8 * PAGE, kib_value);
	half = len / 2;
	start_handler(c);
	connect_handler(c);
	send_part(c, msg, half, c->uffd);
	usleep(20000);
	send_part(c, msg + half, len - half, -1);
	check_pages(r, 4, 8);
	finish(c);
	assert_int_equal(c->status, 0);
	assert_non_null(strstr(c->out, "page size 4096\n"));
	assert_non_null(strstr(c->out, "uffd-handler: served 4 pages (4 from the file, 0 zero)"));
	munmap(r, 4 * PAGE);
}

static void test_page_size_kib_bytes(void **state)
{
	run_kib(state, 4096);
}

static void test_page_size_kib_kib(void **state)
{
	run_kib(state, 4);
}

/* munmap (UFFD_EVENT_UNMAP) and a new registered mapping at the same place: zeros. */
static void test_unmap(void **state)
{
	struct ctx *c = begin(state, UFFD_FEATURE_EVENT_UNMAP);
	uint8_t *r = map_anon(8), *again;
	char msg[256];

	register_range(c->uffd, r, 8 * PAGE);
	snprintf(msg, sizeof(msg),
		 "[{\"base_host_virt_addr\":%llu,\"size\":%lu,\"offset\":0,\"page_size\":4096}]",
		 (unsigned long long)(uintptr_t)r, 8 * PAGE);
	start_handler(c);
	connect_handler(c);
	send_part(c, msg, strlen(msg), c->uffd);
	check_pages(r, 2, 0);
	assert_int_equal(munmap(r + 4 * PAGE, 2 * PAGE), 0);
	again = mmap(r + 4 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	assert_ptr_equal(again, r + 4 * PAGE);
	register_range(c->uffd, again, 2 * PAGE);
	check_pages(again, 2, -1);
	check_pages(r + 6 * PAGE, 2, 6);
	finish(c);
	assert_int_equal(c->status, 0);
	assert_non_null(strstr(c->out, "uffd-handler: served 6 pages (4 from the file, 2 zero)"));
	munmap(r, 8 * PAGE);
}

/* A message the handler must refuse (status 1, a line containing (why)); nothing touched. */
static void expect_refused(void **state, const char *msg, bool with_fd, const char *why)
{
	struct ctx *c = begin(state, 0);

	start_handler(c);
	connect_handler(c);
	send_part(c, msg, strlen(msg), with_fd ? c->uffd : -1);
	if (!with_fd) {
		close(c->conn);         /* the handler waits for the rest otherwise */
		c->conn = -1;
	}
	finish(c);
	assert_int_equal(c->status, 1);
	if (!strstr(c->out, why))
		fail_msg("handler output lacks \"%s\"", why);
}

static void test_refuses_bad_messages(void **state)
{
	static const struct {
		const char *msg, *why;
		bool fd;
	} cases[] = {
		{ "not json", "message is not JSON", true },
		{ "{}", "JSON array of 1 to", true },
		{ "[]", "JSON array of 1 to", true },
		{ "[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0}]",
		  "neither page_size nor page_size_kib", true },
		{ "[{\"base_host_virt_addr\":4096,\"size\":-4096,\"offset\":0,\"page_size\":4096}]",
		  "must be non-negative integers", true },
		{ "[{\"base_host_virt_addr\":4096,\"size\":8192,\"offset\":159744,\"page_size\":4096}]",
		  "beyond the end of", true },
		{ "[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":18446744073709547520,"
		  "\"page_size\":4096}]", "too big integer", true },
		{ "[{\"base_host_virt_addr\":4097,\"size\":4096,\"offset\":0,\"page_size\":4096}]",
		  "not page-aligned", true },
		{ "[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,\"page_size\":3000}]",
		  "not a power of two", true },
		{ "[{\"base_host_virt_addr\":4096,\"size\":8192,\"offset\":0,\"page_size\":4096},"
		  "{\"base_host_virt_addr\":8192,\"size\":4096,\"offset\":0,\"page_size\":4096}]",
		  "regions 0 and 1 overlap", true },
		{ "[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,\"page_size\":4096}]",
		  "without a userfaultfd", false },
		{ "[{\"base_host_virt_addr\":4096,", "closed the connection after", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		printf("  case %zu: %s\n", i, cases[i].msg);
		expect_refused(state, cases[i].msg, cases[i].fd, cases[i].why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_regions_and_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_size_kib_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_size_kib_kib, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_bad_messages, setup, teardown),
	};

	return cmocka_run_group_tests_name("uffd_handler", tests, NULL, NULL);
}
