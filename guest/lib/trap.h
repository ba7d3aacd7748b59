/*
 * The IDT: exceptions, interrupts and the way tests catch exceptions.
 *
 * An exception nobody expects prints one report line
 *   "guest: unexpected exception 14 (#PF) rip=... err=... cr2=... cs=... cpu=..."
 * plus the registers, then exits with GUEST_EXIT_EXCEPTION. A test that
 * expects one runs the faulting code under trap_catch.
 */
#ifndef GUEST_TRAP_H
#define GUEST_TRAP_H

#include <stdbool.h>
#include <stdint.h>

#define VEC_DE   0
#define VEC_DB   1
#define VEC_NMI  2
#define VEC_BP   3
#define VEC_UD   6
#define VEC_NM   7
#define VEC_DF   8
#define VEC_TS   10
#define VEC_NP   11
#define VEC_SS   12
#define VEC_GP   13
#define VEC_PF   14
#define VEC_AC   17
#define VEC_MC   18

#define VEC_SPURIOUS 0xff       /* LAPIC spurious-interrupt vector; needs no EOI */

/* #PF error code bits (SDM vol. 3 §4.7). */
#define PF_PRESENT  (1u << 0)
#define PF_WRITE    (1u << 1)
#define PF_USER     (1u << 2)
#define PF_RSVD     (1u << 3)
#define PF_FETCH    (1u << 4)

/* What the common entry stub (lib/trap_entry.S) pushes, lowest address first. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;    /* error_code 0 for vectors without one */
	uint64_t rip, cs, rflags, rsp, ss;
};

/* What trap_catch reports about a caught exception. */
struct trap_info {
	uint64_t vector, error_code, rip, cr2, cs, rsp;
};

/* Load the IDT on this CPU (the table itself is built once, by the BSP). */
void idt_init(void);

/* Name of exception (vector), e.g. "#PF"; "irq" for vectors >= 32. */
const char *trap_name(unsigned vector);

/*
 * Run (fn)(arg) on this CPU. If it raises an exception (in ring 0 or ring
 * 3), fill (ti) and return its vector, resuming here in ring 0 with the
 * stack and interrupt flag as they were at the call. Returns -1 when (fn)
 * returns normally. Calls nest.
 */
int trap_catch(void (*fn)(void *), void *arg, struct trap_info *ti);

/*
 * Call (fn)(frame) for interrupt (vector) (32..254) on every CPU; EOI is
 * sent after it returns. NULL removes it. An interrupt without a handler
 * is counted and ignored.
 */
void irq_set_handler(unsigned vector, void (*fn)(struct trap_frame *f));

/* Interrupts that arrived on vectors without a handler (spurious 0xff included). */
unsigned irq_unhandled_count(void);

/* Print the registers of (f), one line of four. */
void trap_dump(const struct trap_frame *f);

#endif
