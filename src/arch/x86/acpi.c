/*
 * ACPI tables for a hardware-reduced x86 platform (ACPI 6.4 §4.1): no PM1
 * or GPE blocks, no SCI, no FACS; sleep and reset through three 8-bit I/O
 * registers named in the FADT. The buffer holds, in order:
 *
 *   RSDP (offset 0) | XSDT | DSDT | tables listed in the XSDT (FADT, MADT)
 *
 * each table starting on a 16-byte boundary. acpi_build() runs the same
 * emitter twice: once without a buffer to measure, then for real, so a
 * buffer too small is never written at all.
 */
#include "arch/x86/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/aml.h"
#include "arch/x86/layout.h"

/*
 * Up to APIC ID 254 a CPU is a Processor Local APIC entry, from 255 a
 * Processor Local x2APIC entry (ACPI 6.4 §5.2.12.12 requires exactly this
 * split). No x86 KVM allows more than 4096 vCPUs; their MADT is then
 * about 64 KiB, half the ACPI area of layout.h.
 */
#define ACPI_MAX_CPUS         4096u
#define ACPI_XAPIC_MAX_ID     254u

/* Identification common to every table (§5.2.6). */
#define ACPI_OEM_ID           "LODGE "
#define ACPI_OEM_TABLE_ID     "LODGEVM "
#define ACPI_OEM_REVISION     1
#define ACPI_CREATOR_ID       "LODG"
#define ACPI_CREATOR_REVISION 1

#define ACPI_TABLE_ALIGN      16

/* System Description Table Header (§5.2.6). */
#define HDR_LENGTH            4
#define HDR_REVISION          8
#define HDR_CHECKSUM          9
#define HDR_OEM_ID            10
#define HDR_OEM_TABLE_ID      16
#define HDR_OEM_REVISION      24
#define HDR_CREATOR_ID        28
#define HDR_CREATOR_REVISION  32
#define HDR_SIZE              36

/* Root System Description Pointer (§5.2.5.3). */
#define RSDP_CHECKSUM         8
#define RSDP_OEM_ID           9
#define RSDP_REVISION         15
#define RSDP_LENGTH           20
#define RSDP_XSDT_ADDRESS     24
#define RSDP_EXT_CHECKSUM     32
#define RSDP_V1_SIZE          20        /* what the first checksum covers */
#define RSDP_SIZE             36

/* Fixed ACPI Description Table, revision 6 (§5.2.9). */
#define FADT_REVISION         6
#define FADT_MINOR_VERSION    4         /* ACPI 6.4 */
#define FADT_IAPC_BOOT_ARCH   109
#define FADT_FLAGS            112
#define FADT_RESET_REG        116
#define FADT_RESET_VALUE      128
#define FADT_MINOR            131
#define FADT_X_DSDT           140
#define FADT_SLEEP_CONTROL    244
#define FADT_SLEEP_STATUS     256
#define FADT_HYPERVISOR_ID    268
#define FADT_SIZE             276

/* FADT Fixed Feature Flags (§5.2.9). */
#define FADT_F_WBINVD         (1u << 0)
#define FADT_F_PWR_BUTTON     (1u << 4)   /* set: no fixed-feature power button */
#define FADT_F_SLP_BUTTON     (1u << 5)   /* set: no fixed-feature sleep button */
#define FADT_F_RESET_REG_SUP  (1u << 10)
#define FADT_F_HW_REDUCED     (1u << 20)

/* IA-PC Boot Architecture Flags (§5.2.9.3). */
#define BOOT_ARCH_8042        (1u << 1)
#define BOOT_ARCH_NO_VGA      (1u << 2)
#define BOOT_ARCH_NO_MSI      (1u << 3)
#define BOOT_ARCH_NO_CMOS_RTC (1u << 5)

/* Generic Address Structure (§5.2.3.2). */
#define GAS_SIZE              12
#define GAS_SYSTEM_IO         1
#define GAS_ACCESS_BYTE       1

