#include "kvm/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

static void gmem_add_region(struct gmem *m, uint64_t gpa, uint64_t size, uint64_t offset)
{
	struct gmem_region *r = &m->regions[m->nregions++];

	r->gpa = gpa;
	r->size = size;
	r->offset = offset;
}

/* Split (size) bytes of RAM around the 32-bit hole. */
static void gmem_add_regions(struct gmem *m, uint64_t size)
{
	uint64_t low = size < GMEM_HOLE_START ? size : GMEM_HOLE_START;

	m->total = size;
	gmem_add_region(m, 0, low, 0);
	if (size > low)
		gmem_add_region(m, GMEM_HOLE_END, size - low, low);
}

int gmem_init(struct gmem *m, uint64_t size, unsigned flags)
{
	unsigned mfd_flags = MFD_CLOEXEC;
	int err;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size == 0 || size % 4096)
		return -EINVAL;
	if (flags & GMEM_HUGEPAGES) {
		if (size % (2u << 20))
			return -EINVAL;
		mfd_flags |= MFD_HUGETLB;
	}
	m->fd = memfd_create("lodge-guest-ram", mfd_flags);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, (off_t)size) < 0)
		goto fail;
	m->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (m->host == MAP_FAILED) {
		m->host = NULL;
		goto fail;
	}
	gmem_add_regions(m, size);
	return 0;
fail:
	err = -errno;
	gmem_destroy(m);
	return err;
}

int gmem_init_private(struct gmem *m, uint64_t size, int fd)
{
	int flags = MAP_PRIVATE | MAP_NORESERVE | (fd < 0 ? MAP_ANONYMOUS : 0);

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size == 0 || size % 4096)
		return -EINVAL;
	m->host = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (m->host == MAP_FAILED) {
		m->host = NULL;
		return -errno;
	}
	gmem_add_regions(m, size);
	return 0;
}

void gmem_destroy(struct gmem *m)
{
	if (m->host)
		munmap(m->host, m->total);
	if (m->fd >= 0)
		close(m->fd);
	free(m->dirty);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct gmem_region *r = &m->regions[i];

		/* Written so that no sum can overflow: gpa >= r->gpa first. */
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return m->host + r->offset + (gpa - r->gpa);
	}
	return NULL;
}

int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return len ? -EFAULT : 0;
	memcpy(dst, p, len);
	return 0;
}

int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return len ? -EFAULT : 0;
	memcpy(p, src, len);
	gmem_mark_dirty(m, gpa, len);
	return 0;
}

int gmem_zero(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return len ? -EFAULT : 0;
	memset(p, 0, len);
	gmem_mark_dirty(m, gpa, len);
	return 0;
}

int gmem_track_dirty(struct gmem *m, bool on)
{
	size_t words = (size_t)((m->total / 4096 + 63) / 64);

	if (!on) {
		free(m->dirty);
		m->dirty = NULL;
		return 0;
	}
	if (m->dirty)
		return 0;
	m->dirty = calloc(words ? words : 1, sizeof(uint64_t));
	return m->dirty ? 0 : -ENOMEM;
}

void gmem_mark_dirty(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	const uint8_t *p;
	uint64_t first, last;

	if (!m->dirty || len == 0 || !(p = gmem_ptr(m, gpa, len)))
		return;
	first = (uint64_t)(p - m->host) / 4096;
	last = ((uint64_t)(p - m->host) + len - 1) / 4096;
	for (uint64_t pg = first; pg <= last; pg++)
		__atomic_fetch_or(&m->dirty[pg / 64], 1ull << (pg % 64), __ATOMIC_RELAXED);
}

void gmem_mark_dirty_offset(const struct gmem *m, uint64_t offset)
{
	uint64_t pg = offset / 4096;

	if (m->dirty && offset < m->total)
		__atomic_fetch_or(&m->dirty[pg / 64], 1ull << (pg % 64), __ATOMIC_RELAXED);
}

void gmem_take_dirty(const struct gmem *m, uint64_t *bitmap)
{
	size_t words = (size_t)((m->total / 4096 + 63) / 64);

	if (!m->dirty)
		return;
	for (size_t i = 0; i < words; i++)
		bitmap[i] |= __atomic_exchange_n(&m->dirty[i], 0, __ATOMIC_RELAXED);
}

uint64_t gmem_low_end(const struct gmem *m)
{
	return m->nregions ? m->regions[0].size : 0;
}
