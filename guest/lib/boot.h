/*
 * What the loader told the guest, copied out of low memory before
 * guest_main runs: boot protocol, command line, memory map, modules and
 * the RSDP address. Also a page allocator over the RAM the image and the
 * modules do not use.
 */
#ifndef GUEST_BOOT_H
#define GUEST_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BOOT_MAX_MEM      64
#define BOOT_MAX_MODULES  16
#define BOOT_CMDLINE_MAX  4096
#define BOOT_MODSTR_MAX   256

/* Memory map entry types (same numbers as e820 and hvm_memmap_table_entry). */
#define MEM_RAM       1
#define MEM_RESERVED  2
#define MEM_ACPI      3
#define MEM_NVS       4
#define MEM_UNUSABLE  5

enum boot_proto { BOOT_PROTO_PVH = 1, BOOT_PROTO_MULTIBOOT = 2 };

struct mem_region {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct boot_module {
	uint64_t addr;                  /* guest-physical; the bytes stay where the loader put them */
	uint64_t size;
	char cmdline[BOOT_MODSTR_MAX];  /* module string (multiboot) or cmdline (PVH), "" if none */
};

struct boot_info {
	enum boot_proto proto;
	uint32_t info_paddr;            /* where hvm_start_info / the multiboot info was */
	uint32_t pvh_version;           /* hvm_start_info.version (PVH) */
	uint32_t mb_flags;              /* multiboot_info.flags (multiboot) */
	uint32_t mb_mem_lower_kib;      /* multiboot mem_lower/mem_upper when flag 0 is set */
	uint32_t mb_mem_upper_kib;
	uint64_t rsdp_paddr;            /* 0 when the loader gave none */
	char cmdline[BOOT_CMDLINE_MAX]; /* "" when none */
	bool cmdline_truncated;
	unsigned nr_mem;
	struct mem_region mem[BOOT_MAX_MEM];
	unsigned nr_modules;
	struct boot_module modules[BOOT_MAX_MODULES];
};

/* The boot information (valid from guest_main on). */
const struct boot_info *boot_info(void);

/* "pvh" or "multiboot". */
const char *boot_proto_name(void);

/* Name of a memory map type: "RAM", "reserved", "ACPI", "NVS", "unusable" or "type N". */
const char *mem_type_name(uint32_t type);

/* Sum of the sizes of all MEM_RAM regions. */
uint64_t memmap_ram_bytes(void);

/*
 * Command line access. The line is split into space-separated words; a word
 * "key=value" (value may be "double quoted") defines key, a bare word "key"
 * defines key with the value "".
 */
const char *cmdline(void);                      /* the whole line */
const char *cmdline_get(const char *key);       /* value of (key), or NULL when absent */
bool cmdline_has(const char *key);

/* Value of (key) parsed by parse_u64 (decimal, 0x hex, K/M/G), or (def) when absent or bad. */
uint64_t cmdline_get_u64(const char *key, uint64_t def);

/* True when (key) is present and its value is empty, "1", "y", "yes", "on" or "true". */
bool cmdline_flag(const char *key);

/*
 * Allocate (n) zeroed 4 KiB pages of RAM below 4 GiB that neither the image
 * nor a module occupies. Never freed. Returns NULL when none is left.
 */
void *page_alloc(size_t n);

/* Start of the guest image and its end including bss and stacks (link.ld). */
extern char __image_start[], __image_end[];

#endif
