/*
 * VMGenID (Microsoft's "Virtual Machine Generation ID"; Linux's
 * drivers/virt/vmgenid.c): 16 random bytes at LAYOUT_VMGENID, which the
 * e820 map reserves, found by the guest through \_SB.VGEN's ADDR method.
 * vmgenid_restored() draws new bytes and pulses GSI_GED, whose Generic Event
 * Device (ACPI 6.4 §5.6.9) does Notify (\_SB.VGEN, 0x80): Linux then
 * rereads the ID and, as it differs, reseeds its RNG ("crng reseeded due to
 * virtual machine fork"). No bus ranges, no state: the ID lives in guest
 * memory, so a snapshot carries it like any other RAM.
 */
#include "devices/vmgenid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "arch/x86/layout.h"
#include "devices/device.h"
#include "util/log.h"
#include "vmm/vm.h"

_Static_assert(LAYOUT_VMGENID_SIZE == VMGENID_SIZE, "layout.h and vmgenid.h agree");
_Static_assert(LAYOUT_VMGENID % 8 == 0, "the ID is 8-byte aligned");
_Static_assert(LAYOUT_VMGENID >= LAYOUT_EBDA &&
		       LAYOUT_VMGENID + LAYOUT_VMGENID_SIZE <= LAYOUT_ACPI,
	       "the ID lies in reserved low memory, below the ACPI tables");

/* Fill (id) from the host's getrandom(); 0 or -errno. */
static int vmgenid_draw(uint8_t id[VMGENID_SIZE])
{
	ssize_t n;

	do
		n = getrandom(id, VMGENID_SIZE, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* Requests of up to 256 bytes are never short (getrandom(2)). */
	return n == VMGENID_SIZE ? 0 : -EIO;
}

/* Write a new random ID into (vm)'s memory; 0 or -errno. */
static int vmgenid_renew(struct vm *vm)
{
	uint8_t id[VMGENID_SIZE];
	char hex[2 * VMGENID_SIZE + 1];
	int r = vmgenid_draw(id);

	if (r < 0)
		return r;
	r = gmem_write(&vm->mem, LAYOUT_VMGENID, id, sizeof(id));
	if (r < 0)
		return r;
	for (unsigned i = 0; i < VMGENID_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	log_debug("vmgenid", "generation ID %s at %#llx", hex, LAYOUT_VMGENID);
	return 0;
}

int vmgenid_restored(struct vm *vm)
{
	int r;

	if (!vm->acpi.vmgenid_addr)
		return -ENODEV;
	r = vmgenid_renew(vm);
	if (r < 0) {
		log_err("vmgenid", "new generation ID: %s", strerror(-r));
		return r;
	}
	if (!vm->acpi.ged_gsi)
		return 0;
	/* An edge on the GED's pin (edge-triggered, active high in its _CRS). */
	r = vm_irq_line(vm, vm->acpi.ged_gsi, 1);
	if (r == 0)
		r = vm_irq_line(vm, vm->acpi.ged_gsi, 0);
	if (r < 0)
		log_err("vmgenid", "GED interrupt on GSI %u: %s", vm->acpi.ged_gsi, strerror(-r));
	return r;
}

int vmgenid_get(struct vm *vm, uint8_t id[VMGENID_SIZE])
{
	return gmem_read(&vm->mem, LAYOUT_VMGENID, id, VMGENID_SIZE);
}

static int vmgenid_init(struct vm *vm, void **state, struct err *e)
{
	int r = vmgenid_renew(vm);

	*state = NULL;
	if (r < 0)
		return errf(e, r, "vmgenid: writing the generation ID at %#llx: %s",
			    LAYOUT_VMGENID, strerror(-r));
	vm->acpi.vmgenid_addr = LAYOUT_VMGENID;
	vm->acpi.ged_gsi = GSI_GED;
	return 0;
}

static const struct device_desc vmgenid_device = {
	.name = "vmgenid",
	.order = DEVICE_ORDER_PLATFORM,
	.init = vmgenid_init,
};
DEVICE_DEFINE(vmgenid_device);
