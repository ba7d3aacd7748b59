/* Leaving the VM: debug-exit, ACPI power-off, reset, and failed checks. */
#include <stdarg.h>

#include "guest.h"
#include "printf_core.h"

void guest_exit(unsigned code)
{
	outl(DEBUG_EXIT_PORT, code);
	/* No debug-exit device: stop here rather than run on. */
	for (;;) {
		cli();
		hlt();
	}
}

/*
 * Give a VMM that handles an exit request asynchronously (QEMU does) time to
 * act before trying the next method.
 */
static void settle(void)
{
	lapic_init();
	lapic_udelay(200000);
}

static void write_gas8(uint8_t space, uint64_t addr, uint8_t v)
{
	if (space == 1 && addr < 0x10000)
		outb((uint16_t)addr, v);
	else if (space == 0 && addr < (4ULL << 30))
		mmio_write8(addr, v);
}

void guest_poweroff(void)
{
	uint8_t space;
	uint64_t addr;

	/* ACPI 6.4 §7.4.2.4: SLP_TYPx from \_S5 (5 on lodge and QEMU) with SLP_EN. */
	if (acpi_sleep_ctl_reg(&space, &addr) && !(space == 1 && addr == ACPI_SLEEP_CTL_PORT)) {
		write_gas8(space, addr, ACPI_S5_SLEEP);
		settle();
	}
	outb(ACPI_SLEEP_CTL_PORT, ACPI_S5_SLEEP);
	settle();
	guest_exit(GUEST_EXIT_OK);
}

void guest_reset(void)
{
	uint8_t space, value;
	uint64_t addr;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) no_idt = { 0, 0 };

	if (acpi_reset_reg(&space, &addr, &value)) {
		write_gas8(space, addr, value);
		settle();
	}
	outb(0x64, 0xfe);       /* i8042 pulse reset line */
	settle();
	outb(0xcf9, 0x06);      /* PCI reset control: hard reset */
	settle();
	/* Last resort: a triple fault resets the machine. */
	__asm__ volatile("lidt %0; ud2" : : "m"(no_idt));
	for (;;)
		hlt();
}

void guest_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("guest: %s:%d: %s\n", file, line, msg);
	guest_exit(GUEST_EXIT_FAIL);
}
