/*
 * The snapshot state file (format.h): an in-memory writer, the atomic
 * commit to disk, and a reader that validates everything before it hands
 * out bounded cursors. The file is hostile input: every length is checked
 * against what is left before it is added to anything.
 */
#include "snapshot/format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* For XXH64_state_t on the stack (its layout is fixed within xxHash 0.8). */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

/* Header fields (format.h). */
#define H_MAGIC         0
#define H_VERSION       8
#define H_ARCH          12
#define H_HEADER_SIZE   16
#define H_NSECTIONS     20
#define H_FILE_SIZE     24
#define H_FLAGS         32
#define H_RESERVED      40
#define H_RESERVED_LEN  16
#define H_HASH          56

/* Section header fields. */
#define S_TAG           0
#define S_INSTANCE      4
#define S_LENGTH        8
#define S_HASH          16

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void set_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void set_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Bytes of zero padding after a payload of (len) bytes. */
static size_t pad8(uint64_t len)
{
	return (size_t)((8 - (len & 7)) & 7);
}

/*
 * A section's hash: XXH64 (seed 0) of its tag, instance and length (header
 * bytes 0..15) followed by its payload, so that a flipped tag or instance
 * is caught as surely as a flipped payload byte.
 */
static uint64_t section_hash(const uint8_t *h, const uint8_t *payload, uint64_t len)
{
	XXH64_state_t st;

	XXH64_reset(&st, 0);
	XXH64_update(&st, h, S_HASH);
	XXH64_update(&st, payload, (size_t)len);
	return XXH64_digest(&st);
}

const char *snap_tag_name(uint32_t tag, char buf[5])
{
	for (int i = 0; i < 4; i++) {
		uint8_t ch = (uint8_t)(tag >> (8 * i));

		buf[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	buf[4] = '\0';
	return buf;
}

/* ---- Writing. ---- */

void snap_writer_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->section_start = SIZE_MAX;
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	snap_writer_init(w);
}

/* Append (len) bytes (zeros when data is NULL); false once w->error is set. */
static bool append(struct snap_writer *w, const void *data, size_t len)
{
	if (w->error)
		return false;
	if (len > SNAP_MAX_FILE_SIZE - w->len) {
		/* The reader would refuse it; stop before allocating that much. */
		w->error = -EFBIG;
		return false;
	}
	if (w->len + len > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		uint8_t *nb;

		while (cap < w->len + len)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->error = -ENOMEM;
			return false;
		}
		w->buf = nb;
		w->cap = cap;
	}
	if (data)
		memcpy(w->buf + w->len, data, len);
	else
		memset(w->buf + w->len, 0, len);
	w->len += len;
	return true;
}

/* The header's 64 bytes come first; they are filled in by snap_writer_finish(). */
static bool reserve_header(struct snap_writer *w)
{
	return w->len || append(w, NULL, SNAP_HEADER_SIZE);
}

/* Whether a section (tag, instance) is already in the buffer. */
static bool writer_has(const struct snap_writer *w, uint32_t tag, uint32_t instance)
{
	size_t off = SNAP_HEADER_SIZE;

	for (uint32_t i = 0; i < w->nsections; i++) {
		const uint8_t *h = w->buf + off;

		if (get_le32(h + S_TAG) == tag && get_le32(h + S_INSTANCE) == instance)
			return true;
		off += SNAP_SECTION_HEADER_SIZE + get_le64(h + S_LENGTH) + pad8(get_le64(h + S_LENGTH));
	}
	return false;
}

void snap_section_begin(struct snap_writer *w, uint32_t tag, uint32_t instance)
{
	uint8_t h[SNAP_SECTION_HEADER_SIZE] = { 0 };

	if (w->error)
		return;
	if (w->section_start != SIZE_MAX || w->nsections >= SNAP_MAX_SECTIONS ||
	    writer_has(w, tag, instance)) {
		w->error = -EINVAL;
		return;
	}
	if (!reserve_header(w))
		return;
	set_le32(h + S_TAG, tag);
	set_le32(h + S_INSTANCE, instance);
	w->section_start = w->len;
	if (!append(w, h, sizeof(h)))
		w->section_start = SIZE_MAX;
}

