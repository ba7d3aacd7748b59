/* JSON field helpers shared by the config-file parsers (vmm/config*.c). */
#ifndef LODGE_VMM_CONFIG_JSON_H
#define LODGE_VMM_CONFIG_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* Reject any key of (obj) not in (allowed) (NULL-terminated); errors name (section). */
int cfg_check_keys(json_t *obj, const char *section, const char *const *allowed, struct err *e);

/* Optional or required typed fields; absent optional fields leave (dst) alone. */
int cfg_get_string(json_t *obj, const char *section, const char *key, char **dst,
		   bool required, struct err *e);
int cfg_get_uint(json_t *obj, const char *section, const char *key, uint64_t min,
		 uint64_t max, uint64_t *dst, bool required, struct err *e);
int cfg_get_bool(json_t *obj, const char *section, const char *key, bool *dst, bool required,
		 struct err *e);

struct rate_limiter_config;

/*
 * The optional RateLimiter object (key) of (obj) into (dst): zeroed, then
 * each bucket ("bandwidth", "ops") that is there and not null. Errors name
 * (section).(key).
 */
int cfg_get_limiter(json_t *obj, const char *section, const char *key,
		    struct rate_limiter_config *dst, struct err *e);

#endif
