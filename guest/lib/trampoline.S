/*
 * Real-mode start code for the APs, copied to SMP_TRAMPOLINE (0x8000,
 * SIPI vector 0x08) before the SIPIs. An AP starts at CS=0x0800 IP=0:
 * it loads the library's GDT, enters protected mode, then long mode with
 * the BSP's page tables, takes the stack smp.c left in ap_boot_stack and
 * calls ap_start().
 */
#define TRAMPOLINE  0x8000
#define SEL_KCODE32 0x08
#define SEL_KCODE   0x10
#define SEL_KDATA   0x18
#define REL(x)      ((x) - trampoline_start)
#define ABS(x)      (TRAMPOLINE + (x) - trampoline_start)

	.section .rodata
	.global trampoline_start, trampoline_end
	.code16
trampoline_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl REL(tramp_gdtr)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $SEL_KCODE32, $ABS(tramp32)

	.code32
tramp32:
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %cr4, %eax
	or $0x20, %eax                  /* PAE */
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx           /* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax            /* PG | PE */
	mov %eax, %cr0
	ljmp $SEL_KCODE, $ap_long64

	.balign 8
	.word 0
tramp_gdtr:
	.word gdt_limit
	.long gdt
trampoline_end:

	.text
	.code64
ap_long64:
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	mov ap_boot_stack(%rip), %rsp
	xor %ebp, %ebp
	call ap_start
1:	cli
	hlt
	jmp 1b
