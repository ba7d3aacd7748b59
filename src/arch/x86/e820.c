/*
 * The guest e820 map, derived from the RAM regions of guest memory and the
 * fixed low-memory layout in layout.h. Every boot path (zero page, PVH
 * memmap, multiboot mmap) hands this same map to the guest.
 */
#include "arch/x86/e820.h"

#include <errno.h>

#include "arch/x86/layout.h"

/*
 * The smallest low region lodge accepts: the fixed structures below 1 MiB
 * plus at least 1 MiB above it for a kernel. Real kernels need far more, but
 * that is for the loaders to say, with the kernel's own numbers.
 */
#define E820_MIN_LOW_RAM (2ULL << 20)

static void e820_add(struct e820_map *map, uint64_t addr, uint64_t size, uint32_t type)
{
	struct e820_entry *en = &map->e[map->n++];

	en->addr = addr;
	en->size = size;
	en->type = type;
}

int e820_build(struct e820_map *map, const struct gmem *m)
{
	map->n = 0;
	/* gmem_init always makes the low region first, starting at 0. */
	if (m->nregions == 0 || m->regions[0].gpa != 0 ||
	    m->regions[0].size < E820_MIN_LOW_RAM)
		return -EINVAL;
	/* Region count is bounded by GMEM_MAX_REGIONS, well below E820_MAX. */
	if (m->nregions + 2 > E820_MAX)
		return -EINVAL;

	e820_add(map, 0, LAYOUT_EBDA, E820_RAM);
	/* EBDA and the BIOS area: the ACPI tables live here (found by the legacy scan). */
	e820_add(map, LAYOUT_EBDA, LAYOUT_HIGH_MEM - LAYOUT_EBDA, E820_RESERVED);
	e820_add(map, LAYOUT_HIGH_MEM, m->regions[0].size - LAYOUT_HIGH_MEM, E820_RAM);
	for (unsigned i = 1; i < m->nregions; i++)
		e820_add(map, m->regions[i].gpa, m->regions[i].size, E820_RAM);
	return 0;
}
