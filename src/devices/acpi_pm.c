/*
 * ACPI hardware-reduced sleep registers (ACPI 6.4 §4.8.3.7): the FADT points
 * SLEEP_CONTROL_REG and SLEEP_STATUS_REG here. Writing SLP_EN with the \_S5
 * sleep type (what Linux's poweroff does) ends lodge with status 0.
 */
#include <errno.h>

#include "arch/x86/layout.h"
#include "devices/device.h"
#include "vmm/vm.h"

static enum io_result acpi_sleep_ctl(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
				     bool is_write)
{
	struct vm *vm = opaque;

	(void)off;
	if (len != 1)
		return IO_FAILED;
	if (!is_write) {
		data[0] = 0;
		return IO_HANDLED;
	}
	if ((data[0] & ACPI_SLP_EN) &&
	    ((data[0] >> ACPI_SLP_TYP_SHIFT) & ACPI_SLP_TYP_MASK) == ACPI_S5_TYP)
		vm_request_exit(vm, VM_STATUS_OFF, "guest powered off (ACPI S5)");
	return IO_HANDLED;
}

static enum io_result acpi_sleep_sts(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
				     bool is_write)
{
	(void)opaque;
	(void)off;
	if (len != 1)
		return IO_FAILED;
	if (!is_write)
		data[0] = 0; /* never woken from a sleep state */
	return IO_HANDLED;
}

static int acpi_pm_init(struct vm *vm, void **state, struct err *e)
{
	*state = NULL;
	if (bus_register(&vm->pio, PORT_ACPI_SLEEP_CTL, 1, acpi_sleep_ctl, vm, "acpi-sleep-ctl") < 0 ||
	    bus_register(&vm->pio, PORT_ACPI_SLEEP_STS, 1, acpi_sleep_sts, vm, "acpi-sleep-sts") < 0)
		return errf(e, -EEXIST, "acpi-pm: ports already claimed");
	vm->acpi.sleep_ctl_port = PORT_ACPI_SLEEP_CTL;
	vm->acpi.sleep_sts_port = PORT_ACPI_SLEEP_STS;
	return 0;
}

static const struct device_desc acpi_pm_device = {
	.name = "acpi-pm",
	.order = DEVICE_ORDER_PLATFORM,
	.init = acpi_pm_init,
};
DEVICE_DEFINE(acpi_pm_device);
