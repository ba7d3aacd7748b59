#include "vmm/config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/cpuid.h"
#include "vmm/config_json.h"

#define CONFIG_FILE_MAX (1 << 20)

void config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->vcpus = 1;
	c->mem_mib = 128;
	c->serial = SERIAL_STDIO;
}

void config_free(struct vm_config *c)
{
	free(c->kernel_path);
	free(c->initrd_path);
	free(c->cmdline);
	free(c->serial_path);
	free(c->kvm_path);
	for (unsigned i = 0; i < c->nmodules; i++)
		free(c->modules[i]);
	for (unsigned i = 0; i < c->ncpu_mask; i++)
		free(c->cpu_mask[i]);
	config_free_devices(c);
	config_init(c);
}

int config_parse_uint(const char *s, uint64_t min, uint64_t max, const char *what,
		      uint64_t *out, struct err *e)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return errf(e, -EINVAL, "%s: '%s' is not a number", what, s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno)
		return errf(e, -EINVAL, "%s: '%s' is not a number", what, s);
	if (v < min || v > max)
		return errf(e, -EINVAL, "%s: %llu out of range [%" PRIu64 ", %" PRIu64 "]", what, v,
			    min, max);
	*out = v;
	return 0;
}

int config_set_string(char **dst, const char *s, struct err *e)
{
	char *copy = strdup(s);

	if (!copy)
		return errf(e, -ENOMEM, "out of memory");
	free(*dst);
	*dst = copy;
	return 0;
}

int config_set_serial(struct vm_config *c, const char *spec, struct err *e)
{
	if (strcmp(spec, "stdio") == 0) {
		c->serial = SERIAL_STDIO;
	} else if (strcmp(spec, "none") == 0) {
		c->serial = SERIAL_NONE;
	} else if (strncmp(spec, "file:", 5) == 0 && spec[5]) {
		c->serial = SERIAL_FILE;
		return config_set_string(&c->serial_path, spec + 5, e);
	} else {
		return errf(e, -EINVAL, "--serial: '%s' is not stdio, none or file:PATH", spec);
	}
	return 0;
}

/* Reject any key of (obj) not listed in (allowed) (NULL-terminated). */
int cfg_check_keys(json_t *obj, const char *section, const char *const *allowed, struct err *e)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		const char *const *a;

		(void)v;
		for (a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (!*a)
			return errf(e, -EINVAL, "config: %s: unknown field '%s'", section, key);
	}
	return 0;
}

int cfg_get_string(json_t *obj, const char *section, const char *key, char **dst,
		      bool required, struct err *e)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		if (required)
			return errf(e, -EINVAL, "config: %s: missing field '%s'", section, key);
		return 0;
	}
	if (!json_is_string(v))
		return errf(e, -EINVAL, "config: %s.%s: expected a string", section, key);
	return config_set_string(dst, json_string_value(v), e);
}

int cfg_get_uint(json_t *obj, const char *section, const char *key, uint64_t min,
		    uint64_t max, uint64_t *dst, bool required, struct err *e)
{
	json_t *v = json_object_get(obj, key);
	json_int_t i;

	if (!v) {
		if (required)
			return errf(e, -EINVAL, "config: %s: missing field '%s'", section, key);
		return 0;
	}
	if (!json_is_integer(v))
		return errf(e, -EINVAL, "config: %s.%s: expected an integer", section, key);
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return errf(e, -EINVAL, "config: %s.%s: %lld out of range [%" PRIu64 ", %" PRIu64 "]",
			    section, key, (long long)i, min, max);
	*dst = (uint64_t)i;
	return 0;
}

int cfg_get_bool(json_t *obj, const char *section, const char *key, bool *dst, bool required,
		 struct err *e)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		if (required)
			return errf(e, -EINVAL, "config: %s: missing field '%s'", section, key);
		return 0;
	}
	if (!json_is_boolean(v))
		return errf(e, -EINVAL, "config: %s.%s: expected a boolean", section, key);
	*dst = json_is_true(v);
	return 0;
}

static int parse_boot_source(struct vm_config *c, json_t *o, struct err *e)
{
	static const char *const keys[] = { "kernel_image_path", "boot_args", "initrd_path", NULL };
	int r;

	if (!json_is_object(o))
		return errf(e, -EINVAL, "config: boot-source: expected an object");
	r = cfg_check_keys(o, "boot-source", keys, e);
	if (!r)
		r = cfg_get_string(o, "boot-source", "kernel_image_path", &c->kernel_path, true, e);
	if (!r)
		r = cfg_get_string(o, "boot-source", "boot_args", &c->cmdline, false, e);
	if (!r)
		r = cfg_get_string(o, "boot-source", "initrd_path", &c->initrd_path, false, e);
	return r;
}

