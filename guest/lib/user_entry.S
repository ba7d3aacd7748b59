/*
 * Ring 3 entry and exit. user_enter builds an iretq frame into ring 3;
 * user code returns to ring 0 with `syscall` (LSTAR = syscall_entry).
 * SYS_EXIT (rax 0) unwinds to user_enter's caller with rdi as the result;
 * other numbers call guest_syscall(nr, rdi, rsi, rdx) on the syscall stack
 * and return with sysretq. BSP only: the state below is global.
 */
#define SEL_UDATA 0x28
#define SEL_UCODE 0x30
#define SYS_EXIT  0

	.text
	.code64
/* uint64_t user_enter(fn, arg, user_rsp, rflags) */
	.global user_enter
user_enter:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, user_kernel_rsp(%rip)
	pushq $(SEL_UDATA | 3)
	pushq %rdx
	pushq %rcx
	pushq $(SEL_UCODE | 3)
	pushq %rdi
	mov %rsi, %rdi
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %ebp, %ebp
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	iretq

/* syscall: rcx = user rip, r11 = user rflags, rsp still the user's, IF clear (FMASK). */
	.global syscall_entry
syscall_entry:
	cmp $SYS_EXIT, %rax
	je 1f
	mov %rsp, user_saved_rsp(%rip)
	mov syscall_stack_top(%rip), %rsp
	pushq user_saved_rsp(%rip)
	push %rcx
	push %r11
	push %rax                       /* keeps the stack 16-byte aligned at the call */
	mov %rdx, %rcx
	mov %rsi, %rdx
	mov %rdi, %rsi
	mov %rax, %rdi
	call guest_syscall
	add $8, %rsp
	pop %r11
	pop %rcx
	pop %rsp
	sysretq

1:	mov %rdi, %rax
	mov user_kernel_rsp(%rip), %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

/* Where a ring-3 function returns to: SYS_EXIT with its return value. */
	.section .user.text, "ax"
	.global user_return
user_return:
	mov %rax, %rdi
	mov $SYS_EXIT, %eax
	syscall
	ud2

	.data
	.balign 8
user_kernel_rsp:
	.quad 0
user_saved_rsp:
	.quad 0
	.global syscall_stack_top
syscall_stack_top:
	.quad 0
