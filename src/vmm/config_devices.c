/*
 * Device sections of the config model, in Firecracker's shapes: drives,
 * network-interfaces, vsock, balloon, entropy (and their RateLimiter), and
 * the CLI's key=value form of the same objects.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"
#include "vmm/config_json.h"

static int parse_bucket(json_t *o, const char *section, struct token_bucket_config *b,
			struct err *e)
{
	static const char *const keys[] = { "size", "one_time_burst", "refill_time", NULL };
	int r;

	if (!json_is_object(o))
		return errf(e, -EINVAL, "config: %s: expected an object", section);
	r = cfg_check_keys(o, section, keys, e);
	if (!r)
		r = cfg_get_uint(o, section, "size", 0, INT64_MAX, &b->size, true, e);
	if (!r)
		r = cfg_get_uint(o, section, "one_time_burst", 0, INT64_MAX, &b->one_time_burst,
				 false, e);
	if (!r)
		/* At most 2^40 ms (35 years): refill times are kept in nanoseconds. */
		r = cfg_get_uint(o, section, "refill_time", 0, 1ull << 40, &b->refill_time_ms, true,
				 e);
	if (!r && b->size && !b->refill_time_ms)
		r = errf(e, -EINVAL, "config: %s.refill_time: must be > 0 when size is", section);
	return r;
}

int cfg_get_limiter(json_t *parent, const char *section, const char *key,
		    struct rate_limiter_config *l, struct err *e)
{
	static const char *const keys[] = { "bandwidth", "ops", NULL };
	json_t *o = json_object_get(parent, key);
	char where[96];
	int r;

	memset(l, 0, sizeof(*l));
	if (!o || json_is_null(o))
		return 0;
	snprintf(where, sizeof(where), "%s.%s", section, key);
	if (!json_is_object(o))
		return errf(e, -EINVAL, "config: %s: expected an object", where);
	r = cfg_check_keys(o, where, keys, e);
	for (unsigned i = 0; !r && i < 2; i++) {
		json_t *b = json_object_get(o, keys[i]);
		char sub[128];

		snprintf(sub, sizeof(sub), "%s.%s", where, keys[i]);
		if (b && !json_is_null(b))
			r = parse_bucket(b, sub, i ? &l->ops : &l->bandwidth, e);
	}
	return r;
}

static int get_enum(json_t *o, const char *section, const char *key, const char *const *names,
		    int *dst, struct err *e)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	for (int i = 0; json_is_string(v) && names[i]; i++) {
		if (strcmp(json_string_value(v), names[i]) == 0) {
			*dst = i;
			return 0;
		}
	}
	return errf(e, -EINVAL, "config: %s.%s: expected one of \"%s\", \"%s\"%s%s%s", section, key,
		    names[0], names[1], names[2] ? ", \"" : "", names[2] ? names[2] : "",
		    names[2] ? "\"" : "");
}

static void drive_free(struct drive_config *d)
{
	free(d->id);
	free(d->path);
	free(d->partuuid);
	memset(d, 0, sizeof(*d));
}

static void net_free(struct net_config *n)
{
	free(n->id);
	free(n->tap);
	memset(n, 0, sizeof(*n));
}

void config_free_devices(struct vm_config *c)
{
	for (unsigned i = 0; i < c->ndrives; i++)
		drive_free(&c->drives[i]);
	for (unsigned i = 0; i < c->nnets; i++)
		net_free(&c->nets[i]);
	free(c->vsock.uds_path);
	c->ndrives = c->nnets = 0;
	memset(&c->vsock, 0, sizeof(c->vsock));
}

