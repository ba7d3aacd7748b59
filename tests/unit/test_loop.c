/* The I/O loop: sources removed from a callback while their events are in the same batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/epoll.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remove_in_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
