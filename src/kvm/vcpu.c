#include "kvm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/cpu.h"
#include "kvm/cpuid.h"
#include "util/log.h"
#include "vmm/vm.h"

/* The signal that kicks a vCPU thread out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1

/* LAPIC register offsets and LVT delivery modes (Intel SDM vol. 3A §11.5.1). */
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_EXTINT (7u << 8)
#define APIC_MODE_NMI    (4u << 8)

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_init_signals(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };

	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

static int vcpu_set_cpuid(struct vcpu *c, const struct cpuid_table *supported, struct err *e)
{
	const struct vm_config *cfg = c->vm->cfg;
	struct cpuid_table *t = malloc(sizeof(*t));
	int r;

	if (!t)
		return errf(e, -ENOMEM, "out of memory");
	memcpy(t, supported, sizeof(*t));
	r = cpuid_filter(t, c->id, c->vm->ncpus, cfg->cpu_mask, cfg->ncpu_mask, e);
	if (r == 0 && ioctl(c->fd, KVM_SET_CPUID2, &t->hdr) < 0)
		r = errf(e, -errno, "vCPU %u: KVM_SET_CPUID2: %s", c->id, strerror(errno));
	free(t);
	return r;
}

static int vcpu_set_msrs(struct vcpu *c, struct err *e)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[16];
	} msrs = { 0 };
	int r;

	for (unsigned i = 0; i < cpu_boot_msrs_count; i++) {
		msrs.entries[i].index = cpu_boot_msrs[i].index;
		msrs.entries[i].data = cpu_boot_msrs[i].value;
	}
	msrs.hdr.nmsrs = cpu_boot_msrs_count;
	r = ioctl(c->fd, KVM_SET_MSRS, &msrs.hdr);
	if (r < 0)
		return errf(e, -errno, "vCPU %u: KVM_SET_MSRS: %s", c->id, strerror(errno));
	if ((unsigned)r != cpu_boot_msrs_count)
		return errf(e, -EINVAL, "vCPU %u: KVM_SET_MSRS: MSR 0x%x refused", c->id,
			    msrs.entries[r].index);
	return 0;
}

/* LINT0 as ExtINT (the PIC's output) and LINT1 as NMI, as on a PC. */
static int vcpu_set_lint(struct vcpu *c, struct err *e)
{
	struct kvm_lapic_state lapic;
	uint32_t v;

	if (ioctl(c->fd, KVM_GET_LAPIC, &lapic) < 0)
		return errf(e, -errno, "vCPU %u: KVM_GET_LAPIC: %s", c->id, strerror(errno));
	memcpy(&v, &lapic.regs[APIC_LVT_LINT0], 4);
	v = (v & ~0x700u) | APIC_MODE_EXTINT;
	memcpy(&lapic.regs[APIC_LVT_LINT0], &v, 4);
	memcpy(&v, &lapic.regs[APIC_LVT_LINT1], 4);
	v = (v & ~0x700u) | APIC_MODE_NMI;
	memcpy(&lapic.regs[APIC_LVT_LINT1], &v, 4);
	if (ioctl(c->fd, KVM_SET_LAPIC, &lapic) < 0)
		return errf(e, -errno, "vCPU %u: KVM_SET_LAPIC: %s", c->id, strerror(errno));
	return 0;
}

static int vcpu_set_fpu(struct vcpu *c, struct err *e)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (ioctl(c->fd, KVM_SET_FPU, &fpu) < 0)
		return errf(e, -errno, "vCPU %u: KVM_SET_FPU: %s", c->id, strerror(errno));
	return 0;
}

int vcpu_create(struct vcpu *c, struct vm *vm, unsigned id, const struct cpuid_table *cpuid,
		struct err *e)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->vm = vm;
	c->id = id;
	c->fd = ioctl(vm->kvm.vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (c->fd < 0)
		return errf(e, -errno, "KVM_CREATE_VCPU %u: %s", id, strerror(errno));
	c->run = mmap(NULL, (size_t)vm->kvm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      c->fd, 0);
	if (c->run == MAP_FAILED) {
		c->run = NULL;
		return errf(e, -errno, "vCPU %u: mmap kvm_run: %s", id, strerror(errno));
	}
	r = vcpu_set_cpuid(c, cpuid, e);
	if (r == 0)
		r = vcpu_set_msrs(c, e);
	if (r == 0)
		r = vcpu_set_lint(c, e);
	if (r == 0)
		r = vcpu_set_fpu(c, e);
	return r;
}

