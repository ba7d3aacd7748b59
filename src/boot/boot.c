/*
 * Kernel format detection and the checks and placement rules the three
 * loaders share (loader.h).
 */
#include "boot/boot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/elf.h"
#include "boot/linux_abi.h"
#include "boot/loader.h"
#include "boot/pvh_abi.h"

const char *boot_size_str(char buf[32], uint64_t n)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB" };
	int u = -1;
	uint64_t div = 1;

	while (u < 2 && n >= div * 1024) {
		div *= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, 32, "%llu bytes", (unsigned long long)n);
	else if (n % div == 0)
		snprintf(buf, 32, "%llu %s", (unsigned long long)(n / div), unit[u]);
	else
		snprintf(buf, 32, "%.1f %s", (double)n / (double)div, unit[u]);
	return buf;
}

int boot_check_input(const struct gmem *m, const struct boot_input *in, struct err *e)
{
	char a[32], b[32];

	if (!in->kernel || in->kernel_size == 0)
		return errf(e, -ENOEXEC, "kernel file is empty");
	if (!in->cmdline)
		return errf(e, -EINVAL, "no kernel command line given (use \"\" for none)");
	if (!in->e820 || in->e820->n == 0 || in->e820->n > E820_MAX)
		return errf(e, -EINVAL, "no valid e820 memory map given");
	if (!in->initrd && in->initrd_size)
		return errf(e, -EINVAL, "initrd size given without initrd data");
	if (in->nmodules && !in->modules)
		return errf(e, -EINVAL, "module count given without modules");
	if (gmem_low_end(m) < BOOT_MIN_RAM)
		return errf(e, -EINVAL, "memory too small (%s of RAM below 4 GiB < %s minimum)",
			    boot_size_str(a, gmem_low_end(m)), boot_size_str(b, BOOT_MIN_RAM));
	return 0;
}

int boot_check_kernel_range(const struct gmem *m, uint64_t gpa, uint64_t len,
			    const char *what, struct err *e)
{
	uint64_t low_end = gmem_low_end(m), end;
	char a[32];

	if (len == 0)
		return 0;
	if (gpa > UINT64_MAX - len)
		return errf(e, -EINVAL, "%s at 0x%llx (0x%llx bytes) wraps around the address space",
			    what, (unsigned long long)gpa, (unsigned long long)len);
	end = gpa + len;
	if (gpa < LAYOUT_HIGH_MEM)
		return errf(e, -EINVAL,
			    "%s [0x%llx, 0x%llx) overlaps lodge's boot structures below 1 MiB",
			    what, (unsigned long long)gpa, (unsigned long long)end);
	if (gmem_contains(m, gpa, len)) {
		/* Every entry path starts with at most the first 4 GiB reachable. */
		if (gpa >= GMEM_HOLE_END)
			return errf(e, -ERANGE,
				    "%s [0x%llx, 0x%llx) is above 4 GiB, out of reach of the boot entry",
				    what, (unsigned long long)gpa, (unsigned long long)end);
		return 0;
	}
	if (low_end == GMEM_HOLE_START && gpa < GMEM_HOLE_END && end > GMEM_HOLE_START)
		return errf(e, -ERANGE, "%s [0x%llx, 0x%llx) lies in the MMIO hole [0x%llx, 0x%llx)",
			    what, (unsigned long long)gpa, (unsigned long long)end,
			    GMEM_HOLE_START, GMEM_HOLE_END);
	return errf(e, -ERANGE,
		    "%s [0x%llx, 0x%llx) is outside guest RAM (%s; RAM below 4 GiB ends at 0x%llx)",
		    what, (unsigned long long)gpa, (unsigned long long)end,
		    boot_size_str(a, m->total), (unsigned long long)low_end);
}

int boot_place_initrd(const struct gmem *m, const uint8_t *data, uint64_t size,
		      uint64_t floor, uint64_t limit, uint64_t *gpa, struct err *e)
{
	uint64_t top = gmem_low_end(m), addr, lowest;
	char a[32], b[32];

	*gpa = 0;
	if (size == 0)
		return 0;               /* an empty initrd is no initrd */
	if (size > m->total)
		return errf(e, -ENOMEM, "initrd larger than guest RAM (%s > %s)",
			    boot_size_str(a, size), boot_size_str(b, m->total));
	if (limit < top)
		top = limit;
	if (!align_up_checked(floor, BOOT_PAGE, &lowest) || size > top ||
	    ((top - size) & ~(BOOT_PAGE - 1)) < lowest)
		return errf(e, -ENOMEM,
			    "initrd (%s) does not fit in guest RAM between the kernel's end (0x%llx) and 0x%llx",
			    boot_size_str(a, size), (unsigned long long)floor,
			    (unsigned long long)top);
	addr = (top - size) & ~(BOOT_PAGE - 1);
	if (gmem_write(m, addr, data, size) < 0)
		return errf(e, -EFAULT, "cannot write the initrd to guest memory at 0x%llx",
			    (unsigned long long)addr);
	*gpa = addr;
	return 0;
}

int boot_write_cmdline(const struct gmem *m, const char *cmdline, uint64_t max,
		       const char *why, struct err *e)
{
	size_t len = strlen(cmdline);

	if (max > LAYOUT_CMDLINE_MAX - 1) {
		max = LAYOUT_CMDLINE_MAX - 1;
		why = "allowed by lodge";
	}
	if (len > max)
		return errf(e, -E2BIG, "kernel command line too long (%zu bytes > %llu %s)", len,
			    (unsigned long long)max, why);
	if (gmem_write(m, LAYOUT_CMDLINE, cmdline, len + 1) < 0)
		return errf(e, -EFAULT, "cannot write the kernel command line at 0x%llx",
			    LAYOUT_CMDLINE);
	return 0;
}

static bool is_bzimage(const uint8_t *k, size_t size)
{
	return size >= LINUX_HDR_MAGIC_OFF + 4 &&
	       le16(k + LINUX_BOOT_FLAG_OFF) == LINUX_BOOT_FLAG &&
	       le32(k + LINUX_HDR_MAGIC_OFF) == LINUX_HDR_MAGIC;
}

int boot_load(const struct gmem *m, const struct boot_input *in, struct boot_entry *out,
	      struct err *e)
{
	const uint8_t *desc;
	uint32_t descsz;
	struct elf_file f;
	int r;

	if (!in->kernel || in->kernel_size == 0)
		return errf(e, -ENOEXEC, "kernel file is empty");
	if (is_bzimage(in->kernel, in->kernel_size))
		return boot_load_bzimage(m, in, out, e);
	if (elf_is_elf(in->kernel, in->kernel_size)) {
		r = elf_parse(&f, in->kernel, in->kernel_size, e);
		if (r == 0) {
			r = elf_find_note(&f, PVH_NOTE_NAME, PVH_NOTE_PHYS32_ENTRY, &desc, &descsz,
					  e);
			if (r < 0)
				return r;
			if (r == 1)
				return boot_load_pvh(m, in, out, e);
		}
		/* Multiboot ELF kernels (GRUB-style) have no PVH note. */
		if (boot_has_multiboot_header(in->kernel, in->kernel_size))
			return boot_load_multiboot(m, in, out, e);
		if (r < 0)
			return r;
		return errf(e, -ENOEXEC,
			    "ELF kernel has neither a PVH entry note (\"Xen\" note type 18) nor a multiboot header");
	}
	if (boot_has_multiboot_header(in->kernel, in->kernel_size))
		return boot_load_multiboot(m, in, out, e);
	return errf(e, -ENOEXEC, "not a bzImage, PVH ELF or multiboot kernel");
}
