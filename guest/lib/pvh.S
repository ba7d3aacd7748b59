/*
 * PVH entry (Xen's docs/misc/pvh.pandoc, the x86/HVM direct boot ABI):
 * the XEN_ELFNOTE_PHYS32_ENTRY note gives the 32-bit entry; ebx holds the
 * physical address of struct hvm_start_info.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.section .note.Xen, "a", @note
	.balign 4
	.long 2f - 1f                   /* namesz */
	.long 4f - 3f                   /* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz "Xen"
2:	.balign 4
3:	.long pvh_entry
4:	.balign 4

	.section .text.boot, "ax"
	.code32
	.global pvh_entry
pvh_entry:
	movl $1, boot_proto             /* BOOT_PROTO_PVH */
	movl %ebx, boot_info_paddr
	jmp boot32