void snap_put(struct snap_writer *w, const void *data, size_t len)
{
	if (w->error)
		return;
	if (w->section_start == SIZE_MAX) {
		w->error = -EINVAL;
		return;
	}
	if (len)
		append(w, data, len);
}

void snap_put_u32(struct snap_writer *w, uint32_t v)
{
	uint8_t b[4];

	set_le32(b, v);
	snap_put(w, b, sizeof(b));
}

void snap_put_u64(struct snap_writer *w, uint64_t v)
{
	uint8_t b[8];

	set_le64(b, v);
	snap_put(w, b, sizeof(b));
}

void snap_put_str(struct snap_writer *w, const char *s)
{
	size_t n = strlen(s);

	if (n > UINT32_MAX) {
		w->error = w->error ? w->error : -EINVAL;
		return;
	}
	snap_put_u32(w, (uint32_t)n);
	snap_put(w, s, n);
}

void snap_section_end(struct snap_writer *w)
{
	uint8_t *h;
	uint64_t len;

	if (w->error)
		return;
	if (w->section_start == SIZE_MAX) {
		w->error = -EINVAL;
		return;
	}
	h = w->buf + w->section_start;
	len = w->len - w->section_start - SNAP_SECTION_HEADER_SIZE;
	set_le64(h + S_LENGTH, len);
	set_le64(h + S_HASH, section_hash(h, h + SNAP_SECTION_HEADER_SIZE, len));
	if (!append(w, NULL, pad8(len)))
		return;
	w->section_start = SIZE_MAX;
	w->nsections++;
}

int snap_writer_finish(struct snap_writer *w, const uint8_t **data, size_t *len, struct err *e)
{
	uint8_t *h;

	if (!w->error && w->section_start != SIZE_MAX)
		w->error = -EINVAL;
	if (!w->error)
		reserve_header(w);
	switch (w->error) {
	case 0:
		break;
	case -ENOMEM:
		return errf(e, -ENOMEM, "state file: out of memory");
	case -EFBIG:
		return errf(e, -EFBIG, "state file: larger than %llu bytes",
			    (unsigned long long)SNAP_MAX_FILE_SIZE);
	default:
		return errf(e, w->error, "state file writer misused (a put outside a section, "
			    "a section left open or written twice, or more than %u sections)",
			    SNAP_MAX_SECTIONS);
	}
	h = w->buf;
	memcpy(h + H_MAGIC, SNAP_MAGIC, 8);
	set_le32(h + H_VERSION, SNAP_VERSION);
	set_le32(h + H_ARCH, SNAP_ARCH_X86_64);
	set_le32(h + H_HEADER_SIZE, SNAP_HEADER_SIZE);
	set_le32(h + H_NSECTIONS, w->nsections);
	set_le64(h + H_FILE_SIZE, w->len);
	set_le64(h + H_FLAGS, w->flags);
	memset(h + H_RESERVED, 0, H_RESERVED_LEN);
	set_le64(h + H_HASH, XXH64(h, H_HASH, 0));
	*data = w->buf;
	*len = w->len;
	return 0;
}

/* ---- The atomic commit. ---- */

