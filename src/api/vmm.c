/*
 * The API's state machine and lodge's life in API mode:
 *
 *   Not started --InstanceStart (server thread: validate, vm_create)--> Starting
 *   Starting --main thread takes the VM and calls vm_run--> Running (Paused inside)
 *   Running --guest ends, or SIGINT/SIGTERM--> Exited: the process ends
 *
 * The server thread builds the VM so that InstanceStart answers with
 * vm_create's error; the main thread runs it, as `lodge run` does, so that
 * vm_run serves SIGINT/SIGTERM and ends the process the same way.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/internal.h"
#include "api/metrics.h"
#include "snapshot/snapshot.h"
#include "util/log.h"
#include "vmm/config_json.h"
#include "vmm/vm.h"

#define CONFIG_FILE_MAX (1 << 20)
#define START_WAIT_US 2000000           /* InstanceStart waits this long for vm_run to begin */
#define STOP_GRACE_MS 500               /* answers in flight get this long when lodge ends */

const char *api_state_name(struct api *a)
{
	struct vm *vm = atomic_load(&a->live_vm);

	if (atomic_load(&a->state) < API_RUNNING)
		return "Not started";
	return vm && vm_paused(vm) ? "Paused" : "Running";
}

static uint64_t now_us(clockid_t clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

/* With (a)->lock held: set the state and wake whoever waits for it. */
static void set_state(struct api *a, enum api_state s)
{
	atomic_store(&a->state, s);
	pthread_cond_broadcast(&a->cond);
}

/*
 * The prepare thread: while lodge waits for its first requests, make the
 * KVM VM that InstanceStart or a snapshot load will build on, and pay the
 * host's first-memory-slot cost then (kvm_prepare), not inside the request.
 */
static void *prepare_thread(void *arg)
{
	struct api *a = arg;
	struct err e = { "" };

	if (kvm_prepare(&a->prep_kvm, a->prep_path, &e) < 0)
		log_debug("api", "no KVM VM made in advance: %s", e.msg);
	return NULL;
}

static void prepare_start(struct api *a)
{
	a->prep_kvm.sys_fd = a->prep_kvm.vm_fd = -1;
	snprintf(a->prep_path, sizeof(a->prep_path), "%s",
		 a->cfg.kvm_path ? a->cfg.kvm_path : "/dev/kvm");
	a->prep_started = pthread_create(&a->prep_thread, NULL, prepare_thread, a) == 0;
}

/* The VM prepare_thread made, once it is done, or NULL (none, or it failed). */
static struct kvm *prepared_kvm(struct api *a)
{
	if (a->prep_started) {
		pthread_join(a->prep_thread, NULL);
		a->prep_started = false;
	}
	return a->prep_kvm.vm_fd >= 0 ? &a->prep_kvm : NULL;
}

/* Build the VM from (a)->cfg; (a)->lock held. 0 or -errno with (e) (no VM left behind). */
static int build_vm(struct api *a, struct err *e)
{
	struct vm *vm;
	int r;

	if (!a->cfg.kernel_path)
		return errf(e, -EINVAL, "Cannot start microvm without kernel configuration.");
	r = config_validate(&a->cfg, e);
	if (r < 0)
		return r;
	vm = malloc(sizeof(*vm));
	if (!vm)
		return errf(e, -ENOMEM, "out of memory");
	r = vm_create_prepared(vm, &a->cfg, prepared_kvm(a), e);
	if (r < 0) {
		vm_destroy(vm);
		free(vm);
		return r;
	}
	a->vm = vm;
	return 0;
}

/*
 * With a->vm built: let the main thread run it and answer once it does.
 * (action) names the request in the log, (what) prefixes errors.
 */
static void hand_over(struct api *a, uint64_t t0, const char *action, const char *what,
		      struct api_response *r)
{
	uint64_t one = 1;

	if (write(a->start_fd, &one, sizeof(one)) != sizeof(one)) {
		vm_destroy(a->vm);
		free(a->vm);
		a->vm = NULL;
		api_fault(r, 500, "%s: cannot wake the main thread", what);
		return;
	}
	set_state(a, API_STARTING);
	while (atomic_load(&a->state) == API_STARTING)
		pthread_cond_wait(&a->cond, &a->lock);
	if (atomic_load(&a->state) != API_RUNNING) {
		api_fault(r, 400, "%s: the microVM ended before it ran", what);
		return;
	}
	/* Answer once vm_run has marked the VM running: PATCH /vm may follow at once. */
	for (unsigned waited = 0; atomic_load(&a->vm->state) == VM_CREATED && waited < START_WAIT_US;
	     waited += 20)
		usleep(20);
	log_info("api", "%s: the VM runs %llu us after the request", action,
		 (unsigned long long)(now_us(CLOCK_MONOTONIC) - t0));
	api_ok(r);
}

void api_instance_start(struct api *a, struct api_response *r)
{
	uint64_t t0 = now_us(CLOCK_MONOTONIC);
	struct err e = { "" };

	if (atomic_load(&a->state) != API_NOT_STARTED) {
		api_fault(r, 400, API_MSG_POST_BOOT);
		return;
	}
	if (build_vm(a, &e) < 0) {
		api_fault(r, 400, "Start microvm error: %s", e.msg);
		return;
	}
	hand_over(a, t0, "InstanceStart", "Start microvm error", r);
}

/* Nothing but the logger and metrics configured yet (Firecracker's rule for a load). */
static bool fresh(const struct api *a)
{
	const struct vm_config *c = &a->cfg;

	return !c->kernel_path && !c->ndrives && !c->nnets && !c->vsock.enabled &&
	       !c->balloon.enabled && !c->entropy.enabled;
}

void api_snapshot_load(struct api *a, const struct snapshot_load_args *args, bool resume,
		       struct api_response *r)
{
	uint64_t t0 = now_us(CLOCK_MONOTONIC);
	struct snapshot_load *ld;
	struct err e = { "" };
	struct vm *vm;
	int rc;

	if (atomic_load(&a->state) != API_NOT_STARTED || a->restore) {
		api_fault(r, 400, API_MSG_POST_BOOT);
		return;
	}
	if (!fresh(a)) {
		api_fault(r, 400, "Loading a microVM snapshot not allowed after configuring "
			  "boot-specific resources.");
		return;
	}
	ld = malloc(sizeof(*ld));
	vm = malloc(sizeof(*vm));
	if (!ld || !vm) {
		free(ld);
		free(vm);
		api_fault(r, 500, "out of memory");
		return;
	}
	rc = snapshot_load_open(ld, args, &e);
	if (rc == 0) {
		/* The API's config becomes the snapshot's: GET /vm/config and the metrics read it. */
		config_free(&a->cfg);
		a->cfg = ld->cfg;
		config_init(&ld->cfg);
		ld->kvm = prepared_kvm(a);
		rc = snapshot_load_vm(vm, ld, &a->cfg, &e);
		if (rc < 0)
			vm_destroy(vm);
	}
	if (rc < 0) {
		if (!fresh(a)) {        /* a failed load leaves the instance as it was: fresh */
			char *kvm = a->cfg.kvm_path ? strdup(a->cfg.kvm_path) : NULL;

			config_free(&a->cfg);
			config_init(&a->cfg);
			a->cfg.kvm_path = kvm;
		}
		free(vm);
		snapshot_load_close(ld);
		free(ld);
		api_fault(r, 400, "Load microVM snapshot error: %s", e.msg);
		return;
	}
	if (!resume)
		vm_start_paused(vm);
	a->vm = vm;
	a->restore = ld;
	hand_over(a, t0, "snapshot load", "Load microVM snapshot error", r);
}

/*
 * Firecracker's level names, case-insensitive: -1 for "Off", -2 for none of
 * them; (*canon) gets the swagger's spelling ("Warning" for "warn").
 */
static int parse_level(const char *s, const char **canon)
{
	static const struct { const char *name, *canon; int level; } names[] = {
		{ "off", "Off", -1 }, { "error", "Error", LOG_ERROR }, { "warn", "Warning", LOG_WARN },
		{ "warning", "Warning", LOG_WARN }, { "info", "Info", LOG_INFO },
		{ "debug", "Debug", LOG_DEBUG }, { "trace", "Trace", LOG_DEBUG },
	};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*canon = names[i].canon;
			return names[i].level;
		}
	}
	return -2;
}

