#!/usr/bin/env python3
"""Pack sectors of a disk image into the sparse fuzz-input format (see fuzz/src/lib.rs):
u32 LE sector count, then records of u32 LE LBA, u8 count (0 = 256), the sectors' data.

usage: sparse.py IMAGE SECTOR_SIZE FIRST:LAST ... > OUT
Ranges are inclusive LBAs; negative numbers count from the end (-1 = last sector);
`nonzero:FIRST:LAST` keeps only the sectors of that range that are not all zero."""
import os, struct, sys

img, ss = sys.argv[1], int(sys.argv[2])
total = os.path.getsize(img) // ss
keep = set()
with open(img, "rb") as f:
    def sector(lba):
        f.seek(lba * ss)
        return f.read(ss)
    for r in sys.argv[3:]:
        nz = r.startswith("nonzero:")
        a, b = (int(x) for x in r.removeprefix("nonzero:").split(":"))
        a, b = (a + total if a < 0 else a), (b + total if b < 0 else b)
        for lba in range(a, b + 1):
            if not nz or any(sector(lba)):
                keep.add(lba)
    out = bytearray(struct.pack("<I", total))
    run = []
    def flush():
        if run:
            out.extend(struct.pack("<IB", run[0], len(run) % 256))
            for l in run:
                out.extend(sector(l))
            run.clear()
    for lba in sorted(keep):
        if run and (lba != run[-1] + 1 or len(run) == 256):
            flush()
        run.append(lba)
    flush()
sys.stdout.buffer.write(out)
