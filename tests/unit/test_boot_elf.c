/*
 * ELF kernels: the PVH loader (and the ELF reader under it) and multiboot
 * ELF kernels, against small ELF32/ELF64 images built here, then bent into
 * every malformed shape the reader must refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "boot/loader.h"
#include "boot/multiboot_abi.h"
#include "boot/pvh_abi.h"
#include "boot_fixture.h"

#define MiB (1ULL << 20)
#define IMG_CAP 0x8000
#define MAX_SEGS 4

struct seg {
	uint32_t type;
	uint64_t paddr, vaddr, filesz, memsz, align;
	const uint8_t *data;            /* first bytes of the segment; the rest is a pattern */
	size_t datalen;
};

struct elf_spec {
	bool is64;
	uint64_t entry;
	unsigned nseg;
	struct seg seg[MAX_SEGS];
	int note_section;               /* >= 0: also describe seg[n] as an SHT_NOTE section */
};

/* The ELF builder's state, kept at the fixture's ->extra. */
struct elf_image {
	struct elf_spec spec;           /* what build() lays out */
	uint64_t seg_off[MAX_SEGS];     /* file offset of each segment's bytes */
	uint8_t notes[128];
};

/* (f)'s ELF builder state. */
static struct elf_image *elf(struct boot_fixture *f)
{
	return f->extra;
}

/* One note, 4-byte aligned (gABI "Note Section"). */
static size_t put_note(uint8_t *p, const char *name, uint32_t type, const void *desc,
		       uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	size_t off = 12;

	put_le32(p, namesz);
	put_le32(p + 4, descsz);
	put_le32(p + 8, type);
	memset(p + off, 0, (namesz + 3) & ~3u);
	memcpy(p + off, name, namesz);
	off += (namesz + 3) & ~3u;
	memset(p + off, 0, (descsz + 3) & ~3u);
	memcpy(p + off, desc, descsz);
	return off + ((descsz + 3) & ~3u);
}

static void put_phdr(uint8_t *p, bool is64, const struct seg *s, uint64_t off)
{
	if (is64) {
		Elf64_Phdr h = { s->type, PF_R | PF_X, off, s->vaddr, s->paddr, s->filesz,
				 s->memsz, s->align };

		memcpy(p, &h, sizeof(h));
	} else {
		Elf32_Phdr h = { s->type, (uint32_t)off, (uint32_t)s->vaddr, (uint32_t)s->paddr,
				 (uint32_t)s->filesz, (uint32_t)s->memsz, PF_R | PF_X,
				 (uint32_t)s->align };

		memcpy(p, &h, sizeof(h));
	}
}

static void put_ehdr(uint8_t *p, const struct elf_spec *s, uint64_t shoff, unsigned shnum)
{
	unsigned char ident[EI_NIDENT] = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3,
					   s->is64 ? ELFCLASS64 : ELFCLASS32, ELFDATA2LSB,
					   EV_CURRENT };

	if (s->is64) {
		Elf64_Ehdr h = { .e_type = ET_EXEC, .e_machine = EM_X86_64,
				 .e_version = EV_CURRENT, .e_entry = s->entry,
				 .e_phoff = sizeof(Elf64_Ehdr), .e_shoff = shoff,
				 .e_ehsize = sizeof(Elf64_Ehdr),
				 .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = s->nseg,
				 .e_shentsize = sizeof(Elf64_Shdr), .e_shnum = shnum };

		memcpy(h.e_ident, ident, EI_NIDENT);
		memcpy(p, &h, sizeof(h));
	} else {
		Elf32_Ehdr h = { .e_type = ET_EXEC, .e_machine = EM_386,
				 .e_version = EV_CURRENT, .e_entry = (uint32_t)s->entry,
				 .e_phoff = sizeof(Elf32_Ehdr), .e_shoff = (uint32_t)shoff,
				 .e_ehsize = sizeof(Elf32_Ehdr),
				 .e_phentsize = sizeof(Elf32_Phdr), .e_phnum = s->nseg,
				 .e_shentsize = sizeof(Elf32_Shdr), .e_shnum = shnum };

		memcpy(h.e_ident, ident, EI_NIDENT);
		memcpy(p, &h, sizeof(h));
	}
}

