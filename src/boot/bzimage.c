/*
 * Linux bzImage loader, entering through the 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst, "64-bit BOOT PROTOCOL"): lodge never runs
 * the 16-bit setup code. It loads the protected-mode kernel, fills a
 * boot_params (zero page) with the file's setup header plus the fields a
 * loader owns, and starts the vCPU in long mode at load address + 0x200.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "boot/linux_abi.h"
#include "boot/loader.h"

/* What lodge needs from the setup header, after validation. */
struct bz_hdr {
	unsigned version;
	size_t hdr_end;                 /* 0x202 + byte at 0x201 */
	size_t setup_size;              /* (setup_sects + 1) * 512 */
	uint64_t pm_size;               /* protected-mode kernel bytes (syssize * 16) */
	bool relocatable;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t cmdline_size;
	uint64_t initrd_limit;          /* initrd_addr_max + 1 */
};

/* Signature, sizes and protocol version (boot.rst "THE REAL-MODE KERNEL HEADER"). */
static int bz_parse_layout(const uint8_t *k, size_t size, struct bz_hdr *h, struct err *e)
{
	unsigned sects;

	if (size < LINUX_HDR_MAGIC_OFF + 4 || le16(k + LINUX_BOOT_FLAG_OFF) != LINUX_BOOT_FLAG)
		return errf(e, -ENOEXEC, "not a bzImage: no boot sector signature 0xAA55 at 0x1fe");
	if (le32(k + LINUX_HDR_MAGIC_OFF) != LINUX_HDR_MAGIC)
		return errf(e, -ENOEXEC, "not a bzImage: no \"HdrS\" setup header signature at 0x202");
	h->hdr_end = LINUX_HDR_MAGIC_OFF + k[LINUX_HDR_LEN_OFF];
	sects = k[LINUX_SETUP_SECTS_OFF] ? k[LINUX_SETUP_SECTS_OFF] : LINUX_SETUP_SECTS_DEFAULT;
	h->setup_size = (size_t)(sects + 1) * LINUX_SECTOR;
	/* At least 1024 bytes, so every header field below 0x290 is inside the file. */
	if (h->setup_size > size)
		return errf(e, -ENOEXEC,
			    "bzImage truncated: setup_sects says %u sectors of setup code (0x%zx bytes with the boot sector) but the file has 0x%zx bytes",
			    sects, h->setup_size, size);
	h->version = le16(k + LINUX_VERSION_OFF);
	if (h->version < LINUX_MIN_VERSION)
		return errf(e, -ENOEXEC,
			    "bzImage boot protocol %u.%02u too old (need >= 2.12 for 64-bit boot)",
			    h->version >> 8, h->version & 0xff);
	if (h->hdr_end < LINUX_HDR_FIELDS_END)
		return errf(e, -ENOEXEC,
			    "bzImage setup header too short (ends at 0x%zx, protocol 2.12 fields need 0x%x)",
			    h->hdr_end, LINUX_HDR_FIELDS_END);
	return 0;
}

