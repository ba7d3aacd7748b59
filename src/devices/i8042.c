/*
 * The i8042 keyboard controller with a keyboard behind it, as much of them as
 * a guest's driver needs to find both and to take Ctrl+Alt+Del
 * (Firecracker's SendCtrlAltDel), plus the CPU reset line (command 0xfe, or
 * output port bit 0 cleared), which ends lodge with status 0 like
 * Firecracker's reboot. No mouse (AUX) port. Described in the DSDT as
 * PNP0303 so that Linux's i8042 driver probes it with no command-line help.
 *
 * The keyboard answers the PS/2 commands Linux's atkbd sends (reset, get ID,
 * enable, disable, LEDs, typematic rate, scan code set) and sends keys in
 * scan code set 2, translated to set 1 when the command byte asks for it.
 * Bytes for the guest wait in a small queue; each one raises IRQ 1 when the
 * command byte enables the keyboard interrupt.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/device.h"
#include "devices/i8042.h"
#include "snapshot/format.h"
#include "util/log.h"
#include "vmm/vm.h"

/* Status register bits. */
#define STS_OBF      0x01       /* output buffer full: a byte for the guest */
#define STS_SYS      0x04       /* system flag (POST passed) */
#define STS_CMD      0x08       /* the last write went to the command port */
#define STS_UNLOCKED 0x10       /* the keyboard lock switch is off */
#define STS_AUXDATA  0x20       /* the byte in the output buffer is from the AUX port */
/* Command byte ("CTR") bits. */
#define CTR_KBDINT   0x01
#define CTR_SYS      0x04
#define CTR_KBDDIS   0x10
#define CTR_AUXDIS   0x20
#define CTR_XLATE    0x40
#define CTR_DEFAULT  (CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE)

/* Controller commands. */
#define CMD_READ_CTR     0x20
#define CMD_WRITE_CTR    0x60
#define CMD_AUX_DISABLE  0xa7
#define CMD_AUX_ENABLE   0xa8
#define CMD_AUX_TEST     0xa9
#define CMD_SELF_TEST    0xaa
#define CMD_KBD_TEST     0xab
#define CMD_KBD_DISABLE  0xad
#define CMD_KBD_ENABLE   0xae
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_KBD_OBUF 0xd2
#define CMD_WRITE_AUX_OBUF 0xd3
#define CMD_WRITE_AUX    0xd4

/* Keyboard commands and answers. */
#define KBD_SET_LEDS     0xed
#define KBD_ECHO         0xee
#define KBD_SCAN_SET     0xf0
#define KBD_GET_ID       0xf2
#define KBD_TYPEMATIC    0xf3
#define KBD_ENABLE       0xf4
#define KBD_RESET        0xff
#define KBD_ACK          0xfa
#define KBD_BAT_OK       0xaa

#define QUEUE_LEN 32

struct i8042 {
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t ctr;
	uint8_t status;
	uint8_t pending_cmd;    /* controller command waiting for its data byte, or 0 */
	uint8_t pending_kbd;    /* keyboard command waiting for its parameter, or 0 */
	uint8_t queue[QUEUE_LEN];
	bool aux[QUEUE_LEN];            /* the byte came from the AUX port (loopback) */
	unsigned head, count;
	uint64_t dropped;
};

/* IRQ 1, an edge: the line goes up and down. Called with the lock held. */
static void kbd_irq(struct i8042 *k)
{
	if (k->count && (k->ctr & CTR_KBDINT) && !(k->ctr & CTR_KBDDIS)) {
		vm_irq_line(k->vm, IRQ_I8042_KBD, 1);
		vm_irq_line(k->vm, IRQ_I8042_KBD, 0);
	}
}

static void push(struct i8042 *k, uint8_t b, bool aux)
{
	unsigned i = (k->head + k->count) % QUEUE_LEN;

	if (k->count == QUEUE_LEN) {
		k->dropped++;
		return;
	}
	k->queue[i] = b;
	k->aux[i] = aux;
	k->count++;
}

/* A byte from the keyboard: queued, and the guest told. */
static void kbd_send(struct i8042 *k, const uint8_t *b, unsigned n)
{
	bool was_empty = k->count == 0;

	for (unsigned i = 0; i < n; i++)
		push(k, b[i], false);
	if (was_empty)
		kbd_irq(k);
}

static void kbd_reply(struct i8042 *k, uint8_t b)
{
	kbd_send(k, &b, 1);
}

