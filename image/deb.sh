#!/usr/bin/env bash
# Builds the Debian package of pharos, for running it as a service on an
# existing Debian director (the appliance image is image/build.sh):
#
#   image/out/pharos_VERSION-1_amd64.deb
#     /usr/bin/pharos                        the static binary (user commands too: check, remote, identity)
#     /lib/systemd/system/pharos.service     overlays/systemd/pharos.service
#     /etc/pharos/pharos.toml                image/deb/pharos.toml, a conffile that configures nothing
#     /usr/share/man/man1/pharos*.1.gz       one page per command, from `pharos manual`
#     /usr/share/bash-completion/completions/pharos, /usr/share/zsh/vendor-completions/_pharos,
#     /usr/share/fish/vendor_completions.d/pharos.fish
#     /usr/share/doc/pharos/copyright, changelog.Debian.gz
#     /usr/share/lintian/overrides/pharos    the warnings that are deliberate, each with its reason
#
# Usage: image/deb.sh  (env: PHAROS_BIN=path, OUT=dir, MAINTAINER="Name <address>")
# Plain dpkg-deb, no debhelper or cargo-deb: the binary is built already
# (`make static`), and the maintainer scripts in image/deb/ are the ones
# dh_installsystemd would write. VERSION is Cargo.toml's, and the Debian
# revision is 1. Reproducible: fixed timestamps (SOURCE_DATE_EPOCH), gzip -n,
# sorted archives; the same inputs give the same bytes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
PHAROS_BIN=${PHAROS_BIN:-$top/target/x86_64-unknown-linux-gnu/release/pharos}
OUT=${OUT:-$here/out}
MAINTAINER=${MAINTAINER:-pharos maintainers <maintainers@users.noreply.h-seed-0316ad2c.example>}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600} # 2026-01-01
export TZ=UTC LC_ALL=C

die() { printf 'deb: %s\n' "$*" >&2; exit 1; }

[ -x "$PHAROS_BIN" ] || die "no pharos binary at $PHAROS_BIN (make deb builds it)"
for tool in dpkg-deb strip gzip md5sum; do
  command -v $tool >/dev/null || die "$tool is missing: install dpkg and binutils (apt-get install dpkg binutils)"
done
upstream=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$top/Cargo.toml" | head -n1)
[ -n "$upstream" ] || die "no version = \"...\" line in $top/Cargo.toml"
version=$upstream-1
"$PHAROS_BIN" check "$here/deb/pharos.toml" >/dev/null \
  || die "$here/deb/pharos.toml does not pass 'pharos check'; fix it first"

work=$(mktemp -d "${TMPDIR:-/tmp}/pharos-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$OUT"

# --- files -------------------------------------------------------------------
install -D -m 0755 "$PHAROS_BIN" "$root/usr/bin/pharos"
# As dh_strip does: symbols and the sections lintian calls unneeded go.
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/pharos"
install -D -m 0644 "$top/overlays/systemd/pharos.service" "$root/lib/systemd/system/pharos.service"
install -D -m 0644 "$here/deb/pharos.toml" "$root/etc/pharos/pharos.toml"

# Man pages and completions from the binary being packaged, so they
# describe exactly its command line.
"$PHAROS_BIN" manual --out "$work/gen"
for page in "$work/gen"/*.1; do
  install -D -m 0644 "$page" "$root/usr/share/man/man1/$(basename "$page")"
done
gzip -9n "$root"/usr/share/man/man1/*.1
install -D -m 0644 "$work/gen/pharos.bash" "$root/usr/share/bash-completion/completions/pharos"
install -D -m 0644 "$work/gen/_pharos" "$root/usr/share/zsh/vendor-completions/_pharos"
install -D -m 0644 "$work/gen/pharos.fish" "$root/usr/share/fish/vendor_completions.d/pharos.fish"

doc=$root/usr/share/doc/pharos
install -D -m 0644 "$here/deb/copyright" "$doc/copyright"
sed -e "s/@VERSION@/$version/" -e "s/@UPSTREAM@/$upstream/" \
    -e "s/@MAINTAINER@/$MAINTAINER/" -e "s/@DATE@/$(date -R -d "@$SOURCE_DATE_EPOCH")/" \
    "$here/deb/changelog" | gzip -9n > "$doc/changelog.Debian.gz"
chmod 0644 "$doc/changelog.Debian.gz"
install -D -m 0644 "$here/deb/lintian-overrides" "$root/usr/share/lintian/overrides/pharos"

# --- control -----------------------------------------------------------------
mkdir -p "$root/DEBIAN"
for script in postinst prerm postrm; do
  install -m 0755 "$here/deb/$script" "$root/DEBIAN/$script"
done
echo /etc/pharos/pharos.toml > "$root/DEBIAN/conffiles"
# dpkg checks conffiles itself; md5sums covers the rest (as dh_md5sums).
(cd "$root" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
size=$(du -s --apparent-size --block-size=1024 "$root/usr" "$root/lib" "$root/etc" | awk '{s += $1} END {print s}')
cat > "$root/DEBIAN/control" <<EOF
Package: pharos
Version: $version
Architecture: amd64
Maintainer: $MAINTAINER
Installed-Size: $size
Section: net
Priority: optional
Suggests: bird2
Description: Linux Virtual Server (LVS/IPVS) director from one TOML file
 pharos runs a director's VRRP failover, real-server health checks and IPVS
 table as supervised tasks, all from one typed TOML file that is checked
 before anything touches the kernel. It replaces keepalived.conf, ipvsadm
 rules and the sysctl and VIP scripts of a director pair, and imports them
 (pharos import keepalived, pharos import ipvsadm).
 .
 This package runs pharos as a systemd service on an existing Debian box.
 The binary is static and needs no library; [bgp] (VIPs announced over
 BGP) needs BIRD 2 from bird2.
EOF
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

find "$root" -type d -exec chmod 0755 {} +
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb=$OUT/pharos_${version}_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb.tmp" >/dev/null
mv "$deb.tmp" "$deb"
printf '== %s (%s KiB)\n' "$deb" "$(( $(stat -c %s "$deb") / 1024 ))" >&2