/* Section headers: a null one, then SHT_NOTE over segment (n)'s bytes. */
static size_t put_note_section(uint8_t *p, bool is64, uint64_t off, uint64_t size)
{
	if (is64) {
		Elf64_Shdr sh[2] = { { 0 }, { .sh_type = SHT_NOTE, .sh_offset = off,
					      .sh_size = size, .sh_addralign = 4 } };

		memcpy(p, sh, sizeof(sh));
		return sizeof(sh);
	}
	Elf32_Shdr sh[2] = { { 0 }, { .sh_type = SHT_NOTE, .sh_offset = (uint32_t)off,
				      .sh_size = (uint32_t)size, .sh_addralign = 4 } };

	memcpy(p, sh, sizeof(sh));
	return sizeof(sh);
}

/* Lay out (elf(f)->spec): header, program headers, each segment's bytes in order. */
static void build(struct boot_fixture *f)
{
	struct elf_image *x = elf(f);
	const struct elf_spec *s = &x->spec;
	size_t phsz = s->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	size_t off = (s->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)) + s->nseg * phsz;
	uint64_t shoff = 0;

	memset(f->img, 0, f->cap);
	for (unsigned i = 0; i < s->nseg; i++) {
		const struct seg *sg = &s->seg[i];

		off = (off + 15) & ~(size_t)15;
		assert_true(off + sg->filesz <= IMG_CAP);
		x->seg_off[i] = off;
		for (size_t j = 0; j < sg->filesz; j++)
			f->img[off + j] = (uint8_t)(0x11 * (i + 1) + j);
		if (sg->datalen)
			memcpy(f->img + off, sg->data, sg->datalen);
		put_phdr(f->img + (s->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)) + i * phsz,
			 s->is64, sg, off);
		off += sg->filesz;
	}
	if (s->note_section >= 0) {
		/* Sections before the last segment's bytes would break "truncation fails". */
		shoff = (off + 7) & ~(size_t)7;
		off = shoff + put_note_section(f->img + shoff, s->is64,
					       x->seg_off[s->note_section],
					       s->seg[s->note_section].filesz);
	}
	put_ehdr(f->img, s, shoff, s->note_section >= 0 ? 2 : 0);
	f->size = off;
}

/* PVH kernel: notes ("GNU" build id, then the Xen entry), two PT_LOADs (one with bss). */
static void pvh_spec(struct boot_fixture *f, bool is64, uint64_t entry, uint32_t descsz)
{
	static const uint8_t build_id[20] = { 1, 2, 3 };
	struct elf_image *x = elf(f);
	size_t n = put_note(x->notes, "GNU", NT_GNU_BUILD_ID, build_id, sizeof(build_id));

	n += put_note(x->notes + n, PVH_NOTE_NAME, PVH_NOTE_PHYS32_ENTRY, &entry, descsz);
	x->spec = (struct elf_spec){
		.is64 = is64,
		.entry = 0xffffffff81000000ULL,
		.nseg = 3,
		.seg = {
			{ PT_NOTE, 0, 0, n, n, 4, x->notes, n },
			{ PT_LOAD, 0x100000, 0xffffffff80100000ULL, 0x2000, 0x3000, 0x1000 },
			{ PT_LOAD, 0x200000, 0xffffffff80200000ULL, 0x1000, 0x1000, 0x1000 },
		},
		.note_section = -1,
	};
	if (!is64)
		x->spec.seg[1].vaddr = x->spec.seg[2].vaddr = 0;
	build(f);
}

/* Each test starts from 64 MiB of RAM and a 64-bit PVH kernel. */
static int setup(void **state)
{
	struct boot_fixture *f = boot_fixture_new(64 * MiB, IMG_CAP, sizeof(struct elf_image),
						  "console=hvc0");

	*state = f;
	if (!f)
		return -1;
	pvh_spec(f, true, 0x100010, 8);
	return 0;
}

/* Loading fails with (code) and a message containing (words). */
static void expect_fail(struct boot_fixture *f, int code, const char *words)
{
	boot_fixture_expect_fail(f, boot_load, code, words);
}

/* Patch a field of the ELF header or program header (i) in place. */
#define EHDR64(f) ((Elf64_Ehdr *)(void *)(f)->img)
static Elf64_Phdr *phdr64(struct boot_fixture *f, unsigned i)
{
	return (Elf64_Phdr *)(void *)(f->img + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr));
}