/* A byte the guest wrote to the data port for the keyboard (PS/2 protocol). */
static void kbd_write(struct i8042 *k, uint8_t b)
{
	if (k->pending_kbd) {
		/* The parameter of SET_LEDS, TYPEMATIC or SCAN_SET. */
		uint8_t cmd = k->pending_kbd;

		k->pending_kbd = 0;
		kbd_reply(k, KBD_ACK);
		if (cmd == KBD_SCAN_SET && b == 0)
			kbd_reply(k, (k->ctr & CTR_XLATE) ? 0x41 : 0x02);  /* set 2 in use */
		return;
	}
	switch (b) {
	case KBD_SET_LEDS:
	case KBD_TYPEMATIC:
	case KBD_SCAN_SET:
		k->pending_kbd = b;
		kbd_reply(k, KBD_ACK);
		break;
	case KBD_ECHO:
		kbd_reply(k, KBD_ECHO);
		break;
	case KBD_GET_ID: {
		/* An MF2 keyboard: 0xab 0x83, which the controller translates to 0x41. */
		uint8_t id[3] = { KBD_ACK, 0xab, (k->ctr & CTR_XLATE) ? 0x41 : 0x83 };

		kbd_send(k, id, 3);
		break;
	}
	case KBD_RESET: {
		uint8_t r[2] = { KBD_ACK, KBD_BAT_OK };

		kbd_send(k, r, 2);
		break;
	}
	default:
		/* enable, disable, set defaults, and anything else: acknowledged */
		kbd_reply(k, KBD_ACK);
		break;
	}
}

static void controller_command(struct i8042 *k, uint8_t c)
{
	switch (c) {
	case CMD_READ_CTR: kbd_reply(k, k->ctr); break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OBUF:
	case CMD_WRITE_AUX_OBUF:
	case CMD_WRITE_AUX:
		k->pending_cmd = c;
		break;
	case CMD_AUX_DISABLE: k->ctr |= CTR_AUXDIS; break;
	case CMD_AUX_ENABLE: break;     /* there is no AUX port: AUXDIS stays set */
	case CMD_AUX_TEST: kbd_reply(k, 0x01); break;   /* "clock line stuck low": no mouse */
	case CMD_SELF_TEST: kbd_reply(k, 0x55); break;
	case CMD_KBD_TEST: kbd_reply(k, 0x00); break;
	case CMD_KBD_DISABLE: k->ctr |= CTR_KBDDIS; break;
	case CMD_KBD_ENABLE: k->ctr &= (uint8_t)~CTR_KBDDIS; kbd_irq(k); break;
	case CMD_READ_OUTPORT: kbd_reply(k, 0x01 | (k->count ? 0x10 : 0)); break;
	default:
		/* 0xf0-0xff pulse the output lines whose bits are 0; bit 0 is the CPU reset (0xfe). */
		if (c >= 0xf0 && !(c & 0x01))
			vm_request_exit(k->vm, VM_STATUS_OFF, "guest reset through the i8042");
		break;
	}
}

/* The data byte of a two-byte controller command. */
static void controller_data(struct i8042 *k, uint8_t cmd, uint8_t b)
{
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = (uint8_t)((b & ~CTR_AUXDIS) | CTR_AUXDIS);
		kbd_irq(k);
		break;
	case CMD_WRITE_OUTPORT:
		if (!(b & 0x01))
			vm_request_exit(k->vm, VM_STATUS_OFF, "guest reset through the i8042 output port");
		break;
	case CMD_WRITE_KBD_OBUF: kbd_reply(k, b); break;
	/*
	 * AUX loopback: the byte comes back as AUX data (a driver's first test
	 * for a mouse port; the AUXDIS bit that never clears tells it there is
	 * none).
	 */
	case CMD_WRITE_AUX_OBUF: push(k, b, true); break;
	default: break;         /* writes to the mouse: there is none to answer */
	}
}

static enum io_result i8042_cmd_port(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
				     bool is_write)
{
	struct i8042 *k = opaque;

	(void)off;
	if (len != 1)
		return IO_FAILED;
	pthread_mutex_lock(&k->lock);
	if (!is_write) {
		data[0] = (uint8_t)(k->status | (k->count ? STS_OBF : 0) |
				    (k->count && k->aux[k->head] ? STS_AUXDATA : 0));
	} else {
		k->status |= STS_CMD;
		k->pending_cmd = 0;
		controller_command(k, data[0]);
	}
	pthread_mutex_unlock(&k->lock);
	return IO_HANDLED;
}

static enum io_result i8042_data_port(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
				      bool is_write)
{
	struct i8042 *k = opaque;

	(void)off;
	if (len != 1)
		return IO_FAILED;
	pthread_mutex_lock(&k->lock);
	if (!is_write) {
		if (k->count) {
			data[0] = k->queue[k->head];
			k->head = (k->head + 1) % QUEUE_LEN;
			k->count--;
			kbd_irq(k);     /* the next byte, if any */
		} else {
			data[0] = 0;
		}
	} else {
		uint8_t cmd = k->pending_cmd;

		k->status &= (uint8_t)~STS_CMD;
		k->pending_cmd = 0;
		if (cmd)
			controller_data(k, cmd, data[0]);
		else
			kbd_write(k, data[0]);
	}
	pthread_mutex_unlock(&k->lock);
	return IO_HANDLED;
}

int i8042_send_ctrl_alt_del(struct vm *vm)
{
	/* Press Ctrl, Alt, Delete; release them (set 1 / set 2 scan codes). */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11,
					0xf0, 0x14 };
	struct i8042 *k = vm->i8042;

	if (!k)
		return -ENODEV;
	pthread_mutex_lock(&k->lock);
	if (k->ctr & CTR_XLATE)
		kbd_send(k, set1, sizeof(set1));
	else
		kbd_send(k, set2, sizeof(set2));
	pthread_mutex_unlock(&k->lock);
	log_info("i8042", "sent Ctrl+Alt+Del to the guest");
	return 0;
}

