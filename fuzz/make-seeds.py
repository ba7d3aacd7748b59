#!/usr/bin/env python3
"""Write the seed corpus of the libFuzzer harnesses (fuzz/corpus/NAME/seed-*).

The seeds are committed; rerun this after changing a harness's input format.
Formats: see the comment at the top of fuzz/fuzz_virtqueue.c and fuzz/fuzz_blk.c.
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
