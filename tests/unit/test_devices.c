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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
