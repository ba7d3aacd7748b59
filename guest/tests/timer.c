/*
 * timer: LAPIC timer interrupts, waited for with sti; hlt. First one
 * one-shot interrupt (and the count must then stay at 0), then N periodic
 * ticks.
 *
 *   ticks=N         periodic ticks to count (default 10)
 *   period_us=US    timer period, assuming the 1 GHz APIC bus (default 1000)
 */
#include "guest.h"

#define TIMER_VECTOR 0x20

static volatile uint64_t ticks;

static void tick(struct trap_frame *f)
{
	(void)f;
	ticks++;
}

/* Halt until (n) ticks have arrived in total. */
static void wait_ticks(uint64_t n)
{
	for (;;) {
		cli();
		if (ticks >= n)
			break;
		sti_hlt();
	}
	sti();
}

int guest_main(void)
{
	uint64_t n = cmdline_get_u64("ticks", 10);
	uint64_t period_us = cmdline_get_u64("period_us", 1000);
	uint32_t count = (uint32_t)(period_us * (LAPIC_TIMER_HZ / 1000000));
	uint64_t t0, t1;

	GUEST_ASSERT(n > 0 && period_us > 0 && period_us <= 4000000);
	lapic_init();
	irq_set_handler(TIMER_VECTOR, tick);

	lapic_timer_oneshot(TIMER_VECTOR, count);
	wait_ticks(1);
	GUEST_ASSERT_EQ(lapic_timer_current(), 0);
	printf("timer: one-shot interrupt arrived (vector %#x)\n", TIMER_VECTOR);

	ticks = 0;
	t0 = rdtsc();
	lapic_timer_periodic(TIMER_VECTOR, count);
	wait_ticks(n);
	lapic_timer_stop();
	t1 = rdtsc();
	cli();
	printf("timer: %llu periodic ticks of %llu us (%llu TSC cycles)\n",
	       (unsigned long long)ticks, (unsigned long long)period_us,
	       (unsigned long long)(t1 - t0));
	GUEST_ASSERT(ticks >= n);
	printf("timer: %u interrupts without a handler\n", irq_unhandled_count());
	return 0;
}
