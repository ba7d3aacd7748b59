/*
 * ELF reader for the PVH and multiboot loaders (System V gABI, "ELF Header",
 * "Program Header", "Sections", "Note Section"). The host is x86 like the
 * guest, so headers are read with memcpy into <elf.h>'s structs; every offset
 * and size is checked against the file before use, without overflow.
 */
#include "boot/elf.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot/loader.h"

bool elf_is_elf(const uint8_t *data, size_t size)
{
	return size >= SELFMAG && memcmp(data, ELFMAG, SELFMAG) == 0;
}

/* True when [off, off + len) lies inside a file of (size) bytes. */
static bool in_file(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

static int parse_ident(const uint8_t *data, size_t size, struct err *e)
{
	if (!elf_is_elf(data, size))
		return errf(e, -ENOEXEC, "not an ELF file (no \\x7fELF magic)");
	if (size < EI_NIDENT)
		return errf(e, -ENOEXEC, "ELF file truncated (%zu bytes, identification needs %d)",
			    size, EI_NIDENT);
	if (data[EI_CLASS] != ELFCLASS32 && data[EI_CLASS] != ELFCLASS64)
		return errf(e, -ENOEXEC, "ELF class %u is neither ELF32 nor ELF64",
			    data[EI_CLASS]);
	if (data[EI_DATA] != ELFDATA2LSB)
		return errf(e, -ENOEXEC, "ELF file is not little-endian (EI_DATA %u)",
			    data[EI_DATA]);
	if (data[EI_VERSION] != EV_CURRENT)
		return errf(e, -ENOEXEC, "ELF identification version %u is not 1",
			    data[EI_VERSION]);
	return 0;
}

/* Copy the class-specific header fields into (f). */
static int read_ehdr(struct elf_file *f, uint16_t *type, uint32_t *version, struct err *e)
{
	size_t need = f->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);

	if (f->size < need)
		return errf(e, -ENOEXEC, "ELF file truncated (%zu bytes, its header needs %zu)",
			    f->size, need);
	if (f->is64) {
		Elf64_Ehdr h;

		memcpy(&h, f->data, sizeof(h));
		*type = h.e_type;
		*version = h.e_version;
		f->machine = h.e_machine;
		f->entry = h.e_entry;
		f->phoff = h.e_phoff;
		f->phnum = h.e_phnum;
		f->phentsize = h.e_phentsize;
		f->shoff = h.e_shoff;
		f->shnum = h.e_shnum;
		f->shentsize = h.e_shentsize;
	} else {
		Elf32_Ehdr h;

		memcpy(&h, f->data, sizeof(h));
		*type = h.e_type;
		*version = h.e_version;
		f->machine = h.e_machine;
		f->entry = h.e_entry;
		f->phoff = h.e_phoff;
		f->phnum = h.e_phnum;
		f->phentsize = h.e_phentsize;
		f->shoff = h.e_shoff;
		f->shnum = h.e_shnum;
		f->shentsize = h.e_shentsize;
	}
	return 0;
}

int elf_parse(struct elf_file *f, const uint8_t *data, size_t size, struct err *e)
{
	unsigned want_machine, want_phent;
	uint16_t type = 0;
	uint32_t version = 0;
	int r;

	memset(f, 0, sizeof(*f));
	r = parse_ident(data, size, e);
	if (r < 0)
		return r;
	f->data = data;
	f->size = size;
	f->is64 = data[EI_CLASS] == ELFCLASS64;
	r = read_ehdr(f, &type, &version, e);
	if (r < 0)
		return r;

	want_machine = f->is64 ? EM_X86_64 : EM_386;
	want_phent = f->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (version != EV_CURRENT)
		return errf(e, -ENOEXEC, "ELF e_version %u is not 1", version);
	if (f->machine != want_machine)
		return errf(e, -ENOEXEC, "ELF%d e_machine %u is not %s", f->is64 ? 64 : 32,
			    f->machine, f->is64 ? "x86-64 (62)" : "i386 (3)");
	if (type != ET_EXEC)
		return errf(e, -ENOEXEC, "ELF e_type %u is not an executable (ET_EXEC)", type);
	if (f->phnum == 0)
		return errf(e, -ENOEXEC, "ELF file has no program headers");
	if (f->phnum == PN_XNUM || f->phnum > ELF_MAX_PHDRS)
		return errf(e, -EINVAL, "ELF file has too many program headers (%u > %d)",
			    f->phnum, ELF_MAX_PHDRS);
	if (f->phentsize != want_phent)
		return errf(e, -EINVAL, "ELF e_phentsize %u is not %u", f->phentsize, want_phent);
	/* phnum * phentsize <= 256 * 56: no overflow. */
	if (!in_file(f->phoff, (uint64_t)f->phnum * f->phentsize, size))
		return errf(e, -EINVAL,
			    "ELF program header table extends past end of file (e_phoff 0x%llx + %u * %u > size 0x%zx)",
			    (unsigned long long)f->phoff, f->phnum, f->phentsize, size);
	return 0;
}

