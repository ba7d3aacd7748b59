/* CPUID filter: per-vCPU APIC IDs, topology leaves, hypervisor bit, masking by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "kvm/cpuid.h"

static struct cpuid_table table;

static void add(uint32_t fn, uint32_t idx, bool indexed, uint32_t eax, uint32_t ebx,
		uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 *en = &table.entries[table.hdr.nent++];

	*en = (struct kvm_cpuid_entry2){
		.function = fn, .index = idx, .eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx,
		.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
	};
}

static int setup(void **state)
{
	(void)state;
	memset(&table, 0, sizeof(table));
	add(0, 0, false, 0x1f, 0x68747541, 0x444d4163, 0x69746e65);
	add(1, 0, false, 0x00a20f10, 0xff0a0800, 0x7ed8320b | (1u << 5), 0x178bfbff);
	add(7, 0, true, 0, 0x219c97a9 | (1u << 5), 0, 0);
	add(0xb, 0, true, 1, 2, 0x100, 7);
	add(0xb, 1, true, 7, 16, 0x201, 7);
	add(0x80000008, 0, false, 0x3030, 0, 0x700f, 0);
	add(0x8000001e, 0, false, 9, 0x105, 0x300, 0);
	return 0;
}

static void test_apic_ids_and_topology(void **state)
{
	struct err e = { "" };
	struct kvm_cpuid_entry2 *en;

	(void)state;
	assert_int_equal(cpuid_filter(&table, 5, 6, NULL, 0, &e), 0);
	en = cpuid_find(&table, 1, 0);
	assert_int_equal(en->ebx >> 24, 5);
	assert_int_equal((en->ebx >> 16) & 0xff, 6);
	assert_true(en->ecx & (1u << 31));          /* hypervisor present */
	assert_false(en->ecx & (1u << 5));          /* no VMX */
	assert_true(en->edx & (1u << 28));          /* HTT: more than one logical CPU */
	en = cpuid_find(&table, 0xb, 0);
	assert_int_equal(en->edx, 5);
	assert_int_equal(en->ebx, 1);
	en = cpuid_find(&table, 0xb, 1);
	assert_int_equal(en->edx, 5);
	assert_int_equal(en->ebx, 6);
	assert_int_equal(en->eax, 3);               /* 6 CPUs need 3 bits of APIC ID */
	en = cpuid_find(&table, 0x80000008, 0);
	assert_int_equal(en->ecx & 0xff, 5);
	en = cpuid_find(&table, 0x8000001e, 0);
	assert_int_equal(en->eax, 5);
}

static void test_single_cpu_no_htt(void **state)
{
	struct err e = { "" };

	(void)state;
	assert_int_equal(cpuid_filter(&table, 0, 1, NULL, 0, &e), 0);
	assert_false(cpuid_find(&table, 1, 0)->edx & (1u << 28));
}

static void test_mask_by_name(void **state)
{
	struct err e = { "" };
	char *mask[] = { "avx2", "x2apic" };
	char *bad[] = { "avx9000" };

	(void)state;
	assert_int_equal(cpuid_filter(&table, 0, 1, mask, 2, &e), 0);
	assert_false(cpuid_find(&table, 7, 0)->ebx & (1u << 5));
	assert_false(cpuid_find(&table, 1, 0)->ecx & (1u << 21));
	assert_int_equal(cpuid_filter(&table, 0, 1, bad, 1, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "unknown CPUID feature 'avx9000'"));
	assert_true(cpuid_feature_known("sse4_2"));
	assert_false(cpuid_feature_known(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_apic_ids_and_topology, setup),
		cmocka_unit_test_setup(test_single_cpu_no_htt, setup),
		cmocka_unit_test_setup(test_mask_by_name, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
