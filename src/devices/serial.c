/*
 * 8250/16550A UART on COM1 (port 0x3f8, IRQ 4). Guest output goes to the
 * configured sink; host input (stdin) feeds the receive FIFO from the I/O
 * thread. Transmission is instant, so THR is always empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "devices/device.h"
#include "snapshot/format.h"
#include "util/log.h"
#include "vmm/vm.h"

/* Register offsets and bits (PC16550D datasheet). */
enum { UART_RBR_THR = 0, UART_IER = 1, UART_IIR_FCR = 2, UART_LCR = 3, UART_MCR = 4,
       UART_LSR = 5, UART_MSR = 6, UART_SCR = 7 };
#define IER_RDI      0x01
#define IER_THRI     0x02
#define IIR_NONE     0x01
#define IIR_THRI     0x02
#define IIR_RDI      0x04
#define IIR_FIFO     0xc0
#define FCR_FIFO_EN  0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB     0x80
#define MCR_DTR      0x01
#define MCR_RTS      0x02
#define MCR_OUT1     0x04
#define MCR_OUT2     0x08
#define MCR_LOOP     0x10
#define LSR_DR       0x01
#define LSR_THRE     0x20
#define LSR_TEMT     0x40
#define MSR_CTS      0x10
#define MSR_DSR      0x20
#define MSR_RI       0x40
#define MSR_DCD      0x80

#define RX_FIFO 64

struct serial {
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thre_pending;              /* THR-empty interrupt owed to the guest */
	int irq_level;
	uint8_t rx[RX_FIFO];
	unsigned rx_head, rx_len;
	int out_fd;                     /* -1: output discarded */
	bool close_out;
	int in_fd;                      /* -1: no input */
	bool in_polled;                 /* input is a regular file, refilled on demand */
	bool in_paused;                 /* FIFO full: input fd not watched */
	int in_flags;                   /* the input fd's file status flags, restored at exit */
	bool tty_raw;                   /* stdin is a terminal put in raw mode */
	struct termios tty_saved;
};

/*
 * An interactive console: the guest does the echo and line editing, so the
 * terminal goes raw; ISIG stays on so Ctrl-C still ends lodge (status 10).
 */
static void serial_tty_raw(struct serial *s)
{
	struct termios t;

	if (!isatty(s->in_fd) || tcgetattr(s->in_fd, &s->tty_saved) < 0)
		return;
	t = s->tty_saved;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ECHONL | IEXTEN);
	t.c_iflag &= ~(tcflag_t)(ICRNL | IXON);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(s->in_fd, TCSANOW, &t) == 0)
		s->tty_raw = true;
}

/* Highest-priority pending interrupt as IIR reports it (receive before transmit). */
static uint8_t serial_iir(const struct serial *s)
{
	if ((s->ier & IER_RDI) && s->rx_len)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->thre_pending)
		return IIR_THRI;
	return IIR_NONE;
}

static void serial_update_irq(struct serial *s)
{
	int level = serial_iir(s) != IIR_NONE;

	if (level != s->irq_level) {
		s->irq_level = level;
		vm_irq_line(s->vm, IRQ_COM1, level);
	}
}

static void serial_rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_len == RX_FIFO)
		return; /* overrun: the byte is lost, as on hardware */
	s->rx[(s->rx_head + s->rx_len) % RX_FIFO] = c;
	s->rx_len++;
}

/* Move what fits from the input fd into the FIFO; false at end of input. */
static bool serial_fill(struct serial *s)
{
	uint8_t buf[RX_FIFO];
	size_t room = RX_FIFO - s->rx_len;
	ssize_t n;

	if (s->in_fd < 0 || room == 0)
		return true;
	n = read(s->in_fd, buf, room);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	for (ssize_t i = 0; i < n; i++)
		serial_rx_push(s, buf[i]);
	return true;
}

static void serial_stop_input(struct serial *s)
{
	if (!s->in_polled)
		loop_del(&s->vm->loop, s->in_fd);
	s->in_fd = -1;
}

