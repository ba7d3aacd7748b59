/*
 * virtio-blk request handling (src/virtio/blk.c through blk.h's detached
 * device, no VM): chains laid out in fake guest RAM as a driver would, served
 * against a 16-sector image in a memfd whose sector i holds bytes of value i.
 * Checks the status byte, the used length and the image (virtio 1.2 §5.2.6),
 * and live updates (PATCH /drives): a new image, a new rate limiter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/blk.h"

#define RAM_BASE 0x100000ull
#define RAM_SIZE 0x10000ull
#define DESC_OFF  0x0000
#define AVAIL_OFF 0x1000
#define USED_OFF  0x2000
#define BUF_OFF   0x4000
#define SECTORS   16

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2

struct fake {
	struct gmem mem;
	uint8_t *ram;
	int image;
	char path[64];
	struct drive_config cfg;
	struct blk *b;
	struct vq_req req;
	uint16_t avail_idx;
	uint64_t buf_at;                /* next free buffer offset */
	unsigned ndesc;
};

struct seg {
	uint32_t len;
	bool write;
	const void *data;               /* readable: contents */
};

struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

struct blk_range {
	uint64_t sector;
	uint32_t num_sectors, flags;
};

static void open_drive(struct fake *f, bool read_only)
{
	struct err e = { { 0 } };
	struct virtio_dev *d;

	if (f->b)
		blk_detached_destroy(f->b);
	f->cfg = (struct drive_config){ .id = "drive-id", .path = f->path, .read_only = read_only,
					.cache = DRIVE_CACHE_WRITEBACK, .io = DRIVE_IO_SYNC };
	f->b = blk_detached_create(&f->cfg, &e);
	assert_non_null(f->b);
	d = blk_detached_dev(f->b);
	d->vq[0].size = 64;
	d->vq[0].desc_gpa = RAM_BASE + DESC_OFF;
	d->vq[0].avail_gpa = RAM_BASE + AVAIL_OFF;
	d->vq[0].used_gpa = RAM_BASE + USED_OFF;
	assert_int_equal(vq_activate(&d->vq[0], &f->mem, false, false), 0);
	f->avail_idx = 0;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	uint8_t sector[512];

	if (!f)
		return -1;
	log_threshold = LOG_ERROR;
	f->ram = calloc(1, RAM_SIZE);
	f->image = memfd_create("test-blk", MFD_CLOEXEC);
	if (!f->ram || f->image < 0)
		return -1;
	for (int i = 0; i < SECTORS; i++) {
		memset(sector, i, sizeof(sector));
		if (pwrite(f->image, sector, sizeof(sector), i * 512) != (ssize_t)sizeof(sector))
			return -1;
	}
	snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->image);
	f->mem.fd = -1;
	f->mem.host = f->ram;
	f->mem.total = RAM_SIZE;
	f->mem.nregions = 1;
	f->mem.regions[0] = (struct gmem_region){ .gpa = RAM_BASE, .size = RAM_SIZE };
	open_drive(f, false);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	blk_detached_destroy(f->b);
	close(f->image);
	free(f->ram);
	free(f);
	return 0;
}

/*
 * Lay out a chain of (n) segments and make it available; returns its head.
 * *last gets the host address of its last writable byte (NULL when none),
 * *w that of its first writable buffer.
 */
static uint16_t offer(struct fake *f, const struct seg *s, unsigned n, uint8_t **last,
		      uint8_t **w)
{
	uint16_t *avail = (uint16_t *)(f->ram + AVAIL_OFF);
	uint16_t head = (uint16_t)f->ndesc;

	f->buf_at = BUF_OFF;
	*w = *last = NULL;
	for (unsigned i = 0; i < n; i++) {
		struct vring_desc desc = {
			.addr = RAM_BASE + f->buf_at, .len = s[i].len,
			.flags = (s[i].write ? VRING_DESC_F_WRITE : 0) | (i + 1 < n ? VRING_DESC_F_NEXT : 0),
			.next = (uint16_t)((f->ndesc + 1) % 64),
		};

		if (s[i].write) {
			memset(f->ram + f->buf_at, 0xee, s[i].len);
			if (!*w)
				*w = f->ram + f->buf_at;
			if (s[i].len)
				*last = f->ram + f->buf_at + s[i].len - 1;
		} else if (s[i].data) {
			memcpy(f->ram + f->buf_at, s[i].data, s[i].len);
		}
		memcpy(f->ram + DESC_OFF + 16 * f->ndesc, &desc, sizeof(desc));
		f->ndesc = (f->ndesc + 1) % 64;
		f->buf_at += s[i].len + 16;
	}
	avail[2 + f->avail_idx % 64] = head;
	avail[1] = ++f->avail_idx;
	return head;
}