static bool get_flag(json_t *o, const char *key, bool dflt)
{
	json_t *v = json_object_get(o, key);

	return v ? json_is_true(v) : dflt;
}

int api_logger_apply(struct api *a, json_t *o, struct err *e)
{
	static const char *const keys[] = { "log_path", "level", "show_level", "show_log_origin",
					    "module", NULL };
	char *path = NULL, *level = NULL, *module = NULL;
	const char *canon = "Info";
	bool dummy;
	int lvl = LOG_INFO, r;
	json_t *merged;

	r = api_check_keys(o, "logger", keys, e);
	if (!r)
		r = cfg_get_string(o, "logger", "log_path", &path, false, e);
	if (!r)
		r = cfg_get_string(o, "logger", "level", &level, false, e);
	if (!r)
		r = cfg_get_bool(o, "logger", "show_level", &dummy, false, e);
	if (!r)
		r = cfg_get_bool(o, "logger", "show_log_origin", &dummy, false, e);
	if (!r)
		r = cfg_get_string(o, "logger", "module", &module, false, e);
	if (!r && level && (lvl = parse_level(level, &canon)) == -2)
		r = errf(e, -EINVAL, "logger.level: '%s' is not Error, Warning, Info, Debug, Trace or Off",
			 level);
	if (!r && path && (r = log_set_path(path)) < 0)
		errf(e, r, "Logger error: Failed to open target file %s: %s", path, strerror(-r));
	if (!r && module)
		r = log_set_module(module) < 0 ? errf(e, -ENOMEM, "out of memory") : 0;
	free(path);
	free(level);
	free(module);
	if (r)
		return r;
	/* Firecracker: the level is set every time (Info when absent); the rest only when given. */
	log_set_off(lvl == -1);
	if (lvl >= 0)
		log_threshold = (enum log_level)lvl;
	merged = a->logger_cfg ? json_deep_copy(a->logger_cfg) : json_object();
	if (merged) {
		json_object_update(merged, o);
		json_object_set_new(merged, "level", json_string(canon));
	}
	json_decref(a->logger_cfg);
	a->logger_cfg = merged;
	log_set_format(get_flag(merged, "show_level", false), get_flag(merged, "show_log_origin", false));
	return 0;
}

