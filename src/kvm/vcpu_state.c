/*
 * A vCPU's whole architectural state for snapshots (docs/SNAPSHOTS.md):
 * saved as a list of records (u32 id, u32 length, bytes) inside the
 * vCPU's section, each a KVM ABI structure of a fixed size, so a reader
 * can check every record's length before it touches the contents.
 *
 * Restore order follows what KVM needs: CPUID before anything (it sizes
 * XSAVE and decides which MSRs exist), special registers before MSRs
 * (EFER, APIC base), MSRs before the LAPIC, the TSC deadline again after
 * the LAPIC (KVM ignores it while the timer is not in deadline mode),
 * events last.
 */
#include "kvm/vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm/cpuid.h"
#include "snapshot/format.h"
#include "util/log.h"
#include "vmm/vm.h"

enum vcpu_rec {
	REC_CPUID = 1,          /* u32 nent, then nent struct kvm_cpuid_entry2 */
	REC_REGS,               /* struct kvm_regs */
	REC_SREGS,              /* struct kvm_sregs */
	REC_SREGS2,             /* struct kvm_sregs2 (with PDPTRs), when KVM has it */
	REC_XSAVE,              /* the XSAVE area, KVM_GET_XSAVE2's size (>= 4096) */
	REC_XCRS,               /* struct kvm_xcrs */
	REC_MSRS,               /* u32 n, then n (u32 index, u32 pad, u64 value) */
	REC_LAPIC,              /* struct kvm_lapic_state */
	REC_EVENTS,             /* struct kvm_vcpu_events */
	REC_DEBUGREGS,          /* struct kvm_debugregs */
	REC_MPSTATE,            /* struct kvm_mp_state */
	REC_TSC_KHZ,            /* u32 */
	REC_MAX
};

#define VCPU_MAX_MSRS 1024

static const char *const rec_names[REC_MAX] = {
	[REC_CPUID] = "CPUID", [REC_REGS] = "registers", [REC_SREGS] = "special registers",
	[REC_SREGS2] = "special registers", [REC_XSAVE] = "XSAVE area", [REC_XCRS] = "XCRs",
	[REC_MSRS] = "MSRs", [REC_LAPIC] = "LAPIC", [REC_EVENTS] = "vCPU events",
	[REC_DEBUGREGS] = "debug registers", [REC_MPSTATE] = "MP state", [REC_TSC_KHZ] = "TSC rate",
};

static void put_rec(struct snap_writer *w, uint32_t id, const void *data, size_t len)
{
	snap_put_u32(w, id);
	snap_put_u32(w, (uint32_t)len);
	snap_put(w, data, len);
}

/* The XSAVE area's size on this host: KVM_CAP_XSAVE2's answer, at least the legacy 4096. */
static size_t xsave_size(const struct vcpu *c)
{
	int n = kvm_check_cap(&c->vm->kvm, KVM_CAP_XSAVE2);

	return n > (int)sizeof(struct kvm_xsave) ? (size_t)n : sizeof(struct kvm_xsave);
}

