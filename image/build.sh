#!/usr/bin/env bash
# Builds the pharos appliance image without root, loop devices or mounts:
#
#   image/out/vmlinuz        the kernel, from Debian's package (apt checks its signature)
#   image/out/initrd.img     the root filesystem: pharos as /sbin/init, modules, overlays
#   image/out/slot.img       slot A's FAT file system (kernel, initramfs, boot.cfg), as
#                            written to p2: what an upgrade bundle is made from
#   image/out/pharos.img     a raw disk that boots by BIOS and by UEFI, GRUB on both:
#                              MBR GRUB boot.img, core.img in the gap after it (BIOS)
#                              p1 FAT "PHAROS-BOOT" (EFI System): EFI/BOOT/BOOTX64.EFI,
#                                 grub/grub.cfg (image/grub/), grub/grubenv (boot-once)
#                              p2 FAT "PHAROS-A": slot A, booted by default
#                              p3 slot B, the same size, empty (zeros) until an upgrade
#                              p4 FAT "PHAROS-CFG": pharos.toml (edit it from any computer)
#   image/out/pharos.qcow2   the same disk for hypervisors
#   image/out/LAYOUT         each partition's byte offset (for mtools) and size
#   image/out/pharos-VERSION.bundle  the update bundle: slot.img, signed with the
#                            key pair in KEY_DIR (`make keys`), whose public half
#                            the image carries (/etc/pharos/bundle-signing.pub)
#
# Usage: image/build.sh  (env: KERNEL=cloud|generic, VARIANT=prod|debug,
#                         CONFIG=file, OUT=dir, PHAROS_BIN=path, KEY_DIR=dir)
# Reproducible: fixed timestamps (SOURCE_DATE_EPOCH), sorted archives, fixed
# volume ids; the same inputs give the same bytes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
KERNEL=${KERNEL:-cloud}
VARIANT=${VARIANT:-prod}
CONFIG=${CONFIG:-$top/configs/default.toml}
OUT=${OUT:-$here/out}
CACHE=${CACHE:-$here/cache}
PHAROS_BIN=${PHAROS_BIN:-$top/target/x86_64-unknown-linux-gnu/release/pharos}
KEY_DIR=${KEY_DIR:-$HOME/.config/pharos/keys}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600} # 2026-01-01
export TZ=UTC LC_ALL=C

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'image: %s\n' "$*" >&2; exit 1; }

case $KERNEL in
  cloud) meta=linux-image-cloud-amd64 ;;
  generic) meta=linux-image-amd64 ;;
  *) die "KERNEL must be cloud or generic, not '$KERNEL'" ;;
esac
case $VARIANT in prod|debug) ;; *) die "VARIANT must be prod or debug, not '$VARIANT'" ;; esac
[ -x "$PHAROS_BIN" ] || die "no pharos binary at $PHAROS_BIN (make image builds it)"
[ -f "$CONFIG" ] || die "no config at $CONFIG"
[ -f "$KEY_DIR/bundle-signing.key" ] && [ -f "$KEY_DIR/bundle-signing.pub" ] \
  || die "no bundle-signing key pair in $KEY_DIR: run 'make keys' (or set KEY_DIR)"
"$PHAROS_BIN" check "$CONFIG" >/dev/null || die "$CONFIG does not pass 'pharos check'; fix it first"

for tool in dpkg-deb depmod mkfs.fat mcopy mmd sfdisk cpio lz4 qemu-img grub-mkimage grub-editenv; do
  command -v $tool >/dev/null || die "$tool is missing: run 'make image-deps' (as root) first"
done
[ -f /usr/lib/grub/i386-pc/boot.img ] || die "GRUB for BIOS is missing: install grub-pc-bin ('make image-deps')"
[ -f /usr/lib/grub/x86_64-efi/linux.mod ] || die "GRUB for UEFI is missing: install grub-efi-amd64-bin ('make image-deps')"

