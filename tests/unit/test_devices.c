/*
 * The platform devices, driven through the port bus as a guest would, on a
 * VM that has no KVM behind it (interrupt lines go nowhere).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "devices/device.h"
#include "devices/i8042.h"
#include "state_fixture.h"
#include "devices/vmgenid.h"
#include "vmm/vm.h"

static struct vm vm;
static struct vm_config cfg;
static char serial_out[64];

static int setup(void **state)
{
	const struct device_desc *const *list;
	unsigned n = device_list(&list);
	struct err e = { "" };

	(void)state;
	memset(&vm, 0, sizeof(vm));
	config_init(&cfg);
	cfg.vcpus = 3;
	cfg.mem_mib = 64;
	cfg.cmdline = strdup("console=ttyS0 hello");
	snprintf(serial_out, sizeof(serial_out), "/tmp/lodge-test-serial.%d", (int)getpid());
	cfg.serial = SERIAL_FILE;
	cfg.serial_path = strdup(serial_out);
	vm.cfg = &cfg;
	vm.ncpus = 3;
	vm.kvm.vm_fd = vm.kvm.sys_fd = -1;
	vm.signal_fd = -1;
	vm.exit_fd = eventfd(0, EFD_CLOEXEC);
	atomic_store(&vm.state, VM_RUNNING);
	assert_int_equal(loop_init(&vm.loop), 0);
	assert_int_equal(gmem_init(&vm.mem, 64 << 20, 0), 0);
	assert_int_equal(e820_build(&vm.e820, &vm.mem), 0);
	for (unsigned i = 0; i < n; i++) {
		struct vm_device *d = &vm.devices[vm.ndevices++];

		d->desc = list[i];
		if (list[i]->init(&vm, &d->state, &e) < 0)
			fail_msg("device %s: %s", list[i]->name, e.msg);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = vm.ndevices; i-- > 0;)
		if (vm.devices[i].desc->fini)
			vm.devices[i].desc->fini(&vm, vm.devices[i].state);
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
	loop_destroy(&vm.loop);
	gmem_destroy(&vm.mem);
	close(vm.exit_fd);
	unlink(serial_out);
	config_free(&cfg);
	return 0;
}

static uint8_t inb(uint16_t port)
{
	uint8_t v;

	bus_access(&vm.pio, port, &v, 1, false);
	return v;
}

static void outb(uint16_t port, uint8_t v)
{
	bus_access(&vm.pio, port, &v, 1, true);
}

static void test_devices_registered_in_order(void **state)
{
	const struct device_desc *const *list;
	unsigned n = device_list(&list);

	(void)state;
	assert_true(n >= 5);
	for (unsigned i = 1; i < n; i++)
		assert_true(list[i - 1]->order <= list[i]->order);
}

static void test_serial_output_and_loopback(void **state)
{
	char buf[16] = { 0 };
	FILE *f;

	(void)state;
	outb(PORT_COM1 + 7, 0x5a);                      /* scratch */
	assert_int_equal(inb(PORT_COM1 + 7), 0x5a);
	assert_int_equal(inb(PORT_COM1 + 5) & 0x60, 0x60); /* THR empty, transmitter empty */
	outb(PORT_COM1, 'o');
	outb(PORT_COM1, 'k');
	f = fopen(serial_out, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "ok");
	/* Loopback: transmitted bytes come back as received ones; modem lines mirror. */
	outb(PORT_COM1 + 4, 0x10 | 0x03);
	assert_int_equal(inb(PORT_COM1 + 6) & 0x30, 0x30);
	outb(PORT_COM1, 'x');
	assert_int_equal(inb(PORT_COM1 + 5) & 1, 1);
	assert_int_equal(inb(PORT_COM1), 'x');
	assert_int_equal(inb(PORT_COM1 + 5) & 1, 0);
	/* DLAB switches offsets 0/1 to the divisor latch. */
	outb(PORT_COM1 + 3, 0x80);
	outb(PORT_COM1, 0x01);
	outb(PORT_COM1 + 3, 0x03);
	assert_int_equal(inb(PORT_COM1 + 3), 0x03);
	/* THRE interrupt: owed when enabled with THR empty; reading IIR acknowledges it. */
	outb(PORT_COM1 + 1, 0x02);
	assert_int_equal(inb(PORT_COM1 + 2) & 0x0f, 0x02);
	assert_int_equal(inb(PORT_COM1 + 2) & 0x0f, 0x01);
	/* Wrong-sized access is refused, not crashed on. */
	uint32_t wide = 0;
	assert_int_equal(bus_access(&vm.pio, PORT_COM1, (uint8_t *)&wide, 4, false), IO_FAILED);
	assert_int_equal(wide, 0xffffffff);
}

