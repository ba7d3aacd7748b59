/*
 * AML byte-code emitter; the grammar is ACPI 6.4 §20.2 (AML Grammar
 * Definition), the resource descriptors are §6.4.
 */
#include "arch/x86/aml.h"

#include <errno.h>
#include <string.h>

/* Opcodes (§20.2.5, §20.3). */
#define AML_ZERO_OP         0x00
#define AML_ONE_OP          0x01
#define AML_NAME_OP         0x08
#define AML_BYTE_PREFIX     0x0a
#define AML_WORD_PREFIX     0x0b
#define AML_DWORD_PREFIX    0x0c
#define AML_STRING_PREFIX   0x0d
#define AML_QWORD_PREFIX    0x0e
#define AML_SCOPE_OP        0x10
#define AML_BUFFER_OP       0x11
#define AML_PACKAGE_OP      0x12
#define AML_METHOD_OP       0x14
#define AML_DUAL_NAME       0x2e
#define AML_MULTI_NAME      0x2f
#define AML_EXT_OP_PREFIX   0x5b
#define AML_EXT_DEVICE_OP   0x82
#define AML_ARG0_OP         0x68        /* Arg0Op..Arg6Op: 0x68..0x6e */
#define AML_NOTIFY_OP       0x86
#define AML_LEQUAL_OP       0x93
#define AML_IF_OP           0xa0
#define AML_RETURN_OP       0xa4
#define AML_ROOT_CHAR       '\\'
#define AML_PARENT_CHAR     '^'

/* MethodFlags (§20.2.5.2): ArgCount in bits 0-2, SerializeFlag in bit 3. */
#define AML_METHOD_MAX_ARGS 7
#define AML_METHOD_SERIAL   0x08
#define AML_MAX_ARG         6           /* Arg6Op is the last ArgObj */

/* Resource descriptor tags (§6.4.2 small, §6.4.3 large). */
#define RES_IRQ_NOFLAGS     0x22        /* small item 0x04, length 2 */
#define RES_IO              0x47        /* small item 0x08, length 7 */
#define RES_END_TAG         0x79        /* small item 0x0f, length 1 */
#define RES_MEM32_FIXED     0x86
#define RES_EXT_IRQ         0x89

/* A PkgLength takes at most 4 bytes, so encodes at most 28 bits (§20.2.4). */
#define PKGLEN_MAX_BYTES    4
/* The longest Integer: QWordPrefix and 8 bytes. */
#define INTEGER_MAX_BYTES   9

enum aml_kind { AML_KIND_PKG, AML_KIND_RESTEMPLATE };

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	if (a->buf && a->len < a->size)
		a->buf[a->len] = b;
	a->len++;
}

static void aml_le(struct aml *a, uint64_t v, unsigned nbytes)
{
	for (unsigned i = 0; i < nbytes; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

void aml_init(struct aml *a, uint8_t *buf, size_t size)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->size = buf ? size : 0;
}

long aml_finish(const struct aml *a)
{
	if (a->err)
		return a->err;
	if (a->depth)
		return -EINVAL;
	if (a->buf && a->len > a->size)
		return -ENOSPC;
	return (long)a->len;
}

/* NameSeg (§20.2.2): a lead [A-Z_], then [A-Z0-9_], padded to 4 with '_'. */
static const char *aml_nameseg(struct aml *a, const char *p)
{
	char seg[4] = { '_', '_', '_', '_' };
	unsigned n = 0;

	for (; *p && *p != '.'; p++, n++) {
		bool lead = (*p >= 'A' && *p <= 'Z') || *p == '_';
		bool digit = *p >= '0' && *p <= '9';

		if (n == 4 || !(lead || (n > 0 && digit))) {
			aml_fail(a, -EINVAL);
			return p;
		}
		seg[n] = *p;
	}
	if (n == 0)
		aml_fail(a, -EINVAL);
	for (unsigned i = 0; i < 4; i++)
		aml_byte(a, (uint8_t)seg[i]);
	return p;
}

void aml_namestring(struct aml *a, const char *path)
{
	unsigned nsegs = 0;
	bool prefixed = false;

	if (*path == AML_ROOT_CHAR) {
		aml_byte(a, AML_ROOT_CHAR);
		path++;
		prefixed = true;
	} else {
		for (; *path == AML_PARENT_CHAR; path++, prefixed = true)
			aml_byte(a, AML_PARENT_CHAR);
	}
	if (*path)
		nsegs = 1;
	for (const char *p = path; *p; p++)
		nsegs += *p == '.';
	if (nsegs == 0) {
		/* "\" alone is the root; a bare "" or "^" names nothing. */
		if (!prefixed || path[-1] != AML_ROOT_CHAR)
			aml_fail(a, -EINVAL);
		aml_byte(a, 0x00); /* NullName */
		return;
	}
	if (nsegs > 255) {
		aml_fail(a, -EINVAL);
		return;
	}
	if (nsegs == 2) {
		aml_byte(a, AML_DUAL_NAME);
	} else if (nsegs > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t)nsegs);
	}
	for (unsigned i = 0; i < nsegs; i++) {
		path = aml_nameseg(a, path);
		if (a->err)
			return;
		if (*path == '.')
			path++;
	}
}

