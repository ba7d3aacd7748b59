#include "api/kvm_stats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm/vcpu.h"
#include "vmm/vm.h"

#define KVM_STATS_MAX_FIELDS 128
#define KVM_STATS_MAX_FILE (1u << 20)

struct vcpu_stats {
	int fd;
	uint32_t data_offset, data_size;
	unsigned nfields;
	struct kvm_stat_field fields[KVM_STATS_MAX_FIELDS];
};

struct kvm_stats {
	unsigned n;
	struct vcpu_stats v[];
};

int kvm_stats_parse(const uint8_t *buf, size_t len, struct kvm_stat_field *out, unsigned max,
		    uint32_t *data_offset, uint32_t *data_size)
{
	struct kvm_stats_header h;
	size_t desc_len, end = 0;
	unsigned n = 0;

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.name_size == 0 || h.name_size > 256 || h.num_desc > 4096)
		return -EINVAL;
	desc_len = sizeof(struct kvm_stats_desc) + h.name_size;
	if (h.desc_offset > len || (len - h.desc_offset) / desc_len < h.num_desc)
		return -EINVAL;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc d;
		const uint8_t *p = buf + h.desc_offset + i * desc_len;
		uint32_t type;
		size_t name_len;

		memcpy(&d, p, sizeof(d));
		type = d.flags & KVM_STATS_TYPE_MASK;
		if ((size_t)d.offset + (size_t)d.size * 8 > end)
			end = (size_t)d.offset + (size_t)d.size * 8;
		if (d.size != 1 || type > KVM_STATS_TYPE_PEAK || n == max)
			continue;
		name_len = strnlen((const char *)p + sizeof(d), h.name_size);
		if (name_len == 0 || name_len >= sizeof(out[n].name))
			continue;
		memcpy(out[n].name, p + sizeof(d), name_len);
		out[n].name[name_len] = 0;
		out[n].offset = d.offset;
		out[n].cumulative = type == KVM_STATS_TYPE_CUMULATIVE;
		n++;
	}
	if (end > KVM_STATS_MAX_FILE)
		return -EINVAL;
	*data_offset = h.data_offset;
	*data_size = (uint32_t)end;
	return (int)n;
}

/* Read the header and descriptors of stats file (fd) into (v). */
static int vcpu_stats_load(struct vcpu_stats *v)
{
	struct kvm_stats_header h;
	uint8_t *buf;
	size_t len;
	int n;

	if (pread(v->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -EIO;
	if (h.name_size == 0 || h.name_size > 256 || h.num_desc > 4096)
		return -EINVAL;
	len = (size_t)h.desc_offset + (size_t)h.num_desc * (sizeof(struct kvm_stats_desc) + h.name_size);
	if (len > KVM_STATS_MAX_FILE)
		return -EINVAL;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	if (pread(v->fd, buf, len, 0) != (ssize_t)len) {
		free(buf);
		return -EIO;
	}
	n = kvm_stats_parse(buf, len, v->fields, KVM_STATS_MAX_FIELDS, &v->data_offset,
			    &v->data_size);
	free(buf);
	if (n < 0)
		return n;
	v->nfields = (unsigned)n;
	return 0;
}

struct kvm_stats *kvm_stats_open(struct vm *vm)
{
	struct kvm_stats *s;

	if (!vm->vcpus || vm->ncpus == 0)
		return NULL;
	s = calloc(1, sizeof(*s) + vm->ncpus * sizeof(s->v[0]));
	if (!s)
		return NULL;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		s->v[i].fd = ioctl(vm->vcpus[i].fd, KVM_GET_STATS_FD, NULL);
		s->n = i + 1;
		if (s->v[i].fd < 0 || vcpu_stats_load(&s->v[i]) < 0) {
			kvm_stats_close(s);
			return NULL;
		}
	}
	return s;
}

void kvm_stats_read(struct kvm_stats *s,
		    void (*fn)(void *ctx, unsigned vcpu, const char *name, uint64_t value,
			       bool cumulative),
		    void *ctx)
{
	for (unsigned i = 0; s && i < s->n; i++) {
		struct vcpu_stats *v = &s->v[i];
		uint8_t *data = malloc(v->data_size ? v->data_size : 1);

		if (!data)
			return;
		if (pread(v->fd, data, v->data_size, v->data_offset) == (ssize_t)v->data_size) {
			for (unsigned f = 0; f < v->nfields; f++) {
				uint64_t val;

				memcpy(&val, data + v->fields[f].offset, sizeof(val));
				fn(ctx, i, v->fields[f].name, val, v->fields[f].cumulative);
			}
		}
		free(data);
	}
}

void kvm_stats_close(struct kvm_stats *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->n; i++)
		if (s->v[i].fd >= 0)
			close(s->v[i].fd);
	free(s);
}
