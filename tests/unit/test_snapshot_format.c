/* The snapshot state file (src/snapshot/format.c): writer, atomic commit, validating reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "snapshot/format.h"

#define T_CONF SNAP_TAG('C', 'O', 'N', 'F')
#define T_VCPU SNAP_TAG('V', 'C', 'P', 'U')
#define T_EMTY SNAP_TAG('E', 'M', 'T', 'Y')
#define T_MANY SNAP_TAG('M', 'A', 'N', 'Y')

static const uint8_t blob[13] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };

/* A small file: CONF/0 (u32, u64, str), VCPU/0 and VCPU/1 (13-byte blobs: padded), EMTY/7. */
static uint8_t *small_file(size_t *len)
{
	struct snap_writer w;
	const uint8_t *data;
	struct err e;
	uint8_t *copy;

	snap_writer_init(&w);
	w.flags = 0x5;
	snap_section_begin(&w, T_CONF, 0);
	snap_put_u32(&w, 0xdeadbeef);
	snap_put_u64(&w, 0x0123456789abcdefull);
	snap_put_str(&w, "hello");
	snap_section_end(&w);
	for (uint32_t i = 0; i < 2; i++) {
		snap_section_begin(&w, T_VCPU, i);
		snap_put(&w, blob, sizeof(blob));
		snap_section_end(&w);
	}
	snap_section_begin(&w, T_EMTY, 7);
	snap_section_end(&w);
	assert_int_equal(snap_writer_finish(&w, &data, len, &e), 0);
	copy = malloc(*len);
	assert_non_null(copy);
	memcpy(copy, data, *len);
	snap_writer_free(&w);
	return copy;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Recompute every hash of a crafted file (nsections sections), as a writer would. */
static void rehash(uint8_t *f, size_t len)
{
	uint32_t n = rd32(f + 20);
	size_t off = SNAP_HEADER_SIZE;

	wr64(f + 56, XXH64(f, 56, 0));
	for (uint32_t i = 0; i < n && off + SNAP_SECTION_HEADER_SIZE <= len; i++) {
		uint64_t slen = rd64(f + off + 8);
		uint8_t *tmp = malloc(16 + slen);

		assert_true(off + SNAP_SECTION_HEADER_SIZE + slen <= len);
		memcpy(tmp, f + off, 16);
		memcpy(tmp + 16, f + off + SNAP_SECTION_HEADER_SIZE, slen);
		wr64(f + off + 16, XXH64(tmp, 16 + slen, 0));
		free(tmp);
		off += SNAP_SECTION_HEADER_SIZE + ((slen + 7) & ~7ull);
	}
}

static void expect_reject(const uint8_t *f, size_t len, const char *msg)
{
	struct snap_reader r;
	struct err e = { "" };

	assert_int_equal(snap_reader_init(&r, f, len, &e), -EINVAL);
	if (msg)
		assert_string_equal(e.msg, msg);
	assert_null(r.sections);
}

static void test_round_trip(void **state)
{
	struct snap_reader r;
	struct snap_cursor c;
	struct err e = { "" };
	uint8_t got[sizeof(blob)];
	char s[16];
	size_t len;
	uint8_t *f = small_file(&len);

	(void)state;
	assert_int_equal(len % 8, 0);
	assert_int_equal(snap_reader_init(&r, f, len, &e), 0);
	assert_int_equal(r.version, SNAP_VERSION);
	assert_int_equal(r.arch, SNAP_ARCH_X86_64);
	assert_int_equal(r.nsections, 4);
	assert_int_equal(r.flags, 0x5);

	assert_true(snap_find(&r, T_CONF, 0, &c));
	assert_int_equal(snap_get_u32(&c), 0xdeadbeef);
	assert_int_equal(snap_get_u64(&c), 0x0123456789abcdefull);
	assert_int_equal(snap_get_str(&c, s, sizeof(s)), 0);
	assert_string_equal(s, "hello");
	assert_int_equal(snap_cursor_done(&c, "config", &e), 0);

	for (uint32_t i = 0; i < 2; i++) {
		assert_true(snap_find(&r, T_VCPU, i, &c));
		assert_int_equal(c.left, sizeof(blob));
		assert_int_equal(snap_get(&c, got, sizeof(got)), 0);
		assert_memory_equal(got, blob, sizeof(blob));
		assert_int_equal(snap_cursor_done(&c, "registers", &e), 0);
	}
	assert_true(snap_find(&r, T_EMTY, 7, &c));
	assert_int_equal(c.left, 0);
	assert_non_null(snap_get_ptr(&c, 0));
	assert_int_equal(snap_cursor_done(&c, "nothing", &e), 0);

	assert_false(snap_find(&r, T_VCPU, 2, &c));
	assert_false(snap_find(&r, T_EMTY, 0, &c));
	assert_false(snap_find(&r, T_MANY, 0, &c));
	assert_int_equal(snap_count(&r, T_VCPU), 2);
	assert_int_equal(snap_count(&r, T_CONF), 1);
	assert_int_equal(snap_count(&r, T_MANY), 0);
	snap_reader_free(&r);
	free(f);
}

static void test_empty_file_and_many_sections(void **state)
{
	struct snap_writer w;
	struct snap_reader r;
	struct snap_cursor c;
	const uint8_t *data;
	struct err e = { "" };
	size_t len;

	(void)state;
	snap_writer_init(&w);
	assert_int_equal(snap_writer_finish(&w, &data, &len, &e), 0);
	assert_int_equal(len, SNAP_HEADER_SIZE);
	assert_int_equal(snap_reader_init(&r, data, len, &e), 0);
	assert_int_equal(r.nsections, 0);
	snap_reader_free(&r);
	snap_writer_free(&w);

	snap_writer_init(&w);
	for (uint32_t i = 0; i < SNAP_MAX_SECTIONS; i++) {
		snap_section_begin(&w, T_MANY, i);
		snap_put_u32(&w, i * 3);
		snap_section_end(&w);
	}
	assert_int_equal(snap_writer_finish(&w, &data, &len, &e), 0);
	assert_int_equal(snap_reader_init(&r, data, len, &e), 0);
	assert_int_equal(snap_count(&r, T_MANY), SNAP_MAX_SECTIONS);
	for (uint32_t i = 0; i < SNAP_MAX_SECTIONS; i += 97) {
		assert_true(snap_find(&r, T_MANY, i, &c));
		assert_int_equal(snap_get_u32(&c), i * 3);
		assert_int_equal(snap_cursor_done(&c, "n", &e), 0);
	}
	snap_reader_free(&r);

	/* One more is refused by the writer (the reader would refuse it). */
	snap_section_begin(&w, T_MANY, SNAP_MAX_SECTIONS);
	snap_section_end(&w);
	assert_int_equal(snap_writer_finish(&w, &data, &len, &e), -EINVAL);
	snap_writer_free(&w);
}

static void test_writer_misuse(void **state)
{
	struct snap_writer w;
	const uint8_t *data;
	struct err e = { "" };
	size_t len;

	(void)state;
	snap_writer_init(&w);
	snap_put_u32(&w, 1);            /* outside a section */
	assert_int_equal(snap_writer_finish(&w, &data, &len, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "misused"));
	snap_writer_free(&w);

	snap_writer_init(&w);
	snap_section_begin(&w, T_CONF, 0);
	assert_int_equal(snap_writer_finish(&w, &data, &len, &e), -EINVAL);
	snap_writer_free(&w);

	snap_writer_init(&w);
	snap_section_begin(&w, T_CONF, 0);
	snap_section_begin(&w, T_CONF, 1);      /* nested */
	snap_section_end(&w);
	assert_int_equal(snap_writer_finish(&w, &data, &len, &e), -EINVAL);
	snap_writer_free(&w);

	snap_writer_init(&w);
	snap_section_end(&w);                   /* nothing open */
	assert_int_equal(snap_writer_finish(&w, &data, &len, &e), -EINVAL);
	snap_writer_free(&w);

	/* Past the largest file a reader accepts: refused before any copy or allocation. */
	snap_writer_init(&w);
	snap_section_begin(&w, T_CONF, 0);
	snap_put(&w, &w, SNAP_MAX_FILE_SIZE);
	snap_section_end(&w);
	assert_int_equal(snap_writer_finish(&w, &data, &len, &e), -EFBIG);
	assert_string_equal(e.msg, "state file: larger than 268435456 bytes");
	snap_writer_free(&w);

	snap_writer_init(&w);
	for (int i = 0; i < 2; i++) {           /* the same section twice */
		snap_section_begin(&w, T_VCPU, 3);
		snap_section_end(&w);
	}
	assert_int_equal(snap_writer_finish(&w, &data, &len, &e), -EINVAL);
	snap_writer_free(&w);
}

static void test_cursor_over_read(void **state)
{
	struct snap_reader r;
	struct snap_cursor c;
	struct err e = { "" };
	uint8_t big[32];
	char s[16];
	size_t len;
	uint8_t *f = small_file(&len);

	(void)state;
	assert_int_equal(snap_reader_init(&r, f, len, &e), 0);

	/* 13 bytes: a u64 fits, the next one does not. */
	assert_true(snap_find(&r, T_VCPU, 1, &c));
	assert_int_equal(snap_get_u64(&c), 0x0807060504030201ull);
	assert_int_equal(c.error, 0);
	assert_int_equal(snap_get_u64(&c), 0);
	assert_int_equal(c.error, -EINVAL);
	/* Sticky: even what would fit now fails, and snap_get zeroes its output. */
	assert_int_equal(snap_get_u32(&c), 0);
	memset(big, 0xaa, sizeof(big));
	assert_int_equal(snap_get(&c, big, 2), -EINVAL);
	assert_int_equal(big[0], 0);
	assert_int_equal(big[1], 0);
	assert_int_equal(big[2], 0xaa);
	assert_null(snap_get_ptr(&c, 0));
	assert_int_equal(snap_cursor_done(&c, "registers", &e), -EINVAL);
	assert_string_equal(e.msg, "section VCPU/1: registers is malformed (cut short or invalid)");

	assert_true(snap_find(&r, T_VCPU, 0, &c));
	memset(big, 0xaa, sizeof(big));
	assert_int_equal(snap_get(&c, big, sizeof(big)), -EINVAL);
	for (size_t i = 0; i < sizeof(big); i++)
		assert_int_equal(big[i], 0);
	assert_null(snap_get_ptr(&c, SIZE_MAX));

	/* Trailing bytes. */
	assert_true(snap_find(&r, T_VCPU, 0, &c));
	assert_non_null(snap_get_ptr(&c, 9));
	assert_int_equal(snap_cursor_done(&c, "registers", &e), -EINVAL);
	assert_string_equal(e.msg, "section VCPU/0: registers is malformed (4 trailing bytes)");

	/* Strings: one too long for the buffer is an error, not a truncation. */
	assert_true(snap_find(&r, T_CONF, 0, &c));
	assert_non_null(snap_get_ptr(&c, 12));
	assert_int_equal(snap_get_str(&c, s, 5), -EINVAL);
	assert_string_equal(s, "");
	assert_int_equal(snap_cursor_done(&c, "name", &e), -EINVAL);
	assert_true(snap_find(&r, T_CONF, 0, &c));
	assert_non_null(snap_get_ptr(&c, 12));
	assert_int_equal(snap_get_str(&c, s, 6), 0);
	assert_string_equal(s, "hello");

	/* A string whose length runs past the payload: the blob read as a string. */
	assert_true(snap_find(&r, T_VCPU, 0, &c));
	assert_int_equal(snap_get_str(&c, s, sizeof(s)), -EINVAL);
	assert_int_equal(c.error, -EINVAL);
	snap_reader_free(&r);
	free(f);
}

static void test_string_with_nul(void **state)
{
	static const uint8_t payload[] = { 3, 0, 0, 0, 'a', 0, 'b' };
	struct snap_writer w;
	struct snap_reader r;
	struct snap_cursor c;
	const uint8_t *data;
	struct err e = { "" };
	char s[16];
	size_t len;

	(void)state;
	snap_writer_init(&w);
	snap_section_begin(&w, T_CONF, 0);
	snap_put(&w, payload, sizeof(payload));
	snap_section_end(&w);
	assert_int_equal(snap_writer_finish(&w, &data, &len, &e), 0);
	assert_int_equal(snap_reader_init(&r, data, len, &e), 0);
	assert_true(snap_find(&r, T_CONF, 0, &c));
	assert_int_equal(snap_get_str(&c, s, sizeof(s)), -EINVAL);
	snap_reader_free(&r);
	snap_writer_free(&w);
}

/* Flip every bit pattern of every byte in turn: each corrupted file is refused. */
static void test_every_byte_flip(void **state)
{
	static const uint8_t xors[] = { 0x01, 0x80, 0xff, 0x10 };
	struct snap_reader r;
	struct err e;
	size_t len;
	uint8_t *f = small_file(&len);
	uint8_t *g = malloc(len);

	(void)state;
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < sizeof(xors); k++) {
			memcpy(g, f, len);
			g[i] ^= xors[k];
			e.msg[0] = '\0';
			if (snap_reader_init(&r, g, len, &e) != -EINVAL)
				fail_msg("byte %zu ^ 0x%02x accepted", i, xors[k]);
			assert_true(e.msg[0] != '\0');
		}
	}
	free(g);
	free(f);
}

