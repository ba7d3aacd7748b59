/*
 * vmgenid: lodge's VMGenID device (docs/GUEST-ABI.md). Checks that the DSDT
 * has \_SB.VGEN (_HID LODG0001) and the Generic Event Device \_SB.GED
 * (ACPI0013), prints the 16-byte generation ID at its documented address,
 * routes the GED's GSI through the IOAPIC (edge, active high) and then
 * waits in sti; hlt. Each GED interrupt is what a snapshot restore sends:
 * the guest rereads the ID, which must have changed, and prints it.
 *
 *   notifies=N   interrupts to wait for before exiting (default 0: exit at once)
 *   wait_ms=T    fail if they have not all come within T ms (default: wait forever)
 *
 * Prints "vmgenid: id=<32 hex>", then "vmgenid: waiting for N notifications"
 * once the interrupt is routed (snapshot after this line), then per interrupt
 * "vmgenid: notify id=<32 hex>", and exits with 0 (lodge status 1). An
 * interrupt that finds the ID unchanged, an all-zero ID, a missing device or
 * the wait running out: a "vmgenid: ..." line and status 65.
 */
#include "guest.h"

#include "arch/x86/layout.h"

#define GED_VECTOR   0x23
#define TICK_VECTOR  0x30
#define TICK_US      10000

static volatile unsigned notifies;
static volatile uint64_t ticks;

static void ged_irq(struct trap_frame *f)
{
	(void)f;
	notifies++;
}

static void tick(struct trap_frame *f)
{
	(void)f;
	ticks++;
}

/* The ID as lodge wrote it (reserved memory, identity-mapped). */
static void read_id(uint8_t id[LAYOUT_VMGENID_SIZE])
{
	const volatile uint8_t *p = phys_ptr(LAYOUT_VMGENID);

	for (unsigned i = 0; i < LAYOUT_VMGENID_SIZE; i++)
		id[i] = p[i];
}

static void print_id(const char *what, const uint8_t id[LAYOUT_VMGENID_SIZE])
{
	char hex[2 * LAYOUT_VMGENID_SIZE + 1];

	for (unsigned i = 0; i < LAYOUT_VMGENID_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	printf("vmgenid: %s=%s\n", what, hex);
}

struct found {
	bool vgen, ged;
};

static void dsdt_device(const char *name, const char *hid, void *arg)
{
	struct found *f = arg;

	if (!memcmp(name, "VGEN", 4) && !strcmp(hid, "LODG0001"))
		f->vgen = true;
	if (!memcmp(name, "GED_", 4) && !strcmp(hid, "ACPI0013"))
		f->ged = true;
}

/* Halt until interrupt number (n) arrives, or fail once (deadline) ticks have passed. */
static void wait_notify(unsigned n, uint64_t deadline)
{
	for (;;) {
		cli();
		if (notifies >= n)
			break;
		if (deadline && ticks >= deadline) {
			printf("vmgenid: notification %u did not come within wait_ms\n", n);
			guest_exit(GUEST_EXIT_FAIL);
		}
		sti_hlt();
	}
	sti();
}

int guest_main(void)
{
	unsigned want = (unsigned)cmdline_get_u64("notifies", 0);
	uint64_t wait_ms = cmdline_get_u64("wait_ms", 0);
	uint8_t id[LAYOUT_VMGENID_SIZE], prev[LAYOUT_VMGENID_SIZE];
	uint8_t zero[LAYOUT_VMGENID_SIZE] = { 0 };
	struct found found = { false, false };

	acpi_dsdt_devices(dsdt_device, &found);
	if (!found.vgen || !found.ged) {
		printf("vmgenid: DSDT lacks%s%s\n", found.vgen ? "" : " VGEN (LODG0001)",
		       found.ged ? "" : " GED (ACPI0013)");
		return GUEST_EXIT_FAIL;
	}
	read_id(id);
	print_id("id", id);
	GUEST_ASSERT(memcmp(id, zero, sizeof(id)) != 0);
	if (want == 0)
		return 0;

	lapic_init();
	irq_set_handler(GED_VECTOR, ged_irq);
	ioapic_route(GSI_GED, GED_VECTOR, lapic_id(), false, false);
	if (wait_ms) {
		irq_set_handler(TICK_VECTOR, tick);
		lapic_timer_periodic(TICK_VECTOR, TICK_US * (LAPIC_TIMER_HZ / 1000000));
	}
	sti();
	printf("vmgenid: waiting for %u notifications (GSI %u, vector %#x)\n", want, GSI_GED,
	       GED_VECTOR);
	for (unsigned n = 1; n <= want; n++) {
		wait_notify(n, wait_ms ? (wait_ms * 1000 + TICK_US - 1) / TICK_US : 0);
		memcpy(prev, id, sizeof(id));
		read_id(id);
		print_id("notify id", id);
		if (!memcmp(id, prev, sizeof(id))) {
			puts("vmgenid: notified, but the ID did not change");
			return GUEST_EXIT_FAIL;
		}
	}
	return 0;
}
