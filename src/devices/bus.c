#include "devices/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bus_register(struct bus *b, uint64_t base, uint64_t len, io_fn fn, void *opaque,
		 const char *name)
{
	unsigned pos;

	if (len == 0 || base + len < base)
		return -EINVAL;
	for (pos = 0; pos < b->n && b->ranges[pos].base < base; pos++)
		;
	if (pos > 0) {
		const struct bus_range *prev = &b->ranges[pos - 1];

		if (prev->base + prev->len > base)
			return -EEXIST;
	}
	if (pos < b->n && base + len > b->ranges[pos].base)
		return -EEXIST;
	if (b->n == b->cap) {
		unsigned cap = b->cap ? b->cap * 2 : 16;
		struct bus_range *r = realloc(b->ranges, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		b->ranges = r;
		b->cap = cap;
	}
	memmove(&b->ranges[pos + 1], &b->ranges[pos], (b->n - pos) * sizeof(*b->ranges));
	b->ranges[pos] = (struct bus_range){ base, len, fn, opaque, name };
	b->n++;
	return 0;
}

static const struct bus_range *bus_find(const struct bus *b, uint64_t addr)
{
	unsigned lo = 0, hi = b->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

enum io_result bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len,
			  bool is_write)
{
	const struct bus_range *r = bus_find(b, addr);
	enum io_result res = IO_UNHANDLED;

	/* An access must fit in one range; one that straddles a range end is nobody's. */
	if (r && len <= r->len - (addr - r->base))
		res = r->fn(r->opaque, addr - r->base, data, len, is_write);
	if (res != IO_HANDLED) {
		__atomic_fetch_add(&b->unhandled, 1, __ATOMIC_RELAXED);
		if (!is_write)
			memset(data, 0xff, len);
	}
	return res;
}

void bus_destroy(struct bus *b)
{
	free(b->ranges);
	b->ranges = NULL;
	b->n = b->cap = 0;
}