/* An id: 1-64 characters of [A-Za-z0-9_] (Firecracker's rule for drive and iface ids). */
static int check_id(const char *id, const char *where, const char *key, struct err *e)
{
	size_t n = strlen(id);

	if (n == 0 || n > 64 || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789_") != n)
		return errf(e, -EINVAL, "config: %s.%s: '%s' must be 1-64 letters, digits or _",
			    where, key, id);
	return 0;
}

int config_set_drive(struct vm_config *c, json_t *o, const char *where, struct err *e)
{
	static const char *const keys[] = { "drive_id", "path_on_host", "is_root_device",
					    "partuuid", "is_read_only", "cache_type",
					    "rate_limiter", "io_engine", "socket", NULL };
	static const char *const caches[] = { "Unsafe", "Writeback", "Direct", NULL };
	static const char *const engines[] = { "Sync", "Async", NULL };
	struct drive_config d = { 0 };
	int cache = DRIVE_CACHE_UNSAFE, io = DRIVE_IO_SYNC;
	unsigned slot;
	int r;

	if (!json_is_object(o))
		return errf(e, -EINVAL, "config: %s: expected an object", where);
	r = cfg_check_keys(o, where, keys, e);
	if (!r && json_object_get(o, "socket"))
		r = errf(e, -ENOTSUP, "config: %s.socket: vhost-user drives are not supported", where);
	if (!r)
		r = cfg_get_string(o, where, "drive_id", &d.id, true, e);
	if (!r)
		r = check_id(d.id, where, "drive_id", e);
	if (!r)
		r = cfg_get_string(o, where, "path_on_host", &d.path, true, e);
	if (!r)
		r = cfg_get_bool(o, where, "is_root_device", &d.root, true, e);
	if (!r)
		r = cfg_get_string(o, where, "partuuid", &d.partuuid, false, e);
	if (!r)
		r = cfg_get_bool(o, where, "is_read_only", &d.read_only, false, e);
	if (!r)
		r = get_enum(o, where, "cache_type", caches, &cache, e);
	if (!r)
		r = get_enum(o, where, "io_engine", engines, &io, e);
	if (!r)
		r = cfg_get_limiter(o, where, "rate_limiter", &d.limiter, e);
	d.cache = (enum drive_cache)cache;
	d.io = (enum drive_io)io;
	for (slot = 0; !r && slot < c->ndrives; slot++) {
		if (strcmp(c->drives[slot].id, d.id) == 0)
			break;
		if (d.root && c->drives[slot].root)
			r = errf(e, -EINVAL, "config: %s: drive '%s' is already the root device",
				 where, c->drives[slot].id);
	}
	if (!r && slot == c->ndrives && c->ndrives == CONFIG_MAX_DRIVES)
		r = errf(e, -ENOSPC, "config: %s: at most %d drives", where, CONFIG_MAX_DRIVES);
	if (r) {
		drive_free(&d);
		return r;
	}
	if (slot < c->ndrives)
		drive_free(&c->drives[slot]);
	else
		c->ndrives++;
	c->drives[slot] = d;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &end) != 6 || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

int config_set_net(struct vm_config *c, json_t *o, const char *where, struct err *e)
{
	static const char *const keys[] = { "iface_id", "host_dev_name", "guest_mac", "mtu",
					    "rx_rate_limiter", "tx_rate_limiter", NULL };
	struct net_config n = { 0 };
	char *mac = NULL;
	uint64_t mtu = 0;
	unsigned slot;
	int r;

	if (!json_is_object(o))
		return errf(e, -EINVAL, "config: %s: expected an object", where);
	r = cfg_check_keys(o, where, keys, e);
	if (!r)
		r = cfg_get_string(o, where, "iface_id", &n.id, true, e);
	if (!r)
		r = check_id(n.id, where, "iface_id", e);
	if (!r)
		r = cfg_get_string(o, where, "host_dev_name", &n.tap, true, e);
	if (!r && (strlen(n.tap) == 0 || strlen(n.tap) >= 16))
		r = errf(e, -EINVAL, "config: %s.host_dev_name: '%s' is not a tap name (1-15 characters)",
			 where, n.tap);
	if (!r)
		r = cfg_get_string(o, where, "guest_mac", &mac, false, e);
	if (!r && mac) {
		n.has_mac = true;
		if (parse_mac(mac, n.mac) < 0)
			r = errf(e, -EINVAL, "config: %s.guest_mac: '%s' is not a MAC address", where,
				 mac);
		else if (n.mac[0] & 1)
			r = errf(e, -EINVAL, "config: %s.guest_mac: '%s' is a multicast address",
				 where, mac);
	}
	free(mac);
	if (!r)
		r = cfg_get_uint(o, where, "mtu", 68, 65535, &mtu, false, e);
	n.mtu = (unsigned)mtu;
	if (!r)
		r = cfg_get_limiter(o, where, "rx_rate_limiter", &n.rx, e);
	if (!r)
		r = cfg_get_limiter(o, where, "tx_rate_limiter", &n.tx, e);
	for (slot = 0; !r && slot < c->nnets; slot++) {
		if (strcmp(c->nets[slot].id, n.id) == 0)
			break;
		if (strcmp(c->nets[slot].tap, n.tap) == 0)
			r = errf(e, -EINVAL, "config: %s: tap '%s' is already used by '%s'", where,
				 n.tap, c->nets[slot].id);
	}
	if (!r && slot == c->nnets && c->nnets == CONFIG_MAX_NETS)
		r = errf(e, -ENOSPC, "config: %s: at most %d network interfaces", where,
			 CONFIG_MAX_NETS);
	if (r) {
		net_free(&n);
		return r;
	}
	if (slot < c->nnets)
		net_free(&c->nets[slot]);
	else
		c->nnets++;
	c->nets[slot] = n;
	return 0;
}

int config_set_vsock(struct vm_config *c, json_t *o, const char *where, struct err *e)
{
	static const char *const keys[] = { "guest_cid", "uds_path", "vsock_id", NULL };
	struct vsock_config v = { .enabled = true };
	char *id = NULL;
	uint64_t cid = 0;
	int r;

	if (!json_is_object(o))
		return errf(e, -EINVAL, "config: %s: expected an object", where);
	r = cfg_check_keys(o, where, keys, e);
	if (!r)
		r = cfg_get_uint(o, where, "guest_cid", 3, UINT32_MAX - 1, &cid, true, e);
	if (!r)
		r = cfg_get_string(o, where, "uds_path", &v.uds_path, true, e);
	if (!r)
		r = cfg_get_string(o, where, "vsock_id", &id, false, e);
	free(id);
	if (r) {
		free(v.uds_path);
		return r;
	}
	v.cid = (uint32_t)cid;
	free(c->vsock.uds_path);
	c->vsock = v;
	return 0;
}

int config_set_balloon(struct vm_config *c, json_t *o, const char *where, struct err *e)
{
	static const char *const keys[] = { "amount_mib", "deflate_on_oom",
					    "stats_polling_interval_s", "free_page_hinting",
					    "free_page_reporting", NULL };
	struct balloon_config b = { .enabled = true };
	int r;

	if (!json_is_object(o))
		return errf(e, -EINVAL, "config: %s: expected an object", where);
	r = cfg_check_keys(o, where, keys, e);
	if (!r)
		r = cfg_get_uint(o, where, "amount_mib", 0, CONFIG_MAX_MEM_MIB, &b.amount_mib, true,
				 e);
	if (!r)
		r = cfg_get_bool(o, where, "deflate_on_oom", &b.deflate_on_oom, true, e);
	if (!r)
		r = cfg_get_uint(o, where, "stats_polling_interval_s", 0, INT32_MAX,
				 &b.stats_interval_s, false, e);
	if (!r)
		r = cfg_get_bool(o, where, "free_page_hinting", &b.free_page_hinting, false, e);
	if (!r)
		r = cfg_get_bool(o, where, "free_page_reporting", &b.free_page_reporting, false, e);
	if (r)
		return r;
	c->balloon = b;
	return 0;
}

int config_set_entropy(struct vm_config *c, json_t *o, const char *where, struct err *e)
{
	static const char *const keys[] = { "rate_limiter", NULL };
	struct entropy_config en = { .enabled = true };
	int r;

	if (!json_is_object(o))
		return errf(e, -EINVAL, "config: %s: expected an object", where);
	r = cfg_check_keys(o, where, keys, e);
	if (!r)
		r = cfg_get_limiter(o, where, "rate_limiter", &en.limiter, e);
	if (r)
		return r;
	c->entropy = en;
	return 0;
}

/* Value text to JSON: true, false, a decimal integer, else a string. */
static json_t *spec_value(const char *v)
{
	char *end;
	long long n;

	if (strcmp(v, "true") == 0)
		return json_true();
	if (strcmp(v, "false") == 0)
		return json_false();
	if (*v >= '0' && *v <= '9') {
		n = strtoll(v, &end, 10);
		if (!*end)
			return json_integer(n);
	}
	return json_string(v);
}

/* Set dotted (key) in (root) to (val) (a new reference, always consumed), making the objects on the way. */
static int spec_put(json_t *root, char *key, json_t *val)
{
	char *dot;

	while ((dot = strchr(key, '.'))) {
		json_t *sub;

		*dot = 0;
		sub = json_object_get(root, key);
		if (!sub) {
			sub = json_object();
			if (json_object_set_new(root, key, sub) < 0) {
				json_decref(val);
				return -ENOMEM;
			}
		} else if (!json_is_object(sub)) {
			json_decref(val);
			return -EINVAL;
		}
		root = sub;
		key = dot + 1;
	}
	if (!*key || json_object_get(root, key)) {
		json_decref(val);
		return -EINVAL;
	}
	return json_object_set_new(root, key, val) < 0 ? -ENOMEM : 0;
}

int config_set_from_spec(struct vm_config *c, const char *spec, const char *first_key,
			 const char *defaults,
			 int (*set)(struct vm_config *, json_t *, const char *, struct err *),
			 const char *what, struct err *e)
{
	json_t *o = json_object();
	char *copy = strdup(spec), *save = NULL, *tok;
	bool first = true;
	int r = 0;

	if (!o || !copy) {
		json_decref(o);
		free(copy);
		return errf(e, -ENOMEM, "out of memory");
	}
	for (tok = strtok_r(copy, ",", &save); tok && !r; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq && first && first_key) {
			r = json_object_set_new(o, first_key, spec_value(tok)) < 0 ? -ENOMEM : 0;
		} else if (!eq) {
			r = errf(e, -EINVAL, "%s: '%s' is not key=value", what, tok);
		} else {
			*eq = 0;
			r = spec_put(o, tok, spec_value(eq + 1));
			if (r)
				r = errf(e, r, "%s: key '%s' repeated or clashing", what, tok);
		}
		first = false;
	}
	free(copy);
	copy = defaults ? strdup(defaults) : NULL;
	if (defaults && !copy)
		r = errf(e, -ENOMEM, "out of memory");
	/* Defaults: "key=value,..." for top-level keys the spec did not give. */
	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !r;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = 0;
		if (!json_object_get(o, tok) && json_object_set_new(o, tok, spec_value(eq + 1)) < 0)
			r = errf(e, -ENOMEM, "out of memory");
	}
	if (!r)
		r = set(c, o, what, e);
	json_decref(o);
	free(copy);
	return r;
}
