/* KVM lab self-check (tests/lab/run --selfcheck): proves that /dev/kvm in
 * the lab runs guest code. Opens /dev/kvm, prints KVM_GET_API_VERSION, then
 * runs a 16-bit guest that writes one byte to a port and halts, and checks
 * both exits. Prints "selfcheck: OK ..." and exits 0, or one "selfcheck: "
 * line naming what failed and exits 1. Needs only libc and <linux/kvm.h>.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define GUEST_BASE 0x1000u
#define GUEST_PORT 0xe9u
#define GUEST_BYTE 42u

static int fail(const char *what)
{
	printf("selfcheck: %s: %s\n", what, strerror(errno));
	return 1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* run_guest(kvm, vm): one vCPU in real mode at GUEST_BASE; returns 0 when it
 * did "out GUEST_PORT, GUEST_BYTE" and then "hlt", 1 otherwise (reported). */
static int run_guest(int kvm, int vm)
{
	static const uint8_t code[] = {
		0xb0, GUEST_BYTE,	/* mov $GUEST_BYTE, %al */
		0xe6, GUEST_PORT,	/* out %al, $GUEST_PORT */
		0xf4,			/* hlt */
	};
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	uint8_t *mem;
	int vcpu, size;

	mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap guest memory");
	memcpy(mem, code, sizeof(code));
	region = (struct kvm_userspace_memory_region){
		.guest_phys_addr = GUEST_BASE,
		.memory_size = 0x1000,
		.userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(*run))
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail("mmap kvm_run");
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS");
	regs = (struct kvm_regs){ .rip = GUEST_BASE, .rflags = 0x2 };
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");

	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return fail("KVM_RUN (1)");
	if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
	    run->io.port != GUEST_PORT || run->io.size != 1 ||
	    *((uint8_t *)run + run->io.data_offset) != GUEST_BYTE) {
		printf("selfcheck: first exit: reason %u, expected KVM_EXIT_IO out 0x%x\n",
		       run->exit_reason, GUEST_PORT);
		return 1;
	}
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return fail("KVM_RUN (2)");
	if (run->exit_reason != KVM_EXIT_HLT) {
		printf("selfcheck: second exit: reason %u, expected KVM_EXIT_HLT\n",
		       run->exit_reason);
		return 1;
	}
	return 0;
}

int main(void)
{
	double t0 = now_ms();
	int kvm, vm, api;

	setvbuf(stdout, NULL, _IOLBF, 0);
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("open /dev/kvm");
	api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api < 0)
		return fail("KVM_GET_API_VERSION");
	printf("selfcheck: KVM_GET_API_VERSION %d\n", api);
	if (api != KVM_API_VERSION) {
		printf("selfcheck: API %d, expected %d\n", api, KVM_API_VERSION);
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	if (run_guest(kvm, vm))
		return 1;
	printf("selfcheck: OK: API %d, guest ran (out 0x%x, hlt) in %.1f ms\n",
	       api, GUEST_PORT, now_ms() - t0);
	return 0;
}
