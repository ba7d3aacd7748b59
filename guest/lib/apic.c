/* Local APIC (SDM vol. 3 ch. 11, xAPIC MMIO) and IOAPIC (82093AA datasheet). */
#include "guest.h"

#define LAPIC_ID      0x020
#define LAPIC_EOI     0x0b0
#define LAPIC_SVR     0x0f0
#define LAPIC_ICR_LO  0x300
#define LAPIC_ICR_HI  0x310
#define LAPIC_LVT_TMR 0x320
#define LAPIC_LINT0   0x350
#define LAPIC_LINT1   0x360
#define LAPIC_LVT_ERR 0x370
#define LAPIC_TMR_ICR 0x380
#define LAPIC_TMR_CCR 0x390
#define LAPIC_TMR_DCR 0x3e0

#define SVR_ENABLE        0x100
#define LVT_MASKED        0x10000
#define LVT_TIMER_PERIODIC 0x20000
#define DCR_DIVIDE_1      0xb
#define ICR_PENDING       0x1000
#define ICR_INIT          0x4500    /* INIT, level assert */
#define ICR_STARTUP       0x4600    /* SIPI, level assert */
#define ICR_FIXED         0x4000
#define APIC_BASE_ENABLE  (1u << 11)

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN    0x10
#define IOAPIC_VER    0x01
#define IOAPIC_REDTBL 0x10

static uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}

void lapic_init(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);

	if (!(base & APIC_BASE_ENABLE))
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
	lapic_write(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
	/* Firmware may leave LINT0 as ExtINT from the 8259; nothing of ours uses it. */
	lapic_write(LAPIC_LINT0, LVT_MASKED);
	lapic_write(LAPIC_LINT1, LVT_MASKED);
	lapic_write(LAPIC_LVT_ERR, LVT_MASKED);
	lapic_write(LAPIC_LVT_TMR, LVT_MASKED);
	lapic_write(LAPIC_TMR_DCR, DCR_DIVIDE_1);
}

unsigned lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

static bool lapic_icr(unsigned apic_id, uint32_t lo)
{
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, lo);
	for (int i = 0; i < 100000; i++) {
		if (!(lapic_read(LAPIC_ICR_LO) & ICR_PENDING))
			return true;
		cpu_relax();
	}
	return false;
}

bool lapic_send_init(unsigned apic_id)
{
	return lapic_icr(apic_id, ICR_INIT);
}

bool lapic_send_sipi(unsigned apic_id, uint8_t vector)
{
	return lapic_icr(apic_id, ICR_STARTUP | vector);
}

void lapic_send_ipi(unsigned apic_id, uint8_t vector)
{
	lapic_icr(apic_id, ICR_FIXED | vector);
}

void lapic_timer_oneshot(uint8_t vector, uint32_t count)
{
	lapic_write(LAPIC_TMR_DCR, DCR_DIVIDE_1);
	lapic_write(LAPIC_LVT_TMR, vector);
	lapic_write(LAPIC_TMR_ICR, count);
}

void lapic_timer_periodic(uint8_t vector, uint32_t count)
{
	lapic_write(LAPIC_TMR_DCR, DCR_DIVIDE_1);
	lapic_write(LAPIC_LVT_TMR, LVT_TIMER_PERIODIC | vector);
	lapic_write(LAPIC_TMR_ICR, count);
}

void lapic_timer_stop(void)
{
	lapic_write(LAPIC_LVT_TMR, LVT_MASKED);
	lapic_write(LAPIC_TMR_ICR, 0);
}

uint32_t lapic_timer_current(void)
{
	return lapic_read(LAPIC_TMR_CCR);
}

void lapic_udelay(uint32_t us)
{
	while (us) {
		uint32_t chunk = us > 4000000 ? 4000000 : us;

		lapic_write(LAPIC_TMR_DCR, DCR_DIVIDE_1);
		lapic_write(LAPIC_LVT_TMR, LVT_MASKED);
		lapic_write(LAPIC_TMR_ICR, chunk * (uint32_t)(LAPIC_TIMER_HZ / 1000000));
		while (lapic_read(LAPIC_TMR_CCR))
			cpu_relax();
		us -= chunk;
	}
}

static uint32_t ioapic_read(uint32_t reg)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_REGSEL, reg);
	return mmio_read32(IOAPIC_BASE + IOAPIC_WIN);
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_REGSEL, reg);
	mmio_write32(IOAPIC_BASE + IOAPIC_WIN, v);
}

unsigned ioapic_pins(void)
{
	return ((ioapic_read(IOAPIC_VER) >> 16) & 0xff) + 1;
}

void ioapic_route(unsigned pin, uint8_t vector, unsigned apic_id, bool level, bool low)
{
	uint32_t lo = vector | (low ? 1u << 13 : 0) | (level ? 1u << 15 : 0);

	ioapic_write(IOAPIC_REDTBL + 2 * pin, 1u << 16);        /* masked while changing */
	ioapic_write(IOAPIC_REDTBL + 2 * pin + 1, apic_id << 24);
	ioapic_write(IOAPIC_REDTBL + 2 * pin, lo);
}

void ioapic_mask(unsigned pin)
{
	ioapic_write(IOAPIC_REDTBL + 2 * pin, 1u << 16);
}

void pic_disable(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}
