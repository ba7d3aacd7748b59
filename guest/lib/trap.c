/*
 * IDT and the C side of traps: caught exceptions (trap_catch), the report
 * of unexpected ones, and interrupt dispatch with EOI.
 */
#include "guest.h"
#include "internal.h"

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;           /* 0x8e: present, DPL 0, 64-bit interrupt gate */
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));

struct trap_catch_ctx {
	uint64_t jb[8];
	struct trap_info *ti;
	struct trap_catch_ctx *prev;
	uint64_t rflags;
};

extern char trap_stubs[];

static struct idt_gate idt[256] __attribute__((aligned(16)));
static void (*irq_handlers[256])(struct trap_frame *f);
static volatile unsigned irq_unhandled;

void idt_build(void)
{
	for (unsigned v = 0; v < 256; v++) {
		uint64_t off = (uint64_t)(uintptr_t)(trap_stubs + 16 * v);
		idt[v] = (struct idt_gate){
			.off_lo = (uint16_t)off,
			.sel = SEL_KCODE,
			.type = 0x8e,
			.off_mid = (uint16_t)(off >> 16),
			.off_hi = (uint32_t)(off >> 32),
		};
	}
}

void idt_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

	__asm__ volatile("lidt %0" : : "m"(idtr));
}

const char *trap_name(unsigned vector)
{
	static const char *const names[32] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
		"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
		"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23",
		"#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
	};
	return vector < 32 ? names[vector] : "irq";
}

void trap_dump(const struct trap_frame *f)
{
	printf("  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n",
	       (unsigned long long)f->rax, (unsigned long long)f->rbx,
	       (unsigned long long)f->rcx, (unsigned long long)f->rdx);
	printf("  rsi=%016llx rdi=%016llx rbp=%016llx rsp=%016llx\n",
	       (unsigned long long)f->rsi, (unsigned long long)f->rdi,
	       (unsigned long long)f->rbp, (unsigned long long)f->rsp);
	printf("  r8 =%016llx r9 =%016llx r10=%016llx r11=%016llx\n",
	       (unsigned long long)f->r8, (unsigned long long)f->r9,
	       (unsigned long long)f->r10, (unsigned long long)f->r11);
	printf("  r12=%016llx r13=%016llx r14=%016llx r15=%016llx\n",
	       (unsigned long long)f->r12, (unsigned long long)f->r13,
	       (unsigned long long)f->r14, (unsigned long long)f->r15);
	printf("  rflags=%08llx cs=%04llx ss=%04llx\n", (unsigned long long)f->rflags,
	       (unsigned long long)f->cs, (unsigned long long)f->ss);
}

static __attribute__((noreturn)) void report_unexpected(struct trap_frame *f, uint64_t cr2)
{
	static volatile uint32_t reporting;

	/* One report, even if the report itself faults or several CPUs fault. */
	if (__atomic_exchange_n(&reporting, 1, __ATOMIC_ACQUIRE))
		guest_exit(GUEST_EXIT_EXCEPTION);
	if (f->vector == VEC_PF)
		printf("guest: unexpected exception %llu (%s) rip=%#llx err=%#llx cr2=%#llx cs=%#llx cpu=%u\n",
		       (unsigned long long)f->vector, trap_name((unsigned)f->vector),
		       (unsigned long long)f->rip, (unsigned long long)f->error_code,
		       (unsigned long long)cr2, (unsigned long long)f->cs, this_cpu()->index);
	else
		printf("guest: unexpected exception %llu (%s) rip=%#llx err=%#llx cs=%#llx cpu=%u\n",
		       (unsigned long long)f->vector, trap_name((unsigned)f->vector),
		       (unsigned long long)f->rip, (unsigned long long)f->error_code,
		       (unsigned long long)f->cs, this_cpu()->index);
	trap_dump(f);
	guest_exit(GUEST_EXIT_EXCEPTION);
}

/* Resume the innermost trap_catch: iretq "returns" into catch_longjmp(jb, 1) in ring 0. */
static void unwind_to_catch(struct trap_frame *f, struct cpu *c, uint64_t cr2)
{
	struct trap_catch_ctx *k = c->catch;

	*k->ti = (struct trap_info){
		.vector = f->vector, .error_code = f->error_code, .rip = f->rip,
		.cr2 = cr2, .cs = f->cs, .rsp = f->rsp,
	};
	c->catch = k->prev;
	f->rip = (uint64_t)(uintptr_t)catch_longjmp;
	f->rdi = (uint64_t)(uintptr_t)k->jb;
	f->rsi = 1;
	f->cs = SEL_KCODE;
	f->ss = SEL_KDATA;
	f->rsp = (k->jb[6] - 128) & ~15ULL;
	f->rflags = k->rflags;
}

void trap_dispatch(struct trap_frame *f);
void trap_dispatch(struct trap_frame *f)
{
	unsigned v = (unsigned)f->vector;

	if (v < 32) {
		uint64_t cr2 = v == VEC_PF ? read_cr2() : 0;
		struct cpu *c = this_cpu();

		if (c->catch)
			unwind_to_catch(f, c, cr2);
		else
			report_unexpected(f, cr2);
		return;
	}
	if (v == VEC_SPURIOUS) {
		irq_unhandled++;
		return;
	}
	if (irq_handlers[v])
		irq_handlers[v](f);
	else
		irq_unhandled++;
	lapic_eoi();
}

void irq_set_handler(unsigned vector, void (*fn)(struct trap_frame *f))
{
	if (vector >= 32 && vector < 256)
		irq_handlers[vector] = fn;
}

unsigned irq_unhandled_count(void)
{
	return irq_unhandled;
}

int trap_catch(void (*fn)(void *), void *arg, struct trap_info *ti)
{
	struct cpu *c = this_cpu();
	struct trap_catch_ctx ctx = { .ti = ti, .prev = c->catch, .rflags = read_rflags() };

	c->catch = &ctx;
	if (catch_setjmp(ctx.jb) == 0) {
		fn(arg);
		this_cpu()->catch = ctx.prev;
		return -1;
	}
	/* trap_dispatch already popped ctx. */
	return (int)ti->vector;
}