static int i8042_init(struct vm *vm, void **state, struct err *e)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return errf(e, -ENOMEM, "out of memory");
	*state = k;
	k->vm = vm;
	k->ctr = CTR_DEFAULT;
	k->status = STS_SYS | STS_UNLOCKED;
	pthread_mutex_init(&k->lock, NULL);
	if (bus_register(&vm->pio, PORT_I8042_DATA, 1, i8042_data_port, k, "i8042-data") < 0 ||
	    bus_register(&vm->pio, PORT_I8042_CMD, 1, i8042_cmd_port, k, "i8042-cmd") < 0)
		return errf(e, -EEXIST, "i8042: ports already claimed");
	vm->acpi.reset_port = PORT_I8042_CMD;
	vm->acpi.reset_value = I8042_CMD_RESET;
	vm->acpi.kbd_port = PORT_I8042_DATA;
	vm->acpi.kbd_irq = IRQ_I8042_KBD;
	vm->i8042 = k;
	return 0;
}

static void i8042_fini(struct vm *vm, void *state)
{
	struct i8042 *k = state;

	if (!k)
		return;
	vm->i8042 = NULL;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/*
 * Snapshot state: ctr, status, pending_cmd, pending_kbd as four bytes, then
 * the output queue (u32 count, then per byte the value and its AUX flag,
 * oldest first).
 */
static int i8042_save(struct vm *vm, void *state, struct snap_writer *w, struct err *e)
{
	struct i8042 *k = state;
	uint8_t regs[4], q[2 * QUEUE_LEN];

	(void)vm;
	(void)e;
	pthread_mutex_lock(&k->lock);
	regs[0] = k->ctr;
	regs[1] = k->status;
	regs[2] = k->pending_cmd;
	regs[3] = k->pending_kbd;
	for (unsigned i = 0; i < k->count; i++) {
		q[2 * i] = k->queue[(k->head + i) % QUEUE_LEN];
		q[2 * i + 1] = k->aux[(k->head + i) % QUEUE_LEN];
	}
	snap_put(w, regs, sizeof(regs));
	snap_put_u32(w, k->count);
	snap_put(w, q, 2 * k->count);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static bool i8042_cmd_pending_ok(uint8_t c)
{
	return c == 0 || c == CMD_WRITE_CTR || c == CMD_WRITE_OUTPORT || c == CMD_WRITE_KBD_OBUF ||
	       c == CMD_WRITE_AUX_OBUF || c == CMD_WRITE_AUX;
}

static bool i8042_kbd_pending_ok(uint8_t c)
{
	return c == 0 || c == KBD_SET_LEDS || c == KBD_TYPEMATIC || c == KBD_SCAN_SET;
}

static int i8042_restore(struct vm *vm, void *state, struct snap_cursor *c, struct err *e)
{
	struct i8042 *k = state;
	uint8_t regs[4], q[2 * QUEUE_LEN];
	uint32_t count;

	(void)vm;
	snap_get(c, regs, sizeof(regs));
	count = snap_get_u32(c);
	if (c->error)
		return errf(e, -EINVAL, "i8042: state truncated");
	if (!(regs[0] & CTR_AUXDIS) || regs[1] & ~(STS_SYS | STS_UNLOCKED | STS_CMD) ||
	    !i8042_cmd_pending_ok(regs[2]) || !i8042_kbd_pending_ok(regs[3]))
		return errf(e, -EINVAL, "i8042: controller state out of range (command byte 0x%x, "
			    "status 0x%x, pending 0x%x/0x%x)", regs[0], regs[1], regs[2], regs[3]);
	if (count > QUEUE_LEN)
		return errf(e, -EINVAL, "i8042: output queue of %u bytes (at most %d)", count,
			    QUEUE_LEN);
	if (snap_get(c, q, 2 * count) < 0)
		return errf(e, -EINVAL, "i8042: output queue truncated");
	for (unsigned i = 0; i < count; i++)
		if (q[2 * i + 1] > 1)
			return errf(e, -EINVAL, "i8042: output queue byte %u: bad AUX flag %u", i,
				    q[2 * i + 1]);
	pthread_mutex_lock(&k->lock);
	k->ctr = regs[0];
	k->status = regs[1];
	k->pending_cmd = regs[2];
	k->pending_kbd = regs[3];
	k->head = 0;
	k->count = count;
	for (unsigned i = 0; i < count; i++) {
		k->queue[i] = q[2 * i];
		k->aux[i] = q[2 * i + 1];
	}
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static const struct device_desc i8042_device = {
	.name = "i8042",
	.order = DEVICE_ORDER_PLATFORM,
	.init = i8042_init,
	.fini = i8042_fini,
	.save = i8042_save,
	.restore = i8042_restore,
};
DEVICE_DEFINE(i8042_device);
