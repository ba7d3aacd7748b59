/*
 * triplefault: loads an empty IDT (limit 0) and executes ud2. #UD cannot be
 * delivered, nor #GP, nor #DF: the CPU shuts down (SDM vol. 3 §6.15,
 * "Interrupt 8"). lodge reports the triple fault and exits with status 4.
 */
#include "guest.h"

int guest_main(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty = { 0, 0 };

	puts("triple fault now");
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty));
	puts("triplefault: still running after the triple fault");
	return GUEST_EXIT_FAIL;
}
