#!/usr/bin/env bash
# Benchmark: `bootshelf add` of a 2 GiB ISO onto a stick image against
# `dd bs=4M conv=fsync` of the same file to the same place, in one run.
#
#   benches/add_vs_dd.sh            # 2 GiB
#   SIZE_MIB=512 benches/add_vs_dd.sh
#
# Both read the ISO from the page cache (it is read once beforehand) and both end with
# an fsync of the image, so the comparison is the write path: add also hashes (SHA-256,
# in parallel with the copy), checks the ISO and writes the exFAT metadata and the index.
# The rounds alternate add and dd over the same device bytes (add's extent, which every
# add after a remove gets again); the first add, which allocates the image's blocks, is
# a warm-up and not counted. Prints each time and the ratio dd_time / add_time (the goal
# is >= 0.9: add at least 90% of dd's speed).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${SIZE_MIB:-2048}
ROUNDS=${ROUNDS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/bench}
cargo build --release -q -p bootshelf
BIN=$CARGO_TARGET_DIR/release/bootshelf

WORK=${WORK:-$PWD/target/fixtures/tmp/bench-add-$$}
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
ISO=$WORK/bench.iso
IMG=$WORK/stick.img

# A real bootable ISO (iPXE, from Debian) followed by pseudo-random bytes up to SIZE_MIB.
SRC=/usr/lib/ipxe/ipxe.iso
[ -f "$SRC" ] || { echo "install the Debian package ipxe" >&2; exit 1; }
cp "$SRC" "$ISO"
pad=$(( SIZE_MIB * 1024 * 1024 - $(stat -c %s "$SRC") ))
head -c "$pad" /dev/urandom >> "$ISO"
"$BIN" install "$IMG" --size $(( SIZE_MIB + 1024 ))M --yes > /dev/null
cat "$ISO" > /dev/null

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

add() {
  local t0 t1
  t0=$(now)
  "$BIN" add "$IMG" "$ISO" --quiet > /dev/null
  t1=$(now)
  elapsed "$t0" "$t1"
}

offset() {
  "$BIN" list "$IMG" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["isos"][0]["extents"][0][0])'
}

echo "ISO: $SIZE_MIB MiB, image: $IMG"
t=$(add)
OFF=$(offset)
echo "warm-up add: ${t}s at device byte $OFF"
sum_add=0; sum_dd=0
for r in $(seq 1 "$ROUNDS"); do
  sync
  t0=$(now)
  dd if="$ISO" of="$IMG" bs=4M conv=fsync,notrunc oflag=seek_bytes seek="$OFF" status=none
  t1=$(now)
  tdd=$(elapsed "$t0" "$t1")
  "$BIN" remove "$IMG" bench.iso > /dev/null
  sync
  tadd=$(add)
  off=$(offset)
  [ "$off" = "$OFF" ] || echo "warning: add placed the ISO at $off, not $OFF" >&2
  printf 'round %d: dd %.3fs (%.0f MB/s)  add %.3fs (%.0f MB/s)  ratio %.3f\n' "$r" \
    "$tdd" "$(echo "$SIZE_MIB*1.048576/$tdd" | bc -l)" \
    "$tadd" "$(echo "$SIZE_MIB*1.048576/$tadd" | bc -l)" \
    "$(echo "$tdd/$tadd" | bc -l)"
  sum_add=$(echo "$sum_add+$tadd" | bc -l); sum_dd=$(echo "$sum_dd+$tdd" | bc -l)
done
"$BIN" check "$IMG" --hash | tail -1
printf 'total over %d rounds: dd %.3fs, add %.3fs: add runs at %.3f of dd speed (goal >= 0.9)\n' \
  "$ROUNDS" "$sum_dd" "$sum_add" "$(echo "$sum_dd/$sum_add" | bc -l)"
