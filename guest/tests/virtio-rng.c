/*
 * virtio-rng: the entropy device (virtio 1.2 §5.4) fills 4 device-writable
 * buffers of 64 bytes: two one at a time, then two made available together
 * with a single kick, the last one as a 2-segment chain (an indirect one
 * when VIRTIO_F_INDIRECT_DESC is negotiated). Every used length must be in
 * [1, 64], no buffer may be all zeros, and buffers 0 and 1 must differ.
 *
 *   poll=1          poll the used ring instead of taking interrupts
 *   event_idx=0|1   negotiate VIRTIO_F_EVENT_IDX if offered (default 1)
 *   indirect=0|1    negotiate VIRTIO_F_INDIRECT_DESC if offered (default 1)
 */
#include "guest.h"
#include "virtio.h"

#define RNG_VECTOR 0x40
#define NBUF       4
#define BUF_LEN    64
#define TIMEOUT_MS 5000

static uint8_t bufs[NBUF][BUF_LEN] __attribute__((aligned(64)));

/* Wait for and take one used buffer; returns its index in bufs, stores its length. */
static unsigned take_used(struct virtq *vq, uint32_t *lens)
{
	void *cookie;
	uint32_t len;
	unsigned i;

	GUEST_ASSERT(virtq_wait(vq, TIMEOUT_MS));
	GUEST_ASSERT(virtq_get_used(vq, &len, &cookie) >= 0);
	i = (unsigned)(uintptr_t)cookie;
	GUEST_ASSERT(i < NBUF);
	lens[i] = len;
	return i;
}

static void check_buffer(unsigned i, uint32_t len)
{
	bool nonzero = false;

	printf("virtio-rng: buffer %u: %u bytes: %02x %02x %02x %02x ...\n", i, len, bufs[i][0],
	       bufs[i][1], bufs[i][2], bufs[i][3]);
	GUEST_ASSERT(len > 0 && len <= BUF_LEN);
	for (uint32_t k = 0; k < len; k++)
		nonzero |= bufs[i][k] != 0;
	GUEST_ASSERT(nonzero);
}

int guest_main(void)
{
	bool poll = cmdline_flag("poll");
	uint64_t want = 0;
	uint32_t lens[NBUF] = { 0 };
	struct virtio_dev *d;
	struct virtq *vq;
	bool kicked[3], ind;

	if (cmdline_get_u64("event_idx", 1))
		want |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (cmdline_get_u64("indirect", 1))
		want |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	virtio_probe();
	d = virtio_find(VIRTIO_ID_RNG, 0);
	GUEST_ASSERT(d != NULL);
	GUEST_ASSERT_EQ(d->version, 2);
	GUEST_ASSERT_EQ(virtio_negotiate(d, want), 0);
	vq = virtq_setup(d, 0, 64);
	GUEST_ASSERT(vq != NULL);
	if (!poll)
		virtio_irq_enable(d, RNG_VECTOR);
	virtio_driver_ok(d);
	sti();          /* interrupts are taken as they come, also between requests */
	ind = virtio_has(d, VIRTIO_F_INDIRECT_DESC);
	printf("virtio-rng: features offered %#llx, negotiated %#llx: event_idx %s, indirect %s\n",
	       (unsigned long long)d->offered, (unsigned long long)d->features,
	       virtio_has(d, VIRTIO_F_EVENT_IDX) ? "on" : "off", ind ? "on" : "off");
	printf("virtio-rng: queue size %u, mode %s\n", vq->num,
	       poll ? "polled" : "interrupt");

	/* Two single requests, one kick each. */
	for (unsigned i = 0; i < 2; i++) {
		struct virtq_seg s = { (uint64_t)(uintptr_t)bufs[i], BUF_LEN, true };

		GUEST_ASSERT(virtq_add(vq, &s, 1, false, (void *)(uintptr_t)i) >= 0);
		kicked[i] = virtq_kick(vq);
		GUEST_ASSERT_EQ(take_used(vq, lens), i);
		printf("virtio-rng: request %u: %s\n", i, kicked[i] ? "kick" : "no kick needed");
	}

	/* Two together: one plain buffer and one 2-segment chain (indirect if negotiated). */
	struct virtq_seg s2 = { (uint64_t)(uintptr_t)bufs[2], BUF_LEN, true };
	struct virtq_seg s3[2] = {
		{ (uint64_t)(uintptr_t)bufs[3], BUF_LEN / 2, true },
		{ (uint64_t)(uintptr_t)bufs[3] + BUF_LEN / 2, BUF_LEN / 2, true },
	};
	GUEST_ASSERT(virtq_add(vq, &s2, 1, false, (void *)2) >= 0);
	GUEST_ASSERT(virtq_add(vq, s3, 2, ind, (void *)3) >= 0);
	kicked[2] = virtq_kick(vq);
	take_used(vq, lens);
	take_used(vq, lens);
	printf("virtio-rng: requests 2 and 3 (%s chain) together: %s\n",
	       ind ? "indirect" : "direct", kicked[2] ? "one kick" : "no kick needed");

	for (unsigned i = 0; i < NBUF; i++)
		check_buffer(i, lens[i]);
	uint32_t common = lens[0] < lens[1] ? lens[0] : lens[1];
	GUEST_ASSERT(memcmp(bufs[0], bufs[1], common) != 0);
	GUEST_ASSERT_EQ(vq->nr_free, vq->num);

	/* The last interrupt may still be on its way when the used ring shows the buffer. */
	if (!poll)
		GUEST_ASSERT(virtio_wait_irqs(d, 1, TIMEOUT_MS));
	cli();
	printf("virtio-rng: %u requests, %u kicks, %u interrupts\n", vq->added, vq->kicks, d->irqs);
	if (poll)
		GUEST_ASSERT_EQ(d->irqs, 0);
	else
		GUEST_ASSERT(d->used_irqs > 0);
	puts("virtio-rng: all checks passed");
	return 0;
}
