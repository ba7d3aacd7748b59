#include "arch/x86/cpu.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define PTE_P  (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PS (1ULL << 7)

#define MULTIBOOT_LOADER_MAGIC 0x2BADB002u

/* A segment descriptor for the GDT from its parts (Intel SDM vol. 3A §3.4.5). */
static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint16_t flags)
{
	return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
	       ((uint64_t)(limit & 0x000f0000u) << 32) | (limit & 0xffffu) |
	       ((uint64_t)(flags & 0xf0ffu) << 40);
}

/* The KVM view of a GDT descriptor, so the hidden segment state matches the table. */
static struct kvm_segment kvm_seg(uint64_t desc, uint16_t sel)
{
	struct kvm_segment s = {
		.base = ((desc >> 16) & 0xffffff) | ((desc >> 32) & 0xff000000),
		.limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000)),
		.selector = sel,
		.type = (desc >> 40) & 0xf,
		.present = (desc >> 47) & 1,
		.dpl = (desc >> 45) & 3,
		.db = (desc >> 54) & 1,
		.s = (desc >> 44) & 1,
		.l = (desc >> 53) & 1,
		.g = (desc >> 55) & 1,
	};

	if (s.g)
		s.limit = (s.limit << 12) | 0xfff;
	return s;
}

/* Identity-map the first 4 GiB with 2 MiB pages: PML4 -> PDPT -> 4 PDs. */
static int write_page_tables(const struct gmem *m)
{
	uint64_t *pml4 = gmem_ptr(m, LAYOUT_PML4, 4096);
	uint64_t *pdpt = gmem_ptr(m, LAYOUT_PDPT, 4096);
	uint64_t *pd = gmem_ptr(m, LAYOUT_PD, 4 * 4096);

	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LAYOUT_PDPT | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + i * 4096) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

int cpu_boot_state(const struct gmem *m, const struct boot_entry *entry,
		   struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	bool long_mode = entry->mode == BOOT_LINUX64;
	/* Access flags: 0xa09b code (L or D/B), 0xc093 data, 0x008b busy 32/64-bit TSS. */
	uint64_t gdt[5] = {
		[GDT_SEL_CODE / 8] = gdt_entry(0, 0xfffff, long_mode ? 0xa09b : 0xc09b),
		[GDT_SEL_DATA / 8] = gdt_entry(0, 0xfffff, 0xc093),
		[GDT_SEL_TSS / 8] = gdt_entry(0, 0x67, 0x008b),
	};

	if (gmem_write(m, LAYOUT_GDT, gdt, sizeof(gdt)) < 0)
		return -EFAULT;
	sregs->gdt.base = LAYOUT_GDT;
	sregs->gdt.limit = sizeof(gdt) - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0xffff;
	sregs->cs = kvm_seg(gdt[GDT_SEL_CODE / 8], GDT_SEL_CODE);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss =
		kvm_seg(gdt[GDT_SEL_DATA / 8], GDT_SEL_DATA);
	sregs->tr = kvm_seg(gdt[GDT_SEL_TSS / 8], GDT_SEL_TSS);
	sregs->ldt = (struct kvm_segment){ .unusable = 1, .type = 2, .present = 1 };

	sregs->cr0 = CR0_PE | CR0_ET | CR0_NE;
	sregs->cr4 = 0;
	sregs->efer = 0;
	if (long_mode) {
		if (write_page_tables(m) < 0)
			return -EFAULT;
		sregs->cr3 = LAYOUT_PML4;
		sregs->cr4 |= CR4_PAE;
		sregs->cr0 |= CR0_PG;
		sregs->efer |= EFER_LME | EFER_LMA;
	}

	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2;
	regs->rip = entry->rip;
	switch (entry->mode) {
	case BOOT_LINUX64:
		regs->rsi = entry->arg;
		break;
	case BOOT_MULTIBOOT:
		regs->rax = MULTIBOOT_LOADER_MAGIC;
		regs->rbx = entry->arg;
		break;
	case BOOT_PVH:
		regs->rbx = entry->arg;
		break;
	}
	return 0;
}

/* MSR numbers (Intel SDM vol. 4). */
#define MSR_IA32_SYSENTER_CS    0x174
#define MSR_IA32_SYSENTER_ESP   0x175
#define MSR_IA32_SYSENTER_EIP   0x176
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_MTRR_DEF_TYPE       0x2ff
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102

const struct cpu_msr_init cpu_boot_msrs[] = {
	{ MSR_IA32_SYSENTER_CS, 0 },
	{ MSR_IA32_SYSENTER_ESP, 0 },
	{ MSR_IA32_SYSENTER_EIP, 0 },
	{ MSR_STAR, 0 },
	{ MSR_LSTAR, 0 },
	{ MSR_CSTAR, 0 },
	{ MSR_SYSCALL_MASK, 0 },
	{ MSR_KERNEL_GS_BASE, 0 },
	{ MSR_IA32_MISC_ENABLE, 1 },            /* fast string operations */
	{ MSR_MTRR_DEF_TYPE, (1u << 11) | 6 },  /* MTRRs enabled, default write-back */
};
const unsigned cpu_boot_msrs_count = sizeof(cpu_boot_msrs) / sizeof(cpu_boot_msrs[0]);
