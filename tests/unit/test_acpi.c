/*
 * ACPI tables: structure and checksums checked here byte by byte, then the
 * tables handed to ACPICA's own tools (iasl -d disassembles each one, iasl
 * recompiles the DSDT, acpiexec loads them all and evaluates objects).
 * acpica-tools is required: without it these tests fail, not skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"

#define GPA      LAYOUT_ACPI
#define BUF_SIZE (LAYOUT_ACPI_END - LAYOUT_ACPI)

static uint8_t buf[BUF_SIZE];

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static const char *const hids[] = { "LNRO0005", "QEMU0002", "LDG0001" };

/* A config like lodge's: (ncpus) CPUs, (nmmio) devices in virtio-mmio slots. */
static struct acpi_config config(unsigned ncpus, unsigned nmmio)
{
	struct acpi_config c = {
		.ncpus = ncpus,
		.lapic_addr = LAYOUT_LAPIC,
		.ioapic_addr = LAYOUT_IOAPIC,
		.ioapic_id = 0,
		.sleep_ctl_port = PORT_ACPI_SLEEP_CTL,
		.sleep_sts_port = PORT_ACPI_SLEEP_STS,
		.reset_port = PORT_I8042_CMD,
		.reset_value = I8042_CMD_RESET,
		.com1_port = PORT_COM1,
		.com1_irq = IRQ_COM1,
		.kbd_port = PORT_I8042_DATA,
		.kbd_irq = IRQ_I8042_KBD,
		.nmmio = nmmio,
	};

	for (unsigned i = 0; i < nmmio; i++) {
		c.mmio[i].hid = hids[i % 3];
		c.mmio[i].base = LAYOUT_VIRTIO_MMIO + i * LAYOUT_VIRTIO_SLOT;
		c.mmio[i].size = LAYOUT_VIRTIO_SLOT;
		c.mmio[i].gsi = GSI_VIRTIO_BASE + i;
	}
	return c;
}

/* Add lodge's VMGenID device at (addr) and its GED on GSI_GED. */
static void with_vmgenid(struct acpi_config *c, uint64_t addr)
{
	c->vmgenid_addr = addr;
	c->ged_gsi = GSI_GED;
}

static long build(const struct acpi_config *c)
{
	memset(buf, 0xa5, sizeof(buf));
	return acpi_build(c, buf, sizeof(buf), GPA);
}

/* The table at guest address (addr), checked to lie inside the (len) bytes built. */
static const uint8_t *table_at(uint64_t addr, long len)
{
	uint32_t tlen;

	assert_true(addr >= GPA && addr + 36 <= GPA + (uint64_t)len);
	tlen = rd32(buf + (addr - GPA) + 4);
	assert_true(tlen >= 36 && addr + tlen <= GPA + (uint64_t)len);
	assert_int_equal(sum(buf + (addr - GPA), tlen), 0);
	assert_memory_equal(buf + (addr - GPA) + 10, "LODGE ", 6);
	return buf + (addr - GPA);
}

/* Follow RSDP -> XSDT (-> FADT -> DSDT) to the table named (sig), checking each step. */
static const uint8_t *find_table(const char *sig, long len)
{
	const uint8_t *xsdt, *t;
	uint32_t n;

	assert_memory_equal(buf, "RSD PTR ", 8);
	assert_int_equal(sum(buf, 20), 0);
	assert_int_equal(buf[15], 2);
	assert_int_equal(rd32(buf + 20), 36);
	assert_int_equal(sum(buf, 36), 0);
	assert_int_equal(rd32(buf + 16), 0);            /* no RSDT */
	xsdt = table_at(rd64(buf + 24), len);
	assert_memory_equal(xsdt, "XSDT", 4);
	n = (rd32(xsdt + 4) - 36) / 8;
	assert_int_equal(rd32(xsdt + 4), 36 + 8 * n);
	if (!strcmp(sig, "XSDT"))
		return xsdt;
	for (uint32_t i = 0; i < n; i++) {
		t = table_at(rd64(xsdt + 36 + 8 * i), len);
		if (!memcmp(t, sig, 4))
			return t;
		if (!strcmp(sig, "DSDT") && !memcmp(t, "FACP", 4)) {
			t = table_at(rd64(t + 140), len);
			assert_memory_equal(t, "DSDT", 4);
			return t;
		}
	}
	fail_msg("table %s not found", sig);
	return NULL;
}

static void test_tables_reachable_and_checksummed(void **state)
{
	static const char *const listed[] = { "FACP", "APIC" };
	struct acpi_config c = config(2, 3);
	const uint8_t *xsdt;
	long len = build(&c);

	(void)state;
	assert_true(len > 0 && len <= (long)BUF_SIZE);
	xsdt = find_table("XSDT", len);
	assert_int_equal(rd32(xsdt + 4), 36 + 8 * 2);
	for (unsigned i = 0; i < 2; i++)
		assert_memory_equal(table_at(rd64(xsdt + 36 + 8 * i), len), listed[i], 4);
	assert_non_null(find_table("DSDT", len));
	/* Nothing written past the bytes reported. */
	for (size_t i = (size_t)len; i < BUF_SIZE; i++)
		assert_int_equal(buf[i], 0xa5);
}