int elf_phdr(const struct elf_file *f, unsigned i, struct elf_phdr *ph, struct err *e)
{
	const uint8_t *p = f->data + f->phoff + (uint64_t)i * f->phentsize;

	if (f->is64) {
		Elf64_Phdr h;

		memcpy(&h, p, sizeof(h));
		*ph = (struct elf_phdr){ h.p_type, h.p_offset, h.p_vaddr, h.p_paddr,
					 h.p_filesz, h.p_memsz, h.p_align };
	} else {
		Elf32_Phdr h;

		memcpy(&h, p, sizeof(h));
		*ph = (struct elf_phdr){ h.p_type, h.p_offset, h.p_vaddr, h.p_paddr,
					 h.p_filesz, h.p_memsz, h.p_align };
	}
	if (ph->type != ELF_PT_LOAD && ph->type != ELF_PT_NOTE)
		return 0;       /* the rest are never looked at */
	if (!in_file(ph->offset, ph->filesz, f->size))
		return errf(e, -EINVAL,
			    "ELF program header %u extends past end of file (offset 0x%llx + 0x%llx > size 0x%zx)",
			    i, (unsigned long long)ph->offset, (unsigned long long)ph->filesz,
			    f->size);
	if (ph->type != ELF_PT_LOAD)
		return 0;
	if (ph->filesz > ph->memsz)
		return errf(e, -EINVAL,
			    "ELF program header %u has p_filesz 0x%llx > p_memsz 0x%llx", i,
			    (unsigned long long)ph->filesz, (unsigned long long)ph->memsz);
	if (ph->paddr > UINT64_MAX - ph->memsz)
		return errf(e, -EINVAL,
			    "ELF program header %u wraps around the address space (paddr 0x%llx + memsz 0x%llx)",
			    i, (unsigned long long)ph->paddr, (unsigned long long)ph->memsz);
	return 0;
}

/*
 * Walk the notes in (p, len), each aligned to (align) (gABI "Note Section":
 * namesz, descsz, type, then name and desc each padded to the alignment).
 */
static int note_walk(const uint8_t *p, uint64_t len, uint64_t align, const char *what,
		     const char *name, uint32_t type, const uint8_t **desc,
		     uint32_t *descsz, struct err *e)
{
	size_t nlen = strlen(name);
	uint64_t off = 0;

	/* Fewer than 12 bytes left is trailing padding. */
	while (len - off >= 12) {
		uint32_t nsz = le32(p + off), dsz = le32(p + off + 4), ntype = le32(p + off + 8);
		uint64_t desc_off, next;

		/* Sums of 32-bit sizes and an offset below 2^63: no overflow. */
		desc_off = (off + 12 + nsz + align - 1) & ~(align - 1);
		next = (desc_off + dsz + align - 1) & ~(align - 1);
		if (desc_off + dsz > len)
			return errf(e, -EINVAL,
				    "ELF note at offset 0x%llx of %s runs past its end (namesz %u, descsz %u, 0x%llx bytes left)",
				    (unsigned long long)off, what, nsz, dsz,
				    (unsigned long long)(len - off));
		if (ntype == type && (nsz == nlen + 1 || nsz == nlen) &&
		    memcmp(p + off + 12, name, nlen) == 0 &&
		    (nsz == nlen || p[off + 12 + nlen] == '\0')) {
			*desc = p + desc_off;
			*descsz = dsz;
			return 1;
		}
		if (next >= len)
			break;
		off = next;
	}
	return 0;
}

static int find_note_in_sections(const struct elf_file *f, const char *name, uint32_t type,
				 const uint8_t **desc, uint32_t *descsz, struct err *e)
{
	unsigned want = f->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	char what[48];

	if (f->shnum == 0)
		return 0;
	if (f->shentsize != want)
		return errf(e, -EINVAL, "ELF e_shentsize %u is not %u", f->shentsize, want);
	if (!in_file(f->shoff, (uint64_t)f->shnum * f->shentsize, f->size))
		return errf(e, -EINVAL,
			    "ELF section header table extends past end of file (e_shoff 0x%llx + %u * %u > size 0x%zx)",
			    (unsigned long long)f->shoff, f->shnum, f->shentsize, f->size);
	for (unsigned i = 0; i < f->shnum; i++) {
		const uint8_t *p = f->data + f->shoff + (uint64_t)i * f->shentsize;
		uint64_t off, size, align;
		uint32_t stype;
		int r;

		if (f->is64) {
			Elf64_Shdr h;

			memcpy(&h, p, sizeof(h));
			stype = h.sh_type, off = h.sh_offset, size = h.sh_size, align = h.sh_addralign;
		} else {
			Elf32_Shdr h;

			memcpy(&h, p, sizeof(h));
			stype = h.sh_type, off = h.sh_offset, size = h.sh_size, align = h.sh_addralign;
		}
		if (stype != ELF_SHT_NOTE)
			continue;
		if (!in_file(off, size, f->size))
			return errf(e, -EINVAL,
				    "ELF section %u (notes) extends past end of file (offset 0x%llx + 0x%llx > size 0x%zx)",
				    i, (unsigned long long)off, (unsigned long long)size, f->size);
		snprintf(what, sizeof(what), "note section %u", i);
		r = note_walk(f->data + off, size, align == 8 ? 8 : 4, what, name, type, desc,
			      descsz, e);
		if (r != 0)
			return r;
	}
	return 0;
}

