/*
 * guest_start: the first C code on the BSP. Copies what the loader passed
 * out of low memory (which SMP bring-up reuses later), sets up the console,
 * this CPU and the IDT, then runs guest_main.
 *
 * Layouts: struct hvm_start_info from src/boot/pvh_abi.h (shared with the
 * loader); struct multiboot_info from the Multiboot Specification 0.6.96 §3.3.
 */
#include "boot/pvh_abi.h" /* lodge's own definition of the PVH ABI, shared */
#include "guest.h"
#include "internal.h"

#define MB_INFO_MEM     (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS    (1u << 3)
#define MB_INFO_MMAP    (1u << 6)

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
};

struct multiboot_mod {
	uint32_t mod_start, mod_end;
	uint32_t string;
	uint32_t reserved;
};

struct multiboot_mmap {
	uint32_t size;          /* of the rest of the entry */
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

extern uint32_t boot_proto, boot_info_paddr;

static struct boot_info info;

/* Loader-provided addresses are physical; only the identity-mapped 4 GiB is reachable. */
static const void *phys(uint64_t paddr, uint64_t len)
{
	if (paddr == 0 || paddr >= (4ULL << 30) || len > (4ULL << 30) - paddr)
		return NULL;
	return (const void *)(uintptr_t)paddr;
}

static void copy_str(char *dst, size_t size, uint64_t paddr, bool *truncated)
{
	const char *s = phys(paddr, 1);
	size_t n;

	dst[0] = 0;
	if (!s)
		return;
	n = strnlen(s, size);
	if (n == size) {
		n = size - 1;
		if (truncated)
			*truncated = true;
	}
	memcpy(dst, s, n);
	dst[n] = 0;
}

static void add_mem(uint64_t addr, uint64_t size, uint32_t type)
{
	if (info.nr_mem < BOOT_MAX_MEM)
		info.mem[info.nr_mem++] = (struct mem_region){ addr, size, type };
}

static bool read_pvh(void)
{
	const struct hvm_start_info *si = phys(boot_info_paddr, sizeof(*si));

	if (!si || si->magic != PVH_START_MAGIC) {
		printf("guest: bad hvm_start_info at %#x (magic %#x)\n", boot_info_paddr,
		       si ? si->magic : 0);
		return false;
	}
	info.pvh_version = si->version;
	info.rsdp_paddr = si->rsdp_paddr;
	copy_str(info.cmdline, sizeof(info.cmdline), si->cmdline_paddr, &info.cmdline_truncated);
	if (si->version >= 1 && si->memmap_entries) {
		const struct hvm_memmap_table_entry *e =
			phys(si->memmap_paddr, (uint64_t)si->memmap_entries * sizeof(*e));
		for (uint32_t i = 0; e && i < si->memmap_entries; i++)
			add_mem(e[i].addr, e[i].size, e[i].type);
	}
	const struct hvm_modlist_entry *m =
		phys(si->modlist_paddr, (uint64_t)si->nr_modules * sizeof(*m));
	for (uint32_t i = 0; m && i < si->nr_modules && i < BOOT_MAX_MODULES; i++) {
		struct boot_module *bm = &info.modules[info.nr_modules++];
		bm->addr = m[i].paddr;
		bm->size = m[i].size;
		copy_str(bm->cmdline, sizeof(bm->cmdline), m[i].cmdline_paddr, NULL);
	}
	return true;
}

static bool read_multiboot(void)
{
	const struct multiboot_info *mbi = phys(boot_info_paddr, sizeof(*mbi));

	if (!mbi) {
		printf("guest: no multiboot info (ebx=%#x)\n", boot_info_paddr);
		return false;
	}
	info.mb_flags = mbi->flags;
	if (mbi->flags & MB_INFO_MEM) {
		info.mb_mem_lower_kib = mbi->mem_lower;
		info.mb_mem_upper_kib = mbi->mem_upper;
	}
	if (mbi->flags & MB_INFO_CMDLINE)
		copy_str(info.cmdline, sizeof(info.cmdline), mbi->cmdline, &info.cmdline_truncated);
	if (mbi->flags & MB_INFO_MMAP) {
		uint64_t p = mbi->mmap_addr, end = p + mbi->mmap_length;
		while (p + sizeof(struct multiboot_mmap) <= end) {
			const struct multiboot_mmap *e = phys(p, sizeof(*e));
			if (!e)
				break;
			add_mem(e->addr, e->len, e->type);
			p += (uint64_t)e->size + 4;
		}
	} else if (mbi->flags & MB_INFO_MEM) {
		add_mem(0, (uint64_t)mbi->mem_lower << 10, MEM_RAM);
		add_mem(1ULL << 20, (uint64_t)mbi->mem_upper << 10, MEM_RAM);
	}
	if (mbi->flags & MB_INFO_MODS) {
		const struct multiboot_mod *m =
			phys(mbi->mods_addr, (uint64_t)mbi->mods_count * sizeof(*m));
		for (uint32_t i = 0; m && i < mbi->mods_count && i < BOOT_MAX_MODULES; i++) {
			struct boot_module *bm = &info.modules[info.nr_modules++];
			bm->addr = m[i].mod_start;
			bm->size = m[i].mod_end >= m[i].mod_start ? m[i].mod_end - m[i].mod_start : 0;
			copy_str(bm->cmdline, sizeof(bm->cmdline), m[i].string, NULL);
		}
	}
	return true;
}

void guest_start(void)
{
	bool ok;

	cpu_init_bsp();
	serial_init();
	idt_build();
	idt_init();
	pic_disable();
	info.proto = (enum boot_proto)boot_proto;
	info.info_paddr = boot_info_paddr;
	ok = info.proto == BOOT_PROTO_PVH ? read_pvh() : read_multiboot();
	if (!ok)
		guest_exit(GUEST_EXIT_FAIL);
	guest_exit((unsigned)guest_main());
}

const struct boot_info *boot_info(void)
{
	return &info;
}

const char *boot_proto_name(void)
{
	return info.proto == BOOT_PROTO_PVH ? "pvh" : "multiboot";
}

const char *mem_type_name(uint32_t type)
{
	static const char *const names[] = { NULL, "RAM", "reserved", "ACPI", "NVS", "unusable" };
	static char buf[16];

	if (type < ARRAY_SIZE(names) && names[type])
		return names[type];
	snprintf(buf, sizeof(buf), "type %u", type);
	return buf;
}

uint64_t memmap_ram_bytes(void)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < info.nr_mem; i++) {
		if (info.mem[i].type == MEM_RAM)
			sum += info.mem[i].size;
	}
	return sum;
}