/* Walk the MADT for (ncpus) CPUs: the entries' lengths add up, IDs are 0..n-1. */
static void check_madt(unsigned ncpus)
{
	struct acpi_config c = config(ncpus, 1);
	long len = build(&c);
	const uint8_t *madt = find_table("APIC", len), *e, *end;
	unsigned next_id = 0, nlapic = 0, nx2apic = 0, nioapic = 0, nnmi = 0, nx2nmi = 0;

	assert_int_equal(madt[8], 5);
	assert_int_equal(rd32(madt + 36), LAYOUT_LAPIC);
	assert_int_equal(rd32(madt + 40), 1);           /* PCAT_COMPAT */
	end = madt + rd32(madt + 4);
	for (e = madt + 44; e < end; e += e[1]) {
		assert_true(e + 2 <= end && e[1] >= 2 && e + e[1] <= end);
		switch (e[0]) {
		case 0: /* Processor Local APIC */
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], next_id);
			assert_int_equal(e[3], next_id);
			assert_int_equal(rd32(e + 4), 1);
			assert_int_equal(nx2apic, 0);
			next_id++;
			nlapic++;
			break;
		case 9: /* Processor Local x2APIC */
			assert_int_equal(e[1], 16);
			assert_int_equal(rd32(e + 4), next_id);
			assert_int_equal(rd32(e + 8), 1);
			assert_int_equal(rd32(e + 12), next_id);
			next_id++;
			nx2apic++;
			break;
		case 1: /* I/O APIC */
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], c.ioapic_id);
			assert_int_equal(rd32(e + 4), LAYOUT_IOAPIC);
			assert_int_equal(rd32(e + 8), 0);
			nioapic++;
			break;
		case 4: /* Local APIC NMI */
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff);
			assert_int_equal(e[5], 1);
			nnmi++;
			break;
		case 10: /* Local x2APIC NMI */
			assert_int_equal(e[1], 12);
			assert_int_equal(rd32(e + 4), 0xffffffffu);
			assert_int_equal(e[8], 1);
			nx2nmi++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
	}
	assert_ptr_equal(e, end);
	assert_int_equal(next_id, ncpus);
	assert_int_equal(nlapic, ncpus < 255 ? ncpus : 255);
	assert_int_equal(nx2apic, ncpus < 255 ? 0 : ncpus - 255);
	assert_int_equal(nioapic, 1);
	assert_int_equal(nnmi, 1);
	assert_int_equal(nx2nmi, ncpus > 255 ? 1 : 0);
}

static void test_madt_one_entry_per_cpu(void **state)
{
	static const unsigned counts[] = { 1, 2, 8, 64, 254, 255, 256, 300, 4096 };

	(void)state;
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		check_madt(counts[i]);
}

/* An 8-bit System I/O Generic Address Structure at (port). */
static void check_gas_io8(const uint8_t *g, uint16_t port)
{
	assert_int_equal(g[0], 1);
	assert_int_equal(g[1], 8);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], 1);
	assert_int_equal(rd64(g + 4), port);
}

static void test_fadt_hardware_reduced(void **state)
{
	struct acpi_config c = config(1, 0);
	long len;
	const uint8_t *fadt, *dsdt;

	(void)state;
	c.sleep_ctl_port = 0x1234;
	c.sleep_sts_port = 0x5678;
	c.reset_port = 0xcf9;
	c.reset_value = 0x06;
	len = build(&c);
	fadt = find_table("FACP", len);
	dsdt = find_table("DSDT", len);
	assert_int_equal(rd32(fadt + 4), 276);
	assert_int_equal(fadt[8], 6);
	assert_int_equal(fadt[131], 4);                         /* minor version */
	assert_true(rd32(fadt + 112) & (1u << 20));             /* HW_REDUCED_ACPI */
	assert_true(rd32(fadt + 112) & (1u << 10));             /* RESET_REG_SUP */
	assert_int_equal(rd16(fadt + 109), (1u << 2) | (1u << 3) | (1u << 5));
	check_gas_io8(fadt + 116, 0xcf9);
	assert_int_equal(fadt[128], 0x06);
	check_gas_io8(fadt + 244, 0x1234);
	check_gas_io8(fadt + 256, 0x5678);
	assert_int_equal(rd64(fadt + 140), GPA + (uint64_t)(dsdt - buf));
	assert_int_equal(rd32(fadt + 40), 0);                   /* DSDT: X_DSDT instead */
	assert_int_equal(rd32(fadt + 36), 0);                   /* no FACS */
	assert_int_equal(rd64(fadt + 132), 0);
	for (size_t off = 56; off < 88; off++)                  /* no legacy PM blocks */
		assert_int_equal(fadt[off], 0);
	assert_memory_equal(fadt + 268, "LODGEVMM", 8);
}

