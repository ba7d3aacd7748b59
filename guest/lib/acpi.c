/* ACPI table lookup (ACPI 6.4 §5.2) and a shallow DSDT scan for devices. */
#include "guest.h"

struct rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;        /* revision >= 2 from here */
	uint64_t xsdt;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

/* FADT field offsets (ACPI 6.4 §5.2.9, table 5.9). */
#define FADT_DSDT           40
#define FADT_FLAGS          112
#define FADT_RESET_REG      116
#define FADT_RESET_VALUE    128
#define FADT_X_DSDT         140
#define FADT_SLEEP_CTL_REG  244
#define FADT_RESET_REG_SUP  (1u << 10)

/* MADT structure types (§5.2.12). */
#define MADT_LAPIC    0
#define MADT_IOAPIC   1
#define MADT_ISO      2
#define MADT_X2APIC   9

static uint8_t sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += b[i];
	return s;
}

static const struct rsdp *rsdp_at(uint64_t a)
{
	const struct rsdp *r = phys_ptr(a);

	if (memcmp(r->signature, "RSD PTR ", 8) != 0 || sum(r, 20) != 0)
		return NULL;
	if (r->revision >= 2 && (r->length < sizeof(*r) || sum(r, r->length) != 0))
		return NULL;
	return r;
}

static const struct rsdp *find_rsdp(void)
{
	static const struct rsdp *cached;
	static bool done;
	uint64_t given = boot_info()->rsdp_paddr;

	if (done)
		return cached;
	done = true;
	if (given && given < (4ULL << 30) && (cached = rsdp_at(given)))
		return cached;
	/* ACPI 6.4 §5.2.5.1: the first KiB of the EBDA, then 0xe0000-0xfffff. */
	uint64_t ebda = (uint64_t)*(volatile uint16_t *)phys_ptr(0x40e) << 4;
	if (ebda >= 0x80000 && ebda < 0xa0000) {
		for (uint64_t a = ebda; a < ebda + 1024; a += 16) {
			if ((cached = rsdp_at(a)))
				return cached;
		}
	}
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
		if ((cached = rsdp_at(a)))
			return cached;
	}
	return NULL;
}

uint64_t acpi_rsdp(void)
{
	return (uint64_t)(uintptr_t)find_rsdp();
}

bool acpi_root_is_xsdt(void)
{
	const struct rsdp *r = find_rsdp();

	return r && r->revision >= 2 && r->xsdt;
}

static const struct acpi_header *root(void)
{
	const struct rsdp *r = find_rsdp();

	if (!r)
		return NULL;
	if (acpi_root_is_xsdt())
		return (const struct acpi_header *)(uintptr_t)r->xsdt;
	return (const struct acpi_header *)(uintptr_t)r->rsdt;
}

bool acpi_checksum_ok(const struct acpi_header *h)
{
	return sum(h, h->length) == 0;
}

unsigned acpi_table_count(void)
{
	const struct acpi_header *h = root();

	if (!h || h->length < sizeof(*h))
		return 0;
	return (h->length - sizeof(*h)) / (acpi_root_is_xsdt() ? 8 : 4);
}

const struct acpi_header *acpi_table(unsigned i)
{
	const struct acpi_header *h = root();
	const uint8_t *entries = (const uint8_t *)(h + 1);
	uint64_t a;

	if (i >= acpi_table_count())
		return NULL;
	if (acpi_root_is_xsdt())
		memcpy(&a, entries + 8 * i, 8);
	else
		a = *(const uint32_t *)(entries + 4 * i);
	if (!a || a >= (4ULL << 30))
		return NULL;
	return (const struct acpi_header *)(uintptr_t)a;
}

static uint64_t fadt_u64(const struct acpi_header *f, unsigned off, unsigned size)
{
	uint64_t v = 0;

	if (f->length >= off + size)
		memcpy(&v, (const uint8_t *)f + off, size);
	return v;
}

const struct acpi_header *acpi_find(const char *sig)
{
	if (memcmp(sig, "DSDT", 4) == 0) {
		const struct acpi_header *f = acpi_find("FACP");
		uint64_t a;

		if (!f)
			return NULL;
		a = fadt_u64(f, FADT_X_DSDT, 8);
		if (!a)
			a = fadt_u64(f, FADT_DSDT, 4);
		return a && a < (4ULL << 30) ? (const struct acpi_header *)(uintptr_t)a : NULL;
	}
	for (unsigned i = 0; i < acpi_table_count(); i++) {
		const struct acpi_header *h = acpi_table(i);
		if (h && memcmp(h->signature, sig, 4) == 0)
			return h;
	}
	return NULL;
}

bool acpi_madt(struct acpi_madt_info *out)
{
	const struct acpi_header *h = acpi_find("APIC");
	const uint8_t *p, *end;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < 16; i++)
		out->isa_gsi[i] = i;
	if (!h || h->length < sizeof(*h) + 8)
		return false;
	p = (const uint8_t *)h;
	out->lapic_addr = *(const uint32_t *)(p + sizeof(*h));
	end = p + h->length;
	for (p += sizeof(*h) + 8; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
		uint32_t flags, id;

		switch (p[0]) {
		case MADT_LAPIC:
			if (p[1] < 8)
				break;
			memcpy(&flags, p + 4, 4);
			/* bit 0 enabled, bit 1 online capable (§5.2.12.2) */
			if ((flags & 3) && out->ncpus < ACPI_MAX_CPUS)
				out->apic_ids[out->ncpus++] = p[3];
			break;
		case MADT_X2APIC:
			if (p[1] < 16)
				break;
			memcpy(&id, p + 4, 4);
			memcpy(&flags, p + 8, 4);
			if ((flags & 3) && out->ncpus < ACPI_MAX_CPUS)
				out->apic_ids[out->ncpus++] = id;
			break;
		case MADT_IOAPIC:
			if (p[1] < 12 || out->ioapic_addr)
				break;
			out->ioapic_id = p[2];
			memcpy(&id, p + 4, 4);
			out->ioapic_addr = id;
			memcpy(&id, p + 8, 4);
			out->ioapic_gsi_base = id;
			break;
		case MADT_ISO:
			if (p[1] < 10)
				break;
			out->nr_overrides++;
			if (p[2] == 0 && p[3] < 16) {
				memcpy(&out->isa_gsi[p[3]], p + 4, 4);
				memcpy(&out->isa_flags[p[3]], p + 8, 2);
			}
			break;
		}
	}
	return true;
}