static void test_every_truncation(void **state)
{
	struct snap_reader r;
	struct err e;
	size_t len;
	uint8_t *f = small_file(&len);

	(void)state;
	for (size_t n = 0; n < len; n++) {
		/* A copy of exactly n bytes, so ASan sees any read past it. */
		uint8_t *g = malloc(n ? n : 1);

		memcpy(g, f, n);
		if (snap_reader_init(&r, g, n, &e) != -EINVAL)
			fail_msg("%zu of %zu bytes accepted", n, len);
		free(g);
	}
	expect_reject(f, 100, NULL);
	snap_reader_init(&r, f, 100, &e);
	assert_string_equal(e.msg, "truncated: 100 of 216 bytes");
	expect_reject(f, 63, "truncated: 63 bytes, shorter than the 64-byte header");
	expect_reject(f, 0, "empty file, not a lodge snapshot");
	free(f);
}

static void test_header_messages(void **state)
{
	size_t len;
	uint8_t *f = small_file(&len);
	uint8_t *g = malloc(len + 5);

	(void)state;
	assert_int_equal(len, 216);
	memcpy(g, f, len);
	g[0] = 'X';
	expect_reject(g, len, "not a lodge snapshot (bad magic)");
	expect_reject((const uint8_t *)"ELF", 3, "not a lodge snapshot (bad magic)");

	memcpy(g, f, len);
	wr32(g + 8, 2);
	expect_reject(g, len, "format version 2, this lodge reads 1");
	rehash(g, len);
	expect_reject(g, len, "format version 2, this lodge reads 1");

	memcpy(g, f, len);
	wr32(g + 12, 183);
	rehash(g, len);
	expect_reject(g, len, "architecture 183, this lodge runs x86_64 (62)");

	memcpy(g, f, len);
	g[30] ^= 1;
	expect_reject(g, len, "header checksum mismatch");

	memcpy(g, f, len);
	wr32(g + 16, 72);
	rehash(g, len);
	expect_reject(g, len, "header size 72, expected 64");

	memcpy(g, f, len);
	g[47] = 1;
	rehash(g, len);
	expect_reject(g, len, "reserved header bytes are not zero");

	memcpy(g, f, len);
	memset(g + len, 0, 5);
	expect_reject(g, len + 5, "5 bytes past the end");

	memcpy(g, f, len);
	wr32(g + 20, 5000);
	rehash(g, len);
	expect_reject(g, len, "5000 sections, more than the 4096 a state file may have");

	/* Fewer sections than the file holds: the rest is trailing garbage. */
	memcpy(g, f, len);
	wr32(g + 20, 3);
	rehash(g, len);
	expect_reject(g, len, "24 bytes after the last section");

	/* More sections than the file holds. */
	memcpy(g, f, len);
	wr32(g + 20, 5);
	rehash(g, len);
	expect_reject(g, len, "section 5 of 5: header past the end of the file");
	free(g);
	free(f);
}

