/*
 * ring3: runs code in ring 3 and comes back to ring 0 through syscall.
 *   - a computation (an FNV-1a hash loop) whose result ring 0 checks;
 *   - a write syscall from ring 3 (sysret back), and CPL 3 seen in CS;
 *   - a ring-3 read of a supervisor page: #PF with U=1 and P=1 in the error
 *     code and CR2 = that address;
 *   - cli in ring 3: #GP(0) (IOPL 0).
 *
 *   iterations=N    length of the computation (default 100000)
 */
#include "guest.h"

static uint64_t kernel_secret = 0x5ec7e7;

USER_RODATA static const char user_msg[] = "ring3: hello from ring 3\n";

/* FNV-1a over the bytes of 0..n-1: a loop the compiler cannot fold. */
#define FNV_BODY(n, h)                                                  \
	for (uint64_t i = 0; i < (n); i++) {                            \
		for (int b = 0; b < 8; b++) {                           \
			h ^= (i >> (8 * b)) & 0xff;                     \
			h *= 0x100000001b3ULL;                          \
		}                                                       \
	}

USER_TEXT static uint64_t user_compute(uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	FNV_BODY(n, h);
	return h;
}

static uint64_t kernel_compute(uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	FNV_BODY(n, h);
	return h;
}

USER_TEXT static uint64_t user_hello(uint64_t arg)
{
	uint16_t cs;

	(void)arg;
	user_syscall(SYS_WRITE, (uint64_t)(uintptr_t)user_msg, sizeof(user_msg) - 1, 0);
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs;
}

USER_TEXT static uint64_t user_read(uint64_t addr)
{
	return *(volatile uint64_t *)(uintptr_t)addr;
}

USER_TEXT static uint64_t user_cli(uint64_t arg)
{
	(void)arg;
	__asm__ volatile("cli");
	return 0;
}

struct run_args {
	uint64_t (*fn)(uint64_t);
	uint64_t arg;
};

static void run_in_user(void *p)
{
	struct run_args *a = p;

	user_run(a->fn, a->arg);
}

/* Run (fn)(arg) in ring 3, expecting exception (vector); returns what was caught. */
static struct trap_info expect_user_fault(uint64_t (*fn)(uint64_t), uint64_t arg, unsigned vector)
{
	struct run_args a = { fn, arg };
	struct trap_info ti;
	int v = trap_catch(run_in_user, &a, &ti);

	GUEST_ASSERT_EQ(v, vector);
	GUEST_ASSERT_EQ(ti.cs, SEL_UCODE | 3);
	return ti;
}

int guest_main(void)
{
	uint64_t n = cmdline_get_u64("iterations", 100000);
	uint64_t got, want, cs;
	struct trap_info ti;

	user_init();

	got = user_run(user_compute, n);
	want = kernel_compute(n);
	printf("ring3: computed %#llx in ring 3 (ring 0: %#llx)\n", (unsigned long long)got,
	       (unsigned long long)want);
	GUEST_ASSERT_EQ(got, want);

	cs = user_run(user_hello, 0);
	printf("ring3: CS in ring 3 was %#llx (CPL %llu)\n", (unsigned long long)cs,
	       (unsigned long long)(cs & 3));
	GUEST_ASSERT_EQ(cs, SEL_UCODE | 3);

	ti = expect_user_fault(user_read, (uint64_t)(uintptr_t)&kernel_secret, VEC_PF);
	printf("ring3: read of supervisor page: #PF err=%#llx cr2=%#llx\n",
	       (unsigned long long)ti.error_code, (unsigned long long)ti.cr2);
	GUEST_ASSERT_EQ(ti.error_code, PF_USER | PF_PRESENT);
	GUEST_ASSERT_EQ(ti.cr2, (uintptr_t)&kernel_secret);
	GUEST_ASSERT_EQ(ti.rip, (uintptr_t)user_read);

	ti = expect_user_fault(user_cli, 0, VEC_GP);
	printf("ring3: cli in ring 3: #GP err=%#llx\n", (unsigned long long)ti.error_code);
	GUEST_ASSERT_EQ(ti.error_code, 0);

	/* Ring 3 still works after the faults. */
	GUEST_ASSERT_EQ(user_run(user_compute, 1000), kernel_compute(1000));
	puts("ring3: all checks passed");
	return 0;
}