static const struct hvm_start_info *start_info(struct boot_fixture *f)
{
	return gmem_ptr(&f->m, LAYOUT_PVH_INFO, sizeof(struct hvm_start_info));
}

static void test_pvh_loads_segments(void **state)
{
	struct boot_fixture *f = *state;
	const uint8_t *p;

	/* Stale bytes where the bss goes must be cleared. */
	assert_non_null(gmem_ptr(&f->m, 0x102000, 0x1000));
	memset(gmem_ptr(&f->m, 0x102000, 0x1000), 0xff, 0x1000);
	assert_int_equal(boot_fixture_load(f), 0);
	assert_string_equal(f->out.format, "pvh-elf");
	assert_int_equal(f->out.mode, BOOT_PVH);
	assert_int_equal(f->out.rip, 0x100010);
	assert_int_equal(f->out.arg, LAYOUT_PVH_INFO);
	assert_int_equal(f->out.kernel_start, 0x100000);
	assert_int_equal(f->out.kernel_end, 0x201000);
	assert_memory_equal(gmem_ptr(&f->m, 0x100000, 0x2000), f->img + elf(f)->seg_off[1], 0x2000);
	assert_memory_equal(gmem_ptr(&f->m, 0x200000, 0x1000), f->img + elf(f)->seg_off[2], 0x1000);
	p = gmem_ptr(&f->m, 0x102000, 0x1000);
	for (unsigned i = 0; i < 0x1000; i++)
		assert_int_equal(p[i], 0);
	assert_string_equal(gmem_ptr(&f->m, LAYOUT_CMDLINE, 13), "console=hvc0");
}

static void test_pvh_start_info(void **state)
{
	struct boot_fixture *f = *state;
	static uint8_t initrd[6000];
	const struct hvm_start_info *si;
	const struct hvm_memmap_table_entry *mm;
	const struct hvm_modlist_entry *mod;

	memset(initrd, 0xa5, sizeof(initrd));
	f->in.initrd = initrd;
	f->in.initrd_size = sizeof(initrd);
	assert_int_equal(boot_fixture_load(f), 0);
	si = start_info(f);
	assert_int_equal(si->magic, 0x336ec578);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->flags, 0);
	assert_int_equal(si->cmdline_paddr, LAYOUT_CMDLINE);
	assert_int_equal(si->rsdp_paddr, 0xe0000);
	assert_int_equal(si->memmap_entries, f->map.n);
	assert_int_equal(si->reserved, 0);
	assert_true(si->memmap_paddr >= LAYOUT_PVH_INFO + sizeof(*si));
	assert_true(si->memmap_paddr + si->memmap_entries * sizeof(*mm) <=
		    LAYOUT_PVH_INFO + LAYOUT_PVH_INFO_SIZE);
	mm = gmem_ptr(&f->m, si->memmap_paddr, si->memmap_entries * sizeof(*mm));
	for (unsigned i = 0; i < f->map.n; i++) {
		assert_int_equal(mm[i].addr, f->map.e[i].addr);
		assert_int_equal(mm[i].size, f->map.e[i].size);
		assert_int_equal(mm[i].type, f->map.e[i].type);
		assert_int_equal(mm[i].reserved, 0);
	}
	assert_int_equal(si->nr_modules, 1);
	assert_true(si->modlist_paddr + sizeof(*mod) <= LAYOUT_PVH_INFO + LAYOUT_PVH_INFO_SIZE);
	mod = gmem_ptr(&f->m, si->modlist_paddr, sizeof(*mod));
	assert_int_equal(mod->paddr, (64 * MiB - sizeof(initrd)) & ~4095ULL);
	assert_int_equal(mod->size, sizeof(initrd));
	assert_int_equal(f->out.initrd_gpa, mod->paddr);
	assert_memory_equal(gmem_ptr(&f->m, mod->paddr, sizeof(initrd)), initrd, sizeof(initrd));
}

static void test_pvh_no_initrd(void **state)
{
	struct boot_fixture *f = *state;

	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(start_info(f)->nr_modules, 0);
	assert_int_equal(start_info(f)->modlist_paddr, 0);
	assert_int_equal(f->out.initrd_gpa, 0);
}