/* Multiple APIC Description Table (§5.2.12). */
#define MADT_REVISION         5
#define MADT_PCAT_COMPAT      (1u << 0)
#define MADT_LAPIC            0
#define MADT_LAPIC_SIZE       8
#define MADT_IOAPIC           1
#define MADT_IOAPIC_SIZE      12
#define MADT_LAPIC_NMI        4
#define MADT_LAPIC_NMI_SIZE   6
#define MADT_X2APIC           9
#define MADT_X2APIC_SIZE      16
#define MADT_X2APIC_NMI       10
#define MADT_X2APIC_NMI_SIZE  12
#define MADT_CPU_ENABLED      (1u << 0)
#define MADT_ALL_CPUS_XAPIC   0xffu
#define MADT_ALL_CPUS_X2APIC  0xffffffffu
/* MPS INTI flags (§5.2.12.5): active high (01), edge triggered (01 << 2). */
#define MPS_INTI_EDGE_HIGH    0x0005u
#define LAPIC_NMI_LINT1       1

#define XSDT_REVISION         1
#define DSDT_REVISION         2         /* 2 and above: AML integers are 64-bit (§5.2.11.1) */

/* One build pass: writes outside (buf, size) are dropped, (len) still grows. */
struct acpi_ctx {
	uint8_t *buf;                   /* NULL while measuring */
	size_t size;
	size_t len;
	uint64_t gpa;                   /* guest address of buf[0] */
	const struct acpi_config *cfg;
	uint64_t dsdt_gpa;
};

static void put(struct acpi_ctx *c, size_t off, uint64_t v, unsigned nbytes)
{
	for (unsigned i = 0; i < nbytes; i++) {
		if (c->buf && off + i < c->size)
			c->buf[off + i] = (uint8_t)(v >> (8 * i));
	}
}

static void put_str(struct acpi_ctx *c, size_t off, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put(c, off + i, (uint8_t)s[i], 1);
}

/* Reserve (n) zeroed bytes (acpi_build() cleared the buffer) at (align); returns their offset. */
static size_t reserve(struct acpi_ctx *c, size_t n, size_t align)
{
	size_t off = (c->len + align - 1) / align * align;

	c->len = off + n;
	return off;
}

/* Store at (at) the byte that makes (off, n) sum to zero. */
static void checksum(struct acpi_ctx *c, size_t off, size_t n, size_t at)
{
	uint8_t sum = 0;

	if (!c->buf || off + n > c->size)
		return;
	for (size_t i = 0; i < n; i++)
		sum = (uint8_t)(sum + c->buf[off + i]);
	c->buf[at] = (uint8_t)(c->buf[at] - sum);
}

/* Start a table with (sig) and (revision); returns its offset. */
static size_t table_begin(struct acpi_ctx *c, const char *sig, uint8_t revision)
{
	size_t off = reserve(c, HDR_SIZE, ACPI_TABLE_ALIGN);

	put_str(c, off, sig, 4);
	put(c, off + HDR_REVISION, revision, 1);
	put_str(c, off + HDR_OEM_ID, ACPI_OEM_ID, 6);
	put_str(c, off + HDR_OEM_TABLE_ID, ACPI_OEM_TABLE_ID, 8);
	put(c, off + HDR_OEM_REVISION, ACPI_OEM_REVISION, 4);
	put_str(c, off + HDR_CREATOR_ID, ACPI_CREATOR_ID, 4);
	put(c, off + HDR_CREATOR_REVISION, ACPI_CREATOR_REVISION, 4);
	return off;
}

/* Fill in Length (len) and Checksum of the table at (off), once its contents are final. */
static void table_seal(struct acpi_ctx *c, size_t off, size_t len)
{
	put(c, off + HDR_LENGTH, len, 4);
	checksum(c, off, len, off + HDR_CHECKSUM);
}

/* The table at (off) ends at the current length. */
static void table_end(struct acpi_ctx *c, size_t off)
{
	table_seal(c, off, c->len - off);
}

/* An 8-bit System I/O register at (port) (§5.2.3.2). */
static void put_gas_io8(struct acpi_ctx *c, size_t off, uint16_t port)
{
	put(c, off, GAS_SYSTEM_IO, 1);
	put(c, off + 1, 8, 1);          /* register bit width */
	put(c, off + 2, 0, 1);          /* register bit offset */
	put(c, off + 3, GAS_ACCESS_BYTE, 1);
	put(c, off + 4, port, 8);
}