static int bz_parse(const uint8_t *k, size_t size, struct bz_hdr *h, struct err *e)
{
	uint32_t syssize, addr_max;
	int r = bz_parse_layout(k, size, h, e);

	if (r < 0)
		return r;
	if (!(k[LINUX_LOADFLAGS_OFF] & LINUX_LOADED_HIGH))
		return errf(e, -ENOEXEC,
			    "bzImage loadflags lack LOADED_HIGH (a zImage, which lodge cannot load)");
	if (!(le16(k + LINUX_XLOADFLAGS_OFF) & LINUX_XLF_KERNEL_64))
		return errf(e, -ENOEXEC,
			    "bzImage is not 64-bit capable (xloadflags lack XLF_KERNEL_64)");
	syssize = le32(k + LINUX_SYSSIZE_OFF);
	h->pm_size = (uint64_t)syssize * 16;
	if (syssize == 0)
		return errf(e, -ENOEXEC, "bzImage syssize is 0 (no protected-mode kernel)");
	/* Bytes past syssize (e.g. an appended signature) are not loaded. */
	if (h->pm_size > size - h->setup_size)
		return errf(e, -ENOEXEC,
			    "bzImage truncated: syssize says 0x%llx bytes of protected-mode kernel but 0x%zx follow the setup code",
			    (unsigned long long)h->pm_size, size - h->setup_size);
	h->relocatable = k[LINUX_RELOCATABLE_OFF] != 0;
	h->kernel_alignment = le32(k + LINUX_KERNEL_ALIGN_OFF);
	if (h->relocatable && (h->kernel_alignment == 0 ||
			       (h->kernel_alignment & (h->kernel_alignment - 1))))
		return errf(e, -ENOEXEC, "bzImage kernel_alignment 0x%x is not a power of two",
			    h->kernel_alignment);
	h->pref_address = le64(k + LINUX_PREF_ADDRESS_OFF);
	h->init_size = le32(k + LINUX_INIT_SIZE_OFF);
	if (h->init_size == 0)
		return errf(e, -ENOEXEC, "bzImage init_size is 0");
	h->cmdline_size = le32(k + LINUX_CMDLINE_SIZE_OFF);
	addr_max = le32(k + LINUX_INITRD_ADDR_MAX_OFF);
	h->initrd_limit = (uint64_t)(addr_max ? addr_max : LINUX_INITRD_ADDR_MAX_DEFAULT) + 1;
	return 0;
}

/*
 * Where the kernel goes: at pref_address when relocatable and it fits there,
 * else at 1 MiB. Either way the kernel then runs from the "runtime start" of
 * boot.rst ("init_size") and needs init_size bytes there, all in low RAM
 * (the 64-bit entry only has the 4 GiB identity map).
 */
static int bz_place(const struct gmem *m, const struct bz_hdr *h, uint64_t *load,
		    uint64_t *end, struct err *e)
{
	uint64_t low_end = gmem_low_end(m), start;
	char a[32];
	int r;

	*load = LAYOUT_HIGH_MEM;
	if (h->relocatable && h->pref_address >= LAYOUT_HIGH_MEM &&
	    h->pref_address % h->kernel_alignment == 0 && h->pref_address < low_end &&
	    h->init_size <= low_end - h->pref_address && h->pm_size <= low_end - h->pref_address)
		*load = h->pref_address;
	if (h->relocatable) {
		start = *load < h->pref_address ? h->pref_address : *load;
		if (!align_up_checked(start, h->kernel_alignment, &start))
			start = UINT64_MAX;
	} else {
		start = h->pref_address ? h->pref_address : *load;
	}
	r = boot_check_kernel_range(m, *load, h->pm_size, "bzImage protected-mode kernel", e);
	if (r < 0)
		return r;
	if (start < LAYOUT_HIGH_MEM)
		return errf(e, -ENOEXEC, "bzImage runs at 0x%llx (pref_address), below 1 MiB",
			    (unsigned long long)start);
	if (start >= low_end || h->init_size > low_end - start)
		return errf(e, -ENOMEM,
			    "kernel does not fit in guest RAM: init_size needs %s from 0x%llx but RAM below 4 GiB ends at 0x%llx",
			    boot_size_str(a, h->init_size), (unsigned long long)start,
			    (unsigned long long)low_end);
	*end = start + h->init_size;
	if (*load + h->pm_size > *end)
		*end = *load + h->pm_size;
	return 0;
}

