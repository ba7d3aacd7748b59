#include "kvm/cpuid.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

enum reg { EAX, EBX, ECX, EDX };

/* Features that can be hidden with --cpu-mask / machine-config "cpu_mask". */
static const struct cpuid_feature {
	const char *name;
	uint32_t function, index;
	enum reg reg;
	unsigned bit;
} features[] = {
	{ "sse3", 1, 0, ECX, 0 },      { "pclmulqdq", 1, 0, ECX, 1 },
	{ "ssse3", 1, 0, ECX, 9 },     { "fma", 1, 0, ECX, 12 },
	{ "cx16", 1, 0, ECX, 13 },     { "pcid", 1, 0, ECX, 17 },
	{ "sse4_1", 1, 0, ECX, 19 },   { "sse4_2", 1, 0, ECX, 20 },
	{ "x2apic", 1, 0, ECX, 21 },   { "movbe", 1, 0, ECX, 22 },
	{ "popcnt", 1, 0, ECX, 23 },   { "tsc_deadline", 1, 0, ECX, 24 },
	{ "aes", 1, 0, ECX, 25 },      { "xsave", 1, 0, ECX, 26 },
	{ "avx", 1, 0, ECX, 28 },      { "f16c", 1, 0, ECX, 29 },
	{ "rdrand", 1, 0, ECX, 30 },   { "pse36", 1, 0, EDX, 17 },
	{ "mtrr", 1, 0, EDX, 12 },     { "pat", 1, 0, EDX, 16 },
	{ "fsgsbase", 7, 0, EBX, 0 },  { "bmi1", 7, 0, EBX, 3 },
	{ "avx2", 7, 0, EBX, 5 },      { "smep", 7, 0, EBX, 7 },
	{ "bmi2", 7, 0, EBX, 8 },      { "erms", 7, 0, EBX, 9 },
	{ "invpcid", 7, 0, EBX, 10 },  { "avx512f", 7, 0, EBX, 16 },
	{ "rdseed", 7, 0, EBX, 18 },   { "adx", 7, 0, EBX, 19 },
	{ "smap", 7, 0, EBX, 20 },     { "clflushopt", 7, 0, EBX, 23 },
	{ "clwb", 7, 0, EBX, 24 },     { "sha_ni", 7, 0, EBX, 29 },
	{ "umip", 7, 0, ECX, 2 },      { "pku", 7, 0, ECX, 3 },
	{ "la57", 7, 0, ECX, 16 },     { "rdpid", 7, 0, ECX, 22 },
	{ "xsaveopt", 0xd, 1, EAX, 0 }, { "xsavec", 0xd, 1, EAX, 1 },
	{ "xsaves", 0xd, 1, EAX, 3 },
	{ "lahf_lm", 0x80000001, 0, ECX, 0 }, { "svm", 0x80000001, 0, ECX, 2 },
	{ "abm", 0x80000001, 0, ECX, 5 }, { "sse4a", 0x80000001, 0, ECX, 6 },
	{ "pdpe1gb", 0x80000001, 0, EDX, 26 }, { "rdtscp", 0x80000001, 0, EDX, 27 },
	{ "kvmclock", 0x40000001, 0, EAX, 3 }, { "kvm_pv_eoi", 0x40000001, 0, EAX, 6 },
	{ "kvm_steal_time", 0x40000001, 0, EAX, 5 },
	{ "kvm_pv_unhalt", 0x40000001, 0, EAX, 7 },
};

#define CPUID_1_ECX_VMX        (1u << 5)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT        (1u << 28)

struct kvm_cpuid_entry2 *cpuid_find(struct cpuid_table *t, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < t->hdr.nent; i++) {
		struct kvm_cpuid_entry2 *en = &t->entries[i];

		if (en->function != function)
			continue;
		if ((en->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && en->index != index)
			continue;
		return en;
	}
	return NULL;
}

int cpuid_get_supported(int kvm_sys_fd, struct cpuid_table *t, struct err *e)
{
	memset(t, 0, sizeof(*t));
	t->hdr.nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_sys_fd, KVM_GET_SUPPORTED_CPUID, &t->hdr) < 0)
		return errf(e, -errno, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	return 0;
}

