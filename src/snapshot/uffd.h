/*
 * Restoring guest RAM through userfaultfd: every page of the restored VM's
 * anonymous memory is filled on its first touch, by an external handler
 * (Firecracker's protocol: the VMM connects to the handler's Unix socket and
 * sends the memory mappings as JSON with the userfaultfd attached) or by
 * lodge's own handler thread reading the memory file.
 */
#ifndef LODGE_SNAPSHOT_UFFD_H
#define LODGE_SNAPSHOT_UFFD_H

#include "kvm/mem.h"
#include "util/err.h"

struct uffd_server;

/* Create a userfaultfd and register all of (m) for missing-page faults; (*fd) gets it. 0 or -errno. */
int uffd_register(const struct gmem *m, int *fd, struct err *e);

/*
 * Hand (uffd) to the handler listening on (socket_path): one message, a
 * JSON array of {"base_host_virt_addr", "size", "offset", "page_size",
 * "page_size_kib"} (one per RAM region; offset into the memory file; both
 * page sizes in bytes, as Firecracker sends them) with
 * the fd in SCM_RIGHTS. (*sock) gets the connection, kept open while the
 * VM lives. 0 or -errno.
 */
int uffd_send(const struct gmem *m, int uffd, const char *socket_path, int *sock, struct err *e);

/* Serve (uffd)'s faults on a thread of lodge's from (mem_fd), laid out like m's mapping. */
int uffd_server_start(struct uffd_server **out, int uffd, int mem_fd, const struct gmem *m,
		      struct err *e);

/* Stop and free the thread (NULL is fine). */
void uffd_server_stop(struct uffd_server *s);

#endif
