/*
 * From the loader's 32-bit protected mode (paging off, flat segments,
 * interrupts off) to 64-bit long mode: our GDT, identity page tables for
 * the first 4 GiB, a stack, then guest_start(). The protocol stubs (pvh.S,
 * multiboot.S) store what the loader passed before jumping to boot32.
 */
#define SEL_KCODE32 0x08
#define SEL_KCODE   0x10
#define SEL_KDATA   0x18
#define MAX_CPUS    256

#define CR0_PE      0x00000001
#define CR0_PG      0x80000000
#define CR4_PAE     0x00000020
#define MSR_EFER    0xc0000080
#define EFER_LME    0x00000100

	.section .text.boot, "ax"
	.code32
	.global boot32
boot32:
	cli
	cld
	lgdt gdt_desc
	ljmp $SEL_KCODE32, $1f
1:	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $boot_stack_top, %esp

	/* bss: the loader zeroes it too, but the multiboot spec does not say so for ELF */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb

	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PG | CR0_PE), %eax
	mov %eax, %cr0
	ljmp $SEL_KCODE, $long64

	.code64
long64:
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	mov $boot_stack_top, %rsp
	xor %ebp, %ebp
	call guest_start
2:	cli
	hlt
	jmp 2b

	.data
	.global boot_proto, boot_info_paddr
	.balign 4
boot_proto:
	.long 0
boot_info_paddr:
	.long 0

/*
 * GDT: the layout syscall/sysret need (STAR: kernel CS, CS+8 = SS; user
 * CS32, +8 = SS, +16 = CS64), then one 16-byte TSS descriptor per CPU.
 */
	.balign 16
	.global gdt, gdt_desc, gdt_tss
gdt:
	.quad 0
	.quad 0x00cf9b000000ffff        /* 0x08 kernel code, 32-bit */
	.quad 0x00af9b000000ffff        /* 0x10 kernel code, 64-bit */
	.quad 0x00cf93000000ffff        /* 0x18 kernel data */
	.quad 0x00cffb000000ffff        /* 0x20 user code, 32-bit (unused) */
	.quad 0x00cff3000000ffff        /* 0x28 user data */
	.quad 0x00affb000000ffff        /* 0x30 user code, 64-bit */
gdt_tss:
	.fill MAX_CPUS * 2, 8, 0        /* 0x38 + 16 * cpu: TSS descriptors */
gdt_end:
	.global gdt_limit
	.set gdt_limit, gdt_end - gdt - 1
	.balign 8
	.word 0
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt

/*
 * Identity map of 0-4 GiB with 2 MiB pages, supervisor-only at the leaves
 * (user bits set above so paging_set_user only touches leaves). The top GiB
 * (MMIO: IOAPIC, LAPIC, virtio-mmio) is uncached.
 */
#define PTE_P   0x001
#define PTE_W   0x002
#define PTE_U   0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS  0x080

	.balign 4096
	.global pml4, pd
pml4:
	.quad pdpt + (PTE_P | PTE_W | PTE_U)
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0000 + (PTE_P | PTE_W | PTE_U)
	.quad pd + 0x1000 + (PTE_P | PTE_W | PTE_U)
	.quad pd + 0x2000 + (PTE_P | PTE_W | PTE_U)
	.quad pd + 0x3000 + (PTE_P | PTE_W | PTE_U)
	.fill 508, 8, 0
pd:
	.set page, 0
	.rept 1536
	.quad (page << 21) | (PTE_P | PTE_W | PTE_PS)
	.set page, page + 1
	.endr
	.rept 512
	.quad (page << 21) | (PTE_P | PTE_W | PTE_PWT | PTE_PCD | PTE_PS)
	.set page, page + 1
	.endr

	.section .stack, "aw", @nobits
	.balign 16
boot_stack:
	.skip 16384
	.global boot_stack_top
boot_stack_top:
