#include "io/loop.h"

#include <errno.h>
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

int loop_init(struct loop *l)
{
	l->sources = NULL;
	l->dead = NULL;
	l->stop_fd = -1;
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

int loop_run(struct loop *l)
{
	struct epoll_event evs[16];

	for (;;) {
		int n = epoll_wait(l->epfd, evs, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct loop_source *s = evs[i].data.ptr;

			if (!s) {
				loop_reap(l);
				return 0;
			}
			if (!atomic_load(&s->dead))
				s->fn(s->opaque, evs[i].events);
		}
		loop_reap(l);
	}
}

void loop_stop(struct loop *l)
{
	uint64_t one = 1;

	if (write(l->stop_fd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow from single increments; nothing to do. */
	}
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