/* Pop the next available chain and hand it to the device: blk_request's answer. */
static bool pop_serve(struct fake *f)
{
	struct virtio_dev *d = blk_detached_dev(f->b);

	assert_int_equal(vq_pop(&d->vq[0], &f->req), 1);
	return blk_request(d, 0, &f->req);
}

/* The last chain offered, (head), was used: its status byte (-1: none), *used its length. */
static int used_status(struct fake *f, uint16_t head, const uint8_t *last, uint32_t *used)
{
	const struct vring_used_elem *u;

	assert_int_equal(*(uint16_t *)(f->ram + USED_OFF + 2), f->avail_idx);
	u = (const void *)(f->ram + USED_OFF + 4 + 8 * ((f->avail_idx - 1) % 64));
	assert_int_equal(u->id, head);
	*used = u->len;
	return last ? *last : -1;
}

/*
 * Offer one chain of (n) segments, let the device serve it, and return the
 * status byte (-1 when the chain has no writable byte); *used gets the used
 * length and *w the host address of the writable part's first buffer.
 */
static int serve(struct fake *f, const struct seg *s, unsigned n, uint32_t *used, uint8_t **w)
{
	uint8_t *last;
	uint16_t head = offer(f, s, n, &last, w);

	assert_true(pop_serve(f));
	return used_status(f, head, last, used);
}

static void image_sector(struct fake *f, uint64_t sector, uint8_t *out)
{
	assert_int_equal(pread(f->image, out, 512, (off_t)(sector * 512)), 512);
}

static void test_read_across_buffers(void **state)
{
	struct fake *f = *state;
	struct blk_hdr h = { .type = T_IN, .sector = 3 };
	/* Header in two pieces, data over two buffers, status alone. */
	struct seg s[] = { { 10, false, &h }, { 6, false, (uint8_t *)&h + 10 },
			   { 600, true, NULL }, { 424, true, NULL }, { 1, true, NULL } };
	uint32_t used;
	uint8_t *w;

	assert_int_equal(serve(f, s, 5, &used, &w), S_OK);
	assert_int_equal(used, 1025);
	for (int i = 0; i < 600; i++)
		assert_int_equal(w[i], i < 512 ? 3 : 4);
	/* The second data buffer follows 16 bytes after the first. */
	for (int i = 0; i < 424; i++)
		assert_int_equal(w[600 + 16 + i], 4);
}

static void test_write(void **state)
{
	struct fake *f = *state;
	struct blk_hdr h = { .type = T_OUT, .sector = 5 };
	uint8_t data[1024], back[512];
	struct seg s[] = { { 16, false, &h }, { 1024, false, data }, { 1, true, NULL } };
	uint32_t used;
	uint8_t *w;

	memset(data, 'x', 512);
	memset(data + 512, 'y', 512);
	assert_int_equal(serve(f, s, 3, &used, &w), S_OK);
	assert_int_equal(used, 1);
	image_sector(f, 5, back);
	assert_int_equal(back[0], 'x');
	assert_int_equal(back[511], 'x');
	image_sector(f, 6, back);
	assert_int_equal(back[0], 'y');
	image_sector(f, 7, back);
	assert_int_equal(back[0], 7);
}