static void test_section_messages(void **state)
{
	size_t len;
	uint8_t *f = small_file(&len);
	uint8_t *g = malloc(len);
	size_t vcpu1 = 64 + 24 + 24 + 24 + 16;  /* CONF's payload is 21 bytes, padded to 24 */

	(void)state;
	memcpy(g, f, len);
	assert_int_equal(rd32(g + vcpu1), T_VCPU);
	assert_int_equal(rd32(g + vcpu1 + 4), 1);
	g[vcpu1 + 24 + 3] ^= 0x40;
	expect_reject(g, len, "section VCPU/1: checksum mismatch");

	/* The tag and instance are covered by the section's hash. */
	memcpy(g, f, len);
	g[vcpu1 + 4] = 0;
	expect_reject(g, len, "section VCPU/0: checksum mismatch");
	memcpy(g, f, len);
	g[vcpu1 + 3] = 1;
	expect_reject(g, len, "section VCP?/1: checksum mismatch");

	/* Same tag and instance twice, hashes right. */
	memcpy(g, f, len);
	g[vcpu1 + 4] = 0;
	rehash(g, len);
	expect_reject(g, len, "section VCPU/0: appears twice");

	memcpy(g, f, len);
	g[vcpu1 + 24 + 13] = 1;
	rehash(g, len);
	expect_reject(g, len, "section VCPU/1: padding is not zero");

	memcpy(g, f, len);
	wr64(g + vcpu1 + 8, 1ull << 63);
	expect_reject(g, len, "section VCPU/1: 9223372036854775808 bytes, past the end of the file");
	wr64(g + vcpu1 + 8, UINT64_MAX);
	expect_reject(g, len, "section VCPU/1: 18446744073709551615 bytes, past the end of the file");
	/* The last section's payload fits, its padding does not. */
	memcpy(g, f, len);
	wr32(g + 20, 3);
	wr64(g + 24, 212);
	wr64(g + vcpu1 + 8, 33);
	rehash(g, 212);
	expect_reject(g, 212, "section VCPU/1: 33 bytes, past the end of the file");
	free(g);
	free(f);
}

