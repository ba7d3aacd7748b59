/*
 * Port-I/O and MMIO dispatch. Devices claim address ranges before the vCPUs
 * start; after that the bus is read-only and lookups take no lock. Each
 * handler says what became of the access.
 */
#ifndef LODGE_DEVICES_BUS_H
#define LODGE_DEVICES_BUS_H

#include <stdbool.h>
#include <stdint.h>

enum io_result {
	IO_HANDLED,     /* the device did the access */
	IO_UNHANDLED,   /* nobody owns the address: reads see all ones, writes vanish */
	IO_FAILED,      /* the device refused it (bad size or offset): treated as unhandled */
};

/*
 * Access (len) bytes at (offset) from the start of the device's range;
 * (data) holds the value for writes and receives it for reads.
 */
typedef enum io_result (*io_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
				bool is_write);

struct bus_range {
	uint64_t base, len;
	io_fn fn;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;       /* "pio" or "mmio", for messages */
	unsigned n, cap;
	struct bus_range *ranges;       /* sorted by base, non-overlapping */
	uint64_t unhandled;     /* accesses nobody claimed (statistics) */
};

/* Claim [base, base+len) for (fn, opaque); -EEXIST on overlap, -EINVAL if empty/overflowing. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, io_fn fn, void *opaque,
		 const char *name);

/* Route one access. Unclaimed reads are filled with 0xff. */
enum io_result bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len,
			  bool is_write);

/* Free the range table. */
void bus_destroy(struct bus *b);

#endif
