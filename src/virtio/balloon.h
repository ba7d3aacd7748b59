/*
 * virtio-balloon (virtio 1.2 §5.5), host side: the target size the guest is
 * asked to give back, the memory it gives back (inflate, free page
 * reporting) released from the guest's memfd, and the statistics the driver
 * reports. The device itself is created from vm->cfg->balloon (Firecracker's
 * Balloon object); this header is what the API and the tests use.
 *
 * Pages are the balloon's 4 KiB units throughout (§5.5.6), whatever the
 * guest's own page size.
 */
#ifndef LODGE_VIRTIO_BALLOON_H
#define LODGE_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct gmem;
struct balloon;

#define BALLOON_PAGE_SHIFT 12
#define BALLOON_PAGE_SIZE  (1ull << BALLOON_PAGE_SHIFT)
#define BALLOON_HUGE_SIZE  (2ull << 20)          /* what --hugepages backs RAM with */

/* Statistics tags, §5.5.6.3 (Linux adds more; lodge keeps the first 16). */
enum balloon_stat_tag {
	BALLOON_STAT_SWAP_IN = 0,
	BALLOON_STAT_SWAP_OUT = 1,
	BALLOON_STAT_MAJFLT = 2,
	BALLOON_STAT_MINFLT = 3,
	BALLOON_STAT_MEMFREE = 4,
	BALLOON_STAT_MEMTOT = 5,
	BALLOON_STAT_AVAIL = 6,
	BALLOON_STAT_CACHES = 7,
	BALLOON_STAT_HTLB_PGALLOC = 8,
	BALLOON_STAT_HTLB_PGFAIL = 9,
	BALLOON_STAT_TAGS = 16,
};

/* What the balloon knows: its size, the guest's last statistics, its counters. */
struct balloon_stats {
	uint32_t target_pages;          /* num_pages: what the guest is asked to give */
	uint32_t actual_pages;          /* actual: what the driver says it gave */
	uint64_t updates;               /* statistics buffers received */
	uint32_t present;               /* bit t: tag t was in the last buffer */
	uint64_t val[BALLOON_STAT_TAGS];        /* the last buffer's values (0 if absent) */
	uint64_t inflated, deflated;    /* pages the driver put in / took out */
	uint64_t reported;              /* pages the driver reported free */
	uint64_t invalid;               /* PFNs outside guest RAM, ignored */
	uint64_t released_bytes;        /* host memory handed back (hole punched) */
	uint64_t stats_interval_s;      /* statistics polling period; 0: no statistics */
};

/* Firecracker's name of statistics tag (t) ("free_memory"...), or NULL. */
const char *balloon_stat_name(unsigned t);

/* The balloon of (vm), or NULL when it has none. */
struct balloon *balloon_find(struct vm *vm);

/*
 * Ask the guest for a balloon of (mib) MiB: sets num_pages and tells the
 * driver (config change interrupt). 0, or -EINVAL when (mib) exceeds guest RAM.
 */
int balloon_set_target(struct balloon *b, uint64_t mib);

/*
 * Poll the guest's statistics every (secs) seconds from now on (PATCH
 * /balloon/statistics after start). 0, or -EINVAL when (secs) is 0 or the
 * balloon has no statistics: they cannot be turned on or off once the
 * driver has negotiated the features (Firecracker's rule).
 */
int balloon_set_stats_interval(struct balloon *b, uint64_t secs);

/* Copy the balloon's current state into (out). */
void balloon_stats(struct balloon *b, struct balloon_stats *out);

/*
 * For the unit tests: a balloon without a VM, transport or queues, for a
 * guest of (ram_mib) MiB, with a statistics timer (not watched) when
 * (stats_interval_s) is not 0. NULL when out of memory or timers.
 */
struct balloon *balloon_detached_create(uint64_t ram_mib, uint64_t stats_interval_s);
void balloon_detached_destroy(struct balloon *b);

/* ---- The device's pure parts, exposed for the unit tests. ---- */

/* What a virtqueue index serves, once the features are known. */
enum balloon_queue {
	BALLOON_Q_NONE,
	BALLOON_Q_INFLATE,
	BALLOON_Q_DEFLATE,
	BALLOON_Q_STATS,
	BALLOON_Q_HINT,
	BALLOON_Q_REPORT,
};

/*
 * Fill (roles)[0..n) for the negotiated (features): inflateq, deflateq, then
 * only the queues whose feature was negotiated, numbered without gaps
 * (§5.5.2, as Linux numbers them). Returns how many queues exist.
 */
unsigned balloon_queue_roles(uint64_t features, enum balloon_queue *roles, unsigned n);

/*
 * Joins byte ranges of the memfd into runs: each range that does not
 * continue the current run ends it and (fn)(ctx, offset, len) gets it.
 */
struct balloon_coalescer {
	uint64_t offset, len;           /* the run being built; len 0: none */
	void (*fn)(void *ctx, uint64_t offset, uint64_t len);
	void *ctx;
};

/* Add [offset, offset+len) to (c). */
void balloon_coalesce_add(struct balloon_coalescer *c, uint64_t offset, uint64_t len);

/* Hand the run being built to (c)->fn. */
void balloon_coalesce_flush(struct balloon_coalescer *c);

/*
 * Add the 4 KiB pages named by the (n) little-endian 32-bit PFNs at (pfns)
 * to (c), as memfd offsets of (m). PFNs whose page is not wholly in guest
 * RAM are skipped; returns how many were.
 */
uint64_t balloon_add_pfns(const struct gmem *m, const uint8_t *pfns, size_t n,
			  struct balloon_coalescer *c);

/*
 * Shrink [*offset, *offset + *len) to the whole (unit)-byte pages inside
 * it ((unit) a power of two); false when none is.
 */
bool balloon_trim(uint64_t *offset, uint64_t *len, uint64_t unit);

/*
 * Give the host memory behind [offset, offset+len) of guest RAM (offsets
 * into (m)'s mapping, which are the memfd's) back: FALLOC_FL_PUNCH_HOLE in
 * the memfd (the guest reads zeroes there next) or, when RAM is a private
 * mapping with no memfd (m->fd < 0, after a snapshot restore),
 * MADV_DONTNEED (the guest reads the snapshot's page or zeroes). With
 * (huge), only whole 2 MiB pages are released. The pages released are
 * marked dirty for diff snapshots. Adds the bytes released to (*released);
 * 0 or -errno (-EINVAL for a range outside the mapping).
 */
int balloon_punch(const struct gmem *m, bool huge, uint64_t offset, uint64_t len,
		  uint64_t *released);

/*
 * Parse a statistics buffer (§5.5.6.3: packed le16 tag, le64 value) of
 * (len) bytes into (s)->present/val; a trailing partial entry and unknown
 * tags are ignored. Returns the entries parsed.
 */
size_t balloon_parse_stats(const uint8_t *buf, size_t len, struct balloon_stats *s);

#endif
