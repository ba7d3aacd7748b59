/*
 * SMP bring-up (SDM vol. 3 §9.4.4, "MP Initialization Example"): for each
 * AP in turn, INIT, 10 ms, SIPI, and a second SIPI if it has not come
 * alive within 1 ms. APs are started one at a time so the handshake
 * variables below need no per-AP slots.
 */
#include "guest.h"
#include "internal.h"

extern char trampoline_start[], trampoline_end[];

/* Read by the trampoline / ap_start of the AP being started. */
volatile uint64_t ap_boot_stack;
static volatile unsigned ap_boot_index;
static void (*volatile ap_boot_fn)(unsigned cpu);
static volatile uint32_t ap_alive;

static unsigned ncpus = 1;

void ap_start(void);
void ap_start(void)
{
	unsigned index = ap_boot_index;
	void (*fn)(unsigned) = ap_boot_fn;
	struct cpu *c;

	cpu_init_this(index);
	idt_init();
	lapic_init();
	c = this_cpu();
	c->online = true;
	__atomic_store_n(&ap_alive, 1, __ATOMIC_RELEASE);
	fn(index);
	for (;;) {
		cli();
		hlt();
	}
}

unsigned smp_init(void)
{
	static struct acpi_madt_info madt;
	struct cpu *bsp = cpu_get(0);
	unsigned next = 1;

	bsp->apic_id = lapic_id();
	bsp->online = true;
	lapic_init();
	if (!acpi_madt(&madt) || madt.ncpus == 0) {
		ncpus = 1;
		return 1;
	}
	for (unsigned i = 0; i < madt.ncpus && next < MAX_CPUS; i++) {
		if (madt.apic_ids[i] == bsp->apic_id)
			continue;
		struct cpu *c = cpu_get(next++);
		c->index = next - 1;
		c->apic_id = madt.apic_ids[i];
		c->online = false;
	}
	ncpus = next;
	return ncpus;
}

unsigned smp_cpu_count(void)
{
	return ncpus;
}

static bool wait_alive(unsigned us)
{
	for (unsigned t = 0; t < us; t += 100) {
		if (__atomic_load_n(&ap_alive, __ATOMIC_ACQUIRE))
			return true;
		lapic_udelay(100);
	}
	return __atomic_load_n(&ap_alive, __ATOMIC_ACQUIRE);
}

unsigned smp_start_aps(void (*fn)(unsigned cpu), unsigned timeout_ms)
{
	unsigned started = 0;

	memcpy(phys_ptr(SMP_TRAMPOLINE), trampoline_start, (size_t)(trampoline_end - trampoline_start));
	for (unsigned i = 1; i < ncpus; i++) {
		struct cpu *c = cpu_get(i);
		uint8_t *stack = page_alloc(AP_STACK_SIZE / 4096);

		if (!stack) {
			printf("guest: smp: no memory for the stack of cpu %u\n", i);
			break;
		}
		c->stack_top = (uint64_t)(uintptr_t)stack + AP_STACK_SIZE;
		ap_boot_stack = c->stack_top;
		ap_boot_index = i;
		ap_boot_fn = fn;
		__atomic_store_n(&ap_alive, 0, __ATOMIC_RELEASE);
		if (!lapic_send_init(c->apic_id))
			printf("guest: smp: INIT to APIC %u still pending\n", c->apic_id);
		lapic_udelay(10000);
		lapic_send_sipi(c->apic_id, SMP_TRAMPOLINE >> 12);
		if (!wait_alive(1000)) {
			lapic_send_sipi(c->apic_id, SMP_TRAMPOLINE >> 12);
			if (!wait_alive(timeout_ms * 1000)) {
				printf("guest: smp: cpu %u (APIC %u) did not start\n", i, c->apic_id);
				continue;
			}
		}
		started++;
	}
	return started;
}

void spin_lock(struct spinlock *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
	}
}

void spin_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}
