/*
 * virtio-balloon's pure parts: queue numbering per negotiated features,
 * PFN checking and coalescing over fake guest memory, trimming to whole
 * pages, hole punching on a real memfd (and MADV_DONTNEED on a private
 * mapping), the statistics parser fed hostile buffers, and the statistics
 * interval changed on a running balloon (PATCH /balloon/statistics).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kvm/mem.h"
#include "virtio/balloon.h"
#include "virtio/virtio.h"

#define F_STATS     VIRTIO_BIT(1)
#define F_OOM       VIRTIO_BIT(2)
#define F_HINT      VIRTIO_BIT(3)
#define F_REPORTING VIRTIO_BIT(5)

static void test_queue_roles(void **state)
{
	enum balloon_queue r[4];

	(void)state;
	assert_int_equal(balloon_queue_roles(F_OOM, r, 4), 2);
	assert_int_equal(r[0], BALLOON_Q_INFLATE);
	assert_int_equal(r[1], BALLOON_Q_DEFLATE);
	assert_int_equal(r[2], BALLOON_Q_NONE);
	assert_int_equal(r[3], BALLOON_Q_NONE);

	assert_int_equal(balloon_queue_roles(F_STATS, r, 4), 3);
	assert_int_equal(r[2], BALLOON_Q_STATS);
	assert_int_equal(r[3], BALLOON_Q_NONE);

	/* §5.5.2: without statsq, reporting_vq takes the next index. */
	assert_int_equal(balloon_queue_roles(F_REPORTING, r, 4), 3);
	assert_int_equal(r[2], BALLOON_Q_REPORT);
	assert_int_equal(r[3], BALLOON_Q_NONE);

	assert_int_equal(balloon_queue_roles(F_STATS | F_OOM | F_REPORTING, r, 4), 4);
	assert_int_equal(r[2], BALLOON_Q_STATS);
	assert_int_equal(r[3], BALLOON_Q_REPORT);

	/* More queues than the caller has room for: the count still says so. */
	assert_int_equal(balloon_queue_roles(F_STATS | F_HINT | F_REPORTING, r, 4), 5);
	assert_int_equal(r[3], BALLOON_Q_HINT);
}

struct runs {
	unsigned n;
	uint64_t off[16], len[16];
};

static void collect(void *ctx, uint64_t offset, uint64_t len)
{
	struct runs *r = ctx;

	assert_true(r->n < 16);
	r->off[r->n] = offset;
	r->len[r->n] = len;
	r->n++;
}

/* 64 KiB at 0 (memfd offset 0) and 64 KiB at 4 GiB (memfd offset 64 KiB). */
static uint8_t fake_ram[128 * 1024];
static const struct gmem fake = {
	.fd = -1,
	.host = fake_ram,
	.total = sizeof(fake_ram),
	.nregions = 2,
	.regions = {
		{ .gpa = 0, .size = 64 * 1024, .offset = 0 },
		{ .gpa = 0x100000000ull, .size = 64 * 1024, .offset = 64 * 1024 },
	},
};

static void put_pfns(uint8_t *buf, const uint32_t *pfns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		buf[4 * i] = (uint8_t)pfns[i];
		buf[4 * i + 1] = (uint8_t)(pfns[i] >> 8);
		buf[4 * i + 2] = (uint8_t)(pfns[i] >> 16);
		buf[4 * i + 3] = (uint8_t)(pfns[i] >> 24);
	}
}

static void test_pfns_coalesced(void **state)
{
	static const uint32_t pfns[] = {
		0, 1, 2,                /* one run: [0, 12 KiB) */
		4,                      /* a gap: a new run */
		3,                      /* going down: not joined */
		16,                     /* 64 KiB: past the low region, invalid */
		0x000c0000,             /* 3 GiB: the MMIO hole, invalid */
		0xffffffff,             /* far beyond RAM, invalid */
		15, 0x100000, 0x100001, /* region ends, next begins: one memfd run */
		0x100010,               /* 4 GiB + 64 KiB: past the high region */
		7, 7,                   /* the same page twice: two runs */
	};
	struct runs r = { 0 };
	struct balloon_coalescer c = { .fn = collect, .ctx = &r };
	uint8_t buf[sizeof(pfns)];
	uint64_t invalid;

	(void)state;
	put_pfns(buf, pfns, sizeof(pfns) / 4);
	invalid = balloon_add_pfns(&fake, buf, sizeof(pfns) / 4, &c);
	balloon_coalesce_flush(&c);
	assert_int_equal(invalid, 4);
	assert_int_equal(r.n, 6);
	assert_int_equal(r.off[0], 0);
	assert_int_equal(r.len[0], 3 * 4096);
	assert_int_equal(r.off[1], 4 * 4096);
	assert_int_equal(r.len[1], 4096);
	assert_int_equal(r.off[2], 3 * 4096);
	assert_int_equal(r.len[2], 4096);
	assert_int_equal(r.off[3], 15 * 4096);
	assert_int_equal(r.len[3], 3 * 4096);
	assert_int_equal(r.off[4], 7 * 4096);
	assert_int_equal(r.off[5], 7 * 4096);
	assert_int_equal(r.len[5], 4096);
	/* A flush with nothing pending calls nothing. */
	balloon_coalesce_flush(&c);
	assert_int_equal(r.n, 6);
}

