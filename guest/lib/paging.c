/* The identity map of lib/head.S, changed page by page (SDM vol. 3 §4.5, 4-level paging). */
#include "guest.h"
#include "internal.h"

#define PTE_P    0x001ULL
#define PTE_W    0x002ULL
#define PTE_U    0x004ULL
#define PTE_PS   0x080ULL
#define PTE_ADDR 0x000ffffffffff000ULL
#define CR0_WP   (1ULL << 16)

/* The 4 KiB PTE mapping (a), splitting its 2 MiB page first if needed. */
static uint64_t *pte_of(uint64_t a)
{
	uint64_t *pde = &pd[a >> 21];

	if (*pde & PTE_PS) {
		uint64_t *pt = page_alloc(1);
		uint64_t flags = *pde & 0x1f, base = *pde & PTE_ADDR & ~0x1fffffULL;

		GUEST_ASSERT(pt != NULL);
		for (unsigned i = 0; i < 512; i++)
			pt[i] = (base + 4096ULL * i) | flags;
		/* Upper levels allow everything; the leaves decide. */
		*pde = (uint64_t)(uintptr_t)pt | PTE_P | PTE_W | PTE_U;
		write_cr3(read_cr3());
	}
	return (uint64_t *)(uintptr_t)(*pde & PTE_ADDR) + ((a >> 12) & 511);
}

void paging_set_user(uint64_t addr, uint64_t len)
{
	for (uint64_t a = addr & ~0xfffULL; a < addr + len && a < PAGING_MAPPED_END; a += 4096) {
		*pte_of(a) |= PTE_U;
		invlpg(a);
	}
}

void paging_unmap(uint64_t addr)
{
	if (addr >= PAGING_MAPPED_END)
		return;
	*pte_of(addr) &= ~PTE_P;
	invlpg(addr);
}

void paging_set_readonly(uint64_t addr)
{
	uint64_t cr0;

	if (addr >= PAGING_MAPPED_END)
		return;
	*pte_of(addr) &= ~PTE_W;
	invlpg(addr);
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	if (!(cr0 & CR0_WP))
		__asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | CR0_WP));
}
