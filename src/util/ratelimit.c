#include "util/ratelimit.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void bucket_init(struct token_bucket *b, const struct token_bucket_config *c, uint64_t now)
{
	b->size = c->size;
	b->refill_ns = c->refill_time_ms * 1000000ull;
	b->tokens = (int64_t)c->size;
	b->burst = c->one_time_burst;
	b->last_ns = now;
}

static void bucket_refill(struct token_bucket *b, uint64_t now)
{
	uint64_t dt = now - b->last_ns;
	/* tokens = dt * size / refill_ns, without overflow for sane inputs. */
	unsigned __int128 add = (unsigned __int128)dt * b->size / b->refill_ns;

	if (add == 0)
		return;
	b->last_ns = now;
	if (add >= (unsigned __int128)b->size * 2 || b->tokens + (int64_t)add > (int64_t)b->size)
		b->tokens = (int64_t)b->size;
	else
		b->tokens += (int64_t)add;
}

/* 0 when (n) tokens can be taken now, else the nanoseconds until they can. */
static uint64_t bucket_wait(struct token_bucket *b, uint64_t n, uint64_t now)
{
	int64_t deficit;
	uint64_t need;

	if (b->size == 0 || n <= b->burst)
		return 0;
	bucket_refill(b, now);
	need = n - b->burst;
	if (need > b->size)
		need = b->size;         /* overconsumption: wait for a full bucket only */
	deficit = (int64_t)need - b->tokens;
	if (deficit <= 0)
		return 0;
	return (uint64_t)(((unsigned __int128)deficit * b->refill_ns + b->size - 1) / b->size);
}

static void bucket_take(struct token_bucket *b, uint64_t n)
{
	uint64_t from_burst = n < b->burst ? n : b->burst;

	if (b->size == 0)
		return;
	b->burst -= from_burst;
	b->tokens -= (int64_t)(n - from_burst);
}

int ratelimit_init(struct rate_limiter *rl, const struct rate_limiter_config *cfg)
{
	uint64_t now = now_ns();

	memset(rl, 0, sizeof(*rl));
	rl->timer_fd = -1;
	bucket_init(&rl->bytes, &cfg->bandwidth, now);
	bucket_init(&rl->ops, &cfg->ops, now);
	if (!rl->bytes.size && !rl->ops.size)
		return 0;
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	return rl->timer_fd < 0 ? -errno : 0;
}

bool ratelimit_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t ops)
{
	uint64_t now, w1, w2, wait;

	if (rl->timer_fd < 0)
		return true;
	if (rl->waiting)
		return false;
	now = now_ns();
	w1 = bucket_wait(&rl->bytes, bytes, now);
	w2 = bucket_wait(&rl->ops, ops, now);
	wait = w1 > w2 ? w1 : w2;
	if (wait == 0) {
		bucket_take(&rl->bytes, bytes);
		bucket_take(&rl->ops, ops);
		return true;
	}
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(wait / 1000000000ull),
			      .tv_nsec = (long)(wait % 1000000000ull) },
	};
	timerfd_settime(rl->timer_fd, 0, &its, NULL);
	rl->waiting = true;
	rl->throttled++;
	return false;
}

static bool bucket_same(const struct token_bucket_config *a, const struct token_bucket_config *b)
{
	return a->size == b->size && a->one_time_burst == b->one_time_burst &&
	       a->refill_time_ms == b->refill_time_ms;
}

void ratelimit_carry(struct rate_limiter *to, const struct rate_limiter_config *to_cfg,
		     const struct rate_limiter *from, const struct rate_limiter_config *from_cfg)
{
	if (bucket_same(&to_cfg->bandwidth, &from_cfg->bandwidth))
		to->bytes = from->bytes;
	if (bucket_same(&to_cfg->ops, &from_cfg->ops))
		to->ops = from->ops;
	to->throttled = from->throttled;
}

void ratelimit_timer_fired(struct rate_limiter *rl)
{
	uint64_t n;

	if (read(rl->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	rl->waiting = false;
}

void ratelimit_destroy(struct rate_limiter *rl)
{
	if (rl->timer_fd >= 0)
		close(rl->timer_fd);
	rl->timer_fd = -1;
}
