/*
 * The virtio-mmio transport's snapshot state (virtio_quiesce, virtio_save,
 * virtio_restore) without KVM: a device whose transport fields are set as a
 * driver would leave them, over real guest RAM (a memfd), saved into a
 * state file and restored into a fresh device. Checks that every field and
 * every ring index comes back without the rings being touched, that a live
 * device is re-activated and its ready queues kicked once, that a failed one
 * stays failed, and that other devices, missing features and hostile,
 * truncated or inconsistent state are refused with -EINVAL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "state_fixture.h"
#include "virtio/mmio.h"
#include "vmm/vm.h"

#define RAM_SIZE   (1u << 20)
#define Q0_DESC    0x10000ull
#define Q0_AVAIL   0x11000ull
#define Q0_USED    0x12000ull
#define Q1_DESC    0x20000ull
#define DEV_MAGIC  0x5eed0001u
#define F_DEVICE   (VIRTIO_BIT(5) | VIRTIO_BIT(9))

/* Offsets in the saved transport state (mmio.c's layout). */
enum {
	OFF_DEVICE_ID = 0, OFF_NQUEUES = 4, OFF_OFFERED = 8, OFF_STATUS = 16,
	OFF_DRIVER_FEATURES = 28, OFF_ISR = 44, OFF_CONFIG_SIZE = 48, OFF_CONFIG = 52,
	OFF_Q0 = OFF_CONFIG + 16, Q_SIZE = 0, Q_FLAGS = 4, Q_DESC = 8, Q_LAST_AVAIL = 32,
	Q_USED_IDX = 36, Q_BYTES = 44,
};

static struct vm vm;
static unsigned activations, quiesces, restores, activations_at_restore;
static bool fail_activate;

static int t_activate(struct virtio_dev *d)
{
	(void)d;
	activations++;
	return fail_activate ? -EIO : 0;
}

static void t_notify(struct virtio_dev *d, unsigned q)
{
	(void)d;
	(void)q;
}

static void t_config_write(struct virtio_dev *d, uint32_t off, uint32_t len)
{
	(void)d;
	(void)off;
	(void)len;
}

static int t_quiesce(struct virtio_dev *d, struct err *e)
{
	(void)d;
	(void)e;
	quiesces++;
	return 0;
}

static int t_save(struct virtio_dev *d, struct snap_writer *w, struct err *e)
{
	(void)d;
	(void)e;
	snap_put_u32(w, DEV_MAGIC);
	return 0;
}

static int t_restore(struct virtio_dev *d, struct snap_cursor *c, struct err *e)
{
	uint32_t v = snap_get_u32(c);

	restores++;
	activations_at_restore = activations;
	if (c->error || v != DEV_MAGIC)
		return errf(e, -EINVAL, "%s: device state malformed", d->name);
	return 0;
}

static const struct virtio_ops t_ops = {
	.kind = "test", .device_id = VIRTIO_ID_BLOCK, .nqueues = 2, .queue_max = 64,
	.activate = t_activate, .notify = t_notify, .config_write = t_config_write,
	.quiesce = t_quiesce, .save = t_save, .restore = t_restore,
};

static const struct virtio_ops t_ops_net = {
	.kind = "test-net", .device_id = VIRTIO_ID_NET, .nqueues = 2, .queue_max = 64,
	.notify = t_notify,
};

/* A device as virtio_mmio_create() leaves it, minus the KVM wiring. */
struct tdev {
	struct virtio_dev d;
	uint8_t config[16];
};

static struct tdev *tdev_new(const struct virtio_ops *ops, uint64_t features)
{
	struct tdev *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->d.ops = ops;
	t->d.priv = t;
	strcpy(t->d.name, "test-dev");
	t->d.features = features;
	t->d.config = t->config;
	t->d.config_size = sizeof(t->config);
	t->d.vm = &vm;
	pthread_mutex_init(&t->d.lock, NULL);
	t->d.irq_fd = eventfd(0, EFD_NONBLOCK);
	assert_true(t->d.irq_fd >= 0);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		t->d.kick_fd[i] = i < ops->nqueues ? eventfd(0, EFD_NONBLOCK) : -1;
	return t;
}

