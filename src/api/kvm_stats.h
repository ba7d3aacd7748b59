/*
 * KVM's binary statistics of each vCPU (KVM_GET_STATS_FD, Linux 5.14+):
 * per-reason exit counts ("io_exits", "mmio_exits", "halt_exits", ...) and
 * the rest of what the kernel counts, read with pread without stopping the
 * vCPU. Documentation/virt/kvm/api.rst, "KVM_GET_STATS_FD".
 */
#ifndef LODGE_API_KVM_STATS_H
#define LODGE_API_KVM_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct kvm_stats;

/*
 * Open the statistics of every vCPU of (vm). NULL when the kernel has none
 * (before 5.14) or anything about them is malformed; then lodge's own
 * counters are all there is.
 */
struct kvm_stats *kvm_stats_open(struct vm *vm);

/*
 * Call (fn)(ctx, vcpu, name, value, cumulative) for every single-valued
 * statistic of every vCPU (histograms are skipped); (cumulative) is false
 * for instant and peak values. Safe from any thread.
 */
void kvm_stats_read(struct kvm_stats *s,
		    void (*fn)(void *ctx, unsigned vcpu, const char *name, uint64_t value,
			       bool cumulative),
		    void *ctx);

void kvm_stats_close(struct kvm_stats *s);

/*
 * Parse one stats file's header and descriptors from (buf) ((len) bytes
 * from offset 0 up to the end of the descriptors) into the names, offsets
 * and kinds kvm_stats_read uses. Exposed for the unit tests. Returns the
 * number of usable single-valued statistics (at most (max)), or -EINVAL.
 */
struct kvm_stat_field {
	char name[48];
	uint32_t offset;                /* from the data block, in bytes */
	bool cumulative;
};
int kvm_stats_parse(const uint8_t *buf, size_t len, struct kvm_stat_field *out, unsigned max,
		    uint32_t *data_offset, uint32_t *data_size);

#endif
