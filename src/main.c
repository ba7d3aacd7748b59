/* lodge: command line -> configuration -> VM. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "api/api.h"
#include "snapshot/client.h"
#include "snapshot/snapshot.h"
#include "util/log.h"
#include "vmm/config.h"
#include "vmm/vm.h"

#ifndef LODGE_VERSION
#define LODGE_VERSION "0.1.0"
#endif

static const char usage_text[] =
	"usage: lodge run --kernel PATH [--initrd PATH] [--cmdline STR] [--memory MiB]\n"
	"                 [--cpus N] [--serial stdio|file:PATH|none] [--config FILE]\n"
	"                 [--cpu-mask FEATURE[,FEATURE...]] [--module 'PATH [ARGS]']...\n"
	"                 [--hugepages] [--log-level error|warn|info|debug]\n"
	"                 [--drive PATH[,key=value...]]... [--net TAP[,key=value...]]...\n"
	"                 [--vsock UDS_PATH[,guest_cid=N]] [--balloon MiB[,key=value...]]\n"
	"                 [--entropy[=key=value...]]\n"
	"       lodge run --restore STATE --mem FILE [--mem-backend file|uffd|uffd:SOCKET]\n"
	"                 [--track-dirty-pages] [--net-override IFACE=TAP]...\n"
	"                 [--drive-override DRIVE=PATH]... [--vsock-override UDS_PATH]\n"
	"                 [--log-level LEVEL]\n"
	"       lodge snapshot create --api-sock PATH --state FILE --mem FILE [--diff]\n"
	"       lodge snapshot info STATE\n"
	"       lodge snapshot merge BASE_MEM DIFF_MEM\n"
	"       lodge --api-sock PATH [--config-file FILE] [--no-api] [--id ID]\n"
	"             [--level LEVEL] [--log-path PATH] [--show-level] [--show-log-origin]\n"
	"             [--module NAME] [--metrics-path PATH] [--http-api-max-payload-size N]\n"
	"       lodge --version\n"
	"\n"
	"Exit status: 0 guest powered off or reset; (v << 1) | 1 guest wrote v to the\n"
	"debug-exit port 0xf4; 2 bad usage or input; 4 triple fault; 6 KVM internal\n"
	"error; 8 host error; 10 SIGINT/SIGTERM.\n"
	"\n"
	"Device flags take the fields of the config file's objects (Firecracker's\n"
	"Drive, NetworkInterface, Vsock, Balloon, EntropyDevice) as key=value, with\n"
	"dots for nested ones: --drive disk.img,is_read_only=true,io_engine=Async\n"
	"--net tap0,guest_mac=06:00:00:00:00:01 --balloon 64,deflate_on_oom=true\n"
	"--entropy=rate_limiter.bandwidth.size=1024,rate_limiter.bandwidth.refill_time=100\n"
	"\n"
	"With --api-sock, lodge serves Firecracker's REST API on that Unix socket\n"
	"(docs/API.md) and runs the VM once PUT /actions InstanceStart asks, or at\n"
	"once from --config-file (then --no-api skips the socket). Logging flags\n"
	"take Firecracker's meaning there: --module filters log lines by subsystem.\n";

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_MEMORY, OPT_CPUS, OPT_SERIAL,
       OPT_CONFIG, OPT_CPU_MASK, OPT_MODULE, OPT_HUGEPAGES, OPT_LOG_LEVEL, OPT_HELP,
       OPT_DRIVE, OPT_NET, OPT_VSOCK, OPT_BALLOON, OPT_ENTROPY };

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "config-file", required_argument, NULL, OPT_CONFIG },
	{ "cpu-mask", required_argument, NULL, OPT_CPU_MASK },
	{ "module", required_argument, NULL, OPT_MODULE },
	{ "hugepages", no_argument, NULL, OPT_HUGEPAGES },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "drive", required_argument, NULL, OPT_DRIVE },
	{ "net", required_argument, NULL, OPT_NET },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "balloon", required_argument, NULL, OPT_BALLOON },
	{ "entropy", optional_argument, NULL, OPT_ENTROPY },
	{ NULL, 0, NULL, 0 },
};

/* --cpu-mask: a comma-separated list of feature names. */
static int add_cpu_mask(struct vm_config *c, const char *list, struct err *e)
{
	char *copy = strdup(list), *save = NULL;
	int r = 0;

	if (!copy)
		return errf(e, -ENOMEM, "out of memory");
	for (char *tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save))
		r = config_add_cpu_mask(c, tok, "--cpu-mask", e);
	free(copy);
	return r;
}