int api_metrics_apply(struct api *a, json_t *o, struct err *e)
{
	static const char *const keys[] = { "metrics_path", "emit_id", "properties", NULL };
	char *path = NULL;
	bool emit_id = false;
	json_t *props;
	const char *k;
	json_t *v;
	int r;

	r = api_check_keys(o, "metrics", keys, e);
	if (!r)
		r = cfg_get_string(o, "metrics", "metrics_path", &path, true, e);
	if (!r)
		r = cfg_get_bool(o, "metrics", "emit_id", &emit_id, false, e);
	props = json_object_get(o, "properties");
	if (!r && props && !json_is_object(props))
		r = errf(e, -EINVAL, "metrics.properties: expected an object of strings");
	json_object_foreach(props, k, v) {
		if (!r && !json_is_string(v))
			r = errf(e, -EINVAL, "metrics.properties.%s: expected a string", k);
	}
	if (!r && a->metrics)
		r = errf(e, -EBUSY, "Metrics error: Reinitialization of metrics not allowed.");
	if (!r && !(a->metrics = metrics_open(a, path, emit_id, props, e)))
		r = -EIO;
	if (!r) {
		json_decref(a->metrics_cfg);
		a->metrics_cfg = json_incref(o);
	}
	free(path);
	return r;
}

/*
 * Read config file (path): the logger and metrics sections are the API's
 * (applied here), the rest goes to the config parser, as `lodge run` reads it.
 */
