#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "devices/device.h"
#include "kvm/vcpu.h"
#include "util/log.h"

/* A file mapped read-only for the loaders. */
struct mapped_file {
	uint8_t *data;
	size_t size;
};

static int map_file(const char *path, const char *what, struct mapped_file *f, struct err *e)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	f->data = NULL;
	f->size = 0;
	if (fd < 0)
		return errf(e, -errno, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return errf(e, -EINVAL, "%s %s: not a regular file", what, path);
	}
	if (st.st_size == 0) {
		close(fd);
		return errf(e, -EINVAL, "%s %s: empty file", what, path);
	}
	f->data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (f->data == MAP_FAILED) {
		f->data = NULL;
		return errf(e, -errno, "%s %s: %s", what, path, strerror(errno));
	}
	f->size = (size_t)st.st_size;
	return 0;
}

static void unmap_file(struct mapped_file *f)
{
	if (f->data)
		munmap(f->data, f->size);
	f->data = NULL;
}

bool vm_exiting(const struct vm *vm)
{
	return atomic_load(&vm->state) >= VM_EXITING;
}

void vm_request_exit(struct vm *vm, int status, const char *why)
{
	int expected = VM_RUNNING;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&vm->state, &expected, VM_EXITING)) {
		expected = VM_CREATED;
		if (!atomic_compare_exchange_strong(&vm->state, &expected, VM_EXITING))
			return; /* an earlier request won */
	}
	atomic_store(&vm->exit_status, status);
	log_info("vm", "exit with status %d: %s", status, why);
	if (write(vm->exit_fd, &one, sizeof(one)) < 0)
		log_warn("vm", "exit eventfd: %s", strerror(errno));
	/* Parked vCPUs must see the exit. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_vcpu_checkpoint(struct vm *vm)
{
	if (!atomic_load(&vm->pause_requested))
		return;
	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->pause_requested) && !vm_exiting(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

int vm_pause(struct vm *vm)
{
	unsigned started = 0;

	if (atomic_load(&vm->state) != VM_RUNNING)
		return -ESHUTDOWN;
	pthread_mutex_lock(&vm->pause_lock);
	/* The flag before the kick: a vCPU that misses the kick sees the flag. */
	atomic_store(&vm->pause_requested, true);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if (vm->vcpus[i].started) {
			started++;
			vcpu_kick(&vm->vcpus[i]);
		}
	}
	while (vm->parked < started && !vm_exiting(vm))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
	return vm_exiting(vm) ? -ESHUTDOWN : 0;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_requested, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

bool vm_paused(const struct vm *vm)
{
	return atomic_load(&vm->pause_requested);
}

int vm_irq_line(struct vm *vm, unsigned gsi, int level)
{
	return kvm_irq_line(&vm->kvm, gsi, level);
}

int vm_cmdline_append(struct vm *vm, const char *arg)
{
	size_t used = strlen(vm->cmdline_extra), n = strlen(arg);

	if (used + 1 + n + 1 > sizeof(vm->cmdline_extra))
		return -ENOSPC;
	vm->cmdline_extra[used] = ' ';
	memcpy(vm->cmdline_extra + used + 1, arg, n + 1);
	return 0;
}

static int vm_init_devices(struct vm *vm, struct err *e)
{
	const struct device_desc *const *list;
	unsigned n = device_list(&list);

	for (unsigned i = 0; i < n; i++) {
		struct vm_device *d = &vm->devices[vm->ndevices];
		int r;

		if (vm->ndevices == sizeof(vm->devices) / sizeof(vm->devices[0]))
			return errf(e, -ENOSPC, "too many devices");
		d->desc = list[i];
		d->state = NULL;
		vm->ndevices++;
		r = list[i]->init(vm, &d->state, e);
		if (r < 0)
			return r;
		log_debug("vm", "device %s ready", list[i]->name);
	}
	return 0;
}

