#!/usr/bin/env bash
# Regenerate the small seed ISOs of fuzz/corpus/iso9660_parse (xorriso, no padding).
# Byte 0 of each seed is the harness's mode byte (see fuzz_targets/iso9660_parse.rs).
set -euo pipefail
cd "$(dirname "$0")"
out=corpus/iso9660_parse
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out" "$tmp/t/boot" "$tmp/t/EFI/BOOT" "$tmp/t/Mixed Case/deep/er/still"
printf 'BOOTSHELF-SEED-BIOS' > "$tmp/t/boot/bios.bin"
printf 'efi' > "$tmp/t/EFI/BOOT/BOOTX64.EFI"
printf 'x' > "$tmp/t/Mixed Case/deep/er/still/A long file name.txt"
mkfs.fat -C -n EFI "$tmp/efi.img" 64 >/dev/null
mkdir -p "$tmp/t/casper" && cp "$tmp/efi.img" "$tmp/t/boot/efi.img"
common=(-no-pad -V SEED --modification-date=2024010203040500)
x() { xorriso -as mkisofs "${common[@]}" "$@" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }; }
x -o "$tmp/bios.iso" -b boot/bios.bin -no-emul-boot -boot-load-size 4 "$tmp/t"
x -o "$tmp/both.iso" -R -J -b boot/bios.bin -no-emul-boot -boot-load-size 4 \
  -eltorito-alt-boot -e boot/efi.img -no-emul-boot "$tmp/t"
x -o "$tmp/hybrid.iso" -R -J -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin -b boot/bios.bin \
  -no-emul-boot -boot-load-size 4 -eltorito-alt-boot -e boot/efi.img -no-emul-boot \
  -isohybrid-gpt-basdat "$tmp/t"
x -o "$tmp/plain.iso" --norock "$tmp/t"
x -o "$tmp/joliet.iso" --norock -J "$tmp/t"
# Keep seeds small: descriptors, directories, catalog and the start of the file data.
for n in bios both plain joliet; do
  { printf '\0'; head -c 98304 "$tmp/$n.iso" | tail -c +32769; } > "$out/$n"
done
{ printf '\1'; head -c 98304 "$tmp/hybrid.iso"; } > "$out/hybrid"
ls -l "$out"
