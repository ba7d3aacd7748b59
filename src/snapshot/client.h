/* `lodge snapshot create`: ask a running lodge (its API socket) for a snapshot. */
#ifndef LODGE_SNAPSHOT_CLIENT_H
#define LODGE_SNAPSHOT_CLIENT_H

#include <stdbool.h>

#include "util/err.h"

/*
 * Through the API socket (sock): pause the VM if it runs, PUT
 * /snapshot/create (Full, or Diff), resume it if this call paused it.
 * 0, or -errno with (e) holding the step and lodge's fault_message.
 */
int snapshot_client_create(const char *sock, bool diff, const char *state_path,
			   const char *mem_path, struct err *e);

#endif
