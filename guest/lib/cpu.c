/* Per-CPU state: struct cpu behind GS, and a 64-bit TSS per CPU (SDM vol. 3 §8.7). */
#include "guest.h"
#include "internal.h"

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

extern uint64_t gdt_tss[];

static struct cpu cpus[MAX_CPUS];
static struct tss tss[MAX_CPUS];

struct cpu *cpu_get(unsigned i)
{
	return i < MAX_CPUS ? &cpus[i] : NULL;
}

static void load_tss(unsigned index)
{
	uint64_t base = (uint64_t)(uintptr_t)&tss[index];
	uint64_t limit = sizeof(struct tss) - 1;
	uint16_t sel = (uint16_t)(SEL_TSS0 + 16 * index);

	tss[index].iomap_base = sizeof(struct tss);     /* no I/O bitmap: ring 3 port I/O faults */
	gdt_tss[2 * index] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ULL << 40 |
			     ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	gdt_tss[2 * index + 1] = base >> 32;
	__asm__ volatile("ltr %0" : : "r"(sel));
}

void cpu_init_this(unsigned index)
{
	struct cpu *c = &cpus[index];

	c->self = c;
	c->index = index;
	wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)c);
	load_tss(index);
}

void cpu_init_bsp(void)
{
	cpu_init_this(0);
}

void cpu_set_rsp0(uint64_t rsp0)
{
	tss[this_cpu()->index].rsp[0] = rsp0;
}
