/*
 * bench/blk's host baseline: read FILE front to back with pread() requests
 * of REQ_KIB (or COUNT random 4 KiB reads), as the guest does through
 * virtio-blk, and print "bytes=B ms=T" (monotonic clock).
 *   readfile FILE seq REQ_KIB | readfile FILE rand COUNT
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	uint64_t state = 0x9E3779B97F4A7C15ull, bytes = 0, t0;
	struct stat st;
	size_t req;
	char *buf;
	int fd;

	if (argc != 4 || (strcmp(argv[2], "seq") && strcmp(argv[2], "rand"))) {
		fprintf(stderr, "usage: readfile FILE seq REQ_KIB | readfile FILE rand COUNT\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(argv[1]);
		return 1;
	}
	req = strcmp(argv[2], "seq") == 0 ? (size_t)atoi(argv[3]) * 1024 : 4096;
	buf = malloc(req);
	if (!buf || req == 0)
		return 1;
	t0 = now_ms();
	if (strcmp(argv[2], "seq") == 0) {
		for (off_t off = 0; off + (off_t)req <= st.st_size; off += (off_t)req) {
			if (pread(fd, buf, req, off) != (ssize_t)req)
				return 1;
			bytes += req;
		}
	} else {
		uint64_t blocks = (uint64_t)st.st_size / 4096;

		for (long i = atol(argv[3]); i > 0; i--) {
			state ^= state << 13;
			state ^= state >> 7;
			state ^= state << 17;
			if (pread(fd, buf, 4096, (off_t)(state % blocks) * 4096) != 4096)
				return 1;
			bytes += 4096;
		}
	}
	printf("bytes=%llu ms=%llu\n", (unsigned long long)bytes, (unsigned long long)(now_ms() - t0));
	return 0;
}
