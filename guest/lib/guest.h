/*
 * The guest library: everything a test guest includes. A guest defines
 * guest_main(); returning from it exits through guest_exit(its value).
 *
 * Exit conventions (docs in guest/README.md):
 *   guest_exit(v) writes v to the isa-debug-exit port 0xf4: status (v << 1) | 1
 *   GUEST_EXIT_FAIL      (status 65) a check (GUEST_ASSERT) failed
 *   GUEST_EXIT_EXCEPTION (status 67) an unexpected exception
 */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acpi.h"
#include "apic.h"
#include "boot.h"
#include "console.h"
#include "fwcfg.h"
#include "paging.h"
#include "libc.h"
#include "smp.h"
#include "trap.h"
#include "user.h"
#include "x86.h"

#define DEBUG_EXIT_PORT      0xf4
#define ACPI_SLEEP_CTL_PORT  0x600
#define ACPI_S5_SLEEP        ((5 << 2) | 0x20)  /* SLP_TYP 5 (\_S5), SLP_EN */

#define GUEST_EXIT_OK        0x00
#define GUEST_EXIT_FAIL      0x20
#define GUEST_EXIT_EXCEPTION 0x21

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The test's entry point, on the BSP, in ring 0, interrupts off. */
int guest_main(void);

/* Write (code) to the debug-exit port; if that returns, halt forever. */
__attribute__((noreturn)) void guest_exit(unsigned code);

/*
 * Power off: the FADT's sleep control register if there is one, then port
 * 0x600 (lodge), then guest_exit(0) for VMMs with neither.
 */
__attribute__((noreturn)) void guest_poweroff(void);

/* Reset: the FADT reset register, port 0x64 (0xfe), port 0xcf9, then a triple fault. */
__attribute__((noreturn)) void guest_reset(void);

/* Report a failed check (file:line: text) and exit with GUEST_EXIT_FAIL. */
__attribute__((noreturn)) void guest_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define GUEST_ASSERT(cond)                                                       \
	do {                                                                     \
		if (!(cond))                                                     \
			guest_fail(__FILE__, __LINE__, "assertion failed: %s", #cond); \
	} while (0)

#define GUEST_ASSERT_EQ(a, b)                                                    \
	do {                                                                     \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                 \
		if (a_ != b_)                                                    \
			guest_fail(__FILE__, __LINE__, "assertion failed: %s == %s (0x%llx != 0x%llx)", \
				   #a, #b, (unsigned long long)a_, (unsigned long long)b_); \
	} while (0)

#endif
