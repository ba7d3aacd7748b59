/*
 * PVH loader: an ELF kernel whose "Xen" note XEN_ELFNOTE_PHYS32_ENTRY gives a
 * 32-bit physical entry point. lodge loads the PT_LOAD segments at their
 * physical addresses and passes an hvm_start_info (version 1, with the memory
 * map) in ebx, as Xen's arch-x86/hvm/start_info.h describes.
 */
#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "boot/elf.h"
#include "boot/loader.h"
#include "boot/pvh_abi.h"

/* The LAYOUT_PVH_INFO page: start_info, then the memory map, then the module list. */
#define PVH_MEMMAP_OFF   64
#define PVH_MODLIST_OFF  (PVH_MEMMAP_OFF + E820_MAX * sizeof(struct hvm_memmap_table_entry))
#define PVH_INFO_USED    (PVH_MODLIST_OFF + sizeof(struct hvm_modlist_entry))

_Static_assert(sizeof(struct hvm_start_info) <= PVH_MEMMAP_OFF, "start_info fits");
_Static_assert(PVH_INFO_USED <= LAYOUT_PVH_INFO_SIZE, "PVH info fits its page");

/* The entry point from the PVH note: 4 bytes, or 8 holding a 32-bit value. */
static int pvh_entry(const struct elf_file *f, uint64_t *entry, struct err *e)
{
	const uint8_t *desc;
	uint32_t descsz;
	int r;

	r = elf_find_note(f, PVH_NOTE_NAME, PVH_NOTE_PHYS32_ENTRY, &desc, &descsz, e);
	if (r < 0)
		return r;
	if (r == 0)
		return errf(e, -ENOEXEC,
			    "ELF kernel has no PVH entry note (\"Xen\" note type 18, XEN_ELFNOTE_PHYS32_ENTRY)");
	if (descsz != 4 && descsz != 8)
		return errf(e, -EINVAL, "PVH entry note has descriptor size %u (expected 4 or 8)",
			    descsz);
	*entry = descsz == 4 ? le32(desc) : le64(desc);
	if (*entry > UINT32_MAX)
		return errf(e, -EINVAL,
			    "PVH entry point 0x%llx is above 4 GiB (PVH starts in 32-bit mode)",
			    (unsigned long long)*entry);
	return 0;
}

static void pvh_start_info(uint8_t *page, const struct boot_input *in, uint64_t initrd,
			   uint64_t initrd_size)
{
	struct hvm_start_info si = {
		.magic = PVH_START_MAGIC,
		.version = PVH_START_VERSION,
		.cmdline_paddr = LAYOUT_CMDLINE,
		.rsdp_paddr = in->rsdp_gpa,
		.memmap_paddr = LAYOUT_PVH_INFO + PVH_MEMMAP_OFF,
		.memmap_entries = in->e820->n,
	};

	memset(page, 0, LAYOUT_PVH_INFO_SIZE);
	for (unsigned i = 0; i < in->e820->n; i++) {
		struct hvm_memmap_table_entry me = {
			.addr = in->e820->e[i].addr,
			.size = in->e820->e[i].size,
			.type = in->e820->e[i].type,
		};

		memcpy(page + PVH_MEMMAP_OFF + i * sizeof(me), &me, sizeof(me));
	}
	if (initrd) {
		struct hvm_modlist_entry mod = { .paddr = initrd, .size = initrd_size };

		memcpy(page + PVH_MODLIST_OFF, &mod, sizeof(mod));
		si.nr_modules = 1;
		si.modlist_paddr = LAYOUT_PVH_INFO + PVH_MODLIST_OFF;
	}
	memcpy(page, &si, sizeof(si));
}

int boot_load_pvh(const struct gmem *m, const struct boot_input *in,
		  struct boot_entry *out, struct err *e)
{
	uint8_t page[LAYOUT_PVH_INFO_SIZE];
	struct elf_file f;
	struct elf_span span;
	uint64_t entry = 0, initrd = 0;
	int r;

	r = boot_check_input(m, in, e);
	if (r < 0)
		return r;
	if (in->nmodules)
		return errf(e, -EINVAL, "extra boot modules are only supported for multiboot kernels");
	r = elf_parse(&f, in->kernel, in->kernel_size, e);
	if (r < 0)
		return r;
	r = pvh_entry(&f, &entry, e);
	if (r < 0)
		return r;
	/* PVH gives no size limit; Linux truncates at its own COMMAND_LINE_SIZE. */
	r = boot_write_cmdline(m, in->cmdline, LAYOUT_CMDLINE_MAX - 1, "allowed by lodge", e);
	if (r < 0)
		return r;
	r = elf_load(m, &f, &span, e);
	if (r < 0)
		return r;
	if (!elf_paddr_loaded(&f, entry))
		return errf(e, -EINVAL, "PVH entry point 0x%llx is outside the kernel's loaded segments",
			    (unsigned long long)entry);
	if (in->initrd) {
		r = boot_place_initrd(m, in->initrd, in->initrd_size, span.end, UINT64_MAX, &initrd, e);
		if (r < 0)
			return r;
	}
	pvh_start_info(page, in, initrd, initrd ? in->initrd_size : 0);
	if (gmem_write(m, LAYOUT_PVH_INFO, page, sizeof(page)) < 0)
		return errf(e, -EFAULT, "cannot write hvm_start_info at 0x%llx", LAYOUT_PVH_INFO);

	*out = (struct boot_entry){
		.mode = BOOT_PVH,
		.rip = entry,
		.arg = LAYOUT_PVH_INFO,
		.kernel_start = span.start,
		.kernel_end = span.end,
		.initrd_gpa = initrd,
		.format = "pvh-elf",
	};
	return 0;
}
