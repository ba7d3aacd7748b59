/*
 * Snapshot and restore (docs/SNAPSHOTS.md): the order of a snapshot, the
 * memory files, the rebuild of a VM from a state file.
 *
 * Taking one (the VM paused: no vCPU runs):
 *   park the I/O thread -> finish every device's in-flight requests ->
 *   state file in memory (config, memory layout, devices, virtio, irqchips,
 *   PIT, vCPUs, clock) -> memory file beside its path -> state file
 *   committed -> memory file renamed into place -> I/O thread again.
 * Restoring: the saved config (with overrides) builds the same VM as a
 * fresh boot would, same devices in the same slots, except that guest RAM
 * maps the memory file and no kernel is loaded; then every piece of saved
 * state is loaded before any thread of the VM starts.
 */
#include "snapshot/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "devices/device.h"
#include "devices/vmgenid.h"
#include "kvm/vcpu.h"
#include "snapshot/uffd.h"
#include "util/log.h"
#include "virtio/mmio.h"
#include "vmm/config_json_out.h"
#include "vmm/vm.h"

#define PAGE 4096u
#define MEM_KIND_FULL 1u
#define MEM_KIND_DIFF 2u

/* ---- Taking a snapshot. ---- */

static int save_config(struct vm *vm, struct snap_writer *w, struct err *e)
{
	json_t *j = config_to_json(vm->cfg);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!text)
		return errf(e, -ENOMEM, "out of memory");
	snap_section_begin(w, SNAP_SEC_CONFIG, 0);
	snap_put(w, text, strlen(text));
	snap_section_end(w);
	free(text);
	return 0;
}

static void save_memory_layout(struct vm *vm, struct snap_writer *w, uint32_t kind)
{
	snap_section_begin(w, SNAP_SEC_MEMORY, 0);
	snap_put_u32(w, kind);
	snap_put_u32(w, PAGE);
	snap_put_u64(w, vm->mem.total);
	snap_put_u32(w, vm->mem.nregions);
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		snap_put_u64(w, vm->mem.regions[i].gpa);
		snap_put_u64(w, vm->mem.regions[i].size);
		snap_put_u64(w, vm->mem.regions[i].offset);
	}
	snap_section_end(w);
}

static int save_devices(struct vm *vm, struct snap_writer *w, struct err *e)
{
	int r = 0;

	for (unsigned i = 0; r == 0 && i < vm->ndevices; i++) {
		const struct vm_device *d = &vm->devices[i];

		if (!d->desc->save || !d->state)
			continue;
		snap_section_begin(w, SNAP_SEC_DEVICE, i);
		snap_put_str(w, d->desc->name);
		r = d->desc->save(vm, d->state, w, e);
		snap_section_end(w);
		if (r < 0)
			errprefix(e, r, d->desc->name);
	}
	for (unsigned s = 0; r == 0 && s < vm->virtio_slots; s++) {
		if (!vm->virtio[s])
			continue;
		snap_section_begin(w, SNAP_SEC_VIRTIO, s);
		r = virtio_save(vm->virtio[s], w, e);
		snap_section_end(w);
		if (r < 0)
			errprefix(e, r, vm->virtio[s]->name);
	}
	return r;
}

