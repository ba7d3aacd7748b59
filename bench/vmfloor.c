/*
 * vmfloor: the least any KVM VMM pays to have a VM that can run, for
 * bench/restore's context: open /dev/kvm, create a VM, optionally an
 * in-kernel irqchip (PIC, IOAPIC, LAPIC: KVM_CREATE_IRQCHIP, as lodge), map
 * one 2 MiB memory slot, create one vCPU, exit. No guest code runs. Timed
 * from outside (bench/runs.c). Usage: vmfloor [irqchip]; exits 0, or 1 with
 * the failing call on stderr.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define RAM (2u << 20)

static int fail(const char *what)
{
	perror(what);
	return 1;
}

int main(int argc, char **argv)
{
	struct kvm_userspace_memory_region mr = { .memory_size = RAM };
	int kvm, vm;
	void *ram;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	if (argc > 1 && strcmp(argv[1], "irqchip") == 0 && ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail("KVM_CREATE_IRQCHIP");
	ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return fail("mmap");
	mr.userspace_addr = (unsigned long)ram;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	if (ioctl(vm, KVM_CREATE_VCPU, 0) < 0)
		return fail("KVM_CREATE_VCPU");
	return 0;
}
