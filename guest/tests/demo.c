/*
 * demo: what `make run` boots. Prints a report of what the guest sees
 * (CPU, memory map, ACPI tables, DSDT devices, CPUs and SMP bring-up,
 * command line) and powers off through the ACPI sleep register.
 */
#include "guest.h"

static volatile uint32_t checked_in;
static volatile uint8_t seen[MAX_CPUS];

static void check_in(unsigned cpu)
{
	seen[cpu] = 1;
	__atomic_fetch_add(&checked_in, 1, __ATOMIC_SEQ_CST);
}

static void cpuid_str(uint32_t leaf, char *out, const int order[3])
{
	uint32_t r[4];

	cpuid(leaf, 0, r);
	for (int i = 0; i < 3; i++)
		memcpy(out + 4 * i, &r[order[i]], 4);
	out[12] = 0;
}

static void report_cpu(void)
{
	static const int vendor_order[3] = { 1, 3, 2 }, hv_order[3] = { 1, 2, 3 };
	char vendor[13], hv[13], brand[49] = "";
	uint32_t r[4];

	cpuid_str(0, vendor, vendor_order);
	cpuid(1, 0, r);
	unsigned family = (r[0] >> 8) & 0xf, model = (r[0] >> 4) & 0xf;
	if (family == 0xf)
		family += (r[0] >> 20) & 0xff;
	if (family >= 6)
		model |= ((r[0] >> 16) & 0xf) << 4;
	bool hypervisor = r[2] & (1u << 31);
	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000004) {
		for (uint32_t i = 0; i < 3; i++) {
			cpuid(0x80000002 + i, 0, r);
			memcpy(brand + 16 * i, r, 16);
		}
		brand[48] = 0;
	}
	const char *b = brand;
	while (*b == ' ')
		b++;
	printf("cpu:      %s, family %#x model %#x, \"%s\"\n", vendor, family, model, b);
	if (hypervisor) {
		cpuid_str(0x40000000, hv, hv_order);
		printf("cpu:      hypervisor \"%s\"\n", hv);
	}
}

static void report_memory(void)
{
	const struct boot_info *bi = boot_info();

	for (unsigned i = 0; i < bi->nr_mem; i++) {
		const struct mem_region *r = &bi->mem[i];
		if (!r->size)
			continue;
		printf("memory:   [%#012llx-%#012llx) %s\n", (unsigned long long)r->addr,
		       (unsigned long long)(r->addr + r->size), mem_type_name(r->type));
	}
	printf("memory:   %llu MiB of RAM\n", (unsigned long long)(memmap_ram_bytes() >> 20));
}

static void show_device(const char *name, const char *hid, void *arg)
{
	(void)arg;
	printf("acpi:     device %s  _HID %s\n", name, hid);
}

static void report_acpi(void)
{
	uint64_t rsdp = acpi_rsdp();

	if (!rsdp) {
		puts("acpi:     no RSDP");
		return;
	}
	printf("acpi:     RSDP at %#llx, root table %s\n", (unsigned long long)rsdp,
	       acpi_root_is_xsdt() ? "XSDT" : "RSDT");
	for (unsigned i = 0; i < acpi_table_count(); i++) {
		const struct acpi_header *h = acpi_table(i);
		if (h)
			printf("acpi:     %.4s rev %u, %u bytes, OEM \"%.6s\"%s\n", h->signature,
			       h->revision, h->length, h->oem_id,
			       acpi_checksum_ok(h) ? "" : " (bad checksum)");
	}
	const struct acpi_header *dsdt = acpi_find("DSDT");
	if (dsdt)
		printf("acpi:     DSDT rev %u, %u bytes%s\n", dsdt->revision, dsdt->length,
		       acpi_checksum_ok(dsdt) ? "" : " (bad checksum)");
	acpi_dsdt_devices(show_device, NULL);
}

static void report_cpus(void)
{
	static struct acpi_madt_info madt;
	unsigned n = smp_init(), started;
	char list[MAX_CPUS * 4 + 1];
	size_t pos = 0;

	if (acpi_madt(&madt)) {
		printf("cpus:     MADT lists %u, IOAPIC at %#llx (id %u), LAPIC at %#llx\n", madt.ncpus,
		       (unsigned long long)madt.ioapic_addr, madt.ioapic_id,
		       (unsigned long long)madt.lapic_addr);
	}
	check_in(0);
	started = smp_start_aps(check_in, 2000);
	for (unsigned t = 0; t < 2000 && checked_in < n; t++)
		lapic_udelay(1000);
	list[0] = 0;
	for (unsigned i = 0; i < n && pos + 5 < sizeof(list); i++) {
		if (seen[i])
			pos += (size_t)snprintf(list + pos, sizeof(list) - pos, " %u", cpu_get(i)->apic_id);
	}
	printf("cpus:     %u of %u checked in (%u APs started), APIC IDs:%s\n", checked_in, n,
	       started, list);
}

int guest_main(void)
{
	puts("=== lodge demo guest ===");
	printf("boot:     %s\n", boot_proto_name());
	printf("cmdline:  %s\n", cmdline());
	report_cpu();
	report_memory();
	report_acpi();
	report_cpus();
	puts("=== powering off ===");
	guest_poweroff();
}
