/*
 * The snapshot state file: a versioned container of self-describing,
 * checksummed sections (docs/SNAPSHOTS.md).
 *
 *   header   (64 bytes, little-endian)
 *     0  magic      "LODGSNAP"
 *     8  u32 version          SNAP_VERSION; a reader refuses any other
 *    12  u32 arch             SNAP_ARCH_X86_64 (the ELF machine number, 62)
 *    16  u32 header_size      64
 *    20  u32 nsections
 *    24  u64 file_size        the whole file's length (truncation check)
 *    32  u64 flags            SNAP_F_* bits
 *    40  u8  reserved[16]     zero
 *    56  u64 header_hash      XXH64 (seed 0) of bytes 0..55
 *   sections, one after another, each 8-byte aligned:
 *     0  u32 tag              four ASCII bytes ("VCPU"), see SNAP_TAG()
 *     4  u32 instance         which one of its kind (vCPU index, device index)
 *     8  u64 length           payload bytes (not counting padding)
 *    16  u64 hash             XXH64 (seed 0) of bytes 0..15 and then the payload
 *    24  payload, then zero padding to a multiple of 8
 *
 * Writers build the whole file in memory and commit it atomically (a
 * temporary file in the same directory, fsync, rename, fsync of the
 * directory): an earlier file at the path survives any failure. Readers
 * validate the header and every section's bounds and hash before anyone
 * looks at a payload, and then hand out bounded cursors: a short or
 * malformed payload is an error, never a read past its end.
 */
#ifndef LODGE_SNAPSHOT_FORMAT_H
#define LODGE_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define SNAP_MAGIC "LODGSNAP"
#define SNAP_VERSION 1u
#define SNAP_ARCH_X86_64 62u
#define SNAP_HEADER_SIZE 64u
#define SNAP_SECTION_HEADER_SIZE 24u
#define SNAP_MAX_SECTIONS 4096u
/* Largest state file a reader accepts (guest memory lives in its own file). */
#define SNAP_MAX_FILE_SIZE (256ull << 20)

#define SNAP_TAG(a, b, c, d) \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

/* ---- Writing. ---- */

struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	size_t section_start;   /* offset of the open section's header, or SIZE_MAX */
	uint32_t nsections;
	uint64_t flags;
	int error;              /* first failure (-ENOMEM, or -EINVAL for misuse); sticky */
};

void snap_writer_init(struct snap_writer *w);
void snap_writer_free(struct snap_writer *w);

/* Open a section; every put until snap_section_end() goes into it. */
void snap_section_begin(struct snap_writer *w, uint32_t tag, uint32_t instance);
void snap_put(struct snap_writer *w, const void *data, size_t len);
void snap_put_u32(struct snap_writer *w, uint32_t v);
void snap_put_u64(struct snap_writer *w, uint64_t v);
/* A string: u32 length, then the bytes (no terminator). */
void snap_put_str(struct snap_writer *w, const char *s);
/* Close the open section: fill in its length and hash, pad to 8 bytes. */
void snap_section_end(struct snap_writer *w);

/* Finish the header and return the whole file in (*data, *len) (owned by w). 0 or -errno. */
int snap_writer_finish(struct snap_writer *w, const uint8_t **data, size_t *len, struct err *e);

/*
 * Write (len) bytes to (path) atomically: a temporary file beside it,
 * fsync, rename over (path), fsync of the directory. On any failure the
 * temporary file is removed and whatever was at (path) is untouched.
 * 0 or -errno with (e) naming the path and the cause ("No space left on device").
 */
int snap_write_file_atomic(const char *path, const void *data, size_t len, struct err *e);

/*
 * The two halves of snap_write_file_atomic, for files written some other
 * way (guest memory): snap_tmp_open creates ".NAME.tmp-XXXXXX" beside
 * (path), mode 0600, and returns its fd with (*tmp) its malloc'd name, or
 * -errno; snap_tmp_commit renames it over (path) and fsyncs the directory,
 * 0 or -errno (the caller unlinks (tmp) when the rename failed). Errors name (path).
 */
int snap_tmp_open(const char *path, char **tmp, struct err *e);
int snap_tmp_commit(const char *tmp, const char *path, struct err *e);

/* ---- Reading. ---- */

struct snap_section {
	uint32_t tag, instance;
	const uint8_t *data;
	uint64_t len;
};

struct snap_reader {
	uint8_t *owned;                 /* the file's bytes when snap_reader_open read them */
	const uint8_t *data;
	size_t len;
	uint32_t version, arch, nsections;
	uint64_t flags;
	struct snap_section *sections;  /* nsections entries, in file order */
};

/* A bounded view of one section's payload. */
struct snap_cursor {
	const uint8_t *p;
	size_t left;
	uint32_t tag, instance;
	int error;                      /* -EINVAL once a get ran past the end; sticky */
};

/*
 * Validate (data, len) as a state file: magic, version, architecture,
 * header hash, file size, every section's bounds, padding and hash.
 * (data) must outlive (r). 0, or -EINVAL with one line in (e), e.g.
 * "not a lodge snapshot (bad magic)", "format version 2, this lodge reads 1",
 * "truncated: 1000 of 4096 bytes", "section VCPU/1: checksum mismatch".
 */
int snap_reader_init(struct snap_reader *r, const void *data, size_t len, struct err *e);

/* Read (path) whole (at most SNAP_MAX_FILE_SIZE) and snap_reader_init it; errors name the path. */
int snap_reader_open(struct snap_reader *r, const char *path, struct err *e);

void snap_reader_free(struct snap_reader *r);

/* The section (tag, instance): true and (*c) set up, or false. */
bool snap_find(const struct snap_reader *r, uint32_t tag, uint32_t instance, struct snap_cursor *c);

/* How many sections carry (tag). */
unsigned snap_count(const struct snap_reader *r, uint32_t tag);

/* Copy (len) bytes out; on a short payload zero (dst), set c->error, return -EINVAL. */
int snap_get(struct snap_cursor *c, void *dst, size_t len);
uint32_t snap_get_u32(struct snap_cursor *c);
uint64_t snap_get_u64(struct snap_cursor *c);
/* A string written by snap_put_str, copied into (dst) of (cap) bytes, NUL-terminated; -EINVAL if too long. */
int snap_get_str(struct snap_cursor *c, char *dst, size_t cap);
/* Pointer to the next (len) bytes in place, or NULL (and c->error) when fewer are left. */
const void *snap_get_ptr(struct snap_cursor *c, size_t len);

/*
 * Finish with a section: 0 when nothing went wrong and every byte was
 * consumed, else -EINVAL with (e) = "section TAG/INSTANCE: (what) is
 * malformed" (short or trailing bytes).
 */
int snap_cursor_done(const struct snap_cursor *c, const char *what, struct err *e);

/* "VCPU" for a tag (printable characters only; others as '?'). (buf) has 5 bytes. */
const char *snap_tag_name(uint32_t tag, char buf[5]);

#endif