static void test_pvh_elf32_and_sections(void **state)
{
	struct boot_fixture *f = *state;

	pvh_spec(f, false, 0x200004, 4);
	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(f->out.rip, 0x200004);

	/* No PT_NOTE: the note is found through its SHT_NOTE section. */
	for (int is64 = 0; is64 < 2; is64++) {
		pvh_spec(f, is64, 0x100020, 4);
		elf(f)->spec.seg[0].type = PT_NULL;
		elf(f)->spec.note_section = 0;
		build(f);
		assert_int_equal(boot_fixture_load(f), 0);
		assert_int_equal(f->out.rip, 0x100020);
	}
}

static void test_pvh_truncated_everywhere(void **state)
{
	struct boot_fixture *f = *state;
	size_t full = f->size;

	for (int variant = 0; variant < 2; variant++) {
		boot_fixture_expect_prefixes_fail(f, full);
		pvh_spec(f, false, 0x200004, 4);
		full = f->size;
	}
	f->size = full - 1;
	expect_fail(f, -EINVAL, "ELF program header 2 extends past end of file");
}

static void test_pvh_note_missing_or_bad(void **state)
{
	struct boot_fixture *f = *state;

	elf(f)->spec.seg[0].type = PT_NULL;
	build(f);
	f->in.kernel_size = f->size;
	assert_int_equal(boot_load_pvh(&f->m, &f->in, &f->out, &f->e), -ENOEXEC);
	assert_non_null(strstr(f->e.msg, "no PVH entry note"));
	expect_fail(f, -ENOEXEC, "neither a PVH entry note");

	pvh_spec(f, true, 0x100010, 2);
	expect_fail(f, -EINVAL, "PVH entry note has descriptor size 2 (expected 4 or 8)");

	/* A namesz that runs past the PT_NOTE segment. */
	pvh_spec(f, true, 0x100010, 8);
	put_le32(f->img + elf(f)->seg_off[0], 0x7fffffff);
	expect_fail(f, -EINVAL, "runs past its end");
	pvh_spec(f, true, 0x100010, 8);
	put_le32(f->img + elf(f)->seg_off[0] + 4, 0xffffffff);
	expect_fail(f, -EINVAL, "runs past its end");
}

static void test_pvh_bad_entry(void **state)
{
	struct boot_fixture *f = *state;

	pvh_spec(f, true, 0x100100000ULL, 8);
	expect_fail(f, -EINVAL, "PVH entry point 0x100100000 is above 4 GiB");
	pvh_spec(f, true, 0x300000, 8);
	expect_fail(f, -EINVAL, "outside the kernel's loaded segments");
}

static void test_elf_header_lies(void **state)
{
	struct boot_fixture *f = *state;

	EHDR64(f)->e_phoff = f->size;
	expect_fail(f, -EINVAL, "program header table extends past end of file");
	EHDR64(f)->e_phoff = 0xffffffffffffff00ULL;
	expect_fail(f, -EINVAL, "program header table extends past end of file");
	EHDR64(f)->e_phoff = sizeof(Elf64_Ehdr);
	EHDR64(f)->e_phnum = 250;
	expect_fail(f, -EINVAL, "program header table extends past end of file");
	EHDR64(f)->e_phnum = 300;
	expect_fail(f, -EINVAL, "too many program headers");
	EHDR64(f)->e_phnum = PN_XNUM;
	expect_fail(f, -EINVAL, "too many program headers");
	EHDR64(f)->e_phnum = 0;
	expect_fail(f, -ENOEXEC, "no program headers");
	EHDR64(f)->e_phnum = 3;
	EHDR64(f)->e_phentsize = 32;
	expect_fail(f, -EINVAL, "e_phentsize 32 is not 56");
	EHDR64(f)->e_phentsize = sizeof(Elf64_Phdr);
	EHDR64(f)->e_machine = EM_ARM;
	expect_fail(f, -ENOEXEC, "e_machine");
	EHDR64(f)->e_machine = EM_X86_64;
	EHDR64(f)->e_type = ET_DYN;
	expect_fail(f, -ENOEXEC, "ET_EXEC");
	EHDR64(f)->e_type = ET_EXEC;
	f->img[EI_DATA] = ELFDATA2MSB;
	expect_fail(f, -ENOEXEC, "little-endian");
	f->img[EI_DATA] = ELFDATA2LSB;
	f->img[EI_CLASS] = 3;
	expect_fail(f, -ENOEXEC, "ELF class 3");
	f->img[EI_CLASS] = ELFCLASS64;
	assert_int_equal(boot_fixture_load(f), 0);
}