static int vm_build_acpi(struct vm *vm, struct err *e)
{
	uint8_t *buf = gmem_ptr(&vm->mem, LAYOUT_ACPI, LAYOUT_ACPI_END - LAYOUT_ACPI);
	long n;

	vm->acpi.ncpus = vm->ncpus;
	vm->acpi.lapic_addr = LAYOUT_LAPIC;
	vm->acpi.ioapic_addr = LAYOUT_IOAPIC;
	vm->acpi.ioapic_id = 0;
	if (!buf)
		return errf(e, -EFAULT, "guest RAM does not cover the ACPI area");
	n = acpi_build(&vm->acpi, buf, LAYOUT_ACPI_END - LAYOUT_ACPI, LAYOUT_ACPI);
	if (n < 0)
		return errf(e, (int)n, "building ACPI tables: %s", strerror((int)-n));
	return 0;
}

/* Read the kernel, initrd and modules, and let the loaders place them. */
static int vm_load_kernel(struct vm *vm, struct boot_entry *entry, struct err *e)
{
	const struct vm_config *cfg = vm->cfg;
	struct mapped_file kernel = { 0 }, initrd = { 0 };
	struct mapped_file mods[CONFIG_MAX_MODULES] = { 0 };
	struct boot_module bmods[CONFIG_MAX_MODULES];
	char *modpath[CONFIG_MAX_MODULES] = { 0 };
	const char *base_cmdline = cfg->cmdline ? cfg->cmdline : CONFIG_DEFAULT_CMDLINE;
	char *cmdline = NULL;
	struct boot_input in = {
		.e820 = &vm->e820,
		.rsdp_gpa = LAYOUT_ACPI,
		.modules = bmods,
	};
	int r;

	if (asprintf(&cmdline, "%s%s", base_cmdline, vm->cmdline_extra) < 0)
		return errf(e, -ENOMEM, "out of memory");
	in.cmdline = cmdline;
	r = map_file(cfg->kernel_path, "kernel", &kernel, e);
	if (r == 0 && cfg->initrd_path)
		r = map_file(cfg->initrd_path, "initrd", &initrd, e);
	for (unsigned i = 0; r == 0 && i < cfg->nmodules; i++) {
		/* "PATH[ ARGS]": the module's string is the whole spec, as GRUB passes it. */
		modpath[i] = strndup(cfg->modules[i], strcspn(cfg->modules[i], " "));
		if (!modpath[i]) {
			r = errf(e, -ENOMEM, "out of memory");
			break;
		}
		r = map_file(modpath[i], "module", &mods[i], e);
		bmods[i] = (struct boot_module){ mods[i].data, mods[i].size, cfg->modules[i] };
		in.nmodules = i + 1;
	}
	if (r == 0) {
		in.kernel = kernel.data;
		in.kernel_size = kernel.size;
		in.initrd = initrd.data;
		in.initrd_size = initrd.size;
		r = boot_load(&vm->mem, &in, entry, e);
		if (r < 0)
			errprefix(e, r, cfg->kernel_path);
	}
	free(cmdline);
	unmap_file(&kernel);
	unmap_file(&initrd);
	for (unsigned i = 0; i < cfg->nmodules; i++) {
		unmap_file(&mods[i]);
		free(modpath[i]);
	}
	return r;
}

