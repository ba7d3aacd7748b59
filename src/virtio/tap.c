/*
 * Host tap devices for virtio-net. See tap.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "virtio/tap.h"

_Static_assert(TAP_OFFLOAD_CSUM == TUN_F_CSUM && TAP_OFFLOAD_TSO4 == TUN_F_TSO4 &&
	       TAP_OFFLOAD_TSO6 == TUN_F_TSO6 && TAP_OFFLOAD_TSO_ECN == TUN_F_TSO_ECN,
	       "TAP_OFFLOAD_* are the kernel's TUN_F_* bits");

#define TUN_PATH "/dev/net/tun"

/* TUNSETIFF's errors, said for a user who named an interface. */
static int attach_error(const char *name, int err, struct err *e)
{
	switch (err) {
	case EINVAL:
		return errf(e, -err, "tap '%s': not a tap interface", name);
	case EBUSY:
		return errf(e, -err, "tap '%s': already in use (another process holds it)", name);
	case EPERM:
	case EACCES:
		return errf(e, -err, "tap '%s': permission denied (needs CAP_NET_ADMIN, or a tap "
			    "whose owner or group is lodge's)", name);
	default:
		return errf(e, -err, "tap '%s': TUNSETIFF: %s", name, strerror(err));
	}
}

int tap_open(const char *name, int vnet_hdr_len, struct err *e)
{
	struct ifreq ifr;
	int fd, err;

	if (strlen(name) >= IFNAMSIZ)
		return errf(e, -EINVAL, "tap '%s': interface names have at most %d characters",
			    name, IFNAMSIZ - 1);
	/* TUNSETIFF would create a missing interface: lodge only attaches to existing ones. */
	if (if_nametoindex(name) == 0)
		return errf(e, -ENODEV, "tap '%s': no such network interface (create it first, "
			    "e.g. ip tuntap add dev %s mode tap)", name, name);
	fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		return errf(e, -err, "tap '%s': %s: %s%s", name, TUN_PATH, strerror(err),
			    err == ENOENT ? " (is the tun module loaded?)" : "");
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = errno;
		close(fd);
		return attach_error(name, err, e);
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &vnet_hdr_len) < 0 || tap_set_offload(fd, 0) < 0) {
		err = errno;
		close(fd);
		return errf(e, -err, "tap '%s': cannot set the virtio-net header: %s", name,
			    strerror(err));
	}
	return fd;
}

int tap_set_offload(int fd, unsigned offloads)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)offloads) < 0 ? -errno : 0;
}
