/*
 * Metrics: one collection of every number lodge has, written two ways (a
 * Firecracker JSON line of changes, Prometheus text of totals).
 */
#include "api/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/internal.h"
#include "api/kvm_stats.h"
#include "kvm/vcpu.h"
#include "util/log.h"
#include "virtio/balloon.h"
#include "virtio/mmio.h"
#include "vmm/vm.h"

/* One number: (group) ("block"), the device or vCPU it is about (dev, "" if none), (name). */
struct metric {
	char group[40];
	char dev[40];
	char name[64];
	uint64_t value;
	bool counter;                   /* only grows; JSON lines carry its change */
	bool json_per_dev;              /* JSON has group_dev as well as the sum in group */
};

struct mlist {
	struct metric *v;
	size_t n, cap;
	bool failed;
};

struct metrics {
	struct api *a;
	int fd;
	bool emit_id;
	json_t *properties;
	json_t *prev;                   /* "group/dev/name" -> the counter's value at the last line */
	pthread_mutex_t lock;           /* fd, prev; a flush at a time */
	pthread_cond_t cond;
	bool stop;
	pthread_t thread;
	bool thread_started;
	_Atomic uint64_t missed, fails;
};

static void add(struct mlist *l, const char *group, const char *dev, const char *name,
		uint64_t value, bool counter, bool json_per_dev)
{
	struct metric *m;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct metric *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->failed = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	m = &l->v[l->n++];
	snprintf(m->group, sizeof(m->group), "%s", group);
	snprintf(m->dev, sizeof(m->dev), "%s", dev ? dev : "");
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->value = value;
	m->counter = counter;
	m->json_per_dev = json_per_dev;
}

static void collect_api(struct api *a, struct metrics *m, struct mlist *l)
{
	unsigned nr;
	const struct api_route *rt = api_routes(&nr);
	char group[40], name[64];

	add(l, "api_server", NULL, "process_startup_time_us", a->startup_us, false, false);
	add(l, "api_server", NULL, "process_startup_time_cpu_us", a->startup_cpu_us, false, false);
	add(l, "api_server", NULL, "unrouted_requests", atomic_load(&a->unrouted), true, false);
	for (unsigned i = 0; i < nr; i++) {
		for (int k = 0; k < API_NMETHODS; k++) {
			struct api_route_stats *s = &a->stats[i][k];
			const char *mm = api_method_metric((enum api_method)k);

			if (!rt[i].m[k].fn)
				continue;
			snprintf(group, sizeof(group), "%s_api_requests", mm);
			snprintf(name, sizeof(name), "%s_count", rt[i].metric);
			add(l, group, NULL, name, atomic_load(&s->count), true, false);
			snprintf(name, sizeof(name), "%s_fails", rt[i].metric);
			add(l, group, NULL, name, atomic_load(&s->fails), true, false);
			snprintf(name, sizeof(name), "%s_%s_sum", mm, rt[i].metric);
			add(l, "latencies_us", NULL, name, atomic_load(&s->lat_sum_us), true, false);
			snprintf(name, sizeof(name), "%s_%s_max", mm, rt[i].metric);
			add(l, "latencies_us", NULL, name, atomic_load(&s->lat_max_us), false, false);
		}
	}
	add(l, "logger", NULL, "missed_log_count", log_missed_count(), true, false);
	add(l, "logger", NULL, "missed_metrics_count", m ? atomic_load(&m->missed) : 0, true, false);
	add(l, "logger", NULL, "metrics_fails", m ? atomic_load(&m->fails) : 0, true, false);
}

struct kvm_ctx {
	struct mlist *l;
};

static void add_kvm_stat(void *ctx, unsigned vcpu, const char *name, uint64_t value,
			 bool cumulative)
{
	struct kvm_ctx *k = ctx;
	char dev[16];

	snprintf(dev, sizeof(dev), "%u", vcpu);
	add(k->l, "kvm_vcpu", dev, name, value, cumulative, false);
}

/* The VM's KVM statistics files, opened on first use while it runs. */
static struct kvm_stats *kvm_stats_of(struct api *a, struct vm *vm)
{
	struct kvm_stats *s;

	int st = atomic_load(&vm->state);

	pthread_mutex_lock(&a->kvm_stats_lock);
	/* Only while the vCPU fds exist: vm_run closes them once the VM is exiting. */
	if (!a->kvm_stats_tried && (st == VM_CREATED || st == VM_RUNNING)) {
		a->kvm_stats_tried = true;
		a->kvm_stats = kvm_stats_open(vm);
		if (!a->kvm_stats)
			log_info("metrics", "KVM binary statistics unavailable: lodge's counters only");
	}
	s = a->kvm_stats;
	pthread_mutex_unlock(&a->kvm_stats_lock);
	return s;
}

