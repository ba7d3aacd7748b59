/* The configuration model back to JSON, in the config file's (Firecracker's) shape. */
#ifndef LODGE_VMM_CONFIG_JSON_OUT_H
#define LODGE_VMM_CONFIG_JSON_OUT_H

#include <jansson.h>

#include "vmm/config.h"

/*
 * (c) as a config-file object: boot-source (when a kernel is set),
 * machine-config, drives, network-interfaces, vsock, balloon and entropy
 * (when enabled), and lodge's own section. config_parse_json of the result
 * gives back the same configuration. A new reference, or NULL without memory.
 */
json_t *config_to_json(const struct vm_config *c);

/* One section alone (GET /machine-config, GET /balloon); new references or NULL. */
json_t *config_machine_to_json(const struct vm_config *c);
json_t *config_balloon_to_json(const struct balloon_config *b);

#endif
