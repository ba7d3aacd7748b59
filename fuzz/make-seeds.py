#!/usr/bin/env python3
"""Write the seed corpus of the libFuzzer harnesses (fuzz/corpus/NAME/seed-*).

The seeds are committed; rerun this after changing a harness's input format.
Formats: see the comment at the top of each fuzz/fuzz_NAME.c.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- fuzz_virtqueue: 32-byte header, then guest RAM from RAM_BASE ----
VQ_RAM_BASE = 0x1000
VQ_RAM2_BASE = 0x20000
NEXT, WRITE, INDIRECT = 1, 2, 4
EVENT_IDX, INDIRECT_DESC, UNPOP, SPLIT, FILL = 1, 2, 4, 8, 16


def vq_header(size, flags, iov_max, desc, avail, used, win_off, win_len, push_extra=0):
    return struct.pack('<HBBIIIIII4x', size, flags, iov_max, desc, avail, used,
                       win_off, win_len, push_extra)


class Ram:
    def __init__(self, length):
        self.b = bytearray(length)

    def put(self, off, data):
        self.b[off:off + len(data)] = data

    def desc(self, table, i, addr, length, flags, nxt=0):
        self.put(table + 16 * i, struct.pack('<QIHH', addr, length, flags, nxt))

    def avail(self, off, size, heads, flags=0, used_event=0):
        self.put(off, struct.pack('<HH', flags, len(heads) & 0xffff))
        for i, h in enumerate(heads):
            self.put(off + 4 + 2 * (i % size), struct.pack('<H', h))
        self.put(off + 4 + 2 * size, struct.pack('<H', used_event))


def vq_seeds():
    seeds = {}
    # A readable header, readable data, a writable buffer.
    r = Ram(0x200)
    r.desc(0, 0, VQ_RAM_BASE + 0x100, 16, NEXT, 1)
    r.desc(0, 1, VQ_RAM_BASE + 0x110, 8, NEXT, 2)
    r.desc(0, 2, VQ_RAM_BASE + 0x120, 32, WRITE)
    r.put(0x100, bytes(range(24)))
    r.avail(0x80, 8, [0])
    seeds['chain'] = vq_header(8, 0, 4, 0, 0x80, 0xa0, 4, 16) + r.b
    # The same chain through an indirect table, with EVENT_IDX.
    r = Ram(0x200)
    r.desc(0x180, 0, VQ_RAM_BASE + 0x100, 16, NEXT, 1)
    r.desc(0x180, 1, VQ_RAM_BASE + 0x110, 8, NEXT, 2)
    r.desc(0x180, 2, VQ_RAM_BASE + 0x120, 32, WRITE)
    r.desc(0, 0, VQ_RAM_BASE + 0x180, 48, INDIRECT)
    r.avail(0x80, 8, [0], used_event=1)
    seeds['indirect'] = vq_header(8, EVENT_IDX | INDIRECT_DESC, 2, 0, 0x80, 0xa0, 0, 40) + r.b
    # Four one-descriptor chains filling a queue of 4; unpop and device writes.
    r = Ram(0x180)
    for i in range(4):
        r.desc(0, i, VQ_RAM_BASE + 0x100 + 0x20 * i, 0x20, WRITE if i % 2 else 0)
    r.avail(0x40, 4, [3, 2, 1, 0])
    seeds['full-ring'] = vq_header(4, UNPOP | FILL, 1, 0, 0x40, 0x60, 0, 0x20) + r.b
    # RAM in two regions; the buffers in the second (host offset 0x200).
    r = Ram(0x400)
    r.desc(0, 0, VQ_RAM2_BASE + 0x10, 0x40, NEXT, 1)
    r.desc(0, 1, VQ_RAM2_BASE + 0x100, 0x100, WRITE)
    r.avail(0x80, 8, [0])
    seeds['two-regions'] = vq_header(8, SPLIT, 8, 0, 0x80, 0xa0, 0x20, 0x30) + r.b
    # Hostile: a descriptor that chains to itself.
    r = Ram(0x100)
    r.desc(0, 0, VQ_RAM_BASE + 0xc0, 8, NEXT, 0)
    r.avail(0x40, 2, [0])
    seeds['loop'] = vq_header(2, 0, 1, 0, 0x40, 0x60, 0, 8) + r.b
    return seeds


# ---- fuzz_blk: flags, then requests (segment count - 1, segments, readable bytes) ----
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES = 0, 1, 4, 8, 11, 13
DRIVE_UNSAFE, DRIVE_RO, B_EVENT_IDX, B_INDIRECT = 1, 2, 4, 8


def blk_req(segs, readable):
    """segs: [(length, writable)]; readable: the bytes of the readable part."""
    out = bytes([len(segs) - 1])
    for length, w in segs:
        out += struct.pack('<HB', length, 1 if w else 0)
    return out + readable


def hdr(t, sector=0):
    return struct.pack('<IIQ', t, 0, sector)


def blk_seeds():
    data = bytes((i * 7) & 0xff for i in range(512))
    rng = lambda sector, n, flags: struct.pack('<QII', sector, n, flags)
    reqs = {
        'in': blk_req([(16, 0), (512, 1), (1, 1)], hdr(T_IN, 2)),
        'out': blk_req([(16, 0), (512, 0), (1, 1)], hdr(T_OUT, 3) + data),
        'flush': blk_req([(16, 0), (1, 1)], hdr(T_FLUSH)),
        'get-id': blk_req([(16, 0), (21, 1)], hdr(T_GET_ID)),
        'discard': blk_req([(32, 0), (1, 1)], hdr(T_DISCARD) + rng(4, 2, 0)),
        'write-zeroes': blk_req([(16, 0), (16, 0), (1, 1)],
                                hdr(T_WRITE_ZEROES) + rng(8, 4, 1)),
        'unsupported': blk_req([(16, 0), (1, 1)], hdr(99)),
        # Header split over two buffers, data over two, status alone.
        'split': blk_req([(8, 0), (8, 0), (100, 1), (412, 1), (1, 1)], hdr(T_IN, 1)),
    }
    seeds = {name: bytes([0]) + r for name, r in reqs.items()}
    seeds['out-read-only'] = bytes([DRIVE_RO]) + reqs['out']
    seeds['unsafe-flush'] = bytes([DRIVE_UNSAFE]) + reqs['flush']
    seeds['batch-indirect'] = bytes([B_EVENT_IDX | B_INDIRECT]) + b''.join(
        reqs[n] for n in ('out', 'in', 'flush', 'get-id', 'write-zeroes'))
    return seeds


# ---- fuzz_net: features, then operations (0 tx, 1 rx buffers, 2 frame from the host) ----
N_GUEST_CSUM, N_GUEST_TSO4, N_GUEST_TSO6, N_GUEST_ECN, N_MRG, N_HOST_OFFLOADS, N_EVENT_IDX, N_SPLIT = \
    1, 2, 4, 8, 16, 32, 64, 128


def net_hdr(flags=0, gso=0, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0):
    return struct.pack('<BBHHHHH', flags, gso, hdr_len, gso_size, csum_start, csum_offset, 0)


def eth_frame(n):
    return bytes([0xff] * 6 + [0x02, 0, 0, 0, 0, 1, 0x08, 0]) + bytes((i * 5) & 0xff for i in range(n))


def net_tx(segs, readable):
    """segs: [(length, writable)]."""
    out = bytes([0, len(segs) - 1])
    for length, w in segs:
        out += struct.pack('<HB', length, 1 if w else 0)
    return out + readable


def net_rx(chains):
    """chains: [[length, ...]] of writable buffers."""
    out = bytes([1, len(chains) - 1])
    for c in chains:
        out += bytes([len(c) - 1]) + b''.join(struct.pack('<HB', n, 0) for n in c)
    return out


def net_host(frame):
    return bytes([2]) + struct.pack('<H', len(frame)) + frame


def net_seeds():
    f100 = eth_frame(86)
    csum = net_hdr(1, 0, 0, 0, 34, 16)
    tso = net_hdr(1, 1, 54, 1448, 34, 16)
    return {
        'tx': bytes([0]) + net_tx([(12, 0), (50, 0), (50, 0)], net_hdr() + f100),
        'tx-csum': bytes([N_HOST_OFFLOADS]) + net_tx([(112, 0)], csum + f100),
        'tx-not-negotiated': bytes([0]) + net_tx([(12, 0), (100, 0)], tso + f100),
        'tx-short-and-writable': bytes([0]) + net_tx([(20, 0)], bytes(20)) +
        net_tx([(12, 0), (100, 1)], net_hdr()),
        'rx': bytes([0]) + net_rx([[2048]]) + net_host(net_hdr() + f100),
        'rx-mrg': bytes([N_MRG]) + net_rx([[64], [64], [40, 24], [64]]) +
        net_host(net_hdr() + eth_frame(186)),
        'rx-offload': bytes([N_GUEST_CSUM | N_GUEST_TSO4 | N_MRG]) + net_rx([[1024], [1024]]) +
        net_host(tso + eth_frame(1200)) + net_host(csum + f100),
        'rx-dropped': bytes([0]) + net_rx([[40]]) + net_host(net_hdr() + f100) +
        net_host(csum + f100) + net_rx([[2048]]),
        'rx-waits': bytes([N_MRG | N_EVENT_IDX]) + net_host(net_hdr() + f100) +
        net_rx([[16], [16], [16], [16], [16], [16], [16], [16]]),
        'split-ram': bytes([N_SPLIT | N_MRG]) + net_rx([[4096], [4096]]) +
        net_host(net_hdr() + eth_frame(6000)) + net_tx([(12, 0), (5000, 0)], net_hdr() + eth_frame(4986)),
    }


# ---- fuzz_balloon: features, then (queue, segment count - 1, segments, readable bytes) ----
B_STATS, B_OOM, B_REPORTING, B_EVIDX, B_SPLIT, B_HUGE = 1, 2, 4, 8, 16, 32
B_PFN0 = 0x100000 >> 12


def bal_req(q, segs, readable=b''):
    out = bytes([q, len(segs) - 1])
    for length, w in segs:
        out += struct.pack('<HB', length, 1 if w else 0)
    return out + readable


def pfns(*p):
    return b''.join(struct.pack('<I', x) for x in p)


def balloon_seeds():
    pf = pfns(B_PFN0, B_PFN0 + 1, B_PFN0 + 2, B_PFN0 + 31, B_PFN0 + 32, 0xffffffff, 0)
    stats = b''.join(struct.pack('<HQ', t, v) for t, v in ((4, 1 << 30), (5, 2 << 30), (99, 1), (6, 5)))
    return {
        'inflate': bytes([0]) + bal_req(0, [(len(pf), 0)], pf),
        'deflate': bytes([B_OOM]) + bal_req(1, [(len(pf), 0)], pf),
        'inflate-split': bytes([B_SPLIT]) + bal_req(0, [(8, 0), (len(pf) - 8, 0)], pf) +
        bal_req(0, [(6, 0)], pf[:6]),
        'inflate-huge': bytes([B_HUGE]) + bal_req(0, [(4 * 32, 0)], pfns(*range(B_PFN0, B_PFN0 + 32))),
        'stats': bytes([B_STATS]) + bal_req(2, [(len(stats), 0)], stats) +
        bal_req(2, [(len(stats) + 3, 0)], stats + b'\x01\x02\x03'),
        'report': bytes([B_REPORTING]) + bal_req(2, [(8192, 1), (5000, 1)]),
        'report-after-stats': bytes([B_STATS | B_REPORTING | B_EVIDX]) +
        bal_req(2, [(10, 0)], stats[:10]) + bal_req(3, [(4096, 1)]) + bal_req(0, [(4, 0)], pfns(B_PFN0)),
        'undefined-queue': bytes([0]) + bal_req(3, [(4, 0)], pfns(B_PFN0)),
        'no-such-queue': bytes([0]) + bal_req(4, [(4, 0)], pfns(B_PFN0)),
    }


# ---- fuzz_vsock: flags, then operations (see fuzz/fuzz_vsock.c) ----
V_REQUEST, V_RESPONSE, V_RST, V_SHUTDOWN, V_RW, V_CREDIT_UPDATE, V_CREDIT_REQUEST = 1, 2, 3, 4, 5, 6, 7
V_FIX_ALL = 1 | 2 | 4 | 8 | 16


def vs_hdr(op, src_port=49152, dst_port=0, length=0, flags=0, buf_alloc=65536, fwd_cnt=0,
           src_cid=3, dst_cid=2, typ=1):
    return struct.pack('<QQIIIHHIII', src_cid, dst_cid, src_port, dst_port, length, typ, op, flags,
                       buf_alloc, fwd_cnt)


def vs_tx(fix, hdr, payload=b'', pieces=1):
    return bytes([0, fix]) + hdr + struct.pack('<HB', len(payload), pieces - 1) + payload


def vs_rx(lengths):
    return bytes([1, len(lengths) - 1]) + b''.join(struct.pack('<H', n) for n in lengths)


def vs_host_send(conn, data):
    return bytes([3, conn, len(data)]) + data


def vs_connect(line):
    return bytes([5, 0, len(line)]) + line


def vsock_seeds():
    rx = vs_rx([4140] * 4 + [44 | 0x8000, 20])
    return {
        'guest-connect': bytes([0]) + rx + vs_tx(V_FIX_ALL, vs_hdr(V_REQUEST)) + bytes([2]) +
        vs_host_send(0, b'hello guest') + vs_tx(V_FIX_ALL, vs_hdr(V_RW), b'hello host', 3) +
        bytes([7]) + vs_tx(V_FIX_ALL, vs_hdr(V_CREDIT_REQUEST)) +
        vs_tx(V_FIX_ALL, vs_hdr(V_SHUTDOWN, flags=3)) + bytes([4, 0x80]) + vs_rx([4140] * 2),
        'host-connect': bytes([0]) + rx + vs_connect(b'CONNECT 5000\n') +
        vs_tx(1 | 2 | 4 | 16, vs_hdr(V_RESPONSE, src_port=5000, dst_port=1 << 30)) +
        vs_host_send(0, b'data from the host') +
        vs_tx(1 | 2 | 4 | 16, vs_hdr(V_CREDIT_UPDATE, src_port=5000, dst_port=1 << 30)) +
        bytes([4, 0]) + bytes([7]),
        'connect-garbage': bytes([0]) + rx + vs_connect(b'CONNECT x\n') + vs_connect(b'LISTEN 1\n') +
        vs_connect(b'CONNECT 4294967296\n'),
        'hostile': bytes([1]) + rx + vs_tx(0, vs_hdr(V_REQUEST, src_cid=99)) +
        vs_tx(V_FIX_ALL & ~16, vs_hdr(V_RW, length=4096), b'abc') +
        vs_tx(V_FIX_ALL & ~4, vs_hdr(V_REQUEST, typ=2)) + vs_tx(3 | 4, vs_hdr(V_RW, dst_port=7001), b'xy') +
        vs_tx(V_FIX_ALL | 32, vs_hdr(V_RST)) + vs_tx(V_FIX_ALL, vs_hdr(0)) + vs_tx(V_FIX_ALL, vs_hdr(99)),
        'no-rx-buffers': bytes([2]) + b''.join(vs_tx(V_FIX_ALL & ~8, vs_hdr(V_RW, dst_port=7000 + i), b'z')
                                              for i in range(20)) + rx,
        'event': bytes([0]) + bytes([6, 4, 1]) + bytes([6, 8, 0]) + bytes([6, 2, 1]),
    }


# ---- fuzz_snapshot: fix-ups, pattern, then a state file (src/snapshot/format.h) ----
M64 = (1 << 64) - 1
P64 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x85EBCA77C2B2AE63,
       0x27D4EB2F165667C5)


def rotl64(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def xxh64_round(acc, lane):
    return rotl64((acc + lane * P64[1]) & M64, 31) * P64[0] & M64


def xxh64(data, seed=0):
    """XXH64 as the xxHash specification (doc/xxhash_spec.md) defines it."""
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + P64[0] + P64[1]) & M64, (seed + P64[1]) & M64, seed, (seed - P64[0]) & M64]
        while i + 32 <= n:
            for k in range(4):
                v[k] = xxh64_round(v[k], struct.unpack_from('<Q', data, i + 8 * k)[0])
            i += 32
        acc = (rotl64(v[0], 1) + rotl64(v[1], 7) + rotl64(v[2], 12) + rotl64(v[3], 18)) & M64
        for k in range(4):
            acc = ((acc ^ xxh64_round(0, v[k])) * P64[0] + P64[3]) & M64
    else:
        acc = (seed + P64[4]) & M64
    acc = (acc + n) & M64
    while i + 8 <= n:
        acc ^= xxh64_round(0, struct.unpack_from('<Q', data, i)[0])
        acc = (rotl64(acc, 27) * P64[0] + P64[3]) & M64
        i += 8
    if i + 4 <= n:
        acc ^= struct.unpack_from('<I', data, i)[0] * P64[0] & M64
        acc = (rotl64(acc, 23) * P64[1] + P64[2]) & M64
        i += 4
    while i < n:
        acc ^= data[i] * P64[4] & M64
        acc = rotl64(acc, 11) * P64[0] & M64
        i += 1
    acc = (acc ^ (acc >> 33)) * P64[1] & M64
    acc = (acc ^ (acc >> 29)) * P64[2] & M64
    return acc ^ (acc >> 32)


def snap_file(sections, flags=0):
    """A state file as snap_writer makes it: sections are (tag, instance, payload)."""
    body = b''
    for tag, instance, payload in sections:
        head = struct.pack('<4sIQ', tag, instance, len(payload))
        body += head + struct.pack('<Q', xxh64(head + payload)) + payload
        body += bytes(-len(payload) % 8)
    head = struct.pack('<8sIIIIQQ16x', b'LODGSNAP', 1, 62, 64, len(sections), 64 + len(body), flags)
    return head + struct.pack('<Q', xxh64(head)) + body


def snap_str(s):
    return struct.pack('<I', len(s)) + s


# Pattern bytes: kind in bits 0-2 (0 u32, 1 u64, 2 string, 3 pointer, 4 copy, 5 the rest), size in 3-7.
SP_U32, SP_U64, SP_REST = 0, 1, 5


def sp_str(cap):
    return 2 | (cap - 1) << 3


def sp_ptr(n):
    return 3 | n << 3


def sp_copy(n):
    return 4 | n << 3


def snap_input(fix, pattern, file):
    return bytes([fix, len(pattern) - 1]) + bytes(pattern) + file


def snapshot_seeds():
    regs = bytes(range(256)) * 2
    vm = snap_file([
        (b'CONF', 0, struct.pack('<IQ', 2, 256 << 20) + snap_str(b'console=ttyS0') + snap_str(b'')),
        (b'VCPU', 0, regs), (b'VCPU', 1, regs[:509]),
        (b'IRQC', 0, struct.pack('<24I', *range(24))),
        (b'DEVS', 0, snap_str(b'virtio-blk') + struct.pack('<QQ', 0xd0000000, 5)),
        (b'DEVS', 1, snap_str(b'serial') + struct.pack('<H', 0x3f8)),
        (b'EMTY', 9, b''),
    ], flags=1)
    small = snap_file([(b'CONF', 0, struct.pack('<IQ', 0xdeadbeef, 0x0123456789abcdef) + snap_str(b'hello')),
                       (b'VCPU', 0, bytes(range(1, 14))), (b'VCPU', 1, bytes(range(1, 14))),
                       (b'EMTY', 7, b'')])
    # A section whose length runs past the file, hashes repaired by the harness.
    bad = bytearray(small)
    struct.pack_into('<Q', bad, 64 + 8, 4000)
    return {
        'small': snap_input(0, [SP_U32, SP_U64, sp_str(16)], small),
        'vm': snap_input(0, [SP_U32, SP_U64, sp_str(32), sp_ptr(16), sp_copy(7), SP_REST], vm),
        'vm-fixed': snap_input(3, [sp_copy(31), SP_U32], vm),
        'empty': snap_input(0, [SP_U32], snap_file([])),
        'length-past-end': snap_input(3, [SP_REST], bytes(bad)),
        'trailing': snap_input(1, [SP_U32], small + bytes(8)),
    }


def write(name, seeds):
    d = os.path.join(HERE, 'corpus', name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith('seed-'):
            os.remove(os.path.join(d, f))
    for s, data in seeds.items():
        with open(os.path.join(d, 'seed-' + s), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    write('virtqueue', vq_seeds())
    write('blk', blk_seeds())
    write('net', net_seeds())
    write('vsock', vsock_seeds())
    write('balloon', balloon_seeds())
    write('snapshot', snapshot_seeds())