/* The \_S5 package: SLP_TYPa, SLP_TYPb, two reserved (§7.4.2, §7.4.2.6). */
static void dsdt_sleep_states(struct aml *a)
{
	aml_name(a, "\\_S5");
	aml_package(a, 4);
	aml_integer(a, ACPI_S5_TYP);
	aml_integer(a, ACPI_S5_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a);
}

/* The 16550 at COM1 as a PNP0501 device (§6.1.5 _HID, §6.2.2 _CRS); port 0 means none. */
static void dsdt_com1(struct aml *a, const struct acpi_config *cfg)
{
	aml_device(a, "COM1");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	aml_restemplate(a);
	aml_res_io(a, cfg->com1_port, 8);
	aml_res_irq_noflags(a, cfg->com1_irq);
	aml_end(a);
	aml_end(a);
}

/* The i8042's keyboard as a PNP0303 device: data port, status/command port, IRQ. */
static void dsdt_kbd(struct aml *a, const struct acpi_config *cfg)
{
	aml_device(a, "PS2K");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0303");
	aml_name(a, "_CRS");
	aml_restemplate(a);
	aml_res_io(a, cfg->kbd_port, 1);
	aml_res_io(a, (uint16_t)(cfg->kbd_port + 4), 1);
	aml_res_irq_noflags(a, cfg->kbd_irq);
	aml_end(a);
	aml_end(a);
}

/* A device in the MMIO hole, e.g. virtio-mmio, which Linux finds by _HID "LNRO0005". */
static void dsdt_mmio_dev(struct aml *a, const struct acpi_mmio_dev *d, unsigned idx)
{
	char name[5];

	_Static_assert(ACPI_MAX_MMIO_DEVS <= 1000, "device names are V000..V999");
	snprintf(name, sizeof(name), "V%03u", idx % 1000);
	aml_device(a, name);
	aml_name(a, "_HID");
	aml_string(a, d->hid);
	aml_name(a, "_UID");
	aml_integer(a, idx);
	aml_name(a, "_CRS");
	aml_restemplate(a);
	aml_res_mem32_fixed(a, true, (uint32_t)d->base, d->size);
	aml_res_ext_irq(a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, d->gsi);
	aml_end(a);
	aml_end(a);
}

/* The VMGenID device and the event that announces a new generation ID. */
#define VGEN_PATH             "\\_SB.VGEN"
#define VGEN_NOTIFY           0x80      /* device-specific (§5.6.6); Linux rereads on any value */

/*
 * Virtual Machine Generation ID (Microsoft's "Virtual Machine Generation ID"
 * paper): a device with _CID "VMGENCTR" (which every Linux vmgenid driver,
 * 5.18 on, matches as well as the older "VM_Gen_Counter") and an ADDR
 * method that returns a Package of the low and high 32 bits of the ID's
 * address. _HID is lodge's own (an ACPI ID needs one; nobody matches it).
 */
static void dsdt_vmgenid(struct aml *a, const struct acpi_config *cfg)
{
	aml_device(a, "VGEN");
	aml_name(a, "_HID");
	aml_string(a, "LODG0001");
	aml_name(a, "_CID");
	aml_string(a, "VMGENCTR");
	aml_method(a, "ADDR", 0, false);
	aml_return(a);
	aml_package(a, 2);
	aml_integer(a, (uint32_t)cfg->vmgenid_addr);
	aml_integer(a, cfg->vmgenid_addr >> 32);
	aml_end(a);
	aml_end(a);
	aml_end(a);
}

/*
 * A Generic Event Device (§5.6.9): on its interrupt the OS evaluates
 * _EVT (GSI), which notifies VGEN (§5.6.6) of a new generation ID.
 */
static void dsdt_ged(struct aml *a, const struct acpi_config *cfg)
{
	aml_device(a, "GED");
	aml_name(a, "_HID");
	aml_string(a, "ACPI0013");
	aml_name(a, "_CRS");
	aml_restemplate(a);
	aml_res_ext_irq(a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, cfg->ged_gsi);
	aml_end(a);
	aml_method(a, "_EVT", 1, false);
	aml_if(a);
	aml_lequal(a);
	aml_arg(a, 0);
	aml_integer(a, cfg->ged_gsi);
	aml_notify(a, VGEN_PATH, VGEN_NOTIFY);
	aml_end(a);
	aml_end(a);
	aml_end(a);
}