static uint32_t *cpuid_reg(struct kvm_cpuid_entry2 *en, enum reg r)
{
	switch (r) {
	case EAX: return &en->eax;
	case EBX: return &en->ebx;
	case ECX: return &en->ecx;
	default: return &en->edx;
	}
}

/* Bits needed to number (n) things: the shift of an x2APIC topology level. */
static unsigned bits_for(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

/* Leaves 0xb and 0x1f (Intel SDM vol. 2A, CPUID): level 0 SMT (1 thread), level 1 core. */
static void cpuid_fix_topology_leaf(struct cpuid_table *t, uint32_t leaf, unsigned apic_id,
				    unsigned ncpus)
{
	for (uint32_t i = 0; i < t->hdr.nent; i++) {
		struct kvm_cpuid_entry2 *en = &t->entries[i];

		if (en->function != leaf)
			continue;
		en->edx = apic_id;
		if (en->index == 0) {
			en->eax = 0;
			en->ebx = 1;
			en->ecx = 0 | (1u << 8);
		} else if (en->index == 1) {
			en->eax = bits_for(ncpus);
			en->ebx = ncpus;
			en->ecx = 1 | (2u << 8);
		} else {
			en->eax = en->ebx = 0;
			en->ecx = en->index;
		}
	}
}

int cpuid_feature_known(const char *name)
{
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		if (strcmp(features[i].name, name) == 0)
			return 1;
	return 0;
}

int cpuid_filter(struct cpuid_table *t, unsigned apic_id, unsigned ncpus,
		 char *const *mask, unsigned nmask, struct err *e)
{
	struct kvm_cpuid_entry2 *en;

	en = cpuid_find(t, 1, 0);
	if (en) {
		/* EBX[31:24] initial APIC ID, [23:16] logical processors per package. */
		en->ebx = (en->ebx & 0x0000ffffu) | (apic_id << 24) |
			  ((ncpus > 255 ? 255 : ncpus) << 16);
		en->ecx |= CPUID_1_ECX_HYPERVISOR;
		en->ecx &= ~CPUID_1_ECX_VMX; /* no nested virtualization */
		if (ncpus > 1)
			en->edx |= CPUID_1_EDX_HTT;
		else
			en->edx &= ~CPUID_1_EDX_HTT;
	}
	cpuid_fix_topology_leaf(t, 0xb, apic_id, ncpus);
	cpuid_fix_topology_leaf(t, 0x1f, apic_id, ncpus);
	/* Intel leaf 4: EAX[31:26] cores per package - 1, [25:14] threads sharing the cache - 1. */
	for (uint32_t i = 0; i < t->hdr.nent; i++) {
		en = &t->entries[i];
		if (en->function == 4 && (en->eax & 0x1f))
			en->eax = (en->eax & 0x3fff) | ((ncpus - 1) << 26);
	}
	/* AMD: 0x80000008 ECX[7:0] cores - 1, [15:12] APIC ID bits; 0x8000001e IDs. */
	en = cpuid_find(t, 0x80000008, 0);
	if (en)
		en->ecx = (en->ecx & ~0xf0ffu) | (ncpus - 1) | (bits_for(ncpus) << 12);
	en = cpuid_find(t, 0x8000001e, 0);
	if (en) {
		en->eax = apic_id;
		en->ebx = apic_id & 0xff;       /* core id; one thread per core */
		en->ecx = 0;                    /* node 0, one node */
	}
	for (unsigned m = 0; m < nmask; m++) {
		size_t i;

		for (i = 0; i < sizeof(features) / sizeof(features[0]); i++)
			if (strcmp(features[i].name, mask[m]) == 0)
				break;
		if (i == sizeof(features) / sizeof(features[0]))
			return errf(e, -EINVAL, "unknown CPUID feature '%s' in cpu mask", mask[m]);
		en = cpuid_find(t, features[i].function, features[i].index);
		if (en)
			*cpuid_reg(en, features[i].reg) &= ~(1u << features[i].bit);
	}
	return 0;
}
