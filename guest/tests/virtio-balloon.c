/*
 * virtio-balloon: the traditional memory balloon (virtio 1.2 §5.5).
 * Reads num_pages/actual (waiting up to wait_ms for the host to ask for
 * pages); inflates by num_pages pages from page_alloc (filled with a
 * pattern first; their content is undefined afterwards), sets actual,
 * deflates some of them, sets actual again and reuses them. With
 * VIRTIO_BALLOON_F_STATS_VQ it keeps a stats buffer (total and free
 * memory) in the stats queue and answers every request the device makes;
 * with VIRTIO_BALLOON_F_PAGE_REPORTING it reports a few free pages.
 *
 *   wait_ms=N       wait up to N ms for num_pages > 0 (default 0: take it as it is)
 *   pages=N         num_pages must be N (waits for it when wait_ms is given)
 *   deflate=N       pages to deflate after inflating (default half of them)
 *   stats=N         wait (up to stats_wait_ms, default 10000) until N stats requests were answered
 *   report=N        pages to report free with PAGE_REPORTING (default 8; 0: none)
 *   poll=1, event_idx=0|1, indirect=0|1   as for virtio-rng
 *
 * Queue numbers: inflateq 0, deflateq 1, then statsq if STATS_VQ is
 * negotiated, then reporting_vq if PAGE_REPORTING is: numbered in order of
 * the queues that exist (FREE_PAGE_HINT is never negotiated), as Linux does.
 */
#include "guest.h"
#include "virtio.h"

#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ       1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_PAGE_REPORTING 5
#define VIRTIO_BALLOON_CFG_NUM_PAGES    0
#define VIRTIO_BALLOON_CFG_ACTUAL       4
#define VIRTIO_BALLOON_S_MEMFREE        4
#define VIRTIO_BALLOON_S_MEMTOT         5
#define VIRTIO_BALLOON_S_AVAIL          6

#define BALLOON_VECTOR 0x40
#define PFNS_PER_BUF   256
#define TIMEOUT_MS     10000
#define PAGE           4096

struct balloon_stat {
	uint16_t tag;
	uint64_t val;
} __attribute__((packed));

static struct virtio_dev *dev;
static struct virtq *inflateq, *deflateq, *statsq, *reportq;
static struct balloon_stat stats[3];
static unsigned stats_answered;
static uint32_t actual;
static uint32_t *pfns;                  /* PFN arrays, PFNS_PER_BUF per buffer */

static uint64_t free_estimate(void)
{
	uint64_t used = (uint64_t)(uintptr_t)__image_end - (uint64_t)(uintptr_t)__image_start;

	return memmap_ram_bytes() - used - (uint64_t)actual * PAGE;
}

static void stats_fill(void)
{
	stats[0] = (struct balloon_stat){ VIRTIO_BALLOON_S_MEMTOT, memmap_ram_bytes() };
	stats[1] = (struct balloon_stat){ VIRTIO_BALLOON_S_MEMFREE, free_estimate() };
	stats[2] = (struct balloon_stat){ VIRTIO_BALLOON_S_AVAIL, free_estimate() };
}

static void stats_offer(void)
{
	struct virtq_seg s = { (uint64_t)(uintptr_t)stats, sizeof(stats), false };

	stats_fill();
	GUEST_ASSERT(virtq_add(statsq, &s, 1, false, stats) >= 0);
}

/* §5.5.6.3: the device used the stats buffer to ask for fresh numbers. */
static void stats_service(void)
{
	if (!statsq)
		return;
	while (virtq_get_used(statsq, NULL, NULL) >= 0) {
		stats_offer();
		virtq_kick(statsq);
		stats_answered++;
	}
}

/* Wait for one used buffer of (vq), answering stats requests meanwhile. */
static void wait_used(struct virtq *vq)
{
	uint64_t end = virtio_ms() + TIMEOUT_MS;

	while (!virtq_has_used(vq)) {
		stats_service();
		GUEST_ASSERT(virtio_ms() < end);
		virtq_wait(vq, VIRTIO_TICK_MS);
	}
	GUEST_ASSERT(virtq_get_used(vq, NULL, NULL) >= 0);
}