/* Apply one option to (c); the config file was applied before any of them. */
static int apply_option(struct vm_config *c, int opt, const char *arg, struct err *e)
{
	uint64_t v;
	int r;

	switch (opt) {
	case OPT_KERNEL:
		return config_set_string(&c->kernel_path, arg, e);
	case OPT_INITRD:
		return config_set_string(&c->initrd_path, arg, e);
	case OPT_CMDLINE:
		return config_set_string(&c->cmdline, arg, e);
	case OPT_MEMORY:
		r = config_parse_uint(arg, 2, CONFIG_MAX_MEM_MIB, "--memory", &v, e);
		if (r == 0)
			c->mem_mib = v;
		return r;
	case OPT_CPUS:
		r = config_parse_uint(arg, 1, CONFIG_MAX_VCPUS, "--cpus", &v, e);
		if (r == 0)
			c->vcpus = (unsigned)v;
		return r;
	case OPT_SERIAL:
		return config_set_serial(c, arg, e);
	case OPT_CPU_MASK:
		return add_cpu_mask(c, arg, e);
	case OPT_MODULE:
		return config_add_module(c, arg, "--module", e);
	case OPT_HUGEPAGES:
		c->hugepages = true;
		return 0;
	case OPT_DRIVE: {
		char defaults[64];

		snprintf(defaults, sizeof(defaults), "drive_id=drive%u,is_root_device=false",
			 c->ndrives);
		return config_set_from_spec(c, arg, "path_on_host", defaults, config_set_drive,
					    "--drive", e);
	}
	case OPT_NET: {
		char defaults[32];

		snprintf(defaults, sizeof(defaults), "iface_id=net%u", c->nnets);
		return config_set_from_spec(c, arg, "host_dev_name", defaults, config_set_net,
					    "--net", e);
	}
	case OPT_VSOCK:
		return config_set_from_spec(c, arg, "uds_path", "guest_cid=3", config_set_vsock,
					    "--vsock", e);
	case OPT_BALLOON:
		return config_set_from_spec(c, arg, "amount_mib", "deflate_on_oom=false",
					    config_set_balloon, "--balloon", e);
	case OPT_ENTROPY:
		return config_set_from_spec(c, arg ? arg : "", NULL, NULL, config_set_entropy,
					    "--entropy", e);
	case OPT_LOG_LEVEL:
		if (log_set_level(arg) < 0)
			return errf(e, -EINVAL, "--log-level: '%s' is not error, warn, info or debug", arg);
		return 0;
	default:
		return 0;
	}
}

/* Parse `run` arguments into (c): the config file first, then flags over it. */
static int parse_run_args(int argc, char **argv, struct vm_config *c, struct err *e)
{
	int opt, r;
	int *opts = calloc((size_t)argc, sizeof(int));
	char **args = calloc((size_t)argc, sizeof(char *));
	int n = 0;
	const char *config_path = NULL;

	if (!opts || !args) {
		free(opts);
		free(args);
		return errf(e, -ENOMEM, "out of memory");
	}
	opterr = 0;
	optind = 1;
	r = 0;
	while ((opt = getopt_long(argc, argv, "", run_options, NULL)) != -1) {
		if (opt == '?') {
			r = errf(e, -EINVAL, "unknown or incomplete option '%s'", argv[optind - 1]);
			break;
		}
		if (opt == OPT_HELP) {
			r = 1;
			break;
		}
		if (opt == OPT_CONFIG)
			config_path = optarg;
		opts[n] = opt;
		args[n++] = optarg;
	}
	if (r == 0 && optind < argc)
		r = errf(e, -EINVAL, "unexpected argument '%s'", argv[optind]);
	if (r == 0 && config_path)
		r = config_load_file(c, config_path, e);
	for (int i = 0; r == 0 && i < n; i++)
		r = apply_option(c, opts[i], args[i], e);
	free(opts);
	free(args);
	return r;
}

