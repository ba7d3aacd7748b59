/*
 * The I/O loop: sources removed from a callback while their events are in
 * the same batch; pausing and resuming the thread that runs it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "io/loop.h"

struct pair {
	struct loop *l;
	int fd[2];
	int calls;
	int last_fd;
};

/* Each callback removes the other source: only one of the two may run. */
static void remove_other(struct pair *p, int self)
{
	p->calls++;
	p->last_fd = self;
	assert_int_equal(loop_del(p->l, p->fd[0] == self ? p->fd[1] : p->fd[0]), 0);
	assert_int_equal(loop_del(p->l, self), 0);
	loop_stop(p->l);
}

static void cb0(void *opaque, uint32_t events)
{
	struct pair *p = opaque;

	(void)events;
	remove_other(p, p->fd[0]);
}

static void cb1(void *opaque, uint32_t events)
{
	struct pair *p = opaque;

	(void)events;
	remove_other(p, p->fd[1]);
}

static void test_remove_in_batch(void **state)
{
	struct loop l;
	struct pair p = { .l = &l };
	uint64_t one = 1;

	(void)state;
	assert_int_equal(loop_init(&l), 0);
	for (int i = 0; i < 2; i++) {
		p.fd[i] = eventfd(0, EFD_NONBLOCK);
		assert_true(p.fd[i] >= 0);
		assert_int_equal(loop_add(&l, p.fd[i], EPOLLIN, i ? cb1 : cb0, &p), 0);
		assert_int_equal(write(p.fd[i], &one, sizeof(one)), sizeof(one));
	}
	assert_int_equal(loop_run(&l), 0);
	assert_int_equal(p.calls, 1);
	assert_int_equal(loop_del(&l, p.fd[0]), -ENOENT);
	assert_int_equal(loop_mod(&l, p.fd[1], EPOLLIN), -ENOENT);
	loop_destroy(&l);
	close(p.fd[0]);
	close(p.fd[1]);
}

/* A source whose callback counts, and can be held inside until released. */
struct held {
	struct loop l;
	int fd;
	_Atomic int calls;
	_Atomic bool hold, inside, paused;
	pthread_t io, pauser;
};

static void held_cb(void *opaque, uint32_t events)
{
	struct held *h = opaque;
	uint64_t n;

	(void)events;
	assert_int_equal(read(h->fd, &n, sizeof(n)), sizeof(n));
	atomic_store(&h->inside, true);
	while (atomic_load(&h->hold))
		usleep(1000);
	atomic_fetch_add(&h->calls, 1);
	atomic_store(&h->inside, false);
}

static void *held_run(void *arg)
{
	struct held *h = arg;

	assert_int_equal(loop_run(&h->l), 0);
	return NULL;
}

static void *held_pause(void *arg)
{
	struct held *h = arg;

	loop_pause(&h->l);
	atomic_store(&h->paused, true);
	return NULL;
}

static void held_kick(struct held *h)
{
	uint64_t one = 1;

	assert_int_equal(write(h->fd, &one, sizeof(one)), sizeof(one));
}

/* Wait up to a second for (*v) to reach (want). */
static bool wait_int(_Atomic int *v, int want)
{
	for (int i = 0; i < 1000 && atomic_load(v) != want; i++)
		usleep(1000);
	return atomic_load(v) == want;
}

static void held_start(struct held *h)
{
	memset(h, 0, sizeof(*h));
	assert_int_equal(loop_init(&h->l), 0);
	h->fd = eventfd(0, EFD_NONBLOCK);
	assert_true(h->fd >= 0);
	assert_int_equal(loop_add(&h->l, h->fd, EPOLLIN, held_cb, h), 0);
	assert_int_equal(pthread_create(&h->io, NULL, held_run, h), 0);
}

static void held_stop(struct held *h)
{
	loop_stop(&h->l);
	assert_int_equal(pthread_join(h->io, NULL), 0);
	loop_destroy(&h->l);
	close(h->fd);
}

/* loop_pause waits for the callback in progress, then no callback runs until loop_resume. */
static void test_pause_waits_for_callback(void **state)
{
	struct held h;

	(void)state;
	held_start(&h);
	atomic_store(&h.hold, true);
	held_kick(&h);
	while (!atomic_load(&h.inside))
		usleep(1000);
	assert_int_equal(pthread_create(&h.pauser, NULL, held_pause, &h), 0);
	usleep(50000);
	assert_false(atomic_load(&h.paused));   /* still inside the callback */
	atomic_store(&h.hold, false);
	assert_int_equal(pthread_join(h.pauser, NULL), 0);
	assert_true(atomic_load(&h.paused));
	assert_false(atomic_load(&h.inside));
	assert_int_equal(atomic_load(&h.calls), 1);
	/* Parked: an event waits. */
	held_kick(&h);
	usleep(50000);
	assert_int_equal(atomic_load(&h.calls), 1);
	loop_resume(&h.l);
	assert_true(wait_int(&h.calls, 2));
	held_stop(&h);
}

/* Pauses nest; the last resume lets events through. */
static void test_pause_nests(void **state)
{
	struct held h;

	(void)state;
	held_start(&h);
	loop_pause(&h.l);
	loop_pause(&h.l);
	held_kick(&h);
	loop_resume(&h.l);
	usleep(50000);
	assert_int_equal(atomic_load(&h.calls), 0);
	loop_resume(&h.l);
	assert_true(wait_int(&h.calls, 1));
	/* A resume too many is harmless. */
	loop_resume(&h.l);
	held_kick(&h);
	assert_true(wait_int(&h.calls, 2));
	held_stop(&h);
}

/* loop_stop ends a parked loop. */
static void test_stop_while_paused(void **state)
{
	struct held h;

	(void)state;
	held_start(&h);
	loop_pause(&h.l);
	held_kick(&h);
	held_stop(&h);
	assert_int_equal(atomic_load(&h.calls), 0);
}

/* Paused before any thread runs it: returns at once; loop_run then parks first. */
static void test_pause_before_run(void **state)
{
	struct held h;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(loop_init(&h.l), 0);
	h.fd = eventfd(0, EFD_NONBLOCK);
	assert_true(h.fd >= 0);
	assert_int_equal(loop_add(&h.l, h.fd, EPOLLIN, held_cb, &h), 0);
	loop_pause(&h.l);
	held_kick(&h);
	assert_int_equal(pthread_create(&h.io, NULL, held_run, &h), 0);
	usleep(50000);
	assert_int_equal(atomic_load(&h.calls), 0);
	loop_resume(&h.l);
	assert_true(wait_int(&h.calls, 1));
	held_stop(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remove_in_batch),
		cmocka_unit_test(test_pause_waits_for_callback),
		cmocka_unit_test(test_pause_nests),
		cmocka_unit_test(test_stop_while_paused),
		cmocka_unit_test(test_pause_before_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