int vcpu_set_boot_state(struct vcpu *c, const struct boot_entry *entry, struct err *e)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	if (ioctl(c->fd, KVM_GET_SREGS, &sregs) < 0)
		return errf(e, -errno, "KVM_GET_SREGS: %s", strerror(errno));
	if (cpu_boot_state(&c->vm->mem, entry, &regs, &sregs) < 0)
		return errf(e, -EFAULT, "guest RAM cannot hold the boot GDT and page tables");
	if (ioctl(c->fd, KVM_SET_SREGS, &sregs) < 0)
		return errf(e, -errno, "KVM_SET_SREGS: %s", strerror(errno));
	if (ioctl(c->fd, KVM_SET_REGS, &regs) < 0)
		return errf(e, -errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

static void vcpu_handle_io(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* data_offset and count come from KVM, not the guest: they lie within the run page. */
	for (uint32_t i = 0; i < run->io.count; i++) {
		bus_access(&c->vm->pio, run->io.port, data, run->io.size, is_write);
		data += run->io.size;
	}
	c->exits_io++;
}

static void vcpu_handle_mmio(struct vcpu *c)
{
	struct kvm_run *run = c->run;
	uint32_t len = run->mmio.len;

	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	bus_access(&c->vm->mmio, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write);
	c->exits_mmio++;
}

static void vcpu_fatal(struct vcpu *c, int status, const char *what)
{
	fprintf(stderr, "lodge: vCPU %u: %s\n", c->id, what);
	vcpu_dump(c);
	vm_request_exit(c->vm, status, what);
}

static void vcpu_handle_system_event(struct vcpu *c)
{
	switch (c->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_exit(c->vm, VM_STATUS_OFF, "guest shutdown (system event)");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_exit(c->vm, VM_STATUS_OFF, "guest reset (system event)");
		break;
	default:
		vcpu_fatal(c, VM_STATUS_INTERNAL, "unexpected KVM system event");
		break;
	}
}

/* Handle one exit; returns false when the thread should stop. */
static bool vcpu_handle_exit(struct vcpu *c)
{
	char what[96];

	switch (c->run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(c);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(c);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		/* The in-kernel LAPIC handles HLT; reaching here means nothing can wake us. */
		vm_request_exit(c->vm, VM_STATUS_OFF, "guest halted");
		return false;
	case KVM_EXIT_SHUTDOWN:
		vcpu_fatal(c, VM_STATUS_TRIPLE_FAULT, "triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu_handle_system_event(c);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM internal error (suberror %u)",
			 c->run->internal.suberror);
		vcpu_fatal(c, VM_STATUS_INTERNAL, what);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed (reason 0x%llx)",
			 (unsigned long long)c->run->fail_entry.hardware_entry_failure_reason);
		vcpu_fatal(c, VM_STATUS_INTERNAL, what);
		return false;
	default:
		snprintf(what, sizeof(what), "unhandled KVM exit reason %u", c->run->exit_reason);
		vcpu_fatal(c, VM_STATUS_INTERNAL, what);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *c = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (!vm_exiting(c->vm)) {
		/*
		 * Before parking: KVM_RUN with immediate_exit completes the I/O of
		 * the last exit (an IN's value into RAX, an MMIO read's into its
		 * register) and returns at once, so the state a snapshot reads
		 * while we are parked is whole. It runs no guest instruction.
		 */
		if (vm_paused(c->vm)) {
			__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
			if (ioctl(c->fd, KVM_RUN, 0) == 0 && !vcpu_handle_exit(c))
				break;
			c->run->immediate_exit = 0;
		}
		vm_vcpu_checkpoint(c->vm);
		if (vm_exiting(c->vm))
			break;
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				c->run->immediate_exit = 0;
				continue;
			}
			char what[96];

			snprintf(what, sizeof(what), "KVM_RUN: %s", strerror(errno));
			vcpu_fatal(c, VM_STATUS_HOST, what);
			break;
		}
		if (!vcpu_handle_exit(c))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *c)
{
	int r = pthread_create(&c->thread, NULL, vcpu_thread, c);

	if (r)
		return -r;
	c->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *c)
{
	if (!c->started)
		return;
	__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(c->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *c)
{
	if (c->started) {
		pthread_join(c->thread, NULL);
		c->started = false;
	}
}

void vcpu_destroy(struct vcpu *c)
{
	vcpu_join(c);
	if (c->run)
		munmap(c->run, (size_t)c->vm->kvm.run_size);
	if (c->fd >= 0)
		close(c->fd);
	c->run = NULL;
	c->fd = -1;
}

static void dump_seg(const char *name, const struct kvm_segment *s)
{
	fprintf(stderr, "  %-3s sel=%04x base=%016llx limit=%08x type=%x dpl=%u p=%u l=%u db=%u\n",
		name, s->selector, (unsigned long long)s->base, s->limit, s->type, s->dpl,
		s->present, s->l, s->db);
}

void vcpu_dump(struct vcpu *c)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(c->fd, KVM_GET_REGS, &r) < 0 || ioctl(c->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(stderr, "  (registers unavailable: %s)\n", strerror(errno));
		return;
	}
	fprintf(stderr,
		"  rip=%016llx rsp=%016llx rflags=%016llx\n"
		"  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
		"  rsi=%016llx rdi=%016llx rbp=%016llx\n"
		"  r8 =%016llx r9 =%016llx r10=%016llx r11=%016llx\n"
		"  r12=%016llx r13=%016llx r14=%016llx r15=%016llx\n"
		"  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%016llx\n",
		r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8,
		r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cr0, s.cr2, s.cr3, s.cr4,
		s.efer);
	dump_seg("cs", &s.cs);
	dump_seg("ss", &s.ss);
	dump_seg("ds", &s.ds);
	dump_seg("tr", &s.tr);
	fprintf(stderr, "  gdt=%016llx/%04x idt=%016llx/%04x\n", (unsigned long long)s.gdt.base,
		s.gdt.limit, (unsigned long long)s.idt.base, s.idt.limit);
	{
		struct kvm_mp_state mp;

		if (ioctl(c->fd, KVM_GET_MP_STATE, &mp) == 0)
			fprintf(stderr, "  mp_state=%u (0 runnable, 1 uninitialized, 2 init received, 3 halted, 4 sipi received)\n",
				mp.mp_state);
	}
}
