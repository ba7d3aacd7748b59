/* What the contract test's files share (contract.c: the plan; abuse.c: bad input). */
#ifndef LODGE_TESTS_API_CONTRACT_H
#define LODGE_TESTS_API_CONTRACT_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "client.h"
#include "swagger.h"

#define TIMEOUT_MS 5000
#define MAX_BODY 51200                  /* lodge's default --http-api-max-payload-size */

enum expect { SUCCESS, FAIL400 };

/* What lodge does with one operation: the plan, in the order it is run. */
struct step {
	const char *op;                 /* operationId */
	enum expect expect;
	const char *body;               /* JSON merged over the schema's example; @TMP@, @KERNEL@ */
	const char *words;              /* the answer's body must contain this, or NULL */
};

struct contract {
	json_t *sw;                     /* the swagger file */
	json_t *fixtures;               /* property name -> value for examples */
	char tmp[128], sock[160], kernel[192];
	const char *lodge;
	const char *prefix;             /* put before every case's name ("" or "postboot:") */
	unsigned passed, failed;
};

extern struct contract T;

/* Count and print one case: "PASS name" or "FAIL name: why". */
void result(const char *name, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Operation (id) of the swagger file: its path template, method (upper case), object. */
json_t *find_op(const char *id, const char **path, char *method);
/* The path template with its {param}s filled from the fixtures. */
void fill_path(const char *tmpl, char *out, size_t n);
/* The request body for (op): the schema's example with (extra) over it; NULL when none. */
json_t *make_body(json_t *op, const char *extra);
/* Is (resp) a one-line {"fault_message": ...} with status (want)? (why) says if not. */
bool check_fault(const struct http_resp *resp, int want, char *why, size_t n);
/* Start lodge --api-sock (sock) --id contract (extra...), output in TMP/(tag).out/.err. */
pid_t start_lodge(const char *sock, const char *tag, int in_fd, char *const extra[]);

/* abuse.c: bad input from the schemas, on the wire, and the process's life. */
void bad_bodies(const struct step *s);
void bad_requests(void);
void chunked_oversized(void);
void misbehaving_clients(void);
void concurrent_clients(void);
void process_life(void);

#endif
