/*
 * libmicrohttpd glue: the Unix socket, body collection with a size limit,
 * and turning an api_response into an HTTP response.
 */
#include "api/server.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define API_LISTEN_BACKLOG 128
#define API_CONNECTION_LIMIT 256
#define API_IDLE_TIMEOUT_S 30           /* a client silent this long is dropped */

struct api_server {
	struct MHD_Daemon *mhd;
	int fd;
	char *path;
	size_t max_body;
	api_handler_fn fn;
	void *ctx;
	_Atomic unsigned inflight;      /* requests begun and not yet completed */
};

/* Per-request state: the body as it arrives. */
struct request_ctx {
	char *body;
	size_t len, cap;
	uint64_t declared;              /* Content-Length, or 0 */
	bool too_big;
};

/* Give (path) to a new listener: absent, or a socket nobody listens on any more. */
static int clear_stale(const char *path, struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return errf(e, -errno, "--api-sock %s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return errf(e, -EEXIST, "--api-sock %s: exists and is not a socket", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errf(e, -errno, "socket: %s", strerror(errno));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	r = r == 0 ? 0 : -errno;
	close(fd);
	if (r == 0)
		return errf(e, -EADDRINUSE, "--api-sock %s: another process is serving this socket",
			    path);
	if (r != -ECONNREFUSED)
		return errf(e, r, "--api-sock %s: exists and cannot be checked: %s", path,
			    strerror(-r));
	/* Refused: nobody listens, the socket file is left from a process that ended. */
	if (unlink(path) < 0)
		return errf(e, -errno, "--api-sock %s: stale socket cannot be removed: %s", path,
			    strerror(errno));
	log_info("api", "%s: replaced a stale socket", path);
	return 0;
}

static int listen_unix(const char *path, struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) == 0 || strlen(path) >= sizeof(sa.sun_path))
		return errf(e, -ENAMETOOLONG, "--api-sock '%s': a socket path has 1-%zu characters",
			    path, sizeof(sa.sun_path) - 1);
	r = clear_stale(path, e);
	if (r < 0)
		return r;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errf(e, -errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return errf(e, r, "--api-sock %s: %s", path, strerror(-r));
	}
	if (listen(fd, API_LISTEN_BACKLOG) < 0) {
		r = -errno;
		close(fd);
		unlink(path);
		return errf(e, r, "--api-sock %s: listen: %s", path, strerror(-r));
	}
	return fd;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	log_debug("api", "http: %s", line);
}

/* Queue (r) on (conn), taking ownership of its body. */
static enum MHD_Result send_response(struct MHD_Connection *conn, struct api_response *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;
	size_t len = r->body ? strlen(r->body) : 0;

	resp = MHD_create_response_from_buffer(len, r->body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	r->body = NULL;
	if (len)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					r->content_type ? r->content_type : "application/json");
	if (r->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, "lodge");
	ok = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static enum MHD_Result send_too_big(struct api_server *s, struct MHD_Connection *conn,
				    uint64_t size)
{
	struct api_response r = { .status = MHD_HTTP_CONTENT_TOO_LARGE };

	if (asprintf(&r.body, "{\"fault_message\": \"Request payload with size %" PRIu64
			      " is larger than the limit of %zu allowed by server.\"}",
		     size, s->max_body) < 0)
		r.body = NULL;
	return send_response(conn, &r);
}

/* Keep (len) more bytes of the body, or only count them once past the limit. */
static void collect(struct api_server *s, struct request_ctx *rc, const char *data, size_t len)
{
	if (rc->too_big || rc->len + len > s->max_body) {
		rc->too_big = true;
		rc->len += len;
		return;
	}
	if (rc->len + len + 1 > rc->cap) {
		size_t cap = rc->cap ? rc->cap : 1024;
		char *b;

		while (cap < rc->len + len + 1)
			cap *= 2;
		b = realloc(rc->body, cap);
		if (!b) {
			rc->too_big = true;
			return;
		}
		rc->body = b;
		rc->cap = cap;
	}
	memcpy(rc->body + rc->len, data, len);
	rc->len += len;
	rc->body[rc->len] = 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct api_server *s = cls;
	struct request_ctx *rc = *con_cls;
	struct api_request req;
	struct api_response resp = { .status = 500 };
	const char *cl;

	(void)version;
	if (!rc) {
		rc = calloc(1, sizeof(*rc));
		if (!rc)
			return MHD_NO;
		*con_cls = rc;
		atomic_fetch_add(&s->inflight, 1);
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl)
			rc->declared = strtoull(cl, NULL, 10);
		/* Refuse an announced oversized body before reading it. */
		if (rc->declared > s->max_body) {
			rc->too_big = true;
			return send_too_big(s, conn, rc->declared);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		collect(s, rc, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rc->too_big)
		return send_too_big(s, conn, rc->len);
	req.method = method;
	req.path = url;
	req.body = rc->body ? rc->body : "";
	req.len = rc->len;
	s->fn(s->ctx, &req, &resp);
	return send_response(conn, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_server *s = cls;
	struct request_ctx *rc = *con_cls;

	(void)conn;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		log_debug("api", "request ended early (%d)", (int)toe);
	if (!rc)
		return;
	free(rc->body);
	free(rc);
	*con_cls = NULL;
	atomic_fetch_sub(&s->inflight, 1);
}

struct api_server *api_server_start(const char *path, size_t max_body, api_handler_fn fn,
				    void *ctx, struct err *e)
{
	struct api_server *s = calloc(1, sizeof(*s));

	if (!s || !(s->path = strdup(path))) {
		free(s);
		errf(e, -ENOMEM, "out of memory");
		return NULL;
	}
	s->max_body = max_body;
	s->fn = fn;
	s->ctx = ctx;
	s->fd = listen_unix(path, e);
	if (s->fd < 0) {
		free(s->path);
		free(s);
		return NULL;
	}
	s->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG,
				  0, NULL, NULL, on_request, s,
				  MHD_OPTION_LISTEN_SOCKET, s->fd,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONNECTION_LIMIT,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_TIMEOUT_S,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				  MHD_OPTION_END);
	if (!s->mhd) {
		errf(e, -EIO, "--api-sock %s: the HTTP server did not start", path);
		close(s->fd);
		unlink(path);
		free(s->path);
		free(s);
		return NULL;
	}
	return s;
}

void api_server_stop(struct api_server *s, unsigned grace_ms)
{
	struct timespec tick = { 0, 1000000 };
	int fd;

	if (!s)
		return;
	/* No new connections; answers already queued get (grace_ms) to leave. */
	fd = MHD_quiesce_daemon(s->mhd);
	for (unsigned i = 0; i < grace_ms && atomic_load(&s->inflight); i++)
		nanosleep(&tick, NULL);
	MHD_stop_daemon(s->mhd);
	close(fd >= 0 ? fd : s->fd);
	unlink(s->path);
	free(s->path);
	free(s);
}
