/*
 * Device registration. Each device file declares a struct device_desc with
 * DEVICE_DEFINE(); the VM core walks the "lodge_devices" linker section in
 * (order, name) order and never names a device itself.
 */
#ifndef LODGE_DEVICES_DEVICE_H
#define LODGE_DEVICES_DEVICE_H

#include "util/err.h"

struct vm;
struct snap_writer;
struct snap_cursor;

/* Initialisation order bands: lower first. */
enum device_order {
	DEVICE_ORDER_PLATFORM = 10,     /* power, reset, exit ports */
	DEVICE_ORDER_LEGACY = 20,       /* UART, fw_cfg */
	DEVICE_ORDER_VIRTIO = 30,
};

struct device_desc {
	const char *name;
	int order;
	/*
	 * Create the device for (vm) if its configuration asks for it: claim bus
	 * ranges, add ACPI entries, register fds with the I/O loop. Sets
	 * (*state) to what fini() will get (NULL when not created). 0 or -errno.
	 */
	int (*init)(struct vm *vm, void **state, struct err *e);
	/* Release what init() made; called after every vCPU has stopped. */
	void (*fini)(struct vm *vm, void *state);
	/*
	 * Snapshots (optional; absent: the device has no guest-visible state).
	 * save: append the device's state to the section the core opened (and
	 * named) for it; called with the vCPUs and the I/O thread parked and
	 * every virtio device quiesced. (state) is what init() set, possibly
	 * NULL. 0 or -errno (the writer's own errors are sticky in w->error).
	 */
	int (*save)(struct vm *vm, void *state, struct snap_writer *w, struct err *e);
	/*
	 * restore: read back what save() wrote into a device that init() has
	 * just made from the same configuration, before the I/O thread and any
	 * vCPU thread start. The cursor's bytes are hostile: every value is
	 * checked, and a bad one is -EINVAL with one line in (e). The core then
	 * calls snap_cursor_done() to refuse short or trailing bytes.
	 */
	int (*restore)(struct vm *vm, void *state, struct snap_cursor *c, struct err *e);
};

#define DEVICE_DEFINE(desc)                                                         \
	static const struct device_desc *const device_ptr_##desc                    \
		__attribute__((used, section("lodge_devices"), aligned(sizeof(void *)))) = &desc

/* The registered devices, sorted by order then name; returns the count. */
unsigned device_list(const struct device_desc *const **out);

#endif
