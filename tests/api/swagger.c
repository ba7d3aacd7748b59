/* The swagger file: YAML to JSON, validation and examples (see swagger.h). */
#include "swagger.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* A plain scalar that reads as an integer, boolean or null is typed so; the rest are strings. */
static json_t *scalar_to_json(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	char *end;
	long long v;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(s, n->data.scalar.length);
	if (strcmp(s, "true") == 0)
		return json_true();
	if (strcmp(s, "false") == 0)
		return json_false();
	if (strcmp(s, "null") == 0 || strcmp(s, "~") == 0)
		return json_null();
	if (*s && (*s == '-' || (*s >= '0' && *s <= '9'))) {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (!*end && !errno)
			return json_integer(v);
	}
	return json_stringn(s, n->data.scalar.length);
}

static json_t *node_to_json(yaml_document_t *d, yaml_node_t *n, int depth)
{
	json_t *out = NULL;

	if (!n || depth > 64)
		return NULL;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar_to_json(n);
	case YAML_SEQUENCE_NODE:
		out = json_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     out && i < n->data.sequence.items.top; i++) {
			json_t *v = node_to_json(d, yaml_document_get_node(d, *i), depth + 1);

			if (!v || json_array_append_new(out, v) < 0) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	case YAML_MAPPING_NODE:
		out = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     out && p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(d, p->key);
			json_t *v = node_to_json(d, yaml_document_get_node(d, p->value), depth + 1);

			if (!k || k->type != YAML_SCALAR_NODE || !v ||
			    json_object_set_new(out, (const char *)k->data.scalar.value, v) < 0) {
				json_decref(v);
				json_decref(out);
				return NULL;
			}
		}
		return out;
	default:
		return NULL;
	}
}

