/*
 * Multiboot (version 1) as lodge uses it, from the Multiboot Specification
 * 0.6.96: §3.1 "OS image format" (the header) and §3.3 "Boot information
 * format" (the info structure, memory map and module list).
 */
#ifndef LODGE_BOOT_MULTIBOOT_ABI_H
#define LODGE_BOOT_MULTIBOOT_ABI_H

#define MB_HEADER_MAGIC      0x1BADB002u
#define MB_BOOTLOADER_MAGIC  0x2BADB002u    /* in eax at entry */
#define MB_SEARCH_LIMIT      8192           /* §3.1.1: header within the first 8 KiB */
#define MB_HEADER_ALIGN      4

/* Header offsets from the magic (§3.1.1). */
#define MB_HDR_FLAGS         4
#define MB_HDR_CHECKSUM      8
#define MB_HDR_HEADER_ADDR   12             /* the address fields, valid with MB_FLAG_AOUT_KLUDGE */
#define MB_HDR_LOAD_ADDR     16
#define MB_HDR_LOAD_END_ADDR 20
#define MB_HDR_BSS_END_ADDR  24
#define MB_HDR_ENTRY_ADDR    28
#define MB_HDR_MIN_SIZE      12
#define MB_HDR_AOUT_SIZE     32

/* Header flags (§3.1.2): bits 0-15 are requirements, 16-31 optional features. */
#define MB_FLAG_PAGE_ALIGN   (1u << 0)      /* modules page-aligned */
#define MB_FLAG_MEMORY_INFO  (1u << 1)      /* mem_* (and mmap if possible) wanted */
#define MB_FLAG_VIDEO_MODE   (1u << 2)      /* video mode table wanted */
#define MB_FLAG_AOUT_KLUDGE  (1u << 16)     /* header address fields are valid */
#define MB_FLAGS_REQUIRED    0xffffu

/* Info structure (§3.3): flags saying which fields are valid, and offsets. */
#define MBI_FLAG_MEM         (1u << 0)
#define MBI_FLAG_CMDLINE     (1u << 2)
#define MBI_FLAG_MODS        (1u << 3)
#define MBI_FLAG_MMAP        (1u << 6)
#define MBI_FLAG_LOADER_NAME (1u << 9)

#define MBI_FLAGS            0
#define MBI_MEM_LOWER        4              /* KiB from 0 */
#define MBI_MEM_UPPER        8              /* KiB from 1 MiB to the first hole */
#define MBI_CMDLINE          16
#define MBI_MODS_COUNT       20
#define MBI_MODS_ADDR        24
#define MBI_MMAP_LENGTH      44
#define MBI_MMAP_ADDR        48
#define MBI_LOADER_NAME      64
#define MBI_SIZE             116            /* through the 0.6.96 framebuffer fields */

/* Memory map entry: size (of the rest, 20), base_addr, length, type. mmap_addr points at size. */
#define MB_MMAP_ENTRY_SIZE   24
#define MB_MMAP_SIZE_FIELD   20

/* Module entry: mod_start, mod_end (exclusive), string, reserved. */
#define MB_MOD_ENTRY_SIZE    16

#endif
