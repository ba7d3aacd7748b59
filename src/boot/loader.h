/*
 * Helpers shared by the loaders in src/boot (not a public interface): little-
 * endian field access on untrusted byte buffers, checks on where things may be
 * placed in guest memory, and initrd/command-line placement.
 */
#ifndef LODGE_BOOT_LOADER_H
#define LODGE_BOOT_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"

#define BOOT_PAGE 4096ULL

/* The least low RAM any loader accepts (matches e820_build's minimum). */
#define BOOT_MIN_RAM (2ULL << 20)

/* Little-endian loads and stores; callers have checked (p) has room. */
static inline uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* (v) rounded up to (align), a power of two; false if that overflows. */
static inline bool align_up_checked(uint64_t v, uint64_t align, uint64_t *out)
{
	if (v > UINT64_MAX - (align - 1))
		return false;
	*out = (v + align - 1) & ~(align - 1);
	return true;
}

/* Human-readable size for messages ("300 MiB", "12 KiB", "17 bytes") in (buf). */
const char *boot_size_str(char buf[32], uint64_t n);

/*
 * Checks every loader makes before touching guest memory: low RAM of at least
 * BOOT_MIN_RAM, an e820 map, a command line. 0 or -EINVAL with (e) set.
 */
int boot_check_input(const struct gmem *m, const struct boot_input *in, struct err *e);

/*
 * Check that guest [gpa, gpa+len) may receive part of a kernel: it lies in
 * one RAM region, at or above 1 MiB (below are lodge's boot structures and
 * the BIOS area). (what) names the range in the message, e.g. "ELF segment 2".
 * 0 or -EINVAL/-ERANGE with (e) set.
 */
int boot_check_kernel_range(const struct gmem *m, uint64_t gpa, uint64_t len,
			    const char *what, struct err *e);

/*
 * Place an initrd of (size) bytes page-aligned as high as possible below
 * (limit) (exclusive, clamped to the end of low RAM) and at or above (floor)
 * (the kernel's end), and copy (data) there. Returns 0 and its address in
 * (gpa), or -ENOMEM/-EFAULT with (e) set.
 */
int boot_place_initrd(const struct gmem *m, const uint8_t *data, uint64_t size,
		      uint64_t floor, uint64_t limit, uint64_t *gpa, struct err *e);

/*
 * Write (cmdline) NUL-terminated at LAYOUT_CMDLINE, refusing more than (max)
 * bytes (without the NUL; at most LAYOUT_CMDLINE_MAX - 1). (why) says where
 * the limit comes from, e.g. "allowed by this kernel". 0 or -E2BIG/-EFAULT.
 */
int boot_write_cmdline(const struct gmem *m, const char *cmdline, uint64_t max,
		       const char *why, struct err *e);

/*
 * True when (k, size) holds the multiboot v1 magic at a 4-byte aligned offset
 * within the first 8192 bytes (Multiboot 0.6.96 §3.1.1); multiboot.c.
 */
bool boot_has_multiboot_header(const uint8_t *k, size_t size);

#endif
