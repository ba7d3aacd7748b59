/*
 * COM1 8250/16550A driver (PC16550D datasheet register map). Output polls
 * LSR.THRE; with the FIFO on, THRE means the 16-byte transmit FIFO is
 * empty, so up to 16 bytes go per poll (half the port exits of a VMM).
 */
#include "apic.h"
#include "console.h"
#include "libc.h"
#include "printf_core.h"
#include "smp.h"
#include "trap.h"
#include "x86.h"

#define UART_RBR 0
#define UART_THR 0
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define LSR_DR   0x01
#define LSR_THRE 0x20
#define IER_RDI  0x01
#define LCR_8N1  0x03
#define LCR_DLAB 0x80
#define MCR_DTR_RTS_OUT2 0x0b
#define FCR_ENABLE       0x01   /* FIFO on, receive trigger 1 byte */

static unsigned tx_burst = 1;

/*
 * The console lock: a spinlock held with interrupts off, re-entrant for its
 * owner so an exception report from inside printf still gets out.
 */
static struct {
	volatile uint32_t locked;
	volatile int owner;
	unsigned depth;
} console_lock = { 0, -1, 0 };

static uint64_t console_acquire(void)
{
	uint64_t flags = read_rflags();
	int me;

	cli();
	me = (int)this_cpu()->index;
	if (console_lock.owner == me) {
		console_lock.depth++;
		return flags;
	}
	while (__atomic_exchange_n(&console_lock.locked, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
	console_lock.owner = me;
	console_lock.depth = 1;
	return flags;
}

static void console_release(uint64_t flags)
{
	if (--console_lock.depth == 0) {
		console_lock.owner = -1;
		__atomic_store_n(&console_lock.locked, 0, __ATOMIC_RELEASE);
	}
	if (flags & RFLAGS_IF)
		sti();
}

void serial_init(void)
{
	outb(COM1_PORT + UART_IER, 0);
	outb(COM1_PORT + UART_LCR, LCR_DLAB);
	outb(COM1_PORT + UART_DLL, 1);          /* 115200 baud */
	outb(COM1_PORT + UART_DLM, 0);
	outb(COM1_PORT + UART_LCR, LCR_8N1);
	/*
	 * Switching the FIFO on clears it (PC16550D, FCR bit 0; QEMU does so):
	 * leave the mode alone when the VMM has already queued input for us.
	 */
	if (!(inb(COM1_PORT + UART_LSR) & LSR_DR))
		outb(COM1_PORT + UART_FCR, FCR_ENABLE);
	outb(COM1_PORT + UART_MCR, MCR_DTR_RTS_OUT2);
	/* IIR bits 7:6 read 11 only on a 16550A with working FIFOs. */
	tx_burst = (inb(COM1_PORT + UART_IIR) & 0xc0) == 0xc0 ? 16 : 1;
}

/* Called with the console lock held. */
static void serial_put_raw(char c, void *ctx)
{
	unsigned *room = ctx;

	if (*room == 0) {
		while (!(inb(COM1_PORT + UART_LSR) & LSR_THRE))
			cpu_relax();
		*room = tx_burst;
	}
	outb(COM1_PORT + UART_THR, (uint8_t)c);
	(*room)--;
}

void serial_write(const char *s, size_t n)
{
	uint64_t flags = console_acquire();
	unsigned room = 0;

	for (size_t i = 0; i < n; i++)
		serial_put_raw(s[i], &room);
	console_release(flags);
}

int puts(const char *s)
{
	uint64_t flags = console_acquire();
	unsigned room = 0;

	for (; *s; s++)
		serial_put_raw(*s, &room);
	serial_put_raw('\n', &room);
	console_release(flags);
	return 0;
}

int vprintf(const char *fmt, va_list ap)
{
	unsigned room = 0;
	struct out o = { serial_put_raw, &room, 0 };
	uint64_t flags = console_acquire();
	int n = format(&o, fmt, ap);

	console_release(flags);
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int serial_try_getc(void)
{
	if (!(inb(COM1_PORT + UART_LSR) & LSR_DR))
		return -1;
	return inb(COM1_PORT + UART_RBR);
}

int serial_getc(void)
{
	int c;

	while ((c = serial_try_getc()) < 0)
		cpu_relax();
	return c;
}

/* Receive ring, filled by the interrupt handler of this CPU only. */
#define RX_RING 256
static volatile uint8_t rx_ring[RX_RING];
static volatile unsigned rx_head, rx_tail;
static volatile unsigned rx_irqs;

static void serial_rx_irq(struct trap_frame *f)
{
	int c;

	(void)f;
	rx_irqs++;
	/*
	 * Drain everything: the IOAPIC pin is edge-triggered, and a byte left
	 * behind would keep the line high with no new edge.
	 */
	while ((c = serial_try_getc()) >= 0) {
		if (rx_head - rx_tail < RX_RING) {
			rx_ring[rx_head % RX_RING] = (uint8_t)c;
			rx_head++;
		}
	}
}

void serial_irq_enable(unsigned vector)
{
	irq_set_handler(vector, serial_rx_irq);
	ioapic_route(COM1_IRQ, (uint8_t)vector, lapic_id(), false, false);
	outb(COM1_PORT + UART_IER, IER_RDI);
}

int serial_irq_getc(void)
{
	int c;
	uint64_t flags = read_rflags();

	cli();
	if (rx_tail == rx_head) {
		c = -1;
	} else {
		c = rx_ring[rx_tail % RX_RING];
		rx_tail++;
	}
	if (flags & RFLAGS_IF)
		sti();
	return c;
}

unsigned serial_irq_count(void)
{
	return rx_irqs;
}
