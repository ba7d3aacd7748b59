/*
 * The tiny guest every start-time benchmark boots: a PVH ELF whose 32-bit
 * entry writes 0 to the debug-exit port (0xf4) at once. lodge, QEMU microvm
 * and the bare-KVM floor all load this same file.
 */
	.section .note.Xen, "a"
	.p2align 2
	.long 4                 /* namesz: "Xen\0" */
	.long 4                 /* descsz */
	.long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_entry

	.text
	.code32
	.globl pvh_entry
pvh_entry:
	xorl %eax, %eax
	outl %eax, $0xf4
1:	hlt
	jmp 1b