static void test_bad_ranges(void **state)
{
	struct fake *f = *state;
	static const struct {
		uint32_t type;
		uint64_t sector;
		uint32_t len;
	} bad[] = {
		{ T_IN, SECTORS - 1, 1024 },    /* runs past the end */
		{ T_IN, SECTORS, 512 },
		{ T_IN, UINT64_MAX, 512 },
		{ T_IN, UINT64_MAX / 512 + 1, 512 }, /* sector * 512 would wrap */
		{ T_IN, 0, 100 },               /* not whole sectors */
		{ T_OUT, SECTORS - 1, 1024 },
		{ T_OUT, 0, 513 },
	};
	uint8_t data[1024] = { 0 }, back[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct blk_hdr h = { .type = bad[i].type, .sector = bad[i].sector };
		bool in = bad[i].type == T_IN;
		struct seg s[] = { { 16, false, &h }, { bad[i].len, in, data }, { 1, true, NULL } };
		uint32_t used;
		uint8_t *w;

		assert_int_equal(serve(f, s, 3, &used, &w), S_IOERR);
		assert_int_equal(used, 1);
		if (in)
			assert_int_equal(w[0], 0xee);   /* nothing read into the buffer */
	}
	image_sector(f, SECTORS - 1, back);
	assert_int_equal(back[0], SECTORS - 1);
}

static void test_read_only(void **state)
{
	struct fake *f = *state;
	struct blk_hdr h = { .type = T_OUT, .sector = 1 };
	struct blk_hdr z = { .type = T_WRITE_ZEROES };
	struct blk_range r = { .sector = 1, .num_sectors = 1 };
	uint8_t data[512], back[512];
	struct seg out[] = { { 16, false, &h }, { 512, false, data }, { 1, true, NULL } };
	struct seg wz[] = { { 16, false, &z }, { 16, false, &r }, { 1, true, NULL } };
	uint32_t used;
	uint8_t *w;

	open_drive(f, true);
	memset(data, 'r', sizeof(data));
	assert_int_equal(serve(f, out, 3, &used, &w), S_IOERR);
	assert_int_equal(serve(f, wz, 3, &used, &w), S_IOERR);
	image_sector(f, 1, back);
	assert_int_equal(back[0], 1);
	/* Reads still work. */
	h.type = T_IN;
	out[1].write = true;
	assert_int_equal(serve(f, out, 3, &used, &w), S_OK);
	assert_int_equal(used, 513);
	assert_int_equal(w[0], 1);
}

static void test_get_id(void **state)
{
	struct fake *f = *state;
	struct blk_hdr h = { .type = T_GET_ID };
	struct seg s[] = { { 16, false, &h }, { 21, true, NULL } };
	uint32_t used;
	uint8_t *w;

	assert_int_equal(serve(f, s, 2, &used, &w), S_OK);
	assert_int_equal(used, 1 + 20);
	assert_memory_equal(w, "drive-id", 8);
	/* §5.2.6: 20 bytes, NUL-padded when shorter. */
	assert_int_equal(w[8], 0);
	/* Less room: truncated, status still in the last byte. */
	s[1].len = 5;
	assert_int_equal(serve(f, s, 2, &used, &w), S_OK);
	assert_int_equal(used, 5);
	assert_memory_equal(w, "driv", 4);
}

static void test_malformed(void **state)
{
	struct fake *f = *state;
	struct blk_hdr h = { .type = T_IN };
	struct blk_hdr u = { .type = 99 };
	struct seg short_hdr[] = { { 8, false, &h }, { 1, true, NULL } };
	struct seg no_status[] = { { 16, false, &h } };
	struct seg unknown[] = { { 16, false, &u }, { 1, true, NULL } };
	struct seg empty_write[] = { { 16, false, &h }, { 0, true, NULL } };
	uint32_t used;
	uint8_t *w;

	assert_int_equal(serve(f, short_hdr, 2, &used, &w), S_IOERR);
	assert_int_equal(used, 1);
	/* Nowhere to put a status: the chain comes back untouched. */
	assert_int_equal(serve(f, no_status, 1, &used, &w), -1);
	assert_int_equal(used, 0);
	assert_int_equal(serve(f, empty_write, 2, &used, &w), -1);
	assert_int_equal(used, 0);
	assert_int_equal(serve(f, unknown, 2, &used, &w), S_UNSUPP);
	assert_int_equal(used, 1);
}