static void test_tag_name(void **state)
{
	char b[5];

	(void)state;
	assert_string_equal(snap_tag_name(T_VCPU, b), "VCPU");
	assert_string_equal(snap_tag_name(SNAP_TAG('a', 0, 0x7f, 0xc3), b), "a???");
}

/* ---- Files. ---- */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/lodge-test-snapshot-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	char p[sizeof(tmpdir) + sizeof(de->d_name) + 1];

	(void)state;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
			unlink(p);
		}
	}
	closedir(d);
	return rmdir(tmpdir);
}

/* How many entries (dir) holds besides . and .. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void write_raw(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void test_atomic_write_and_open(void **state)
{
	struct snap_reader r;
	struct snap_cursor c;
	struct err e = { "" };
	struct stat st;
	char path[128], cwd[4096];
	size_t len;
	uint8_t *f = small_file(&len);

	(void)state;
	snprintf(path, sizeof(path), "%s/state", tmpdir);
	assert_int_equal(snap_write_file_atomic(path, f, len, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, len);
	assert_int_equal(snap_reader_open(&r, path, &e), 0);
	assert_non_null(r.owned);
	assert_true(snap_find(&r, T_VCPU, 1, &c));
	snap_reader_free(&r);

	/* A bare name is relative to the working directory. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(snap_write_file_atomic("state", f, len, &e), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(snap_reader_open(&r, path, &e), 0);
	snap_reader_free(&r);

	/* Replacing: the new contents, and nothing else left in the directory. */
	assert_int_equal(snap_write_file_atomic(path, f, 64, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 64);
	assert_int_equal(count_entries(tmpdir), 1);

	/* A file the reader refuses: the message names the path. */
	f[10] ^= 1;
	assert_int_equal(snap_write_file_atomic(path, f, len, &e), 0);
	assert_int_equal(snap_reader_open(&r, path, &e), -EINVAL);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, ": format version 65537, this lodge reads 1"));
	assert_null(r.owned);
	unlink(path);
	free(f);
}

