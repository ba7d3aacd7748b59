/*
 * virtio-rng, the entropy device (virtio 1.2 §5.4): one request queue whose
 * device-writable buffers are filled from the host's getrandom(). Optional
 * rate limiter (Firecracker's entropy.rate_limiter).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include "devices/device.h"
#include "util/log.h"
#include "util/ratelimit.h"
#include "virtio/mmio.h"
#include "vmm/vm.h"

#define RNG_MAX_REQUEST (64 * 1024)     /* bytes given per request at most */

struct rng {
	struct virtio_dev dev;
	struct rate_limiter rl;
	struct vq_req req;
};

static bool rng_request(struct virtio_dev *d, unsigned q, struct vq_req *req)
{
	struct rng *s = d->priv;
	uint64_t want = req->write_len < RNG_MAX_REQUEST ? req->write_len : RNG_MAX_REQUEST;
	uint32_t done = 0;

	if (!ratelimit_consume(&s->rl, want, 1)) {
		vq_unpop(&d->vq[q]);
		return false;
	}
	for (unsigned i = req->nread; i < req->nread + req->nwrite && done < want; i++) {
		size_t n = req->seg[i].iov_len;
		ssize_t got;

		if (n > want - done)
			n = want - done;
		got = getrandom(req->seg[i].iov_base, n, 0);
		if (got <= 0)
			break;
		done += (uint32_t)got;
		if ((size_t)got < n)
			break;
	}
	vq_push(&d->vq[q], req->head, done);
	return true;
}

static void rng_notify(struct virtio_dev *d, unsigned q)
{
	struct rng *s = d->priv;

	virtio_drain(d, q, &s->req, rng_request);
}

static void rng_timer(void *opaque, uint32_t events)
{
	struct rng *s = opaque;

	(void)events;
	pthread_mutex_lock(&s->dev.lock);
	ratelimit_timer_fired(&s->rl);
	if (virtio_live(&s->dev) && s->dev.vq[0].ready)
		rng_notify(&s->dev, 0);
	pthread_mutex_unlock(&s->dev.lock);
}

static const struct virtio_ops rng_ops = {
	.kind = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nqueues = 1,
	.queue_max = 256,
	.notify = rng_notify,
};

static int rng_init(struct vm *vm, void **state, struct err *e)
{
	struct rng *s;
	int r;

	if (!vm->cfg->entropy.enabled)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return errf(e, -ENOMEM, "out of memory");
	*state = s;
	s->rl.timer_fd = -1;
	s->dev.ops = &rng_ops;
	s->dev.priv = s;
	snprintf(s->dev.name, sizeof(s->dev.name), "virtio-rng");
	r = ratelimit_init(&s->rl, &vm->cfg->entropy.limiter);
	if (r < 0)
		return errf(e, r, "virtio-rng: rate limiter: %s", strerror(-r));
	if (ratelimit_active(&s->rl) && loop_add(&vm->loop, s->rl.timer_fd, EPOLLIN, rng_timer, s) < 0)
		return errf(e, -ENOMEM, "virtio-rng: cannot watch the rate limiter");
	return virtio_mmio_create(vm, &s->dev, e);
}

static void rng_fini(struct vm *vm, void *state)
{
	struct rng *s = state;

	if (!s)
		return;
	if (ratelimit_active(&s->rl))
		loop_del(&vm->loop, s->rl.timer_fd);
	ratelimit_destroy(&s->rl);
	virtio_mmio_destroy(&s->dev);
	free(s);
}

static const struct device_desc rng_desc = {
	.name = "virtio-rng",
	.order = DEVICE_ORDER_VIRTIO + 4,
	.init = rng_init,
	.fini = rng_fini,
};
DEVICE_DEFINE(rng_desc);
