/*
 * virtio-net, the API's view: live changes to a running interface (PATCH
 * /network-interfaces). The device itself registers through DEVICE_DEFINE
 * (net.c) and is created from vm->cfg->nets.
 */
#ifndef LODGE_VIRTIO_NET_H
#define LODGE_VIRTIO_NET_H

#include "util/err.h"
#include "vmm/config.h"

struct vm;

/*
 * Interface (iface_id) of the running (vm) gets receive and transmit rate
 * limiters made from (rx) and (tx) (NULL: that one unchanged); buckets
 * configured as before keep their tokens, frames held back for the old
 * limiters are tried again. Any thread but the I/O thread. 0, or -errno
 * with (e) naming the problem and the interface unchanged (-ENOENT: no
 * such interface).
 */
int net_update_limiters(struct vm *vm, const char *iface_id, const struct rate_limiter_config *rx,
			const struct rate_limiter_config *tx, struct err *e);

#endif
