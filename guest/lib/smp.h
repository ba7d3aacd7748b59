/*
 * CPUs and SMP bring-up. CPU indices follow the MADT order; the BSP is the
 * CPU running guest_main. Each CPU has a struct cpu reached through GS.
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include <stdbool.h>
#include <stdint.h>

#define MAX_CPUS 256
#define AP_STACK_SIZE (16 * 1024)
#define SMP_TRAMPOLINE 0x8000   /* real-mode start page: SIPI vector 0x08 */

struct trap_catch_ctx;

struct cpu {
	struct cpu *self;               /* at %gs:0 */
	unsigned index;
	unsigned apic_id;
	struct trap_catch_ctx *catch;   /* innermost trap_catch on this CPU */
	uint64_t stack_top;
	volatile bool online;
};

/* This CPU's struct (GS base). */
static inline struct cpu *this_cpu(void)
{
	struct cpu *c;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}

/* The struct cpu of index (i) (0 = BSP before smp_init; MADT order after). */
struct cpu *cpu_get(unsigned i);

/*
 * Read the MADT and number the CPUs; the BSP keeps its struct. Returns the
 * number of CPUs the MADT lists (1 when there is no MADT).
 */
unsigned smp_init(void);

/* Number of CPUs known (from smp_init). */
unsigned smp_cpu_count(void);

/*
 * Start every AP from the MADT with INIT-SIPI-SIPI through the real-mode
 * trampoline at SMP_TRAMPOLINE, one at a time: each gets its own stack,
 * loads the GDT and IDT, enables its LAPIC and runs (fn)(cpu index), then
 * halts with interrupts off. Waits up to (timeout_ms) for each AP to come
 * alive. Returns the number of APs that came alive.
 */
unsigned smp_start_aps(void (*fn)(unsigned cpu), unsigned timeout_ms);

/* A spinlock (xchg); fine for a handful of CPUs. */
struct spinlock {
	volatile uint32_t locked;
};
void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);

#endif
