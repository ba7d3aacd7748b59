/*
 * The HTTP side of the API: a Unix socket lodge creates itself, served by
 * libmicrohttpd's internal polling thread (HTTP/1.1, keep-alive, one
 * request at a time). The server collects each request's body up to a size
 * limit and hands the whole request to one function; it knows nothing of
 * routes or JSON.
 */
#ifndef LODGE_API_SERVER_H
#define LODGE_API_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* A complete request. (body) holds (len) bytes plus a NUL; has_body: len > 0. */
struct api_request {
	const char *method;             /* "GET", "PUT", ... as the client sent it */
	const char *path;               /* percent-decoded, without the query */
	const char *body;
	size_t len;
};

/* The answer a handler fills. (body), when set, is malloc'd and owned by the response. */
struct api_response {
	unsigned status;
	char *body;
	const char *content_type;       /* default application/json when there is a body */
	char allow[48];                 /* the Allow header (405), or "" */
};

/* Answer (req) in (resp); runs on the server thread, one request at a time. */
typedef void (*api_handler_fn)(void *ctx, const struct api_request *req,
			       struct api_response *resp);

struct api_server;

/*
 * Create the Unix socket (path) (a stale one, whose connect() is refused,
 * is replaced; anything else there is an error), listen, and serve it with
 * (fn)(ctx, ...) for every request. Bodies over (max_body) bytes get 413.
 * Returns the server or NULL with (e) filled.
 */
struct api_server *api_server_start(const char *path, size_t max_body, api_handler_fn fn,
				    void *ctx, struct err *e);

/*
 * Stop accepting, give responses already queued up to (grace_ms) to go out,
 * stop the server thread, close and unlink the socket, free (s).
 */
void api_server_stop(struct api_server *s, unsigned grace_ms);

#endif