static int load_config_file(struct api *a, const char *path, struct err *e)
{
	FILE *f = fopen(path, "re");
	char *text = NULL, *rest = NULL;
	json_t *root = NULL, *sec;
	json_error_t je;
	size_t n;
	int r = 0;

	if (!f)
		return errf(e, -errno, "--config-file %s: %s", path, strerror(errno));
	text = malloc(CONFIG_FILE_MAX + 1);
	n = text ? fread(text, 1, CONFIG_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (!text)
		return errf(e, -ENOMEM, "out of memory");
	if (n > CONFIG_FILE_MAX)
		r = errf(e, -EFBIG, "larger than %d bytes", CONFIG_FILE_MAX);
	text[n > CONFIG_FILE_MAX ? CONFIG_FILE_MAX : n] = 0;
	if (!r && !(root = json_loads(text, JSON_REJECT_DUPLICATES, &je)))
		r = errf(e, -EINVAL, "line %d column %d: %s", je.line, je.column, je.text);
	if (!r && json_is_object(root)) {
		if ((sec = json_object_get(root, "logger")) && !json_is_null(sec))
			r = api_logger_apply(a, sec, e);
		if (!r && (sec = json_object_get(root, "metrics")) && !json_is_null(sec))
			r = api_metrics_apply(a, sec, e);
		json_object_del(root, "logger");
		json_object_del(root, "metrics");
	}
	if (!r && !(rest = json_dumps(root, JSON_COMPACT)))
		r = errf(e, -ENOMEM, "out of memory");
	if (!r)
		r = config_parse_json(&a->cfg, rest, e);
	free(rest);
	free(text);
	json_decref(root);
	if (r)
		errprefix(e, r, path);
	return r;
}

int api_state_init(struct api *a, const struct api_opts *o, struct err *e)
{
	const char *id = o->id ? o->id : "anonymous-instance";

	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	pthread_mutex_init(&a->kvm_stats_lock, NULL);
	config_init(&a->cfg);
	a->start_fd = -1;
	a->prep_kvm.sys_fd = a->prep_kvm.vm_fd = -1;
	/* Firecracker's --id: 1-64 characters of letters, digits and '-'. */
	if (strlen(id) == 0 || strlen(id) > 64 ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != strlen(id))
		return errf(e, -EINVAL, "--id '%s': 1-64 letters, digits or '-'", id);
	snprintf(a->id, sizeof(a->id), "%s", id);
	if (log_set_instance_id(a->id) < 0)
		return errf(e, -ENOMEM, "out of memory");
	if (o->kvm_path && config_set_string(&a->cfg.kvm_path, o->kvm_path, e) < 0)
		return -ENOMEM;
	a->start_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->start_fd < 0)
		return errf(e, -errno, "eventfd: %s", strerror(errno));
	if (o->metrics_path) {
		json_t *m = json_pack("{s:s}", "metrics_path", o->metrics_path);
		int r = m ? api_metrics_apply(a, m, e) : errf(e, -ENOMEM, "out of memory");

		json_decref(m);
		if (r < 0)
			return errprefix(e, r, "--metrics-path");
	}
	if (o->config_file)
		return load_config_file(a, o->config_file, e);
	return 0;
}

void api_state_fini(struct api *a)
{
	if (prepared_kvm(a))
		kvm_close(&a->prep_kvm);
	metrics_close(a->metrics);
	a->metrics = NULL;
	metrics_release_vm(a);
	if (a->vm) {
		vm_destroy(a->vm);
		free(a->vm);
		a->vm = NULL;
	}
	if (a->restore) {
		snapshot_load_close(a->restore);
		free(a->restore);
		a->restore = NULL;
	}
	json_decref(a->logger_cfg);
	json_decref(a->metrics_cfg);
	config_free(&a->cfg);
	if (a->start_fd >= 0)
		close(a->start_fd);
	pthread_mutex_destroy(&a->kvm_stats_lock);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
}

/* The main thread with (a)->vm built and the state Starting: run it to its end. */
static int run_vm(struct api *a, bool stop_at_once)
{
	int status;

	if (a->metrics)
		metrics_attach_vm(a, a->vm);
	pthread_mutex_lock(&a->lock);
	atomic_store(&a->live_vm, a->vm);
	set_state(a, API_RUNNING);
	if (stop_at_once)
		vm_request_exit(a->vm, VM_STATUS_SIGNAL, "signal received before the VM ran");
	pthread_mutex_unlock(&a->lock);
	status = vm_run(a->vm);
	pthread_mutex_lock(&a->lock);
	set_state(a, API_EXITED);
	pthread_mutex_unlock(&a->lock);
	return status;
}