static void test_coalesce_across_calls(void **state)
{
	struct runs r = { 0 };
	struct balloon_coalescer c = { .fn = collect, .ctx = &r };

	(void)state;
	balloon_coalesce_add(&c, 8192, 4096);
	balloon_coalesce_add(&c, 12288, 0);     /* empty: ignored */
	balloon_coalesce_add(&c, 12288, 8192);
	balloon_coalesce_add(&c, UINT64_MAX - 4095, 4096);
	balloon_coalesce_add(&c, 0, 4096);      /* would wrap: not joined */
	balloon_coalesce_flush(&c);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.off[0], 8192);
	assert_int_equal(r.len[0], 12288);
	assert_int_equal(r.off[1], UINT64_MAX - 4095);
	assert_int_equal(r.off[2], 0);
}

static void test_trim(void **state)
{
	uint64_t off, len;

	(void)state;
	off = 4096, len = 8192;
	assert_true(balloon_trim(&off, &len, 4096));
	assert_int_equal(off, 4096);
	assert_int_equal(len, 8192);
	off = 100, len = 3 * 4096;              /* [100, 12388): pages 1 and 2 */
	assert_true(balloon_trim(&off, &len, 4096));
	assert_int_equal(off, 4096);
	assert_int_equal(len, 8192);
	off = 100, len = 4096;                  /* no whole page */
	assert_false(balloon_trim(&off, &len, 4096));
	off = 4096, len = 2 << 20;              /* 2 MiB not aligned to 2 MiB */
	assert_false(balloon_trim(&off, &len, 2 << 20));
	off = (2 << 20) - 4096, len = (4 << 20) + 4096; /* [2 MiB - 4 KiB, 6 MiB) */
	assert_true(balloon_trim(&off, &len, 2 << 20));
	assert_int_equal(off, 2 << 20);
	assert_int_equal(len, 4 << 20);
	off = (2 << 20) - 4096, len = (4 << 20);        /* [2 MiB - 4 KiB, 6 MiB - 4 KiB) */
	assert_true(balloon_trim(&off, &len, 2 << 20));
	assert_int_equal(off, 2 << 20);
	assert_int_equal(len, 2 << 20);
	off = UINT64_MAX - 10, len = 20;        /* overflows */
	assert_false(balloon_trim(&off, &len, 4096));
	off = UINT64_MAX - 4094, len = 4000;    /* rounding up wraps */
	assert_false(balloon_trim(&off, &len, 4096));
}

static bool resident(const struct gmem *m, uint64_t off)
{
	unsigned char v = 0;

	assert_int_equal(mincore(m->host + off, 4096, &v), 0);
	return v & 1;
}

static void test_punch_releases(void **state)
{
	struct gmem m;
	uint64_t released = 0;

	(void)state;
	assert_int_equal(gmem_init(&m, 8 << 20, 0), 0);
	memset(m.host, 0xa5, 8 << 20);
	assert_true(resident(&m, 4096));
	/* Pages 1-3 and a part of page 4: only the whole pages go. */
	assert_int_equal(balloon_punch(&m, false, 4096, 3 * 4096 + 100, &released), 0);
	assert_int_equal(released, 3 * 4096);
	assert_false(resident(&m, 4096));
	assert_false(resident(&m, 3 * 4096));
	assert_true(resident(&m, 0));
	assert_true(resident(&m, 4 * 4096));
	assert_int_equal(m.host[4096], 0);      /* refaults as zero */
	assert_int_equal(m.host[4 * 4096], 0xa5);
	assert_int_equal(m.host[4096 - 1], 0xa5);
	/* Huge pages: 1 MiB releases nothing, [1 MiB, 5 MiB) releases [2, 4) MiB. */
	released = 0;
	assert_int_equal(balloon_punch(&m, true, 0, 1 << 20, &released), 0);
	assert_int_equal(released, 0);
	assert_int_equal(balloon_punch(&m, true, 1 << 20, 4 << 20, &released), 0);
	assert_int_equal(released, 2 << 20);
	assert_int_equal(m.host[(2 << 20) + 5], 0);
	assert_int_equal(m.host[(4 << 20) + 5], 0xa5);
	/* A range outside the mapping is an error, not a crash. */
	assert_int_equal(balloon_punch(&m, false, 8 << 20, 4096, &released), -EINVAL);
	assert_int_equal(balloon_punch(&m, false, UINT64_MAX - 8191, 4096, &released), -EINVAL);
	gmem_destroy(&m);
}