int elf_find_note(const struct elf_file *f, const char *name, uint32_t type,
		  const uint8_t **desc, uint32_t *descsz, struct err *e)
{
	bool have_pt_note = false;
	char what[48];

	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_phdr ph;
		int r = elf_phdr(f, i, &ph, e);

		if (r < 0)
			return r;
		if (ph.type != ELF_PT_NOTE)
			continue;
		have_pt_note = true;
		snprintf(what, sizeof(what), "PT_NOTE segment %u", i);
		r = note_walk(f->data + ph.offset, ph.filesz, ph.align == 8 ? 8 : 4, what, name,
			      type, desc, descsz, e);
		if (r != 0)
			return r;
	}
	if (have_pt_note)
		return 0;
	return find_note_in_sections(f, name, type, desc, descsz, e);
}

/* Check every PT_LOAD before anything is written, so a bad file loads nothing. */
static int check_segments(const struct gmem *m, const struct elf_file *f,
			  struct elf_span *span, struct err *e)
{
	unsigned nload = 0;

	span->start = UINT64_MAX;
	span->end = 0;
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_phdr ph;
		char what[40];
		int r = elf_phdr(f, i, &ph, e);

		if (r < 0)
			return r;
		if (ph.type != ELF_PT_LOAD || ph.memsz == 0)
			continue;
		snprintf(what, sizeof(what), "ELF segment %u", i);
		r = boot_check_kernel_range(m, ph.paddr, ph.memsz, what, e);
		if (r < 0)
			return r;
		for (unsigned j = 0; j < i; j++) {
			struct elf_phdr other;

			elf_phdr(f, j, &other, NULL);
			if (other.type != ELF_PT_LOAD || other.memsz == 0)
				continue;
			if (ph.paddr < other.paddr + other.memsz &&
			    other.paddr < ph.paddr + ph.memsz)
				return errf(e, -EINVAL,
					    "ELF segments %u and %u overlap (0x%llx+0x%llx and 0x%llx+0x%llx)",
					    j, i, (unsigned long long)other.paddr,
					    (unsigned long long)other.memsz,
					    (unsigned long long)ph.paddr,
					    (unsigned long long)ph.memsz);
		}
		if (ph.paddr < span->start)
			span->start = ph.paddr;
		if (ph.paddr + ph.memsz > span->end)
			span->end = ph.paddr + ph.memsz;
		nload++;
	}
	if (nload == 0)
		return errf(e, -ENOEXEC, "ELF file has no loadable (PT_LOAD) segments");
	return 0;
}

int elf_load(const struct gmem *m, const struct elf_file *f, struct elf_span *span,
	     struct err *e)
{
	int r = check_segments(m, f, span, e);

	if (r < 0)
		return r;
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_phdr ph;

		elf_phdr(f, i, &ph, NULL);
		if (ph.type != ELF_PT_LOAD || ph.memsz == 0)
			continue;
		/* Both ranges were checked to lie inside guest RAM. */
		if (gmem_write(m, ph.paddr, f->data + ph.offset, ph.filesz) < 0 ||
		    gmem_zero(m, ph.paddr + ph.filesz, ph.memsz - ph.filesz) < 0)
			return errf(e, -EFAULT, "ELF segment %u: cannot write guest memory at 0x%llx",
				    i, (unsigned long long)ph.paddr);
	}
	return 0;
}

uint64_t elf_virt_to_phys(const struct elf_file *f, uint64_t addr)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_phdr ph;

		elf_phdr(f, i, &ph, NULL);
		if (ph.type == ELF_PT_LOAD && addr >= ph.vaddr && addr - ph.vaddr < ph.memsz)
			return ph.paddr + (addr - ph.vaddr);
	}
	return addr;
}

bool elf_paddr_loaded(const struct elf_file *f, uint64_t addr)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct elf_phdr ph;

		elf_phdr(f, i, &ph, NULL);
		if (ph.type == ELF_PT_LOAD && addr >= ph.paddr && addr - ph.paddr < ph.memsz)
			return true;
	}
	return false;
}
