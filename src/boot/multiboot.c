/*
 * Multiboot (v1) loader, Multiboot Specification 0.6.96. The kernel is
 * loaded either by the header's address fields (the "a.out kludge", flags bit
 * 16) or as an ELF32/ELF64 executable by its PT_LOAD segments; modules go
 * page-aligned after the kernel; the info structure and everything it points
 * to lives in [LAYOUT_MBI, LAYOUT_MBI + LAYOUT_MBI_SIZE).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "boot/elf.h"
#include "boot/loader.h"
#include "boot/multiboot_abi.h"

#define MB_MAX_MODULES 64
#define MB_LOADER_NAME "lodge"

struct mb_header {
	size_t off;                     /* of the magic in the file */
	uint32_t flags;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

struct mb_module {
	const uint8_t *data;
	uint64_t size;
	const char *cmdline;
	uint64_t gpa;
};

static size_t mb_search_end(size_t size)
{
	return size < MB_SEARCH_LIMIT ? size : MB_SEARCH_LIMIT;
}

bool boot_has_multiboot_header(const uint8_t *k, size_t size)
{
	for (size_t off = 0; off + MB_HDR_MIN_SIZE <= mb_search_end(size); off += MB_HEADER_ALIGN)
		if (le32(k + off) == MB_HEADER_MAGIC)
			return true;
	return false;
}

/* §3.1.1: the first magic in the first 8 KiB whose checksum holds. */
static int mb_find_header(const uint8_t *k, size_t size, struct mb_header *h, struct err *e)
{
	size_t end = mb_search_end(size), bad = SIZE_MAX;

	for (size_t off = 0; off + MB_HDR_MIN_SIZE <= end; off += MB_HEADER_ALIGN) {
		uint32_t flags = le32(k + off + MB_HDR_FLAGS);

		if (le32(k + off) != MB_HEADER_MAGIC)
			continue;
		if ((uint32_t)(MB_HEADER_MAGIC + flags + le32(k + off + MB_HDR_CHECKSUM)) != 0) {
			if (bad == SIZE_MAX)
				bad = off;
			continue;
		}
		h->off = off;
		h->flags = flags;
		return 0;
	}
	if (bad != SIZE_MAX)
		return errf(e, -ENOEXEC,
			    "multiboot header at offset 0x%zx has a bad checksum (magic + flags + checksum != 0)",
			    bad);
	for (size_t off = end & ~(size_t)3; size >= 4 && off <= size - 4; off += MB_HEADER_ALIGN)
		if (le32(k + off) == MB_HEADER_MAGIC)
			return errf(e, -ENOEXEC,
				    "multiboot magic at offset 0x%zx is beyond the first 8192 bytes", off);
	return errf(e, -ENOEXEC, "no multiboot header in the first 8192 bytes");
}

/* §3.1.2 "The Multiboot header": refuse requirements lodge cannot meet. */
static int mb_check_header(const uint8_t *k, size_t size, struct mb_header *h, struct err *e)
{
	uint32_t unknown = h->flags & MB_FLAGS_REQUIRED & ~(MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO);
	const uint8_t *p = k + h->off;

	if (unknown & MB_FLAG_VIDEO_MODE)
		return errf(e, -ENOTSUP,
			    "multiboot header requires video mode information (flags bit 2), which lodge cannot provide");
	if (unknown)
		return errf(e, -ENOTSUP,
			    "multiboot header has unsupported required flags 0x%x (flags 0x%x)",
			    unknown, h->flags);
	if (!(h->flags & MB_FLAG_AOUT_KLUDGE))
		return 0;
	if (h->off + MB_HDR_AOUT_SIZE > mb_search_end(size))
		return errf(e, -ENOEXEC,
			    "multiboot header at offset 0x%zx with address fields runs past %s",
			    h->off, size < MB_SEARCH_LIMIT ? "the end of the file" : "the first 8192 bytes");
	h->header_addr = le32(p + MB_HDR_HEADER_ADDR);
	h->load_addr = le32(p + MB_HDR_LOAD_ADDR);
	h->load_end_addr = le32(p + MB_HDR_LOAD_END_ADDR);
	h->bss_end_addr = le32(p + MB_HDR_BSS_END_ADDR);
	h->entry_addr = le32(p + MB_HDR_ENTRY_ADDR);
	return 0;
}

