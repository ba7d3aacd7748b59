/*
 * restore: the guest bench/restore snapshots and restores. It boots, times
 * its first write of a working set (ws MiB of RAM from 16 MiB up, one word
 * per 4 KiB page, in ring 3: the first touch of a fresh boot), routes
 * lodge's ACPI GED interrupt (the one every restore sends, like the vmgenid
 * guest) and waits in sti; hlt: the snapshot is taken there. On the
 * interrupt it times a pass over the first (touch) MiB of the working set
 * (the first touch after a restore), prints it and exits, or idles when
 * asked to. Under a VMM without lodge's GED (QEMU) it waits forever.
 *
 *   ws=N      working set in MiB (default 16; 0: none)
 *   touch=M   MiB of it the pass after a restore touches (default: all);
 *             with 0 the guest exits (or idles) at once on the interrupt
 *   read      that pass reads one word per page (default: reads it and
 *             writes it back changed, so each page becomes the clone's own)
 *   fresh     exit after the boot-time pass (no waiting)
 *   idle      after the restore pass, print "restore: idle" and halt forever
 *
 * Prints "restore: boot touch N MiB P pages T us (write)" (the fresh-boot
 * pass), then "restore: ready" (snapshot after this line), then after a
 * restore "restore: restored touch N MiB P pages T us (write|read)" (not
 * with touch=0). Times come from the TSC, calibrated against the LAPIC timer
 * (1 GHz, lib/apic.h) at boot. Exits with 0 (lodge status 1); a working set
 * that does not fit in RAM: status 65.
 */
#include "guest.h"

#include "arch/x86/layout.h"

#define GED_VECTOR   0x23
#define WS_BASE      (16ULL << 20)
#define PAGE         4096ULL
#define CAL_US       10000

static volatile unsigned notifies;

/* What ring 3 works on (user-accessible). */
struct pass {
	uint64_t base, pages, sum, cycles;
	bool write;
};

USER_DATA static struct pass pass;

static void ged_irq(struct trap_frame *f)
{
	(void)f;
	notifies++;
}

/*
 * Ring 3: one access per page of the working set, the TSC cycles it took in
 * (cycles). It leaves through ud2, not syscall: on kvm_pvm, SYSCALL from ring
 * 3 reaches LSTAR still at CPL 3 (tests/integration/cases/guest-ring3.sh).
 */
USER_TEXT static uint64_t touch(uint64_t arg)
{
	struct pass *p = (struct pass *)(uintptr_t)arg;
	uint64_t t0 = rdtsc(), sum = 0;

	for (uint64_t i = 0; i < p->pages; i++) {
		volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)(p->base + i * PAGE);

		sum += *w;
		if (p->write)
			*w = sum + i + 1;
	}
	p->sum = sum;
	p->cycles = rdtsc() - t0;
	__asm__ volatile("ud2" ::: "memory");
	__builtin_unreachable();
}

static void enter_user(void *arg)
{
	(void)arg;
	user_run(touch, (uint64_t)(uintptr_t)&pass);
}

/* One pass in ring 3; returns its TSC cycles. */
static uint64_t run_pass(void)
{
	struct trap_info ti;
	int v = trap_catch(enter_user, NULL, &ti);

	if (v != VEC_UD || ti.cs != (SEL_UCODE | 3)) {
		printf("restore: ring 3 ended with exception %d rip=%#llx cr2=%#llx, expected #UD\n",
		       v, (unsigned long long)ti.rip, (unsigned long long)ti.cr2);
		guest_exit(GUEST_EXIT_FAIL);
	}
	return pass.cycles;
}

/* TSC cycles per millisecond, against a LAPIC-timer busy wait of CAL_US. */
static uint64_t tsc_per_ms(void)
{
	uint64_t t0 = rdtsc();

	lapic_udelay(CAL_US);
	return (rdtsc() - t0) * 1000 / CAL_US;
}

/* True when [base, base + len) lies inside one RAM region of the memory map. */
static bool in_ram(uint64_t base, uint64_t len)
{
	const struct boot_info *bi = boot_info();

	for (unsigned i = 0; i < bi->nr_mem; i++) {
		const struct mem_region *m = &bi->mem[i];

		if (m->type == MEM_RAM && base >= m->addr && base + len <= m->addr + m->size)
			return true;
	}
	return false;
}

static void report(const char *what, uint64_t cycles, uint64_t per_ms)
{
	uint64_t us = per_ms ? cycles * 1000 / per_ms : 0;

	printf("restore: %s touch %llu MiB %llu pages %llu us (%s)\n", what,
	       (unsigned long long)(pass.pages * PAGE >> 20), (unsigned long long)pass.pages,
	       (unsigned long long)us, pass.write ? "write" : "read");
}

int guest_main(void)
{
	uint64_t ws = cmdline_get_u64("ws", 16) << 20, per_ms, cycles;
	uint64_t touched = cmdline_get_u64("touch", ws >> 20) << 20;

	if (ws && (!in_ram(WS_BASE, ws) || WS_BASE + ws > PAGING_MAPPED_END)) {
		printf("restore: ws=%llu MiB does not fit in RAM above 16 MiB\n",
		       (unsigned long long)(ws >> 20));
		return GUEST_EXIT_FAIL;
	}
	lapic_init();
	per_ms = tsc_per_ms();
	user_init();
	paging_set_user(WS_BASE, ws);
	pass.base = WS_BASE;
	pass.pages = ws / PAGE;
	pass.write = true;
	cycles = run_pass();
	report("boot", cycles, per_ms);
	if (cmdline_flag("fresh"))
		return 0;

	pass.pages = (touched < ws ? touched : ws) / PAGE;
	pass.write = !cmdline_has("read");
	irq_set_handler(GED_VECTOR, ged_irq);
	ioapic_route(GSI_GED, GED_VECTOR, lapic_id(), false, false);
	puts("restore: ready");
	for (;;) {
		cli();
		if (notifies)
			break;
		sti_hlt();
	}
	sti();
	if (pass.pages) {
		cycles = run_pass();
		report("restored", cycles, per_ms);
	}
	if (!cmdline_flag("idle"))
		return 0;
	puts("restore: idle");
	for (;;)
		sti_hlt();
}
