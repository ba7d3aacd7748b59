/*
 * Multiboot (v1) header and entry (Multiboot Specification 0.6.96 §3.1):
 * eax = 0x2BADB002, ebx = physical address of the multiboot information.
 * The header asks for page-aligned modules and memory information; no
 * a.out kludge, so the loader reads the (ELF32) program headers.
 */
#define MB_MAGIC       0x1badb002
#define MB_FLAGS       0x00000003      /* bit 0: align modules, bit 1: memory info */
#define MB_BOOT_MAGIC  0x2badb002

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.section .text.boot, "ax"
	.code32
	.global mb_entry
mb_entry:
	cmp $MB_BOOT_MAGIC, %eax
	jne 1f
	movl $2, boot_proto             /* BOOT_PROTO_MULTIBOOT */
	movl %ebx, boot_info_paddr
	jmp boot32
	/* Not started by a multiboot loader: exit with GUEST_EXIT_FAIL. */
1:	mov $0x20, %eax
	outl %eax, $0xf4
2:	cli
	hlt
	jmp 2b
