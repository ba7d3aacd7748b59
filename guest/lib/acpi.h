/*
 * ACPI table lookup (ACPI 6.4 §5.2): RSDP from the loader or the legacy
 * scan of 0xe0000-0xfffff, then XSDT (or RSDT), MADT, FADT, DSDT.
 * Tables are read in place (they lie in reserved memory).
 */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#define ACPI_MAX_CPUS 256

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

/* What the MADT says about the interrupt controllers and the CPUs. */
struct acpi_madt_info {
	uint64_t lapic_addr;
	uint64_t ioapic_addr;           /* 0 when there is no IOAPIC entry */
	unsigned ioapic_id;
	unsigned ioapic_gsi_base;
	unsigned ncpus;                 /* enabled (or online-capable) Local APIC / x2APIC entries */
	uint32_t apic_ids[ACPI_MAX_CPUS];
	unsigned nr_overrides;          /* interrupt source overrides seen */
	uint32_t isa_gsi[16];           /* ISA IRQ -> GSI, identity unless overridden */
	uint16_t isa_flags[16];         /* MPS INTI flags of the override, 0 = bus default */
};

/* Physical address of the RSDP, or 0 when there is none (checksum checked). */
uint64_t acpi_rsdp(void);

/* True when the root table is an XSDT (RSDP revision >= 2), false for an RSDT. */
bool acpi_root_is_xsdt(void);

/* Number of tables the XSDT/RSDT lists (0 without ACPI). */
unsigned acpi_table_count(void);

/* Table (i) of the XSDT/RSDT, or NULL. */
const struct acpi_header *acpi_table(unsigned i);

/* The first table with (sig) (e.g. "APIC", "FACP", also "DSDT" via the FADT), or NULL. */
const struct acpi_header *acpi_find(const char *sig);

/* True when the table's bytes sum to 0. */
bool acpi_checksum_ok(const struct acpi_header *h);

/* Parse the MADT into (out); false when there is no MADT. */
bool acpi_madt(struct acpi_madt_info *out);

/*
 * Walk the DSDT's Device() objects and call (fn)(name, hid, arg) for each
 * one with a _HID: (name) is the 4-character NameSeg, (hid) the _HID as a
 * string ("PNP0501", "LNRO0005"). A shallow AML scan, not an interpreter.
 * Returns the number of devices found.
 */
unsigned acpi_dsdt_devices(void (*fn)(const char *name, const char *hid, void *arg), void *arg);

/*
 * The FADT's hardware-reduced SLEEP_CONTROL_REG (ACPI 6.4 §4.8.3.7) and
 * RESET_REG: address space (0 memory, 1 I/O) and address; false when
 * absent.
 */
bool acpi_sleep_ctl_reg(uint8_t *space, uint64_t *addr);
bool acpi_reset_reg(uint8_t *space, uint64_t *addr, uint8_t *value);

#endif
