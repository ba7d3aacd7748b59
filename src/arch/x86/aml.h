/*
 * A small emitter of ACPI Machine Language (ACPI 6.4 §20.2), enough for a
 * DSDT that names devices with their _HID, _UID and _CRS, and for small
 * methods (Return, If, LEqual, Notify). Writes go to a caller buffer; writes
 * that do not fit are dropped but still counted, so a pass with no buffer
 * measures the output. Objects with a PkgLength (Scope, Device, Package,
 * Buffer, Method, If) are opened and then closed with aml_end(), which
 * fills in the length; errors are sticky and reported by aml_finish().
 * Operators take their operands from the calls that follow them.
 *
 *   aml_device(a, "V000");
 *     aml_name(a, "_HID"); aml_string(a, "LNRO0005");
 *     aml_name(a, "_CRS"); aml_restemplate(a);
 *       aml_res_mem32_fixed(a, true, base, size);
 *     aml_end(a);
 *   aml_end(a);
 *
 *   aml_method(a, "_EVT", 1, false);          Method (_EVT, 1)
 *     aml_if(a); aml_lequal(a);               If (Arg0 == 3)
 *       aml_arg(a, 0); aml_integer(a, 3);
 *       aml_notify(a, "\\_SB.VGEN", 0x80);      Notify (\_SB.VGEN, 0x80)
 *     aml_end(a);
 *   aml_end(a);
 */
#ifndef LODGE_ARCH_X86_AML_H
#define LODGE_ARCH_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

struct aml {
	uint8_t *buf;                   /* NULL: only measure */
	size_t size;
	size_t len;                     /* bytes emitted, including those dropped */
	int err;                        /* first error (-EINVAL), or 0 */
	unsigned depth;
	size_t open[AML_MAX_DEPTH];     /* where each open object's PkgLength goes */
	uint8_t kind[AML_MAX_DEPTH];
};

/* Start emitting into (buf, size); buf may be NULL (with any size) to measure. */
void aml_init(struct aml *a, uint8_t *buf, size_t size);

/*
 * Check that every object was closed. Returns the number of bytes emitted
 * (or measured), -EINVAL after a bad name, string or nesting, or -ENOSPC if
 * the output did not fit the buffer (which then holds an unusable stream).
 */
long aml_finish(const struct aml *a);

/*
 * A NameString (§20.2.2) from a path such as "\\_SB.COM1", "_HID" or
 * "^FOO"; segments shorter than 4 characters are padded with '_'.
 */
void aml_namestring(struct aml *a, const char *path);

/* DefName (§20.2.5.1): NameOp and (path); the caller emits the data object next. */
void aml_name(struct aml *a, const char *path);

/* Integer (§20.2.3) in the shortest encoding: Zero, One, Byte/Word/DWord/QWordPrefix. */
void aml_integer(struct aml *a, uint64_t v);

/* String (§20.2.3): StringPrefix, ASCII (s) without NUL (1..0x7f), NullChar. */
void aml_string(struct aml *a, const char *s);

/* A 7-character PNP ID such as "PNP0501" as a compressed EISA ID DWord (§6.1.5). */
void aml_eisaid(struct aml *a, const char *id);

/* DefScope (§20.2.5.1) and DefDevice (§20.2.5.2) named (path); close with aml_end(). */
void aml_scope(struct aml *a, const char *path);
void aml_device(struct aml *a, const char *path);

/* DefPackage (§20.2.5.4) of (nelems) data objects, emitted next; close with aml_end(). */
void aml_package(struct aml *a, uint8_t nelems);

/*
 * DefMethod (§20.2.5.2) named (path) taking (nargs) 0..7 arguments,
 * serialized or not, sync level 0; emit its body, then aml_end().
 */
void aml_method(struct aml *a, const char *path, unsigned nargs, bool serialized);

/* DefReturn (§20.2.5.3); the caller emits the returned term next. */
void aml_return(struct aml *a);

/*
 * DefIfElse without Else (§20.2.5.3); the caller emits the predicate, then
 * the body, then aml_end().
 */
void aml_if(struct aml *a);

/* DefLEqual (§20.2.5.4); the caller emits the two operands next. */
void aml_lequal(struct aml *a);

/* ArgObj (§20.2.6.1): Arg0..Arg6 of the enclosing method, (n) 0..6. */
void aml_arg(struct aml *a, unsigned n);

/* DefNotify (§20.2.5.3): Notify ((path), (value)) (§5.6.6). */
void aml_notify(struct aml *a, const char *path, uint8_t value);

/*
 * A Buffer holding a resource template (§6.4): emit descriptors with the
 * aml_res_* calls, then aml_end() adds the End Tag with its checksum and
 * fills in the buffer's size.
 */
void aml_restemplate(struct aml *a);

/* Close the innermost open object. */
void aml_end(struct aml *a);

/* Resource descriptors (§6.4.2, §6.4.3), only inside aml_restemplate(). */

/* I/O Port Descriptor (§6.4.2.5), 16-bit decode, fixed at (base), (len) ports. */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len);

/* IRQ Descriptor without flags (§6.4.2.1): ISA (irq) 0..15, edge, active high, exclusive. */
void aml_res_irq_noflags(struct aml *a, uint8_t irq);

/* 32-bit Fixed Memory Range Descriptor (§6.4.3.4). */
void aml_res_mem32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t size);

/* Extended Interrupt Descriptor flags (§6.4.3.6). */
#define AML_IRQ_CONSUMER   0x01
#define AML_IRQ_EDGE       0x02
#define AML_IRQ_ACTIVE_LOW 0x04
#define AML_IRQ_SHARED     0x08
#define AML_IRQ_WAKE       0x10

/* Extended Interrupt Descriptor (§6.4.3.6) for one (gsi), AML_IRQ_* (flags). */
void aml_res_ext_irq(struct aml *a, uint8_t flags, uint32_t gsi);

#endif