/* Fill the zero page (zero-page.rst) from the file's setup header plus lodge's fields. */
static void bz_zero_page(uint8_t *bp, const uint8_t *k, const struct bz_hdr *h,
			 const struct boot_input *in, uint64_t initrd_gpa, uint64_t initrd_size)
{
	const struct e820_map *map = in->e820;
	size_t end = h->hdr_end < LINUX_HDR_MAX_END ? h->hdr_end : LINUX_HDR_MAX_END;

	memset(bp, 0, LINUX_BOOT_PARAMS_SIZE);
	/* 64-bit protocol: copy the header from 0x1f1 to its end as the file has it. */
	memcpy(bp + LINUX_SETUP_SECTS_OFF, k + LINUX_SETUP_SECTS_OFF, end - LINUX_SETUP_SECTS_OFF);

	put_le16(bp + LINUX_VID_MODE_OFF, LINUX_VID_MODE_NORMAL);
	bp[LINUX_TYPE_OF_LOADER_OFF] = LINUX_TYPE_OF_LOADER_UNDEF;
	/*
	 * Only LOADED_HIGH: no heap (CAN_USE_HEAP is for the 16-bit setup code,
	 * which does not run), early messages not suppressed (QUIET clear).
	 */
	bp[LINUX_LOADFLAGS_OFF] = LINUX_LOADED_HIGH;
	put_le16(bp + LINUX_HEAP_END_PTR_OFF, 0);
	put_le32(bp + LINUX_CMD_LINE_PTR_OFF, (uint32_t)LAYOUT_CMDLINE);
	put_le32(bp + BP_EXT_CMD_LINE_PTR, (uint32_t)(LAYOUT_CMDLINE >> 32));
	put_le32(bp + LINUX_RAMDISK_IMAGE_OFF, (uint32_t)initrd_gpa);
	put_le32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_gpa >> 32));
	put_le32(bp + LINUX_RAMDISK_SIZE_OFF, (uint32_t)initrd_size);
	put_le32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_size >> 32));
	/* A setup_data pointer from the file would be followed by the kernel. */
	put_le64(bp + LINUX_SETUP_DATA_OFF, 0);
	/* 0x070 was padding before the field existed, so older kernels ignore it. */
	put_le64(bp + BP_ACPI_RSDP_ADDR, in->rsdp_gpa);

	bp[BP_E820_ENTRIES] = (uint8_t)map->n;
	for (unsigned i = 0; i < map->n; i++) {
		uint8_t *en = bp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE;

		put_le64(en, map->e[i].addr);
		put_le64(en + 8, map->e[i].size);
		put_le32(en + 16, map->e[i].type);
	}
}

int boot_load_bzimage(const struct gmem *m, const struct boot_input *in,
		      struct boot_entry *out, struct err *e)
{
	uint8_t bp[LINUX_BOOT_PARAMS_SIZE];
	struct bz_hdr h = { 0 };
	uint64_t load = 0, end = 0, initrd = 0;
	int r;

	r = boot_check_input(m, in, e);
	if (r < 0)
		return r;
	if (in->nmodules)
		return errf(e, -EINVAL, "extra boot modules are only supported for multiboot kernels");
	r = bz_parse(in->kernel, in->kernel_size, &h, e);
	if (r < 0)
		return r;
	/* cmdline_size excludes the terminating NUL (boot.rst "cmdline_size"). */
	r = boot_write_cmdline(m, in->cmdline, h.cmdline_size, "allowed by this kernel", e);
	if (r < 0)
		return r;
	r = bz_place(m, &h, &load, &end, e);
	if (r < 0)
		return r;
	if (gmem_write(m, load, in->kernel + h.setup_size, h.pm_size) < 0)
		return errf(e, -EFAULT, "cannot write the kernel to guest memory at 0x%llx",
			    (unsigned long long)load);
	if (in->initrd) {
		r = boot_place_initrd(m, in->initrd, in->initrd_size, end, h.initrd_limit, &initrd, e);
		if (r < 0)
			return r;
	}
	bz_zero_page(bp, in->kernel, &h, in, initrd, initrd ? in->initrd_size : 0);
	if (gmem_write(m, LAYOUT_ZERO_PAGE, bp, sizeof(bp)) < 0)
		return errf(e, -EFAULT, "cannot write the zero page at 0x%llx", LAYOUT_ZERO_PAGE);

	*out = (struct boot_entry){
		.mode = BOOT_LINUX64,
		.rip = load + LINUX_ENTRY64_OFFSET,
		.arg = LAYOUT_ZERO_PAGE,
		.kernel_start = load,
		.kernel_end = end,
		.initrd_gpa = initrd,
		.format = "bzimage",
	};
	return 0;
}
