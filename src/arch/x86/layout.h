/*
 * The x86 guest-physical memory map and port map lodge builds. Everything a
 * guest may rely on here is also described in docs/GUEST-ABI.md.
 */
#ifndef LODGE_ARCH_X86_LAYOUT_H
#define LODGE_ARCH_X86_LAYOUT_H

/* Low memory: boot structures lodge writes before the first instruction. */
#define LAYOUT_GDT            0x500ULL      /* boot GDT (null, code32, code64, data) */
#define LAYOUT_PVH_INFO       0x6000ULL     /* hvm_start_info, then its memmap and modules */
#define LAYOUT_PVH_INFO_SIZE  0x1000ULL
#define LAYOUT_ZERO_PAGE      0x7000ULL     /* Linux boot_params */
#define LAYOUT_PML4           0x9000ULL     /* identity page tables for 64-bit boot */
#define LAYOUT_PDPT           0xa000ULL
#define LAYOUT_PD             0xb000ULL     /* 4 pages: 4 GiB identity with 2 MiB pages */
#define LAYOUT_CMDLINE        0x20000ULL    /* kernel command line, NUL-terminated */
#define LAYOUT_CMDLINE_MAX    0x10000ULL
#define LAYOUT_MBI            0x30000ULL    /* multiboot info, mmap, module list, strings */
#define LAYOUT_MBI_SIZE       0x10000ULL
#define LAYOUT_EBDA           0x9fc00ULL    /* RAM ends here in low memory; reserved above */
#define LAYOUT_VMGENID        0x9fc00ULL    /* VMGenID: the 16-byte generation ID (reserved RAM) */
#define LAYOUT_VMGENID_SIZE   16ULL
#define LAYOUT_ACPI           0xe0000ULL    /* RSDP (16-byte aligned, found by legacy scan) and tables */
#define LAYOUT_ACPI_END       0x100000ULL
#define LAYOUT_HIGH_MEM       0x100000ULL   /* 1 MiB: first byte of "high" RAM */

/* The 32-bit MMIO hole (see kvm/mem.h) holds these. */
#define LAYOUT_VIRTIO_MMIO    0xd0000000ULL /* virtio-mmio slots, LAYOUT_VIRTIO_SLOT bytes each */
#define LAYOUT_VIRTIO_SLOT    0x1000ULL
#define LAYOUT_IOAPIC         0xfec00000ULL
#define LAYOUT_LAPIC          0xfee00000ULL

/* I/O ports. */
#define PORT_I8042_DATA       0x60
#define PORT_I8042_CMD        0x64          /* write 0xfe: reset (also the FADT reset register) */
#define I8042_CMD_RESET       0xfe
#define IRQ_I8042_KBD         1
#define PORT_DEBUG_EXIT       0xf4          /* QEMU isa-debug-exit: write v, exit status (v << 1) | 1 */
#define PORT_COM1             0x3f8
#define IRQ_COM1              4
#define PORT_FW_CFG           0x510         /* QEMU fw_cfg selector (16-bit) and data (0x511) */
#define PORT_ACPI_SLEEP_CTL   0x600         /* FADT SLEEP_CONTROL_REG (8-bit) */
#define PORT_ACPI_SLEEP_STS   0x601         /* FADT SLEEP_STATUS_REG (8-bit) */

/* ACPI sleep control register fields (ACPI 6.4 §4.8.3.7). */
#define ACPI_SLP_TYP_SHIFT    2
#define ACPI_SLP_TYP_MASK     0x7
#define ACPI_SLP_EN           0x20
#define ACPI_S5_TYP           5             /* the value in the DSDT's \_S5 package */

/* The ACPI Generic Event Device's interrupt: IOAPIC pin 3, COM2's ISA line, unused. */
#define GSI_GED               3

/* First GSI for virtio-mmio devices (IOAPIC pins 0-4 are legacy ISA). */
#define GSI_VIRTIO_BASE       5
/* Slots 0..18 get GSIs 5..23, the IOAPIC's last pin. */
#define VIRTIO_MMIO_MAX_SLOTS 19

#endif
