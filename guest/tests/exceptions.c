/*
 * exceptions: raises #UD, #DE, #GP (non-canonical address, bad selector) and
 * #PF (read and write at a chosen unmapped address, write to a read-only
 * page) under trap_catch, and checks vector, RIP, error
 * code and CR2 of each. No int3 or int $n: those do not work everywhere.
 *
 *   pf_addr=ADDR   the #PF address (default 0x5000001234, beyond the 4 GiB map;
 *                  an address below 4 GiB gets its page unmapped first)
 *   unhandled=1    then take a #PF with nobody expecting it: the library
 *                  reports it and exits with GUEST_EXIT_EXCEPTION (status 67)
 */
#include "guest.h"

/* Each function faults at its fault_* label; the catch resumes in trap_catch. */
__asm__(".pushsection .text\n"
	"do_ud:\n"
	"fault_ud:	ud2\n"
	"	ret\n"
	"do_de:\n"
	"	xor %ecx, %ecx\n"
	"	mov $1, %eax\n"
	"	xor %edx, %edx\n"
	"fault_de:	div %ecx\n"
	"	ret\n"
	"do_gp_noncanonical:\n"
	"	movabs $0x8000000000000000, %rax\n"
	"fault_gp_noncanonical:	mov (%rax), %rax\n"
	"	ret\n"
	"do_gp_selector:\n"
	"	mov $0x2000, %eax\n"
	"fault_gp_selector:	mov %eax, %ds\n"
	"	ret\n"
	"do_pf_read:\n"
	"fault_pf_read:	mov (%rdi), %rax\n"
	"	ret\n"
	"do_pf_write:\n"
	"fault_pf_write:	movq $0x1234, (%rdi)\n"
	"	ret\n"
	".popsection\n");

void do_ud(void *arg), do_de(void *arg), do_gp_noncanonical(void *arg);
void do_gp_selector(void *arg), do_pf_read(void *arg), do_pf_write(void *arg);
extern char fault_ud[], fault_de[], fault_gp_noncanonical[], fault_gp_selector[];
extern char fault_pf_read[], fault_pf_write[];

struct expect {
	const char *what;
	void (*fn)(void *arg);
	uint64_t arg;          /* for #PF: the address, also the expected CR2 */
	unsigned vector;
	const char *rip;
	uint64_t error_code;
	bool check_cr2;
};

/* A page the #PF-protection case writes to after making it read-only. */
static uint8_t ro_page[4096] __attribute__((aligned(4096)));

static void run(const struct expect *x)
{
	struct trap_info ti;
	int v = trap_catch(x->fn, (void *)(uintptr_t)x->arg, &ti);

	if (v < 0)
		guest_fail(__FILE__, __LINE__, "%s: no exception", x->what);
	char cr2[32] = "";

	if (x->check_cr2)
		snprintf(cr2, sizeof(cr2), " cr2=%#llx", (unsigned long long)ti.cr2);
	printf("exception %s: vector %llu (%s) rip=%#llx err=%#llx%s\n", x->what,
	       (unsigned long long)ti.vector, trap_name((unsigned)ti.vector),
	       (unsigned long long)ti.rip, (unsigned long long)ti.error_code, cr2);
	GUEST_ASSERT_EQ(ti.vector, x->vector);
	GUEST_ASSERT_EQ(ti.rip, (uintptr_t)x->rip);
	GUEST_ASSERT_EQ(ti.error_code, x->error_code);
	GUEST_ASSERT_EQ(ti.cs, SEL_KCODE);
	if (x->check_cr2)
		GUEST_ASSERT_EQ(ti.cr2, x->arg);
}

int guest_main(void)
{
	uint64_t pf_addr = cmdline_get_u64("pf_addr", 0x5000001234ULL);
	uint64_t ro = (uint64_t)(uintptr_t)ro_page;
	const struct expect cases[] = {
		{ "#UD", do_ud, 0, VEC_UD, fault_ud, 0, false },
		{ "#DE", do_de, 0, VEC_DE, fault_de, 0, false },
		{ "#GP-noncanonical", do_gp_noncanonical, 0, VEC_GP, fault_gp_noncanonical, 0, false },
		{ "#GP-selector", do_gp_selector, 0, VEC_GP, fault_gp_selector, 0x2000, false },
		{ "#PF-read", do_pf_read, pf_addr, VEC_PF, fault_pf_read, 0, true },
		{ "#PF-write", do_pf_write, pf_addr, VEC_PF, fault_pf_write, PF_WRITE, true },
		{ "#PF-protection", do_pf_write, ro + 8, VEC_PF, fault_pf_write,
		  PF_PRESENT | PF_WRITE, true },
	};

	/* An address below 4 GiB is mapped: unmap its page first (not the image's). */
	if (pf_addr < PAGING_MAPPED_END) {
		GUEST_ASSERT(pf_addr >= (uint64_t)(uintptr_t)__image_end ||
			     pf_addr + 4096 <= (uint64_t)(uintptr_t)__image_start);
		paging_unmap(pf_addr);
	}
	paging_set_readonly(ro);
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++)
		run(&cases[i]);
	printf("exceptions: all %u matched\n", (unsigned)ARRAY_SIZE(cases));

	if (cmdline_flag("unhandled")) {
		printf("exceptions: unexpected #PF at %#llx now\n", (unsigned long long)pf_addr);
		do_pf_read((void *)(uintptr_t)pf_addr);
		guest_fail(__FILE__, __LINE__, "no #PF");
	}
	return 0;
}
