/*
 * Run a command N times and print its wall time (mean, min, median in
 * microseconds) and the largest child RSS, as one line of key=value pairs.
 * Works the same natively and in the KVM lab's busybox, where no hyperfine
 * exists. Usage: runs N EXPECTED_STATUS CMD [ARGS...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n, expected, bad = 0;
	double *t, sum = 0;
	struct rusage ru;

	if (argc < 4)
		return fprintf(stderr, "usage: runs N EXPECTED_STATUS CMD [ARGS...]\n"), 2;
	n = atoi(argv[1]);
	expected = atoi(argv[2]);
	if (n < 1)
		return 2;
	t = calloc((size_t)n, sizeof(*t));
	for (int i = 0; i < n; i++) {
		double start = now_us();
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			execvp(argv[3], argv + 3);
			_exit(127);
		}
		waitpid(pid, &st, 0);
		t[i] = now_us() - start;
		sum += t[i];
		if (!WIFEXITED(st) || WEXITSTATUS(st) != expected)
			bad++;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("runs=%d mean_us=%.0f min_us=%.0f median_us=%.0f maxrss_kib=%ld unexpected_status=%d\n",
	       n, sum / n, t[0], t[n / 2], ru.ru_maxrss, bad);
	free(t);
	return bad ? 1 : 0;
}
