/*
 * libFuzzer harness for the snapshot state file reader (src/snapshot/
 * format.c): snap_reader_init over a fuzzed file, then every section walked
 * with a cursor in a fuzzed pattern of u32/u64/string/pointer/copy reads.
 * Since a mutated file almost never keeps its XXH64s right, the harness can
 * repair them first (and the file size), so that mutated lengths, counts
 * and payloads get past the checksums to the bounds checks behind them.
 *
 * Input:
 *   0 u8  fix-ups: bit 0 recompute the section hashes (of the sections
 *         whose header and payload lie in the file) and the header hash,
 *         bit 1 set the header's file_size to the file's length
 *   1 u8  pattern length (% 16 + 1), then that many pattern bytes, each
 *         one cursor read: bits 0-2 the kind (0 u32, 1 u64, 2 string into a
 *         buffer of (bits 3-7) + 1 bytes, 3 pointer to (bits 3-7) bytes,
 *         4 copy of (bits 3-7) bytes, 5 pointer to all that is left,
 *         6-7 u32), repeated over each section until it errs or ends
 *   then the state file, copied to a buffer of exactly its size
 *
 * Checked: an accepted file's sections lie inside it, in order; snap_find
 * finds each; a cursor never hands out bytes outside its section and
 * agrees with the harness's count of what it consumed; snap_cursor_done
 * fails exactly when a read failed or bytes are left; and writing the
 * accepted sections again with snap_writer gives back the same bytes (the
 * format has one encoding per content).
 */
#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "snapshot/format.h"

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#define MAX_READS 256   /* per section */

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Repair what the fix-up bits ask for in (f, len), as a writer would have written it. */
static void fix_up(uint8_t *f, size_t len, uint8_t fix)
{
	size_t off = SNAP_HEADER_SIZE;
	uint32_t n;

	if (len < SNAP_HEADER_SIZE)
		return;
	if (fix & 2)
		wr64(f + 24, len);
	if (!(fix & 1))
		return;
	n = rd32(f + 20);
	for (uint32_t i = 0; i < n && n <= SNAP_MAX_SECTIONS; i++) {
		uint64_t slen;
		XXH64_state_t st;

		if (len - off < SNAP_SECTION_HEADER_SIZE)
			break;
		slen = rd64(f + off + 8);
		if (slen > len - off - SNAP_SECTION_HEADER_SIZE)
			break;
		XXH64_reset(&st, 0);
		XXH64_update(&st, f + off, 16);
		XXH64_update(&st, f + off + SNAP_SECTION_HEADER_SIZE, (size_t)slen);
		wr64(f + off + 16, XXH64_digest(&st));
		if ((slen + 7) / 8 * 8 > len - off - SNAP_SECTION_HEADER_SIZE)
			break;
		off += SNAP_SECTION_HEADER_SIZE + (size_t)(slen + 7) / 8 * 8;
	}
	wr64(f + 56, XXH64(f, 56, 0));
}

/* One cursor read of kind (op), checked against what was left; (*consumed) counts the bytes taken. */
static void one_read(struct snap_cursor *c, uint8_t op, size_t *consumed)
{
	size_t arg = op >> 3, before = c->left;
	char str[32];
	uint8_t buf[32];
	const uint8_t *p;
	int rc;

	memset(buf, 0, sizeof(buf));
	switch (op & 7) {
	case 1:
		snap_get_u64(c);
		FUZZ_CHECK(c->error ? before < 8 || c->left == before : c->left == before - 8);
		break;
	case 2:
		rc = snap_get_str(c, str, arg + 1);
		FUZZ_CHECK(str[0] == '\0' || rc == 0);
		FUZZ_CHECK(rc == 0 ? strlen(str) <= arg && !c->error : c->error == -EINVAL);
		if (!rc)
			FUZZ_CHECK(before - c->left == 4 + strlen(str));
		break;
	case 3:
	case 5:
		if ((op & 7) == 5)
			arg = before;
		p = snap_get_ptr(c, arg);
		FUZZ_CHECK(!p == !!c->error);
		if (p) {
			FUZZ_CHECK(p + arg == c->p && c->left == before - arg);
			for (size_t i = 0; i < arg; i++)        /* ASan: every byte is readable */
				buf[i % sizeof(buf)] ^= p[i];
		}
		break;
	case 4:
		memset(buf, 0xa5, sizeof(buf));
		rc = snap_get(c, buf, arg);
		FUZZ_CHECK(rc == c->error);
		for (size_t i = 0; rc && i < arg; i++)
			FUZZ_CHECK(buf[i] == 0);
		break;
	default:
		snap_get_u32(c);
		FUZZ_CHECK(c->error ? before < 4 || c->left == before : c->left == before - 4);
		break;
	}
	if (!c->error)
		*consumed += before - c->left;
}

