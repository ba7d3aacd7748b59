/*
 * Boot CPU state for each boot mode: the GDT and identity page tables lodge
 * writes into guest memory, and the register values of the boot vCPU.
 * Pure code over guest memory, no KVM calls (unit-tested).
 */
#ifndef LODGE_ARCH_X86_CPU_H
#define LODGE_ARCH_X86_CPU_H

#include <linux/kvm.h>

#include "boot/boot.h"
#include "kvm/mem.h"

/* GDT selectors (Linux boot protocol: __BOOT_CS = 0x10, __BOOT_DS = 0x18). */
#define GDT_SEL_CODE 0x10
#define GDT_SEL_DATA 0x18
#define GDT_SEL_TSS  0x20

/*
 * Write the GDT (and for BOOT_LINUX64 the page tables) into (m) and fill
 * (regs, sregs) for (entry). (sregs) must hold KVM's current values (for
 * fields lodge does not set). 0 or -EFAULT if RAM cannot hold the tables.
 */
int cpu_boot_state(const struct gmem *m, const struct boot_entry *entry,
		   struct kvm_regs *regs, struct kvm_sregs *sregs);

/* Model-specific registers set on every vCPU at creation. */
struct cpu_msr_init {
	uint32_t index;
	uint64_t value;
};
extern const struct cpu_msr_init cpu_boot_msrs[];
extern const unsigned cpu_boot_msrs_count;

#endif
