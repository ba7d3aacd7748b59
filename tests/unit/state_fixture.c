#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "state_fixture.h"

#define FIXTURE_TAG SNAP_TAG('T', 'E', 'S', 'T')

uint8_t *state_fixture_payload(state_fixture_save *save, void *ctx, size_t *len)
{
	struct snap_writer w;
	struct snap_reader r;
	struct snap_cursor c;
	struct err e = { "" };
	const uint8_t *data;
	size_t size;
	uint8_t *copy;

	snap_writer_init(&w);
	snap_section_begin(&w, FIXTURE_TAG, 0);
	if (save(ctx, &w, &e) < 0)
		fail_msg("save: %s", e.msg);
	snap_section_end(&w);
	if (snap_writer_finish(&w, &data, &size, &e) < 0)
		fail_msg("snap_writer_finish: %s", e.msg);
	if (snap_reader_init(&r, data, size, &e) < 0)
		fail_msg("snap_reader_init: %s", e.msg);
	assert_true(snap_find(&r, FIXTURE_TAG, 0, &c));
	*len = c.left;
	copy = malloc(c.left ? c.left : 1);
	assert_non_null(copy);
	memcpy(copy, c.p, c.left);
	snap_reader_free(&r);
	snap_writer_free(&w);
	return copy;
}

struct snap_cursor state_fixture_cursor(const uint8_t *p, size_t len)
{
	return (struct snap_cursor){ .p = p, .left = len, .tag = FIXTURE_TAG };
}

void state_fixture_put32(uint8_t *p, size_t off, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

void state_fixture_put64(uint8_t *p, size_t off, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}
