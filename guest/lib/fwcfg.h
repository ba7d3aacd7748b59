/* QEMU fw_cfg, traditional I/O interface (QEMU docs/specs/fw_cfg.rst). */
#ifndef GUEST_FWCFG_H
#define GUEST_FWCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_CFG_PORT_SEL   0x510
#define FW_CFG_PORT_DATA  0x511
#define FW_CFG_SIGNATURE  0x0000
#define FW_CFG_ID         0x0001
#define FW_CFG_RAM_SIZE   0x0003
#define FW_CFG_NB_CPUS    0x0005
#define FW_CFG_FILE_DIR   0x0019

/* Select (key) and read (n) bytes of it into (buf). */
void fwcfg_read(uint16_t key, void *buf, size_t n);

/* Little-endian values of (key). */
uint16_t fwcfg_read_le16(uint16_t key);
uint32_t fwcfg_read_le32(uint16_t key);
uint64_t fwcfg_read_le64(uint16_t key);

/*
 * Walk the file directory, calling (fn)(name, select, size, arg) per file.
 * Returns the file count the directory states.
 */
uint32_t fwcfg_files(void (*fn)(const char *name, uint16_t select, uint32_t size, void *arg),
		     void *arg);

#endif
