/*
 * Changes to the library's identity map of 0-4 GiB (2 MiB pages at first,
 * supervisor-only leaves, the top GiB uncached). 2 MiB pages are split into
 * 4 KiB ones on demand, with page tables from page_alloc.
 */
#ifndef GUEST_PAGING_H
#define GUEST_PAGING_H

#include <stdint.h>

#define PAGING_MAPPED_END (4ULL << 30)  /* nothing at or above this is mapped */

/* Make [addr, addr + len) user-accessible (U bit). Below PAGING_MAPPED_END only. */
void paging_set_user(uint64_t addr, uint64_t len);

/* Make the 4 KiB page holding (addr) not present (a later access: #PF, err P=0). */
void paging_unmap(uint64_t addr);

/* Make the 4 KiB page holding (addr) read-only for everybody (CR0.WP is set). */
void paging_set_readonly(uint64_t addr);

#endif
