#!/usr/bin/env bash
# Benchmark: `bootshelf add` against `dd bs=4M oflag=direct` on devices as slow as USB
# sticks, side by side in one run, and several sticks written at once against the sum of
# their solo speeds. Needs root (loop devices, the blkio write throttle).
#
#   sudo benches/add_vs_dd.sh                  # 30 and 150 MB/s, 1 GiB ISO
#   sudo LIMITS="30" SIZE_MIB=256 benches/add_vs_dd.sh
#
# How the device is slowed down: two loop devices over image files in RAM (tmpfs, so
# that the loop device's own write-out to a disk behind it takes no part), each limited with
# the kernel's block throttle to LIMIT MB/s (10^6 bytes, as sticks are rated) for
# writes: cgroup v1 `blkio.throttle.write_bps_device` of the root group (which also
# covers the kernel's write-back threads, so buffered writes are throttled as direct ones
# are), or cgroup v2 `io.max` of the root's children when only v2 is mounted (then this
# shell moves itself into a child group). Reads are not limited.
#
# Per LIMIT and round: `add` of the ISO onto stick A (timed from start to exit: checks,
# copy with SHA-256, flush, exFAT commit, index), `remove`, then `dd if=ISO bs=4M
# oflag=direct conv=fsync` to the same device bytes (add's extent); the same on stick B;
# then `add --to A --to B` writing both at once. dd ends with an fsync as add flushes
# before it indexes: both are timed until the data is durable. Ratios: add/dd speed (goal
# >= 0.95) and the parallel run's total speed against the sum of the two solo add speeds
# (goal >= 0.9).
set -euo pipefail
cd "$(dirname "$0")/.."

LIMITS=${LIMITS:-"30 150"}
SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-2}
[ "$(id -u)" = 0 ] || { echo "needs root (loop devices, blkio throttle)" >&2; exit 1; }
cargo build --release -q -p bootshelf
BIN=${BIN:-$PWD/target/release/bootshelf}

WORK=${WORK:-/dev/shm/bootshelf-bench-$$}
mkdir -p "$WORK"
LOOPS=()
V1=/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device
V2=/sys/fs/cgroup/bootshelf-bench-$$
throttle() { # throttle DEVICE BYTES_PER_SEC (0: no limit)
  local mm
  mm=$(lsblk -dno MAJ:MIN "$1" | tr -d ' ')
  if [ -w "$V1" ]; then
    echo "$mm $2" > "$V1"
  else
    [ -d "$V2" ] || { mkdir "$V2"; echo $$ > "$V2/cgroup.procs"; }
    if [ "$2" = 0 ]; then echo "$mm wbps=max" > "$V2/io.max"; else echo "$mm wbps=$2" > "$V2/io.max"; fi
  fi
}
cleanup() {
  for l in "${LOOPS[@]}"; do
    throttle "$l" 0 || true
    losetup -d "$l" || true
  done
  if [ -d "$V2" ]; then echo $$ > /sys/fs/cgroup/cgroup.procs || true; rmdir "$V2" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A real bootable ISO (iPXE, from Debian) followed by pseudo-random bytes up to SIZE_MIB.
SRC=/usr/lib/ipxe/ipxe.iso
[ -f "$SRC" ] || { echo "install the Debian package ipxe" >&2; exit 1; }
ISO=$WORK/bench.iso
cp "$SRC" "$ISO"
head -c $(( SIZE_MIB * 1024 * 1024 - $(stat -c %s "$SRC") )) /dev/urandom >> "$ISO"
cat "$ISO" > /dev/null # both read it from the page cache

for name in a b; do
  truncate -s $(( SIZE_MIB + 256 ))M "$WORK/$name.img"
  LOOPS+=("$(losetup -f --show "$WORK/$name.img")")
done
A=${LOOPS[0]} B=${LOOPS[1]}
"$BIN" install "$A" "$B" --force --yes > /dev/null

now() { date +%s.%N; }
timed() { local t0; t0=$(now); "$@" > /dev/null; echo "$(now) - $t0" | bc -l; }
offset() {
  "$BIN" list "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["isos"][0]["extents"][0][0])'
}
mibs() { echo "$1/$2" | bc -l; } # MiB, seconds -> MiB/s

echo "ISO $SIZE_MIB MiB; sticks $A $B (loop devices, writes throttled)"
for limit in $LIMITS; do
  throttle "$A" $(( limit * 1000000 ))
  throttle "$B" $(( limit * 1000000 ))
  echo "== write limit $limit MB/s ($(printf %.1f "$(echo "$limit*1000000/1048576" | bc -l)") MiB/s)"
  sum_add=0 sum_dd=0 sum_solo=0 sum_par=0
  for r in $(seq 1 "$ROUNDS"); do
    solo=0
    for dev in "$A" "$B"; do
      sync
      tadd=$(timed "$BIN" add "$dev" "$ISO" --quiet)
      off=$(offset "$dev")
      "$BIN" remove "$dev" bench.iso > /dev/null
      sync
      tdd=$(timed dd if="$ISO" of="$dev" bs=4M oflag=direct,seek_bytes conv=fsync seek="$off" status=none)
      printf '  round %d %s: add %6.2f s (%6.1f MiB/s)  dd %6.2f s (%6.1f MiB/s)  add/dd %.3f\n' \
        "$r" "$dev" "$tadd" "$(mibs "$SIZE_MIB" "$tadd")" "$tdd" "$(mibs "$SIZE_MIB" "$tdd")" \
        "$(echo "$tdd/$tadd" | bc -l)"
      sum_add=$(echo "$sum_add+$tadd" | bc -l); sum_dd=$(echo "$sum_dd+$tdd" | bc -l)
      solo=$(echo "$solo+$(mibs "$SIZE_MIB" "$tadd")" | bc -l)
    done
    sync
    tpar=$(timed "$BIN" add --to "$A" --to "$B" "$ISO" --quiet)
    par=$(mibs $(( 2 * SIZE_MIB )) "$tpar")
    printf '  round %d both at once: %6.2f s, %6.1f MiB/s in all; sum of solo adds %6.1f MiB/s; parallel/sum %.3f\n' \
      "$r" "$tpar" "$par" "$solo" "$(echo "$par/$solo" | bc -l)"
    sum_solo=$(echo "$sum_solo+$solo" | bc -l); sum_par=$(echo "$sum_par+$par" | bc -l)
    "$BIN" remove "$A" bench.iso > /dev/null
    "$BIN" remove "$B" bench.iso > /dev/null
  done
  printf 'limit %s MB/s: add runs at %.3f of dd speed (goal >= 0.95); parallel at %.3f of the solo sum (goal >= 0.9)\n' \
    "$limit" "$(echo "$sum_dd/$sum_add" | bc -l)" "$(echo "$sum_par/$sum_solo" | bc -l)"
done
"$BIN" add --to "$A" --to "$B" "$ISO" --verify --quiet | grep -c 'copied and verified' | sed 's/^/sticks verified after the runs (of 2): /'
