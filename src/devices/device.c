#include "devices/device.h"

#include <stdlib.h>
#include <string.h>

/* Provided by the linker for the section that DEVICE_DEFINE fills. */
extern const struct device_desc *const __start_lodge_devices[];
extern const struct device_desc *const __stop_lodge_devices[];

static const struct device_desc *sorted[64];

static int device_cmp(const void *a, const void *b)
{
	const struct device_desc *x = *(const struct device_desc *const *)a;
	const struct device_desc *y = *(const struct device_desc *const *)b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->name, y->name);
}

unsigned device_list(const struct device_desc *const **out)
{
	unsigned n = (unsigned)(__stop_lodge_devices - __start_lodge_devices);

	if (n > sizeof(sorted) / sizeof(sorted[0]))
		abort(); /* lodge's own invariant: raise the table size */
	memcpy(sorted, __start_lodge_devices, n * sizeof(sorted[0]));
	qsort(sorted, n, sizeof(sorted[0]), device_cmp);
	*out = sorted;
	return n;
}