/* Write all of (data, len) to (fd), across short writes and EINTR. 0 or -errno. */
static int write_all(int fd, const uint8_t *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync the directory (dir) so that a rename into it is durable. 0 or -errno. */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Write, fsync and close the new temporary file (fd); 0 or -errno. */
static int fill_tmp(int fd, const void *data, size_t len)
{
	int rc = write_all(fd, data, len);

	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	return rc;
}

/* The directory part of (path): "." for a bare name, "/" at the root. NULL without memory. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n;
	char *dir;

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	n = (size_t)(slash - path);
	dir = malloc(n + 1);
	if (dir) {
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	return dir;
}

int snap_tmp_open(const char *path, char **tmp, struct err *e)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char *dir;
	int fd;

	*tmp = NULL;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return errf(e, -EINVAL, "%s: not a file name", path);
	dir = dir_of(path);
	if (dir)
		*tmp = malloc(strlen(dir) + strlen(base) + sizeof("/..tmp-XXXXXX"));
	if (!*tmp) {
		free(dir);
		return errf(e, -ENOMEM, "%s: out of memory", path);
	}
	sprintf(*tmp, "%s/.%s.tmp-XXXXXX", dir, base);
	free(dir);
	/* mkostemp makes it 0600: snapshot files hold the guest's secrets. */
	fd = mkostemp(*tmp, O_CLOEXEC);
	if (fd < 0) {
		int rc = errf(e, -errno, "%s: %s", path, strerror(errno));

		free(*tmp);
		*tmp = NULL;
		return rc;
	}
	return fd;
}

int snap_tmp_commit(const char *tmp, const char *path, struct err *e)
{
	char *dir;
	int rc;

	if (rename(tmp, path) < 0)
		return errf(e, -errno, "%s: %s", path, strerror(errno));
	/* Renamed: the new file is in place; only its durability is in doubt now. */
	dir = dir_of(path);
	rc = dir ? fsync_dir(dir) : -ENOMEM;
	free(dir);
	return rc ? errf(e, rc, "%s: %s", path, strerror(-rc)) : 0;
}

int snap_write_file_atomic(const char *path, const void *data, size_t len, struct err *e)
{
	char *tmp;
	int fd = snap_tmp_open(path, &tmp, e), rc;

	if (fd < 0)
		return fd;
	rc = fill_tmp(fd, data, len);
	if (rc)
		errf(e, rc, "%s: %s", path, strerror(-rc));
	else
		rc = snap_tmp_commit(tmp, path, e);
	if (rc)
		unlink(tmp);    /* gone already when only the directory's fsync failed */
	free(tmp);
	return rc;
}

/* ---- Reading. ---- */

static int check_header(struct snap_reader *r, const uint8_t *d, size_t len, struct err *e)
{
	uint64_t file_size;

	if (len == 0)
		return errf(e, -EINVAL, "empty file, not a lodge snapshot");
	if (memcmp(d, SNAP_MAGIC, len < 8 ? len : 8))
		return errf(e, -EINVAL, "not a lodge snapshot (bad magic)");
	if (len < SNAP_HEADER_SIZE)
		return errf(e, -EINVAL, "truncated: %zu bytes, shorter than the %u-byte header",
			    len, SNAP_HEADER_SIZE);
	/* Version first: a newer lodge's file should say so, whatever else changed. */
	r->version = get_le32(d + H_VERSION);
	if (r->version != SNAP_VERSION)
		return errf(e, -EINVAL, "format version %u, this lodge reads %u",
			    r->version, SNAP_VERSION);
	r->arch = get_le32(d + H_ARCH);
	if (r->arch != SNAP_ARCH_X86_64)
		return errf(e, -EINVAL, "architecture %u, this lodge runs x86_64 (%u)",
			    r->arch, SNAP_ARCH_X86_64);
	if (get_le64(d + H_HASH) != XXH64(d, H_HASH, 0))
		return errf(e, -EINVAL, "header checksum mismatch");
	if (get_le32(d + H_HEADER_SIZE) != SNAP_HEADER_SIZE)
		return errf(e, -EINVAL, "header size %u, expected %u",
			    get_le32(d + H_HEADER_SIZE), SNAP_HEADER_SIZE);
	for (int i = 0; i < H_RESERVED_LEN; i++)
		if (d[H_RESERVED + i])
			return errf(e, -EINVAL, "reserved header bytes are not zero");
	file_size = get_le64(d + H_FILE_SIZE);
	if (file_size > len)
		return errf(e, -EINVAL, "truncated: %zu of %llu bytes",
			    len, (unsigned long long)file_size);
	if (file_size < len)
		return errf(e, -EINVAL, "%llu bytes past the end",
			    (unsigned long long)(len - file_size));
	r->nsections = get_le32(d + H_NSECTIONS);
	if (r->nsections > SNAP_MAX_SECTIONS)
		return errf(e, -EINVAL, "%u sections, more than the %u a state file may have",
			    r->nsections, SNAP_MAX_SECTIONS);
	r->flags = get_le64(d + H_FLAGS);
	return 0;
}

