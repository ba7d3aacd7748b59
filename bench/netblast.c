/*
 * bench/netblast: send small UDP datagrams to IP:PORT as fast as the host
 * kernel takes them for MS milliseconds (batches of 64 with sendmmsg), then
 * print "sent=N ms=M". bench/net runs it (as a CGI of the host's httpd) to
 * measure how many frames per second a VMM moves from its tap into the
 * guest; the guest counts what arrived.
 *
 *   netblast IP PORT BYTES MS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	static char payload[1472];
	unsigned long long sent = 0;
	double start, end, stop;
	long bytes, ms;
	int fd;

	if (argc != 5 || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
		fprintf(stderr, "usage: netblast IP PORT BYTES MS\n");
		return 2;
	}
	to.sin_port = htons((unsigned short)atoi(argv[2]));
	bytes = atol(argv[3]);
	ms = atol(argv[4]);
	if (bytes < 1 || bytes > (long)sizeof(payload) || ms < 1) {
		fprintf(stderr, "netblast: BYTES in 1..%zu, MS > 0\n", sizeof(payload));
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("netblast: socket");
		return 1;
	}
	iov.iov_base = payload;
	iov.iov_len = (size_t)bytes;
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof(to);
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	start = now_ms();
	stop = start + (double)ms;
	do {
		int n = sendmmsg(fd, msgs, BATCH, 0);

		if (n > 0)
			sent += (unsigned long long)n;
		end = now_ms();
	} while (end < stop);
	printf("sent=%llu ms=%.0f\n", sent, end - start);
	close(fd);
	return 0;
}
