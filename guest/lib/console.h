/*
 * The COM1 console (8250/16550 UART at port 0x3f8, IRQ 4) and printf.
 * Output polls THR-empty; a whole printf line goes out under one lock, so
 * lines from different CPUs never interleave. Lines end in "\n" only.
 */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define COM1_PORT   0x3f8
#define COM1_IRQ    4

/* Program the UART: 115200 8N1, FIFO with a 1-byte receive trigger, no interrupts. */
void serial_init(void);

/* Write (n) bytes of (s) to the UART, polling for THR-empty, under the console lock. */
void serial_write(const char *s, size_t n);

/* Byte received, polling LSR data-ready: -1 when nothing is waiting. */
int serial_try_getc(void);

/* Wait (polling) for a received byte and return it. */
int serial_getc(void);

/*
 * Route COM1 receive interrupts to (vector) on this CPU (UART IER, IOAPIC
 * pin COM1_IRQ edge/high): from then on received bytes go into a ring
 * buffer that serial_irq_getc reads.
 */
void serial_irq_enable(unsigned vector);

/* Next byte from the interrupt-filled buffer, or -1 when it is empty. */
int serial_irq_getc(void);

/* Receive interrupts taken since serial_irq_enable. */
unsigned serial_irq_count(void);

int puts(const char *s);        /* writes (s) and "\n" */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/*
 * Formats like C99 snprintf for: %d %i %u %x %X %o %p %s %c %%, the flags
 * '-' and '0', a width, '.' precision for %s, and the l, ll, z length
 * modifiers. Returns the length the full output would have.
 */
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
