/*
 * ACPI tables for a hardware-reduced platform (ACPI 6.4 §4.1): RSDP, XSDT,
 * FADT, MADT, DSDT. Built into a host buffer destined for guest address
 * LAYOUT_ACPI; pure code, no KVM needed (unit-tested with iasl).
 */
#ifndef LODGE_ARCH_X86_ACPI_H
#define LODGE_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_MMIO_DEVS 32

/* A device in the MMIO hole described in the DSDT (virtio-mmio: hid "LNRO0005"). */
struct acpi_mmio_dev {
	const char *hid;        /* _HID, e.g. "LNRO0005" */
	uint64_t base;
	uint32_t size;
	uint32_t gsi;           /* edge-triggered, active high */
};

struct acpi_config {
	unsigned ncpus;                 /* LAPIC IDs 0..ncpus-1 */
	uint64_t lapic_addr;
	uint64_t ioapic_addr;
	uint8_t ioapic_id;
	uint16_t sleep_ctl_port;        /* FADT SLEEP_CONTROL_REG, 8-bit I/O */
	uint16_t sleep_sts_port;        /* FADT SLEEP_STATUS_REG, 8-bit I/O */
	uint16_t reset_port;            /* FADT RESET_REG, 8-bit I/O */
	uint8_t reset_value;
	uint16_t com1_port;             /* described as PNP0501 in the DSDT; 0: no COM1 */
	uint8_t com1_irq;
	uint16_t kbd_port;              /* i8042 data port (status/command at +4) as PNP0303; 0: none */
	uint8_t kbd_irq;
	unsigned nmmio;
	struct acpi_mmio_dev mmio[ACPI_MAX_MMIO_DEVS];
	/*
	 * VMGenID: \_SB.VGEN (_CID "VMGENCTR") whose ADDR
	 * method returns the guest address of the 16-byte generation ID,
	 * 8-byte aligned; 0: no VGEN device.
	 */
	uint64_t vmgenid_addr;
	/*
	 * \_SB.GED, a Generic Event Device (ACPI0013) on this GSI (edge, active
	 * high) whose event does Notify (\_SB.VGEN, 0x80); needs vmgenid_addr.
	 * 0: no GED.
	 */
	uint32_t ged_gsi;
};

/*
 * Build the tables into (buf, size), which the guest will see at (gpa);
 * the RSDP is at offset 0. Returns the number of bytes used, or -ENOSPC /
 * -EINVAL.
 */
long acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t size, uint64_t gpa);

#endif