static void test_fw_cfg(void **state)
{
	char sig[5] = { 0 };
	uint8_t sel[2];
	uint64_t ram = 0;
	uint16_t cpus = 0;
	uint32_t count = 0;

	(void)state;
	sel[0] = 0; sel[1] = 0;
	bus_access(&vm.pio, PORT_FW_CFG, sel, 2, true);
	for (int i = 0; i < 4; i++)
		sig[i] = (char)inb(PORT_FW_CFG + 1);
	assert_string_equal(sig, "QEMU");
	sel[0] = 0x03;
	bus_access(&vm.pio, PORT_FW_CFG, sel, 2, true);
	for (int i = 0; i < 8; i++)
		ram |= (uint64_t)inb(PORT_FW_CFG + 1) << (8 * i);
	assert_int_equal(ram, 64 << 20);
	sel[0] = 0x05;
	bus_access(&vm.pio, PORT_FW_CFG, sel, 2, true);
	cpus = inb(PORT_FW_CFG + 1);
	cpus |= (uint16_t)(inb(PORT_FW_CFG + 1) << 8);
	assert_int_equal(cpus, 3);
	sel[0] = 0x19;
	bus_access(&vm.pio, PORT_FW_CFG, sel, 2, true);
	for (int i = 0; i < 4; i++)
		count = (count << 8) | inb(PORT_FW_CFG + 1);
	assert_int_equal(count, 1);
	/* Unknown keys read zeros; data past an item's end reads zeros. */
	sel[0] = 0x77;
	sel[1] = 0x77;
	bus_access(&vm.pio, PORT_FW_CFG, sel, 2, true);
	assert_int_equal(inb(PORT_FW_CFG + 1), 0);
}

static void test_unknown_ports_read_ones(void **state)
{
	uint32_t v = 0;

	(void)state;
	assert_int_equal(bus_access(&vm.pio, 0x2f0, (uint8_t *)&v, 4, false), IO_UNHANDLED);
	assert_int_equal(v, 0xffffffff);
}

static void test_exit_ports(void **state)
{
	uint32_t v = 0x21;

	(void)state;
	/* The first request wins: debug-exit's status sticks. */
	bus_access(&vm.pio, PORT_DEBUG_EXIT, (uint8_t *)&v, 4, true);
	assert_true(vm_exiting(&vm));
	assert_int_equal(atomic_load(&vm.exit_status), 0x43);
	outb(PORT_ACPI_SLEEP_CTL, (5 << 2) | 0x20);
	assert_int_equal(atomic_load(&vm.exit_status), 0x43);
}

static void test_poweroff_and_reset(void **state)
{
	(void)state;
	outb(PORT_ACPI_SLEEP_CTL, (3 << 2) | 0x20); /* S3: not supported, ignored */
	assert_false(vm_exiting(&vm));
	outb(PORT_ACPI_SLEEP_CTL, (5 << 2));        /* no SLP_EN: nothing */
	assert_false(vm_exiting(&vm));
	outb(PORT_I8042_CMD, 0xd1);                 /* other commands: nothing */
	assert_false(vm_exiting(&vm));
	assert_int_equal(inb(PORT_I8042_CMD) & 0x02, 0); /* input buffer empty */
	outb(PORT_ACPI_SLEEP_CTL, (5 << 2) | 0x20);
	assert_true(vm_exiting(&vm));
	assert_int_equal(atomic_load(&vm.exit_status), 0);
	assert_int_equal(vm.acpi.sleep_ctl_port, PORT_ACPI_SLEEP_CTL);
	assert_int_equal(vm.acpi.reset_port, PORT_I8042_CMD);
	assert_int_equal(vm.acpi.reset_value, 0xfe);
	assert_int_equal(vm.acpi.com1_irq, IRQ_COM1);
}

