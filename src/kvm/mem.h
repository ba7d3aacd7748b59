/*
 * Guest memory: one memfd holding all guest RAM, mapped once into lodge and
 * split into guest-physical regions around the 32-bit MMIO hole.
 *
 * Every access lodge makes to guest memory goes through gmem_ptr() (or the
 * copy helpers built on it): it checks that [gpa, gpa + len) lies inside one
 * RAM region, overflow included, and returns NULL otherwise. No other code
 * computes host addresses from guest addresses.
 */
#ifndef LODGE_KVM_MEM_H
#define LODGE_KVM_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 4

struct gmem_region {
	uint64_t gpa;       /* guest-physical start */
	uint64_t size;      /* bytes */
	uint64_t offset;    /* offset into the memfd and into gmem.host */
};

struct gmem {
	int fd;                                 /* memfd backing all RAM, -1 if none (a restore's private mapping) */
	uint8_t *host;                          /* mapping of all RAM (the memfd, or a snapshot's memory) */
	uint64_t total;                         /* bytes of RAM */
	unsigned nregions;
	struct gmem_region regions[GMEM_MAX_REGIONS];
	/*
	 * Pages lodge itself wrote while dirty tracking is on (diff snapshots:
	 * KVM's dirty log sees only the guest's writes). One bit per 4 KiB page
	 * of the mapping, by offset; NULL while tracking is off.
	 */
	uint64_t *dirty;
};

/* Guest-physical start and end of the 32-bit MMIO hole (devices, IOAPIC, LAPIC). */
#define GMEM_HOLE_START 0xc0000000ULL
#define GMEM_HOLE_END   0x100000000ULL

enum gmem_flags {
	GMEM_HUGEPAGES = 1u << 0,   /* back RAM with 2 MiB huge pages (MFD_HUGETLB) */
};

/*
 * Create guest RAM of (size) bytes: a memfd mapped shared, split into
 * [0, min(size, hole start)) and, for the rest, a region at 4 GiB.
 * Returns 0 or -errno; on success (m) owns the fd and mapping.
 */
int gmem_init(struct gmem *m, uint64_t size, unsigned flags);

/*
 * Guest RAM for a restore: (size) bytes mapped MAP_PRIVATE from (fd) (a
 * snapshot's memory file: pages load on first touch, clones share the page
 * cache), or, with fd < 0, private anonymous memory for userfaultfd to fill.
 * Same regions as gmem_init; (m->fd) stays -1. 0 or -errno.
 */
int gmem_init_private(struct gmem *m, uint64_t size, int fd);

/* Release the mapping and the fd; (m) may be zeroed or half-built. */
void gmem_destroy(struct gmem *m);

/* Host pointer for [gpa, gpa+len) if it lies wholly in one region, else NULL. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);

/* True when [gpa, gpa+len) lies wholly in one RAM region. */
static inline bool gmem_contains(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	return gmem_ptr(m, gpa, len) != NULL || len == 0;
}

/* Copy (len) bytes from guest (gpa) to (dst); 0 or -EFAULT. */
int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, uint64_t len);

/* Copy (len) bytes from (src) to guest (gpa); 0 or -EFAULT. */
int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, uint64_t len);

/* Zero guest [gpa, gpa+len); 0 or -EFAULT. */
int gmem_zero(const struct gmem *m, uint64_t gpa, uint64_t len);

/* Start (on) or stop recording lodge's own writes in (m->dirty); 0 or -ENOMEM. */
int gmem_track_dirty(struct gmem *m, bool on);

/* Record that lodge wrote [gpa, gpa+len) (no-op while tracking is off or outside RAM). */
void gmem_mark_dirty(const struct gmem *m, uint64_t gpa, uint64_t len);

/* Record the page at byte (offset) of the mapping as written (a failed snapshot puts pages back). */
void gmem_mark_dirty_offset(const struct gmem *m, uint64_t offset);

/*
 * OR the pages recorded since the last call into (bitmap) (one bit per 4 KiB
 * page of the mapping, m->total / 4096 bits) and clear them.
 */
void gmem_take_dirty(const struct gmem *m, uint64_t *bitmap);

/* The highest guest-physical address + 1 of RAM below the hole (the low region's end). */
uint64_t gmem_low_end(const struct gmem *m);

#endif
