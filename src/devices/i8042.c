/*
 * The i8042 keyboard controller, reduced to what a microVM needs: the CPU
 * reset line (command 0xfe on port 0x64), which ends lodge with status 0
 * like Firecracker's reboot. There is no keyboard: data reads return 0.
 */
#include <errno.h>
#include <stdlib.h>

#include "arch/x86/layout.h"
#include "devices/device.h"
#include "vmm/vm.h"

/* Status register: input and output buffers empty, system flag set. */
#define I8042_STATUS_SYS 0x04

static enum io_result i8042_cmd(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
				bool is_write)
{
	struct vm *vm = opaque;

	(void)off;
	if (len != 1)
		return IO_FAILED;
	if (!is_write)
		data[0] = I8042_STATUS_SYS;
	else if (data[0] == I8042_CMD_RESET)
		vm_request_exit(vm, VM_STATUS_OFF, "guest reset through the i8042");
	return IO_HANDLED;
}

static enum io_result i8042_data(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
				 bool is_write)
{
	(void)opaque;
	(void)off;
	if (len != 1)
		return IO_FAILED;
	if (!is_write)
		data[0] = 0;
	return IO_HANDLED;
}

static int i8042_init(struct vm *vm, void **state, struct err *e)
{
	*state = NULL;
	if (bus_register(&vm->pio, PORT_I8042_DATA, 1, i8042_data, vm, "i8042-data") < 0 ||
	    bus_register(&vm->pio, PORT_I8042_CMD, 1, i8042_cmd, vm, "i8042-cmd") < 0)
		return errf(e, -EEXIST, "i8042: ports already claimed");
	vm->acpi.reset_port = PORT_I8042_CMD;
	vm->acpi.reset_value = I8042_CMD_RESET;
	return 0;
}

static const struct device_desc i8042_device = {
	.name = "i8042",
	.order = DEVICE_ORDER_PLATFORM,
	.init = i8042_init,
};
DEVICE_DEFINE(i8042_device);
