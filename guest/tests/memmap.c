/*
 * memmap: prints the memory map the loader gave (hvm_start_info memmap or
 * multiboot mmap) and checks it:
 *   - RAM entries do not overlap one another, nor [0xc0000000, 4 GiB);
 *   - with mem_mib=M: total RAM in [M MiB - 1 MiB, M MiB] (the slack is the
 *     EBDA and legacy hole below 1 MiB);
 *   - the image itself lies in RAM.
 */
#include "guest.h"

#define HOLE_START 0xc0000000ULL
#define HOLE_END   0x100000000ULL

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int guest_main(void)
{
	const struct boot_info *bi = boot_info();
	uint64_t total = 0, mem_mib = cmdline_get_u64("mem_mib", 0);
	uint64_t img = (uint64_t)(uintptr_t)__image_start;
	uint64_t img_len = (uint64_t)(uintptr_t)(__image_end - __image_start);
	bool image_in_ram = false;

	printf("memmap: %u entries from %s\n", bi->nr_mem, boot_proto_name());
	GUEST_ASSERT(bi->nr_mem > 0);
	for (unsigned i = 0; i < bi->nr_mem; i++) {
		const struct mem_region *r = &bi->mem[i];

		printf("memmap: [%#012llx-%#012llx) %-8s %llu KiB\n", (unsigned long long)r->addr,
		       (unsigned long long)(r->addr + r->size), mem_type_name(r->type),
		       (unsigned long long)(r->size >> 10));
		if (r->type != MEM_RAM)
			continue;
		total += r->size;
		if (overlaps(r->addr, r->size, HOLE_START, HOLE_END - HOLE_START))
			guest_fail(__FILE__, __LINE__, "RAM entry %u overlaps the 3-4 GiB hole", i);
		for (unsigned j = 0; j < i; j++) {
			const struct mem_region *o = &bi->mem[j];
			if (o->type == MEM_RAM && overlaps(r->addr, r->size, o->addr, o->size))
				guest_fail(__FILE__, __LINE__, "RAM entries %u and %u overlap", j, i);
		}
		if (img >= r->addr && img + img_len <= r->addr + r->size)
			image_in_ram = true;
	}
	printf("memmap: RAM total %llu KiB (%llu MiB)\n", (unsigned long long)(total >> 10),
	       (unsigned long long)(total >> 20));
	GUEST_ASSERT(image_in_ram);
	if (mem_mib) {
		uint64_t mem = mem_mib << 20;
		if (total > mem || total < mem - (1ULL << 20))
			guest_fail(__FILE__, __LINE__,
				   "RAM total %llu KiB not within 1 MiB below mem_mib=%llu",
				   (unsigned long long)(total >> 10), (unsigned long long)mem_mib);
		printf("memmap: RAM total matches mem_mib=%llu\n", (unsigned long long)mem_mib);
	}
	return 0;
}