/* "block" for virtio-blk ...: Firecracker's group names. */
static const char *virtio_group(const char *kind)
{
	static const char *const map[][2] = {
		{ "virtio-blk", "block" }, { "virtio-net", "net" }, { "virtio-vsock", "vsock" },
		{ "virtio-balloon", "balloon" }, { "virtio-rng", "entropy" },
	};

	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(kind, map[i][0]) == 0)
			return map[i][1];
	return strncmp(kind, "virtio-", 7) == 0 ? kind + 7 : kind;
}

static void collect_virtio(struct vm *vm, struct mlist *l)
{
	for (unsigned s = 0; s < vm->virtio_slots && s < VIRTIO_MMIO_MAX_SLOTS; s++) {
		struct virtio_dev *d = vm->virtio[s];
		const char *group, *dev;
		uint64_t requests, suppressed;

		if (!d)
			continue;
		group = virtio_group(d->ops->kind);
		dev = strchr(d->name, ' ');
		dev = dev ? dev + 1 : NULL;
		virtio_queue_totals(d, &requests, &suppressed);
		add(l, group, dev, "exits", atomic_load(&d->stats.exits), true, true);
		add(l, group, dev, "kicks", atomic_load(&d->stats.kicks), true, true);
		add(l, group, dev, "interrupts", atomic_load(&d->stats.interrupts), true, true);
		add(l, group, dev, "early_kicks", atomic_load(&d->stats.early_kicks), true, true);
		add(l, group, dev, "requests", requests, true, true);
		add(l, group, dev, "suppressed_interrupts", suppressed, true, true);
	}
}

static void collect_balloon(struct vm *vm, struct mlist *l)
{
	struct balloon *b = balloon_find(vm);
	struct balloon_stats s;

	if (!b)
		return;
	balloon_stats(b, &s);
	add(l, "balloon", NULL, "target_pages", s.target_pages, false, false);
	add(l, "balloon", NULL, "actual_pages", s.actual_pages, false, false);
	add(l, "balloon", NULL, "inflated_pages", s.inflated, true, false);
	add(l, "balloon", NULL, "deflated_pages", s.deflated, true, false);
	add(l, "balloon", NULL, "reported_pages", s.reported, true, false);
	add(l, "balloon", NULL, "invalid_pfns", s.invalid, true, false);
	add(l, "balloon", NULL, "released_bytes", s.released_bytes, true, false);
	add(l, "balloon", NULL, "stats_updates", s.updates, true, false);
}

static void collect_vm(struct api *a, struct vm *vm, struct mlist *l)
{
	struct kvm_ctx k = { l };
	char dev[16];

	add(l, "vmm", NULL, "vcpus", vm->ncpus, false, false);
	add(l, "vmm", NULL, "paused", vm_paused(vm), false, false);
	for (unsigned i = 0; vm->vcpus && i < vm->ncpus; i++) {
		struct vcpu *c = &vm->vcpus[i];

		snprintf(dev, sizeof(dev), "%u", i);
		add(l, "vcpu", dev, "exit_io", __atomic_load_n(&c->exits_io, __ATOMIC_RELAXED),
		    true, false);
		add(l, "vcpu", dev, "exit_mmio", __atomic_load_n(&c->exits_mmio, __ATOMIC_RELAXED),
		    true, false);
		add(l, "vcpu", dev, "exit_other",
		    __atomic_load_n(&c->exits_other, __ATOMIC_RELAXED), true, false);
	}
	kvm_stats_read(kvm_stats_of(a, vm), add_kvm_stat, &k);
	collect_virtio(vm, l);
	collect_balloon(vm, l);
}

static void collect(struct api *a, struct metrics *m, struct mlist *l)
{
	struct vm *vm = atomic_load(&a->live_vm);

	collect_api(a, m, l);
	add(l, "vmm", NULL, "running", vm && atomic_load(&a->state) == API_RUNNING, false, false);
	if (vm)
		collect_vm(a, vm, l);
}

/* Add (v) to (group).(name) of (root), making the group. */
static void json_add(json_t *root, const char *group, const char *name, uint64_t v)
{
	json_t *g = json_object_get(root, group), *old;

	if (!g) {
		g = json_object();
		if (!g || json_object_set_new(root, group, g) < 0)
			return;
	}
	old = json_object_get(g, name);
	if (old)
		v += (uint64_t)json_integer_value(old);
	json_object_set_new(g, name, json_integer((json_int_t)v));
}

