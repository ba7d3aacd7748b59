/*
 * smp: starts every AP the MADT lists (INIT-SIPI-SIPI, trampoline at
 * 0x8000). Each CPU prints its APIC ID and increments a counter with an
 * atomic add; the BSP waits for all of them and checks the count.
 *
 *   cpus=N          the count must also equal N
 *   timeout_ms=MS   how long to wait for the check-ins (default 5000)
 */
#include "guest.h"

static volatile uint32_t checked_in;
static volatile uint8_t seen[MAX_CPUS];

static void check_in(unsigned cpu)
{
	printf("smp: cpu %u (APIC %u) checked in\n", cpu, lapic_id());
	seen[cpu] = 1;
	__atomic_fetch_add(&checked_in, 1, __ATOMIC_SEQ_CST);
}

int guest_main(void)
{
	unsigned n = smp_init(), started, waited = 0;
	uint64_t timeout_ms = cmdline_get_u64("timeout_ms", 5000);
	uint64_t want = cmdline_get_u64("cpus", 0);

	printf("smp: MADT lists %u CPUs, BSP is APIC %u\n", n, lapic_id());
	check_in(0);
	started = smp_start_aps(check_in, (unsigned)timeout_ms);
	printf("smp: %u of %u APs started\n", started, n - 1);
	while (__atomic_load_n(&checked_in, __ATOMIC_SEQ_CST) < n && waited < timeout_ms) {
		lapic_udelay(1000);
		waited++;
	}
	uint32_t count = __atomic_load_n(&checked_in, __ATOMIC_SEQ_CST);
	printf("smp: %u of %u CPUs checked in\n", count, n);
	for (unsigned i = 0; i < n; i++) {
		if (!seen[i])
			printf("smp: cpu %u (APIC %u) missing\n", i, cpu_get(i)->apic_id);
	}
	GUEST_ASSERT_EQ(count, n);
	if (want)
		GUEST_ASSERT_EQ(count, want);
	return 0;
}