/* The main thread before InstanceStart: wait for it, or for SIGINT/SIGTERM. */
static int wait_for_start(struct api *a, int sig_fd)
{
	struct pollfd fds[2] = { { .fd = a->start_fd, .events = POLLIN },
				 { .fd = sig_fd, .events = POLLIN } };
	struct signalfd_siginfo si;
	uint64_t v;

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return VM_STATUS_HOST;
		}
		if (fds[0].revents & POLLIN) {
			if (read(a->start_fd, &v, sizeof(v)) < 0)
				continue;
			return run_vm(a, false);
		}
		if ((fds[1].revents & POLLIN) && read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
			pthread_mutex_lock(&a->lock);
			if (atomic_load(&a->state) == API_NOT_STARTED) {
				set_state(a, API_EXITED);
				pthread_mutex_unlock(&a->lock);
				log_info("api", "%s received before InstanceStart",
					 strsignal((int)si.ssi_signo));
				return VM_STATUS_SIGNAL;
			}
			pthread_mutex_unlock(&a->lock);
			/* InstanceStart built the VM meanwhile: run it only to end it. */
			if (read(a->start_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				return VM_STATUS_HOST;
			return run_vm(a, true);
		}
	}
}

/* --config-file: build the VM now, as InstanceStart would. 0 or -errno with (e). */
static int boot_now(struct api *a, struct err *e)
{
	int r;

	pthread_mutex_lock(&a->lock);
	r = atomic_load(&a->state) == API_NOT_STARTED ? build_vm(a, e)
						      : errf(e, -EBUSY, "already started");
	if (r == 0)
		set_state(a, API_STARTING);
	pthread_mutex_unlock(&a->lock);
	return r;
}

int api_main(const struct api_opts *o)
{
	uint64_t t0 = o->start_time_us ? o->start_time_us : now_us(CLOCK_MONOTONIC);
	struct api *a = malloc(sizeof(*a));
	struct api_server *srv = NULL;
	struct err e = { "" };
	sigset_t sigs;
	int sig_fd, status;

	if (!a) {
		fprintf(stderr, "lodge: out of memory\n");
		return VM_STATUS_HOST;
	}
	/* Before any thread exists: every thread inherits SIGINT/SIGTERM blocked (signalfd). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);       /* a metrics or log pipe whose reader left */
	sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (api_state_init(a, o, &e) < 0 || sig_fd < 0) {
		fprintf(stderr, "lodge: %s\n", sig_fd < 0 ? strerror(errno) : e.msg);
		status = VM_STATUS_USAGE;
		goto out;
	}
	/* A config file's VM is built before the socket exists: no InstanceStart can race it. */
	if (o->config_file && boot_now(a, &e) < 0) {
		fprintf(stderr, "lodge: %s\n", e.msg);
		status = VM_STATUS_USAGE;
		goto out;
	}
	if (!o->no_api) {
		srv = api_server_start(o->sock_path, o->max_payload, api_dispatch, a, &e);
		if (!srv) {
			fprintf(stderr, "lodge: %s\n", e.msg);
			status = VM_STATUS_USAGE;
			goto out;
		}
		/* Firecracker's process_startup_time_us and _cpu_us, with the jailer's clocks. */
		a->startup_us = now_us(CLOCK_MONOTONIC) - t0;
		a->startup_cpu_us = now_us(CLOCK_PROCESS_CPUTIME_ID) - o->start_time_cpu_us +
				    o->parent_cpu_time_us;
		log_info("api", "serving %s (%llu CPU us after exec)", o->sock_path,
			 (unsigned long long)a->startup_cpu_us);
		if (!o->config_file)
			prepare_start(a);
	}
	status = o->config_file ? run_vm(a, false) : wait_for_start(a, sig_fd);
out:
	pthread_mutex_lock(&a->lock);
	set_state(a, API_EXITED);
	pthread_mutex_unlock(&a->lock);
	api_server_stop(srv, STOP_GRACE_MS);
	api_state_fini(a);
	free(a);
	if (sig_fd >= 0)
		close(sig_fd);
	return status;
}