json_t *sw_load(const char *path)
{
	FILE *f = fopen(path, "rb");
	yaml_parser_t p;
	yaml_document_t d;
	json_t *root = NULL;

	if (!f) {
		fprintf(stderr, "swagger: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	if (yaml_parser_load(&p, &d)) {
		root = node_to_json(&d, yaml_document_get_root_node(&d), 0);
		yaml_document_delete(&d);
	} else {
		fprintf(stderr, "swagger: %s: line %zu: %s\n", path, p.problem_mark.line + 1,
			p.problem ? p.problem : "parse error");
	}
	yaml_parser_delete(&p);
	fclose(f);
	if (root && !json_is_object(json_object_get(root, "paths"))) {
		fprintf(stderr, "swagger: %s: no paths\n", path);
		json_decref(root);
		root = NULL;
	}
	return root;
}

json_t *sw_resolve(json_t *root, json_t *schema)
{
	for (int i = 0; i < 16 && json_is_object(schema); i++) {
		const char *ref = json_string_value(json_object_get(schema, "$ref"));

		if (!ref || strncmp(ref, "#/definitions/", 14) != 0)
			return schema;
		schema = json_object_get(json_object_get(root, "definitions"), ref + 14);
	}
	return schema;
}

static const char *type_of(json_t *schema)
{
	const char *t = json_string_value(json_object_get(schema, "type"));

	if (!t && json_object_get(schema, "properties"))
		t = "object";
	return t;
}

static int fail(char *err, size_t n, const char *where, const char *what)
{
	snprintf(err, n, "%s: %s", where, what);
	return -1;
}

static int validate_object(json_t *root, json_t *schema, json_t *v, const char *where,
			   char *err, size_t n)
{
	json_t *props = json_object_get(schema, "properties"), *req = json_object_get(schema, "required");
	json_t *extra = json_object_get(schema, "additionalProperties"), *x, *ps;
	char sub[256];
	const char *key;
	size_t i;

	if (!json_is_object(v))
		return fail(err, n, where, "expected an object");
	json_array_foreach(req, i, x) {
		if (json_is_string(x) && !json_object_get(v, json_string_value(x))) {
			snprintf(sub, sizeof(sub), "required field '%s' missing", json_string_value(x));
			return fail(err, n, where, sub);
		}
	}
	json_object_foreach(v, key, x) {
		ps = json_object_get(props, key);
		if (!ps && json_is_object(extra))
			ps = extra;
		if (!ps) {
			if (json_is_false(extra))
				return fail(err, n, where, "field not in the schema");
			continue;
		}
		snprintf(sub, sizeof(sub), "%s.%s", where, key);
		if (sw_validate(root, ps, x, sub, err, n) < 0)
			return -1;
	}
	return 0;
}

int sw_validate(json_t *root, json_t *schema, json_t *v, const char *where, char *err,
		size_t n)
{
	const char *t;
	json_t *en, *lim, *x;
	char sub[256];
	size_t i;
	bool in = false;

	schema = sw_resolve(root, schema);
	if (!json_is_object(schema))
		return 0;
	t = type_of(schema);
	if (t && strcmp(t, "object") == 0)
		return validate_object(root, schema, v, where, err, n);
	if (t && strcmp(t, "array") == 0) {
		if (!json_is_array(v))
			return fail(err, n, where, "expected an array");
		json_array_foreach(v, i, x) {
			snprintf(sub, sizeof(sub), "%s[%zu]", where, i);
			if (sw_validate(root, json_object_get(schema, "items"), x, sub, err, n) < 0)
				return -1;
		}
		return 0;
	}
	if (t && strcmp(t, "string") == 0 && !json_is_string(v))
		return fail(err, n, where, "expected a string");
	if (t && strcmp(t, "integer") == 0 && !json_is_integer(v))
		return fail(err, n, where, "expected an integer");
	if (t && strcmp(t, "number") == 0 && !json_is_number(v))
		return fail(err, n, where, "expected a number");
	if (t && strcmp(t, "boolean") == 0 && !json_is_boolean(v))
		return fail(err, n, where, "expected a boolean");
	if ((en = json_object_get(schema, "enum"))) {
		json_array_foreach(en, i, x)
			in |= json_equal(x, v);
		if (!in)
			return fail(err, n, where, "not one of the enum's values");
	}
	if (json_is_integer(v) && (lim = json_object_get(schema, "minimum")) &&
	    json_integer_value(v) < json_integer_value(lim))
		return fail(err, n, where, "below the minimum");
	if (json_is_integer(v) && (lim = json_object_get(schema, "maximum")) &&
	    json_integer_value(v) > json_integer_value(lim))
		return fail(err, n, where, "above the maximum");
	return 0;
}

json_t *sw_example(json_t *root, json_t *schema, const char *name, json_t *fixtures)
{
	json_t *f = name ? json_object_get(fixtures, name) : NULL, *v, *req, *props, *o;
	const char *t;
	size_t i;

	if (f)
		return json_deep_copy(f);
	schema = sw_resolve(root, schema);
	if (!json_is_object(schema))
		return json_object();
	if ((v = json_object_get(schema, "default")))
		return json_deep_copy(v);
	if ((v = json_array_get(json_object_get(schema, "enum"), 0)))
		return json_deep_copy(v);
	t = type_of(schema);
	if (!t || strcmp(t, "object") == 0) {
		o = json_object();
		req = json_object_get(schema, "required");
		props = json_object_get(schema, "properties");
		json_array_foreach(req, i, v) {
			const char *k = json_string_value(v);

			if (k)
				json_object_set_new(o, k, sw_example(root, json_object_get(props, k), k,
								     fixtures));
		}
		return o;
	}
	if (strcmp(t, "array") == 0) {
		o = json_array();
		json_array_append_new(o, sw_example(root, json_object_get(schema, "items"), NULL,
						    fixtures));
		return o;
	}
	if (strcmp(t, "string") == 0)
		return json_string("x");
	if (strcmp(t, "integer") == 0 || strcmp(t, "number") == 0) {
		v = json_object_get(schema, "minimum");
		return json_integer(v ? json_integer_value(v) : 1);
	}
	if (strcmp(t, "boolean") == 0)
		return json_false();
	return json_null();
}

json_t *sw_body_schema(json_t *root, json_t *op)
{
	json_t *params = json_object_get(op, "parameters"), *p;
	size_t i;

	json_array_foreach(params, i, p) {
		const char *in = json_string_value(json_object_get(p, "in"));

		if (in && strcmp(in, "body") == 0)
			return sw_resolve(root, json_object_get(p, "schema"));
	}
	return NULL;
}

json_t *sw_response_schema(json_t *root, json_t *op, int status, int *documented)
{
	json_t *responses = json_object_get(op, "responses"), *r;
	char code[16];

	snprintf(code, sizeof(code), "%d", status);
	r = json_object_get(responses, code);
	if (!r)
		r = json_object_get(responses, "default");
	*documented = r != NULL;
	return r ? sw_resolve(root, json_object_get(r, "schema")) : NULL;
}