static int vm_create_vcpus(struct vm *vm, const struct boot_entry *entry, struct err *e)
{
	const struct cpuid_table *cpuid = kvm_supported_cpuid(&vm->kvm, e);
	int r = 0;

	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return errf(e, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	if (!cpuid)
		return -EIO;
	for (unsigned i = 0; r == 0 && i < vm->ncpus; i++)
		r = vcpu_create(&vm->vcpus[i], vm, i, cpuid, e);
	if (r < 0 || !entry)
		return r;
	return vcpu_set_boot_state(&vm->vcpus[0], entry, e);
}

/*
 * The one way a VM is built: a fresh boot (rs == NULL: new RAM, ACPI
 * tables, the kernel, boot registers) or a restore (rs: RAM and every
 * state from a snapshot, nothing loaded).
 */
static int vm_build(struct vm *vm, const struct vm_config *cfg, const struct vm_restore *rs,
		    struct kvm *prepared, struct err *e)
{
	struct boot_entry entry;
	const char *kvm_path = cfg->kvm_path ? cfg->kvm_path : "/dev/kvm";
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm.sys_fd = vm->kvm.vm_fd = -1;
	vm->mem.fd = -1;
	vm->loop.epfd = vm->loop.stop_fd = -1;
	vm->pio.name = "pio";
	vm->mmio.name = "mmio";
	vm->ncpus = cfg->vcpus;
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	atomic_store(&vm->state, VM_CREATED);
	vm->signal_fd = -1;
	vm->exit_fd = eventfd(0, EFD_CLOEXEC);
	if (vm->exit_fd < 0)
		return errf(e, -errno, "eventfd: %s", strerror(errno));
	r = loop_init(&vm->loop);
	if (r < 0)
		return errf(e, r, "epoll: %s", strerror(-r));
	log_trace_point("start");
	if (prepared && prepared->vm_fd >= 0) {
		vm->kvm = *prepared;
		prepared->sys_fd = prepared->vm_fd = -1;
		prepared->cpuid = NULL;
	} else {
		r = kvm_open(&vm->kvm, kvm_path, e);
		if (r < 0)
			return r;
	}
	if (vm->ncpus > (unsigned)vm->kvm.max_vcpus)
		return errf(e, -EINVAL, "--cpus %u: KVM allows at most %d", vm->ncpus,
			    vm->kvm.max_vcpus);
	log_trace_point("kvm_open");
	if (rs) {
		r = rs->make_memory(vm, rs->arg, e);
		if (r < 0)
			return r;
	} else {
		r = gmem_init(&vm->mem, cfg->mem_mib << 20, cfg->hugepages ? GMEM_HUGEPAGES : 0);
		if (r < 0)
			return errf(e, r, "guest memory (%" PRIu64 " MiB%s): %s", cfg->mem_mib,
				    cfg->hugepages ? ", huge pages" : "", strerror(-r));
	}
	if (cfg->track_dirty_pages && gmem_track_dirty(&vm->mem, true) < 0)
		return errf(e, -ENOMEM, "out of memory");
	log_trace_point("gmem_init");
	r = kvm_map_memory(&vm->kvm, &vm->mem, cfg->track_dirty_pages, e);
	if (r < 0)
		return r;
	log_trace_point("kvm_map_memory");
	r = e820_build(&vm->e820, &vm->mem);
	if (r < 0)
		return errf(e, r, "--memory %" PRIu64 ": too small for the memory map", cfg->mem_mib);
	r = vm_init_devices(vm, e);
	if (r < 0)
		return r;
	log_trace_point("devices");
	if (rs) {
		/* The tables, the kernel and the boot registers are all in the snapshot. */
		r = vm_create_vcpus(vm, NULL, e);
		if (r == 0)
			r = rs->apply(vm, rs->arg, e);
		log_trace_point("state restored");
		return r;
	}
	r = vm_build_acpi(vm, e);
	if (r < 0)
		return r;
	log_trace_point("acpi");
	r = vm_load_kernel(vm, &entry, e);
	if (r < 0)
		return r;
	log_trace_point("kernel loaded");
	log_info("vm", "%s kernel, entry 0x%" PRIx64 ", %u vCPU(s), %" PRIu64 " MiB",
		 entry.format, entry.rip, vm->ncpus, cfg->mem_mib);
	r = vm_create_vcpus(vm, &entry, e);
	log_trace_point("vcpus created");
	return r;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, struct err *e)
{
	return vm_build(vm, cfg, NULL, NULL, e);
}

int vm_create_prepared(struct vm *vm, const struct vm_config *cfg, struct kvm *kvm,
		       struct err *e)
{
	return vm_build(vm, cfg, NULL, kvm, e);
}

int vm_create_restored(struct vm *vm, const struct vm_config *cfg, const struct vm_restore *rs,
		       struct err *e)
{
	return vm_build(vm, cfg, rs, rs->kvm, e);
}

void vm_start_paused(struct vm *vm)
{
	atomic_store(&vm->pause_requested, true);
}

/* SIGINT/SIGTERM arrived on the signalfd: end the VM. */
static void vm_signal(struct vm *vm)
{
	struct signalfd_siginfo si;
	char why[48];

	if (read(vm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	snprintf(why, sizeof(why), "%s received", strsignal((int)si.ssi_signo));
	vm_request_exit(vm, VM_STATUS_SIGNAL, why);
}

/* The main thread's wait: until an exit is requested, serving SIGINT/SIGTERM. */
static void vm_wait_exit(struct vm *vm)
{
	struct pollfd fds[2] = {
		{ .fd = vm->exit_fd, .events = POLLIN },
		{ .fd = vm->signal_fd, .events = POLLIN },
	};

	/* vm_request_exit marks the state before it writes exit_fd: the state is the truth. */
	while (!vm_exiting(vm)) {
		if (poll(fds, vm->signal_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno != EINTR)
				vm_request_exit(vm, VM_STATUS_HOST, "poll failed");
			continue;
		}
		if (fds[1].revents & POLLIN)
			vm_signal(vm);
	}
}

static void *vm_io_thread(void *arg)
{
	struct vm *vm = arg;
	int r = loop_run(&vm->loop);

	if (r < 0)
		vm_request_exit(vm, VM_STATUS_HOST, "I/O loop failed");
	return NULL;
}

int vm_run(struct vm *vm)
{
	sigset_t sigs;
	int r;

	r = vcpu_init_signals();
	if (r < 0)
		return VM_STATUS_HOST;
	/* SIGINT/SIGTERM reach the main thread through a signalfd; no thread takes them directly. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	vm->signal_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);

	{
		int expected = VM_CREATED;

		atomic_compare_exchange_strong(&vm->state, &expected, VM_RUNNING);
	}
	/* The I/O thread exists only when a device gave it something to watch. */
	if (vm->loop.sources) {
		if (pthread_create(&vm->io_thread, NULL, vm_io_thread, vm) == 0)
			vm->io_started = true;
		else
			vm_request_exit(vm, VM_STATUS_HOST, "cannot start the I/O thread");
	}
	for (unsigned i = 0; i < vm->ncpus && !vm_exiting(vm); i++) {
		r = vcpu_start(&vm->vcpus[i]);
		if (r < 0)
			vm_request_exit(vm, VM_STATUS_HOST, "cannot start a vCPU thread");
	}
	log_trace_point("threads started");
	vm_wait_exit(vm);
	log_trace_point("exit requested");
	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_join(&vm->vcpus[i]);
	/* Where a guest that had to be stopped from outside was (hang diagnosis). */
	if (atomic_load(&vm->exit_status) == VM_STATUS_SIGNAL && getenv("LODGE_DUMP_ON_SIGNAL")) {
		for (unsigned i = 0; i < vm->ncpus; i++) {
			fprintf(stderr, "lodge: vCPU %u when the signal came:\n", i);
			vcpu_dump(&vm->vcpus[i]);
		}
	}
	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	loop_stop(&vm->loop);
	if (vm->io_started) {
		pthread_join(vm->io_thread, NULL);
		vm->io_started = false;
	}
	if (vm->signal_fd >= 0) {
		close(vm->signal_fd);
		vm->signal_fd = -1;
	}
	atomic_store(&vm->state, VM_DONE);
	log_trace_point("threads joined");
	return atomic_load(&vm->exit_status);
}

void vm_destroy(struct vm *vm)
{
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->ncpus; i++)
			if (vm->vcpus[i].vm)
				vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	log_trace_point("vcpus closed");
	for (unsigned i = vm->ndevices; i-- > 0;)
		if (vm->devices[i].desc->fini)
			vm->devices[i].desc->fini(vm, vm->devices[i].state);
	vm->ndevices = 0;
	log_trace_point("devices freed");
	loop_destroy(&vm->loop);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	gmem_destroy(&vm->mem);
	log_trace_point("memory unmapped");
	kvm_close(&vm->kvm);
	if (vm->exit_fd >= 0)
		close(vm->exit_fd);
	vm->exit_fd = -1;
	pthread_cond_destroy(&vm->pause_cond);
	pthread_mutex_destroy(&vm->pause_lock);
}