/* Validate section (i) at (*off) and record it in r->sections[i]; advance (*off). */
static int check_section(struct snap_reader *r, uint32_t i, size_t *off, struct err *e)
{
	const uint8_t *h = r->data + *off;
	struct snap_section *s = &r->sections[i];
	size_t left = r->len - *off, pad;
	char name[5];

	if (left < SNAP_SECTION_HEADER_SIZE)
		return errf(e, -EINVAL, "section %u of %u: header past the end of the file",
			    i + 1, r->nsections);
	left -= SNAP_SECTION_HEADER_SIZE;
	s->tag = get_le32(h + S_TAG);
	s->instance = get_le32(h + S_INSTANCE);
	s->len = get_le64(h + S_LENGTH);
	s->data = h + SNAP_SECTION_HEADER_SIZE;
	snap_tag_name(s->tag, name);
	pad = pad8(s->len);
	if (s->len > left || pad > left - s->len)
		return errf(e, -EINVAL, "section %s/%u: %llu bytes, past the end of the file",
			    name, s->instance, (unsigned long long)s->len);
	for (size_t k = 0; k < pad; k++)
		if (s->data[s->len + k])
			return errf(e, -EINVAL, "section %s/%u: padding is not zero",
				    name, s->instance);
	if (get_le64(h + S_HASH) != section_hash(h, s->data, s->len))
		return errf(e, -EINVAL, "section %s/%u: checksum mismatch", name, s->instance);
	for (uint32_t k = 0; k < i; k++)
		if (r->sections[k].tag == s->tag && r->sections[k].instance == s->instance)
			return errf(e, -EINVAL, "section %s/%u: appears twice", name, s->instance);
	*off += SNAP_SECTION_HEADER_SIZE + (size_t)s->len + pad;
	return 0;
}

int snap_reader_init(struct snap_reader *r, const void *data, size_t len, struct err *e)
{
	size_t off = SNAP_HEADER_SIZE;
	int rc;

	memset(r, 0, sizeof(*r));
	r->data = data;
	r->len = len;
	rc = check_header(r, data, len, e);
	if (rc)
		goto fail;
	if (r->nsections) {
		r->sections = calloc(r->nsections, sizeof(*r->sections));
		if (!r->sections) {
			rc = errf(e, -ENOMEM, "out of memory");
			goto fail;
		}
	}
	for (uint32_t i = 0; i < r->nsections; i++) {
		rc = check_section(r, i, &off, e);
		if (rc)
			goto fail;
	}
	if (off != len) {
		rc = errf(e, -EINVAL, "%zu bytes after the last section", len - off);
		goto fail;
	}
	return 0;
fail:
	free(r->sections);
	memset(r, 0, sizeof(*r));
	return rc;
}

/* Read (fd), a regular file of (size) bytes, into a new buffer; 0 or -errno. */
static int read_whole(int fd, size_t size, uint8_t **out, size_t *got)
{
	uint8_t *buf = malloc(size ? size : 1);
	size_t n = 0;

	if (!buf)
		return -ENOMEM;
	while (n < size) {
		ssize_t k = read(fd, buf + n, size - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int rc = -errno;

			free(buf);
			return rc;
		}
		if (k == 0)
			break;          /* it shrank: snap_reader_init reports the truncation */
		n += (size_t)k;
	}
	*out = buf;
	*got = n;
	return 0;
}

