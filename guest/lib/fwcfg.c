/* QEMU fw_cfg over I/O ports (QEMU docs/specs/fw_cfg.rst, "Traditional Interface"). */
#include "guest.h"

void fwcfg_read(uint16_t key, void *buf, size_t n)
{
	uint8_t *b = buf;

	outw(FW_CFG_PORT_SEL, key);
	for (size_t i = 0; i < n; i++)
		b[i] = inb(FW_CFG_PORT_DATA);
}

uint16_t fwcfg_read_le16(uint16_t key)
{
	uint8_t b[2];

	fwcfg_read(key, b, sizeof(b));
	return (uint16_t)(b[0] | b[1] << 8);
}

uint32_t fwcfg_read_le32(uint16_t key)
{
	uint8_t b[4];

	fwcfg_read(key, b, sizeof(b));
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

uint64_t fwcfg_read_le64(uint16_t key)
{
	uint8_t b[8];
	uint64_t v = 0;

	fwcfg_read(key, b, sizeof(b));
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint32_t fwcfg_files(void (*fn)(const char *name, uint16_t select, uint32_t size, void *arg),
		     void *arg)
{
	uint8_t b[4], e[64];
	uint32_t count;

	outw(FW_CFG_PORT_SEL, FW_CFG_FILE_DIR);
	for (int i = 0; i < 4; i++)
		b[i] = inb(FW_CFG_PORT_DATA);
	count = be32(b);
	/* Keep reading the same item: the data port advances through it. */
	for (uint32_t n = 0; n < count && n < 4096; n++) {
		char name[57];

		for (int i = 0; i < 64; i++)
			e[i] = inb(FW_CFG_PORT_DATA);
		memcpy(name, e + 8, 56);
		name[56] = 0;
		if (fn)
			fn(name, (uint16_t)(e[4] << 8 | e[5]), be32(e), arg);
	}
	return count;
}