/* The JSON line: counters as changes since the last line (m->prev keeps their values). */
static json_t *to_json(struct metrics *m, const struct mlist *l)
{
	json_t *root = json_object();
	struct timespec now;
	char key[160], devgroup[96];

	clock_gettime(CLOCK_REALTIME, &now);
	json_object_set_new(root, "utc_timestamp_ms",
			    json_integer((json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000));
	if (m->emit_id)
		json_object_set_new(root, "id", json_string(m->a->id));
	if (m->properties)
		json_object_set(root, "properties", m->properties);
	for (size_t i = 0; i < l->n; i++) {
		const struct metric *x = &l->v[i];
		uint64_t v = x->value;

		if (x->counter) {
			json_t *p;

			snprintf(key, sizeof(key), "%s/%s/%s", x->group, x->dev, x->name);
			p = json_object_get(m->prev, key);
			if (p && (uint64_t)json_integer_value(p) <= v)
				v -= (uint64_t)json_integer_value(p);
			json_object_set_new(m->prev, key, json_integer((json_int_t)x->value));
		}
		json_add(root, x->group, x->name, v);
		if (x->dev[0] && x->json_per_dev) {
			snprintf(devgroup, sizeof(devgroup), "%s_%s", x->group, x->dev);
			json_add(root, devgroup, x->name, v);
		}
	}
	return root;
}

static int write_line(struct metrics *m)
{
	struct mlist l = { 0 };
	json_t *j;
	char *text;
	size_t n;
	ssize_t w;
	int r = 0;

	collect(m->a, m, &l);
	j = to_json(m, &l);
	free(l.v);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text) {
		atomic_fetch_add(&m->fails, 1);
		return -ENOMEM;
	}
	n = strlen(text);
	text[n] = '\n';                 /* json_dumps's NUL becomes the newline: one write */
	w = write(m->fd, text, n + 1);
	if (w != (ssize_t)(n + 1)) {
		r = w < 0 ? -errno : -EIO;
		atomic_fetch_add(&m->missed, 1);
	}
	free(text);
	return r;
}

int metrics_flush(struct metrics *m)
{
	int r;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	r = write_line(m);
	pthread_mutex_unlock(&m->lock);
	return r;
}

static void *metrics_thread(void *arg)
{
	struct metrics *m = arg;
	struct timespec deadline;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += METRICS_PERIOD_S;
		while (!m->stop && pthread_cond_timedwait(&m->cond, &m->lock, &deadline) != ETIMEDOUT)
			;
		if (!m->stop)
			write_line(m);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

struct metrics *metrics_open(struct api *a, const char *path, bool emit_id, json_t *properties,
			     struct err *e)
{
	struct metrics *m = calloc(1, sizeof(*m));
	pthread_condattr_t ca;

	if (!m || !(m->prev = json_object())) {
		free(m);
		errf(e, -ENOMEM, "out of memory");
		return NULL;
	}
	m->a = a;
	m->emit_id = emit_id;
	m->properties = json_incref(properties);
	m->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
	if (m->fd < 0) {
		errf(e, -errno, "Metrics error: cannot open %s: %s", path, strerror(errno));
		json_decref(m->prev);
		json_decref(m->properties);
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&m->thread, NULL, metrics_thread, m) == 0) {
		m->thread_started = true;
		pthread_setname_np(m->thread, "lodge_metrics");
	} else {
		log_warn("metrics", "no metrics thread: lines only on FlushMetrics and at exit");
	}
	return m;
}

void metrics_close(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (m->thread_started)
		pthread_join(m->thread, NULL);
	metrics_flush(m);
	close(m->fd);
	json_decref(m->prev);
	json_decref(m->properties);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void metrics_attach_vm(struct api *a, struct vm *vm)
{
	kvm_stats_of(a, vm);
}

void metrics_release_vm(struct api *a)
{
	pthread_mutex_lock(&a->kvm_stats_lock);
	kvm_stats_close(a->kvm_stats);
	a->kvm_stats = NULL;
	a->kvm_stats_tried = true;
	pthread_mutex_unlock(&a->kvm_stats_lock);
}

/* ---- Prometheus text format 0.0.4. ---- */

static int by_family(const void *x, const void *y)
{
	const struct metric *a = x, *b = y;
	int c = strcmp(a->group, b->group);

	if (!c)
		c = strcmp(a->name, b->name);
	if (!c)
		c = strcmp(a->dev, b->dev);
	return c;
}

/* Metric names take [a-zA-Z0-9_]; anything else becomes '_'. */
static void prom_name(char *out, size_t n, const struct metric *m)
{
	snprintf(out, n, "lodge_%s_%s", m->group, m->name);
	for (char *p = out; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			*p = '_';
}

char *metrics_prometheus(struct api *a)
{
	struct mlist l = { 0 };
	char *out = NULL, name[128], last[128] = "";
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	if (!f)
		return NULL;
	collect(a, a->metrics, &l);
	qsort(l.v, l.n, sizeof(l.v[0]), by_family);
	for (size_t i = 0; i < l.n; i++) {
		const struct metric *m = &l.v[i];

		prom_name(name, sizeof(name), m);
		if (strcmp(name, last) != 0) {
			fprintf(f, "# TYPE %s %s\n", name, m->counter ? "counter" : "gauge");
			snprintf(last, sizeof(last), "%s", name);
		}
		if (m->dev[0])
			fprintf(f, "%s{id=\"%s\"} %llu\n", name, m->dev,
				(unsigned long long)m->value);
		else
			fprintf(f, "%s %llu\n", name, (unsigned long long)m->value);
	}
	free(l.v);
	if (fclose(f) != 0 || l.failed) {
		free(out);
		return NULL;
	}
	return out;
}
