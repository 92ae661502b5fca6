#!/usr/bin/env bash
# Regenerate the committed seed corpora and the shelf_discover template from real tools'
# output (xorriso, sgdisk, sfdisk, mkfs.exfat, `bootshelf install`/`add`), kept small: only
# the sectors the parsers read. `make_seeds.sh [TARGET...]` (default: all). Byte 0 of each
# seed is its harness's mode byte (see fuzz_targets/*.rs); sparse.py packs disk images
# into the sparse format of src/lib.rs. Needs python3 and, for bootshelf's own images, a
# `cargo build --release -p bootshelf` (done here).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(iso9660_parse ptable_parse exfat_open index_decode shelf_discover overlay_build overlay_rewrite esp_fsck efi_image authenticode_pe)
want() { local t; for t in "${targets[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }
sparse() { ./sparse.py "$@"; }
bootshelf() {
  if [ ! -x "$tmp/bootshelf" ]; then
    (cd .. && cargo build -q --release -p bootshelf) >&2
    cp ../target/release/bootshelf "$tmp/bootshelf"
  fi
  "$tmp/bootshelf" "$@"
}

# A 64 KiB FAT12 EFI boot image as archiso's (systemd-boot entries with long names, one
# without options) with a grub.cfg holding a kernel line, as Fedora's: file $1.
efi_entries_image() {
  rm -f "$1"
  mkfs.fat -C -F 12 -s 1 -n EFI "$1" 64 >/dev/null
  mmd -i "$1" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
  printf 'MZ' > "$tmp/mz" && mcopy -i "$1" "$tmp/mz" ::/EFI/BOOT/BOOTX64.EFI
  printf 'title Arch\nlinux /arch/vmlinuz\ninitrd /arch/initrd\noptions archisobasedir=arch quiet\n' > "$tmp/e1"
  mcopy -i "$1" "$tmp/e1" ::/loader/entries/01-archiso-x86_64-linux.conf
  printf 'title Speech\nlinux /arch/vmlinuz\n' > "$tmp/e2"
  mcopy -i "$1" "$tmp/e2" ::/loader/entries/02-archiso-x86_64-speech-linux.conf
  printf 'menuentry x {\n  linux /images/vmlinuz quiet\n}\n' > "$tmp/g"
  mcopy -i "$1" "$tmp/g" ::/EFI/BOOT/grub.cfg
}

# A tiny bootable ISO (BIOS and UEFI El Torito entries), for the ISO seeds and the stick.
tiny_iso() {
  [ -f "$tmp/tiny.iso" ] && return
  mkdir -p "$tmp/ti/boot" && printf 'BOOTSHELF-SEED-BIOS' > "$tmp/ti/boot/bios.bin"
  mkfs.fat -C -n EFI "$tmp/ti/boot/efi.img" 64 >/dev/null
  xorriso -as mkisofs -no-pad -V TINY --modification-date=2024010203040500 -o "$tmp/tiny.iso" \
    -b boot/bios.bin -no-emul-boot -boot-load-size 4 -eltorito-alt-boot -e boot/efi.img \
    -no-emul-boot "$tmp/ti" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
}

# A 50 MiB bootshelf stick (GPT, 512-byte sectors) with the tiny ISO added.
stick() {
  [ -f "$tmp/stick.img" ] && return
  tiny_iso
  bootshelf install --size 50M "$tmp/stick.img" >/dev/null
  bootshelf add -q "$tmp/stick.img" "$tmp/tiny.iso" >/dev/null
}

if want iso9660_parse; then
  out=corpus/iso9660_parse
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
fi

if want ptable_parse; then
  # Mode byte: bit 0 = 4096-byte sectors; the rest the sparse disk (the sectors the table
  # reader reads: LBA 0, the primary header and entries, the backup entries and header).
  out=corpus/ptable_parse
  mkdir -p "$out"
  truncate -s 64K "$tmp/g.img"
  sgdisk -n 1:40:80 -t 1:0700 -n 2:81:90 -t 2:ef00 "$tmp/g.img" >/dev/null
  { printf '\x18'; sparse "$tmp/g.img" 512 0:33 -33:-1; } > "$out/sgdisk-gpt"
  truncate -s 64K "$tmp/m.img"
  printf 'label: dos\nstart=8,size=60,type=7\nstart=70,size=20,type=ef\n' | sfdisk -q "$tmp/m.img"
  { printf '\x18'; sparse "$tmp/m.img" 512 0:0; } > "$out/sfdisk-mbr"
  stick
  { printf '\x18'; sparse "$tmp/stick.img" 512 0:33 -33:-1; } > "$out/bootshelf-gpt"
  bootshelf install --mbr --size 50M "$tmp/mbr.img" >/dev/null
  { printf '\x18'; sparse "$tmp/mbr.img" 512 0:0; } > "$out/bootshelf-mbr"
  # The same stick as a loader leaves it after a boot (docs/window.md, "MBR sticks"):
  # slot 4 a 0x17 window inside the data partition, record 1's type emptied.
  python3 - "$tmp/mbr.img" <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(446 + 48)
    f.write(bytes([0, 0, 0, 0, 0x17, 0, 0, 0]) + struct.pack("<II", 8192, 2048))
    f.seek(446 + 4)
    f.write(b"\0")
PY
  { printf '\x18'; sparse "$tmp/mbr.img" 512 0:0; } > "$out/bootshelf-mbr-booted"
  bootshelf install --sector-size 4096 --size 50M "$tmp/4k.img" >/dev/null
  { printf '\x19'; sparse "$tmp/4k.img" 4096 0:5 -5:-1; } > "$out/bootshelf-gpt-4k"
fi

if want exfat_open; then
  # Mode 5: a sparse image of 512-byte sectors (the non-zero ones), straight from mkfs.exfat.
  out=corpus/exfat_open
  mkdir -p "$out"
  printf '\0' > "$out/template"
  for c in default 512; do
    rm -f "$tmp/e.img"; truncate -s 4M "$tmp/e.img"
    opt=(); [ $c = default ] || opt=(-c $c)
    mkfs.exfat "${opt[@]}" -L SEED "$tmp/e.img" >/dev/null
    { printf '\5'; sparse "$tmp/e.img" 512 nonzero:0:-1; } > "$out/mkfs-exfat-$c"
  done
fi

if want index_decode; then
  # Both index slots of a real stick, as `bootshelf add` wrote them; and the newest slot
  # of a stick whose ISO has a persistence file (the record's TLV extension area).
  out=corpus/index_decode
  mkdir -p "$out"
  stick
  bootshelf install --size 80M "$tmp/pstick.img" >/dev/null
  bootshelf add -q "$tmp/pstick.img" "$tmp/tiny.iso" >/dev/null
  bootshelf persistence -q "$tmp/pstick.img" tiny.iso --size 16M --family live-boot >/dev/null
  python3 - "$out" "$tmp/stick.img" stick "$tmp/pstick.img" persistence <<'PY'
import struct, sys
out = sys.argv[1]
for img, name in zip(sys.argv[2::2], sys.argv[3::2]):
    d = open(img, "rb").read()
    slots = []
    for off in range(0, len(d), 512):
        if d[off:off + 8] == b"BSHLFIDX":
            total = struct.unpack_from("<I", d, off + 24)[0]
            slots.append(d[off:off + total])
    assert slots, f"no index slot found in {img}"
    if name == "stick":
        for n, s in enumerate(slots):
            open(f"{out}/stick-slot-{n}", "wb").write(s)
    else:
        newest = max(slots, key=lambda s: struct.unpack_from("<Q", s, 16)[0])
        open(f"{out}/{name}-slot", "wb").write(newest)
PY
fi

if want shelf_discover; then
  # The template: the stick's non-zero sectors of both GPT copies and the data partition.
  stick
  mkdir -p templates corpus/shelf_discover
  first=$(sgdisk -i 1 "$tmp/stick.img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
  last=$(sgdisk -i 1 "$tmp/stick.img" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
  sparse "$tmp/stick.img" 512 nonzero:0:33 nonzero:-33:-1 "nonzero:$first:$last" \
    > templates/stick.sparse
  printf '\0' > corpus/shelf_discover/template
  printf '\3' > corpus/shelf_discover/template-repaired
fi
if want esp_fsck; then
  # The patch template is built by the harness; seeds: it unpatched, and the ESPs that
  # `bootshelf install` makes at 512 and 4096 bytes per sector (their first MiB, where
  # the boot sector, FATs, root directory and the first files are), sparse.
  mkdir -p corpus/esp_fsck
  printf '\0' > corpus/esp_fsck/template
  stick
  bootshelf install --sector-size 4096 --size 50M "$tmp/esp4k.img" >/dev/null
  for v in "stick 512 1" "esp4k 4096 3"; do
    set -- $v
    # A 50 MiB stick's ESP is bytes 17 MiB .. 49 MiB at either sector size.
    dd if="$tmp/$1.img" of="$tmp/$1.esp" bs=1M skip=17 count=32 status=none
    # Boot sector, FATs and root directory (up to the first data sector), and the first
    # data sectors (the directories); the loader's bytes are left out (they read as zero).
    meta=$(python3 -c 'import struct,sys; b=open(sys.argv[1],"rb").read(512)
bps,spc,res,nf,re,_,_,fs=struct.unpack_from("<HBHBHHBH",b,11)
print(res + nf*fs + (re*32 + bps-1)//bps + 4*spc - 1)' "$tmp/$1.esp")
    { printf "\\$(printf '%03o' "$3")"; sparse "$tmp/$1.esp" "$2" "nonzero:0:$meta"; } \
      > "corpus/esp_fsck/bootshelf-$2"
  done
fi

if want efi_image; then
  # EFI boot images as grub-mkrescue and xorriso recipes make them: mkfs.fat + mtools,
  # FAT12 and FAT16, loaders for several architectures, a file over several clusters.
  out=corpus/efi_image
  mkdir -p "$out"
  head -c 3000 /dev/zero | tr '\0' 'x' > "$tmp/loader"
  for spec in "fat12 12 64" "fat16 16 4200"; do
    set -- $spec
    rm -f "$tmp/$1.img"
    mkfs.fat -C -F "$2" -s 1 -n EFI "$tmp/$1.img" "$3" >/dev/null
    mmd -i "$tmp/$1.img" ::/EFI ::/EFI/BOOT
    mcopy -i "$tmp/$1.img" "$tmp/loader" ::/EFI/BOOT/BOOTX64.EFI
    mcopy -i "$tmp/$1.img" "$tmp/loader" ::/EFI/BOOT/bootaa64.efi
    printf 'set timeout=0\n' > "$tmp/cfg" && mcopy -i "$tmp/$1.img" "$tmp/cfg" ::/EFI/BOOT/grub.cfg
    # Keep seeds small: the FAT12 one whole, the FAT16 one up to its first files.
    head -c 65536 "$tmp/$1.img" > "$out/$1"
  done
  # archiso's layout: systemd-boot entries with long names.
  efi_entries_image "$tmp/sd.img"
  cp "$tmp/sd.img" "$out/systemd-boot"
fi
ls -l corpus/* templates

if want authenticode_pe; then
  # bootshelf's UEFI loader as `install` signs it (shim's second stage), and Debian's
  # signed MokManager (signed by Debian, a different PE layout).
  out=corpus/authenticode_pe
  mkdir -p "$out"
  XDG_CONFIG_HOME="$tmp/config" bootshelf install "$tmp/pe.img" --size 64M --yes >/dev/null
  off=$(( $(sfdisk -J "$tmp/pe.img" | python3 -c 'import json,sys; d=json.load(sys.stdin); print([p["start"] for p in d["partitiontable"]["partitions"] if p["type"].startswith("C12A")][0])') * 512 ))
  mtype -i "$tmp/pe.img@@$off" ::/EFI/BOOT/grubx64.efi > "$out/bootshelf-signed.efi"
  cp /usr/lib/shim/mmx64.efi.signed "$out/mmx64-signed.efi"
  echo "authenticode_pe: $(ls "$out" | wc -l) seeds"
fi

if want overlay_build; then
  # Mode byte 0x03 (long argument, remove quiet); the image from sector 16: descriptors,
  # directories and the config files of small GRUB, isolinux and systemd-boot trees.
  out=corpus/overlay_build
  mkdir -p "$out" "$tmp/ob/boot/grub" "$tmp/ob/isolinux" "$tmp/ob/loader/entries"
  printf 'set timeout=0\nsource /boot/grub/more.cfg\nmenuentry x {\n  linux /vmlinuz quiet\n}\n' > "$tmp/ob/boot/grub/grub.cfg"
  printf 'linux /vmlinuz boot=live\n' > "$tmp/ob/boot/grub/more.cfg"
  printf 'include txt.cfg\nlabel a\n kernel /vmlinuz\n append quiet\n' > "$tmp/ob/isolinux/isolinux.cfg"
  printf 'label b\n linux /vmlinuz\n' > "$tmp/ob/isolinux/txt.cfg"
  printf 'title A\nlinux /vmlinuz\noptions quiet rw\n' > "$tmp/ob/loader/entries/a.conf"
  for f in rj:-R:-J plain:--norock:--norock; do
    IFS=: read -r n a b <<<"$f"
    xorriso -as mkisofs -no-pad -V SEED --modification-date=2024010203040500 $a $b \
      -o "$tmp/ob-$n.iso" "$tmp/ob" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
    { printf '\3'; head -c 98304 "$tmp/ob-$n.iso" | tail -c +32769; } > "$out/$n"
  done
  # The configuration only in the El Torito EFI boot image (archiso, Fedora): the whole
  # ISO from sector 16, image included.
  mkdir -p "$tmp/obe/EFI"
  efi_entries_image "$tmp/obe/EFI/efiboot.img"
  xorriso -as mkisofs -no-pad -V SEED --modification-date=2024010203040500 -R -J \
    -e EFI/efiboot.img -no-emul-boot -o "$tmp/obe.iso" "$tmp/obe" 2>"$tmp/log" || { cat "$tmp/log"; exit 1; }
  { printf '\3'; tail -c +32769 "$tmp/obe.iso"; } > "$out/efi-image"
fi

if want overlay_rewrite; then
  # Mode byte (syntax), flags byte (remove quiet), then a real config from Debian
  # packages (debian-installer-12-netboot-amd64, live-build) when installed.
  out=corpus/overlay_rewrite
  mkdir -p "$out"
  di=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
  lb=/usr/share/live/build/bootloaders/syslinux_common
  { printf '\0\1'; cat "$di/grub/grub.cfg"; } > "$out/di-grub"
  { printf '\1\1'; cat "$di/boot-screens/txt.cfg" "$di/boot-screens/adtxt.cfg"; } > "$out/di-syslinux"
  { printf '\1\1'; cat "$lb/live.cfg.in" "$lb/install_text.cfg"; } > "$out/live-build"
  { printf '\2\1'; printf 'title Arch\nlinux /vmlinuz\ninitrd /initrd\noptions root=LABEL=x quiet rw\n'; } > "$out/systemd-boot"
fi