void aml_name(struct aml *a, const char *path)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, path);
}

/* Encode (v) as an Integer into (out, INTEGER_MAX_BYTES); returns its length. */
static unsigned aml_integer_encode(uint64_t v, uint8_t *out)
{
	unsigned n;

	if (v == 0) {
		out[0] = AML_ZERO_OP;
		return 1;
	}
	if (v == 1) {
		out[0] = AML_ONE_OP;
		return 1;
	}
	if (v <= UINT8_MAX) {
		out[0] = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= UINT16_MAX) {
		out[0] = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= UINT32_MAX) {
		out[0] = AML_DWORD_PREFIX;
		n = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		n = 8;
	}
	for (unsigned i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return 1 + n;
}

void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t enc[INTEGER_MAX_BYTES];
	unsigned n = aml_integer_encode(v, enc);

	for (unsigned i = 0; i < n; i++)
		aml_byte(a, enc[i]);
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	for (; *s; s++) {
		if ((unsigned char)*s > 0x7f)
			aml_fail(a, -EINVAL);
		aml_byte(a, (uint8_t)*s);
	}
	aml_byte(a, 0x00);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A PNP ID "AAAdddd" compresses to 5 bits per letter ('A' = 1) and 4 per
 * hex digit, stored so that the bytes in memory read AAA then dddd in
 * big-endian order (§6.1.5; what ASL's EISAID() produces).
 */
void aml_eisaid(struct aml *a, const char *id)
{
	uint8_t bytes[4];
	unsigned letters = 0;
	int d[4];

	if (strlen(id) != 7) {
		aml_fail(a, -EINVAL);
		return;
	}
	for (unsigned i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			aml_fail(a, -EINVAL);
			return;
		}
		letters = (letters << 5) | (unsigned)(id[i] - 0x40);
	}
	for (unsigned i = 0; i < 4; i++) {
		d[i] = hex_digit(id[3 + i]);
		if (d[i] < 0) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	bytes[0] = (uint8_t)(letters >> 8);
	bytes[1] = (uint8_t)letters;
	bytes[2] = (uint8_t)(d[0] << 4 | d[1]);
	bytes[3] = (uint8_t)(d[2] << 4 | d[3]);
	aml_integer(a, (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 |
			       (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24);
}

/*
 * Remember where the object's PkgLength goes; aml_end() inserts it there
 * once the contents are known, so the output only ever grows and a buffer
 * of the final size is enough.
 */
static void aml_open(struct aml *a, enum aml_kind kind)
{
	if (a->depth == AML_MAX_DEPTH) {
		aml_fail(a, -EINVAL);
		return;
	}
	a->open[a->depth] = a->len;
	a->kind[a->depth] = (uint8_t)kind;
	a->depth++;
}

void aml_scope(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_open(a, AML_KIND_PKG);
	aml_namestring(a, path);
}

void aml_device(struct aml *a, const char *path)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_EXT_DEVICE_OP);
	aml_open(a, AML_KIND_PKG);
	aml_namestring(a, path);
}

void aml_package(struct aml *a, uint8_t nelems)
{
	aml_byte(a, AML_PACKAGE_OP);
	aml_open(a, AML_KIND_PKG);
	aml_byte(a, nelems);
}

void aml_method(struct aml *a, const char *path, unsigned nargs, bool serialized)
{
	aml_byte(a, AML_METHOD_OP);
	aml_open(a, AML_KIND_PKG);
	aml_namestring(a, path);
	if (nargs > AML_METHOD_MAX_ARGS)
		aml_fail(a, -EINVAL);
	aml_byte(a, (uint8_t)((nargs & AML_METHOD_MAX_ARGS) |
			      (serialized ? AML_METHOD_SERIAL : 0)));
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN_OP);
}

void aml_if(struct aml *a)
{
	aml_byte(a, AML_IF_OP);
	aml_open(a, AML_KIND_PKG);
}

void aml_lequal(struct aml *a)
{
	aml_byte(a, AML_LEQUAL_OP);
}

void aml_arg(struct aml *a, unsigned n)
{
	if (n > AML_MAX_ARG) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, (uint8_t)(AML_ARG0_OP + n));
}

void aml_notify(struct aml *a, const char *path, uint8_t value)
{
	aml_byte(a, AML_NOTIFY_OP);
	aml_namestring(a, path);
	aml_integer(a, value);
}

void aml_restemplate(struct aml *a)
{
	aml_byte(a, AML_BUFFER_OP);
	aml_open(a, AML_KIND_RESTEMPLATE);
}

