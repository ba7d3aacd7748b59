/*
 * The contract test's side of the wire: raw HTTP/1.1 over lodge's Unix
 * socket (so that malformed and slow requests can be sent on purpose), and
 * starting and stopping a lodge process.
 */
#ifndef LODGE_TESTS_API_CLIENT_H
#define LODGE_TESTS_API_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct http_resp {
	int status;                     /* -1: no answer */
	char headers[4096];
	char *body;                     /* NUL-terminated, malloc'd (may be empty) */
	size_t len;
};

/* Connect to the Unix socket (path); the fd or -errno. */
int http_connect(const char *path);

/*
 * Send (method) (target) with (body) ((len) bytes, NULL for none) on a new
 * connection ("Connection: close"), read the whole answer into (r).
 * 0, or -1 when there was no well-formed answer within (timeout_ms).
 */
int http_request(const char *sock, const char *method, const char *target, const char *body,
		 size_t len, struct http_resp *r, int timeout_ms);

/* Send (raw) bytes as they are and read the answer (or nothing) into (r). */
int http_raw(const char *sock, const char *raw, size_t len, struct http_resp *r, int timeout_ms);

/* Read from (fd) until EOF or (timeout_ms) and parse into (r); closes nothing. */
int http_read_response(int fd, struct http_resp *r, int timeout_ms);

/* The value of header (name) in (r) (case-insensitive), copied into (out), or false. */
bool http_header(const struct http_resp *r, const char *name, char *out, size_t n);

void http_resp_free(struct http_resp *r);

/*
 * Start (argv) (argv[0] the program) with stdin from (in_fd) (-1: /dev/null),
 * stdout and stderr to (out_path) / (err_path); wait until (sock) accepts
 * (unless NULL). The pid, or -1.
 */
pid_t proc_start(char *const argv[], int in_fd, const char *out_path, const char *err_path,
		 const char *sock);

/* Wait up to (timeout_ms) for (pid); its exit status (128+sig if killed), or -1 if it runs on. */
int proc_wait(pid_t pid, int timeout_ms);

#endif
