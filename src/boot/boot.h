/*
 * Kernel loaders. Each takes the kernel image as bytes, places it and its
 * boot structures in guest memory through the checked accessors, and says how
 * the boot vCPU must start. Inputs are untrusted files: every length and
 * offset is checked, and a bad image gets an error naming the problem.
 */
#ifndef LODGE_BOOT_BOOT_H
#define LODGE_BOOT_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/e820.h"
#include "kvm/mem.h"
#include "util/err.h"

/* How the boot vCPU starts (arch/x86/cpu.c turns this into registers). */
enum boot_mode {
	BOOT_PVH,       /* 32-bit protected, paging off, flat segments; ebx = hvm_start_info */
	BOOT_LINUX64,   /* 64-bit long mode, identity-mapped 4 GiB; rsi = boot_params */
	BOOT_MULTIBOOT, /* 32-bit protected, paging off, flat; eax = 0x2BADB002, ebx = mbi */
};

struct boot_module {
	const uint8_t *data;
	size_t size;
	const char *cmdline;            /* multiboot module string; may be NULL */
};

struct boot_input {
	const uint8_t *kernel;
	size_t kernel_size;
	const uint8_t *initrd;          /* NULL when none; for multiboot, the first module */
	size_t initrd_size;
	const struct boot_module *modules; /* extra multiboot modules (after initrd) */
	unsigned nmodules;
	const char *cmdline;            /* never NULL; "" when empty */
	const struct e820_map *e820;
	uint64_t rsdp_gpa;              /* 0 when there are no ACPI tables */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t rip;                   /* entry point */
	uint64_t arg;                   /* ebx (PVH, multiboot) or rsi (Linux64) */
	uint64_t kernel_start, kernel_end;  /* guest-physical span the kernel occupies */
	uint64_t initrd_gpa;            /* 0 when no initrd */
	const char *format;             /* "pvh-elf", "bzimage", "multiboot" */
};

/*
 * Detect the format of (in->kernel) and load it: bzImage (setup header
 * "HdrS"), else an ELF with a PVH entry note, else a multiboot (v1) kernel.
 * Returns 0 and fills (out), or -errno with a one-line reason in (e).
 */
int boot_load(const struct gmem *m, const struct boot_input *in, struct boot_entry *out,
	      struct err *e);

/* The individual loaders, same contract as boot_load (exposed for tests). */
int boot_load_bzimage(const struct gmem *m, const struct boot_input *in,
		      struct boot_entry *out, struct err *e);
int boot_load_pvh(const struct gmem *m, const struct boot_input *in,
		  struct boot_entry *out, struct err *e);
int boot_load_multiboot(const struct gmem *m, const struct boot_input *in,
			struct boot_entry *out, struct err *e);

#endif