/* The in-kernel irqchips (PIC master, slave, IOAPIC), PIT and clock. */
static int save_platform(struct vm *vm, struct snap_writer *w, struct err *e)
{
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock = { 0 };

	for (uint32_t id = 0; id < 3; id++) {
		struct kvm_irqchip chip = { .chip_id = id };

		if (ioctl(vm->kvm.vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
			return errf(e, -errno, "KVM_GET_IRQCHIP %u: %s", id, strerror(errno));
		snap_section_begin(w, SNAP_SEC_IRQCHIP, id);
		snap_put(w, &chip, sizeof(chip));
		snap_section_end(w);
	}
	/* No PIT yet (the guest never touched it): nothing to save. */
	if (ioctl(vm->kvm.vm_fd, KVM_GET_PIT2, &pit) == 0) {
		snap_section_begin(w, SNAP_SEC_PIT, 0);
		snap_put(w, &pit, sizeof(pit));
		snap_section_end(w);
	} else if (errno != ENXIO && errno != ENOENT && errno != EINVAL) {
		return errf(e, -errno, "KVM_GET_PIT2: %s", strerror(errno));
	}
	if (ioctl(vm->kvm.vm_fd, KVM_GET_CLOCK, &clock) < 0)
		return errf(e, -errno, "KVM_GET_CLOCK: %s", strerror(errno));
	snap_section_begin(w, SNAP_SEC_CLOCK, 0);
	snap_put_u64(w, clock.clock);
	snap_put_u32(w, clock.flags);
	snap_section_end(w);
	return 0;
}

static int save_vcpus(struct vm *vm, struct snap_writer *w, struct err *e)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		int r;

		snap_section_begin(w, SNAP_SEC_VCPU, i);
		r = vcpu_save(&vm->vcpus[i], w, e);
		snap_section_end(w);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[PAGE];

	return memcmp(p, zero, PAGE) == 0;
}

/* Write (len) bytes at (off), all of them. 0 or -errno. */
static int pwrite_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/*
 * Write pages [first, last) of RAM that are set in (bitmap) (all when NULL)
 * and, for a full snapshot, not zero: runs of them in one pwrite each.
 */
static int write_pages(const struct gmem *m, int fd, uint64_t first, uint64_t last,
		       const uint64_t *bitmap)
{
	uint64_t run = UINT64_MAX;

	for (uint64_t pg = first; pg <= last; pg++) {
		bool want = pg < last &&
			    (bitmap ? (bitmap[pg / 64] >> (pg % 64) & 1) : !page_is_zero(m->host + pg * PAGE));

		if (want && run == UINT64_MAX)
			run = pg;
		if (!want && run != UINT64_MAX) {
			int r = pwrite_all(fd, m->host + run * PAGE, (pg - run) * PAGE, (off_t)(run * PAGE));

			if (r < 0)
				return r;
			run = UINT64_MAX;
		}
	}
	return 0;
}

/*
 * Guest RAM into the open, empty file (fd): a file as long as RAM whose holes
 * are zero (full) or not part of the diff. A memfd's holes are skipped
 * without reading them (reading would allocate them).
 */
static int write_memory(const struct gmem *m, int fd, const uint64_t *bitmap)
{
	uint64_t pages = m->total / PAGE;
	int r;

	if (ftruncate(fd, (off_t)m->total) < 0)
		return -errno;
	if (bitmap || m->fd < 0)
		return write_pages(m, fd, 0, pages, bitmap);
	for (off_t pos = 0; (uint64_t)pos < m->total;) {
		off_t data = lseek(m->fd, pos, SEEK_DATA), hole;

		if (data < 0)
			return errno == ENXIO ? 0 : -errno;
		hole = lseek(m->fd, data, SEEK_HOLE);
		if (hole < 0)
			hole = (off_t)m->total;
		r = write_pages(m, fd, (uint64_t)data / PAGE, ((uint64_t)hole + PAGE - 1) / PAGE, NULL);
		if (r < 0)
			return r;
		pos = hole;
	}
	return 0;
}

/* Put the pages of (bitmap) back into the dirty record (a failed snapshot must not lose them). */
static void put_back_dirty(const struct gmem *m, const uint64_t *bitmap)
{
	for (uint64_t pg = 0; pg < m->total / PAGE; pg++)
		if (bitmap[pg / 64] >> (pg % 64) & 1)
			gmem_mark_dirty_offset(m, pg * PAGE);
}

/* Everything but memory, into (w), with the I/O thread parked. */
static int save_state(struct vm *vm, struct snap_writer *w, uint32_t kind, struct err *e)
{
	int r = 0;

	for (unsigned s = 0; r == 0 && s < vm->virtio_slots; s++)
		if (vm->virtio[s])
			r = virtio_quiesce(vm->virtio[s], e);
	if (r == 0)
		r = save_config(vm, w, e);
	if (r == 0) {
		save_memory_layout(vm, w, kind);
		r = save_devices(vm, w, e);
	}
	if (r == 0)
		r = save_platform(vm, w, e);
	if (r == 0)
		r = save_vcpus(vm, w, e);
	return r;
}

int snapshot_create(struct vm *vm, enum snapshot_type type, const char *state_path,
		    const char *mem_path, struct err *e)
{
	size_t words = (size_t)((vm->mem.total / PAGE + 63) / 64);
	uint64_t *dirty = NULL;
	struct snap_writer w;
	const uint8_t *bytes;
	size_t nbytes;
	char *tmp = NULL;
	int fd = -1, r;

	if (!vm_paused(vm))
		return errf(e, -EBUSY, "the microVM must be paused before a snapshot (PATCH /vm Paused)");
	if (type == SNAPSHOT_DIFF && !vm->cfg->track_dirty_pages)
		return errf(e, -EINVAL, "diff snapshots need dirty page tracking "
			    "(machine-config track_dirty_pages, or enable_diff_snapshots on load)");
	snap_writer_init(&w);
	loop_pause(&vm->loop);
	r = save_state(vm, &w, type == SNAPSHOT_DIFF ? MEM_KIND_DIFF : MEM_KIND_FULL, e);
	if (r == 0)
		r = snap_writer_finish(&w, &bytes, &nbytes, e);
	/* Take the dirty pages now: the next diff starts from this snapshot. */
	if (r == 0 && vm->cfg->track_dirty_pages) {
		dirty = calloc(words ? words : 1, sizeof(uint64_t));
		if (!dirty)
			r = errf(e, -ENOMEM, "out of memory");
		if (r == 0)
			r = kvm_take_dirty(&vm->kvm, &vm->mem, dirty, e);
		if (r == 0)
			gmem_take_dirty(&vm->mem, dirty);
	}
	if (r == 0) {
		fd = snap_tmp_open(mem_path, &tmp, e);
		r = fd < 0 ? fd : 0;
	}
	if (r == 0) {
		r = write_memory(&vm->mem, fd, type == SNAPSHOT_DIFF ? dirty : NULL);
		if (r == 0 && fsync(fd) < 0)
			r = -errno;
		if (r < 0)
			errf(e, r, "%s: %s", mem_path, strerror(-r));
	}
	if (r == 0)
		r = snap_write_file_atomic(state_path, bytes, nbytes, e);
	if (r == 0)
		r = snap_tmp_commit(tmp, mem_path, e);
	if (fd >= 0)
		close(fd);
	if (r < 0 && tmp)
		unlink(tmp);
	if (r < 0 && dirty)
		put_back_dirty(&vm->mem, dirty);
	loop_resume(&vm->loop);
	free(tmp);
	free(dirty);
	snap_writer_free(&w);
	if (r == 0)
		log_info("snapshot", "%s snapshot: %s, %s", type == SNAPSHOT_DIFF ? "diff" : "full",
			 state_path, mem_path);
	return r;
}

/* ---- Restoring. ---- */

static int find_section(const struct snap_reader *rd, uint32_t tag, uint32_t instance,
			struct snap_cursor *c, const char *what, struct err *e)
{
	if (!snap_find(rd, tag, instance, c))
		return errf(e, -EINVAL, "the state file has no %s", what);
	return 0;
}

static int load_config(struct snapshot_load *ld, struct err *e)
{
	struct snap_cursor c;
	char *text;
	int r = find_section(&ld->rd, SNAP_SEC_CONFIG, 0, &c, "configuration", e);

	if (r < 0)
		return r;
	text = strndup((const char *)c.p, c.left);
	if (!text)
		return errf(e, -ENOMEM, "out of memory");
	r = config_parse_json(&ld->cfg, text, e);
	free(text);
	if (r < 0)
		errprefix(e, r, "the state file's configuration");
	return r;
}

static int apply_overrides(struct snapshot_load *ld, struct err *e)
{
	const struct snapshot_load_args *a = &ld->args;
	struct vm_config *c = &ld->cfg;
	int r = 0;

	for (unsigned i = 0; r == 0 && i < a->nnet; i++) {
		unsigned k = 0;

		while (k < c->nnets && strcmp(c->nets[k].id, a->net[i].id) != 0)
			k++;
		if (k == c->nnets)
			return errf(e, -EINVAL, "network override: the snapshot has no interface '%s'",
				    a->net[i].id);
		r = config_set_string(&c->nets[k].tap, a->net[i].value, e);
	}
	for (unsigned i = 0; r == 0 && i < a->ndrive; i++) {
		unsigned k = 0;

		while (k < c->ndrives && strcmp(c->drives[k].id, a->drive[i].id) != 0)
			k++;
		if (k == c->ndrives)
			return errf(e, -EINVAL, "drive override: the snapshot has no drive '%s'",
				    a->drive[i].id);
		r = config_set_string(&c->drives[k].path, a->drive[i].value, e);
	}
	if (r == 0 && a->vsock_uds) {
		if (!c->vsock.enabled)
			return errf(e, -EINVAL, "vsock override: the snapshot has no vsock device");
		r = config_set_string(&c->vsock.uds_path, a->vsock_uds, e);
	}
	if (a->track_dirty_pages)
		c->track_dirty_pages = true;
	return r;
}

/* The memory section against the config and the memory file. */
static int check_memory(struct snapshot_load *ld, struct err *e)
{
	struct snap_cursor c;
	uint32_t kind, page, nregions;
	uint64_t total;
	struct stat st;
	int r = find_section(&ld->rd, SNAP_SEC_MEMORY, 0, &c, "memory layout", e);

	if (r < 0)
		return r;
	kind = snap_get_u32(&c);
	page = snap_get_u32(&c);
	total = snap_get_u64(&c);
	nregions = snap_get_u32(&c);
	for (uint32_t i = 0; i < nregions && i < GMEM_MAX_REGIONS; i++) {
		snap_get_u64(&c);
		snap_get_u64(&c);
		snap_get_u64(&c);
	}
	r = snap_cursor_done(&c, "memory layout", e);
	if (r < 0)
		return r;
	if (kind != MEM_KIND_FULL && kind != MEM_KIND_DIFF)
		return errf(e, -EINVAL, "the state file's memory kind %u is unknown", kind);
	if (page != PAGE || nregions == 0 || nregions > GMEM_MAX_REGIONS)
		return errf(e, -EINVAL, "the state file's memory layout is malformed");
	if (total != ld->cfg.mem_mib << 20)
		return errf(e, -EINVAL, "the state file's memory (%" PRIu64 " bytes) does not match "
			    "its configuration (%" PRIu64 " MiB)", total, ld->cfg.mem_mib);
	if (kind == MEM_KIND_DIFF)
		log_info("snapshot", "%s is a diff snapshot: its memory file must have been merged "
			 "onto its base (lodge snapshot merge)", ld->args.state_path);
	ld->mem_size = total;
	if (ld->args.backend == SNAPSHOT_MEM_UFFD)
		return 0;       /* the external handler owns the memory file */
	if (!ld->args.mem_path)
		return errf(e, -EINVAL, "no memory file given");
	ld->mem_fd = open(ld->args.mem_path, O_RDONLY | O_CLOEXEC);
	if (ld->mem_fd < 0)
		return errf(e, -errno, "memory file %s: %s", ld->args.mem_path, strerror(errno));
	if (fstat(ld->mem_fd, &st) < 0 || !S_ISREG(st.st_mode))
		return errf(e, -EINVAL, "memory file %s: not a regular file", ld->args.mem_path);
	if ((uint64_t)st.st_size != total)
		return errf(e, -EINVAL, "memory file %s: %" PRIu64 " bytes, the snapshot's guest "
			    "RAM is %" PRIu64 " (wrong or truncated file)", ld->args.mem_path,
			    (uint64_t)st.st_size, total);
	return 0;
}

int snapshot_load_open(struct snapshot_load *ld, const struct snapshot_load_args *a,
		       struct err *e)
{
	int r;

	memset(ld, 0, sizeof(*ld));
	ld->mem_fd = -1;
	ld->uffd = -1;
	ld->uffd_sock = -1;
	ld->args = *a;
	config_init(&ld->cfg);
	if (getenv("LODGE_KVM_DEVICE"))
		config_set_string(&ld->cfg.kvm_path, getenv("LODGE_KVM_DEVICE"), NULL);
	r = snap_reader_open(&ld->rd, a->state_path, e);
	if (r < 0)
		return r;
	r = load_config(ld, e);
	if (r == 0)
		r = apply_overrides(ld, e);
	if (r == 0)
		r = check_memory(ld, e);
	if (r == 0 && snap_count(&ld->rd, SNAP_SEC_VCPU) != ld->cfg.vcpus)
		r = errf(e, -EINVAL, "the state file has %u vCPU sections for %u vCPUs",
			 snap_count(&ld->rd, SNAP_SEC_VCPU), ld->cfg.vcpus);
	return r;
}

/* vm_create's memory step for a restore: guest RAM from the snapshot. */
static int make_memory(struct vm *vm, void *arg, struct err *e)
{
	struct snapshot_load *ld = arg;
	int r;

	if (ld->args.backend == SNAPSHOT_MEM_FILE) {
		r = gmem_init_private(&vm->mem, ld->mem_size, ld->mem_fd);
		if (r < 0)
			return errf(e, r, "memory file %s: %s", ld->args.mem_path, strerror(-r));
		return 0;
	}
	r = gmem_init_private(&vm->mem, ld->mem_size, -1);
	if (r < 0)
		return errf(e, r, "guest memory: %s", strerror(-r));
	r = uffd_register(&vm->mem, &ld->uffd, e);
	if (r < 0)
		return r;
	if (ld->args.backend == SNAPSHOT_MEM_UFFD)
		return uffd_send(&vm->mem, ld->uffd, ld->args.uffd_socket, &ld->uffd_sock, e);
	return uffd_server_start(&ld->uffd_self, ld->uffd, ld->mem_fd, &vm->mem, e);
}

static int restore_devices(struct vm *vm, const struct snap_reader *rd, struct err *e)
{
	unsigned have = 0, nvirtio = 0;
	int r = 0;

	for (unsigned i = 0; r == 0 && i < vm->ndevices; i++) {
		const struct vm_device *d = &vm->devices[i];
		struct snap_cursor c;
		char name[64];

		if (!d->desc->restore || !d->state)
			continue;
		have++;
		if (!snap_find(rd, SNAP_SEC_DEVICE, i, &c))
			return errf(e, -EINVAL, "the state file has no state for device %s", d->desc->name);
		if (snap_get_str(&c, name, sizeof(name)) < 0 || strcmp(name, d->desc->name) != 0)
			return errf(e, -EINVAL, "the state file's device %u is not %s", i, d->desc->name);
		r = d->desc->restore(vm, d->state, &c, e);
		if (r == 0)
			r = snap_cursor_done(&c, d->desc->name, e);
		if (r < 0)
			errprefix(e, r, d->desc->name);
	}
	if (r == 0 && snap_count(rd, SNAP_SEC_DEVICE) != have)
		return errf(e, -EINVAL, "the state file has %u device sections, this VM %u devices",
			    snap_count(rd, SNAP_SEC_DEVICE), have);
	for (unsigned s = 0; r == 0 && s < vm->virtio_slots; s++) {
		struct snap_cursor c;

		if (!vm->virtio[s])
			continue;
		nvirtio++;
		if (!snap_find(rd, SNAP_SEC_VIRTIO, s, &c))
			return errf(e, -EINVAL, "the state file has no state for %s", vm->virtio[s]->name);
		r = virtio_restore(vm->virtio[s], &c, e);
		if (r == 0)
			r = snap_cursor_done(&c, vm->virtio[s]->name, e);
		if (r < 0)
			errprefix(e, r, vm->virtio[s]->name);
	}
	if (r == 0 && snap_count(rd, SNAP_SEC_VIRTIO) != nvirtio)
		return errf(e, -EINVAL, "the state file has %u virtio devices, this VM %u",
			    snap_count(rd, SNAP_SEC_VIRTIO), nvirtio);
	return r;
}

/* A section that must hold exactly one (len)-byte KVM structure. */
static int fixed_section(const struct snap_reader *rd, uint32_t tag, uint32_t instance,
			 void *dst, size_t len, const char *what, struct err *e)
{
	struct snap_cursor c;

	if (!snap_find(rd, tag, instance, &c))
		return errf(e, -EINVAL, "the state file has no %s", what);
	snap_get(&c, dst, len);
	return snap_cursor_done(&c, what, e);
}

static int restore_platform(struct vm *vm, const struct snap_reader *rd, struct err *e)
{
	struct kvm_pit_state2 pit;
	struct snap_cursor c;
	struct kvm_clock_data clock = { 0 };
	int r = 0;

	for (uint32_t id = 0; r == 0 && id < 3; id++) {
		struct kvm_irqchip chip;

		r = fixed_section(rd, SNAP_SEC_IRQCHIP, id, &chip, sizeof(chip), "irqchip state", e);
		if (r == 0 && chip.chip_id != id)
			r = errf(e, -EINVAL, "the state file's irqchip %u says it is chip %u", id,
				 chip.chip_id);
		if (r == 0 && ioctl(vm->kvm.vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
			r = errf(e, -errno, "KVM_SET_IRQCHIP %u: %s", id, strerror(errno));
	}
	if (r == 0 && snap_find(rd, SNAP_SEC_PIT, 0, &c)) {
		r = fixed_section(rd, SNAP_SEC_PIT, 0, &pit, sizeof(pit), "PIT state", e);
		if (r == 0 && ioctl(vm->kvm.vm_fd, KVM_SET_PIT2, &pit) < 0)
			r = errf(e, -errno, "KVM_SET_PIT2: %s", strerror(errno));
	}
	for (unsigned i = 0; r == 0 && i < vm->ncpus; i++) {
		if (!snap_find(rd, SNAP_SEC_VCPU, i, &c))
			return errf(e, -EINVAL, "the state file has no vCPU %u", i);
		r = vcpu_restore(&vm->vcpus[i], &c, e);
	}
	if (r == 0 && !snap_find(rd, SNAP_SEC_CLOCK, 0, &c))
		r = errf(e, -EINVAL, "the state file has no clock");
	if (r == 0) {
		clock.clock = snap_get_u64(&c);
		snap_get_u32(&c);
		r = snap_cursor_done(&c, "clock", e);
	}
	if (r == 0 && ioctl(vm->kvm.vm_fd, KVM_SET_CLOCK, &clock) < 0)
		r = errf(e, -errno, "KVM_SET_CLOCK: %s", strerror(errno));
	return r;
}

/* vm_create's last step for a restore: every saved state into the new VM. */
static int apply_state(struct vm *vm, void *arg, struct err *e)
{
	struct snapshot_load *ld = arg;
	int r = restore_devices(vm, &ld->rd, e);

	if (r == 0)
		r = restore_platform(vm, &ld->rd, e);
	if (r == 0)
		vmgenid_restored(vm);
	return r;
}

int snapshot_load_vm(struct vm *vm, struct snapshot_load *ld, const struct vm_config *cfg,
		     struct err *e)
{
	const struct vm_restore rs = { .make_memory = make_memory, .apply = apply_state, .arg = ld,
				       .kvm = ld->kvm };
	int r = vm_create_restored(vm, cfg, &rs, e);

	if (r == 0)
		log_info("snapshot", "restored %s (%s memory)", ld->args.state_path,
			 ld->args.backend == SNAPSHOT_MEM_FILE ? "file" : "userfaultfd");
	return r;
}

void snapshot_load_close(struct snapshot_load *ld)
{
	uffd_server_stop(ld->uffd_self);
	ld->uffd_self = NULL;
	if (ld->uffd >= 0)
		close(ld->uffd);
	if (ld->uffd_sock >= 0)
		close(ld->uffd_sock);
	ld->uffd_sock = -1;
	if (ld->mem_fd >= 0)
		close(ld->mem_fd);
	ld->uffd = ld->mem_fd = -1;
	snap_reader_free(&ld->rd);
	config_free(&ld->cfg);
}

/* ---- Offline tools. ---- */

/* Copy [off, off+len) from (in) to (out) at the same offset. 0 or -errno. */
static int copy_range(int in, int out, off_t off, off_t len)
{
	static uint8_t buf[1 << 20];

	while (len > 0) {
		ssize_t n = pread(in, buf, (size_t)(len < (off_t)sizeof(buf) ? len : (off_t)sizeof(buf)), off);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		r = pwrite_all(out, buf, (size_t)n, off);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

/* Copy the data extents of (in) onto (out) (holes are left alone). 0 or -errno. */
static int copy_extents(int in, int out, off_t size)
{
	for (off_t pos = 0; pos < size;) {
		off_t data = lseek(in, pos, SEEK_DATA), hole;
		int r;

		if (data < 0)
			return errno == ENXIO ? 0 : -errno;
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0 || hole > size)
			hole = size;
		r = copy_range(in, out, data, hole - data);
		if (r < 0)
			return r;
		pos = hole;
	}
	return 0;
}

int snapshot_merge(const char *base_mem, const char *diff_mem, struct err *e)
{
	struct stat bs, ds;
	char *tmp = NULL;
	int base = open(base_mem, O_RDONLY | O_CLOEXEC), diff = -1, out = -1, r = 0;

	if (base < 0)
		return errf(e, -errno, "%s: %s", base_mem, strerror(errno));
	diff = open(diff_mem, O_RDONLY | O_CLOEXEC);
	if (diff < 0)
		r = errf(e, -errno, "%s: %s", diff_mem, strerror(errno));
	if (r == 0 && (fstat(base, &bs) < 0 || fstat(diff, &ds) < 0))
		r = errf(e, -errno, "stat: %s", strerror(errno));
	if (r == 0 && bs.st_size != ds.st_size)
		r = errf(e, -EINVAL, "%s is %lld bytes, %s %lld: not layers of one guest", diff_mem,
			 (long long)ds.st_size, base_mem, (long long)bs.st_size);
	/* The merge is written beside the base and renamed over it: a failure leaves the base whole. */
	if (r == 0) {
		out = snap_tmp_open(base_mem, &tmp, e);
		r = out < 0 ? out : 0;
	}
	if (r == 0 && ftruncate(out, bs.st_size) < 0)
		r = -errno;
	if (r == 0)
		r = copy_extents(base, out, bs.st_size);
	if (r == 0)
		r = copy_extents(diff, out, ds.st_size);
	if (r == 0 && fsync(out) < 0)
		r = -errno;
	if (r == 0)
		r = snap_tmp_commit(tmp, base_mem, e);
	if (r < 0 && !e->msg[0])
		errf(e, r, "merging %s onto %s: %s", diff_mem, base_mem, strerror(-r));
	if (r < 0 && tmp)
		unlink(tmp);
	free(tmp);
	if (out >= 0)
		close(out);
	if (diff >= 0)
		close(diff);
	close(base);
	return r;
}

int snapshot_info(const char *state_path, struct err *e)
{
	struct snap_reader rd;
	struct snap_cursor c;
	int r = snap_reader_open(&rd, state_path, e);

	if (r < 0)
		return r;
	printf("%s: lodge state file, format %u, %u sections\n", state_path, rd.version,
	       rd.nsections);
	for (uint32_t i = 0; i < rd.nsections; i++) {
		char tag[5];

		printf("  %s/%u: %" PRIu64 " bytes\n", snap_tag_name(rd.sections[i].tag, tag),
		       rd.sections[i].instance, rd.sections[i].len);
	}
	if (snap_find(&rd, SNAP_SEC_CONFIG, 0, &c))
		printf("config: %.*s\n", (int)c.left, (const char *)c.p);
	if (snap_find(&rd, SNAP_SEC_MEMORY, 0, &c)) {
		uint32_t kind = snap_get_u32(&c);

		snap_get_u32(&c);
		printf("memory: %s, %" PRIu64 " bytes\n", kind == MEM_KIND_DIFF ? "diff" : "full",
		       snap_get_u64(&c));
	}
	snap_reader_free(&rd);
	return 0;
}
