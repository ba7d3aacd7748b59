/*
 * The I/O event loop: one epoll set served by lodge's I/O thread. Devices
 * register fds and callbacks here; callbacks run on the I/O thread only.
 * Sources may be added, changed and removed at any time from any thread,
 * callbacks included. Events already fetched for a removed source are
 * dropped; a callback the I/O thread is already in may still finish.
 *
 * Pause (snapshots): loop_pause() parks the I/O thread between two batches
 * of events, outside every callback, until loop_resume(); device state is
 * then still while the caller reads it. loop_stop() still ends a parked loop.
 */
#ifndef LODGE_IO_LOOP_H
#define LODGE_IO_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef void (*loop_fn)(void *opaque, uint32_t events);

struct loop_source;

struct loop {
	int epfd;
	int stop_fd;                    /* eventfd: wakes the loop to stop */
	struct loop_source *sources;    /* owned list */
	struct loop_source *dead;       /* removed, freed between batches */
	_Atomic bool stop_requested;    /* loop_stop() was called: stop_fd means "end" */
	/* Pause state, guarded by a lock private to loop.c. */
	unsigned pause_count;           /* loop_pause() calls not yet resumed */
	bool running;                   /* a thread is inside loop_run() */
	bool parked;                    /* ... and is parked for a pause */
	pthread_t thread;               /* that thread, while running */
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

/*
 * Park the I/O thread outside every callback and return once it is parked;
 * at once when no thread runs the loop (a loop_run() that starts later
 * parks before it serves anything). Pauses nest: each needs a
 * loop_resume(). Any thread but the I/O thread (calling it from a callback
 * would wait for itself: lodge aborts).
 */
void loop_pause(struct loop *l);

/* Undo one loop_pause(); the last one lets the I/O thread serve events again. */
void loop_resume(struct loop *l);

/* Close everything. */
void loop_destroy(struct loop *l);

#endif