static void test_segment_lies(void **state)
{
	struct boot_fixture *f = *state;

	phdr64(f, 1)->p_offset = 0xfffffffffffffff0ULL;
	expect_fail(f, -EINVAL, "ELF program header 1 extends past end of file");
	phdr64(f, 1)->p_offset = elf(f)->seg_off[1];
	phdr64(f, 1)->p_filesz = 0xffffffffffffff00ULL;
	expect_fail(f, -EINVAL, "ELF program header 1 extends past end of file");
	phdr64(f, 1)->p_filesz = 0x2000;
	phdr64(f, 1)->p_memsz = 0x1000;
	expect_fail(f, -EINVAL, "p_filesz 0x2000 > p_memsz 0x1000");
	phdr64(f, 1)->p_memsz = 0x3000;
	phdr64(f, 1)->p_paddr = 0xfffffffffffff000ULL;
	expect_fail(f, -EINVAL, "wraps around");
	phdr64(f, 1)->p_paddr = 0x100000;
	phdr64(f, 0)->p_offset = 0xfffffffffffffff0ULL;    /* the PT_NOTE */
	expect_fail(f, -EINVAL, "ELF program header 0 extends past end of file");
}

static void test_segment_placement(void **state)
{
	struct boot_fixture *f = *state;

	phdr64(f, 2)->p_paddr = 0x10000000;
	expect_fail(f, -ERANGE, "ELF segment 2 [0x10000000, 0x10001000) is outside guest RAM");
	phdr64(f, 2)->p_paddr = 0x3fff000 + 0x800;
	expect_fail(f, -ERANGE, "outside guest RAM");
	phdr64(f, 2)->p_paddr = 0x8000;
	expect_fail(f, -EINVAL, "overlaps lodge's boot structures below 1 MiB");
	phdr64(f, 2)->p_paddr = 0x101000;
	expect_fail(f, -EINVAL, "ELF segments 1 and 2 overlap");
	phdr64(f, 2)->p_paddr = 0x200000;

	assert_int_equal(boot_fixture_ram(f, 5ULL << 30), 0);
	phdr64(f, 2)->p_paddr = 0xd0000000;
	expect_fail(f, -ERANGE, "lies in the MMIO hole");
	phdr64(f, 2)->p_paddr = GMEM_HOLE_START - 0x800;
	expect_fail(f, -ERANGE, "lies in the MMIO hole");
	phdr64(f, 2)->p_paddr = GMEM_HOLE_END + 0x100000;
	expect_fail(f, -ERANGE, "above 4 GiB");
	phdr64(f, 2)->p_paddr = 0x200000;
	assert_int_equal(boot_fixture_load(f), 0);
}

static void test_no_loadable_segment(void **state)
{
	struct boot_fixture *f = *state;

	phdr64(f, 1)->p_type = PT_NULL;
	phdr64(f, 2)->p_memsz = 0;
	phdr64(f, 2)->p_filesz = 0;
	expect_fail(f, -ENOEXEC, "no loadable");
}

static void test_pvh_limits(void **state)
{
	struct boot_fixture *f = *state;
	size_t n = LAYOUT_CMDLINE_MAX;
	char *line = malloc(n + 1);
	uint8_t *big = calloc(1, 65 * MiB);

	assert_non_null(line);
	assert_non_null(big);
	memset(line, 'x', n);
	line[n - 1] = '\0';
	f->in.cmdline = line;
	assert_int_equal(boot_fixture_load(f), 0);
	line[n - 1] = 'x';
	line[n] = '\0';
	expect_fail(f, -E2BIG, "kernel command line too long (65536 bytes > 65535 allowed by lodge)");
	f->in.cmdline = "";
	f->in.initrd = big;
	f->in.initrd_size = 65 * MiB;
	expect_fail(f, -ENOMEM, "initrd larger than guest RAM (65 MiB > 64 MiB)");
	f->in.initrd_size = 63 * MiB;
	expect_fail(f, -ENOMEM, "initrd (63 MiB) does not fit");
	f->in.initrd_size = 61 * MiB;
	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(f->out.initrd_gpa, 3 * MiB);
	free(big);
	free(line);
}