/* Validate the a.out-kludge address fields (§3.1.3) against the file and each other. */
static int mb_aout_layout(const struct mb_header *h, size_t size, uint64_t *file_off,
			  uint64_t *load_size, uint64_t *mem_end, struct err *e)
{
	uint64_t delta = (uint64_t)h->header_addr - h->load_addr;

	if (h->load_addr > h->header_addr)
		return errf(e, -ENOEXEC, "multiboot load_addr 0x%x is above header_addr 0x%x",
			    h->load_addr, h->header_addr);
	if (delta > h->off)
		return errf(e, -ENOEXEC,
			    "multiboot header_addr 0x%x - load_addr 0x%x = 0x%llx puts the image start before the beginning of the file (header at offset 0x%zx)",
			    h->header_addr, h->load_addr, (unsigned long long)delta, h->off);
	*file_off = h->off - delta;
	if (h->load_end_addr == 0) {
		*load_size = size - *file_off;
	} else {
		if (h->load_end_addr < h->load_addr)
			return errf(e, -ENOEXEC, "multiboot load_end_addr 0x%x is below load_addr 0x%x",
				    h->load_end_addr, h->load_addr);
		*load_size = (uint64_t)h->load_end_addr - h->load_addr;
		if (*load_size > size - *file_off)
			return errf(e, -ENOEXEC,
				    "multiboot load_end_addr 0x%x needs 0x%llx bytes from file offset 0x%llx, past the end of the file (0x%zx bytes)",
				    h->load_end_addr, (unsigned long long)*load_size,
				    (unsigned long long)*file_off, size);
	}
	if (delta + MB_HDR_AOUT_SIZE > *load_size)
		return errf(e, -ENOEXEC,
			    "multiboot header_addr 0x%x lies outside the loaded image [0x%x, 0x%llx)",
			    h->header_addr, h->load_addr,
			    (unsigned long long)(h->load_addr + *load_size));
	*mem_end = h->load_addr + *load_size;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < *mem_end)
			return errf(e, -ENOEXEC,
				    "multiboot bss_end_addr 0x%x is below the end of the loaded image 0x%llx",
				    h->bss_end_addr, (unsigned long long)*mem_end);
		*mem_end = h->bss_end_addr;
	}
	if (h->entry_addr < h->load_addr || h->entry_addr >= *mem_end)
		return errf(e, -ENOEXEC,
			    "multiboot entry_addr 0x%x is outside the loaded image [0x%x, 0x%llx)",
			    h->entry_addr, h->load_addr, (unsigned long long)*mem_end);
	return 0;
}

static int mb_load_aout(const struct gmem *m, const uint8_t *k, size_t size,
			const struct mb_header *h, struct boot_entry *out, struct err *e)
{
	uint64_t file_off = 0, load_size = 0, mem_end = 0;
	int r;

	r = mb_aout_layout(h, size, &file_off, &load_size, &mem_end, e);
	if (r < 0)
		return r;
	r = boot_check_kernel_range(m, h->load_addr, mem_end - h->load_addr,
				    "multiboot kernel image", e);
	if (r < 0)
		return r;
	if (gmem_write(m, h->load_addr, k + file_off, load_size) < 0 ||
	    gmem_zero(m, h->load_addr + load_size, mem_end - h->load_addr - load_size) < 0)
		return errf(e, -EFAULT, "cannot write the kernel to guest memory at 0x%x",
			    h->load_addr);
	out->rip = h->entry_addr;
	out->kernel_start = h->load_addr;
	out->kernel_end = mem_end;
	return 0;
}

static int mb_load_elf(const struct gmem *m, const uint8_t *k, size_t size,
		       struct boot_entry *out, struct err *e)
{
	struct elf_file f;
	struct elf_span span;
	uint64_t entry;
	int r;

	if (!elf_is_elf(k, size))
		return errf(e, -ENOEXEC,
			    "multiboot kernel is not ELF and its header has no address fields (flags bit 16)");
	r = elf_parse(&f, k, size, e);
	if (r < 0)
		return r;
	r = elf_load(m, &f, &span, e);
	if (r < 0)
		return r;
	/* e_entry may be virtual; the CPU starts with paging off. */
	entry = elf_virt_to_phys(&f, f.entry);
	if (entry > UINT32_MAX)
		return errf(e, -ENOEXEC,
			    "multiboot ELF entry point 0x%llx is above 4 GiB (the kernel starts in 32-bit mode)",
			    (unsigned long long)entry);
	if (!elf_paddr_loaded(&f, entry))
		return errf(e, -ENOEXEC,
			    "multiboot ELF entry point 0x%llx is outside the kernel's loaded segments",
			    (unsigned long long)entry);
	out->rip = entry;
	out->kernel_start = span.start;
	out->kernel_end = span.end;
	return 0;
}

