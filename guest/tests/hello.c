/* hello: the smallest guest. Prints a greeting and the command line; guest_exit(0): status 1. */
#include "guest.h"

int guest_main(void)
{
	puts("hello from the lodge test guest");
	printf("boot: %s\n", boot_proto_name());
	printf("cmdline: %s\n", cmdline());
	guest_exit(0);
}