static void walk(const struct snap_reader *r, const uint8_t *pat, size_t npat)
{
	struct err e;

	for (uint32_t i = 0; i < r->nsections; i++) {
		const struct snap_section *s = &r->sections[i];
		struct snap_cursor c;
		size_t consumed = 0;

		FUZZ_CHECK(snap_find(r, s->tag, s->instance, &c));
		FUZZ_CHECK(c.p == s->data && c.left == s->len);
		FUZZ_CHECK(snap_count(r, s->tag) >= 1);
		for (unsigned k = 0; k < MAX_READS && !c.error && c.left; k++) {
			one_read(&c, pat[k % npat], &consumed);
			FUZZ_CHECK(c.error || c.p == s->data + consumed);
			FUZZ_CHECK(consumed <= s->len);
		}
		e.msg[0] = '\0';
		FUZZ_CHECK((snap_cursor_done(&c, "payload", &e) == 0) == (!c.error && !c.left));
		FUZZ_CHECK(!c.error && !c.left ? e.msg[0] == '\0' : strstr(e.msg, "malformed") != NULL);
	}
}

/* An accepted file is exactly what the writer makes of its sections. */
static void rewrite(const struct snap_reader *r)
{
	struct snap_writer w;
	const uint8_t *out;
	size_t len;
	struct err e;

	snap_writer_init(&w);
	w.flags = r->flags;
	for (uint32_t i = 0; i < r->nsections; i++) {
		snap_section_begin(&w, r->sections[i].tag, r->sections[i].instance);
		snap_put(&w, r->sections[i].data, (size_t)r->sections[i].len);
		snap_section_end(&w);
	}
	FUZZ_CHECK(snap_writer_finish(&w, &out, &len, &e) == 0);
	FUZZ_CHECK(len == r->len && !memcmp(out, r->data, len));
	snap_writer_free(&w);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_reader r;
	struct err e;
	size_t npat, len;
	const uint8_t *pat;
	uint8_t *f;
	uint8_t fix;

	if (size < 2)
		return 0;
	fix = data[0];
	npat = data[1] % 16 + 1;
	if (size < 2 + npat)
		return 0;
	pat = data + 2;
	len = size - 2 - npat;
	f = malloc(len ? len : 1);
	if (!f)
		return 0;
	memcpy(f, data + 2 + npat, len);
	fix_up(f, len, fix);

	e.msg[0] = '\0';
	if (snap_reader_init(&r, f, len, &e)) {
		FUZZ_CHECK(e.msg[0] != '\0' && r.sections == NULL && r.nsections == 0);
		free(f);
		return 0;
	}
	FUZZ_CHECK(r.nsections <= SNAP_MAX_SECTIONS && r.data == f && r.len == len);
	for (uint32_t i = 0; i < r.nsections; i++) {
		const struct snap_section *s = &r.sections[i];

		FUZZ_CHECK(s->data >= f + SNAP_HEADER_SIZE + SNAP_SECTION_HEADER_SIZE);
		FUZZ_CHECK(s->len <= (size_t)(f + len - s->data));
		FUZZ_CHECK(i == 0 || s->data > r.sections[i - 1].data + r.sections[i - 1].len);
	}
	walk(&r, pat, npat);
	rewrite(&r);
	snap_reader_free(&r);
	free(f);
	return 0;
}