static void test_atomic_write_failures(void **state)
{
	struct rlimit old, small;
	struct err e = { "" };
	char path[128], expect[256];
	size_t len;
	uint8_t *f = small_file(&len);
	struct stat st;

	(void)state;
	/* A directory that does not exist. */
	snprintf(path, sizeof(path), "%s/no-such-dir/state", tmpdir);
	assert_int_equal(snap_write_file_atomic(path, f, len, &e), -ENOENT);
	snprintf(expect, sizeof(expect), "%s: No such file or directory", path);
	assert_string_equal(e.msg, expect);

	/* A directory nobody can create files in, even root. */
	assert_true(snap_write_file_atomic("/proc/lodge-state", f, len, &e) < 0);
	assert_non_null(strstr(e.msg, "/proc/lodge-state: "));

	assert_int_equal(snap_write_file_atomic("", f, len, &e), -EINVAL);
	snprintf(path, sizeof(path), "%s/", tmpdir);
	assert_int_equal(snap_write_file_atomic(path, f, len, &e), -EINVAL);

	/* The rename fails (a non-empty directory is in the way): no temp file left. */
	snprintf(path, sizeof(path), "%s/in-the-way", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(expect, sizeof(expect), "%s/in-the-way/x", tmpdir);
	write_raw(expect, "x", 1);
	assert_true(snap_write_file_atomic(path, f, len, &e) < 0);
	assert_int_equal(count_entries(tmpdir), 1);
	unlink(expect);
	rmdir(path);

	/* A write that fails halfway (a file size limit): the old file survives, no temp file. */
	snprintf(path, sizeof(path), "%s/state", tmpdir);
	assert_int_equal(snap_write_file_atomic(path, f, 64, &e), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 100;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	assert_int_equal(snap_write_file_atomic(path, f, len, &e), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	snprintf(expect, sizeof(expect), "%s: File too large", path);
	assert_string_equal(e.msg, expect);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 64);
	assert_int_equal(count_entries(tmpdir), 1);
	unlink(path);
	free(f);
}

static void test_open_errors(void **state)
{
	struct snap_reader r;
	struct err e = { "" };
	char path[128], expect[256];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_int_equal(snap_reader_open(&r, path, &e), -ENOENT);
	snprintf(expect, sizeof(expect), "%s: No such file or directory", path);
	assert_string_equal(e.msg, expect);

	assert_int_equal(snap_reader_open(&r, tmpdir, &e), -EINVAL);
	snprintf(expect, sizeof(expect), "%s: not a regular file", tmpdir);
	assert_string_equal(e.msg, expect);

	/* Too large: refused from its size, before reading anything (sparse). */
	snprintf(path, sizeof(path), "%s/huge", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)SNAP_MAX_FILE_SIZE + 1), 0);
	close(fd);
	assert_int_equal(snap_reader_open(&r, path, &e), -EFBIG);
	snprintf(expect, sizeof(expect), "%s: %llu bytes, larger than any lodge state file", path,
		 SNAP_MAX_FILE_SIZE + 1);
	assert_string_equal(e.msg, expect);
	unlink(path);

	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	write_raw(path, "", 0);
	assert_int_equal(snap_reader_open(&r, path, &e), -EINVAL);
	snprintf(expect, sizeof(expect), "%s: empty file, not a lodge snapshot", path);
	assert_string_equal(e.msg, expect);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest mem_tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_file_and_many_sections),
		cmocka_unit_test(test_writer_misuse),
		cmocka_unit_test(test_cursor_over_read),
		cmocka_unit_test(test_string_with_nul),
		cmocka_unit_test(test_every_byte_flip),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_header_messages),
		cmocka_unit_test(test_section_messages),
		cmocka_unit_test(test_tag_name),
	};
	const struct CMUnitTest file_tests[] = {
		cmocka_unit_test(test_atomic_write_and_open),
		cmocka_unit_test(test_atomic_write_failures),
		cmocka_unit_test(test_open_errors),
	};
	int failed = cmocka_run_group_tests_name("snapshot format", mem_tests, NULL, NULL);

	return failed + cmocka_run_group_tests_name("snapshot files", file_tests,
						    make_tmpdir, remove_tmpdir);
}
