#!/usr/bin/env bash
# Builds the pharos appliance image without root, loop devices or mounts:
#
#   image/out/vmlinuz        the kernel, from Debian's package (apt checks its signature)
#   image/out/initrd.img     the root filesystem: pharos as /sbin/init, modules, overlays
#   image/out/pharos.img     a BIOS-bootable raw disk: MBR + syslinux
#                              p1 FAT "PHAROS-BOOT": syslinux, kernel, initramfs
#                              p2 FAT "PHAROS-CFG":  pharos.toml (edit it from any computer)
#   image/out/pharos.qcow2   the same disk for hypervisors
#
# Usage: image/build.sh  (env: KERNEL=cloud|generic, VARIANT=prod|debug,
#                         CONFIG=file, OUT=dir, PHAROS_BIN=path)
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
"$PHAROS_BIN" check "$CONFIG" >/dev/null || die "$CONFIG does not pass 'pharos check'; fix it first"

for tool in dpkg-deb depmod mkfs.fat mcopy mmd syslinux sfdisk cpio lz4 qemu-img; do
  command -v $tool >/dev/null || die "$tool is missing: run 'make image-deps' (as root) first"
done
mbr_bin=/usr/lib/syslinux/mbr/mbr.bin
[ -f $mbr_bin ] || die "$mbr_bin is missing: install syslinux-common"

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
    install -m 0755 "$b" "$root/usr/sbin/$(basename "$b")"
    # Libraries (`x => /path`) and the ELF interpreter (`/lib64/ld-...`).
    for lib in $(ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
      mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"
    done
  done
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
sector=512
p1_start=2048
kernel_mb=$(( ($(stat -c %s "$work/vmlinuz") + $(stat -c %s "$work/initrd.img")) / 1048576 ))
p1_mb=$(( kernel_mb + 8 ))
p1_sectors=$(( p1_mb * 2048 ))
p2_start=$(( p1_start + p1_sectors ))
p2_mb=16
p2_sectors=$(( p2_mb * 2048 ))
total_sectors=$(( p2_start + p2_sectors ))

cat > "$work/syslinux.cfg" <<CFG
DEFAULT pharos
PROMPT 0
TIMEOUT 0
LABEL pharos
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND console=tty0 console=ttyS0,115200 panic=-1 quiet loglevel=4
CFG
touch -d "@$SOURCE_DATE_EPOCH" "$work/syslinux.cfg"

mkfs.fat -C -F 16 -n PHAROS-BOOT -i 50484152 -h $p1_start --invariant "$work/p1.fat" $(( p1_sectors / 2 )) >/dev/null
export MTOOLS_SKIP_CHECK=1
mcopy -m -i "$work/p1.fat" "$work/vmlinuz" "$work/initrd.img" "$work/syslinux.cfg" ::/
syslinux --install "$work/p1.fat"

cp "$CONFIG" "$work/pharos.toml"
touch -d "@$SOURCE_DATE_EPOCH" "$work/pharos.toml"
mkfs.fat -C -F 16 -n PHAROS-CFG -i 50484153 -h $p2_start --invariant "$work/p2.fat" $(( p2_sectors / 2 )) >/dev/null
mcopy -m -i "$work/p2.fat" "$work/pharos.toml" ::/

truncate -s $(( total_sectors * sector )) "$work/pharos.img"
sfdisk --quiet --no-reread --no-tell-kernel "$work/pharos.img" <<PT
label: dos
label-id: 0x50484152
start=$p1_start, size=$p1_sectors, type=c, bootable
start=$p2_start, size=$p2_sectors, type=e
PT
dd if=$mbr_bin of="$work/pharos.img" bs=440 count=1 conv=notrunc status=none
dd if="$work/p1.fat" of="$work/pharos.img" bs=$sector seek=$p1_start conv=notrunc status=none
dd if="$work/p2.fat" of="$work/pharos.img" bs=$sector seek=$p2_start conv=notrunc status=none
qemu-img convert -O qcow2 "$work/pharos.img" "$work/pharos.qcow2"

for f in vmlinuz initrd.img pharos.img pharos.qcow2; do
  if ! cmp -s "$work/$f" "$OUT/$f"; then cp "$work/$f" "$OUT/$f"; fi
done
(cd "$OUT" && sha256sum vmlinuz initrd.img pharos.img pharos.qcow2 > SHA256SUMS)
printf 'config partition: offset %d bytes (mtools: -i pharos.img@@%d)\n' $(( p2_start * sector )) $(( p2_start * sector )) > "$OUT/LAYOUT"

used=$(( $(stat -c %s "$OUT/vmlinuz") + $(stat -c %s "$OUT/initrd.img") ))
say "image ($VARIANT, $KERNEL kernel $kver) in $OUT:"
say "  pharos.img $(( $(stat -c %s "$OUT/pharos.img") / 1048576 )) MiB raw, $(( used / 1048576 )) MiB used (kernel + initramfs: $used bytes)"
say "  pharos.qcow2 $(( $(stat -c %s "$OUT/pharos.qcow2") / 1048576 )) MiB"