/* Put the PFNs of (n) pages from (first) on (vq), PFNS_PER_BUF per buffer, and wait for all. */
static void send_pfns(struct virtq *vq, uint8_t *first, uint32_t n)
{
	uint32_t bufs = (n + PFNS_PER_BUF - 1) / PFNS_PER_BUF, sent = 0;

	for (uint32_t i = 0; i < n; i++)
		pfns[i] = (uint32_t)(((uint64_t)(uintptr_t)first + (uint64_t)i * PAGE) >> 12);
	for (uint32_t b = 0; b < bufs; b++) {
		uint32_t c = n - sent < PFNS_PER_BUF ? n - sent : PFNS_PER_BUF;
		struct virtq_seg s = { (uint64_t)(uintptr_t)&pfns[sent], c * 4, false };

		while (virtq_add(vq, &s, 1, false, NULL) == VIRTQ_EFULL) {
			virtq_kick(vq);
			wait_used(vq);
			bufs--;
		}
		sent += c;
	}
	virtq_kick(vq);
	for (uint32_t b = 0; b < bufs; b++)
		wait_used(vq);
}

static uint32_t read_num_pages(void)
{
	return virtio_cfg_read32(dev, VIRTIO_BALLOON_CFG_NUM_PAGES);
}

/* Wait up to wait_ms for num_pages > 0 (or = pages= when given). */
static uint32_t wait_target(void)
{
	uint64_t wait = cmdline_get_u64("wait_ms", 0), end = virtio_ms() + wait;
	bool exact = cmdline_has("pages");
	uint32_t want = (uint32_t)cmdline_get_u64("pages", 0), n;

	for (;;) {
		n = read_num_pages();
		if (exact ? n == want : n > 0)
			break;
		if (virtio_ms() >= end)
			break;
		stats_service();
		virtio_idle();
	}
	printf("virtio-balloon: num_pages %u, actual %u, %u config interrupts\n", n,
	       virtio_cfg_read32(dev, VIRTIO_BALLOON_CFG_ACTUAL), dev->config_irqs);
	if (exact)
		GUEST_ASSERT_EQ(n, want);
	return n;
}

/* Each word of (n) pages at (p) := (seed) ^ its address. */
static void fill_pages(uint8_t *p, uint32_t n, uint64_t seed)
{
	uint64_t *w = (uint64_t *)p;

	for (uint64_t i = 0; i < (uint64_t)n * PAGE / 8; i++)
		w[i] = seed ^ (uint64_t)(uintptr_t)&w[i];
}

static bool pages_hold(const uint8_t *p, uint32_t n, uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)p;

	for (uint64_t i = 0; i < (uint64_t)n * PAGE / 8; i++) {
		if (w[i] != (seed ^ (uint64_t)(uintptr_t)&w[i]))
			return false;
	}
	return true;
}

static void inflate_deflate(uint32_t n)
{
	uint32_t nd = (uint32_t)cmdline_get_u64("deflate", n / 2);
	uint8_t *pages = page_alloc(n);
	bool kept;

	GUEST_ASSERT(pages != NULL);
	GUEST_ASSERT(nd <= n);
	pfns = page_alloc((n * 4 + PAGE - 1) / PAGE);
	GUEST_ASSERT(pfns != NULL);
	fill_pages(pages, n, 0x5a5a000000000000ULL);
	send_pfns(inflateq, pages, n);
	actual = n;
	virtio_cfg_write32(dev, VIRTIO_BALLOON_CFG_ACTUAL, actual);
	kept = pages_hold(pages + (uint64_t)(n - nd) * PAGE, nd, 0x5a5a000000000000ULL);
	printf("virtio-balloon: inflated %u pages at %#llx, actual %u\n", n,
	       (unsigned long long)(uintptr_t)pages,
	       virtio_cfg_read32(dev, VIRTIO_BALLOON_CFG_ACTUAL));
	GUEST_ASSERT_EQ(virtio_cfg_read32(dev, VIRTIO_BALLOON_CFG_ACTUAL), n);

	/* Deflate the last nd pages, reused only after the device acknowledged (MUST_TELL_HOST). */
	uint8_t *back = pages + (uint64_t)(n - nd) * PAGE;
	if (nd)
		send_pfns(deflateq, back, nd);
	actual = n - nd;
	virtio_cfg_write32(dev, VIRTIO_BALLOON_CFG_ACTUAL, actual);
	fill_pages(back, nd, 0xa5a5000000000000ULL);
	GUEST_ASSERT(pages_hold(back, nd, 0xa5a5000000000000ULL));
	printf("virtio-balloon: deflated %u pages, actual %u, reused them "
	       "(content before reuse: %s)\n", nd,
	       virtio_cfg_read32(dev, VIRTIO_BALLOON_CFG_ACTUAL), kept ? "kept" : "changed");
	GUEST_ASSERT_EQ(virtio_cfg_read32(dev, VIRTIO_BALLOON_CFG_ACTUAL), n - nd);
}

