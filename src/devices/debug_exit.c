/*
 * QEMU's isa-debug-exit at port 0xf4: a write of v ends lodge with status
 * (v << 1) | 1, so guests and test suites written for QEMU run unchanged.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/device.h"
#include "vmm/vm.h"

static enum io_result debug_exit_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
				    bool is_write)
{
	struct vm *vm = opaque;
	uint32_t v = 0;
	char why[64];

	(void)off;
	if (!is_write)
		return IO_UNHANDLED;
	memcpy(&v, data, len > 4 ? 4 : len);
	snprintf(why, sizeof(why), "guest debug-exit 0x%x", v);
	vm_request_exit(vm, (int)(((v << 1) | 1) & 0xff), why);
	return IO_HANDLED;
}

static int debug_exit_init(struct vm *vm, void **state, struct err *e)
{
	*state = NULL;
	if (bus_register(&vm->pio, PORT_DEBUG_EXIT, 4, debug_exit_io, vm, "debug-exit") < 0)
		return errf(e, -EEXIST, "debug-exit: port 0x%x already claimed", PORT_DEBUG_EXIT);
	return 0;
}

static const struct device_desc debug_exit_device = {
	.name = "debug-exit",
	.order = DEVICE_ORDER_PLATFORM,
	.init = debug_exit_init,
};
DEVICE_DEFINE(debug_exit_device);