/*
 * PkgLength (§20.2.4) for a package whose contents after the PkgLength are
 * (body) bytes: the value counts its own bytes too. One byte holds up to 63;
 * longer forms put the byte count - 1 in bits 7-6 of the lead byte, the low
 * nibble in bits 3-0, then whole bytes. Returns the length, 0 if too long.
 */
static unsigned pkglen_encode(size_t body, uint8_t *out)
{
	size_t v;

	if (body + 1 <= 0x3f) {
		out[0] = (uint8_t)(body + 1);
		return 1;
	}
	for (unsigned n = 2; n <= PKGLEN_MAX_BYTES; n++) {
		v = body + n;
		if (v >> (4 + 8 * (n - 1)))
			continue;
		out[0] = (uint8_t)((n - 1) << 6 | (v & 0xf));
		for (unsigned i = 1; i < n; i++)
			out[i] = (uint8_t)(v >> (4 + 8 * (i - 1)));
		return n;
	}
	return 0;
}

/*
 * Insert (hdr, n) at (at), moving what follows up. Only the part of the
 * stream inside the buffer exists; whatever moves past its end is dropped,
 * and then the final length exceeds the buffer too.
 */
static void aml_insert(struct aml *a, size_t at, const uint8_t *hdr, unsigned n)
{
	if (a->buf && at + n <= a->size) {
		size_t end = a->len < a->size - n ? a->len : a->size - n;

		memmove(a->buf + at + n, a->buf + at, end - at);
	}
	for (unsigned i = 0; a->buf && i < n && at + i < a->size; i++)
		a->buf[at + i] = hdr[i];
	a->len += n;
}

/* End Tag (§6.4.2.9): its checksum makes all the template's bytes sum to 0. */
static void aml_end_tag(struct aml *a, size_t data)
{
	uint8_t sum = RES_END_TAG;

	if (a->buf && a->len <= a->size) {
		for (size_t i = data; i < a->len; i++)
			sum = (uint8_t)(sum + a->buf[i]);
	}
	aml_byte(a, RES_END_TAG);
	aml_byte(a, (uint8_t)-sum);
}

void aml_end(struct aml *a)
{
	uint8_t hdr[PKGLEN_MAX_BYTES + INTEGER_MAX_BYTES];
	unsigned nsize = 0, npkg;
	size_t start;

	if (a->depth == 0) {
		aml_fail(a, -EINVAL);
		return;
	}
	a->depth--;
	start = a->open[a->depth];
	if (a->kind[a->depth] == AML_KIND_RESTEMPLATE) {
		uint8_t size_enc[INTEGER_MAX_BYTES];

		aml_end_tag(a, start);
		/* DefBuffer := BufferOp PkgLength BufferSize ByteList (§20.2.5.4). */
		nsize = aml_integer_encode(a->len - start, size_enc);
		npkg = pkglen_encode(a->len - start + nsize, hdr);
		memcpy(hdr + npkg, size_enc, nsize);
	} else {
		npkg = pkglen_encode(a->len - start, hdr);
	}
	if (npkg == 0) {
		aml_fail(a, -ENOSPC);
		return;
	}
	aml_insert(a, start, hdr, npkg + nsize);
}

/* Resource descriptors may only appear inside aml_restemplate(). */
static bool aml_in_template(struct aml *a)
{
	if (a->depth && a->kind[a->depth - 1] == AML_KIND_RESTEMPLATE)
		return true;
	aml_fail(a, -EINVAL);
	return false;
}

void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
	if (!aml_in_template(a))
		return;
	aml_byte(a, RES_IO);
	aml_byte(a, 0x01);      /* Information: decodes 16 address bits */
	aml_le(a, base, 2);     /* range minimum base */
	aml_le(a, base, 2);     /* range maximum base: fixed */
	aml_byte(a, 1);         /* base alignment */
	aml_byte(a, len);
}

void aml_res_irq_noflags(struct aml *a, uint8_t irq)
{
	if (!aml_in_template(a))
		return;
	if (irq > 15) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, RES_IRQ_NOFLAGS);
	aml_le(a, 1u << irq, 2);        /* IRQ mask */
}

void aml_res_mem32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t size)
{
	if (!aml_in_template(a))
		return;
	aml_byte(a, RES_MEM32_FIXED);
	aml_le(a, 9, 2);                /* length of what follows */
	aml_byte(a, writable ? 1 : 0);  /* Information: bit 0 read/write */
	aml_le(a, base, 4);
	aml_le(a, size, 4);
}

void aml_res_ext_irq(struct aml *a, uint8_t flags, uint32_t gsi)
{
	if (!aml_in_template(a))
		return;
	aml_byte(a, RES_EXT_IRQ);
	aml_le(a, 6, 2);                /* flags, count, one interrupt; no resource source */
	aml_byte(a, flags);
	aml_byte(a, 1);                 /* interrupt table length */
	aml_le(a, gsi, 4);
}
