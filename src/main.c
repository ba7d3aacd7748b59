/* lodge: command line -> configuration -> VM. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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
	"--entropy=rate_limiter.bandwidth.size=1024,rate_limiter.bandwidth.refill_time=100\n";

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

static int cmd_run(int argc, char **argv)
{
	struct vm_config cfg;
	struct vm vm;
	struct err e = { "" };
	int r, status;

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

int main(int argc, char **argv)
{
	const char *lvl = getenv("LODGE_LOG");

	if (lvl && log_set_level(lvl) < 0)
		fprintf(stderr, "lodge: LODGE_LOG=%s: not error, warn, info or debug; ignored\n", lvl);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("lodge %s\n", LODGE_VERSION);
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc < 2)
		fprintf(stderr, "lodge: no command given\n");
	else
		fprintf(stderr, "lodge: unknown command '%s'\n", argv[1]);
	fputs(usage_text, stderr);
	return VM_STATUS_USAGE;
}
