/*
 * The floor for start-time benchmarks: the least a KVM program can do to run
 * the tiny PVH guest to its exit. One VM, one memory slot, one vCPU in flat
 * 32-bit protected mode at the ELF's PVH entry, KVM_RUN until the guest
 * writes port 0xf4. No irqchip, no CPUID, no devices: nothing lodge could
 * skip. Only for bench/start; not part of lodge.
 */
#include <elf.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAM (2u << 20)

static int fail(const char *what)
{
	perror(what);
	return 1;
}

/* Copy PT_LOAD segments below RAM and find the PVH entry note. Trusts its own benchmark file. */
static int load(const char *path, uint8_t *ram, uint32_t *entry)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *f;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	f = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (f == MAP_FAILED)
		return -1;
	Elf64_Ehdr *eh = (Elf64_Ehdr *)f;
	for (int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(f + eh->e_phoff + (size_t)i * eh->e_phentsize);

		if (ph->p_type == PT_LOAD && ph->p_paddr + ph->p_memsz <= RAM)
			memcpy(ram + ph->p_paddr, f + ph->p_offset, ph->p_filesz);
		if (ph->p_type == PT_NOTE) {
			uint32_t *n = (uint32_t *)(f + ph->p_offset);

			if (n[2] == 18)
				*entry = n[3 + (n[0] + 3) / 4];
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	int kvm, vm, cpu;
	uint8_t *ram;
	struct kvm_run *run;
	struct kvm_sregs s;
	struct kvm_regs r = { .rflags = 2 };
	uint32_t entry = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: floor GUEST.elf\n");
		return 2;
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (vm < 0 || ram == MAP_FAILED)
		return fail("KVM_CREATE_VM");
	if (load(argv[1], ram, &entry) < 0 || !entry)
		return fail(argv[1]);
	struct kvm_userspace_memory_region mr = { .memory_size = RAM, .userspace_addr = (uintptr_t)ram };
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (cpu < 0)
		return fail("KVM_CREATE_VCPU");
	run = mmap(NULL, (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE,
		   MAP_SHARED, cpu, 0);
	ioctl(cpu, KVM_GET_SREGS, &s);
	struct kvm_segment code = { .limit = 0xffffffff, .selector = 8, .type = 0xb, .present = 1,
				    .db = 1, .s = 1, .g = 1 };
	struct kvm_segment data = code;
	data.type = 3;
	data.selector = 16;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.cr0 |= 1;
	ioctl(cpu, KVM_SET_SREGS, &s);
	r.rip = entry;
	ioctl(cpu, KVM_SET_REGS, &r);
	for (;;) {
		if (ioctl(cpu, KVM_RUN, 0) < 0)
			return fail("KVM_RUN");
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0xf4)
			return 1; /* same status as lodge: (0 << 1) | 1 */
		if (run->exit_reason != KVM_EXIT_IO)
			break;
	}
	fprintf(stderr, "floor: unexpected exit %u\n", run->exit_reason);
	return 3;
}
