/*
 * A strict reader for x86 ELF executables (ELF32 i386 and ELF64 x86-64,
 * little-endian, ET_EXEC), used by the PVH and multiboot loaders. The file is
 * untrusted: the header and the program header table are bounds-checked by
 * elf_parse(), each program header by elf_phdr(), each note by the note walk.
 * Field layouts follow the System V gABI, "ELF Header", "Program Header" and
 * "Note Section".
 */
#ifndef LODGE_BOOT_ELF_H
#define LODGE_BOOT_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm/mem.h"
#include "util/err.h"

/* More program headers than this is not a kernel (and keeps checks linear-ish). */
#define ELF_MAX_PHDRS 256

#define ELF_PT_LOAD   1
#define ELF_PT_NOTE   4
#define ELF_SHT_NOTE  7

struct elf_file {
	const uint8_t *data;
	size_t size;
	bool is64;
	uint16_t machine;
	uint64_t entry;
	uint64_t phoff;
	unsigned phnum;
	unsigned phentsize;
	uint64_t shoff;
	unsigned shnum;
	unsigned shentsize;
};

/* One program header, widened to 64 bits whatever the class. */
struct elf_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* The guest-physical span the loaded segments cover. */
struct elf_span {
	uint64_t start, end;
};

/* True when (data, size) starts with the ELF magic. */
bool elf_is_elf(const uint8_t *data, size_t size);

/*
 * Validate the ELF header of (data, size) and the bounds of its program header
 * table, and fill (f), which points into (data). 0 or -ENOEXEC/-EINVAL.
 */
int elf_parse(struct elf_file *f, const uint8_t *data, size_t size, struct err *e);

/*
 * Read program header (i) of (f) into (ph), checking that its file bytes lie
 * inside the file and that filesz <= memsz and paddr + memsz does not wrap.
 * 0 or -EINVAL.
 */
int elf_phdr(const struct elf_file *f, unsigned i, struct elf_phdr *ph, struct err *e);

/*
 * Find the note named (name) of (type) in the PT_NOTE segments of (f), or, if
 * there are none, in its SHT_NOTE sections. Returns 1 with (desc, descsz)
 * pointing into the file, 0 when there is no such note, or -EINVAL with (e)
 * set when a note container or a note in it is malformed.
 */
int elf_find_note(const struct elf_file *f, const char *name, uint32_t type,
		  const uint8_t **desc, uint32_t *descsz, struct err *e);

/*
 * Load every PT_LOAD segment of (f) at its physical address: file bytes
 * copied, the rest up to memsz zeroed. Segments must lie in guest RAM at or
 * above 1 MiB and must not overlap one another. Fills (span). 0 or -errno.
 */
int elf_load(const struct gmem *m, const struct elf_file *f, struct elf_span *span,
	     struct err *e);

/*
 * Translate (addr) to a physical address: if it falls inside some PT_LOAD's
 * [vaddr, vaddr + memsz), the matching physical address, else (addr) itself.
 * (f) must have passed elf_load.
 */
uint64_t elf_virt_to_phys(const struct elf_file *f, uint64_t addr);

/* True when physical (addr) lies inside a loaded PT_LOAD segment of (f). */
bool elf_paddr_loaded(const struct elf_file *f, uint64_t addr);

#endif