static void check_dsdt(unsigned nmmio)
{
	struct acpi_config c = config(1, nmmio);
	long len = build(&c);
	const uint8_t *dsdt = find_table("DSDT", len);
	size_t dlen = rd32(dsdt + 4);
	static const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12 };
	char pat[64];
	size_t n, count = 0;

	assert_int_equal(dsdt[8], 2);
	assert_non_null(memmem(dsdt, dlen, s5, sizeof(s5)));
	assert_non_null(memmem(dsdt, dlen, "COM1\x08_HID\x0c\x41\xd0\x05\x01", 14));
	for (unsigned i = 0; i < nmmio; i++) {
		/* The device's name, then Name (_HID, "...") first in its body. */
		n = (size_t)snprintf(pat, sizeof(pat), "V%03u\x08_HID\x0d%s", i, c.mmio[i].hid);
		assert_non_null(memmem(dsdt, dlen, pat, n + 1));
	}
	n = (size_t)snprintf(pat, sizeof(pat), "V%03u", nmmio);
	assert_null(memmem(dsdt, dlen, pat, n));
	/* The keyboard: PS2K with _HID PNP0303 (EISA ID 0x0303d041). */
	assert_non_null(memmem(dsdt, dlen, "PS2K\x08_HID\x0c\x41\xd0\x03\x03", 14));
	for (const uint8_t *p = dsdt; (p = memmem(p, dlen - (size_t)(p - dsdt), "\x5b\x82", 2)); p++)
		count++;
	assert_int_equal(count, nmmio + 2);     /* COM1, PS2K, the virtio devices */
}

static void test_dsdt_devices(void **state)
{
	(void)state;
	check_dsdt(0);
	check_dsdt(1);
	check_dsdt(3);
	check_dsdt(ACPI_MAX_MMIO_DEVS);
}

static void test_dsdt_without_com1(void **state)
{
	struct acpi_config c = config(1, 1);
	const uint8_t *dsdt;
	long len;

	(void)state;
	c.com1_port = 0;
	c.com1_irq = 0xff;                              /* ignored without a port */
	len = build(&c);
	dsdt = find_table("DSDT", len);
	assert_null(memmem(dsdt, rd32(dsdt + 4), "COM1", 4));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "V000", 4));
}

/* (lit) occurs in the (dlen) bytes at (dsdt). */
#define assert_dsdt_has(dsdt, dlen, lit) \
	assert_non_null(memmem((dsdt), (dlen), (lit), sizeof(lit) - 1))

/* VGEN and GED inside \_SB, byte for byte as iasl compiles the same ASL. */
static void check_dsdt_vmgenid(uint64_t addr, const char *addr_pkg, size_t addr_pkg_len)
{
	struct acpi_config c = config(1, 2);
	const uint8_t *dsdt;
	size_t dlen, count = 0;
	uint8_t pat[32];
	long len;

	with_vmgenid(&c, addr);
	len = build(&c);
	dsdt = find_table("DSDT", len);
	dlen = rd32(dsdt + 4);
	assert_dsdt_has(dsdt, dlen, "VGEN\x08_HID\x0dLODG0001\x00\x08_CID\x0dVMGENCTR\x00");
	/* Method (ADDR, 0, NotSerialized) { Return (Package (2) { low, high }) } */
	assert_true(addr_pkg_len <= sizeof(pat) - 11);
	memcpy(pat, "\x14\x00" "ADDR\x00\xa4\x12\x00\x02", 11);
	memcpy(pat + 11, addr_pkg, addr_pkg_len);
	pat[1] = (uint8_t)(10 + addr_pkg_len);          /* PkgLengths count themselves */
	pat[9] = (uint8_t)(2 + addr_pkg_len);
	assert_non_null(memmem(dsdt, dlen, pat, 11 + addr_pkg_len));
	/* GED: _HID, _CRS with one Extended Interrupt (consumer, edge, high) on GSI 3. */
	assert_dsdt_has(dsdt, dlen, "GED_\x08_HID\x0d" "ACPI0013\x00\x08_CRS\x11\x0e\x0a\x0b"
				    "\x89\x06\x00\x03\x01\x03\x00\x00\x00\x79");
	/* Method (_EVT, 1) { If (Arg0 == 3) { Notify (\_SB.VGEN, 0x80) } } */
	assert_dsdt_has(dsdt, dlen, "\x14\x19_EVT\x01\xa0\x12\x93\x68\x0a\x03"
				    "\x86\\\x2e_SB_VGEN\x0a\x80");
	for (const uint8_t *p = dsdt; (p = memmem(p, dlen - (size_t)(p - dsdt), "\x5b\x82", 2)); p++)
		count++;
	assert_int_equal(count, 2 + 2 + 2);     /* COM1, PS2K, V000, V001, VGEN, GED */
}