/* Resident KiB of guest RAM: the pages of its mapping that are in memory. */
static long guest_resident_kib(const struct gmem *m)
{
	size_t pages = m->total / 4096, n = 0;
	unsigned char *vec = malloc(pages ? pages : 1);

	if (!vec || mincore(m->host, m->total, vec) < 0) {
		free(vec);
		return -1;
	}
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return (long)(n * 4);
}

/*
 * With LODGE_REPORT_RSS set, print lodge's memory at exit (bench/start reads
 * it): the kernel's RSS counters, the resident guest RAM, and own_kib, the
 * RSS that is not guest RAM.
 */
static void report_rss(const struct gmem *m)
{
	static const char *const keys[] = { "RssAnon:", "RssFile:", "RssShmem:", "VmHWM:" };
	static const char *const names[] = { "anon_kib", "file_kib", "shmem_kib", "hwm_kib" };
	long v[4] = { 0 }, guest;
	char line[256];
	FILE *f;

	if (!getenv("LODGE_REPORT_RSS") || !(f = fopen("/proc/self/status", "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		for (unsigned i = 0; i < 4; i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0)
				v[i] = strtol(line + strlen(keys[i]), NULL, 10);
	}
	fclose(f);
	guest = guest_resident_kib(m);
	fprintf(stderr, "lodge: rss:");
	for (unsigned i = 0; i < 4; i++)
		fprintf(stderr, " %s=%ld", names[i], v[i]);
	fprintf(stderr, " guest_kib=%ld own_kib=%ld\n", guest, v[0] + v[1] + v[2] - guest);
}

enum { RS_RESTORE = 1024, RS_MEM, RS_BACKEND, RS_TRACK, RS_NET, RS_DRIVE, RS_VSOCK, RS_LOG_LEVEL };

static const struct option restore_options[] = {
	{ "restore", required_argument, NULL, RS_RESTORE },
	{ "mem", required_argument, NULL, RS_MEM },
	{ "mem-backend", required_argument, NULL, RS_BACKEND },
	{ "track-dirty-pages", no_argument, NULL, RS_TRACK },
	{ "net-override", required_argument, NULL, RS_NET },
	{ "drive-override", required_argument, NULL, RS_DRIVE },
	{ "vsock-override", required_argument, NULL, RS_VSOCK },
	{ "log-level", required_argument, NULL, RS_LOG_LEVEL },
	{ NULL, 0, NULL, 0 },
};

/* "ID=VALUE" into an override slot; (what) names the flag in errors. */
static int add_override(char *arg, const char **id, const char **value, unsigned *n,
			const char *what, struct err *e)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg || !eq[1])
		return errf(e, -EINVAL, "%s '%s': expected ID=VALUE", what, arg);
	if (*n >= SNAPSHOT_MAX_OVERRIDES)
		return errf(e, -EINVAL, "%s: at most %d", what, SNAPSHOT_MAX_OVERRIDES);
	*eq = 0;
	*id = arg;
	*value = eq + 1;
	(*n)++;
	return 0;
}