/* Page allocator: a cursor moving up through RAM below 4 GiB, skipping modules. */
static uint64_t alloc_cursor;

static bool overlaps_module(uint64_t a, uint64_t len, uint64_t *skip_to)
{
	for (unsigned i = 0; i < info.nr_modules; i++) {
		const struct boot_module *m = &info.modules[i];
		if (a < m->addr + m->size && m->addr < a + len) {
			*skip_to = m->addr + m->size;
			return true;
		}
	}
	return false;
}

void *page_alloc(size_t n)
{
	uint64_t len = (uint64_t)n * 4096;

	if (!alloc_cursor)
		alloc_cursor = (uint64_t)(uintptr_t)__image_end;
	for (;;) {
		uint64_t a = (alloc_cursor + 4095) & ~4095ULL, next = UINT64_MAX, skip;
		bool placed = false;

		for (unsigned i = 0; i < info.nr_mem && !placed; i++) {
			const struct mem_region *r = &info.mem[i];
			if (r->type != MEM_RAM)
				continue;
			if (a >= r->addr && a + len <= r->addr + r->size)
				placed = true;
			else if (r->addr > a && r->addr < next)
				next = r->addr;
		}
		if (!placed) {
			if (next == UINT64_MAX)
				return NULL;
			alloc_cursor = next;
			continue;
		}
		if (a + len > (4ULL << 30))
			return NULL;
		if (overlaps_module(a, len, &skip)) {
			alloc_cursor = skip;
			continue;
		}
		alloc_cursor = a + len;
		return memset((void *)(uintptr_t)a, 0, len);
	}
}
