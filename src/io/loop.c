#include "io/loop.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct loop_source {
	int fd;
	loop_fn fn;
	void *opaque;
	_Atomic bool dead;              /* removed: events still queued for it are dropped */
	struct loop_source *next;
};

/*
 * Sources may be added and removed while the loop runs, from its own
 * callbacks or from other threads: a removed source is unlinked at once but
 * freed only between two batches of events (loop_run), since the batch in
 * hand may still name it. (lock) guards both lists.
 */
static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Pause state (struct loop's pause_count, running, parked, thread). The
 * I/O thread parks in poll() on stop_fd, not on (pause_cond), so that
 * loop_stop() (async-signal-safe: an atomic store and a write) still ends it.
 */
static pthread_mutex_t pause_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pause_cond = PTHREAD_COND_INITIALIZER;

int loop_init(struct loop *l)
{
	l->sources = NULL;
	l->dead = NULL;
	l->stop_fd = -1;
	atomic_store(&l->stop_requested, false);
	l->pause_count = 0;
	l->running = l->parked = false;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stop_fd < 0) {
		int err = -errno;

		loop_destroy(l);
		return err;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_fd, &ev) < 0) {
		int err = -errno;

		loop_destroy(l);
		return err;
	}
	return 0;
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fn fn, void *opaque)
{
	struct loop_source *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->fn = fn;
	s->opaque = opaque;
	struct epoll_event ev = { .events = events, .data.ptr = s };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		free(s);
		return err;
	}
	pthread_mutex_lock(&loop_lock);
	s->next = l->sources;
	l->sources = s;
	pthread_mutex_unlock(&loop_lock);
	return 0;
}

int loop_del(struct loop *l, int fd)
{
	int r = -ENOENT;

	pthread_mutex_lock(&loop_lock);
	for (struct loop_source **p = &l->sources; *p; p = &(*p)->next) {
		if ((*p)->fd == fd) {
			struct loop_source *s = *p;

			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			*p = s->next;
			atomic_store(&s->dead, true);
			s->next = l->dead;
			l->dead = s;
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&loop_lock);
	return r;
}

int loop_mod(struct loop *l, int fd, uint32_t events)
{
	int r = -ENOENT;

	pthread_mutex_lock(&loop_lock);
	for (struct loop_source *s = l->sources; s; s = s->next) {
		if (s->fd == fd) {
			struct epoll_event ev = { .events = events, .data.ptr = s };

			r = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
			break;
		}
	}
	pthread_mutex_unlock(&loop_lock);
	return r;
}

/* Free the sources removed so far (the loop thread, between batches). */
static void loop_reap(struct loop *l)
{
	struct loop_source *dead;

	pthread_mutex_lock(&loop_lock);
	dead = l->dead;
	l->dead = NULL;
	pthread_mutex_unlock(&loop_lock);
	while (dead) {
		struct loop_source *s = dead;

		dead = s->next;
		free(s);
	}
}

/* Wake loop_run() out of epoll_wait() or a park (any thread). */
static void loop_wake(struct loop *l)
{
	uint64_t one = 1;

	if (write(l->stop_fd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow from single increments; nothing to do. */
	}
}

/* stop_fd fired: consume the wake-up; true when it was loop_stop(). */
static bool loop_woken(struct loop *l)
{
	uint64_t n;

	if (read(l->stop_fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: another wake-up already consumed it. */
	}
	return atomic_load(&l->stop_requested);
}

/*
 * Between batches: stay parked while a pause is requested (I/O thread).
 * Returns true when loop_stop() was called.
 */
static bool loop_park(struct loop *l)
{
	pthread_mutex_lock(&pause_lock);
	if (l->pause_count && !atomic_load(&l->stop_requested)) {
		l->parked = true;
		pthread_cond_broadcast(&pause_cond);
		while (l->pause_count && !atomic_load(&l->stop_requested)) {
			struct pollfd p = { .fd = l->stop_fd, .events = POLLIN };

			pthread_mutex_unlock(&pause_lock);
			if (poll(&p, 1, -1) > 0)
				loop_woken(l);
			pthread_mutex_lock(&pause_lock);
		}
		l->parked = false;
	}
	pthread_mutex_unlock(&pause_lock);
	return atomic_load(&l->stop_requested);
}

static void loop_enter(struct loop *l)
{
	pthread_mutex_lock(&pause_lock);
	l->running = true;
	l->thread = pthread_self();
	pthread_mutex_unlock(&pause_lock);
}

static void loop_leave(struct loop *l)
{
	pthread_mutex_lock(&pause_lock);
	l->running = l->parked = false;
	pthread_cond_broadcast(&pause_cond);
	pthread_mutex_unlock(&pause_lock);
}

/* One batch of events; 1 to go on, 0 when stopped, -errno on an epoll failure. */
static int loop_batch(struct loop *l)
{
	struct epoll_event evs[16];
	int n = epoll_wait(l->epfd, evs, 16, -1);

	if (n < 0)
		return errno == EINTR ? 1 : -errno;
	for (int i = 0; i < n; i++) {
		struct loop_source *s = evs[i].data.ptr;

		if (!s) {
			/* A stop, or a pause/resume wake-up: the park check follows the batch. */
			if (loop_woken(l))
				return 0;
			continue;
		}
		if (!atomic_load(&s->dead))
			s->fn(s->opaque, evs[i].events);
	}
	return 1;
}

int loop_run(struct loop *l)
{
	int r = 1;

	loop_enter(l);
	while (r > 0 && !loop_park(l)) {
		r = loop_batch(l);
		loop_reap(l);
	}
	loop_reap(l);
	loop_leave(l);
	return r < 0 ? r : 0;
}

void loop_stop(struct loop *l)
{
	atomic_store(&l->stop_requested, true);
	loop_wake(l);
}

void loop_pause(struct loop *l)
{
	pthread_mutex_lock(&pause_lock);
	if (l->running && pthread_equal(l->thread, pthread_self()))
		abort(); /* lodge's own bug: the I/O thread would wait for itself */
	l->pause_count++;
	if (l->running) {
		loop_wake(l);
		while (l->running && !l->parked)
			pthread_cond_wait(&pause_cond, &pause_lock);
	}
	pthread_mutex_unlock(&pause_lock);
}

void loop_resume(struct loop *l)
{
	pthread_mutex_lock(&pause_lock);
	if (l->pause_count && --l->pause_count == 0 && l->running)
		loop_wake(l);
	pthread_mutex_unlock(&pause_lock);
}

void loop_destroy(struct loop *l)
{
	loop_reap(l);
	while (l->sources) {
		struct loop_source *s = l->sources;

		l->sources = s->next;
		free(s);
	}
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = l->stop_fd = -1;
}