/* Module list: the initrd first, then the extra modules, each with its string. */
static int mb_collect_modules(const struct boot_input *in, struct mb_module **mods,
			      unsigned *n, struct err *e)
{
	unsigned count = (in->initrd ? 1 : 0), i = 0;

	if (in->nmodules > MB_MAX_MODULES - count)
		return errf(e, -E2BIG, "too many multiboot modules (%u > %d)",
			    in->nmodules + count, MB_MAX_MODULES);
	count += in->nmodules;
	*n = count;
	*mods = calloc(count ? count : 1, sizeof(**mods));
	if (!*mods)
		return errf(e, -ENOMEM, "out of memory for the multiboot module list");
	if (in->initrd)
		(*mods)[i++] = (struct mb_module){ in->initrd, in->initrd_size, "", 0 };
	for (unsigned j = 0; j < in->nmodules; j++)
		(*mods)[i++] = (struct mb_module){ in->modules[j].data, in->modules[j].size,
						   in->modules[j].cmdline ? in->modules[j].cmdline : "",
						   0 };
	return 0;
}

/* Copy modules page-aligned upwards from the kernel's end, within low RAM. */
static int mb_place_modules(const struct gmem *m, struct mb_module *mods, unsigned n,
			    bool has_initrd, uint64_t kernel_end, struct err *e)
{
	uint64_t low_end = gmem_low_end(m), cur = kernel_end;
	char a[32], b[32], name[32];

	for (unsigned i = 0; i < n; i++) {
		if (has_initrd && i == 0)
			snprintf(name, sizeof(name), "initrd");
		else
			snprintf(name, sizeof(name), "multiboot module %u", i - has_initrd);
		if (mods[i].size > m->total)
			return errf(e, -ENOMEM, "%s larger than guest RAM (%s > %s)", name,
				    boot_size_str(a, mods[i].size), boot_size_str(b, m->total));
		if (!align_up_checked(cur, BOOT_PAGE, &cur) || cur > low_end ||
		    mods[i].size > low_end - cur)
			return errf(e, -ENOMEM,
				    "%s (%s) does not fit in guest RAM after the kernel and earlier modules (from 0x%llx, RAM below 4 GiB ends at 0x%llx)",
				    name, boot_size_str(a, mods[i].size), (unsigned long long)cur,
				    (unsigned long long)low_end);
		if (gmem_write(m, cur, mods[i].data, mods[i].size) < 0)
			return errf(e, -EFAULT, "cannot write %s to guest memory at 0x%llx", name,
				    (unsigned long long)cur);
		mods[i].gpa = cur;
		cur += mods[i].size;
	}
	return 0;
}

/* Bump allocation inside the MBI area (host copy in (buf), guest base LAYOUT_MBI). */
struct mb_area {
	uint8_t *buf;
	uint64_t used;
};

static bool mb_alloc(struct mb_area *a, uint64_t len, uint32_t *gpa)
{
	uint64_t off = (a->used + 3) & ~3ULL;

	if (off > LAYOUT_MBI_SIZE || len > LAYOUT_MBI_SIZE - off)
		return false;
	a->used = off + len;
	*gpa = (uint32_t)(LAYOUT_MBI + off);
	return true;
}

static bool mb_put(struct mb_area *a, const void *src, uint64_t len, uint32_t *gpa)
{
	if (!mb_alloc(a, len, gpa))
		return false;
	memcpy(a->buf + (*gpa - LAYOUT_MBI), src, len);
	return true;
}

/* Bytes a string may still have in the area (without its NUL). */
static uint64_t mb_left(const struct mb_area *a)
{
	uint64_t off = (a->used + 3) & ~3ULL;

	return off < LAYOUT_MBI_SIZE ? LAYOUT_MBI_SIZE - off - 1 : 0;
}

static void mb_fill_mmap(uint8_t *p, const struct e820_map *map)
{
	for (unsigned i = 0; i < map->n; i++, p += MB_MMAP_ENTRY_SIZE) {
		put_le32(p, MB_MMAP_SIZE_FIELD);
		put_le64(p + 4, map->e[i].addr);
		put_le64(p + 12, map->e[i].size);
		put_le32(p + 20, map->e[i].type);
	}
}

