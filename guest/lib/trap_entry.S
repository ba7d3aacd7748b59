/*
 * IDT entry stubs, 16 bytes apart (trap_stubs + 16 * vector): each pushes
 * a zero where the CPU pushes no error code, then the vector, and jumps to
 * trap_common, which saves the registers as struct trap_frame (trap.h) and
 * calls trap_dispatch(frame). Also the setjmp/longjmp pair of trap_catch.
 */
	.text
	.balign 16
	.global trap_stubs
trap_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	/* Vectors with an error code (SDM vol. 3 §6.3.1, table 6-1). */
	.if !(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
	pushq $0
	.endif
	pushq $vec
	jmp trap_common
	.set vec, vec + 1
	.endr

trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	cld
	mov %rsp, %rdi
	call trap_dispatch
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp                   /* vector, error code */
	iretq

/* int catch_setjmp(uint64_t jb[8]): rbx, rbp, r12-r15, rsp, rip. */
	.global catch_setjmp
catch_setjmp:
	mov %rbx, 0(%rdi)
	mov %rbp, 8(%rdi)
	mov %r12, 16(%rdi)
	mov %r13, 24(%rdi)
	mov %r14, 32(%rdi)
	mov %r15, 40(%rdi)
	lea 8(%rsp), %rdx
	mov %rdx, 48(%rdi)
	mov (%rsp), %rdx
	mov %rdx, 56(%rdi)
	xor %eax, %eax
	ret

/* void catch_longjmp(uint64_t jb[8], int val): trap_dispatch "returns" here. */
	.global catch_longjmp
catch_longjmp:
	mov 0(%rdi), %rbx
	mov 8(%rdi), %rbp
	mov 16(%rdi), %r12
	mov 24(%rdi), %r13
	mov 32(%rdi), %r14
	mov 40(%rdi), %r15
	mov 48(%rdi), %rsp
	mov %esi, %eax
	jmp *56(%rdi)
