/*
 * The configuration model back to JSON in the config file's shape
 * (Firecracker's, plus lodge's own section): GET /vm/config, and the
 * sections other API answers reuse. The inverse of config.c and
 * config_devices.c: what they parse, this writes.
 */
#include "vmm/config_json_out.h"

#include <stdio.h>
#include <stdlib.h>

/* Set (key) of (o) to (v), stealing (v); counts failures in (*bad). */
static void put(json_t *o, const char *key, json_t *v, int *bad)
{
	if (!o || !v || json_object_set_new(o, key, v) < 0)
		(*bad)++;
}

static json_t *bucket_to_json(const struct token_bucket_config *b)
{
	int bad = 0;
	json_t *o = json_object();

	put(o, "size", json_integer((json_int_t)b->size), &bad);
	put(o, "one_time_burst", json_integer((json_int_t)b->one_time_burst), &bad);
	put(o, "refill_time", json_integer((json_int_t)b->refill_time_ms), &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static bool bucket_set(const struct token_bucket_config *b)
{
	return b->size || b->one_time_burst || b->refill_time_ms;
}

/* A RateLimiter object, or NULL (nothing to write) when neither bucket is set. */
static json_t *limiter_to_json(const struct rate_limiter_config *l, int *bad)
{
	json_t *o;

	if (!bucket_set(&l->bandwidth) && !bucket_set(&l->ops))
		return NULL;
	o = json_object();
	if (bucket_set(&l->bandwidth))
		put(o, "bandwidth", bucket_to_json(&l->bandwidth), bad);
	if (bucket_set(&l->ops))
		put(o, "ops", bucket_to_json(&l->ops), bad);
	if (!o)
		(*bad)++;
	return o;
}

static void put_limiter(json_t *o, const char *key, const struct rate_limiter_config *l, int *bad)
{
	json_t *v = limiter_to_json(l, bad);

	if (v)
		put(o, key, v, bad);
}

static json_t *drive_to_json(const struct drive_config *d, int *bad)
{
	static const char *const caches[] = { "Unsafe", "Writeback", "Direct" };
	static const char *const engines[] = { "Sync", "Async" };
	json_t *o = json_object();

	put(o, "drive_id", json_string(d->id), bad);
	put(o, "path_on_host", json_string(d->path), bad);
	put(o, "is_root_device", json_boolean(d->root), bad);
	if (d->partuuid)
		put(o, "partuuid", json_string(d->partuuid), bad);
	put(o, "is_read_only", json_boolean(d->read_only), bad);
	put(o, "cache_type", json_string(caches[d->cache]), bad);
	put(o, "io_engine", json_string(engines[d->io]), bad);
	put_limiter(o, "rate_limiter", &d->limiter, bad);
	return o;
}

static json_t *net_to_json(const struct net_config *n, int *bad)
{
	json_t *o = json_object();
	char mac[18];

	put(o, "iface_id", json_string(n->id), bad);
	put(o, "host_dev_name", json_string(n->tap), bad);
	if (n->has_mac) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
			 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		put(o, "guest_mac", json_string(mac), bad);
	}
	if (n->mtu)
		put(o, "mtu", json_integer(n->mtu), bad);
	put_limiter(o, "rx_rate_limiter", &n->rx, bad);
	put_limiter(o, "tx_rate_limiter", &n->tx, bad);
	return o;
}

json_t *config_machine_to_json(const struct vm_config *c)
{
	int bad = 0;
	json_t *o = json_object();

	put(o, "vcpu_count", json_integer(c->vcpus), &bad);
	put(o, "mem_size_mib", json_integer((json_int_t)c->mem_mib), &bad);
	put(o, "smt", json_false(), &bad);
	put(o, "track_dirty_pages", json_boolean(c->track_dirty_pages), &bad);
	put(o, "huge_pages", json_string(c->hugepages ? "2M" : "None"), &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *config_balloon_to_json(const struct balloon_config *b)
{
	int bad = 0;
	json_t *o = json_object();

	put(o, "amount_mib", json_integer((json_int_t)b->amount_mib), &bad);
	put(o, "deflate_on_oom", json_boolean(b->deflate_on_oom), &bad);
	put(o, "stats_polling_interval_s", json_integer((json_int_t)b->stats_interval_s), &bad);
	put(o, "free_page_hinting", json_boolean(b->free_page_hinting), &bad);
	put(o, "free_page_reporting", json_boolean(b->free_page_reporting), &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *boot_source_to_json(const struct vm_config *c, int *bad)
{
	json_t *o = json_object();

	put(o, "kernel_image_path", json_string(c->kernel_path), bad);
	if (c->initrd_path)
		put(o, "initrd_path", json_string(c->initrd_path), bad);
	if (c->cmdline)
		put(o, "boot_args", json_string(c->cmdline), bad);
	return o;
}

static json_t *strings_to_json(char *const *s, unsigned n, int *bad)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < n; i++)
		if (!a || json_array_append_new(a, json_string(s[i])) < 0)
			(*bad)++;
	return a;
}

/* lodge's section: the serial console, hidden CPUID features, multiboot modules. */
static json_t *lodge_to_json(const struct vm_config *c, int *bad)
{
	json_t *o = json_object();
	char *serial = NULL;

	if (c->serial == SERIAL_FILE) {
		if (asprintf(&serial, "file:%s", c->serial_path ? c->serial_path : "") < 0)
			serial = NULL;
		put(o, "serial", serial ? json_string(serial) : NULL, bad);
		free(serial);
	} else {
		put(o, "serial", json_string(c->serial == SERIAL_NONE ? "none" : "stdio"), bad);
	}
	if (c->ncpu_mask)
		put(o, "cpu_mask", strings_to_json(c->cpu_mask, c->ncpu_mask, bad), bad);
	if (c->nmodules)
		put(o, "modules", strings_to_json(c->modules, c->nmodules, bad), bad);
	return o;
}

json_t *config_to_json(const struct vm_config *c)
{
	json_t *o = json_object(), *drives = json_array(), *nets = json_array();
	int bad = 0;

	if (c->kernel_path)
		put(o, "boot-source", boot_source_to_json(c, &bad), &bad);
	put(o, "machine-config", config_machine_to_json(c), &bad);
	for (unsigned i = 0; i < c->ndrives; i++)
		if (!drives || json_array_append_new(drives, drive_to_json(&c->drives[i], &bad)) < 0)
			bad++;
	put(o, "drives", drives, &bad);
	for (unsigned i = 0; i < c->nnets; i++)
		if (!nets || json_array_append_new(nets, net_to_json(&c->nets[i], &bad)) < 0)
			bad++;
	put(o, "network-interfaces", nets, &bad);
	if (c->vsock.enabled) {
		json_t *v = json_object();

		put(v, "guest_cid", json_integer(c->vsock.cid), &bad);
		put(v, "uds_path", json_string(c->vsock.uds_path), &bad);
		put(o, "vsock", v, &bad);
	}
	if (c->balloon.enabled)
		put(o, "balloon", config_balloon_to_json(&c->balloon), &bad);
	if (c->entropy.enabled) {
		json_t *en = json_object();

		put_limiter(en, "rate_limiter", &c->entropy.limiter, &bad);
		put(o, "entropy", en, &bad);
	}
	put(o, "lodge", lodge_to_json(c, &bad), &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}