/* Differentiated System Description Table (§5.2.11.1): a header, then AML. */
static long dsdt_build(struct acpi_ctx *c)
{
	const struct acpi_config *cfg = c->cfg;
	size_t off = table_begin(c, "DSDT", DSDT_REVISION);
	struct aml a;
	long n;

	if (!c->buf)
		aml_init(&a, NULL, 0);
	else if (c->len <= c->size)
		aml_init(&a, c->buf + c->len, c->size - c->len);
	else
		aml_init(&a, c->buf + c->size, 0);
	dsdt_sleep_states(&a);
	aml_scope(&a, "\\_SB");
	if (cfg->com1_port)
		dsdt_com1(&a, cfg);
	if (cfg->kbd_port)
		dsdt_kbd(&a, cfg);
	for (unsigned i = 0; i < cfg->nmmio; i++)
		dsdt_mmio_dev(&a, &cfg->mmio[i], i);
	if (cfg->vmgenid_addr)
		dsdt_vmgenid(&a, cfg);
	if (cfg->ged_gsi)
		dsdt_ged(&a, cfg);
	aml_end(&a);
	n = aml_finish(&a);
	if (n == -EINVAL)
		return n;
	c->len += a.len;
	table_end(c, off);
	return (long)off;
}

/* Fixed ACPI Description Table (§5.2.9) for a hardware-reduced platform (§4.1). */
static long fadt_build(struct acpi_ctx *c)
{
	const struct acpi_config *cfg = c->cfg;
	size_t off = table_begin(c, "FACP", FADT_REVISION);

	reserve(c, FADT_SIZE - HDR_SIZE, 1);
	/*
	 * FIRMWARE_CTRL, X_FIRMWARE_CTRL: 0, no FACS (allowed when hardware-
	 * reduced). DSDT: 0 since X_DSDT is set. SCI_INT: 0, there is no SCI.
	 * All legacy PM and GPE blocks: 0.
	 *
	 * IAPC_BOOT_ARCH: no VGA; no CMOS RTC (lodge emulates none, so Linux
	 * registers no rtc_cmos); MSI not supported, as there is no PCI (revisit
	 * with a PCI transport). The 8042 bit stays clear: lodge only emulates
	 * the reset line at port 0x64, reached through RESET_REG, and a clear
	 * bit keeps Linux's i8042 driver from probing for a keyboard.
	 */
	put(c, off + FADT_IAPC_BOOT_ARCH,
	    BOOT_ARCH_NO_VGA | BOOT_ARCH_NO_MSI | BOOT_ARCH_NO_CMOS_RTC, 2);
	put(c, off + FADT_FLAGS,
	    FADT_F_WBINVD | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP |
		    FADT_F_HW_REDUCED, 4);
	put_gas_io8(c, off + FADT_RESET_REG, cfg->reset_port);
	put(c, off + FADT_RESET_VALUE, cfg->reset_value, 1);
	put(c, off + FADT_MINOR, FADT_MINOR_VERSION, 1);
	put(c, off + FADT_X_DSDT, c->dsdt_gpa, 8);
	/* §4.8.3.7: Linux powers off by writing SLP_TYP (from \_S5) | SLP_EN here. */
	put_gas_io8(c, off + FADT_SLEEP_CONTROL, cfg->sleep_ctl_port);
	put_gas_io8(c, off + FADT_SLEEP_STATUS, cfg->sleep_sts_port);
	put_str(c, off + FADT_HYPERVISOR_ID, "LODGEVMM", 8);
	table_end(c, off);
	return (long)off;
}

