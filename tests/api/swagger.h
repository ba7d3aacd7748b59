/*
 * The swagger file as the contract test reads it: YAML (libyaml) turned into
 * a jansson tree, its operations, schema validation of answers and example
 * bodies made from the schemas. Nothing of the API is retyped here.
 */
#ifndef LODGE_TESTS_API_SWAGGER_H
#define LODGE_TESTS_API_SWAGGER_H

#include <jansson.h>
#include <stddef.h>

/* Load (path) into a JSON tree; NULL with a message on stderr. */
json_t *sw_load(const char *path);

/* Follow "$ref": "#/definitions/X" (repeatedly); (schema) itself when it has none. */
json_t *sw_resolve(json_t *root, json_t *schema);

/*
 * Does (v) match (schema)? Checks type, required, properties, items, enum,
 * minimum/maximum, additionalProperties schemas. 0, or -1 with the first
 * mismatch (naming (where), e.g. "body.drives[0].drive_id") in (err).
 */
int sw_validate(json_t *root, json_t *schema, json_t *v, const char *where, char *err,
		size_t n);

/*
 * A value for (schema) with its required properties only: values for names
 * in (fixtures) come from there, the rest from defaults, enums, minimums or
 * "x" / 1 / false. (name) is the property's name, or NULL. A new reference.
 */
json_t *sw_example(json_t *root, json_t *schema, const char *name, json_t *fixtures);

/* The body parameter's schema of operation (op), or NULL when it takes none. */
json_t *sw_body_schema(json_t *root, json_t *op);

/* The schema documented for (status) of (op) (or "default"), or NULL; *documented: found. */
json_t *sw_response_schema(json_t *root, json_t *op, int status, int *documented);

#endif
