/*
 * The harness the device-state tests share: run a save function into one
 * section of a real state file (snapshot/format.c), read the file back, and
 * hand over a copy of that section's payload, which the tests restore from,
 * truncate and corrupt.
 */
#ifndef LODGE_TESTS_STATE_FIXTURE_H
#define LODGE_TESTS_STATE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot/format.h"

/* What a test saves: the device's own hook bound to its arguments. */
typedef int state_fixture_save(void *ctx, struct snap_writer *w, struct err *e);

/*
 * Save (ctx) with (save) into a state file and return a malloc'd copy of
 * the section's payload ((*len) bytes); fails the test on any error.
 */
uint8_t *state_fixture_payload(state_fixture_save *save, void *ctx, size_t *len);

/* A cursor over (len) bytes at (p), as snap_find() would hand out. */
struct snap_cursor state_fixture_cursor(const uint8_t *p, size_t len);

/* Little-endian stores into a payload, for corrupting fields at known offsets. */
void state_fixture_put32(uint8_t *p, size_t off, uint32_t v);
void state_fixture_put64(uint8_t *p, size_t off, uint64_t v);

#endif