static void test_memory_too_small(void **state)
{
	struct boot_fixture *f = *state;

	gmem_destroy(&f->m);
	assert_int_equal(gmem_init(&f->m, 1536 << 10, 0), 0);
	f->map = (struct e820_map){ 1, { { 0, 1536 << 10, E820_RAM } } };
	expect_fail(f, -EINVAL, "memory too small (1.5 MiB of RAM below 4 GiB < 2 MiB minimum)");
}

/* A multiboot header (flags: page-align, memory info) to place in a segment. */
static size_t put_mb_header(uint8_t *p, uint32_t flags)
{
	put_le32(p, MB_HEADER_MAGIC);
	put_le32(p + 4, flags);
	put_le32(p + 8, -(MB_HEADER_MAGIC + flags));
	return 12;
}

static void mb_elf_spec(struct boot_fixture *f, bool is64, uint64_t entry)
{
	struct elf_image *x = elf(f);
	size_t n = put_mb_header(x->notes, MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO);

	x->spec = (struct elf_spec){
		.is64 = is64,
		.entry = entry,
		.nseg = 2,
		.seg = {
			{ PT_LOAD, 0x100000, 0xc0100000, 0x1000, 0x1000, 0x1000, x->notes, n },
			{ PT_LOAD, 0x101000, 0xc0101000, 0x800, 0x2000, 0x1000 },
		},
		.note_section = -1,
	};
	build(f);
}

static void test_random_corruption(void **state)
{
	struct boot_fixture *f = *state;

	boot_fixture_fuzz(f, f->size, 3000);
	/* Headers, program headers and notes only. */
	boot_fixture_fuzz(f, elf(f)->seg_off[1], 3000);
	mb_elf_spec(f, false, 0xc0100040);
	boot_fixture_fuzz(f, elf(f)->seg_off[1], 3000);
}

static void test_multiboot_elf(void **state)
{
	struct boot_fixture *f = *state;

	/* e_entry is virtual: it is translated through its segment. */
	mb_elf_spec(f, false, 0xc0100040);
	assert_int_equal(boot_fixture_load(f), 0);
	assert_string_equal(f->out.format, "multiboot");
	assert_int_equal(f->out.mode, BOOT_MULTIBOOT);
	assert_int_equal(f->out.rip, 0x100040);
	assert_int_equal(f->out.arg, LAYOUT_MBI);
	assert_int_equal(f->out.kernel_end, 0x103000);
	assert_memory_equal(gmem_ptr(&f->m, 0x101000, 0x800), f->img + elf(f)->seg_off[1], 0x800);

	mb_elf_spec(f, true, 0x101010);
	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(f->out.rip, 0x101010);

	mb_elf_spec(f, true, 0x100101010ULL);
	expect_fail(f, -ENOEXEC, "entry point 0x100101010 is above 4 GiB");
	mb_elf_spec(f, false, 0x500000);
	expect_fail(f, -ENOEXEC, "entry point 0x500000 is outside the kernel's loaded segments");

	mb_elf_spec(f, false, 0x100040);
	boot_fixture_expect_prefixes_fail(f, f->size);
}

static void test_pvh_wins_over_multiboot(void **state)
{
	struct boot_fixture *f = *state;

	pvh_spec(f, true, 0x100010, 8);
	put_mb_header(f->img + elf(f)->seg_off[1], MB_FLAG_MEMORY_INFO);
	assert_int_equal(boot_fixture_load(f), 0);
	assert_int_equal(f->out.mode, BOOT_PVH);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, boot_fixture_teardown)
	const struct CMUnitTest tests[] = {
		T(test_pvh_loads_segments),
		T(test_pvh_start_info),
		T(test_pvh_no_initrd),
		T(test_pvh_elf32_and_sections),
		T(test_pvh_truncated_everywhere),
		T(test_random_corruption),
		T(test_pvh_note_missing_or_bad),
		T(test_pvh_bad_entry),
		T(test_elf_header_lies),
		T(test_segment_lies),
		T(test_segment_placement),
		T(test_no_loadable_segment),
		T(test_pvh_limits),
		T(test_memory_too_small),
		T(test_multiboot_elf),
		T(test_pvh_wins_over_multiboot),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
