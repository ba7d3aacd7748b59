/*
 * Running code in ring 3. User code and its read-only data must be placed
 * in the .user.* sections (USER_TEXT, USER_RODATA, USER_DATA), which the
 * library maps user-accessible; everything else stays supervisor-only.
 * Ring 3 returns to ring 0 through `syscall` (LSTAR); SYS_EXIT ends
 * user_run, other numbers go to guest_syscall. BSP only.
 */
#ifndef GUEST_USER_H
#define GUEST_USER_H

#include <stdint.h>

#define USER_TEXT   __attribute__((section(".user.text"), noipa))
#define USER_RODATA __attribute__((section(".user.rodata")))
#define USER_DATA   __attribute__((section(".user.data")))

#define SYS_EXIT   0    /* (result): user_run returns result */
#define SYS_WRITE  1    /* (buf, len): console output; returns len */

/* Set up syscall MSRs, the TSS of this CPU and the user mappings. */
void user_init(void);

/*
 * Run (fn)(arg) in ring 3 on a user stack, interrupts as in the caller.
 * Returns what (fn) returns (or passes to SYS_EXIT). An exception in ring 3
 * goes to trap_catch as usual, or is reported as unexpected.
 */
uint64_t user_run(uint64_t (*fn)(uint64_t), uint64_t arg);

/* Kernel-side handler for syscall numbers other than SYS_EXIT. */
uint64_t guest_syscall(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3);

/* Issue a syscall from ring 3 (always inlined, so it lives in .user.text). */
static inline __attribute__((always_inline)) uint64_t user_syscall(uint64_t nr, uint64_t a1,
								   uint64_t a2, uint64_t a3)
{
	uint64_t ret;
	register uint64_t r_a1 __asm__("rdi") = a1;
	register uint64_t r_a2 __asm__("rsi") = a2;
	register uint64_t r_a3 __asm__("rdx") = a3;

	__asm__ volatile("syscall"
			 : "=a"(ret), "+r"(r_a1), "+r"(r_a2), "+r"(r_a3)
			 : "a"(nr)
			 : "rcx", "r8", "r9", "r10", "r11", "memory");
	return ret;
}

#endif
