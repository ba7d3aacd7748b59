/*
 * The PVH boot ABI as lodge uses it, written from Xen's public header
 * xen/include/public/arch-x86/hvm/start_info.h (structure version 1) and
 * xen/include/public/elfnote.h (XEN_ELFNOTE_PHYS32_ENTRY).
 */
#ifndef LODGE_BOOT_PVH_ABI_H
#define LODGE_BOOT_PVH_ABI_H

#include <stdint.h>

/* The ELF note giving the 32-bit physical entry point. */
#define PVH_NOTE_NAME          "Xen"
#define PVH_NOTE_PHYS32_ENTRY  18

#define PVH_START_MAGIC        0x336ec578u
#define PVH_START_VERSION      1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;         /* array of hvm_modlist_entry */
	uint64_t cmdline_paddr;         /* NUL-terminated */
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;          /* version 1: array of hvm_memmap_table_entry */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

/* Types are the e820 ones (XEN_HVM_MEMMAP_TYPE_RAM = 1, ...). */
struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry layout");

#endif
