/*
 * serial-input: prints "ready", reads one line from COM1 and prints
 * "got: LINE". Input comes through receive interrupts (IOAPIC pin 4,
 * edge, to vector 0x24 on the BSP) unless poll=1 is given. If a byte
 * waits in the UART for 2 s without an interrupt, that is reported and
 * the guest fails.
 */
#include "guest.h"

#define SERIAL_VECTOR 0x24
#define TICK_VECTOR   0x30
#define TICK_US       10000
#define STUCK_TICKS   200

static volatile unsigned ticks;

static void tick(struct trap_frame *f)
{
	(void)f;
	ticks++;
}

/* Next byte by interrupt: sleep in hlt, woken by the UART or a 10 ms timer. */
static int getc_irq(void)
{
	unsigned since = ticks;
	int c;

	for (;;) {
		cli();
		c = serial_irq_getc();
		if (c >= 0)
			break;
		if (ticks - since > STUCK_TICKS && (inb(COM1_PORT + 5) & 1)) {
			printf("serial-input: data ready for %u ms but no interrupt (%u so far)\n",
			       STUCK_TICKS * TICK_US / 1000, serial_irq_count());
			guest_exit(GUEST_EXIT_FAIL);
		}
		sti_hlt();
	}
	sti();
	return c;
}

int guest_main(void)
{
	bool poll = cmdline_flag("poll");
	char line[256];
	unsigned n = 0;

	if (!poll) {
		lapic_init();
		irq_set_handler(TICK_VECTOR, tick);
		lapic_timer_periodic(TICK_VECTOR, TICK_US * (LAPIC_TIMER_HZ / 1000000));
		serial_irq_enable(SERIAL_VECTOR);
		sti();
	}
	printf("serial-input: mode %s\n", poll ? "polling" : "interrupt (IOAPIC pin 4)");
	puts("ready");
	for (;;) {
		int c = poll ? serial_getc() : getc_irq();

		if (c == '\n' || c == '\r')
			break;
		if (n < sizeof(line) - 1)
			line[n++] = (char)c;
	}
	line[n] = 0;
	cli();
	printf("got: %s\n", line);
	if (!poll) {
		printf("serial-input: %u receive interrupts\n", serial_irq_count());
		GUEST_ASSERT(serial_irq_count() > 0);
	}
	return 0;
}
