/*
 * Ring 3 (SDM vol. 3 §5.8.8 SYSCALL/SYSRET): STAR/LSTAR/FMASK, the TSS's
 * RSP0 for interrupts and exceptions taken in ring 3, and user mappings.
 */
#include "guest.h"
#include "internal.h"

#define USER_STACK_SIZE (16 * 1024)
extern char __user_text_start[], __user_text_end[], __user_data_start[], __user_data_end[];
extern uint64_t syscall_stack_top;
void syscall_entry(void);
void user_return(void);
uint64_t user_enter(uint64_t (*fn)(uint64_t), uint64_t arg, uint64_t rsp, uint64_t rflags);

static uint8_t user_stack[USER_STACK_SIZE] __attribute__((aligned(4096), section(".user.bss")));
static uint8_t trap_stack[16384] __attribute__((aligned(16)));
static uint8_t syscall_stack[16384] __attribute__((aligned(16)));

void user_init(void)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	/* sysret: CS = STAR[63:48] + 16, SS = STAR[63:48] + 8; syscall: CS = STAR[47:32], SS = +8. */
	wrmsr(MSR_STAR, (uint64_t)(SEL_UCODE32 | 3) << 48 | (uint64_t)SEL_KCODE << 32);
	wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
	wrmsr(MSR_FMASK, 0x47700);      /* clear TF, IF, DF, NT, AC on entry */
	syscall_stack_top = (uint64_t)(uintptr_t)(syscall_stack + sizeof(syscall_stack));
	cpu_set_rsp0((uint64_t)(uintptr_t)(trap_stack + sizeof(trap_stack)));
	paging_set_user((uint64_t)(uintptr_t)__user_text_start,
			(uint64_t)(uintptr_t)(__user_text_end - __user_text_start));
	paging_set_user((uint64_t)(uintptr_t)__user_data_start,
			(uint64_t)(uintptr_t)(__user_data_end - __user_data_start));
}

uint64_t user_run(uint64_t (*fn)(uint64_t), uint64_t arg)
{
	uint64_t flags = read_rflags();
	uint64_t *sp = (uint64_t *)(user_stack + sizeof(user_stack));
	uint64_t r;

	*--sp = (uint64_t)(uintptr_t)user_return;       /* fn's return address */
	r = user_enter(fn, arg, (uint64_t)(uintptr_t)sp, (flags & RFLAGS_IF) | 0x2);
	if (flags & RFLAGS_IF)
		sti();
	return r;
}

uint64_t guest_syscall(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3)
{
	(void)a3;
	switch (nr) {
	case SYS_WRITE:
		if (a2 > 4096)
			return (uint64_t)-1;
		serial_write((const char *)(uintptr_t)a1, a2);
		return a2;
	default:
		return (uint64_t)-1;
	}
}