static void tdev_free(struct tdev *t)
{
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (t->d.kick_fd[i] >= 0)
			close(t->d.kick_fd[i]);
	close(t->d.irq_fd);
	pthread_mutex_destroy(&t->d.lock);
	free(t);
}

/* How many kicks wait on queue (q)'s eventfd (consumed). */
static uint64_t kicks(struct tdev *t, unsigned q)
{
	uint64_t n = 0;

	if (read(t->d.kick_fd[q], &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* A driver that negotiated, set up queue 0 (used some of it) and laid out queue 1. */
static void drive(struct tdev *t)
{
	struct virtio_dev *d = &t->d;
	struct virtq *q = &d->vq[0];

	d->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		    VIRTIO_STATUS_DRIVER_OK;
	d->driver_features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
			     VIRTIO_BIT(9);
	d->device_features_sel = 1;
	d->driver_features_sel = 1;
	d->queue_sel = 1;
	d->config_generation = 3;
	atomic_store(&d->isr, VIRTIO_INT_USED);
	for (unsigned i = 0; i < sizeof(t->config); i++)
		t->config[i] = (uint8_t)(0xa0 + i);
	q->size = 16;
	q->desc_gpa = Q0_DESC;
	q->avail_gpa = Q0_AVAIL;
	q->used_gpa = Q0_USED;
	assert_int_equal(vq_activate(q, &vm.mem, true, false), 0);
	q->ready = true;
	q->last_avail = 5;
	q->used_idx = 4;
	q->signalled_used = 3;
	q->signalled_valid = true;
	d->vq[1].size = 8;
	d->vq[1].desc_gpa = Q1_DESC;
	/* What the guest's rings say: the device's used index is in guest memory. */
	((uint16_t *)gmem_ptr(&vm.mem, Q0_USED, 4))[1] = 4;
}

static int save_dev(void *ctx, struct snap_writer *w, struct err *e)
{
	return virtio_save(ctx, w, e);
}

/* The saved state of a driven device. */
static uint8_t *saved(size_t *len)
{
	struct tdev *t = tdev_new(&t_ops, F_DEVICE);
	uint8_t *p;

	drive(t);
	p = state_fixture_payload(save_dev, &t->d, len);
	tdev_free(t);
	return p;
}

/* Restore (len) bytes of (p) into a fresh device of (ops, features); the result and (e). */
static int restore_into(const struct virtio_ops *ops, uint64_t features, const uint8_t *p,
			size_t len, struct err *e)
{
	struct tdev *t = tdev_new(ops, features);
	struct snap_cursor c = state_fixture_cursor(p, len);
	int r = virtio_restore(&t->d, &c, e);

	if (r == 0)
		r = snap_cursor_done(&c, "test", e);
	tdev_free(t);
	return r;
}

static int setup(void **state)
{
	(void)state;
	memset(&vm, 0, sizeof(vm));
	assert_int_equal(gmem_init(&vm.mem, RAM_SIZE, 0), 0);
	activations = quiesces = restores = activations_at_restore = 0;
	fail_activate = false;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	gmem_destroy(&vm.mem);
	return 0;
}

static void test_round_trip(void **state)
{
	struct err e = { "" };
	size_t len;
	uint8_t *p = saved(&len);
	struct tdev *t = tdev_new(&t_ops, F_DEVICE);
	struct snap_cursor c = state_fixture_cursor(p, len);
	struct virtio_dev *d = &t->d;

	(void)state;
	if (virtio_restore(d, &c, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(snap_cursor_done(&c, "test", &e), 0);
	assert_int_equal(d->status, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	assert_true(d->driver_features == (VIRTIO_BIT(VIRTIO_F_VERSION_1) |
					   VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(9)));
	assert_int_equal(d->device_features_sel, 1);
	assert_int_equal(d->driver_features_sel, 1);
	assert_int_equal(d->queue_sel, 1);
	assert_int_equal(d->config_generation, 3);
	assert_int_equal(atomic_load(&d->isr), VIRTIO_INT_USED);
	assert_int_equal(t->config[0], 0xa0);   /* a writable config space comes back */
	assert_int_equal(t->config[15], 0xaf);
	/* Queue 0: mapped over the same rings, indices kept, nothing in guest memory changed. */
	assert_true(d->vq[0].ready);
	assert_non_null(d->vq[0].desc);
	assert_ptr_equal(d->vq[0].desc, gmem_ptr(&vm.mem, Q0_DESC, 16));
	assert_int_equal(d->vq[0].size, 16);
	assert_true(d->vq[0].event_idx);
	assert_false(d->vq[0].indirect);
	assert_int_equal(d->vq[0].last_avail, 5);
	assert_int_equal(d->vq[0].used_idx, 4);
	assert_int_equal(d->vq[0].signalled_used, 3);
	assert_true(d->vq[0].signalled_valid);
	assert_false(d->vq[0].broken);
	assert_int_equal(((uint16_t *)gmem_ptr(&vm.mem, Q0_USED, 4))[1], 4);
	/* Queue 1: the layout the driver wrote, not ready, not mapped. */
	assert_false(d->vq[1].ready);
	assert_null(d->vq[1].desc);
	assert_int_equal(d->vq[1].size, 8);
	assert_true(d->vq[1].desc_gpa == Q1_DESC);
	/* Re-activated once, before the device's own restore; the ready queue kicked once. */
	assert_int_equal(activations, 1);
	assert_int_equal(restores, 1);
	assert_int_equal(activations_at_restore, 1);
	assert_int_equal(kicks(t, 0), 1);
	assert_int_equal(kicks(t, 1), 0);
	tdev_free(t);
	free(p);
}

/* A device the driver must reset stays failed: no activation, no kicks. */
static void test_failed_stays_failed(void **state)
{
	struct err e = { "" };
	size_t len;
	uint8_t *p = saved(&len);
	struct tdev *t = tdev_new(&t_ops, F_DEVICE);
	struct snap_cursor c;
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		      VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET;

	(void)state;
	state_fixture_put32(p, OFF_STATUS, st);
	state_fixture_put32(p, OFF_Q0 + Q_FLAGS, 1 | 2);        /* ready, broken */
	c = state_fixture_cursor(p, len);
	assert_int_equal(virtio_restore(&t->d, &c, &e), 0);
	assert_int_equal(t->d.status, st);
	assert_false(virtio_live(&t->d));
	assert_true(t->d.vq[0].broken);
	assert_int_equal(activations, 0);
	assert_int_equal(kicks(t, 0), 0);
	tdev_free(t);
	free(p);
}

/* activate() failing on restore fails the device, as a DRIVER_OK write would. */
static void test_activate_fails(void **state)
{
	struct err e = { "" };
	size_t len;
	uint8_t *p = saved(&len);
	struct tdev *t = tdev_new(&t_ops, F_DEVICE);
	struct snap_cursor c = state_fixture_cursor(p, len);

	(void)state;
	fail_activate = true;
	assert_int_equal(virtio_restore(&t->d, &c, &e), 0);
	assert_true(t->d.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(kicks(t, 0), 0);
	tdev_free(t);
	free(p);
}

/* Another kind of device, features it does not offer, another config size. */
static void test_mismatch_refused(void **state)
{
	struct err e = { "" };
	size_t len;
	uint8_t *p = saved(&len);

	(void)state;
	assert_int_equal(restore_into(&t_ops_net, F_DEVICE, p, len, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "type 2"));
	assert_int_equal(restore_into(&t_ops, VIRTIO_BIT(5), p, len, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "does not offer"));
	state_fixture_put32(p, OFF_CONFIG_SIZE, 8);
	assert_int_equal(restore_into(&t_ops, F_DEVICE, p, len, &e), -EINVAL);
	free(p);
}

/* Every prefix of the state is refused, never read past. */
static void test_truncated_refused(void **state)
{
	struct err e = { "" };
	size_t len;
	uint8_t *p = saved(&len);

	(void)state;
	assert_int_equal(restore_into(&t_ops, F_DEVICE, p, len, &e), 0);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1);

		memcpy(cut, p, n);
		if (restore_into(&t_ops, F_DEVICE, cut, n, &e) != -EINVAL)
			fail_msg("a state cut to %zu of %zu bytes was accepted", n, len);
		free(cut);
	}
	free(p);
}

/* One hostile field at a time: each is refused with -EINVAL. */
static void test_hostile_fields_refused(void **state)
{
	static const struct {
		size_t off;
		uint64_t v;
		bool wide;
		const char *what;
	} bad[] = {
		{ OFF_NQUEUES, 9, false, "more queues than a device has" },
		{ OFF_NQUEUES, 1, false, "fewer queues" },
		{ OFF_ISR, 4, false, "unknown interrupt status bit" },
		{ OFF_STATUS, VIRTIO_STATUS_DRIVER_OK, false, "DRIVER_OK without FEATURES_OK" },
		{ OFF_DRIVER_FEATURES, VIRTIO_BIT(9), true, "FEATURES_OK without VERSION_1" },
		{ OFF_DRIVER_FEATURES, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(40), true,
		  "a feature never offered" },
		{ OFF_CONFIG_SIZE, 0xffffffffu, false, "config larger than the section" },
		{ OFF_Q0 + Q_SIZE, 3, false, "ready queue size not a power of two" },
		{ OFF_Q0 + Q_SIZE, 128, false, "ready queue larger than QueueNumMax" },
		{ OFF_Q0 + Q_SIZE, 0x10000, false, "queue size beyond 16 bits" },
		{ OFF_Q0 + Q_FLAGS, 8 | 1, false, "unknown queue flag" },
		{ OFF_Q0 + Q_DESC, 0xfffff000, true, "descriptor table outside RAM" },
		{ OFF_Q0 + Q_DESC, Q0_DESC + 8, true, "misaligned descriptor table" },
		{ OFF_Q0 + Q_LAST_AVAIL, 0x10000, false, "index beyond 16 bits" },
		{ OFF_Q0 + Q_USED_IDX, 0xff00, false, "more in flight than the queue holds" },
		{ OFF_Q0 + 2 * Q_BYTES, 0x12345678, false, "the device's own state" },
	};
	struct err e = { "" };
	size_t len;
	uint8_t *p = saved(&len);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *q = malloc(len);

		memcpy(q, p, len);
		if (bad[i].wide)
			state_fixture_put64(q, bad[i].off, bad[i].v);
		else
			state_fixture_put32(q, bad[i].off, (uint32_t)bad[i].v);
		e.msg[0] = 0;
		if (restore_into(&t_ops, F_DEVICE, q, len, &e) != -EINVAL)
			fail_msg("accepted: %s", bad[i].what);
		assert_true(e.msg[0] != 0);
		free(q);
	}
	free(p);
}

/* A device without config_write rebuilds its config space: the saved bytes are not copied. */
static void test_read_only_config_kept(void **state)
{
	struct err e = { "" };
	struct tdev *t = tdev_new(&t_ops_net, F_DEVICE), *u;
	struct snap_cursor c;
	size_t len;
	uint8_t *p;

	(void)state;
	drive(t);
	p = state_fixture_payload(save_dev, &t->d, &len);
	u = tdev_new(&t_ops_net, F_DEVICE);
	u->config[0] = 0x11;
	c = state_fixture_cursor(p, len);
	assert_int_equal(virtio_restore(&u->d, &c, &e), 0);
	assert_int_equal(snap_cursor_done(&c, "test", &e), 0);
	assert_int_equal(u->config[0], 0x11);
	assert_int_equal(kicks(u, 0), 1);
	tdev_free(t);
	tdev_free(u);
	free(p);
}

static void test_quiesce_calls_device(void **state)
{
	struct err e = { "" };
	struct tdev *t = tdev_new(&t_ops, F_DEVICE), *u = tdev_new(&t_ops_net, 0);

	(void)state;
	assert_int_equal(virtio_quiesce(&t->d, &e), 0);
	assert_int_equal(quiesces, 1);
	assert_int_equal(virtio_quiesce(&u->d, &e), 0);     /* no hook: nothing to do */
	tdev_free(t);
	tdev_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_stays_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mismatch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_fields_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_config_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiesce_calls_device, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
