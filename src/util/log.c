#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_WARN;

/* Where lines go: stderr in lodge's format, or a file in Firecracker's. */
static struct {
	pthread_mutex_t lock;           /* guards the fields below while a line is written */
	int fd;                         /* -1: stderr, lodge's format */
	bool show_level, show_origin;
	char *module;                   /* NULL: every subsystem */
	char *id;                       /* NULL: "anonymous-instance" */
} sink = { PTHREAD_MUTEX_INITIALIZER, -1, false, false, NULL, NULL };

static _Atomic bool log_off;
static _Atomic uint64_t missed;

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

/* "src/virtio/blk.c" from "../src/virtio/blk.c": the path meson passes, from the repository. */
static const char *origin_file(const char *file)
{
	const char *s = strstr(file, "src/");

	return s ? s : file;
}

/* Firecracker's line: "TIME [ID:THREAD(:LEVEL)(:FILE:LINE)] subsys: message\n". */
static int format_fc(char *out, size_t n, enum log_level level, const char *file, int line,
		     const char *subsys, const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char thread[16] = "-", when[32], lvl[16] = "", origin[128] = "";

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_getname_np(pthread_self(), thread, sizeof(thread));
	if (sink.show_level)
		snprintf(lvl, sizeof(lvl), ":%s", level_names[level]);
	if (sink.show_origin)
		snprintf(origin, sizeof(origin), ":%s:%d", file ? origin_file(file) : "?", line);
	return snprintf(out, n, "%s.%09ld [%s:%s%s%s] %s%s%s\n", when, ts.tv_nsec,
			sink.id ? sink.id : "anonymous-instance", thread, lvl, origin,
			subsys && subsys[0] ? subsys : "", subsys && subsys[0] ? ": " : "", msg);
}

static void log_vmsg(enum log_level level, const char *file, int line, const char *subsys,
		     const char *fmt, va_list ap)
{
	char msg[1024], out[1400];
	int n;

	if (level > log_threshold || atomic_load(&log_off))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	pthread_mutex_lock(&sink.lock);
	if (sink.module && (!subsys || strncmp(subsys, sink.module, strlen(sink.module)) != 0)) {
		pthread_mutex_unlock(&sink.lock);
		return;
	}
	if (sink.fd >= 0) {
		n = format_fc(out, sizeof(out), level, file, line, subsys, msg);
		if (n < 0 || (size_t)n >= sizeof(out))
			n = (int)strlen(out);
		/* One write per line so lines from different threads do not interleave. */
		if (write(sink.fd, out, (size_t)n) != n)
			atomic_fetch_add(&missed, 1);
	} else if (subsys && subsys[0]) {
		fprintf(stderr, "lodge: %s: %s\n", subsys, msg);
	} else {
		fprintf(stderr, "lodge: %s\n", msg);
	}
	pthread_mutex_unlock(&sink.lock);
}

void log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, NULL, 0, subsys, fmt, ap);
	va_end(ap);
}

void log_msg_at(enum log_level level, const char *file, int line, const char *subsys,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, file, line, subsys, fmt, ap);
	va_end(ap);
}

int log_set_level(const char *name)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			log_threshold = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_set_path(const char *path)
{
	/* O_NONBLOCK: a named pipe nobody reads must not stop lodge (lines are counted as missed). */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
	int old;

	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&sink.lock);
	old = sink.fd;
	sink.fd = fd;
	pthread_mutex_unlock(&sink.lock);
	if (old >= 0)
		close(old);
	return 0;
}

void log_set_format(bool show_level, bool show_origin)
{
	pthread_mutex_lock(&sink.lock);
	sink.show_level = show_level;
	sink.show_origin = show_origin;
	pthread_mutex_unlock(&sink.lock);
}

/* Replace the string at (dst) with a copy of (s) (NULL clears it) under the sink lock. */
static int set_sink_string(char **dst, const char *s)
{
	char *copy = s ? strdup(s) : NULL;

	if (s && !copy)
		return -ENOMEM;
	pthread_mutex_lock(&sink.lock);
	free(*dst);
	*dst = copy;
	pthread_mutex_unlock(&sink.lock);
	return 0;
}

int log_set_module(const char *prefix)
{
	return set_sink_string(&sink.module, prefix);
}

int log_set_instance_id(const char *id)
{
	return set_sink_string(&sink.id, id);
}

void log_set_off(bool off)
{
	atomic_store(&log_off, off);
}

uint64_t log_missed_count(void)
{
	return atomic_load(&missed);
}

void log_trace_point(const char *what)
{
	static struct timespec start;
	struct timespec now;

	if (log_threshold < LOG_DEBUG)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (start.tv_sec == 0 && start.tv_nsec == 0)
		start = now;
	log_msg(LOG_DEBUG, "trace", "+%ld us %s",
		(long)((now.tv_sec - start.tv_sec) * 1000000 + (now.tv_nsec - start.tv_nsec) / 1000),
		what);
}