static void test_dsdt_vmgenid(void **state)
{
	(void)state;
	check_dsdt_vmgenid(LAYOUT_VMGENID, "\x0c\x00\xfc\x09\x00\x00", 6);
	check_dsdt_vmgenid(0x123456788ULL, "\x0c\x88\x67\x45\x23\x01", 6);
	check_dsdt_vmgenid(0xfffffff0fffffff8ULL, "\x0c\xf8\xff\xff\xff\x0c\xf0\xff\xff\xff", 10);
}

static void test_dsdt_vmgenid_without_ged(void **state)
{
	struct acpi_config c = config(1, 0);
	const uint8_t *dsdt;
	long len;

	(void)state;
	c.vmgenid_addr = LAYOUT_VMGENID;
	len = build(&c);
	dsdt = find_table("DSDT", len);
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "VGEN", 4));
	assert_null(memmem(dsdt, rd32(dsdt + 4), "GED_", 4));
	assert_null(memmem(dsdt, rd32(dsdt + 4), "ACPI0013", 8));
}

static void test_too_small_writes_nothing(void **state)
{
	struct acpi_config c = config(8, 4);
	enum { GUARD = 64 };
	long need;
	uint8_t *mem;

	(void)state;
	with_vmgenid(&c, LAYOUT_VMGENID);
	need = build(&c);
	assert_true(need > 0);
	assert_int_equal(acpi_build(&c, NULL, 0, GPA), -ENOSPC);
	for (long size = 0; size < need; size++) {
		/* Exactly (size) bytes on the heap, for ASan, then a guard pattern. */
		mem = malloc((size_t)size + 1);
		assert_non_null(mem);
		assert_int_equal(acpi_build(&c, mem, (size_t)size, GPA), -ENOSPC);
		free(mem);
		memset(buf, 0xa5, (size_t)size + GUARD);
		assert_int_equal(acpi_build(&c, buf, (size_t)size, GPA), -ENOSPC);
		for (long i = 0; i < size + GUARD; i++)
			assert_int_equal(buf[i], 0xa5);
	}
	mem = malloc((size_t)need);
	assert_non_null(mem);
	assert_int_equal(acpi_build(&c, mem, (size_t)need, GPA), need);
	assert_int_equal(build(&c), need);
	assert_memory_equal(mem, buf, (size_t)need);
	free(mem);
}

static void test_bad_config(void **state)
{
	static const char *const bad_hids[] = {
		"", "LNRO005", "LNRO00050", "lnro0005", "LNRO000G", "LNR 0005", "1NR0005", "PNP050",
	};
	struct acpi_config c;

	(void)state;
	assert_int_equal(acpi_build(NULL, buf, sizeof(buf), GPA), -EINVAL);
	c = config(0, 1);
	assert_int_equal(build(&c), -EINVAL);
	c = config(4097, 1);
	assert_int_equal(build(&c), -EINVAL);
	c = config(1, 1);
	assert_int_equal(acpi_build(&c, buf, sizeof(buf), GPA + 8), -EINVAL);
	assert_int_equal(acpi_build(&c, NULL, 4096, GPA), -EINVAL);
	assert_int_equal(acpi_build(&c, buf, sizeof(buf), UINT64_MAX - 15), -EINVAL);
	c.nmmio = ACPI_MAX_MMIO_DEVS + 1;
	assert_int_equal(build(&c), -EINVAL);
	c = config(1, 1);
	c.mmio[0].hid = NULL;
	assert_int_equal(build(&c), -EINVAL);
	for (size_t i = 0; i < sizeof(bad_hids) / sizeof(bad_hids[0]); i++) {
		c.mmio[0].hid = bad_hids[i];
		assert_int_equal(build(&c), -EINVAL);
	}
	c = config(1, 1);
	c.mmio[0].size = 0;
	assert_int_equal(build(&c), -EINVAL);
	c.mmio[0].base = 0xfffff000;
	c.mmio[0].size = 0x2000;
	assert_int_equal(build(&c), -EINVAL);
	c.mmio[0].size = 0x1000;                        /* ends at 4 GiB exactly: fine */
	assert_true(build(&c) > 0);
	c.mmio[0].base = 1ULL << 32;
	assert_int_equal(build(&c), -EINVAL);
	c = config(1, 0);
	c.com1_irq = 16;
	assert_int_equal(build(&c), -EINVAL);
	c = config(1, 0);
	c.lapic_addr = 1ULL << 32;
	assert_int_equal(build(&c), -EINVAL);
	c = config(1, 1);
	c.mmio[0].hid = "ACPI0007";
	assert_true(build(&c) > 0);
	c = config(1, 0);
	with_vmgenid(&c, LAYOUT_VMGENID + 4);           /* not 8-byte aligned */
	assert_int_equal(build(&c), -EINVAL);
	c.vmgenid_addr = UINT64_MAX - 7;                /* 16 bytes would wrap */
	assert_int_equal(build(&c), -EINVAL);
	c.vmgenid_addr = UINT64_MAX - 15;
	assert_true(build(&c) > 0);
	c.vmgenid_addr = 0;                             /* a GED with nothing to notify */
	assert_int_equal(build(&c), -EINVAL);
}

