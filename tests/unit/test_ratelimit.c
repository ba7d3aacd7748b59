/*
 * Token-bucket rate limiter (src/util/ratelimit.c): unlimited buckets, the
 * one-time burst, refill capped at the bucket size, overconsumption debt and
 * the timer armed for the time a held-back request must wait. Real clocks:
 * slow buckets where a test must not see a refill, short ones (tens of ms)
 * where it waits for one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/ratelimit.h"

#define MS 1000000ull
#define DAY_MS 86400000ull      /* a refill so slow that no test sees a token of it */

static struct rate_limiter_config limits(uint64_t size, uint64_t burst, uint64_t refill_ms,
					 uint64_t ops_size, uint64_t ops_refill_ms)
{
	struct rate_limiter_config c = {
		.bandwidth = { .size = size, .one_time_burst = burst, .refill_time_ms = refill_ms },
		.ops = { .size = ops_size, .refill_time_ms = ops_refill_ms },
	};

	return c;
}

/* Nanoseconds left on the limiter's timer (0: disarmed). */
static uint64_t timer_left(const struct rate_limiter *rl)
{
	struct itimerspec its;

	assert_int_equal(timerfd_gettime(rl->timer_fd, &its), 0);
	return (uint64_t)its.it_value.tv_sec * 1000000000ull + (uint64_t)its.it_value.tv_nsec;
}

/* Wait for the timer the limiter armed and tell it so. */
static void wait_timer(struct rate_limiter *rl)
{
	struct pollfd p = { .fd = rl->timer_fd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, 5000), 1);
	ratelimit_timer_fired(rl);
	assert_false(rl->waiting);
}

static void test_unlimited(void **state)
{
	struct rate_limiter_config c = limits(0, 0, 0, 0, 0);
	struct rate_limiter rl;

	(void)state;
	assert_int_equal(ratelimit_init(&rl, &c), 0);
	assert_false(ratelimit_active(&rl));
	assert_int_equal(rl.timer_fd, -1);
	for (int i = 0; i < 1000; i++)
		assert_true(ratelimit_consume(&rl, UINT64_MAX / 2, UINT64_MAX / 2));
	assert_int_equal(rl.throttled, 0);
	ratelimit_destroy(&rl);
}

/* The burst is spent first, then the bucket; then requests wait. */
static void test_burst_then_bucket(void **state)
{
	struct rate_limiter_config c = limits(1000, 500, DAY_MS, 0, 0);
	struct rate_limiter rl;
	uint64_t left;

	(void)state;
	assert_int_equal(ratelimit_init(&rl, &c), 0);
	assert_true(ratelimit_active(&rl));
	assert_true(ratelimit_consume(&rl, 300, 1));
	assert_int_equal(rl.bytes.burst, 200);
	assert_int_equal(rl.bytes.tokens, 1000);
	/* 200 from what is left of the burst, 100 from the bucket. */
	assert_true(ratelimit_consume(&rl, 300, 1));
	assert_int_equal(rl.bytes.burst, 0);
	assert_int_equal(rl.bytes.tokens, 900);
	assert_true(ratelimit_consume(&rl, 900, 1));
	assert_int_equal(rl.bytes.tokens, 0);
	assert_int_equal(rl.throttled, 0);
	assert_int_equal(timer_left(&rl), 0);

	/* Empty: one byte waits for one token, 1/1000 of a day (86.4 s). */
	assert_false(ratelimit_consume(&rl, 1, 1));
	assert_true(rl.waiting);
	assert_int_equal(rl.throttled, 1);
	assert_int_equal(rl.bytes.tokens, 0);   /* nothing taken */
	left = timer_left(&rl);
	assert_true(left > 80000 * MS && left <= 86400 * MS);
	/* While waiting nothing passes, not even an empty request, and it counts once. */
	assert_false(ratelimit_consume(&rl, 0, 0));
	assert_int_equal(rl.throttled, 1);
	ratelimit_destroy(&rl);
	assert_false(ratelimit_active(&rl));
}

