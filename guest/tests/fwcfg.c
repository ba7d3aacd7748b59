/*
 * fwcfg: checks QEMU's fw_cfg as lodge provides it: signature "QEMU", ID
 * with the traditional interface bit, RAM size (key 0x03) = mem_mib=,
 * CPU count (key 0x05) = cpus=, a file directory holding "etc/e820";
 * and that an unassigned port (0x2f0) reads all ones as byte, word and
 * dword. Exits 0 when everything matched.
 */
#include "guest.h"

#define UNUSED_PORT 0x2f0

struct dir_scan {
	bool e820;
	uint32_t e820_size;
};

static void show_file(const char *name, uint16_t select, uint32_t size, void *arg)
{
	struct dir_scan *d = arg;

	printf("fwcfg: file %#06x %6u bytes %s\n", select, size, name);
	if (strcmp(name, "etc/e820") == 0) {
		d->e820 = true;
		d->e820_size = size;
	}
}

int guest_main(void)
{
	char sig[5] = { 0 };
	uint64_t mem_mib = cmdline_get_u64("mem_mib", 0), cpus = cmdline_get_u64("cpus", 0);
	struct dir_scan d = { false, 0 };

	fwcfg_read(FW_CFG_SIGNATURE, sig, 4);
	printf("fwcfg: signature \"%s\"\n", sig);
	GUEST_ASSERT(memcmp(sig, "QEMU", 4) == 0);

	uint32_t id = fwcfg_read_le32(FW_CFG_ID);
	printf("fwcfg: id %#x\n", id);
	GUEST_ASSERT(id & 1);

	uint64_t ram = fwcfg_read_le64(FW_CFG_RAM_SIZE);
	printf("fwcfg: ram size %llu MiB\n", (unsigned long long)(ram >> 20));
	if (mem_mib)
		GUEST_ASSERT_EQ(ram, mem_mib << 20);

	uint16_t ncpus = fwcfg_read_le16(FW_CFG_NB_CPUS);
	printf("fwcfg: cpus %u\n", ncpus);
	if (cpus)
		GUEST_ASSERT_EQ(ncpus, cpus);

	uint32_t nfiles = fwcfg_files(show_file, &d);
	printf("fwcfg: %u files\n", nfiles);
	GUEST_ASSERT(d.e820);
	GUEST_ASSERT(d.e820_size > 0 && d.e820_size % 20 == 0);

	uint8_t b = inb(UNUSED_PORT);
	uint16_t w = inw(UNUSED_PORT);
	uint32_t l = inl(UNUSED_PORT);
	printf("fwcfg: port %#x reads %#x %#x %#x\n", UNUSED_PORT, b, w, l);
	GUEST_ASSERT_EQ(b, 0xff);
	GUEST_ASSERT_EQ(w, 0xffff);
	GUEST_ASSERT_EQ(l, 0xffffffff);
	puts("fwcfg: all checks passed");
	return 0;
}
