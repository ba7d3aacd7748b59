/*
 * Token-bucket rate limiting with Firecracker's semantics (RateLimiter:
 * a bandwidth bucket and an ops bucket; each has size tokens refilled
 * evenly over refill_time, plus a one-time burst spent first). A request
 * bigger than a full bucket is let through and leaves a debt, so large
 * requests are slowed, not starved.
 *
 * When a request must wait, ratelimit_consume() arms (timer_fd); the device
 * watches it and retries when it fires.
 */
#ifndef LODGE_UTIL_RATELIMIT_H
#define LODGE_UTIL_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/config.h"

struct token_bucket {
	uint64_t size;                  /* 0: unlimited */
	uint64_t refill_ns;             /* time to refill (size) tokens */
	int64_t tokens;                 /* may go negative (debt) */
	uint64_t burst;                 /* one-time burst left */
	uint64_t last_ns;
};

struct rate_limiter {
	struct token_bucket bytes, ops;
	int timer_fd;                   /* -1 when nothing is limited */
	bool waiting;                   /* timer armed, requests held back */
	uint64_t throttled;             /* times a request had to wait */
};

/* Set up from (cfg); 0 or -errno (timerfd). */
int ratelimit_init(struct rate_limiter *rl, const struct rate_limiter_config *cfg);

/* True when (rl) limits anything. */
static inline bool ratelimit_active(const struct rate_limiter *rl)
{
	return rl->timer_fd >= 0;
}

/*
 * Take (bytes) and (ops) tokens. True: go ahead. False: nothing was taken,
 * the timer is armed; try again when it fires.
 */
bool ratelimit_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t ops);

/*
 * A live update: (to), just made by ratelimit_init() for (to_cfg), takes
 * over (from)'s state (tokens, burst left) for each bucket that (from_cfg),
 * (from)'s configuration, sets the same, and its throttled count. A bucket
 * given anew starts full, as Firecracker's update does.
 */
void ratelimit_carry(struct rate_limiter *to, const struct rate_limiter_config *to_cfg,
		     const struct rate_limiter *from, const struct rate_limiter_config *from_cfg);

/* The timer fired: clear it (call from the timer_fd's handler). */
void ratelimit_timer_fired(struct rate_limiter *rl);

void ratelimit_destroy(struct rate_limiter *rl);

#endif