static int parse_restore_args(int argc, char **argv, struct snapshot_load_args *a, struct err *e)
{
	int opt;

	opterr = 0;
	optind = 1;
	a->backend = SNAPSHOT_MEM_FILE;
	while ((opt = getopt_long(argc, argv, "", restore_options, NULL)) != -1) {
		int r = 0;

		switch (opt) {
		case RS_RESTORE: a->state_path = optarg; break;
		case RS_MEM: a->mem_path = optarg; break;
		case RS_TRACK: a->track_dirty_pages = true; break;
		case RS_VSOCK: a->vsock_uds = optarg; break;
		case RS_NET:
			r = add_override(optarg, &a->net[a->nnet].id, &a->net[a->nnet].value, &a->nnet,
					 "--net-override", e);
			break;
		case RS_DRIVE:
			r = add_override(optarg, &a->drive[a->ndrive].id, &a->drive[a->ndrive].value,
					 &a->ndrive, "--drive-override", e);
			break;
		case RS_BACKEND:
			if (strcmp(optarg, "file") == 0) {
				a->backend = SNAPSHOT_MEM_FILE;
			} else if (strcmp(optarg, "uffd") == 0) {
				a->backend = SNAPSHOT_MEM_UFFD_SELF;
			} else if (strncmp(optarg, "uffd:", 5) == 0 && optarg[5]) {
				a->backend = SNAPSHOT_MEM_UFFD;
				a->uffd_socket = optarg + 5;
			} else {
				r = errf(e, -EINVAL, "--mem-backend '%s': expected file, uffd or uffd:SOCKET",
					 optarg);
			}
			break;
		case RS_LOG_LEVEL:
			if (log_set_level(optarg) < 0)
				r = errf(e, -EINVAL, "--log-level: '%s' is not error, warn, info or debug",
					 optarg);
			break;
		default:
			r = errf(e, -EINVAL, "unknown or incomplete option '%s' (with --restore, only "
				 "the restore flags apply)", argv[optind - 1]);
		}
		if (r < 0)
			return r;
	}
	if (optind < argc)
		return errf(e, -EINVAL, "unexpected argument '%s'", argv[optind]);
	if (!a->mem_path && a->backend != SNAPSHOT_MEM_UFFD)
		return errf(e, -EINVAL, "--restore needs --mem FILE (the snapshot's memory file)");
	return 0;
}

/*
 * `lodge run --restore STATE --mem FILE ...`: a VM from a snapshot, run to
 * its end (no API: a VM to pause or snapshot again is loaded through
 * `lodge --api-sock` and PUT /snapshot/load instead).
 */
static int cmd_restore(int argc, char **argv)
{
	struct snapshot_load_args a = { 0 };
	struct snapshot_load ld;
	struct vm vm;
	struct err e = { "" };
	int r, status;

	r = parse_restore_args(argc, argv, &a, &e);
	if (r < 0) {
		fprintf(stderr, "lodge: %s\n", e.msg);
		return VM_STATUS_USAGE;
	}
	r = snapshot_load_open(&ld, &a, &e);
	if (r == 0) {
		r = snapshot_load_vm(&vm, &ld, &ld.cfg, &e);
		if (r < 0)
			vm_destroy(&vm);
	}
	if (r < 0) {
		fprintf(stderr, "lodge: restore: %s\n", e.msg);
		snapshot_load_close(&ld);
		return VM_STATUS_USAGE;
	}
	status = vm_run(&vm);
	report_rss(&vm.mem);
	vm_destroy(&vm);
	snapshot_load_close(&ld);
	return status;
}