static void madt_cpu(struct acpi_ctx *c, uint32_t id)
{
	size_t e;

	if (id <= ACPI_XAPIC_MAX_ID) {
		/* Processor Local APIC (§5.2.12.2): UID, APIC ID, flags. */
		e = reserve(c, MADT_LAPIC_SIZE, 1);
		put(c, e, MADT_LAPIC, 1);
		put(c, e + 1, MADT_LAPIC_SIZE, 1);
		put(c, e + 2, id, 1);
		put(c, e + 3, id, 1);
		put(c, e + 4, MADT_CPU_ENABLED, 4);
	} else {
		/* Processor Local x2APIC (§5.2.12.12): x2APIC ID, flags, UID. */
		e = reserve(c, MADT_X2APIC_SIZE, 1);
		put(c, e, MADT_X2APIC, 1);
		put(c, e + 1, MADT_X2APIC_SIZE, 1);
		put(c, e + 4, id, 4);
		put(c, e + 8, MADT_CPU_ENABLED, 4);
		put(c, e + 12, id, 4);
	}
}

/*
 * Multiple APIC Description Table (§5.2.12). CPU i has APIC ID and ACPI
 * processor UID i. PCAT_COMPAT is set because KVM's in-kernel irqchip does
 * provide a pair of 8259s, which an OS using the IOAPIC must mask (Linux on
 * a hardware-reduced platform ignores the PIC anyway). There are no
 * Interrupt Source Overrides: ISA IRQ n is GSI n, edge, active high.
 */
static long madt_build(struct acpi_ctx *c)
{
	const struct acpi_config *cfg = c->cfg;
	size_t off = table_begin(c, "APIC", MADT_REVISION);
	size_t e = reserve(c, 8, 1);

	put(c, e, cfg->lapic_addr, 4);
	put(c, e + 4, MADT_PCAT_COMPAT, 4);
	for (uint32_t i = 0; i < cfg->ncpus; i++)
		madt_cpu(c, i);

	/* I/O APIC (§5.2.12.3): ID, reserved, address, GSI base. */
	e = reserve(c, MADT_IOAPIC_SIZE, 1);
	put(c, e, MADT_IOAPIC, 1);
	put(c, e + 1, MADT_IOAPIC_SIZE, 1);
	put(c, e + 2, cfg->ioapic_id, 1);
	put(c, e + 4, cfg->ioapic_addr, 4);
	put(c, e + 8, 0, 4);

	/* LINT1 is the NMI line on every CPU (§5.2.12.7, §5.2.12.13). */
	e = reserve(c, MADT_LAPIC_NMI_SIZE, 1);
	put(c, e, MADT_LAPIC_NMI, 1);
	put(c, e + 1, MADT_LAPIC_NMI_SIZE, 1);
	put(c, e + 2, MADT_ALL_CPUS_XAPIC, 1);
	put(c, e + 3, MPS_INTI_EDGE_HIGH, 2);
	put(c, e + 5, LAPIC_NMI_LINT1, 1);
	if (cfg->ncpus > ACPI_XAPIC_MAX_ID + 1) {
		e = reserve(c, MADT_X2APIC_NMI_SIZE, 1);
		put(c, e, MADT_X2APIC_NMI, 1);
		put(c, e + 1, MADT_X2APIC_NMI_SIZE, 1);
		put(c, e + 2, MPS_INTI_EDGE_HIGH, 2);
		put(c, e + 4, MADT_ALL_CPUS_X2APIC, 4);
		put(c, e + 8, LAPIC_NMI_LINT1, 1);
	}
	table_end(c, off);
	return (long)off;
}

/* The tables the XSDT lists, in order; a new table is one builder and one line here. */
static long (*const xsdt_tables[])(struct acpi_ctx *c) = {
	fadt_build,
	madt_build,
};
#define XSDT_NTABLES (sizeof(xsdt_tables) / sizeof(xsdt_tables[0]))