work=$(mktemp -d "${TMPDIR:-/tmp}/pharos-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$CACHE" "$OUT"

# --- kernel: Debian's package, by name ------------------------------------
pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$pkg" ] || die "cannot resolve $meta: run 'apt-get update' first"
deb=$(ls "$CACHE"/${pkg}_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  say "downloading $pkg"
  (cd "$CACHE" && apt-get download -qq "$pkg" 2>/dev/null) || die "apt-get download $pkg failed"
  deb=$(ls "$CACHE"/${pkg}_*.deb | head -n1)
fi
dpkg-deb -x "$deb" "$work/kernel"
kver=$(ls "$work/kernel/lib/modules")
say "kernel $kver ($KERNEL)"

# --- root filesystem -------------------------------------------------------
root=$work/root
mkdir -p "$root"/{sbin,etc,proc,sys,dev,run,tmp,config,var/lib/pharos,lib/modules/$kver}
install -m 0755 "$PHAROS_BIN" "$root/sbin/init"
strip --strip-all "$root/sbin/init" 2>/dev/null || true
ln -s init "$root/sbin/pharos"
ln -s sbin/init "$root/init"  # what the kernel runs from an initramfs
cp -a "$top/overlays/base/." "$root/"
# The public half of the bundle-signing key (`make keys`): what this image
# accepts an upgrade from. The private half never comes near the image.
install -D -m 0644 "$KEY_DIR/bundle-signing.pub" "$root/etc/pharos/bundle-signing.pub"

# Modules: the listed ones and everything they depend on.
src=$work/kernel/lib/modules/$kver
lists="$here/modules-cloud.txt"
[ "$KERNEL" = generic ] && lists="$lists $here/modules-generic.txt"
wanted=$(sed -e 's/#.*//' -e 's/^boot //' $lists | awk 'NF{print $1}' | sort -u)
boot=$(sed -e 's/#.*//' $lists | awk '$1=="boot"{print $2}')
depmod -b "$work/kernel" "$kver"
declare -A have=()
add_module() { # name
  local path deps d
  path=$(awk -v m="$1" -F: '{n=$1; sub(".*/","",n); sub("\\.ko.*","",n); gsub("-","_",n); if (n==m) {print $1; exit}}' "$src/modules.dep")
  [ -n "$path" ] || { grep -q "/$1.ko" "$src/modules.builtin" 2>/dev/null && return 0; die "module $1 is not in $kver"; }
  [ -n "${have[$path]:-}" ] && return 0
  have[$path]=1
  mkdir -p "$root/lib/modules/$kver/$(dirname "$path")"
  cp "$src/$path" "$root/lib/modules/$kver/$path"
  deps=$(awk -v p="$path:" '$1==p{$1=""; print}' "$src/modules.dep")
  for d in $deps; do
    d=${d##*/}; d=${d%%.ko*}; add_module "${d//-/_}"
  done
}
for m in $wanted; do add_module "${m//-/_}"; done
cp "$src"/modules.builtin* "$src"/modules.order "$root/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$root" "$kver"
printf '%s\n' $boot > "$root/etc/pharos-boot-modules"
say "${#have[@]} modules"

# A dynamically linked program from the host's Debian packages, with its
# libraries (`x => /path`) and its ELF interpreter (`/lib64/ld-...`).
add_program() { # path on the host, directory in the image
  install -D -m 0755 "$1" "$root/$2/$(basename "$1")"
  for lib in $(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"
  done
}

# BIRD 2, the BGP speaker pharos runs for `[bgp]` (src/bgp/task.rs starts
# /usr/sbin/bird): in every image, since the config on the box can gain a
# [bgp] without a new image. About 3.5 MB of the LZ4 initramfs, most of it
# the C library and libssh's (BIRD links it for RPKI over SSH). No shell.
[ -x /usr/sbin/bird ] || die "/usr/sbin/bird is missing: apt-get install bird2 (make image-deps does)"
add_program /usr/sbin/bird usr/sbin
say "BIRD $(/usr/sbin/bird --version 2>&1 | awk '{print $NF}')"

if [ "$VARIANT" = debug ]; then
  # busybox for a shell; ip and ipvsadm with their libraries, from the host's
  # Debian packages (installed by 'make image-deps').
  cp -a "$top/overlays/debug/." "$root/"
  rm -f "$root/README"
  mkdir -p "$root/bin" "$root/usr/sbin"
  install -m 0755 "$(command -v busybox)" "$root/bin/busybox"
  for applet in $(busybox --list); do
    case $applet in ip|busybox|init) ;; *) ln -sf busybox "$root/bin/$applet" ;; esac
  done
  # Where the kernel's kernel.modprobe points, so it can load a module on
  # demand (ipvsadm asking for a scheduler) as on any Debian box.
  if [ ! -e "$root/sbin/modprobe" ]; then
    mkdir -p "$root/sbin"
    ln -sf /bin/busybox "$root/sbin/modprobe"
  fi
  for b in /usr/sbin/ipvsadm /usr/bin/ip /bin/ip; do
    [ -x "$b" ] || continue
    add_program "$b" usr/sbin
  done
  # birdcl (birdc without readline), for talking to the VM lab's BIRDs.
  add_program /usr/sbin/birdcl usr/sbin
fi

# Reproducible archive: fixed mtimes, sorted names, root-owned.
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
# LZ4 (the kernel's legacy frame, `-l`): under emulation the kernel
# unpacks it in a fraction of gzip's time (0.35 s of a TCG boot for gzip);
# it is 15% bigger. Both kernels Debian ships read it (CONFIG_RD_LZ4).
grep -q '^CONFIG_RD_LZ4=y' "$work/kernel/boot/config-$kver" || die "kernel $kver cannot unpack an LZ4 initramfs (CONFIG_RD_LZ4)"
(cd "$root" && find . | sort | cpio --quiet -o -H newc -R 0:0 --reproducible) | lz4 -l -9 -q > "$work/initrd.img"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"
touch -d "@$SOURCE_DATE_EPOCH" "$work/initrd.img" "$work/vmlinuz"

# --- disk ------------------------------------------------------------------
# MBR (dos label), four primary partitions, bootable by BIOS and UEFI:
#   LBA 0       GRUB's boot.img (440 bytes of boot code; the table after it)
#   LBA 1..     GRUB's core.img for BIOS, in the gap before partition 1
#   p1 PHAROS-BOOT  type ef (EFI System), bootable: EFI/BOOT/BOOTX64.EFI,
#                   grub/grub.cfg, grub/grubenv
#   p2 PHAROS-A     slot A: vmlinuz, initrd.img, boot.cfg (also out/slot.img)
#   p3 (slot B)     the same size, all zeros until the first upgrade writes it
#   p4 PHAROS-CFG   pharos.toml
# boot.img's core.img sector (its default, 1) and diskboot.img's blocklist
# (its default start, sector 2; grub-mkimage fills in the length) are
# left as GRUB ships them: core.img at LBA 1 needs no patching.
sector=512
grub_pc=/usr/lib/grub/i386-pc
grub_efi=/usr/lib/grub/x86_64-efi
# Every module grub.cfg and boot.cfg use, embedded: the boot partition has
# no module directory. BIOS adds its disk driver and linux16 (boot.cfg's
# loader there); UEFI adds the GOP driver, so the kernel gets a frame
# buffer for tty0.
grub_modules="part_msdos fat normal configfile loadenv regexp test echo linux serial terminal boot"
boot_start=2048
boot_sectors=$(( 8 * 2048 ))
slot_bytes=$(( $(stat -c %s "$work/vmlinuz") + $(stat -c %s "$work/initrd.img") ))
slot_mb=$(( 2 * (slot_bytes / 1048576 + 1) ))
[ $slot_mb -ge 64 ] || slot_mb=64
slot_sectors=$(( slot_mb * 2048 ))
a_start=$(( boot_start + boot_sectors ))
b_start=$(( a_start + slot_sectors ))
cfg_start=$(( b_start + slot_sectors ))
cfg_sectors=$(( 16 * 2048 ))
total_sectors=$(( cfg_start + cfg_sectors ))
export MTOOLS_SKIP_CHECK=1

# GRUB for BIOS: prefix (,msdos1)/grub is partition 1 of the disk the BIOS
# booted from. For UEFI: /grub on the partition BOOTX64.EFI was loaded from.
grub-mkimage -O i386-pc -d $grub_pc -o "$work/core.img" -p '(,msdos1)/grub' biosdisk linux16 $grub_modules
[ $(stat -c %s "$work/core.img") -le $(( (boot_start - 1) * sector )) ] || die "GRUB's core.img does not fit before partition 1"
grub-mkimage -O x86_64-efi -d $grub_efi -o "$work/BOOTX64.EFI" -p /grub efi_gop $grub_modules
cp "$here/grub/grub.cfg" "$work/grub.cfg"
grub-editenv "$work/grubenv" create
grub-editenv "$work/grubenv" set pharos_slot=A
[ $(stat -c %s "$work/grubenv") -eq 1024 ] || die "grubenv is not 1024 bytes"
cp "$here/grub/boot.cfg" "$work/boot.cfg"
touch -d "@$SOURCE_DATE_EPOCH" "$work/BOOTX64.EFI" "$work/grub.cfg" "$work/grubenv" "$work/boot.cfg"

# 1 KiB clusters (-s 2): enough of them in 8 MiB for FAT16.
mkfs.fat -C -F 16 -s 2 -n PHAROS-BOOT -i 50484152 -h $boot_start --invariant "$work/boot.fat" $(( boot_sectors / 2 )) >/dev/null
mmd -i "$work/boot.fat" ::/EFI ::/EFI/BOOT ::/grub
mcopy -m -i "$work/boot.fat" "$work/BOOTX64.EFI" ::/EFI/BOOT/
mcopy -m -i "$work/boot.fat" "$work/grub.cfg" "$work/grubenv" ::/grub/

mkfs.fat -C -F 16 -n PHAROS-A -i 50484141 -h $a_start --invariant "$work/slot.img" $(( slot_sectors / 2 )) >/dev/null
mcopy -m -i "$work/slot.img" "$work/vmlinuz" "$work/initrd.img" "$work/boot.cfg" ::/

cp "$CONFIG" "$work/pharos.toml"
touch -d "@$SOURCE_DATE_EPOCH" "$work/pharos.toml"
mkfs.fat -C -F 16 -n PHAROS-CFG -i 50484153 -h $cfg_start --invariant "$work/cfg.fat" $(( cfg_sectors / 2 )) >/dev/null
mcopy -m -i "$work/cfg.fat" "$work/pharos.toml" ::/

truncate -s $(( total_sectors * sector )) "$work/pharos.img"
sfdisk --quiet --no-reread --no-tell-kernel "$work/pharos.img" <<PT
label: dos
label-id: 0x50484152
start=$boot_start, size=$boot_sectors, type=ef, bootable
start=$a_start, size=$slot_sectors, type=e
start=$b_start, size=$slot_sectors, type=e
start=$cfg_start, size=$cfg_sectors, type=e
PT
put() { dd if="$1" of="$work/pharos.img" bs=$sector seek=$2 conv=notrunc,sparse status=none; }
dd if=$grub_pc/boot.img of="$work/pharos.img" bs=440 count=1 conv=notrunc status=none
put "$work/core.img" 1
put "$work/boot.fat" $boot_start
put "$work/slot.img" $a_start
put "$work/cfg.fat" $cfg_start
qemu-img convert -O qcow2 "$work/pharos.img" "$work/pharos.qcow2"

# The update bundle: slot A's file system, signed (ed25519 signatures are
# deterministic: the same key and slot give the same bytes).
version=$("$PHAROS_BIN" --version | awk '{print $2}')
bundle=pharos-$version.bundle
"$PHAROS_BIN" bundle make --image "$work/slot.img" --version "$version" --kernel "$kver" \
  --variant "$VARIANT" --built "$SOURCE_DATE_EPOCH" --key "$KEY_DIR/bundle-signing.key" --out "$work/$bundle"

rm -f "$OUT"/pharos-*.bundle.partial
for f in vmlinuz initrd.img slot.img pharos.img pharos.qcow2 $bundle; do
  if ! cmp -s "$work/$f" "$OUT/$f"; then cp "$work/$f" "$OUT/$f"; fi
done
for old in "$OUT"/pharos-*.bundle; do [ "$old" = "$OUT/$bundle" ] || rm -f "$old"; done
(cd "$OUT" && sha256sum vmlinuz initrd.img slot.img pharos.img pharos.qcow2 $bundle > SHA256SUMS)
# The config line first, as it always was (tests read its fourth word).
part() { # name start sectors [note]
  printf '%s partition: offset %d bytes, size %d bytes (mtools: -i pharos.img@@%d)%s\n' \
    "$1" $(( $2 * sector )) $(( $3 * sector )) $(( $2 * sector )) "${4:-}"
}
{
  printf 'config partition: offset %d bytes (mtools: -i pharos.img@@%d)\n' $(( cfg_start * sector )) $(( cfg_start * sector ))
  part boot $boot_start $boot_sectors
  part 'slot A' $a_start $slot_sectors
  part 'slot B' $b_start $slot_sectors '; empty until the first upgrade'
} > "$OUT/LAYOUT"

say "image ($VARIANT, $KERNEL kernel $kver) in $OUT:"
say "  pharos.img $(( $(stat -c %s "$OUT/pharos.img") / 1048576 )) MiB raw: boot 8 MiB, slots A and B $slot_mb MiB each (A holds $slot_bytes bytes of kernel + initramfs), config 16 MiB"
say "  pharos.qcow2 $(( $(stat -c %s "$OUT/pharos.qcow2") / 1048576 )) MiB"