/* The MSRs KVM saves and restores: KVM_GET_MSR_INDEX_LIST. (*out) is malloc'd. */
static int msr_index_list(const struct vcpu *c, uint32_t **out, unsigned *n, struct err *e)
{
	struct kvm_msr_list probe = { 0 }, *list;

	if (ioctl(c->vm->kvm.sys_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return errf(e, -errno, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
	if (probe.nmsrs > VCPU_MAX_MSRS)
		return errf(e, -E2BIG, "KVM lists %u MSRs", probe.nmsrs);
	list = malloc(sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	if (!list)
		return errf(e, -ENOMEM, "out of memory");
	list->nmsrs = probe.nmsrs;
	if (ioctl(c->vm->kvm.sys_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return errf(e, -errno, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
	}
	*n = list->nmsrs;
	*out = malloc((*n ? *n : 1) * sizeof(uint32_t));
	if (*out)
		memcpy(*out, list->indices, *n * sizeof(uint32_t));
	free(list);
	return *out ? 0 : errf(e, -ENOMEM, "out of memory");
}

/*
 * Read every listed MSR this vCPU has. KVM_GET_MSRS stops at the first one
 * it refuses (an MSR of a feature the CPUID hides): skip it and go on.
 */
static int save_msrs(struct vcpu *c, struct snap_writer *w, struct err *e)
{
	uint32_t *idx = NULL;
	unsigned n = 0, got = 0;
	struct kvm_msr_entry *out;
	struct kvm_msrs *m;
	int r = msr_index_list(c, &idx, &n, e);

	if (r < 0)
		return r;
	m = calloc(1, sizeof(*m) + n * sizeof(struct kvm_msr_entry));
	out = calloc(n ? n : 1, sizeof(*out));
	if (!m || !out) {
		r = errf(e, -ENOMEM, "out of memory");
		n = 0;
	}
	for (unsigned i = 0; i < n;) {
		int k;

		m->nmsrs = n - i;
		for (unsigned j = 0; j < n - i; j++)
			m->entries[j] = (struct kvm_msr_entry){ .index = idx[i + j] };
		k = ioctl(c->fd, KVM_GET_MSRS, m);
		if (k < 0) {
			r = errf(e, -errno, "vCPU %u: KVM_GET_MSRS: %s", c->id, strerror(errno));
			break;
		}
		memcpy(out + got, m->entries, (size_t)k * sizeof(*out));
		got += (unsigned)k;
		i += (unsigned)k;
		if (i < n) {
			log_debug("snapshot", "vCPU %u: MSR 0x%x not readable, not saved", c->id, idx[i]);
			i++;
		}
	}
	if (r == 0) {
		snap_put_u32(w, REC_MSRS);
		snap_put_u32(w, 4 + got * 16);
		snap_put_u32(w, got);
		for (unsigned i = 0; i < got; i++) {
			snap_put_u32(w, out[i].index);
			snap_put_u32(w, 0);
			snap_put_u64(w, out[i].data);
		}
	}
	free(out);
	free(m);
	free(idx);
	return r;
}

/* Read one fixed-size structure with (req) and store it as record (id). */
static int save_fixed(struct vcpu *c, struct snap_writer *w, uint32_t id, unsigned long req,
		      void *buf, size_t len, const char *what, struct err *e)
{
	if (ioctl(c->fd, req, buf) < 0)
		return errf(e, -errno, "vCPU %u: %s: %s", c->id, what, strerror(errno));
	put_rec(w, id, buf, len);
	return 0;
}

int vcpu_save(struct vcpu *c, struct snap_writer *w, struct err *e)
{
	struct cpuid_table *cpuid = calloc(1, sizeof(*cpuid));
	size_t xs = xsave_size(c);
	void *xsave = calloc(1, xs);
	union {
		struct kvm_regs regs;
		struct kvm_sregs sregs;
		struct kvm_sregs2 sregs2;
		struct kvm_xcrs xcrs;
		struct kvm_lapic_state lapic;
		struct kvm_vcpu_events events;
		struct kvm_debugregs dregs;
		struct kvm_mp_state mp;
	} u;
	uint32_t khz;
	int r = 0;

	if (!cpuid || !xsave) {
		r = errf(e, -ENOMEM, "out of memory");
		goto out;
	}
	cpuid->hdr.nent = CPUID_MAX_ENTRIES;
	if (ioctl(c->fd, KVM_GET_CPUID2, &cpuid->hdr) < 0) {
		r = errf(e, -errno, "vCPU %u: KVM_GET_CPUID2: %s", c->id, strerror(errno));
		goto out;
	}
	snap_put_u32(w, REC_CPUID);
	snap_put_u32(w, 4 + cpuid->hdr.nent * (uint32_t)sizeof(struct kvm_cpuid_entry2));
	snap_put_u32(w, cpuid->hdr.nent);
	snap_put(w, cpuid->entries, cpuid->hdr.nent * sizeof(struct kvm_cpuid_entry2));

	r = save_fixed(c, w, REC_REGS, KVM_GET_REGS, &u.regs, sizeof(u.regs), "KVM_GET_REGS", e);
	if (r == 0 && kvm_check_cap(&c->vm->kvm, KVM_CAP_SREGS2) > 0)
		r = save_fixed(c, w, REC_SREGS2, KVM_GET_SREGS2, &u.sregs2, sizeof(u.sregs2),
			       "KVM_GET_SREGS2", e);
	else if (r == 0)
		r = save_fixed(c, w, REC_SREGS, KVM_GET_SREGS, &u.sregs, sizeof(u.sregs),
			       "KVM_GET_SREGS", e);
	if (r == 0) {
		unsigned long req = xs > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;

		r = save_fixed(c, w, REC_XSAVE, req, xsave, xs, "KVM_GET_XSAVE", e);
	}
	if (r == 0)
		r = save_fixed(c, w, REC_XCRS, KVM_GET_XCRS, &u.xcrs, sizeof(u.xcrs), "KVM_GET_XCRS", e);
	if (r == 0)
		r = save_msrs(c, w, e);
	if (r == 0)
		r = save_fixed(c, w, REC_LAPIC, KVM_GET_LAPIC, &u.lapic, sizeof(u.lapic),
			       "KVM_GET_LAPIC", e);
	if (r == 0)
		r = save_fixed(c, w, REC_EVENTS, KVM_GET_VCPU_EVENTS, &u.events, sizeof(u.events),
			       "KVM_GET_VCPU_EVENTS", e);
	if (r == 0)
		r = save_fixed(c, w, REC_DEBUGREGS, KVM_GET_DEBUGREGS, &u.dregs, sizeof(u.dregs),
			       "KVM_GET_DEBUGREGS", e);
	if (r == 0)
		r = save_fixed(c, w, REC_MPSTATE, KVM_GET_MP_STATE, &u.mp, sizeof(u.mp),
			       "KVM_GET_MP_STATE", e);
	if (r == 0) {
		int k = ioctl(c->fd, KVM_GET_TSC_KHZ, 0);

		khz = k > 0 ? (uint32_t)k : 0;
		put_rec(w, REC_TSC_KHZ, &khz, sizeof(khz));
	}
out:
	free(cpuid);
	free(xsave);
	return r;
}

/* ---- Restore. ---- */

struct vcpu_recs {
	const uint8_t *p[REC_MAX];
	uint32_t len[REC_MAX];
};

/* Split the section into records; each known id at most once, unknown ids refused. */
static int parse_recs(struct vcpu *c, struct snap_cursor *cur, struct vcpu_recs *v, struct err *e)
{
	memset(v, 0, sizeof(*v));
	while (cur->left > 0 && !cur->error) {
		uint32_t id = snap_get_u32(cur), len = snap_get_u32(cur);
		const uint8_t *p = snap_get_ptr(cur, len);

		if (!p)
			break;
		if (id == 0 || id >= REC_MAX)
			return errf(e, -EINVAL, "vCPU %u state: unknown record %u", c->id, id);
		if (v->p[id])
			return errf(e, -EINVAL, "vCPU %u state: %s twice", c->id, rec_names[id]);
		v->p[id] = p;
		v->len[id] = len;
	}
	return snap_cursor_done(cur, "vCPU state", e);
}

/* Record (id) must be there with exactly (len) bytes. */
static int need(struct vcpu *c, const struct vcpu_recs *v, unsigned id, size_t len, struct err *e)
{
	if (!v->p[id])
		return errf(e, -EINVAL, "vCPU %u state: no %s", c->id, rec_names[id]);
	if (v->len[id] != len)
		return errf(e, -EINVAL, "vCPU %u state: %s of %u bytes, expected %zu", c->id,
			    rec_names[id], v->len[id], len);
	return 0;
}

/* Feature words the host must offer for a snapshot's CPUID to run here. */
static const struct {
	uint32_t function, index;
	uint8_t reg;            /* 0 eax, 1 ebx, 2 ecx, 3 edx */
	uint32_t ignore;        /* bits KVM or the OS control, not the hardware */
} cpu_words[] = {
	{ 1, 0, 2, (1u << 27) | (1u << 31) | (1u << 24) },  /* OSXSAVE, hypervisor, TSC-deadline (emulated) */
	{ 1, 0, 3, 0 },
	{ 7, 0, 1, 0 },
	{ 7, 0, 2, 1u << 4 },                                /* OSPKE follows CR4 */
	{ 7, 0, 3, 0 },
	{ 0xd, 0, 0, 0 },                                    /* XCR0 components */
	{ 0xd, 1, 0, 0 },
	{ 0x80000001, 0, 2, 0 },
	{ 0x80000001, 0, 3, 0 },
};

static uint32_t entry_reg(const struct kvm_cpuid_entry2 *x, unsigned reg)
{
	return reg == 0 ? x->eax : reg == 1 ? x->ebx : reg == 2 ? x->ecx : x->edx;
}

/*
 * Can this host run the snapshot's CPUID? Vendor and every feature bit must
 * be in what this host gives a new vCPU: the CPUID vcpu_create set on (c)
 * from KVM's supported table, read back as KVM keeps it.
 */
static int check_cpuid(struct vcpu *c, struct cpuid_table *saved, struct err *e)
{
	static const char regs[] = "abcd";
	struct cpuid_table *host = calloc(1, sizeof(*host));
	struct kvm_cpuid_entry2 *hv, *sv;
	int r = 0;

	if (!host)
		return errf(e, -ENOMEM, "out of memory");
	host->hdr.nent = CPUID_MAX_ENTRIES;
	if (ioctl(c->fd, KVM_GET_CPUID2, &host->hdr) < 0) {
		r = errf(e, -errno, "vCPU %u: KVM_GET_CPUID2: %s", c->id, strerror(errno));
		goto out;
	}
	hv = cpuid_find(host, 0, 0);
	sv = cpuid_find(saved, 0, 0);
	if (!hv || !sv || hv->ebx != sv->ebx || hv->ecx != sv->ecx || hv->edx != sv->edx) {
		char a[13] = "", b[13] = "";

		if (sv) {
			memcpy(a, &sv->ebx, 4), memcpy(a + 4, &sv->edx, 4), memcpy(a + 8, &sv->ecx, 4);
		}
		if (hv) {
			memcpy(b, &hv->ebx, 4), memcpy(b + 4, &hv->edx, 4), memcpy(b + 8, &hv->ecx, 4);
		}
		r = errf(e, -EINVAL, "the snapshot was taken on a %s CPU, this host is %s", a, b);
		goto out;
	}
	for (size_t i = 0; i < sizeof(cpu_words) / sizeof(cpu_words[0]); i++) {
		uint32_t want, have, missing;

		sv = cpuid_find(saved, cpu_words[i].function, cpu_words[i].index);
		if (!sv)
			continue;
		hv = cpuid_find(host, cpu_words[i].function, cpu_words[i].index);
		want = entry_reg(sv, cpu_words[i].reg) & ~cpu_words[i].ignore;
		have = hv ? entry_reg(hv, cpu_words[i].reg) : 0;
		missing = want & ~have;
		if (missing) {
			r = errf(e, -EINVAL, "this host's CPU cannot run the snapshot: CPUID 0x%x.%u "
				 "e%cx bit %d is missing", cpu_words[i].function, cpu_words[i].index,
				 regs[cpu_words[i].reg], __builtin_ctz(missing));
			goto out;
		}
	}
out:
	free(host);
	return r;
}

static int set_fixed(struct vcpu *c, unsigned long req, const void *src, size_t len,
		     const char *what, struct err *e)
{
	void *buf = malloc(len);
	int r = 0;

	if (!buf)
		return errf(e, -ENOMEM, "out of memory");
	memcpy(buf, src, len);
	if (ioctl(c->fd, req, buf) < 0)
		r = errf(e, -errno, "vCPU %u: %s: %s", c->id, what, strerror(errno));
	free(buf);
	return r;
}

/* Record (id), which must be there with exactly (len) bytes, into KVM with (req). */
static int set_rec(struct vcpu *c, const struct vcpu_recs *v, unsigned id, unsigned long req,
		   size_t len, const char *what, struct err *e)
{
	int r = need(c, v, id, len, e);

	return r ? r : set_fixed(c, req, v->p[id], len, what, e);
}

/* Scale the TSC to the snapshot's rate where it differs and KVM can; warn where it cannot. */
static void restore_tsc_khz(struct vcpu *c, const struct vcpu_recs *v)
{
	uint32_t khz;
	int now;

	if (!v->p[REC_TSC_KHZ] || v->len[REC_TSC_KHZ] != 4)
		return;
	memcpy(&khz, v->p[REC_TSC_KHZ], 4);
	now = ioctl(c->fd, KVM_GET_TSC_KHZ, 0);
	if (!khz || now <= 0 || (uint32_t)now == khz)
		return;
	if (kvm_check_cap(&c->vm->kvm, KVM_CAP_TSC_CONTROL) > 0 &&
	    ioctl(c->fd, KVM_SET_TSC_KHZ, (unsigned long)khz) == 0)
		log_info("snapshot", "vCPU %u: TSC scaled to the snapshot's %u kHz", c->id, khz);
	else
		log_warn("snapshot", "vCPU %u: the snapshot's TSC ran at %u kHz, this host's at %d "
			 "kHz and KVM cannot scale it: guest time runs at a different rate", c->id,
			 khz, now);
}

static int restore_cpuid(struct vcpu *c, const struct vcpu_recs *v, struct err *e)
{
	struct cpuid_table *t;
	uint32_t nent;
	int r;

	if (!v->p[REC_CPUID] || v->len[REC_CPUID] < 4)
		return errf(e, -EINVAL, "vCPU %u state: no CPUID", c->id);
	memcpy(&nent, v->p[REC_CPUID], 4);
	if (nent == 0 || nent > CPUID_MAX_ENTRIES ||
	    v->len[REC_CPUID] != 4 + nent * sizeof(struct kvm_cpuid_entry2))
		return errf(e, -EINVAL, "vCPU %u state: CPUID of %u entries in %u bytes", c->id,
			    nent, v->len[REC_CPUID]);
	t = calloc(1, sizeof(*t));
	if (!t)
		return errf(e, -ENOMEM, "out of memory");
	t->hdr.nent = nent;
	memcpy(t->entries, v->p[REC_CPUID] + 4, nent * sizeof(struct kvm_cpuid_entry2));
	r = check_cpuid(c, t, e);
	if (r == 0 && ioctl(c->fd, KVM_SET_CPUID2, &t->hdr) < 0)
		r = errf(e, -errno, "vCPU %u: KVM_SET_CPUID2 (the snapshot's CPUID): %s", c->id,
			 strerror(errno));
	free(t);
	return r;
}

static int restore_msrs(struct vcpu *c, const struct vcpu_recs *v, struct err *e)
{
	struct kvm_msrs *m;
	uint32_t n;
	int k, r = 0;

	if (!v->p[REC_MSRS] || v->len[REC_MSRS] < 4)
		return errf(e, -EINVAL, "vCPU %u state: no MSRs", c->id);
	memcpy(&n, v->p[REC_MSRS], 4);
	if (n > VCPU_MAX_MSRS || v->len[REC_MSRS] != 4 + n * 16)
		return errf(e, -EINVAL, "vCPU %u state: %u MSRs in %u bytes", c->id, n,
			    v->len[REC_MSRS]);
	m = calloc(1, sizeof(*m) + n * sizeof(struct kvm_msr_entry));
	if (!m)
		return errf(e, -ENOMEM, "out of memory");
	m->nmsrs = n;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = v->p[REC_MSRS] + 4 + i * 16;

		memcpy(&m->entries[i].index, p, 4);
		memcpy(&m->entries[i].data, p + 8, 8);
	}
	k = ioctl(c->fd, KVM_SET_MSRS, m);
	if (k < 0)
		r = errf(e, -errno, "vCPU %u: KVM_SET_MSRS: %s", c->id, strerror(errno));
	else if ((uint32_t)k < n)
		r = errf(e, -EINVAL, "vCPU %u: this host's KVM refuses MSR 0x%x = 0x%" PRIx64,
			 c->id, m->entries[k].index, (uint64_t)m->entries[k].data);
	free(m);
	return r;
}

#define MSR_IA32_TSC 0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0

/* The vCPU's TSC as the guest reads it now; 0 when unreadable. */
static uint64_t guest_tsc(struct vcpu *c)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = MSR_IA32_TSC };

	return ioctl(c->fd, KVM_GET_MSRS, &m.hdr) == 1 ? m.e.data : 0;
}

/*
 * KVM takes a host write of IA32_TSC within a second of the TSC it expects
 * for a new vCPU as a request to synchronise with the other vCPUs, and then
 * keeps its own value: a snapshot taken early in a guest's life would come
 * back with its TSC reset, and the guest's clock would go backwards. Where
 * that happened, move the vCPU's TSC offset (KVM_VCPU_TSC_OFFSET) so that
 * the TSC continues from (saved).
 */
static int restore_tsc(struct vcpu *c, uint64_t saved, struct err *e)
{
	uint64_t now = guest_tsc(c), offset;
	struct kvm_device_attr attr = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (uintptr_t)&offset,
	};

	if (now >= saved)
		return 0;
	if (ioctl(c->fd, KVM_HAS_DEVICE_ATTR, &attr) < 0 ||
	    ioctl(c->fd, KVM_GET_DEVICE_ATTR, &attr) < 0) {
		log_warn("snapshot", "vCPU %u: KVM kept its own TSC (0x%" PRIx64 " for the snapshot's "
			 "0x%" PRIx64 ") and has no KVM_VCPU_TSC_OFFSET to correct it", c->id, now, saved);
		return 0;
	}
	offset += saved - now;
	if (ioctl(c->fd, KVM_SET_DEVICE_ATTR, &attr) < 0)
		return errf(e, -errno, "vCPU %u: KVM_VCPU_TSC_OFFSET: %s", c->id, strerror(errno));
	log_debug("snapshot", "vCPU %u: TSC offset moved by 0x%" PRIx64, c->id, saved - now);
	return 0;
}

/* The saved value of MSR (index), if there (the MSR record is already checked). */
static bool saved_msr(const struct vcpu_recs *v, uint32_t index, uint64_t *value)
{
	uint32_t n;

	memcpy(&n, v->p[REC_MSRS], 4);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t x;

		memcpy(&x, v->p[REC_MSRS] + 4 + i * 16, 4);
		if (x == index) {
			memcpy(value, v->p[REC_MSRS] + 4 + i * 16 + 8, 8);
			return true;
		}
	}
	return false;
}

/*
 * KVM drops a TSC-deadline write while the LAPIC timer is not in deadline
 * mode: once the LAPIC is back, write the deadline again.
 */
static int restore_tsc_deadline(struct vcpu *c, const struct vcpu_recs *v, struct err *e)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = MSR_IA32_TSC_DEADLINE };
	uint64_t deadline;

	if (!saved_msr(v, MSR_IA32_TSC_DEADLINE, &deadline) || deadline == 0)
		return 0;
	m.e.data = deadline;
	if (ioctl(c->fd, KVM_SET_MSRS, &m.hdr) != 1)
		return errf(e, -EINVAL, "vCPU %u: the TSC deadline could not be restored", c->id);
	return 0;
}