/* Restored RAM (a private mapping, no memfd): MADV_DONTNEED; released pages are marked dirty. */
static void test_punch_private_mapping(void **state)
{
	struct gmem m;
	uint64_t released = 0, bitmap[1] = { 0 };

	(void)state;
	assert_int_equal(gmem_init_private(&m, 256 << 10, -1), 0);
	assert_int_equal(m.fd, -1);
	assert_int_equal(gmem_track_dirty(&m, true), 0);
	memset(m.host, 0xa5, 256 << 10);
	assert_int_equal(balloon_punch(&m, false, 4096, 2 * 4096 + 10, &released), 0);
	assert_int_equal(released, 2 * 4096);
	assert_int_equal(m.host[4096], 0);              /* anonymous: refaults as zero */
	assert_int_equal(m.host[2 * 4096 + 7], 0);
	assert_int_equal(m.host[3 * 4096], 0xa5);
	assert_int_equal(m.host[4095], 0xa5);
	gmem_take_dirty(&m, bitmap);
	assert_int_equal(bitmap[0], 0x6);               /* pages 1 and 2 */
	gmem_destroy(&m);
}

static size_t put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	p[0] = (uint8_t)tag;
	p[1] = (uint8_t)(tag >> 8);
	for (unsigned i = 0; i < 8; i++)
		p[2 + i] = (uint8_t)(val >> (8 * i));
	return 10;
}

static void test_parse_stats(void **state)
{
	uint8_t buf[128];
	size_t n = 0;
	struct balloon_stats s;

	(void)state;
	memset(&s, 0, sizeof(s));
	n += put_stat(buf + n, BALLOON_STAT_MEMFREE, 100ull << 20);
	n += put_stat(buf + n, BALLOON_STAT_MEMTOT, 256ull << 20);
	n += put_stat(buf + n, 0xffff, 7);      /* unknown: skipped */
	n += put_stat(buf + n, 15, 9);          /* the last tag kept */
	n += put_stat(buf + n, BALLOON_STAT_MEMFREE, 99ull << 20);      /* repeated: last wins */
	buf[n++] = 0x05;                        /* a partial entry */
	buf[n++] = 0x00;
	assert_int_equal(balloon_parse_stats(buf, n, &s), 5);
	assert_int_equal(s.present, (1u << BALLOON_STAT_MEMFREE) | (1u << BALLOON_STAT_MEMTOT) |
				    (1u << 15));
	assert_int_equal(s.val[BALLOON_STAT_MEMFREE], 99ull << 20);
	assert_int_equal(s.val[BALLOON_STAT_MEMTOT], 256ull << 20);
	assert_int_equal(s.val[15], 9);
	/* The next buffer replaces the last one whole. */
	n = put_stat(buf, BALLOON_STAT_SWAP_IN, 1);
	assert_int_equal(balloon_parse_stats(buf, n, &s), 1);
	assert_int_equal(s.present, 1u << BALLOON_STAT_SWAP_IN);
	assert_int_equal(s.val[BALLOON_STAT_MEMTOT], 0);
	/* Empty and too short buffers. */
	assert_int_equal(balloon_parse_stats(buf, 0, &s), 0);
	assert_int_equal(balloon_parse_stats(buf, 9, &s), 0);
	assert_int_equal(s.present, 0);
	assert_string_equal(balloon_stat_name(BALLOON_STAT_MEMFREE), "free_memory");
	assert_null(balloon_stat_name(12));
	assert_null(balloon_stat_name(99));
}

/* A new interval for a balloon with statistics; none can be turned on or off. */
static void test_stats_interval(void **state)
{
	struct balloon *on = balloon_detached_create(64, 5), *off = balloon_detached_create(64, 0);
	struct balloon_stats s;

	(void)state;
	assert_non_null(on);
	assert_non_null(off);
	balloon_stats(on, &s);
	assert_int_equal(s.stats_interval_s, 5);
	assert_int_equal(balloon_set_stats_interval(on, 1), 0);
	balloon_stats(on, &s);
	assert_int_equal(s.stats_interval_s, 1);
	assert_int_equal(balloon_set_stats_interval(on, 1), 0);
	assert_int_equal(balloon_set_stats_interval(on, 0), -EINVAL);
	assert_int_equal(balloon_set_stats_interval(on, (uint64_t)INT32_MAX + 1), -EINVAL);
	balloon_stats(on, &s);
	assert_int_equal(s.stats_interval_s, 1);
	assert_int_equal(balloon_set_stats_interval(off, 3), -EINVAL);
	balloon_stats(off, &s);
	assert_int_equal(s.stats_interval_s, 0);
	balloon_detached_destroy(on);
	balloon_detached_destroy(off);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queue_roles),
		cmocka_unit_test(test_pfns_coalesced),
		cmocka_unit_test(test_coalesce_across_calls),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_punch_releases),
		cmocka_unit_test(test_punch_private_mapping),
		cmocka_unit_test(test_parse_stats),
		cmocka_unit_test(test_stats_interval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