/* ---- ACPICA's tools ---- */

static char tmpdir[64];

static char *read_text(const char *name)
{
	char path[128];
	FILE *f;
	long n;
	char *s;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

static void write_file(const char *name, const void *data, size_t n)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Run (cmd) in the temporary directory with output to (log); returns its exit status. */
static int run_in_tmpdir(const char *cmd, const char *log)
{
	char line[1024];
	int st;

	snprintf(line, sizeof(line), "cd %s && %s >%s 2>&1", tmpdir, cmd, log);
	st = system(line);
	assert_true(st != -1 && WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int tools_setup(void **state)
{
	(void)state;
	if (system("command -v iasl >/dev/null 2>&1 && command -v acpiexec >/dev/null 2>&1")) {
		fprintf(stderr, "test_acpi: iasl and acpiexec not found; "
				"install acpica-tools (apt-get install acpica-tools)\n");
		return -1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lodge-acpi-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int tools_teardown(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	char path[512];

	(void)state;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(tmpdir);
}

/* Write the table named (sig) as sig.dat and disassemble it; returns the .dsl text. */
static char *disassemble(const char *sig, long len)
{
	const uint8_t *t = find_table(sig, len);
	char name[16], dsl[16], log[16], cmd[64], *text, *out;

	snprintf(name, sizeof(name), "%c%c%c%c.dat", sig[0] | 0x20, sig[1] | 0x20,
		 sig[2] | 0x20, sig[3] | 0x20);
	snprintf(dsl, sizeof(dsl), "%.4s.dsl", name);
	snprintf(log, sizeof(log), "%.4s.log", name);
	snprintf(cmd, sizeof(cmd), "iasl -d %s", name);
	write_file(name, t, rd32(t + 4));
	if (run_in_tmpdir(cmd, log) != 0)
		fail_msg("iasl -d %s failed:\n%s", name, read_text(log));
	text = read_text(dsl);
	out = read_text(log);
	/* iasl reports bad checksums and truncated structures as warnings. */
	for (const char *w = "Warning\0Error\0Incorrect\0Invalid\0"; *w; w += strlen(w) + 1) {
		if (strstr(text, w) || strstr(out, w))
			fail_msg("iasl -d %s: \"%s\" in\n%s\n%s", name, w, out, text);
	}
	free(out);
	return text;
}

static void expect(const char *text, const char *what)
{
	if (!strstr(text, what)) {
		fprintf(stderr, "%s\n", text);
		fail_msg("the output above lacks \"%s\"", what);
	}
}

static void test_iasl_disassembles_every_table(void **state)
{
	struct acpi_config c = config(2, 3);
	long len;
	char *t, *log;

	(void)state;
	with_vmgenid(&c, LAYOUT_VMGENID);
	len = build(&c);
	assert_true(len > 0);
	t = disassemble("XSDT", len);
	expect(t, "ACPI Table Address   1");
	free(t);

	t = disassemble("FACP", len);
	expect(t, "Revision : 06");
	expect(t, "Hardware Reduced (V5) : 1");
	expect(t, "Reset Register Supported (V2) : 1");
	expect(t, "Address : 0000000000000600");
	expect(t, "Address : 0000000000000601");
	expect(t, "Address : 0000000000000064");
	expect(t, "Value to cause reset : FE");
	expect(t, "VGA Not Present (V4) : 1");
	free(t);

	t = disassemble("APIC", len);
	expect(t, "[Processor Local APIC]");
	expect(t, "Local Apic ID : 01");
	expect(t, "[I/O APIC]");
	expect(t, "Address : FEC00000");
	expect(t, "[Local APIC NMI]");
	expect(t, "PC-AT Compatibility : 1");
	free(t);

	t = disassemble("DSDT", len);
	expect(t, "Name (\\_S5, Package (0x04)");
	expect(t, "Device (COM1)");
	expect(t, "EisaId (\"PNP0501\")");
	expect(t, "IO (Decode16,\n                    0x03F8,");
	expect(t, "IRQNoFlags ()\n                    {4}");
	expect(t, "Device (PS2K)");
	expect(t, "EisaId (\"PNP0303\")");
	expect(t, "IO (Decode16,\n                    0x0064,");
	expect(t, "IRQNoFlags ()\n                    {1}");
	expect(t, "Device (V000)");
	expect(t, "Device (V002)");
	expect(t, "Name (_HID, \"LNRO0005\")");
	expect(t, "Name (_HID, \"QEMU0002\")");
	expect(t, "Name (_HID, \"LDG0001\")");
	expect(t, "Memory32Fixed (ReadWrite,\n                    0xD0001000,");
	expect(t, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )\n"
		  "                {\n                    0x00000007,");
	expect(t, "Device (VGEN)");
	expect(t, "Name (_HID, \"LODG0001\")");
	expect(t, "Name (_CID, \"VMGENCTR\")");
	expect(t, "Method (ADDR, 0, NotSerialized)");
	expect(t, "Return (Package (0x02)");
	expect(t, "0x0009FC00");
	expect(t, "Device (GED)");
	expect(t, "Name (_HID, \"ACPI0013\" /* Generic Event Device */)");
	expect(t, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )\n"
		  "                {\n                    0x00000003,");
	expect(t, "Method (_EVT, 1, NotSerialized)");
	expect(t, "If ((Arg0 == 0x03))");
	expect(t, "Notify (\\_SB.VGEN, 0x80)");
	free(t);

	/* The disassembly compiles back cleanly. */
	if (run_in_tmpdir("iasl dsdt.dsl", "recompile.log") != 0)
		fail_msg("iasl dsdt.dsl failed:\n%s", read_text("recompile.log"));
	log = read_text("recompile.log");
	expect(log, "0 Errors, 0 Warnings, 0 Remarks");
	free(log);
}

static void test_iasl_madt_x2apic(void **state)
{
	struct acpi_config c = config(300, 0);
	long len = build(&c);
	char *t;

	(void)state;
	t = disassemble("APIC", len);
	expect(t, "Local Apic ID : FE");
	expect(t, "[Processor Local x2APIC]");
	expect(t, "Processor x2Apic ID : 000000FF");
	expect(t, "Processor x2Apic ID : 0000012B");
	expect(t, "[Local x2APIC NMI]");
	free(t);
}

/* acpiexec builds its own RSDP/XSDT around the tables, loads the AML and evaluates objects. */
static void test_acpiexec_evaluates_dsdt(void **state)
{
	struct acpi_config c = config(4, 2);
	long len;
	const uint8_t *t;
	char *out;
	const char *p;
	int rc, notifies = 0;

	(void)state;
	with_vmgenid(&c, LAYOUT_VMGENID);
	len = build(&c);
	t = find_table("DSDT", len);
	write_file("dsdt.dat", t, rd32(t + 4));
	t = find_table("FACP", len);
	write_file("facp.dat", t, rd32(t + 4));
	t = find_table("APIC", len);
	write_file("apic.dat", t, rd32(t + 4));
	rc = run_in_tmpdir("timeout 60 acpiexec -b 'evaluate \\_S5; evaluate \\_SB.V001._CRS; "
			   "evaluate \\_SB.V001._UID; evaluate \\_SB.COM1._CRS; "
			   "evaluate \\_SB.VGEN.ADDR; evaluate \\_SB.GED._CRS; "
			   "evaluate \\_SB.GED._EVT 3; evaluate \\_SB.GED._EVT 4' "
			   "dsdt.dat facp.dat apic.dat", "acpiexec.log");
	out = read_text("acpiexec.log");
	if (rc != 0 || strstr(out, "Exception") || strstr(out, "Error") ||
	    strstr(out, "Warning"))
		fail_msg("acpiexec (exit %d):\n%s", rc, out);
	expect(out, "[Package] Contains 4 Elements:\n"
		    "    [Integer] = 0000000000000005\n"
		    "    [Integer] = 0000000000000005");
	/* V001: Memory32Fixed at 0xd0001000, GSI 6, then End Tag. */
	expect(out, "0000: 86 09 00 01 00 10 00 D0 00 10 00 00 89 06 00 03");
	expect(out, "0010: 01 06 00 00 00 79");
	expect(out, "[Integer] = 0000000000000001");
	expect(out, "47 01 F8 03 F8 03 01 08 22 10 00 79");
	/* VGEN.ADDR: the ID's address as low and high halves. */
	expect(out, "[Package] Contains 2 Elements:\n"
		    "    [Integer] = 000000000009FC00\n"
		    "    [Integer] = 0000000000000000");
	/* GED: one Extended Interrupt on GSI 3; _EVT (3) notifies VGEN, _EVT (4) nothing. */
	expect(out, "0000: 89 06 00 03 01 03 00 00 00 79");
	expect(out, "Received a Device Notify on [VGEN]");
	expect(out, "Value 0x80");
	for (p = out; (p = strstr(p, "Notify on")); p++)
		notifies++;
	assert_int_equal(notifies, 1);
	free(out);
}

/* ---- The AML emitter ---- */

/* Decode the PkgLength at (p); (*n) gets its byte count. */
static size_t pkglen(const uint8_t *p, unsigned *n)
{
	size_t v;

	*n = 1 + (p[0] >> 6);
	if (*n == 1)
		return p[0] & 0x3f;
	v = p[0] & 0xf;
	for (unsigned i = 1; i < *n; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

/* A Scope holding (nnames) Name (Xnnn, 0x12345678), 10 bytes each: PkgLength sizes. */
static void check_scope_pkglen(unsigned nnames, unsigned want_bytes)
{
	size_t size = 16 + (size_t)nnames * 10;
	uint8_t *mem = malloc(size);
	struct aml a, m;
	unsigned n;
	long len;

	assert_non_null(mem);
	aml_init(&a, mem, size);
	aml_init(&m, NULL, 0);
	aml_scope(&a, "\\");
	aml_scope(&m, "\\");
	for (unsigned i = 0; i < nnames; i++) {
		aml_name(&a, "X");
		aml_integer(&a, 0x12345678);
		aml_name(&m, "X");
		aml_integer(&m, 0x12345678);
	}
	aml_end(&a);
	aml_end(&m);
	len = aml_finish(&a);
	assert_int_equal(len, aml_finish(&m));
	assert_int_equal(mem[0], 0x10);
	assert_int_equal(pkglen(mem + 1, &n), (size_t)len - 1);
	assert_int_equal(n, want_bytes);
	assert_int_equal(mem[1 + n], '\\');
	assert_int_equal(mem[2 + n], 0x00);             /* NullName */
	for (unsigned i = 0; i < nnames; i++)
		assert_memory_equal(mem + 3 + n + 10 * i, "\x08X___\x0c\x78\x56\x34\x12", 10);
	free(mem);
}

static void test_aml_pkglength_forms(void **state)
{
	(void)state;
	/* Body = NameString (2) + 10 per name; the value counts its own bytes. */
	check_scope_pkglen(0, 1);
	check_scope_pkglen(6, 1);       /* 62 + 1 = 63 */
	check_scope_pkglen(7, 2);
	check_scope_pkglen(409, 2);     /* 4092 + 2 = 4094 */
	check_scope_pkglen(410, 3);
	check_scope_pkglen(104857, 3);  /* 1048572 + 3 = 0xfffff */
	check_scope_pkglen(104858, 4);
}

static void test_aml_integers_and_names(void **state)
{
	static const struct {
		uint64_t v;
		const char *enc;
		size_t n;
	} ints[] = {
		{ 0, "\x00", 1 }, { 1, "\x01", 1 }, { 2, "\x0a\x02", 2 }, { 0xff, "\x0a\xff", 2 },
		{ 0x100, "\x0b\x00\x01", 3 }, { 0x10000, "\x0c\x00\x00\x01\x00", 5 },
		{ 0x100000000ULL, "\x0e\x00\x00\x00\x00\x01\x00\x00\x00", 9 },
	};
	static const struct {
		const char *path, *enc;
		size_t n;
	} names[] = {
		{ "\\", "\\\x00", 2 },
		{ "_SB", "_SB_", 4 },
		{ "\\_SB.PCI0", "\\\x2e_SB_PCI0", 10 },
		{ "^^A.B.C", "^^\x2f\x03" "A___B___C___", 16 },
	};
	static const char *const bad[] = { "", "^", "a", "1ABC", "ABCDE", "A..B", "A.", "\\^A" };
	uint8_t out[32];
	struct aml a;

	(void)state;
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		aml_init(&a, out, sizeof(out));
		aml_integer(&a, ints[i].v);
		assert_int_equal(aml_finish(&a), ints[i].n);
		assert_memory_equal(out, ints[i].enc, ints[i].n);
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		aml_init(&a, out, sizeof(out));
		aml_namestring(&a, names[i].path);
		assert_int_equal(aml_finish(&a), names[i].n);
		assert_memory_equal(out, names[i].enc, names[i].n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a, out, sizeof(out));
		aml_namestring(&a, bad[i]);
		assert_int_equal(aml_finish(&a), -EINVAL);
	}
	aml_init(&a, out, sizeof(out));
	aml_eisaid(&a, "PNP0501");
	assert_int_equal(aml_finish(&a), 5);
	assert_memory_equal(out, "\x0c\x41\xd0\x05\x01", 5);
	aml_init(&a, out, sizeof(out));
	aml_string(&a, "LNRO0005");
	assert_int_equal(aml_finish(&a), 10);
	assert_memory_equal(out, "\x0dLNRO0005\x00", 10);
}

/* Methods and the operators in them, against iasl's encodings of the same ASL. */
static void test_aml_methods(void **state)
{
	/* Method (ADDR, 0, Serialized) { Return (Package (2) { 0x9fc00, Zero }) } */
	static const char addr[] = "\x14\x10" "ADDR\x08\xa4\x12\x08\x02\x0c\x00\xfc\x09\x00\x00";
	/* Method (_EVT, 1) { If (Arg0 == 3) { Notify (VGEN, 0x80) } } */
	static const char evt[] = "\x14\x13_EVT\x01\xa0\x0c\x93\x68\x0a\x03\x86VGEN\x0a\x80";
	uint8_t out[64];
	struct aml a;

	(void)state;
	aml_init(&a, out, sizeof(out));
	aml_method(&a, "ADDR", 0, true);
	aml_return(&a);
	aml_package(&a, 2);
	aml_integer(&a, 0x9fc00);
	aml_integer(&a, 0);
	aml_end(&a);
	aml_end(&a);
	assert_int_equal(aml_finish(&a), sizeof(addr) - 1);
	assert_memory_equal(out, addr, sizeof(addr) - 1);

	aml_init(&a, out, sizeof(out));
	aml_method(&a, "_EVT", 1, false);
	aml_if(&a);
	aml_lequal(&a);
	aml_arg(&a, 0);
	aml_integer(&a, 3);
	aml_notify(&a, "VGEN", 0x80);
	aml_end(&a);
	aml_end(&a);
	assert_int_equal(aml_finish(&a), sizeof(evt) - 1);
	assert_memory_equal(out, evt, sizeof(evt) - 1);

	/* Method flags: ArgCount 7 and SerializeFlag; Arg6 is the last ArgObj. */
	aml_init(&a, out, sizeof(out));
	aml_method(&a, "M", 7, true);
	aml_return(&a);
	aml_arg(&a, 6);
	aml_end(&a);
	assert_int_equal(aml_finish(&a), 9);
	assert_memory_equal(out, "\x14\x08M___\x0f\xa4\x6e", 9);
}

static void test_aml_misuse_and_overflow(void **state)
{
	uint8_t *mem;
	struct aml a;
	long need;

	(void)state;
	aml_init(&a, NULL, 0);
	aml_end(&a);                                    /* nothing open */
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, NULL, 0);
	aml_device(&a, "DEV0");                         /* never closed */
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, NULL, 0);
	aml_res_io(&a, 0x3f8, 8);                       /* outside a template */
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, NULL, 0);
	for (int i = 0; i <= AML_MAX_DEPTH; i++)
		aml_package(&a, 0);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, NULL, 0);
	aml_eisaid(&a, "PNP050G");
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, NULL, 0);
	aml_method(&a, "M", 8, false);                  /* ArgCount has 3 bits */
	aml_end(&a);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, NULL, 0);
	aml_arg(&a, 7);                                 /* Arg0..Arg6 only */
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, NULL, 0);
	aml_method(&a, "M", 1, false);
	aml_if(&a);                                     /* never closed */
	aml_end(&a);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, NULL, 0);
	aml_notify(&a, "1BAD", 0x80);
	assert_int_equal(aml_finish(&a), -EINVAL);

	/* Every truncation reports -ENOSPC and stays inside its (exact-size) buffer. */
	aml_init(&a, NULL, 0);
	aml_device(&a, "\\_SB.DEV0");
	aml_name(&a, "_CRS");
	aml_restemplate(&a);
	aml_res_mem32_fixed(&a, true, 0xd0000000, 0x1000);
	aml_res_ext_irq(&a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, 5);
	aml_end(&a);
	aml_end(&a);
	need = aml_finish(&a);
	assert_true(need > 0);
	for (long size = 0; size <= need; size++) {
		mem = malloc((size_t)size + 1);
		assert_non_null(mem);
		aml_init(&a, mem, (size_t)size);
		aml_device(&a, "\\_SB.DEV0");
		aml_name(&a, "_CRS");
		aml_restemplate(&a);
		aml_res_mem32_fixed(&a, true, 0xd0000000, 0x1000);
		aml_res_ext_irq(&a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, 5);
		aml_end(&a);
		aml_end(&a);
		assert_int_equal(aml_finish(&a), size < need ? -ENOSPC : need);
		if (size == need) {
			/* The template's bytes, End Tag checksum included, sum to zero. */
			const uint8_t *desc = memchr(mem, 0x86, (size_t)need);

			assert_non_null(desc);
			assert_int_equal(mem[need - 2], 0x79);
			assert_int_equal(sum(desc, (size_t)(mem + need - desc)), 0);
		}
		free(mem);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_reachable_and_checksummed),
		cmocka_unit_test(test_madt_one_entry_per_cpu),
		cmocka_unit_test(test_fadt_hardware_reduced),
		cmocka_unit_test(test_dsdt_devices),
		cmocka_unit_test(test_dsdt_without_com1),
		cmocka_unit_test(test_dsdt_vmgenid),
		cmocka_unit_test(test_dsdt_vmgenid_without_ged),
		cmocka_unit_test(test_too_small_writes_nothing),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_aml_pkglength_forms),
		cmocka_unit_test(test_aml_integers_and_names),
		cmocka_unit_test(test_aml_methods),
		cmocka_unit_test(test_aml_misuse_and_overflow),
	};
	const struct CMUnitTest tool_tests[] = {
		cmocka_unit_test(test_iasl_disassembles_every_table),
		cmocka_unit_test(test_iasl_madt_x2apic),
		cmocka_unit_test(test_acpiexec_evaluates_dsdt),
	};
	int failed = cmocka_run_group_tests_name("acpi", tests, NULL, NULL);

	failed += cmocka_run_group_tests_name("acpi-acpica-tools", tool_tests, tools_setup,
					      tools_teardown);
	return failed ? 1 : 0;
}