/* `lodge snapshot create --api-sock PATH --state FILE --mem FILE [--diff]`. */
static int snapshot_create_cmd(int argc, char **argv, struct err *e)
{
	static const struct option opts[] = {
		{ "api-sock", required_argument, NULL, 's' },
		{ "state", required_argument, NULL, 't' },
		{ "mem", required_argument, NULL, 'm' },
		{ "diff", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *state = NULL, *mem = NULL;
	bool diff = false;
	int opt;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 't': state = optarg; break;
		case 'm': mem = optarg; break;
		case 'd': diff = true; break;
		default:
			return errf(e, -EINVAL, "snapshot create: unknown or incomplete option '%s'",
				    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return errf(e, -EINVAL, "snapshot create: unexpected argument '%s'", argv[optind]);
	if (!sock || !state || !mem)
		return errf(e, -EINVAL, "snapshot create needs --api-sock PATH, --state FILE and --mem FILE");
	return snapshot_client_create(sock, diff, state, mem, e);
}

/* `lodge snapshot create|info|merge ...`. */
static int cmd_snapshot(int argc, char **argv)
{
	struct err e = { "" };
	int r;

	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		r = snapshot_create_cmd(argc - 1, argv + 1, &e);
	else if (argc == 3 && strcmp(argv[1], "info") == 0)
		r = snapshot_info(argv[2], &e);
	else if (argc == 4 && strcmp(argv[1], "merge") == 0)
		r = snapshot_merge(argv[2], argv[3], &e);
	else
		r = errf(&e, -EINVAL, "usage: lodge snapshot create --api-sock PATH --state FILE "
			 "--mem FILE [--diff] | lodge snapshot info STATE | lodge snapshot merge "
			 "BASE_MEM DIFF_MEM");
	if (r < 0) {
		fprintf(stderr, "lodge: %s\n", e.msg);
		return VM_STATUS_USAGE;
	}
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct vm_config cfg;
	struct vm vm;
	struct err e = { "" };
	int r, status;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--restore") == 0 || strncmp(argv[i], "--restore=", 10) == 0)
			return cmd_restore(argc, argv);
	config_init(&cfg);
	if (getenv("LODGE_KVM_DEVICE"))
		cfg.kvm_path = strdup(getenv("LODGE_KVM_DEVICE"));
	r = parse_run_args(argc, argv, &cfg, &e);
	if (r == 1) {
		fputs(usage_text, stdout);
		config_free(&cfg);
		return 0;
	}
	if (r == 0)
		r = config_validate(&cfg, &e);
	if (r < 0) {
		fprintf(stderr, "lodge: %s\n", e.msg);
		config_free(&cfg);
		return VM_STATUS_USAGE;
	}
	r = vm_create(&vm, &cfg, &e);
	if (r < 0) {
		fprintf(stderr, "lodge: %s\n", e.msg);
		vm_destroy(&vm);
		config_free(&cfg);
		return VM_STATUS_USAGE;
	}
	status = vm_run(&vm);
	report_rss(&vm.mem);
	vm_destroy(&vm);
	log_trace_point("vm destroyed");
	config_free(&cfg);
	return status;
}


enum { API_SOCK = 512, API_CONFIG, API_NO_API, API_ID, API_LEVEL, API_LOG_PATH, API_SHOW_LEVEL,
       API_SHOW_ORIGIN, API_MODULE, API_METRICS, API_PAYLOAD, API_NO_SECCOMP, API_HELP,
       API_START_US, API_START_CPU_US, API_PARENT_CPU_US, API_MMDS_LIMIT };

static const struct option api_options[] = {
	{ "api-sock", required_argument, NULL, API_SOCK },
	{ "config-file", required_argument, NULL, API_CONFIG },
	{ "no-api", no_argument, NULL, API_NO_API },
	{ "id", required_argument, NULL, API_ID },
	{ "level", required_argument, NULL, API_LEVEL },
	{ "log-level", required_argument, NULL, API_LEVEL },
	{ "log-path", required_argument, NULL, API_LOG_PATH },
	{ "show-level", no_argument, NULL, API_SHOW_LEVEL },
	{ "show-log-origin", no_argument, NULL, API_SHOW_ORIGIN },
	{ "module", required_argument, NULL, API_MODULE },
	{ "metrics-path", required_argument, NULL, API_METRICS },
	{ "http-api-max-payload-size", required_argument, NULL, API_PAYLOAD },
	{ "no-seccomp", no_argument, NULL, API_NO_SECCOMP },
	{ "help", no_argument, NULL, API_HELP },
	/* What Firecracker's jailer passes. */
	{ "start-time-us", required_argument, NULL, API_START_US },
	{ "start-time-cpu-us", required_argument, NULL, API_START_CPU_US },
	{ "parent-cpu-time-us", required_argument, NULL, API_PARENT_CPU_US },
	{ "mmds-size-limit", required_argument, NULL, API_MMDS_LIMIT },
	{ NULL, 0, NULL, 0 },
};

/* --level: Firecracker's names (any case) or lodge's. */
static int set_api_level(const char *s)
{
	static const char *const names[][2] = {
		{ "error", "error" }, { "warning", "warn" }, { "warn", "warn" }, { "info", "info" },
		{ "debug", "debug" }, { "trace", "debug" },
	};

	if (strcasecmp(s, "off") == 0) {
		log_set_off(true);
		return 0;
	}
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i][0]) == 0)
			return log_set_level(names[i][1]);
	return -EINVAL;
}

