/*
 * QEMU's fw_cfg, traditional I/O interface (QEMU docs/specs/fw_cfg.rst):
 * a 16-bit selector at port 0x510 and a byte-wide data port at 0x511. It
 * gives kernels and test suites written for QEMU the facts they look up
 * there: signature, RAM size, CPU count, command line, and the file
 * directory with etc/e820. No DMA interface (ID bit 1 clear).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/device.h"
#include "snapshot/format.h"
#include "vmm/vm.h"

#define FW_CFG_SIGNATURE    0x00
#define FW_CFG_ID           0x01
#define FW_CFG_RAM_SIZE     0x03
#define FW_CFG_NB_CPUS      0x05
#define FW_CFG_MAX_CPUS     0x0f
#define FW_CFG_CMDLINE_SIZE 0x14
#define FW_CFG_CMDLINE_DATA 0x15
#define FW_CFG_FILE_DIR     0x19
#define FW_CFG_FILE_FIRST   0x20
#define FW_CFG_ID_TRADITIONAL 0x01
#define FW_CFG_MAX_ITEMS    16
#define FW_CFG_NAME_LEN     56

struct fw_cfg_item {
	uint16_t key;
	uint8_t *data;
	uint32_t size;
};

struct fw_cfg {
	pthread_mutex_t lock;
	unsigned nitems;
	struct fw_cfg_item items[FW_CFG_MAX_ITEMS];
	const struct fw_cfg_item *cur;  /* selected item, NULL for an unknown key */
	uint32_t pos;
};

static int fw_cfg_add(struct fw_cfg *f, uint16_t key, const void *data, uint32_t size)
{
	struct fw_cfg_item *it;

	if (f->nitems == FW_CFG_MAX_ITEMS)
		return -ENOSPC;
	it = &f->items[f->nitems];
	it->data = malloc(size ? size : 1);
	if (!it->data)
		return -ENOMEM;
	memcpy(it->data, data, size);
	it->key = key;
	it->size = size;
	f->nitems++;
	return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The file directory (key 0x19): be32 count, then {be32 size, be16 select, be16 0, name[56]}. */
static int fw_cfg_add_dir(struct fw_cfg *f, const char *const *names,
			  const struct fw_cfg_item *const *files, unsigned n)
{
	uint8_t dir[4 + 4 * 64];
	uint32_t size = 4 + n * 64;

	if (n > 4)
		return -ENOSPC;
	memset(dir, 0, sizeof(dir));
	put_be32(dir, n);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *ent = dir + 4 + i * 64;

		put_be32(ent, files[i]->size);
		ent[4] = (uint8_t)(files[i]->key >> 8);
		ent[5] = (uint8_t)files[i]->key;
		strncpy((char *)ent + 8, names[i], FW_CFG_NAME_LEN - 1);
	}
	return fw_cfg_add(f, FW_CFG_FILE_DIR, dir, size);
}

/* QEMU's etc/e820 entries: le64 address, le64 length, le32 type. */
static int fw_cfg_add_e820(struct fw_cfg *f, const struct e820_map *map)
{
	return fw_cfg_add(f, FW_CFG_FILE_FIRST, map->e, map->n * (uint32_t)sizeof(map->e[0]));
}

static int fw_cfg_build(struct fw_cfg *f, const struct vm *vm)
{
	uint32_t id = FW_CFG_ID_TRADITIONAL;
	uint64_t ram = vm->mem.total;
	uint16_t ncpus = (uint16_t)vm->ncpus;
	const char *cmdline = vm->cfg->cmdline ? vm->cfg->cmdline : CONFIG_DEFAULT_CMDLINE;
	uint32_t cmdline_size = (uint32_t)strlen(cmdline) + 1;
	static const char *const names[] = { "etc/e820" };
	int r = 0;

	r |= fw_cfg_add(f, FW_CFG_SIGNATURE, "QEMU", 4);
	r |= fw_cfg_add(f, FW_CFG_ID, &id, 4);
	r |= fw_cfg_add(f, FW_CFG_RAM_SIZE, &ram, 8);
	r |= fw_cfg_add(f, FW_CFG_NB_CPUS, &ncpus, 2);
	r |= fw_cfg_add(f, FW_CFG_MAX_CPUS, &ncpus, 2);
	r |= fw_cfg_add(f, FW_CFG_CMDLINE_SIZE, &cmdline_size, 4);
	r |= fw_cfg_add(f, FW_CFG_CMDLINE_DATA, cmdline, cmdline_size);
	r |= fw_cfg_add_e820(f, &vm->e820);
	if (r)
		return -ENOMEM;
	const struct fw_cfg_item *files[] = { &f->items[f->nitems - 1] };
	return fw_cfg_add_dir(f, names, files, 1);
}

