#include "kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm/cpuid.h"

/* Both addresses sit in the MMIO hole above the LAPIC; used by Intel VMX only. */
#define KVM_TSS_ADDR          0xfffbd000UL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

static const struct {
	long cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_IRQ_INJECT_STATUS, "KVM_CAP_IRQ_INJECT_STATUS" },
};

int kvm_check_cap(const struct kvm *k, long cap)
{
	int r = ioctl(k->vm_fd >= 0 ? k->vm_fd : k->sys_fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

static int kvm_create_platform(struct kvm *k, struct err *e)
{
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		return errf(e, -errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	if (ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return errf(e, -errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP) < 0)
		return errf(e, -errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	return 0;
}

int kvm_create_pit(struct kvm *k)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	return ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0 ? -errno : 0;
}

int kvm_open(struct kvm *k, const char *path, struct err *e)
{
	int r;

	k->vm_fd = -1;
	k->cpuid = NULL;
	k->sys_fd = open(path, O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0)
		return errf(e, -errno, "%s: %s", path, strerror(errno));
	r = ioctl(k->sys_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION) {
		kvm_close(k);
		return errf(e, -ENOTSUP, "%s: KVM API version %d, need %d", path, r, KVM_API_VERSION);
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (kvm_check_cap(k, required_caps[i].cap) <= 0) {
			kvm_close(k);
			return errf(e, -ENOTSUP, "%s: missing %s", path, required_caps[i].name);
		}
	}
	k->run_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size <= 0) {
		r = errf(e, -errno, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		kvm_close(k);
		return r;
	}
	k->max_vcpus = kvm_check_cap(k, KVM_CAP_MAX_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = kvm_check_cap(k, KVM_CAP_NR_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = 4;
	k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		r = errf(e, -errno, "KVM_CREATE_VM: %s", strerror(errno));
		kvm_close(k);
		return r;
	}
	r = kvm_create_platform(k, e);
	if (r < 0)
		kvm_close(k);
	return r;
}

/* A slot number and a guest address no VM of lodge's uses (the top of the MMIO hole). */
#define KVM_WARM_SLOT 31
#define KVM_WARM_GPA  0xfeff0000ULL

int kvm_prepare(struct kvm *k, const char *path, struct err *e)
{
	void *page;
	struct kvm_userspace_memory_region slot = {
		.slot = KVM_WARM_SLOT,
		.guest_phys_addr = KVM_WARM_GPA,
		.memory_size = 4096,
	};
	int r = kvm_open(k, path, e);

	if (r < 0)
		return r;
	if (!kvm_supported_cpuid(k, e)) {
		kvm_close(k);
		return -EIO;
	}
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return 0;       /* only an optimisation */
	slot.userspace_addr = (uintptr_t)page;
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) == 0) {
		slot.memory_size = 0;
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			r = errf(e, -errno, "KVM_SET_USER_MEMORY_REGION (removing slot %d): %s",
				 KVM_WARM_SLOT, strerror(errno));
			kvm_close(k);
		}
	}
	munmap(page, 4096);
	return r;
}

const struct cpuid_table *kvm_supported_cpuid(struct kvm *k, struct err *e)
{
	if (!k->cpuid) {
		struct cpuid_table *t = malloc(sizeof(*t));

		if (!t) {
			errf(e, -ENOMEM, "out of memory");
			return NULL;
		}
		if (cpuid_get_supported(k->sys_fd, t, e) < 0) {
			free(t);
			return NULL;
		}
		k->cpuid = t;
	}
	return k->cpuid;
}

void kvm_close(struct kvm *k)
{
	free(k->cpuid);
	k->cpuid = NULL;
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	k->vm_fd = k->sys_fd = -1;
}

int kvm_map_memory(struct kvm *k, const struct gmem *m, bool log_dirty, struct err *e)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct gmem_region *r = &m->regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.flags = log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)(m->host + r->offset),
		};

		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return errf(e, -errno, "KVM_SET_USER_MEMORY_REGION slot %u: %s", i,
				    strerror(errno));
	}
	return 0;
}

int kvm_take_dirty(struct kvm *k, const struct gmem *m, uint64_t *bitmap, struct err *e)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct gmem_region *r = &m->regions[i];
		uint64_t pages = r->size / 4096, first = r->offset / 4096;
		uint64_t *log = calloc((size_t)((pages + 63) / 64), sizeof(uint64_t));
		struct kvm_dirty_log d = { .slot = i, .dirty_bitmap = log };

		if (!log)
			return errf(e, -ENOMEM, "out of memory");
		if (ioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0) {
			int err = errf(e, -errno, "KVM_GET_DIRTY_LOG slot %u: %s", i, strerror(errno));

			free(log);
			return err;
		}
		for (uint64_t p = 0; p < pages; p++)
			if (log[p / 64] >> (p % 64) & 1)
				bitmap[(first + p) / 64] |= 1ull << ((first + p) % 64);
		free(log);
	}
	return 0;
}

int kvm_irq_line(struct kvm *k, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	return ioctl(k->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}
