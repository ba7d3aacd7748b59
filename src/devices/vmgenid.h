/*
 * VMGenID: a 16-byte generation ID in reserved guest RAM (LAYOUT_VMGENID),
 * described in the DSDT as \_SB.VGEN, that changes whenever the guest may
 * have been duplicated (a snapshot restored), so that the guest reseeds its
 * random state. The change is announced by the ACPI Generic Event Device
 * \_SB.GED on GSI_GED (docs/GUEST-ABI.md). Always present.
 */
#ifndef LODGE_DEVICES_VMGENID_H
#define LODGE_DEVICES_VMGENID_H

#include <stdint.h>

struct vm;

#define VMGENID_SIZE 16

/*
 * A snapshot of (vm) has just been restored (guest memory and irqchip state
 * in place, vCPUs not yet running): write a new random ID into guest memory,
 * then pulse the GED's interrupt so the guest rereads it. 0 or -errno (the
 * ID could not be drawn or written, or the interrupt not raised); logged.
 */
int vmgenid_restored(struct vm *vm);

/* Read the current ID of (vm) into (id); 0 or -EFAULT. */
int vmgenid_get(struct vm *vm, uint8_t id[VMGENID_SIZE]);

#endif