int vcpu_restore(struct vcpu *c, struct snap_cursor *cur, struct err *e)
{
	struct vcpu_recs v;
	size_t xs = xsave_size(c);
	uint64_t tsc;
	int r = parse_recs(c, cur, &v, e);

	if (r == 0)
		r = restore_cpuid(c, &v, e);
	if (r < 0)
		return r;
	if (v.p[REC_SREGS2]) {
		if (kvm_check_cap(&c->vm->kvm, KVM_CAP_SREGS2) <= 0)
			return errf(e, -ENOTSUP, "the snapshot has KVM_SREGS2 state; this host's KVM has no KVM_SET_SREGS2");
		r = set_rec(c, &v, REC_SREGS2, KVM_SET_SREGS2, sizeof(struct kvm_sregs2),
			    "KVM_SET_SREGS2", e);
	} else {
		r = set_rec(c, &v, REC_SREGS, KVM_SET_SREGS, sizeof(struct kvm_sregs),
			    "KVM_SET_SREGS", e);
	}
	if (r == 0)
		r = set_rec(c, &v, REC_REGS, KVM_SET_REGS, sizeof(struct kvm_regs), "KVM_SET_REGS", e);
	if (r == 0 && (!v.p[REC_XSAVE] || v.len[REC_XSAVE] < sizeof(struct kvm_xsave)))
		r = errf(e, -EINVAL, "vCPU %u state: no XSAVE area", c->id);
	if (r == 0 && v.len[REC_XSAVE] > xs)
		r = errf(e, -EINVAL, "this host's CPU cannot run the snapshot: its XSAVE area is %u "
			 "bytes, this host's %zu", v.len[REC_XSAVE], xs);
	if (r == 0) {
		/* A smaller saved area (an older host) is zero-extended: the header says what is valid. */
		void *buf = calloc(1, xs);

		if (!buf)
			return errf(e, -ENOMEM, "out of memory");
		memcpy(buf, v.p[REC_XSAVE], v.len[REC_XSAVE]);
		if (ioctl(c->fd, KVM_SET_XSAVE, buf) < 0)
			r = errf(e, -errno, "vCPU %u: KVM_SET_XSAVE: %s", c->id, strerror(errno));
		free(buf);
	}
	if (r == 0)
		r = set_rec(c, &v, REC_XCRS, KVM_SET_XCRS, sizeof(struct kvm_xcrs), "KVM_SET_XCRS", e);
	if (r == 0)
		r = restore_msrs(c, &v, e);
	if (r == 0 && saved_msr(&v, MSR_IA32_TSC, &tsc))
		r = restore_tsc(c, tsc, e);
	if (r == 0)
		r = set_rec(c, &v, REC_MPSTATE, KVM_SET_MP_STATE, sizeof(struct kvm_mp_state),
			    "KVM_SET_MP_STATE", e);
	if (r == 0)
		r = set_rec(c, &v, REC_LAPIC, KVM_SET_LAPIC, sizeof(struct kvm_lapic_state),
			    "KVM_SET_LAPIC", e);
	if (r == 0)
		r = restore_tsc_deadline(c, &v, e);
	if (r == 0)
		r = set_rec(c, &v, REC_EVENTS, KVM_SET_VCPU_EVENTS, sizeof(struct kvm_vcpu_events),
			    "KVM_SET_VCPU_EVENTS", e);
	if (r == 0)
		r = set_rec(c, &v, REC_DEBUGREGS, KVM_SET_DEBUGREGS, sizeof(struct kvm_debugregs),
			    "KVM_SET_DEBUGREGS", e);
	if (r == 0)
		restore_tsc_khz(c, &v);
	return r;
}