/* Emit everything; returns 0 or -EINVAL (from the AML emitter). */
static int acpi_emit(struct acpi_ctx *c)
{
	size_t rsdp = reserve(c, RSDP_SIZE, ACPI_TABLE_ALIGN);
	size_t xsdt = table_begin(c, "XSDT", XSDT_REVISION);
	size_t entries = reserve(c, 8 * XSDT_NTABLES, 1);
	long off = dsdt_build(c);

	if (off < 0)
		return (int)off;
	c->dsdt_gpa = c->gpa + (uint64_t)off;
	for (size_t i = 0; i < XSDT_NTABLES; i++) {
		off = xsdt_tables[i](c);
		if (off < 0)
			return (int)off;
		put(c, entries + 8 * i, c->gpa + (uint64_t)off, 8);
	}
	table_seal(c, xsdt, entries + 8 * XSDT_NTABLES - xsdt);

	/* RSDP revision 2 (§5.2.5.3): no RSDT, the XSDT only. */
	put_str(c, rsdp, "RSD PTR ", 8);
	put_str(c, rsdp + RSDP_OEM_ID, ACPI_OEM_ID, 6);
	put(c, rsdp + RSDP_REVISION, 2, 1);
	put(c, rsdp + RSDP_LENGTH, RSDP_SIZE, 4);
	put(c, rsdp + RSDP_XSDT_ADDRESS, c->gpa + xsdt, 8);
	checksum(c, rsdp, RSDP_V1_SIZE, rsdp + RSDP_CHECKSUM);
	checksum(c, rsdp, RSDP_SIZE, rsdp + RSDP_EXT_CHECKSUM);
	return 0;
}

/*
 * A _HID string (§6.1.5): a PNP ID, 3 uppercase letters and 4 hex digits,
 * or an ACPI ID, 4 uppercase letters or digits and 4 hex digits.
 */
static bool acpi_hid_valid(const char *hid)
{
	size_t n = strlen(hid), vendor;

	if (n != 7 && n != 8)
		return false;
	vendor = n - 4;
	for (size_t i = 0; i < n; i++) {
		char ch = hid[i];
		bool upper = ch >= 'A' && ch <= 'Z', digit = ch >= '0' && ch <= '9';

		if (i < vendor ? !(upper || (n == 8 && digit)) : !(digit || (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return true;
}

static int acpi_config_check(const struct acpi_config *cfg, uint64_t gpa)
{
	if (!cfg || cfg->ncpus == 0 || cfg->ncpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if (gpa % ACPI_TABLE_ALIGN)
		return -EINVAL;         /* the RSDP sits on a 16-byte boundary (§5.2.5.1) */
	if (cfg->lapic_addr > UINT32_MAX || cfg->ioapic_addr > UINT32_MAX)
		return -EINVAL;         /* the MADT's fields are 32 bits */
	if (cfg->com1_port && (cfg->com1_irq > 15 || cfg->com1_port > UINT16_MAX - 7))
		return -EINVAL;         /* an ISA IRQ, and 8 ports that do not wrap */
	if (cfg->kbd_port && (cfg->kbd_irq > 15 || cfg->kbd_port > UINT16_MAX - 4))
		return -EINVAL;
	if (cfg->nmmio > ACPI_MAX_MMIO_DEVS)
		return -EINVAL;
	if (cfg->vmgenid_addr % 8 || cfg->vmgenid_addr > UINT64_MAX - 15)
		return -EINVAL;         /* 16 bytes, 8-byte aligned, that do not wrap */
	if (cfg->ged_gsi && !cfg->vmgenid_addr)
		return -EINVAL;         /* the GED's only event notifies VGEN */
	for (unsigned i = 0; i < cfg->nmmio; i++) {
		const struct acpi_mmio_dev *d = &cfg->mmio[i];

		if (!d->hid || !acpi_hid_valid(d->hid))
			return -EINVAL;
		/* Memory32Fixed: the range must lie below 4 GiB. */
		if (d->size == 0 || d->base > UINT32_MAX || d->size > (1ULL << 32) - d->base)
			return -EINVAL;
	}
	return 0;
}

long acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t size, uint64_t gpa)
{
	struct acpi_ctx c = { .gpa = gpa, .cfg = cfg };
	int err = acpi_config_check(cfg, gpa);

	if (err)
		return err;
	if (!buf && size)
		return -EINVAL;
	err = acpi_emit(&c);
	if (err)
		return err;
	if (c.len > size)
		return -ENOSPC;
	if (gpa > UINT64_MAX - c.len)
		return -EINVAL;
	memset(buf, 0, c.len);
	c = (struct acpi_ctx){ .buf = buf, .size = size, .gpa = gpa, .cfg = cfg };
	err = acpi_emit(&c);
	return err ? err : (long)c.len;
}
