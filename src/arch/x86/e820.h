/* The guest's physical memory map, as e820 entries (used by every boot path). */
#ifndef LODGE_ARCH_X86_E820_H
#define LODGE_ARCH_X86_E820_H

#include <stdint.h>

#include "kvm/mem.h"

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3

#define E820_MAX 16

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

struct e820_map {
	unsigned n;
	struct e820_entry e[E820_MAX];
};

/*
 * Build the map for guest RAM (m): RAM [0, EBDA), reserved [EBDA, 1 MiB)
 * (which holds the ACPI tables), RAM from 1 MiB to the end of the low region,
 * and RAM for the region above 4 GiB if any. Returns 0 or -EINVAL when RAM is
 * too small to hold the fixed layout (less than 2 MiB).
 */
int e820_build(struct e820_map *map, const struct gmem *m);

#endif
