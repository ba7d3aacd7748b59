/*
 * virtio-blk: live updates of a running drive (the API's PATCH /drives), and
 * the request handling, reachable without a VM for unit tests and fuzzing.
 * The device itself registers through DEVICE_DEFINE (blk.c).
 */
#ifndef LODGE_VIRTIO_BLK_H
#define LODGE_VIRTIO_BLK_H

#include <stdbool.h>

#include "util/err.h"
#include "virtio/mmio.h"
#include "vmm/config.h"

struct blk;
struct vm;

/*
 * PATCH /drives/{id}: drive (drive_id) of the running (vm) takes the image
 * at (path) (unless NULL: opened as the drive's own was, then swapped in
 * between two requests, the guest told the new capacity by a configuration
 * change interrupt) and a rate limiter made from (rl) (unless NULL; buckets
 * configured as before keep their tokens). Any thread but the I/O thread.
 * 0, or -errno with (e) naming the problem and the drive unchanged
 * (-ENOENT: no such drive).
 */
int blk_update(struct vm *vm, const char *drive_id, const char *path,
	       const struct rate_limiter_config *rl, struct err *e);

/* blk_update() on device (b) itself; detached devices too (their limiter has no timer watch). */
int blk_device_update(struct blk *b, const char *path, const struct rate_limiter_config *rl,
		      struct err *e);

/*
 * A virtio-blk device over (c)'s image, opened as for a guest, with no VM:
 * no transport, no io_uring (the synchronous engine whatever c->io says), no
 * rate limiter. The caller maps blk_detached_dev()->vq[0] over its own guest
 * memory (vq_activate) and hands popped chains to blk_request(). (c) must
 * outlive the device. NULL with (e) filled on failure.
 */
struct blk *blk_detached_create(const struct drive_config *c, struct err *e);

/* The device's transport-side state (its queue is vq[0]). */
struct virtio_dev *blk_detached_dev(struct blk *b);

/* Close the image and free (b). */
void blk_detached_destroy(struct blk *b);

/*
 * Serve one request (the virtio_drain() handler): parse the header, do the
 * I/O, write the status byte and vq_push() the chain on vq[0]. False when the
 * rate limiter put it back (vq_unpop), else true.
 */
bool blk_request(struct virtio_dev *d, unsigned q, struct vq_req *req);

#endif
