/* Internal interfaces between the library's files (not for test guests). */
#ifndef GUEST_INTERNAL_H
#define GUEST_INTERNAL_H

#include <stdint.h>

/* lib/boot.c: the first C function, from head.S. */
void guest_start(void);

/* lib/cpu.c: point GS at the BSP's struct cpu and load its TSS. */
void cpu_init_bsp(void);

/* lib/cpu.c: set up CPU (index) on the CPU running it (GS base, TSS). */
void cpu_init_this(unsigned index);

/* lib/cpu.c: set ring-0 stack (rsp0) in this CPU's TSS. */
void cpu_set_rsp0(uint64_t rsp0);

/* lib/trap.c: fill the IDT (once, on the BSP). */
void idt_build(void);

/* lib/trap_entry.S */
__attribute__((returns_twice)) int catch_setjmp(uint64_t jb[8]);
__attribute__((noreturn)) void catch_longjmp(uint64_t jb[8], int val);

/* lib/head.S */
extern uint64_t pml4[512], pd[4 * 512];

#endif
