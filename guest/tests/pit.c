/*
 * pit: the 8254 PIT (ports 0x40-0x43, 0x61), as hobby kernels and old
 * test suites use it. Channel 0 in rate-generator mode interrupts through
 * IOAPIC pin 0 (ISA IRQ 0 is GSI 0: no interrupt source override); a
 * latched count reads back within the period and moves; channel 2, gated
 * through port 0x61, raises its output when a one-shot count runs out.
 * On lodge the guest's first PIT access brings the in-kernel PIT into being;
 * first= picks what that access is, to check each kind is applied right.
 *
 *   ticks=N   channel 0 interrupts to wait for (default 10)
 *   first=control|speaker|latch   the first PIT access: channel 0's control
 *             word (default), a read of port 0x61, or a counter latch command
 *             and two reads of the unprogrammed channel 0
 */
#include "guest.h"

#define PIT_VECTOR      0x30
#define WATCHDOG_VECTOR 0x31
#define PIT_DIVISOR     1193    /* ~1 kHz from 1.193182 MHz */

static volatile uint64_t ticks;
static volatile bool watchdog_fired;

static void tick(struct trap_frame *f)
{
	(void)f;
	ticks++;
}

static void watchdog(struct trap_frame *f)
{
	(void)f;
	watchdog_fired = true;
}

/* Latch channel (ch) and read its 16-bit count, LSB then MSB. */
static uint16_t pit_read_latched(unsigned ch)
{
	uint8_t lo, hi;

	outb(0x43, (uint8_t)(ch << 6));
	lo = inb((uint16_t)(0x40 + ch));
	hi = inb((uint16_t)(0x40 + ch));
	return (uint16_t)(lo | (hi << 8));
}

static void wait_ticks(uint64_t n)
{
	for (;;) {
		cli();
		if (ticks >= n || watchdog_fired)
			break;
		sti_hlt();
	}
	sti();
}

int guest_main(void)
{
	uint64_t n = cmdline_get_u64("ticks", 10);
	uint16_t a, b;
	unsigned spins = 0;

	lapic_init();
	pic_disable();
	irq_set_handler(PIT_VECTOR, tick);
	irq_set_handler(WATCHDOG_VECTOR, watchdog);

	const char *first = cmdline_get("first");

	if (first && strcmp(first, "speaker") == 0) {
		printf("pit: first access: port 0x61 reads %#x\n", inb(0x61));
	} else if (first && strcmp(first, "latch") == 0) {
		a = pit_read_latched(0);
		printf("pit: first access: latch, unprogrammed channel 0 reads %u\n", a);
	}
	/* Channel 0: LSB then MSB, mode 2 (rate generator), binary. */
	outb(0x43, 0x34);
	outb(0x40, PIT_DIVISOR & 0xff);
	outb(0x40, PIT_DIVISOR >> 8);
	ioapic_route(0, PIT_VECTOR, lapic_id(), false, false);
	lapic_timer_oneshot(WATCHDOG_VECTOR, 2000000000u); /* 2 s */
	wait_ticks(n);
	lapic_timer_stop();
	GUEST_ASSERT(!watchdog_fired);
	printf("pit: %llu channel 0 interrupts through IOAPIC pin 0\n", (unsigned long long)ticks);

	ioapic_mask(0);
	a = pit_read_latched(0);
	lapic_udelay(100);
	b = pit_read_latched(0);
	printf("pit: latched counts %u then %u (period %u)\n", a, b, PIT_DIVISOR);
	GUEST_ASSERT(a <= PIT_DIVISOR && b <= PIT_DIVISOR);
	GUEST_ASSERT(a != b);

	/* Channel 2: gate on (0x61 bit 0), speaker off, mode 0 with a count of 1000. */
	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
	outb(0x43, 0xb0);
	outb(0x42, 1000 & 0xff);
	outb(0x42, 1000 >> 8);
	while (!(inb(0x61) & 0x20) && spins < 100000) {
		lapic_udelay(10);
		spins++;
	}
	GUEST_ASSERT(inb(0x61) & 0x20);
	printf("pit: channel 2 output rose after %u polls\n", spins);
	guest_exit(0);
}