static bool gas(unsigned off, uint8_t *space, uint64_t *addr)
{
	const struct acpi_header *f = acpi_find("FACP");

	if (!f || f->length < off + 12)
		return false;
	*space = ((const uint8_t *)f)[off];
	memcpy(addr, (const uint8_t *)f + off + 4, 8);
	return *addr != 0;
}

bool acpi_sleep_ctl_reg(uint8_t *space, uint64_t *addr)
{
	return gas(FADT_SLEEP_CTL_REG, space, addr);
}

bool acpi_reset_reg(uint8_t *space, uint64_t *addr, uint8_t *value)
{
	const struct acpi_header *f = acpi_find("FACP");

	if (!f || !(fadt_u64(f, FADT_FLAGS, 4) & FADT_RESET_REG_SUP))
		return false;
	*value = (uint8_t)fadt_u64(f, FADT_RESET_VALUE, 1);
	return gas(FADT_RESET_REG, space, addr);
}

/* AML (ACPI 6.4 §20.2): PkgLength at (p); returns its value and sets (*len) to its size. */
static uint32_t pkg_length(const uint8_t *p, unsigned *len)
{
	unsigned follow = p[0] >> 6;
	uint32_t v;

	*len = follow + 1;
	if (!follow)
		return p[0] & 0x3f;
	v = p[0] & 0x0f;
	for (unsigned i = 0; i < follow; i++)
		v |= (uint32_t)p[1 + i] << (4 + 8 * i);
	return v;
}

static bool name_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The last NameSeg of the NameString at (p) into (name); false if it is not one. */
static bool last_nameseg(const uint8_t *p, const uint8_t *end, char name[5])
{
	unsigned segs = 1;

	while (p < end && (*p == '\\' || *p == '^'))
		p++;
	if (p < end && *p == 0x2e) {            /* DualNamePrefix */
		segs = 2;
		p++;
	} else if (p + 1 < end && *p == 0x2f) { /* MultiNamePrefix SegCount */
		segs = p[1];
		p += 2;
	}
	if (segs == 0 || p + 4 * segs > end)
		return false;
	p += 4 * (segs - 1);
	for (int i = 0; i < 4; i++) {
		if (!name_char(p[i]))
			return false;
		name[i] = (char)p[i];
	}
	name[4] = 0;
	return true;
}

/* Decode a _HID value at (p): a string or a compressed EISA ID (§19.6.32 EISAID). */
static bool hid_value(const uint8_t *p, const uint8_t *end, char hid[16])
{
	if (p < end && *p == 0x0d) {            /* StringPrefix */
		unsigned n = 0;
		for (p++; p < end && *p && n < 15; p++)
			hid[n++] = (char)*p;
		hid[n] = 0;
		return n > 0;
	}
	if (p + 5 <= end && *p == 0x0c) {       /* DWordPrefix: EISA ID, big-endian bit fields */
		uint16_t vendor = (uint16_t)(p[1] << 8 | p[2]);
		hid[0] = (char)('@' + ((vendor >> 10) & 0x1f));
		hid[1] = (char)('@' + ((vendor >> 5) & 0x1f));
		hid[2] = (char)('@' + (vendor & 0x1f));
		snprintf(hid + 3, 13, "%02X%02X", p[3], p[4]);
		return true;
	}
	return false;
}

unsigned acpi_dsdt_devices(void (*fn)(const char *name, const char *hid, void *arg), void *arg)
{
	const struct acpi_header *h = acpi_find("DSDT");
	const uint8_t *aml, *end;
	unsigned found = 0;

	if (!h || h->length <= sizeof(*h))
		return 0;
	aml = (const uint8_t *)(h + 1);
	end = (const uint8_t *)h + h->length;
	for (const uint8_t *p = aml; p + 6 < end; p++) {
		unsigned plen_size;
		char name[5], hid[16];
		const uint8_t *body, *body_end;

		if (p[0] != 0x5b || p[1] != 0x82)        /* DeviceOp */
			continue;
		body_end = p + 2 + pkg_length(p + 2, &plen_size);
		if (body_end > end || !last_nameseg(p + 2 + plen_size, end, name))
			continue;
		body = p + 2 + plen_size;
		/* The device's own _HID comes before any nested Device(). */
		for (const uint8_t *q = body; q + 6 < body_end; q++) {
			if (q[0] == 0x5b && q[1] == 0x82)
				break;
			if (q[0] == 0x08 && memcmp(q + 1, "_HID", 4) == 0) {
				if (hid_value(q + 5, body_end, hid)) {
					found++;
					if (fn)
						fn(name, hid, arg);
				}
				break;
			}
		}
	}
	return found;
}