int config_add_cpu_mask(struct vm_config *c, const char *name, const char *what,
			struct err *e)
{
	if (!cpuid_feature_known(name))
		return errf(e, -EINVAL, "%s: unknown CPUID feature '%s'", what, name);
	if (c->ncpu_mask == CONFIG_MAX_CPU_MASK)
		return errf(e, -EINVAL, "%s: more than %d features", what, CONFIG_MAX_CPU_MASK);
	c->cpu_mask[c->ncpu_mask] = strdup(name);
	if (!c->cpu_mask[c->ncpu_mask])
		return errf(e, -ENOMEM, "out of memory");
	c->ncpu_mask++;
	return 0;
}

int config_add_module(struct vm_config *c, const char *spec, const char *what, struct err *e)
{
	if (c->nmodules == CONFIG_MAX_MODULES)
		return errf(e, -EINVAL, "%s: more than %d modules", what, CONFIG_MAX_MODULES);
	c->modules[c->nmodules] = strdup(spec);
	if (!c->modules[c->nmodules])
		return errf(e, -ENOMEM, "out of memory");
	c->nmodules++;
	return 0;
}

/* Add each string of the JSON array (arr), the field (what), to (c) with (add). */
static int parse_string_array(struct vm_config *c, json_t *arr, const char *what,
			      int (*add)(struct vm_config *, const char *, const char *, struct err *),
			      struct err *e)
{
	size_t i;
	json_t *v;
	int r;

	if (!json_is_array(arr))
		return errf(e, -EINVAL, "%s: expected an array of strings", what);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			return errf(e, -EINVAL, "%s[%zu]: expected a string", what, i);
		r = add(c, json_string_value(v), what, e);
		if (r)
			return r;
	}
	return 0;
}

static int parse_machine_config(struct vm_config *c, json_t *o, struct err *e)
{
	static const char *const keys[] = { "vcpu_count", "mem_size_mib", "smt", "huge_pages",
					    "track_dirty_pages", "cpu_template", NULL };
	uint64_t v = c->vcpus;
	json_t *j;
	int r;

	if (!json_is_object(o))
		return errf(e, -EINVAL, "config: machine-config: expected an object");
	r = cfg_check_keys(o, "machine-config", keys, e);
	if (!r)
		r = cfg_get_uint(o, "machine-config", "vcpu_count", 1, CONFIG_MAX_VCPUS, &v, true, e);
	c->vcpus = (unsigned)v;
	if (!r)
		r = cfg_get_uint(o, "machine-config", "mem_size_mib", 1, CONFIG_MAX_MEM_MIB,
			     &c->mem_mib, true, e);
	if (r)
		return r;
	j = json_object_get(o, "smt");
	if (j && !json_is_boolean(j))
		return errf(e, -EINVAL, "config: machine-config.smt: expected a boolean");
	if (j && json_is_true(j))
		return errf(e, -EINVAL, "config: machine-config.smt: SMT is not supported");
	j = json_object_get(o, "huge_pages");
	if (j) {
		if (!json_is_string(j) || (strcmp(json_string_value(j), "None") &&
					   strcmp(json_string_value(j), "2M")))
			return errf(e, -EINVAL, "config: machine-config.huge_pages: expected \"None\" or \"2M\"");
		c->hugepages = strcmp(json_string_value(j), "2M") == 0;
	}
	j = json_object_get(o, "track_dirty_pages");
	if (j && !json_is_boolean(j))
		return errf(e, -EINVAL, "config: machine-config.track_dirty_pages: expected a boolean");
	if (j)
		c->track_dirty_pages = json_is_true(j);
	j = json_object_get(o, "cpu_template");
	if (j && !(json_is_string(j) && strcmp(json_string_value(j), "None") == 0))
		return errf(e, -EINVAL, "config: machine-config.cpu_template: only \"None\" is supported (use lodge.cpu_mask)");
	return 0;
}

/* lodge's own section: settings Firecracker's format has no place for. */
static int parse_lodge(struct vm_config *c, json_t *o, struct err *e)
{
	static const char *const keys[] = { "serial", "cpu_mask", "modules", NULL };
	json_t *j;
	int r;

	if (!json_is_object(o))
		return errf(e, -EINVAL, "config: lodge: expected an object");
	r = cfg_check_keys(o, "lodge", keys, e);
	if (r)
		return r;
	j = json_object_get(o, "serial");
	if (j) {
		if (!json_is_string(j))
			return errf(e, -EINVAL, "config: lodge.serial: expected a string");
		r = config_set_serial(c, json_string_value(j), e);
		if (r)
			return errprefix(e, r, "config: lodge.serial");
	}
	j = json_object_get(o, "cpu_mask");
	if (j && (r = parse_string_array(c, j, "config: lodge.cpu_mask", config_add_cpu_mask, e)))
		return r;
	j = json_object_get(o, "modules");
	if (j && (r = parse_string_array(c, j, "config: lodge.modules", config_add_module, e)))
		return r;
	return 0;
}

