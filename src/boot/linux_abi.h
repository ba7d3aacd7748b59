/*
 * The Linux/x86 boot protocol as lodge uses it: offsets into the bzImage
 * setup header and into struct boot_params (the "zero page"), from
 * Documentation/arch/x86/boot.rst ("THE REAL-MODE KERNEL HEADER", "DETAILS OF
 * HEADER FIELDS", "64-bit BOOT PROTOCOL") and zero-page.rst. The setup header
 * sits at the same offsets in the file and in the zero page, so one set of
 * offsets serves both.
 */
#ifndef LODGE_BOOT_LINUX_ABI_H
#define LODGE_BOOT_LINUX_ABI_H

/* Setup header fields (offset in file and in boot_params; protocol noted). */
#define LINUX_SETUP_SECTS_OFF      0x1f1   /* u8, 0 means 4 */
#define LINUX_SYSSIZE_OFF          0x1f4   /* u32, 2.04+: 16-byte paragraphs */
#define LINUX_VID_MODE_OFF         0x1fa   /* u16 */
#define LINUX_BOOT_FLAG_OFF        0x1fe   /* u16, 0xAA55 */
#define LINUX_JUMP_OFF             0x200   /* u16; byte 0x201 gives the header length */
#define LINUX_HDR_MAGIC_OFF        0x202   /* u32, "HdrS" */
#define LINUX_VERSION_OFF          0x206   /* u16, protocol version */
#define LINUX_TYPE_OF_LOADER_OFF   0x210   /* u8 */
#define LINUX_LOADFLAGS_OFF        0x211   /* u8 */
#define LINUX_RAMDISK_IMAGE_OFF    0x218   /* u32 */
#define LINUX_RAMDISK_SIZE_OFF     0x21c   /* u32 */
#define LINUX_HEAP_END_PTR_OFF     0x224   /* u16, 2.01+ */
#define LINUX_CMD_LINE_PTR_OFF     0x228   /* u32, 2.02+ */
#define LINUX_INITRD_ADDR_MAX_OFF  0x22c   /* u32, 2.03+ */
#define LINUX_KERNEL_ALIGN_OFF     0x230   /* u32, 2.05+ */
#define LINUX_RELOCATABLE_OFF      0x234   /* u8, 2.05+ */
#define LINUX_XLOADFLAGS_OFF       0x236   /* u16, 2.12+ */
#define LINUX_CMDLINE_SIZE_OFF     0x238   /* u32, 2.06+ */
#define LINUX_SETUP_DATA_OFF       0x250   /* u64, 2.09+ */
#define LINUX_PREF_ADDRESS_OFF     0x258   /* u64, 2.10+ */
#define LINUX_INIT_SIZE_OFF        0x260   /* u32, 2.10+ */
#define LINUX_HDR_FIELDS_END       0x264   /* the last field lodge reads ends here */

#define LINUX_BOOT_FLAG            0xaa55
#define LINUX_HDR_MAGIC            0x53726448u  /* "HdrS" little-endian */
#define LINUX_SETUP_SECTS_DEFAULT  4
#define LINUX_SECTOR               512

/*
 * 2.12 introduced xloadflags, whose XLF_KERNEL_64 is the only way to know the
 * kernel has the 64-bit entry point at load address + 0x200.
 */
#define LINUX_MIN_VERSION          0x020c
#define LINUX_ENTRY64_OFFSET       0x200

/* loadflags (boot.rst "loadflags"). */
#define LINUX_LOADED_HIGH          0x01
#define LINUX_KASLR_FLAG           0x02    /* set by the kernel itself, never by a loader */
#define LINUX_QUIET_FLAG           0x20
#define LINUX_KEEP_SEGMENTS        0x40    /* obsolete */
#define LINUX_CAN_USE_HEAP         0x80

/* xloadflags (boot.rst "xloadflags"). */
#define LINUX_XLF_KERNEL_64        0x01
#define LINUX_XLF_CAN_BE_LOADED_ABOVE_4G 0x02

#define LINUX_TYPE_OF_LOADER_UNDEF 0xff    /* "undefined": no assigned loader ID */
#define LINUX_VID_MODE_NORMAL      0xffff  /* "normal" VGA mode */
#define LINUX_INITRD_ADDR_MAX_DEFAULT 0x37ffffffu  /* for a zero field (pre-2.03 default) */

/* The setup header ends at 0x202 + the byte at 0x201; in boot_params it may not pass 0x290. */
#define LINUX_HDR_LEN_OFF          0x201
#define LINUX_HDR_MAX_END          0x290

/* struct boot_params (zero-page.rst). */
#define LINUX_BOOT_PARAMS_SIZE     4096
#define BP_ACPI_RSDP_ADDR          0x070   /* u64 */
#define BP_EXT_RAMDISK_IMAGE       0x0c0   /* u32, bits 32-63 of ramdisk_image */
#define BP_EXT_RAMDISK_SIZE        0x0c4   /* u32 */
#define BP_EXT_CMD_LINE_PTR        0x0c8   /* u32 */
#define BP_E820_ENTRIES            0x1e8   /* u8 */
#define BP_SENTINEL                0x1ef   /* u8, must stay 0 */
#define BP_E820_TABLE              0x2d0   /* 128 entries of {u64 addr, u64 size, u32 type} */
#define BP_E820_MAX                128
#define BP_E820_ENTRY_SIZE         20

#endif