static void fw_cfg_select(struct fw_cfg *f, uint16_t key)
{
	f->cur = NULL;
	f->pos = 0;
	for (unsigned i = 0; i < f->nitems; i++)
		if (f->items[i].key == key)
			f->cur = &f->items[i];
}

static enum io_result fw_cfg_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
				bool is_write)
{
	struct fw_cfg *f = opaque;

	pthread_mutex_lock(&f->lock);
	if (off == 0) {
		/* Selector: a 16-bit write picks the item; reads see nothing. */
		if (is_write && len == 2)
			fw_cfg_select(f, (uint16_t)(data[0] | data[1] << 8));
		else if (!is_write)
			memset(data, 0, len);
	} else if (!is_write) {
		/* Data: successive bytes of the item, zero past its end or for unknown keys. */
		for (uint32_t i = 0; i < len; i++) {
			if (f->cur && f->pos < f->cur->size)
				data[i] = f->cur->data[f->pos++];
			else
				data[i] = 0;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return IO_HANDLED;
}

static void fw_cfg_fini(struct vm *vm, void *state)
{
	struct fw_cfg *f = state;

	(void)vm;
	if (!f)
		return;
	for (unsigned i = 0; i < f->nitems; i++)
		free(f->items[i].data);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static int fw_cfg_init(struct vm *vm, void **state, struct err *e)
{
	struct fw_cfg *f = calloc(1, sizeof(*f));

	*state = f;
	if (!f)
		return errf(e, -ENOMEM, "fw_cfg: out of memory");
	pthread_mutex_init(&f->lock, NULL);
	if (fw_cfg_build(f, vm) < 0)
		return errf(e, -ENOMEM, "fw_cfg: out of memory");
	/* The selector is 16 bits wide, the data port one byte (wider data reads are nobody's). */
	if (bus_register(&vm->pio, PORT_FW_CFG, 2, fw_cfg_io, f, "fw_cfg") < 0)
		return errf(e, -EEXIST, "fw_cfg: ports 0x%x-0x%x already claimed", PORT_FW_CFG,
			    PORT_FW_CFG + 1);
	return 0;
}

/* No item selected (or an unknown key: it reads the same). */
#define FW_CFG_SNAP_NONE UINT32_MAX

/*
 * Snapshot state: the selected key (FW_CFG_SNAP_NONE) and the read offset
 * into it. The items themselves are rebuilt from the same configuration.
 */
static int fw_cfg_save(struct vm *vm, void *state, struct snap_writer *w, struct err *e)
{
	struct fw_cfg *f = state;

	(void)vm;
	(void)e;
	pthread_mutex_lock(&f->lock);
	snap_put_u32(w, f->cur ? f->cur->key : FW_CFG_SNAP_NONE);
	snap_put_u32(w, f->cur ? f->pos : 0);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static int fw_cfg_restore(struct vm *vm, void *state, struct snap_cursor *c, struct err *e)
{
	struct fw_cfg *f = state;
	uint32_t key = snap_get_u32(c), pos = snap_get_u32(c);
	int r = 0;

	(void)vm;
	if (c->error)
		return errf(e, -EINVAL, "fw_cfg: state truncated");
	pthread_mutex_lock(&f->lock);
	f->cur = NULL;
	f->pos = 0;
	if (key != FW_CFG_SNAP_NONE) {
		if (key <= 0xffff)
			fw_cfg_select(f, (uint16_t)key);
		if (!f->cur)
			r = errf(e, -EINVAL, "fw_cfg: selected key 0x%x is not an item", key);
		else if (pos > f->cur->size)
			r = errf(e, -EINVAL, "fw_cfg: offset %u past the end of item 0x%x (%u bytes)",
				 pos, key, f->cur->size);
		else
			f->pos = pos;
	} else if (pos) {
		r = errf(e, -EINVAL, "fw_cfg: offset %u with no item selected", pos);
	}
	if (r < 0)
		f->cur = NULL;
	pthread_mutex_unlock(&f->lock);
	return r;
}

static const struct device_desc fw_cfg_device = {
	.name = "fw_cfg",
	.order = DEVICE_ORDER_LEGACY,
	.init = fw_cfg_init,
	.fini = fw_cfg_fini,
	.save = fw_cfg_save,
	.restore = fw_cfg_restore,
};
DEVICE_DEFINE(fw_cfg_device);