int snap_reader_open(struct snap_reader *r, const char *path, struct err *e)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, rc;

	memset(r, 0, sizeof(*r));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return errf(e, rc, "%s: %s", path, strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return errf(e, rc, "%s: %s", path, strerror(-rc));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return errf(e, -EINVAL, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > SNAP_MAX_FILE_SIZE) {
		close(fd);
		return errf(e, -EFBIG, "%s: %lld bytes, larger than any lodge state file",
			    path, (long long)st.st_size);
	}
	rc = read_whole(fd, (size_t)st.st_size, &buf, &got);
	close(fd);
	if (rc)
		return errf(e, rc, "%s: %s", path, strerror(-rc));
	rc = snap_reader_init(r, buf, got, e);
	if (rc) {
		free(buf);
		return errprefix(e, rc, path);
	}
	r->owned = buf;
	return 0;
}

void snap_reader_free(struct snap_reader *r)
{
	free(r->owned);
	free(r->sections);
	memset(r, 0, sizeof(*r));
}

static void cursor_at(const struct snap_section *s, struct snap_cursor *c)
{
	c->p = s->data;
	c->left = (size_t)s->len;
	c->tag = s->tag;
	c->instance = s->instance;
	c->error = 0;
}

bool snap_find(const struct snap_reader *r, uint32_t tag, uint32_t instance, struct snap_cursor *c)
{
	for (uint32_t i = 0; i < r->nsections; i++) {
		if (r->sections[i].tag == tag && r->sections[i].instance == instance) {
			cursor_at(&r->sections[i], c);
			return true;
		}
	}
	return false;
}

unsigned snap_count(const struct snap_reader *r, uint32_t tag)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < r->nsections; i++)
		n += r->sections[i].tag == tag;
	return n;
}

/* ---- Cursors. ---- */

const void *snap_get_ptr(struct snap_cursor *c, size_t len)
{
	const void *p;

	if (c->error || len > c->left) {
		c->error = -EINVAL;
		return NULL;
	}
	p = c->p;
	c->p += len;
	c->left -= len;
	return p;
}

int snap_get(struct snap_cursor *c, void *dst, size_t len)
{
	const void *p = snap_get_ptr(c, len);

	if (!p) {
		memset(dst, 0, len);
		return -EINVAL;
	}
	memcpy(dst, p, len);
	return 0;
}

uint32_t snap_get_u32(struct snap_cursor *c)
{
	const uint8_t *p = snap_get_ptr(c, 4);

	return p ? get_le32(p) : 0;
}

uint64_t snap_get_u64(struct snap_cursor *c)
{
	const uint8_t *p = snap_get_ptr(c, 8);

	return p ? get_le64(p) : 0;
}

int snap_get_str(struct snap_cursor *c, char *dst, size_t cap)
{
	uint32_t n = snap_get_u32(c);
	const char *p;

	if (cap)
		dst[0] = '\0';
	if (c->error)
		return -EINVAL;
	/* Too long for (dst), or a NUL inside: either way not what was written. */
	if (n >= cap || n > c->left || memchr(c->p, '\0', n)) {
		c->error = -EINVAL;
		return -EINVAL;
	}
	p = snap_get_ptr(c, n);
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

int snap_cursor_done(const struct snap_cursor *c, const char *what, struct err *e)
{
	char name[5];

	snap_tag_name(c->tag, name);
	if (c->error)
		return errf(e, -EINVAL, "section %s/%u: %s is malformed (cut short or invalid)",
			    name, c->instance, what);
	if (c->left)
		return errf(e, -EINVAL, "section %s/%u: %s is malformed (%zu trailing bytes)",
			    name, c->instance, what, c->left);
	return 0;
}