/* §3.3: info, memory map and module table first, then the strings. */
static int mb_build_info(const struct gmem *m, const struct boot_input *in,
			 const struct mb_module *mods, unsigned n, uint8_t *buf, struct err *e)
{
	struct mb_area a = { buf, MBI_SIZE };
	uint8_t *info = buf, *mmap, *modtab;
	uint32_t gpa = 0, mmap_gpa = 0, mods_gpa = 0;
	size_t len = strlen(in->cmdline);

	memset(buf, 0, LAYOUT_MBI_SIZE);
	/* Sizes are bounded (E820_MAX, MB_MAX_MODULES): these cannot fail. */
	mb_alloc(&a, (uint64_t)in->e820->n * MB_MMAP_ENTRY_SIZE, &mmap_gpa);
	mmap = buf + (mmap_gpa - LAYOUT_MBI);
	mb_alloc(&a, (uint64_t)n * MB_MOD_ENTRY_SIZE, &mods_gpa);
	modtab = buf + (mods_gpa - LAYOUT_MBI);
	mb_fill_mmap(mmap, in->e820);
	mb_put(&a, MB_LOADER_NAME, sizeof(MB_LOADER_NAME), &gpa);
	put_le32(info + MBI_LOADER_NAME, gpa);

	if (len > mb_left(&a) || !mb_put(&a, in->cmdline, len + 1, &gpa))
		return errf(e, -E2BIG,
			    "kernel command line too long (%zu bytes > %llu left in the multiboot info area)",
			    len, (unsigned long long)mb_left(&a));
	put_le32(info + MBI_CMDLINE, gpa);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *en = modtab + i * MB_MOD_ENTRY_SIZE;

		if (!mb_put(&a, mods[i].cmdline, strlen(mods[i].cmdline) + 1, &gpa))
			return errf(e, -E2BIG,
				    "multiboot module %u command line too long for the multiboot info area",
				    i);
		put_le32(en, (uint32_t)mods[i].gpa);
		put_le32(en + 4, (uint32_t)(mods[i].gpa + mods[i].size));
		put_le32(en + 8, gpa);
	}
	put_le32(info + MBI_FLAGS, MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MODS |
				   MBI_FLAG_MMAP | MBI_FLAG_LOADER_NAME);
	put_le32(info + MBI_MEM_LOWER, (uint32_t)(LAYOUT_EBDA / 1024));
	put_le32(info + MBI_MEM_UPPER, (uint32_t)((gmem_low_end(m) - LAYOUT_HIGH_MEM) / 1024));
	put_le32(info + MBI_MODS_COUNT, n);
	put_le32(info + MBI_MODS_ADDR, n ? mods_gpa : 0);
	put_le32(info + MBI_MMAP_LENGTH, in->e820->n * MB_MMAP_ENTRY_SIZE);
	put_le32(info + MBI_MMAP_ADDR, mmap_gpa);
	if (gmem_write(m, LAYOUT_MBI, buf, a.used) < 0)
		return errf(e, -EFAULT, "cannot write the multiboot info at 0x%llx", LAYOUT_MBI);
	return 0;
}

static int mb_load_kernel(const struct gmem *m, const struct boot_input *in,
			  struct boot_entry *out, struct err *e)
{
	struct mb_header h = { 0 };
	int r;

	r = mb_find_header(in->kernel, in->kernel_size, &h, e);
	if (r < 0)
		return r;
	r = mb_check_header(in->kernel, in->kernel_size, &h, e);
	if (r < 0)
		return r;
	/* §3.1.3: with bit 16 the address fields win over the executable's own headers. */
	if (h.flags & MB_FLAG_AOUT_KLUDGE)
		return mb_load_aout(m, in->kernel, in->kernel_size, &h, out, e);
	return mb_load_elf(m, in->kernel, in->kernel_size, out, e);
}

int boot_load_multiboot(const struct gmem *m, const struct boot_input *in,
			struct boot_entry *out, struct err *e)
{
	struct boot_entry be = { .mode = BOOT_MULTIBOOT, .arg = LAYOUT_MBI, .format = "multiboot" };
	struct mb_module *mods = NULL;
	uint8_t *buf = NULL;
	unsigned n = 0;
	int r;

	r = boot_check_input(m, in, e);
	if (r < 0)
		return r;
	r = mb_load_kernel(m, in, &be, e);
	if (r < 0)
		return r;
	r = mb_collect_modules(in, &mods, &n, e);
	if (r < 0)
		goto out;
	r = mb_place_modules(m, mods, n, in->initrd != NULL, be.kernel_end, e);
	if (r < 0)
		goto out;
	buf = malloc(LAYOUT_MBI_SIZE);
	if (!buf) {
		r = errf(e, -ENOMEM, "out of memory for the multiboot info");
		goto out;
	}
	r = mb_build_info(m, in, mods, n, buf, e);
	if (r < 0)
		goto out;
	be.initrd_gpa = in->initrd ? mods[0].gpa : 0;
	*out = be;
out:
	free(buf);
	free(mods);
	return r;
}
