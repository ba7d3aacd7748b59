/*
 * The guest side of bench/blk: reads through virtio-blk with several
 * requests in flight and reports how long it took by the guest's clock and
 * how often it had to notify the device. Meant to be cheap per request
 * (ring-0 guest code may be instruction-emulated on some hosts): large
 * requests, EVENT_IDX, one indirect descriptor per request, interrupts.
 *
 *   mode=seq       read the disk front to back in req_kib requests (default)
 *   mode=rand      count random 4 KiB reads
 *   req_kib=N      sequential request size (default 512, at most 1024)
 *   depth=N        requests in flight (default 8, at most 32)
 *   count=N        random reads (default 20000)
 *   mib=N          sequential bytes to read (default: the whole disk)
 *   poll=1         poll instead of taking interrupts
 *   event_idx=0|1, indirect=0|1   negotiate those features (default 1)
 *
 * Prints "blkbench: <mode>: B bytes in R requests, T ms, K kicks, I interrupts".
 */
#include "guest.h"
#include "virtio.h"
#include "virtio_blk.h"

#define BENCH_VECTOR 0x41
#define MAX_DEPTH 32

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t next_rand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

int guest_main(void)
{
	const char *mode = cmdline_get("mode");
	bool rand = mode && strcmp(mode, "rand") == 0;
	uint64_t req = (rand ? 4 : cmdline_get_u64("req_kib", 512)) * 1024;
	uint64_t depth = cmdline_get_u64("depth", 8);
	uint64_t want = VBLK_FEATURES;
	int slots[MAX_DEPTH];
	uint8_t *bufs;
	uint64_t total, nreq, done = 0, submitted = 0, t0, t1, bytes = 0;
	struct virtio_dev *d;
	struct vblk b;

	if (cmdline_get_u64("event_idx", 1))
		want |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (cmdline_get_u64("indirect", 1))
		want |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	GUEST_ASSERT(req >= 512 && req <= 1024 * 1024 && req % 512 == 0);
	GUEST_ASSERT(depth >= 1 && depth <= MAX_DEPTH);
	virtio_probe();
	d = virtio_find(VIRTIO_ID_BLOCK, 0);
	GUEST_ASSERT(d != NULL);
	GUEST_ASSERT_EQ(vblk_init(&b, d, want, cmdline_flag("poll") ? 0 : BENCH_VECTOR, 256), 0);
	bufs = page_alloc(depth * req / 4096);
	GUEST_ASSERT(bufs != NULL);
	if (rand) {
		nreq = cmdline_get_u64("count", 20000);
	} else {
		total = cmdline_get_u64("mib", 0) << 20;
		if (total == 0 || total > b.capacity * 512)
			total = b.capacity * 512;
		nreq = total / req;
	}
	GUEST_ASSERT(nreq > 0 && b.capacity * 512 >= req);

	t0 = virtio_ms();
	while (done < nreq) {
		/* Fill the pipeline, then notify once for the whole batch. */
		while (submitted < nreq && submitted - done < depth) {
			unsigned i = (unsigned)(submitted % depth);
			uint64_t sector = rand ? (next_rand() % (b.capacity / 8)) * 8 : submitted * (req / 512);
			struct virtq_seg seg = { (uint64_t)(uintptr_t)(bufs + i * req), (uint32_t)req, true };

			slots[i] = vblk_submit(&b, VIRTIO_BLK_T_IN, sector, &seg, 1, 0, 0, 0);
			GUEST_ASSERT(slots[i] >= 0);
			submitted++;
		}
		vblk_kick(&b);
		/* Oldest first: completing it reaps whatever else finished. */
		{
			unsigned i = (unsigned)(done % depth);
			uint32_t len;

			GUEST_ASSERT_EQ(vblk_complete(&b, slots[i], &len), VIRTIO_BLK_S_OK);
			GUEST_ASSERT_EQ(len, req + 1);
			bytes += req;
			done++;
		}
	}
	t1 = virtio_ms();
	printf("blkbench: %s: %llu bytes in %llu requests, %llu ms, %u kicks, %u interrupts\n",
	       rand ? "rand" : "seq", (unsigned long long)bytes, (unsigned long long)nreq,
	       (unsigned long long)(t1 - t0), b.vq->kicks, d->irqs);
	return 0;
}