/* Read one byte the i8042 holds for the guest; -1 when the output buffer is empty. */
static int kbd_read(void)
{
	if (!(inb(PORT_I8042_CMD) & 0x01))
		return -1;
	return inb(PORT_I8042_DATA);
}

/* The controller and keyboard answers Linux's i8042 and atkbd drivers rely on. */
static void test_i8042_keyboard(void **state)
{
	static const uint8_t cad[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	uint8_t ctr;

	(void)state;
	assert_int_equal(inb(PORT_I8042_CMD) & 0x15, 0x14);     /* empty, SYS, unlocked */
	outb(PORT_I8042_CMD, 0xaa);
	assert_int_equal(kbd_read(), 0x55);                      /* self test */
	outb(PORT_I8042_CMD, 0xab);
	assert_int_equal(kbd_read(), 0x00);                      /* keyboard interface test */
	outb(PORT_I8042_CMD, 0x20);
	ctr = (uint8_t)kbd_read();
	assert_true(ctr & 0x40);                                 /* translating to set 1 */
	outb(PORT_I8042_CMD, 0x60);
	outb(PORT_I8042_DATA, (uint8_t)(ctr | 0x01));
	outb(PORT_I8042_CMD, 0x20);
	assert_int_equal(kbd_read(), ctr | 0x01);
	/* AUX loopback comes back marked as AUX data; AUXDIS never clears: no mouse. */
	outb(PORT_I8042_CMD, 0xd3);
	outb(PORT_I8042_DATA, 0x5a);
	assert_int_equal(inb(PORT_I8042_CMD) & 0x21, 0x21);
	assert_int_equal(kbd_read(), 0x5a);
	outb(PORT_I8042_CMD, 0xa8);
	outb(PORT_I8042_CMD, 0x20);
	assert_true(kbd_read() & 0x20);
	/* keyboard: GET ID (translated), LEDs with their parameter, reset */
	outb(PORT_I8042_DATA, 0xf2);
	assert_int_equal(kbd_read(), 0xfa);
	assert_int_equal(kbd_read(), 0xab);
	assert_int_equal(kbd_read(), 0x41);
	outb(PORT_I8042_DATA, 0xed);
	assert_int_equal(kbd_read(), 0xfa);
	outb(PORT_I8042_DATA, 0x07);
	assert_int_equal(kbd_read(), 0xfa);
	outb(PORT_I8042_DATA, 0xff);
	assert_int_equal(kbd_read(), 0xfa);
	assert_int_equal(kbd_read(), 0xaa);
	assert_int_equal(kbd_read(), -1);
	/* Ctrl+Alt+Del in set 1, in order, then nothing */
	assert_int_equal(i8042_send_ctrl_alt_del(&vm), 0);
	for (unsigned i = 0; i < sizeof(cad); i++)
		assert_int_equal(kbd_read(), cad[i]);
	assert_int_equal(kbd_read(), -1);
	/* the DSDT describes it */
	assert_int_equal(vm.acpi.kbd_port, PORT_I8042_DATA);
	assert_int_equal(vm.acpi.kbd_irq, 1);
	/* output port bit 0 low resets */
	outb(PORT_I8042_CMD, 0xd1);
	outb(PORT_I8042_DATA, 0x00);
	assert_true(vm_exiting(&vm));
	assert_int_equal(atomic_load(&vm.exit_status), VM_STATUS_OFF);
}

static void test_vmgenid(void **state)
{
	uint8_t id[VMGENID_SIZE], again[VMGENID_SIZE], zero[VMGENID_SIZE] = { 0 };

	(void)state;
	assert_int_equal(vm.acpi.vmgenid_addr, LAYOUT_VMGENID);
	assert_int_equal(vm.acpi.ged_gsi, GSI_GED);
	assert_int_equal(vmgenid_get(&vm, id), 0);
	assert_memory_not_equal(id, zero, sizeof(id));  /* random: 2^-128 to fail */
	assert_int_equal(gmem_read(&vm.mem, LAYOUT_VMGENID, again, sizeof(again)), 0);
	assert_memory_equal(id, again, sizeof(id));
	/* A restore draws a new ID; without KVM the GED interrupt then fails. */
	assert_int_equal(vmgenid_restored(&vm), -EBADF);
	assert_int_equal(vmgenid_get(&vm, again), 0);
	assert_memory_not_equal(id, again, sizeof(id));
}

/* ---- Snapshot state: save, a fresh VM, restore, and the guest's view continues. ---- */

static struct vm_device *dev_named(const char *name)
{
	for (unsigned i = 0; i < vm.ndevices; i++)
		if (strcmp(vm.devices[i].desc->name, name) == 0)
			return &vm.devices[i];
	fail_msg("no device %s", name);
	return NULL;
}

static int save_named(void *ctx, struct snap_writer *w, struct err *e)
{
	struct vm_device *d = dev_named(ctx);

	assert_non_null(d->desc->save);
	return d->desc->save(&vm, d->state, w, e);
}

/* Restore (len) bytes at (p) into device (name), as the core does (cursor checked done). */
static int restore_named(const char *name, const uint8_t *p, size_t len, struct err *e)
{
	struct vm_device *d = dev_named(name);
	struct snap_cursor c = state_fixture_cursor(p, len);
	int r;

	assert_non_null(d->desc->restore);
	r = d->desc->restore(&vm, d->state, &c, e);
	return r < 0 ? r : snap_cursor_done(&c, name, e);
}

/* Save device (name) and rebuild the VM from scratch, as a restore would. */
static uint8_t *save_and_rebuild(const char *name, size_t *len)
{
	uint8_t *p = state_fixture_payload(save_named, (void *)name, len);

	teardown(NULL);
	setup(NULL);
	return p;
}

/* Every prefix of (p) and (p) with a byte more are refused with -EINVAL. */
static void assert_framing_checked(const char *name, const uint8_t *p, size_t len)
{
	uint8_t *longer = calloc(1, len + 1);
	struct err e = { "" };

	for (size_t n = 0; n < len; n++)
		if (restore_named(name, p, n, &e) != -EINVAL)
			fail_msg("%s: a state cut to %zu of %zu bytes was accepted", name, n, len);
	memcpy(longer, p, len);
	assert_int_equal(restore_named(name, longer, len + 1, &e), -EINVAL);
	free(longer);
}

/* A guest mid-conversation with the UART: registers, FIFO and owed interrupt continue. */
static void test_serial_state(void **state)
{
	struct err e = { "" };
	uint8_t *p, *bad;
	size_t len;

	(void)state;
	outb(PORT_COM1 + 3, 0x80);                      /* DLAB: divisor 12 */
	outb(PORT_COM1, 0x0c);
	outb(PORT_COM1 + 1, 0x00);
	outb(PORT_COM1 + 3, 0x03);
	outb(PORT_COM1 + 2, 0x01);                      /* FIFO on */
	outb(PORT_COM1 + 7, 0x77);
	outb(PORT_COM1 + 4, 0x10 | 0x0b);               /* loopback, OUT2, RTS, DTR */
	outb(PORT_COM1, 'a');
	outb(PORT_COM1, 'b');
	outb(PORT_COM1, 'c');
	assert_int_equal(inb(PORT_COM1), 'a');
	outb(PORT_COM1 + 1, 0x03);                      /* RDI and THRI */
	p = save_and_rebuild("serial", &len);
	assert_int_equal(inb(PORT_COM1 + 5) & 1, 0);    /* a fresh UART: nothing received */
	if (restore_named("serial", p, len, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(inb(PORT_COM1 + 3), 0x03);
	assert_int_equal(inb(PORT_COM1 + 1), 0x03);
	assert_int_equal(inb(PORT_COM1 + 4), 0x1b);
	assert_int_equal(inb(PORT_COM1 + 7), 0x77);
	assert_int_equal(inb(PORT_COM1 + 5) & 1, 1);
	assert_int_equal(inb(PORT_COM1 + 2), 0xc0 | 0x04);     /* FIFO, receive data first */
	assert_int_equal(inb(PORT_COM1), 'b');
	assert_int_equal(inb(PORT_COM1), 'c');
	assert_int_equal(inb(PORT_COM1 + 5) & 1, 0);
	assert_int_equal(inb(PORT_COM1 + 2), 0xc0 | 0x02);     /* then the owed THRE */
	assert_int_equal(inb(PORT_COM1 + 2), 0xc0 | 0x01);
	outb(PORT_COM1 + 3, 0x80);
	assert_int_equal(inb(PORT_COM1), 0x0c);
	outb(PORT_COM1 + 3, 0x03);
	/* Hostile: out-of-range registers, an oversized FIFO, bad framing. */
	bad = malloc(len);
	memcpy(bad, p, len);
	bad[0] = 0xff;                                  /* IER */
	assert_int_equal(restore_named("serial", bad, len, &e), -EINVAL);
	memcpy(bad, p, len);
	bad[2] = 0x20;                                  /* MCR */
	assert_int_equal(restore_named("serial", bad, len, &e), -EINVAL);
	memcpy(bad, p, len);
	bad[7] = 0x80;                                  /* flags */
	assert_int_equal(restore_named("serial", bad, len, &e), -EINVAL);
	memcpy(bad, p, len);
	state_fixture_put32(bad, 8, 65);
	assert_int_equal(restore_named("serial", bad, len, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "FIFO"));
	assert_framing_checked("serial", p, len);
	free(bad);
	free(p);
}

/* The keyboard controller with bytes queued and commands half-sent. */
static void test_i8042_state(void **state)
{
	struct err e = { "" };
	uint8_t *p, *bad;
	size_t len;

	(void)state;
	outb(PORT_I8042_CMD, 0x60);
	outb(PORT_I8042_DATA, 0x61);                    /* XLATE, AUXDIS, KBDINT */
	outb(PORT_I8042_DATA, 0xf2);                    /* GET ID: fa ab 41 */
	assert_int_equal(kbd_read(), 0xfa);
	outb(PORT_I8042_CMD, 0xd3);
	outb(PORT_I8042_DATA, 0x99);                    /* AUX loopback byte queued */
	outb(PORT_I8042_DATA, 0xed);                    /* SET LEDS: fa, parameter pending */
	outb(PORT_I8042_CMD, 0xd2);                     /* write-keyboard-buffer: data pending */
	p = save_and_rebuild("i8042", &len);
	assert_int_equal(kbd_read(), -1);
	if (restore_named("i8042", p, len, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(inb(PORT_I8042_CMD) & 0x0d, 0x0d);     /* OBF, SYS, last write a command */
	outb(PORT_I8042_DATA, 0x5a);                    /* the 0xd2's data byte */
	outb(PORT_I8042_DATA, 0x02);                    /* the LEDs' parameter: acknowledged */
	assert_int_equal(kbd_read(), 0xab);
	assert_int_equal(kbd_read(), 0x41);
	assert_int_equal(inb(PORT_I8042_CMD) & 0x20, 0x20);     /* next byte is AUX data */
	assert_int_equal(kbd_read(), 0x99);
	assert_int_equal(kbd_read(), 0xfa);
	assert_int_equal(kbd_read(), 0x5a);
	assert_int_equal(kbd_read(), 0xfa);
	assert_int_equal(kbd_read(), -1);
	outb(PORT_I8042_CMD, 0x20);
	assert_int_equal(kbd_read(), 0x61);
	/* Hostile values. */
	bad = malloc(len);
	memcpy(bad, p, len);
	bad[0] = 0x01;                                  /* AUXDIS clear: never reachable */
	assert_int_equal(restore_named("i8042", bad, len, &e), -EINVAL);
	memcpy(bad, p, len);
	bad[2] = 0x42;                                  /* no such two-byte command */
	assert_int_equal(restore_named("i8042", bad, len, &e), -EINVAL);
	memcpy(bad, p, len);
	bad[3] = 0xf4;                                  /* a keyboard command with no parameter */
	assert_int_equal(restore_named("i8042", bad, len, &e), -EINVAL);
	memcpy(bad, p, len);
	state_fixture_put32(bad, 4, 33);
	assert_int_equal(restore_named("i8042", bad, len, &e), -EINVAL);
	memcpy(bad, p, len);
	bad[8 + 1] = 2;                                 /* AUX flag of the first byte */
	assert_int_equal(restore_named("i8042", bad, len, &e), -EINVAL);
	assert_framing_checked("i8042", p, len);
	free(bad);
	free(p);
}

/* fw_cfg: a read in progress goes on at the same offset. */
static void test_fw_cfg_state(void **state)
{
	struct err e = { "" };
	uint8_t sel[2] = { 0, 0 }, *p, bad[8];
	size_t len;

	(void)state;
	bus_access(&vm.pio, PORT_FW_CFG, sel, 2, true);
	assert_int_equal(inb(PORT_FW_CFG + 1), 'Q');
	assert_int_equal(inb(PORT_FW_CFG + 1), 'E');
	p = save_and_rebuild("fw_cfg", &len);
	assert_int_equal(len, 8);
	if (restore_named("fw_cfg", p, len, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(inb(PORT_FW_CFG + 1), 'M');
	assert_int_equal(inb(PORT_FW_CFG + 1), 'U');
	assert_int_equal(inb(PORT_FW_CFG + 1), 0);
	memcpy(bad, p, len);
	state_fixture_put32(bad, 4, 5);                 /* past the 4-byte signature */
	assert_int_equal(restore_named("fw_cfg", bad, len, &e), -EINVAL);
	state_fixture_put32(bad, 0, 0x1234);            /* no such item */
	state_fixture_put32(bad, 4, 0);
	assert_int_equal(restore_named("fw_cfg", bad, len, &e), -EINVAL);
	state_fixture_put32(bad, 0, 0x10000);
	assert_int_equal(restore_named("fw_cfg", bad, len, &e), -EINVAL);
	state_fixture_put32(bad, 0, UINT32_MAX);        /* nothing selected, yet an offset */
	state_fixture_put32(bad, 4, 1);
	assert_int_equal(restore_named("fw_cfg", bad, len, &e), -EINVAL);
	state_fixture_put32(bad, 4, 0);
	assert_int_equal(restore_named("fw_cfg", bad, len, &e), 0);
	assert_framing_checked("fw_cfg", p, len);
	free(p);
}

/* The PIT's state is whether KVM's PIT exists; creating it needs KVM, which is absent here. */
static void test_pit_state(void **state)
{
	struct err e = { "" };
	uint8_t *p, bad[4];
	size_t len;

	(void)state;
	p = save_and_rebuild("pit", &len);
	assert_int_equal(len, 4);
	assert_int_equal(p[0], 0);                      /* never touched: not created */
	assert_int_equal(restore_named("pit", p, len, &e), 0);
	state_fixture_put32(bad, 0, 2);
	assert_int_equal(restore_named("pit", bad, 4, &e), -EINVAL);
	state_fixture_put32(bad, 0, 1);
	assert_int_equal(restore_named("pit", bad, 4, &e), -EBADF);    /* KVM_CREATE_PIT2 on no VM */
	assert_non_null(strstr(e.msg, "KVM_CREATE_PIT2"));
	assert_framing_checked("pit", p, len);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_devices_registered_in_order),
		cmocka_unit_test_setup_teardown(test_serial_output_and_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fw_cfg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_ports_read_ones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poweroff_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_i8042_keyboard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serial_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_i8042_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fw_cfg_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pit_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmgenid, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