/* I/O thread: stdin readable. */
static void serial_input_ready(void *opaque, uint32_t events)
{
	struct serial *s = opaque;

	(void)events;
	pthread_mutex_lock(&s->lock);
	if (!serial_fill(s))
		serial_stop_input(s);
	else if (s->rx_len == RX_FIFO && !s->in_paused) {
		s->in_paused = true;
		loop_mod(&s->vm->loop, s->in_fd, 0);
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static uint8_t serial_read_rbr(struct serial *s)
{
	uint8_t c = 0;

	if (s->rx_len) {
		c = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % RX_FIFO;
		s->rx_len--;
	}
	if (s->rx_len == 0 && s->in_polled && s->in_fd >= 0 && !serial_fill(s))
		s->in_fd = -1;
	if (s->in_paused && s->rx_len < RX_FIFO / 2) {
		s->in_paused = false;
		loop_mod(&s->vm->loop, s->in_fd, EPOLLIN);
	}
	return c;
}

static void serial_transmit(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		serial_rx_push(s, c);
	} else if (s->out_fd >= 0) {
		while (write(s->out_fd, &c, 1) < 0 && errno == EINTR)
			;
	}
	s->thre_pending = true;
}

static uint8_t serial_msr(const struct serial *s)
{
	uint8_t m = 0;

	if (!(s->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	/* Loopback (16550 §8.6): modem outputs appear on the modem inputs. */
	if (s->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (s->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (s->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

static uint8_t serial_read(struct serial *s, uint64_t off)
{
	uint8_t iir;

	switch (off) {
	case UART_RBR_THR:
		return (s->lcr & LCR_DLAB) ? s->dll : serial_read_rbr(s);
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR_FCR:
		iir = serial_iir(s);
		if (iir == IIR_THRI)
			s->thre_pending = false; /* reading IIR acknowledges THRE */
		return iir | ((s->fcr & FCR_FIFO_EN) ? IIR_FIFO : 0);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0);
	case UART_MSR:
		return serial_msr(s);
	default:
		return s->scr;
	}
}

static void serial_write(struct serial *s, uint64_t off, uint8_t v)
{
	switch (off) {
	case UART_RBR_THR:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			serial_transmit(s, v);
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			/* Enabling THRI with THR empty raises the interrupt at once. */
			if ((v & IER_THRI) && !(s->ier & IER_THRI))
				s->thre_pending = true;
			s->ier = v & 0x0f;
		}
		break;
	case UART_IIR_FCR:
		s->fcr = v;
		if (v & FCR_CLEAR_RX)
			s->rx_len = 0;
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default:
		break; /* LSR and MSR are read-only */
	}
}

static enum io_result serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
				bool is_write)
{
	struct serial *s = opaque;

	if (len != 1)
		return IO_FAILED;
	pthread_mutex_lock(&s->lock);
	if (is_write)
		serial_write(s, off, data[0]);
	else
		data[0] = serial_read(s, off);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return IO_HANDLED;
}

static int serial_open_sink(struct serial *s, const struct vm_config *cfg, struct err *e)
{
	switch (cfg->serial) {
	case SERIAL_STDIO:
		s->out_fd = STDOUT_FILENO;
		s->in_fd = STDIN_FILENO;
		return 0;
	case SERIAL_FILE:
		s->out_fd = open(cfg->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (s->out_fd < 0)
			return errf(e, -errno, "--serial file:%s: %s", cfg->serial_path,
				    strerror(errno));
		s->close_out = true;
		return 0;
	default:
		return 0;
	}
}

static int serial_watch_input(struct serial *s, struct err *e)
{
	struct stat st;
	int r;

	if (s->in_fd < 0)
		return 0;
	if (fstat(s->in_fd, &st) < 0) {
		s->in_fd = -1; /* stdin closed: no input */
		return 0;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		/* The flags belong to the shared file description (a terminal): restored in fini. */
		s->in_flags = fcntl(s->in_fd, F_GETFL);
		fcntl(s->in_fd, F_SETFL, s->in_flags | O_NONBLOCK);
		serial_tty_raw(s);
		r = loop_add(&s->vm->loop, s->in_fd, EPOLLIN, serial_input_ready, s);
		if (r == 0)
			return 0;
		if (r != -EPERM)
			return errf(e, r, "serial: watching stdin: %s", strerror(-r));
	}
	/*
	 * epoll refuses files that are always readable (regular files,
	 * /dev/null): read them on demand as the guest drains the FIFO.
	 */
	s->in_polled = true;
	if (!serial_fill(s))
		s->in_fd = -1;
	return 0;
}

static int serial_init(struct vm *vm, void **state, struct err *e)
{
	struct serial *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return errf(e, -ENOMEM, "serial: out of memory");
	s->vm = vm;
	s->out_fd = s->in_fd = -1;
	s->in_flags = -1;
	pthread_mutex_init(&s->lock, NULL);
	*state = s;
	r = serial_open_sink(s, vm->cfg, e);
	if (r == 0)
		r = serial_watch_input(s, e);
	if (r == 0 && bus_register(&vm->pio, PORT_COM1, 8, serial_io, s, "com1") < 0)
		r = errf(e, -EEXIST, "serial: ports 0x%x-0x%x already claimed", PORT_COM1,
			 PORT_COM1 + 7);
	vm->acpi.com1_port = PORT_COM1;
	vm->acpi.com1_irq = IRQ_COM1;
	return r;
}

static void serial_fini(struct vm *vm, void *state)
{
	struct serial *s = state;

	(void)vm;
	if (!s)
		return;
	if (s->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &s->tty_saved);
	if (s->in_flags >= 0)
		fcntl(STDIN_FILENO, F_SETFL, s->in_flags);
	if (s->close_out)
		close(s->out_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/*
 * Snapshot state: the registers, the owed THRE interrupt and the line level
 * as one 8-byte block, then the receive FIFO (u32 count, the bytes oldest
 * first). The host side (sink, input fd, terminal) belongs to the new run.
 */
enum { SNAP_IER, SNAP_LCR, SNAP_MCR, SNAP_SCR, SNAP_FCR, SNAP_DLL, SNAP_DLM, SNAP_FLAGS,
       SNAP_REGS };
#define SNAP_F_THRE 1u
#define SNAP_F_IRQ  2u

static int serial_save(struct vm *vm, void *state, struct snap_writer *w, struct err *e)
{
	struct serial *s = state;
	uint8_t regs[SNAP_REGS], fifo[RX_FIFO];

	(void)vm;
	(void)e;
	pthread_mutex_lock(&s->lock);
	regs[SNAP_IER] = s->ier;
	regs[SNAP_LCR] = s->lcr;
	regs[SNAP_MCR] = s->mcr;
	regs[SNAP_SCR] = s->scr;
	regs[SNAP_FCR] = s->fcr;
	regs[SNAP_DLL] = s->dll;
	regs[SNAP_DLM] = s->dlm;
	regs[SNAP_FLAGS] = (uint8_t)((s->thre_pending ? SNAP_F_THRE : 0) |
				     (s->irq_level ? SNAP_F_IRQ : 0));
	for (unsigned i = 0; i < s->rx_len; i++)
		fifo[i] = s->rx[(s->rx_head + i) % RX_FIFO];
	snap_put(w, regs, sizeof(regs));
	snap_put_u32(w, s->rx_len);
	snap_put(w, fifo, s->rx_len);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int serial_restore(struct vm *vm, void *state, struct snap_cursor *c, struct err *e)
{
	struct serial *s = state;
	uint8_t regs[SNAP_REGS], fifo[RX_FIFO];
	uint32_t rx_len;

	(void)vm;
	snap_get(c, regs, sizeof(regs));
	rx_len = snap_get_u32(c);
	if (c->error)
		return errf(e, -EINVAL, "serial: state truncated");
	if (regs[SNAP_IER] & ~0x0f || regs[SNAP_MCR] & ~0x1f ||
	    regs[SNAP_FLAGS] & ~(SNAP_F_THRE | SNAP_F_IRQ))
		return errf(e, -EINVAL, "serial: register values out of range (IER 0x%x, MCR 0x%x, "
			    "flags 0x%x)", regs[SNAP_IER], regs[SNAP_MCR], regs[SNAP_FLAGS]);
	if (rx_len > RX_FIFO)
		return errf(e, -EINVAL, "serial: receive FIFO of %u bytes (at most %d)", rx_len,
			    RX_FIFO);
	if (snap_get(c, fifo, rx_len) < 0)
		return errf(e, -EINVAL, "serial: receive FIFO truncated");
	pthread_mutex_lock(&s->lock);
	memcpy(s->rx, fifo, rx_len);
	s->rx_head = 0;
	s->rx_len = rx_len;
	s->ier = regs[SNAP_IER];
	s->lcr = regs[SNAP_LCR];
	s->mcr = regs[SNAP_MCR];
	s->scr = regs[SNAP_SCR];
	s->fcr = regs[SNAP_FCR];
	s->dll = regs[SNAP_DLL];
	s->dlm = regs[SNAP_DLM];
	s->thre_pending = regs[SNAP_FLAGS] & SNAP_F_THRE;
	/* The line's level itself comes back with the irqchip's state. */
	s->irq_level = (regs[SNAP_FLAGS] & SNAP_F_IRQ) ? 1 : 0;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static const struct device_desc serial_device = {
	.name = "serial",
	.order = DEVICE_ORDER_LEGACY,
	.init = serial_init,
	.fini = serial_fini,
	.save = serial_save,
	.restore = serial_restore,
};
DEVICE_DEFINE(serial_device);
