/*
 * Host tap devices, the back end of virtio-net: attach to a tap interface
 * that already exists (the host's administrator made it and gave it its
 * addresses), with a virtio-net header in front of every frame both ways
 * (IFF_VNET_HDR), non-blocking.
 */
#ifndef LODGE_VIRTIO_TAP_H
#define LODGE_VIRTIO_TAP_H

#include <stdbool.h>

#include "util/err.h"

/* Offloads the tap may hand us (its TUN_F_* bits, see tap_set_offload()). */
#define TAP_OFFLOAD_CSUM    0x01u       /* partial checksums (NEEDS_CSUM) */
#define TAP_OFFLOAD_TSO4    0x02u       /* TCP segmentation, IPv4 */
#define TAP_OFFLOAD_TSO6    0x04u       /* TCP segmentation, IPv6 */
#define TAP_OFFLOAD_TSO_ECN 0x08u       /* TSO with the CWR flag set */

/*
 * Attach to the existing tap interface (name) with a (vnet_hdr_len)-byte
 * virtio-net header on each frame and no offloads yet. Returns the fd
 * (O_NONBLOCK, O_CLOEXEC) or -errno with one line in (e) that says what is
 * wrong: no such interface, not a tap, in use, no permission.
 */
int tap_open(const char *name, int vnet_hdr_len, struct err *e);

/*
 * Let the tap hand us frames with these offloads (TAP_OFFLOAD_* bits; TSO
 * needs CSUM); others are resolved by the host kernel before the frame
 * reaches us. 0 or -errno.
 */
int tap_set_offload(int fd, unsigned offloads);

#endif
