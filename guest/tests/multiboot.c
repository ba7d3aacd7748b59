/*
 * multiboot: built with the multiboot (v1) header instead of the PVH note,
 * as an ELF32. Prints the multiboot information: flags, basic memory,
 * command line, memory map, and for each module its range, string and
 * first bytes.
 *
 *   module_magic=STR   some module must contain STR
 */
#include "guest.h"

static void show_module(unsigned i, const struct boot_module *m)
{
	const uint8_t *p = phys_ptr(m->addr);
	char hex[16 * 3 + 1] = "", text[17] = "";
	unsigned n = m->size < 16 ? (unsigned)m->size : 16;

	printf("multiboot: module %u [%#llx-%#llx) %llu bytes \"%s\"\n", i,
	       (unsigned long long)m->addr, (unsigned long long)(m->addr + m->size),
	       (unsigned long long)m->size, m->cmdline);
	for (unsigned j = 0; j < n; j++) {
		snprintf(hex + 3 * j, 4, "%02x ", p[j]);
		text[j] = p[j] >= 0x20 && p[j] < 0x7f ? (char)p[j] : '.';
	}
	text[n] = 0;
	printf("multiboot: module %u bytes: %s|%s|\n", i, hex, text);
}

int guest_main(void)
{
	const struct boot_info *bi = boot_info();
	const char *magic = cmdline_get("module_magic");
	bool magic_found = false;

	printf("multiboot: booted via %s, info at %#x, flags %#x\n", boot_proto_name(),
	       bi->info_paddr, bi->mb_flags);
	GUEST_ASSERT(bi->proto == BOOT_PROTO_MULTIBOOT);
	if (bi->mb_flags & 1)
		printf("multiboot: mem_lower %u KiB, mem_upper %u KiB\n", bi->mb_mem_lower_kib,
		       bi->mb_mem_upper_kib);
	printf("multiboot: cmdline: %s\n", cmdline());
	for (unsigned i = 0; i < bi->nr_mem; i++) {
		const struct mem_region *r = &bi->mem[i];
		printf("multiboot: mmap [%#012llx-%#012llx) %s\n", (unsigned long long)r->addr,
		       (unsigned long long)(r->addr + r->size), mem_type_name(r->type));
	}
	GUEST_ASSERT(bi->nr_mem > 0);
	printf("multiboot: %u modules\n", bi->nr_modules);
	for (unsigned i = 0; i < bi->nr_modules; i++) {
		const struct boot_module *m = &bi->modules[i];
		show_module(i, m);
		if (magic && m->size >= strlen(magic) &&
		    memmem(phys_ptr(m->addr), m->size, magic, strlen(magic)))
			magic_found = true;
	}
	if (magic) {
		printf("multiboot: module_magic \"%s\" %s\n", magic, magic_found ? "found" : "not found");
		GUEST_ASSERT(magic_found);
	}
	return 0;
}