/* §5.5.6.6: report (n) free pages: half as one contiguous segment, the rest one page each. */
static void report_pages(uint32_t n)
{
	struct virtq_seg segs[64];
	uint32_t big = n / 2, k = 0;
	uint8_t *p = page_alloc(n);

	GUEST_ASSERT(p != NULL && n - big + 1 <= ARRAY_SIZE(segs));
	if (big)
		segs[k++] = (struct virtq_seg){ (uint64_t)(uintptr_t)p, big * PAGE, true };
	for (uint32_t i = big; i < n; i++)
		segs[k++] = (struct virtq_seg){ (uint64_t)(uintptr_t)p + (uint64_t)i * PAGE, PAGE,
						true };
	GUEST_ASSERT(virtq_add(reportq, segs, k, reportq->indirect, NULL) >= 0);
	virtq_kick(reportq);
	wait_used(reportq);
	fill_pages(p, n, 0x1111000000000000ULL);
	GUEST_ASSERT(pages_hold(p, n, 0x1111000000000000ULL));
	printf("virtio-balloon: reported %u free pages in %u segments, reused them\n", n, k);
}

int guest_main(void)
{
	bool poll = cmdline_flag("poll");
	uint64_t want = VIRTIO_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST) |
			VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) |
			VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
			VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING);
	uint32_t report = (uint32_t)cmdline_get_u64("report", 8), n;
	unsigned nq = 2, req, kicks, used;

	if (cmdline_get_u64("event_idx", 1))
		want |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (cmdline_get_u64("indirect", 1))
		want |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	virtio_probe();
	dev = virtio_find(VIRTIO_ID_BALLOON, 0);
	GUEST_ASSERT(dev != NULL);
	GUEST_ASSERT_EQ(dev->version, 2);
	GUEST_ASSERT_EQ(virtio_negotiate(dev, want), 0);
	inflateq = virtq_setup(dev, 0, 64);
	deflateq = virtq_setup(dev, 1, 64);
	GUEST_ASSERT(inflateq && deflateq);
	if (virtio_has(dev, VIRTIO_BALLOON_F_STATS_VQ)) {
		statsq = virtq_setup(dev, nq++, 4);
		GUEST_ASSERT(statsq != NULL);
		stats_offer();          /* §5.5.5: one buffer before DRIVER_OK, notified after */
	}
	if (virtio_has(dev, VIRTIO_BALLOON_F_PAGE_REPORTING)) {
		reportq = virtq_setup(dev, nq++, 16);
		GUEST_ASSERT(reportq != NULL);
	}
	if (!poll)
		virtio_irq_enable(dev, BALLOON_VECTOR);
	virtio_driver_ok(dev);
	sti();
	if (statsq)
		virtq_kick(statsq);
	printf("virtio-balloon: features offered %#llx, negotiated %#llx: stats %s, "
	       "page reporting %s, must tell host %s\n", (unsigned long long)dev->offered,
	       (unsigned long long)dev->features, statsq ? "on" : "off", reportq ? "on" : "off",
	       virtio_has(dev, VIRTIO_BALLOON_F_MUST_TELL_HOST) ? "on" : "off");

	n = wait_target();
	if (n > 0)
		inflate_deflate(n);
	else
		puts("virtio-balloon: no pages requested");

	if (statsq) {
		unsigned want_stats = (unsigned)cmdline_get_u64("stats", 0);
		uint64_t end = virtio_ms() + cmdline_get_u64("stats_wait_ms", TIMEOUT_MS);

		while (stats_answered < want_stats && virtio_ms() < end) {
			stats_service();
			virtq_wait(statsq, VIRTIO_TICK_MS);
		}
		stats_service();
		printf("virtio-balloon: answered %u stats requests "
		       "(total %llu bytes, free %llu bytes)\n", stats_answered,
		       (unsigned long long)stats[0].val, (unsigned long long)stats[1].val);
		GUEST_ASSERT(stats_answered >= want_stats);
	}
	if (reportq && report)
		report_pages(report);

	used = inflateq->used_count + deflateq->used_count + (statsq ? statsq->used_count : 0) +
	       (reportq ? reportq->used_count : 0);
	if (!poll && used)
		GUEST_ASSERT(virtio_wait_irqs(dev, 1, TIMEOUT_MS));
	cli();
	req = inflateq->added + deflateq->added + (statsq ? statsq->added : 0) +
	      (reportq ? reportq->added : 0);
	kicks = inflateq->kicks + deflateq->kicks + (statsq ? statsq->kicks : 0) +
		(reportq ? reportq->kicks : 0);
	printf("virtio-balloon: %u requests, %u kicks, %u interrupts\n", req, kicks, dev->irqs);
	if (poll)
		GUEST_ASSERT_EQ(dev->irqs, 0);
	puts("virtio-balloon: all checks passed");
	return 0;
}