/* Sections of Firecracker's format that need devices lodge does not have yet. */
static int parse_unsupported(const char *name, json_t *v, struct err *e)
{
	if ((json_is_array(v) && json_array_size(v) == 0) || json_is_null(v))
		return 0;
	return errf(e, -ENOTSUP, "config: %s: not supported by this lodge yet", name);
}

/* drives[] and network-interfaces[]: each element through (set), named "section[i]". */
static int parse_array(struct vm_config *c, json_t *arr, const char *section,
		       int (*set)(struct vm_config *, json_t *, const char *, struct err *),
		       struct err *e)
{
	size_t i;
	json_t *v;

	if (!json_is_array(arr))
		return errf(e, -EINVAL, "config: %s: expected an array", section);
	json_array_foreach(arr, i, v) {
		char where[48];
		int r;

		snprintf(where, sizeof(where), "%s[%zu]", section, i);
		r = set(c, v, where, e);
		if (r)
			return r;
	}
	return 0;
}

int config_parse_json(struct vm_config *c, const char *text, struct err *e)
{
	static const char *const later[] = { "logger", "metrics", "mmds-config", "cpu-config",
					     NULL };
	json_error_t je;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	const char *key;
	json_t *v;
	int r = 0;

	if (!root)
		return errf(e, -EINVAL, "config: line %d column %d: %s", je.line, je.column, je.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return errf(e, -EINVAL, "config: top level must be an object");
	}
	json_object_foreach(root, key, v) {
		const char *const *l;

		if (strcmp(key, "boot-source") == 0)
			r = parse_boot_source(c, v, e);
		else if (strcmp(key, "machine-config") == 0)
			r = parse_machine_config(c, v, e);
		else if (strcmp(key, "lodge") == 0)
			r = parse_lodge(c, v, e);
		else if (strcmp(key, "drives") == 0)
			r = parse_array(c, v, "drives", config_set_drive, e);
		else if (strcmp(key, "network-interfaces") == 0)
			r = parse_array(c, v, "network-interfaces", config_set_net, e);
		else if (strcmp(key, "vsock") == 0)
			r = json_is_null(v) ? 0 : config_set_vsock(c, v, "vsock", e);
		else if (strcmp(key, "balloon") == 0)
			r = json_is_null(v) ? 0 : config_set_balloon(c, v, "balloon", e);
		else if (strcmp(key, "entropy") == 0)
			r = json_is_null(v) ? 0 : config_set_entropy(c, v, "entropy", e);
		else {
			for (l = later; *l && strcmp(*l, key); l++)
				;
			r = *l ? parse_unsupported(key, v, e)
			       : errf(e, -EINVAL, "config: unknown section '%s'", key);
		}
		if (r)
			break;
	}
	json_decref(root);
	return r;
}

int config_load_file(struct vm_config *c, const char *path, struct err *e)
{
	FILE *f = fopen(path, "re");
	char *text;
	size_t n;
	int r;

	if (!f)
		return errf(e, -errno, "--config %s: %s", path, strerror(errno));
	text = malloc(CONFIG_FILE_MAX + 1);
	if (!text) {
		fclose(f);
		return errf(e, -ENOMEM, "out of memory");
	}
	n = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	fclose(f);
	if (n > CONFIG_FILE_MAX) {
		free(text);
		return errf(e, -EFBIG, "--config %s: larger than %d bytes", path, CONFIG_FILE_MAX);
	}
	text[n] = 0;
	r = config_parse_json(c, text, e);
	free(text);
	if (r)
		errprefix(e, r, path);
	return r;
}

int config_validate(const struct vm_config *c, struct err *e)
{
	if (!c->kernel_path)
		return errf(e, -EINVAL, "no kernel: give --kernel PATH or boot-source.kernel_image_path");
	if (c->vcpus < 1 || c->vcpus > CONFIG_MAX_VCPUS)
		return errf(e, -EINVAL, "--cpus %u: must be 1-%d", c->vcpus, CONFIG_MAX_VCPUS);
	if (c->mem_mib < 2 || c->mem_mib > CONFIG_MAX_MEM_MIB)
		return errf(e, -EINVAL, "--memory %" PRIu64 ": must be 2-%d MiB", c->mem_mib,
			    CONFIG_MAX_MEM_MIB);
	if (c->hugepages && c->mem_mib % 2)
		return errf(e, -EINVAL, "--memory %" PRIu64 ": huge pages need a multiple of 2 MiB",
			    c->mem_mib);
	return 0;
}