static void test_flush(void **state)
{
	struct fake *f = *state;
	struct blk_hdr h = { .type = T_FLUSH };
	struct seg s[] = { { 16, false, &h }, { 1, true, NULL } };
	uint32_t used;
	uint8_t *w;

	assert_int_equal(serve(f, s, 2, &used, &w), S_OK);
	assert_int_equal(used, 1);
}

static void test_write_zeroes_and_discard(void **state)
{
	struct fake *f = *state;
	struct blk_hdr z = { .type = T_WRITE_ZEROES }, d = { .type = T_DISCARD };
	struct blk_range r[2] = { { .sector = 2, .num_sectors = 2 }, { .sector = 9, .num_sectors = 1 } };
	struct seg wz[] = { { 16, false, &z }, { 16, false, r }, { 1, true, NULL } };
	struct seg two[] = { { 16, false, &z }, { 32, false, r }, { 1, true, NULL } };
	struct seg partial[] = { { 16, false, &z }, { 10, false, r }, { 1, true, NULL } };
	struct seg dc[] = { { 16, false, &d }, { 16, false, r }, { 1, true, NULL } };
	uint8_t back[512];
	uint32_t used;
	uint8_t *w;

	assert_int_equal(serve(f, wz, 3, &used, &w), S_OK);
	image_sector(f, 2, back);
	assert_int_equal(back[0], 0);
	image_sector(f, 3, back);
	assert_int_equal(back[511], 0);
	image_sector(f, 4, back);
	assert_int_equal(back[0], 4);
	/* max_write_zeroes_seg is 1; a torn range is no range. */
	assert_int_equal(serve(f, two, 3, &used, &w), S_UNSUPP);
	assert_int_equal(serve(f, partial, 3, &used, &w), S_UNSUPP);
	/* Out of range, unknown flags, DISCARD with flags. */
	r[0] = (struct blk_range){ .sector = SECTORS, .num_sectors = 1 };
	assert_int_equal(serve(f, wz, 3, &used, &w), S_IOERR);
	r[0] = (struct blk_range){ .sector = UINT64_MAX, .num_sectors = 2 };
	assert_int_equal(serve(f, wz, 3, &used, &w), S_IOERR);
	r[0] = (struct blk_range){ .sector = 1, .num_sectors = 1, .flags = 2 };
	assert_int_equal(serve(f, wz, 3, &used, &w), S_UNSUPP);
	r[0] = (struct blk_range){ .sector = 1, .num_sectors = 1, .flags = 1 };
	assert_int_equal(serve(f, dc, 3, &used, &w), S_UNSUPP);
	r[0].flags = 0;
	assert_int_equal(serve(f, dc, 3, &used, &w), S_OK);
	assert_int_equal(used, 1);
}

#define DAY_MS 86400000ull      /* a refill so slow that no test sees a token of it */

/* A memfd image of (sectors) sectors, sector i holding bytes 0x80 | i; its path in (path). */
static int make_image(char *path, size_t n, unsigned sectors)
{
	int fd = memfd_create("test-blk-new", MFD_CLOEXEC);
	uint8_t sector[512];

	assert_true(fd >= 0);
	for (unsigned i = 0; i < sectors; i++) {
		memset(sector, 0x80 | i, sizeof(sector));
		assert_int_equal(pwrite(fd, sector, sizeof(sector), (off_t)i * 512), sizeof(sector));
	}
	snprintf(path, n, "/proc/self/fd/%d", fd);
	return fd;
}

static uint64_t capacity(struct fake *f)
{
	uint64_t c;

	memcpy(&c, blk_detached_dev(f->b)->config, sizeof(c));
	return c;
}

