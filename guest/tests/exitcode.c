/*
 * exitcode: leaves the VM the way the command line asks.
 *   code=N             guest_exit(N): status (N << 1) | 1 (default N = 0)
 *   action=poweroff    ACPI S5 through the sleep control register: lodge exits 0
 *   action=reset       port 0x64 <- 0xfe: lodge exits 0
 */
#include "guest.h"

int guest_main(void)
{
	const char *action = cmdline_get("action");
	uint64_t code = cmdline_get_u64("code", 0);

	if (action && strcmp(action, "poweroff") == 0) {
		puts("exitcode: powering off");
		guest_poweroff();
	}
	if (action && strcmp(action, "reset") == 0) {
		puts("exitcode: resetting");
		guest_reset();
	}
	if (action && strcmp(action, "exit") != 0) {
		printf("exitcode: unknown action=%s\n", action);
		return GUEST_EXIT_FAIL;
	}
	printf("exitcode: exiting with code %llu\n", (unsigned long long)code);
	guest_exit((unsigned)code);
}