/* One Firecracker-style option into (o) or the logger; 0 or -EINVAL with (e). */
static int apply_api_option(struct api_opts *o, int opt, const char *arg, bool *show_level,
			    bool *show_origin, struct err *e)
{
	uint64_t v;
	int r;

	switch (opt) {
	case API_SOCK: o->sock_path = arg; return 0;
	case API_CONFIG: o->config_file = arg; return 0;
	case API_NO_API: o->no_api = true; return 0;
	case API_ID: o->id = arg; return 0;
	case API_METRICS: o->metrics_path = arg; return 0;
	case API_NO_SECCOMP: return 0;  /* lodge installs no seccomp filter yet */
	case API_SHOW_LEVEL: *show_level = true; return 0;
	case API_SHOW_ORIGIN: *show_origin = true; return 0;
	case API_LEVEL:
		if (set_api_level(arg) < 0)
			return errf(e, -EINVAL, "--level: '%s' is not Error, Warning, Info, Debug, "
				    "Trace or Off", arg);
		return 0;
	case API_LOG_PATH:
		r = log_set_path(arg);
		return r < 0 ? errf(e, r, "--log-path %s: %s", arg, strerror(-r)) : 0;
	case API_MODULE:
		return log_set_module(arg) < 0 ? errf(e, -ENOMEM, "out of memory") : 0;
	case API_PAYLOAD:
		r = config_parse_uint(arg, 1024, 1 << 30, "--http-api-max-payload-size", &v, e);
		if (r == 0)
			o->max_payload = (size_t)v;
		return r;
	case API_START_US:
		return config_parse_uint(arg, 0, UINT64_MAX, "--start-time-us", &o->start_time_us, e);
	case API_START_CPU_US:
		return config_parse_uint(arg, 0, UINT64_MAX, "--start-time-cpu-us",
					 &o->start_time_cpu_us, e);
	case API_PARENT_CPU_US:
		return config_parse_uint(arg, 0, UINT64_MAX, "--parent-cpu-time-us",
					 &o->parent_cpu_time_us, e);
	case API_MMDS_LIMIT:    /* accepted for the jailer's sake: lodge has no MMDS */
		return config_parse_uint(arg, 0, UINT64_MAX, "--mmds-size-limit", &v, e);
	default:
		return errf(e, -EINVAL, "unknown option");
	}
}

/* `lodge --api-sock PATH ...`: Firecracker's command line. */
static int cmd_api(int argc, char **argv)
{
	struct api_opts o = { .max_payload = API_DEFAULT_MAX_PAYLOAD };
	bool show_level = false, show_origin = false;
	struct err e = { "" };
	int opt, r = 0;

	o.kvm_path = getenv("LODGE_KVM_DEVICE");
	opterr = 0;
	optind = 1;
	while (r == 0 && (opt = getopt_long(argc, argv, "", api_options, NULL)) != -1) {
		if (opt == '?')
			r = errf(&e, -EINVAL, "unknown or incomplete option '%s'", argv[optind - 1]);
		else if (opt == API_HELP)
			r = 1;
		else
			r = apply_api_option(&o, opt, optarg, &show_level, &show_origin, &e);
	}
	if (r == 1) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (r == 0 && optind < argc)
		r = errf(&e, -EINVAL, "unexpected argument '%s'", argv[optind]);
	if (r == 0 && o.no_api && !o.config_file)
		r = errf(&e, -EINVAL, "--no-api needs --config-file (nothing else can start the VM)");
	if (r == 0 && !o.no_api && !o.sock_path)
		r = errf(&e, -EINVAL, "--api-sock PATH is needed (or --no-api with --config-file)");
	if (r < 0) {
		fprintf(stderr, "lodge: %s\n", e.msg);
		return VM_STATUS_USAGE;
	}
	log_set_format(show_level, show_origin);
	return api_main(&o);
}

int main(int argc, char **argv)
{
	const char *lvl = getenv("LODGE_LOG");

	if (lvl && log_set_level(lvl) < 0)
		fprintf(stderr, "lodge: LODGE_LOG=%s: not error, warn, info or debug; ignored\n", lvl);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "snapshot") == 0)
		return cmd_snapshot(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("lodge %s\n", LODGE_VERSION);
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc >= 2 && strncmp(argv[1], "--", 2) == 0)
		return cmd_api(argc, argv);
	if (argc < 2)
		fprintf(stderr, "lodge: no command given\n");
	else
		fprintf(stderr, "lodge: unknown command '%s'\n", argv[1]);
	fputs(usage_text, stderr);
	return VM_STATUS_USAGE;
}