/* A request bigger than the bucket passes on a full bucket and leaves a debt. */
static void test_overconsumption_debt(void **state)
{
	struct rate_limiter_config c = limits(100, 0, 100, 0, 0);
	struct rate_limiter rl;
	uint64_t left;

	(void)state;
	assert_int_equal(ratelimit_init(&rl, &c), 0);
	assert_true(ratelimit_consume(&rl, 250, 0));
	assert_int_equal(rl.bytes.tokens, -150);
	/* One more byte waits for the debt plus one token: 151 ms at 1 per ms. */
	assert_false(ratelimit_consume(&rl, 1, 0));
	left = timer_left(&rl);
	assert_true(left > 120 * MS && left <= 151 * MS);
	wait_timer(&rl);
	assert_true(ratelimit_consume(&rl, 1, 0));
	assert_true(rl.bytes.tokens >= 0 && rl.bytes.tokens < 100);
	ratelimit_destroy(&rl);
}

/* Bigger than the bucket on a part-full bucket: wait for a full bucket only. */
static void test_oversized_waits_for_full_bucket(void **state)
{
	struct rate_limiter_config c = limits(100, 0, 100, 0, 0);
	struct rate_limiter rl;
	uint64_t left;

	(void)state;
	assert_int_equal(ratelimit_init(&rl, &c), 0);
	assert_true(ratelimit_consume(&rl, 50, 0));
	assert_false(ratelimit_consume(&rl, 10000, 0));
	left = timer_left(&rl);
	assert_true(left > 20 * MS && left <= 50 * MS);
	wait_timer(&rl);
	assert_true(ratelimit_consume(&rl, 10000, 0));
	assert_true(rl.bytes.tokens < -9800);
	ratelimit_destroy(&rl);
}

/* Tokens come back over refill_time, never more than the bucket holds. */
static void test_refill_capped(void **state)
{
	struct rate_limiter_config c = limits(1000, 0, 100, 0, 0);
	struct rate_limiter rl;

	(void)state;
	assert_int_equal(ratelimit_init(&rl, &c), 0);
	assert_true(ratelimit_consume(&rl, 1000, 0));
	assert_false(ratelimit_consume(&rl, 500, 0));
	assert_true(timer_left(&rl) <= 50 * MS);
	wait_timer(&rl);
	assert_true(ratelimit_consume(&rl, 500, 0));
	/* Idle for three refill times: the bucket is full, not three times full. */
	usleep(300 * 1000);
	assert_true(ratelimit_consume(&rl, 1000, 0));
	assert_int_equal(rl.bytes.tokens, 0);
	ratelimit_destroy(&rl);
}

static void test_ops_bucket(void **state)
{
	struct rate_limiter_config c = limits(0, 0, 0, 2, DAY_MS);
	struct rate_limiter rl;

	(void)state;
	assert_int_equal(ratelimit_init(&rl, &c), 0);
	assert_true(ratelimit_active(&rl));
	/* Bytes are not limited: any size goes while operations are left. */
	assert_true(ratelimit_consume(&rl, UINT64_MAX / 2, 1));
	assert_true(ratelimit_consume(&rl, 1, 1));
	assert_false(ratelimit_consume(&rl, 0, 1));
	assert_int_equal(rl.ops.tokens, 0);
	assert_int_equal(rl.throttled, 1);
	ratelimit_destroy(&rl);
}

/* Both buckets short: the timer covers the longer wait, and neither is charged. */
static void test_longest_wait_wins(void **state)
{
	struct rate_limiter_config c = limits(100, 0, 10, 1, DAY_MS);
	struct rate_limiter rl;

	(void)state;
	assert_int_equal(ratelimit_init(&rl, &c), 0);
	assert_true(ratelimit_consume(&rl, 100, 1));
	assert_false(ratelimit_consume(&rl, 50, 1));
	assert_true(timer_left(&rl) > 60000 * MS);      /* the ops bucket's day */
	assert_int_equal(rl.ops.tokens, 0);
	assert_true(rl.bytes.tokens <= 100);
	ratelimit_timer_fired(&rl);                     /* nothing to read yet: just re-opens */
	assert_false(rl.waiting);
	assert_false(ratelimit_consume(&rl, 0, 1));
	assert_int_equal(rl.throttled, 2);
	ratelimit_destroy(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_burst_then_bucket),
		cmocka_unit_test(test_overconsumption_debt),
		cmocka_unit_test(test_oversized_waits_for_full_bucket),
		cmocka_unit_test(test_refill_capped),
		cmocka_unit_test(test_ops_bucket),
		cmocka_unit_test(test_longest_wait_wins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