/* PATCH /drives path_on_host: bad files change nothing; a new one brings its size and data. */
static void test_update_image(void **state)
{
	struct fake *f = *state;
	struct virtio_dev *d = blk_detached_dev(f->b);
	struct blk_hdr h = { .type = T_IN, .sector = 20 };
	struct seg s[] = { { 16, false, &h }, { 512, true, NULL }, { 1, true, NULL } };
	struct err e = { "" };
	char path[64];
	int fd = make_image(path, sizeof(path), 32);
	uint32_t used;
	uint8_t *w;

	assert_int_equal(serve(f, s, 3, &used, &w), S_IOERR);
	assert_int_equal(blk_device_update(f->b, "/nonexistent/disk.img", NULL, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "drive 'drive-id': /nonexistent/disk.img"));
	assert_int_equal(blk_device_update(f->b, "/tmp", NULL, &e), -EISDIR);
	/* A writable drive needs a writable file: a running program is not one, even for root. */
	assert_int_equal(blk_device_update(f->b, "/proc/self/exe", NULL, &e), -ETXTBSY);
	assert_int_equal(capacity(f), SECTORS);
	assert_int_equal(d->config_generation, 0);
	h.sector = 3;
	assert_int_equal(serve(f, s, 3, &used, &w), S_OK);
	assert_int_equal(w[0], 3);

	assert_int_equal(blk_device_update(f->b, path, NULL, &e), 0);
	assert_int_equal(capacity(f), 32);
	assert_int_equal(d->config_generation, 1);
	h.sector = 20;
	assert_int_equal(serve(f, s, 3, &used, &w), S_OK);
	assert_int_equal(used, 513);
	assert_int_equal(w[0], 0x80 | 20);
	h.sector = 32;
	assert_int_equal(serve(f, s, 3, &used, &w), S_IOERR);
	close(fd);
}

/* A read-only drive opens its new image read-only; a directory is still refused. */
static void test_update_image_read_only(void **state)
{
	struct fake *f = *state;
	struct blk_hdr h = { .type = T_OUT, .sector = 1 };
	uint8_t data[512];
	struct seg s[] = { { 16, false, &h }, { 512, false, data }, { 1, true, NULL } };
	struct err e = { "" };
	char path[64];
	int fd = make_image(path, sizeof(path), 8);
	uint32_t used;
	uint8_t *w;

	open_drive(f, true);
	assert_int_equal(blk_device_update(f->b, "/tmp", NULL, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a file or block device"));
	assert_int_equal(blk_device_update(f->b, "/proc/self/exe", NULL, &e), 0);
	assert_int_equal(blk_device_update(f->b, path, NULL, &e), 0);
	assert_int_equal(capacity(f), 8);
	assert_int_equal(serve(f, s, 3, &used, &w), S_IOERR);
	h.type = T_IN;
	s[1].write = true;
	assert_int_equal(serve(f, s, 3, &used, &w), S_OK);
	assert_int_equal(w[0], 0x80 | 1);
	close(fd);
}

/* PATCH /drives rate_limiter: a held request goes once a new limiter lets it. */
static void test_update_limiter(void **state)
{
	struct fake *f = *state;
	struct blk_hdr h = { .type = T_IN, .sector = 2 };
	struct seg s[] = { { 16, false, &h }, { 512, true, NULL }, { 1, true, NULL } };
	struct rate_limiter_config one = { .ops = { .size = 1, .refill_time_ms = DAY_MS } };
	struct rate_limiter_config none = { 0 };
	struct err e = { "" };
	uint8_t *w, *last;
	uint32_t used;
	uint16_t head;

	assert_int_equal(blk_device_update(f->b, NULL, &one, &e), 0);
	assert_int_equal(serve(f, s, 3, &used, &w), S_OK);
	head = offer(f, s, 3, &last, &w);
	assert_false(pop_serve(f));
	/* A refused update (the image) changes nothing, the limiter neither. */
	assert_int_equal(blk_device_update(f->b, "/nonexistent", &none, &e), -ENOENT);
	assert_false(pop_serve(f));
	assert_int_equal(blk_device_update(f->b, NULL, &none, &e), 0);
	assert_true(pop_serve(f));
	assert_int_equal(used_status(f, head, last, &used), S_OK);
	assert_int_equal(used, 513);
	assert_int_equal(w[0], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_across_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes_and_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_image_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_limiter, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
