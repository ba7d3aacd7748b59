/*
 * The I/O event loop: one epoll set served by lodge's I/O thread. Devices
 * register fds and callbacks here; callbacks run on the I/O thread only.
 * Sources may be added, changed and removed at any time from any thread,
 * callbacks included. Events already fetched for a removed source are
 * dropped; a callback the I/O thread is already in may still finish.
 */
#ifndef LODGE_IO_LOOP_H
#define LODGE_IO_LOOP_H

#include <stdint.h>

typedef void (*loop_fn)(void *opaque, uint32_t events);

struct loop_source;

struct loop {
	int epfd;
	int stop_fd;                    /* eventfd: wakes the loop to stop */
	struct loop_source *sources;    /* owned list */
	struct loop_source *dead;       /* removed, freed between batches */
};

/* Create the epoll set; 0 or -errno. */
int loop_init(struct loop *l);

/* Watch (fd) for (events) (EPOLLIN...), calling fn(opaque, revents); 0 or -errno. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fn fn, void *opaque);

/* Stop watching (fd); 0 or -ENOENT. */
int loop_del(struct loop *l, int fd);

/* Change the events watched on (fd) (0 pauses it). 0 or -errno. */
int loop_mod(struct loop *l, int fd, uint32_t events);

/* Serve events until loop_stop(); returns 0 or -errno on an epoll failure. */
int loop_run(struct loop *l);

/* Ask loop_run() to return (any thread, async-signal-safe). */
void loop_stop(struct loop *l);

/* Close everything. */
void loop_destroy(struct loop *l);

#endif
