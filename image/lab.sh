#!/usr/bin/env bash
# `make run`: boots the lab from image/out/pharos.img with its embedded
# default config (configs/default.toml): two directors and two real servers,
# the same image and the same file on each, on one emulated L2 segment.
# Each box finds its own [nodes.*] part by its MAC address. QEMU's socket
# netdev joins the VMs over multicast bound to loopback: nothing leaves the
# machine. Every VM runs with -snapshot, so the image is left as it was.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
img=${IMG:-$here/out/pharos.img}
[ -f "$img" ] || { echo "no image at $img: run 'make image'" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/pharos-lab.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

boxes=(lvs1:52:54:00:00:00:01 lvs2:52:54:00:00:00:02 rs1:52:54:00:00:00:11 rs2:52:54:00:00:00:12)
lan_port=$(( 20000 + RANDOM % 20000 ))
qmp_base=$(( lan_port + 1 ))

say() { printf '\n== %s\n' "$*"; }
qmp() { # port command
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf '{"execute":"qmp_capabilities"}\n{"execute":"%s"}\n' "$2" >&3
  sleep 0.5; exec 3<&- 3>&-
}
wait_for() { # log text seconds
  local i=0
  until grep -q "$2" "$1" 2>/dev/null; do
    i=$((i + 1)); [ $i -le $(( $3 * 10 )) ] || { echo "timed out waiting for '$2' in $1" >&2; tail -n 20 "$1" >&2; return 1; }
    sleep 0.1
  done
}

say "booting ${#boxes[@]} VMs from $(basename "$img") (QEMU, TCG): ${boxes[*]%%:*}"
n=0
for box in "${boxes[@]}"; do
  name=${box%%:*} mac=${box#*:}
  qemu-system-x86_64 -accel tcg -m 384 -smp 1 -display none -monitor none -no-reboot -snapshot \
    -serial "file:$work/$name.log" \
    -drive "file=$img,format=raw,if=virtio" \
    -netdev "socket,id=lan,mcast=230.0.0.1:$lan_port,localaddr=127.0.0.1" \
    -device "virtio-net-pci,netdev=lan,mac=$mac" \
    -qmp "tcp:127.0.0.1:$(( qmp_base + n )),server=on,wait=off" &
  pids+=($!)
  n=$((n + 1))
done
started=$(date +%s%N)
for box in "${boxes[@]}"; do
  name=${box%%:*}
  wait_for "$work/$name.log" "pharos: ready in" 180
  node=$(grep -o 'running as node [^:]*: .*' "$work/$name.log" | head -n1 | sed 's/\x1b\[[0-9;]*m//g')
  printf '  %-5s %s; ready %d ms after QEMU start\n' "$name" "${node:-no node matched}" $(( ($(date +%s%N) - started) / 1000000 ))
done

say "what lvs1 printed on its console"
grep -E 'pharos: |INFO' "$work/lvs1.log" | sed -e 's/^[0-9TZ:.-]* *//' -e 's/^/  /'

say "stopping the master director lvs1 (ACPI power button, as a hypervisor does)"
qmp "$qmp_base" system_powerdown
wait_for "$work/lvs1.log" "reboot: Power down" 60
grep -E 'power button|shutting down|stopped|shutdown' "$work/lvs1.log" | sed -e 's/^[0-9TZ:.-]* *INFO [a-z:_]*: //' -e 's/^/  /'

say "stopping the others"
for i in 1 2 3; do qmp $(( qmp_base + i )) system_powerdown; done
for box in "${boxes[@]:1}"; do wait_for "$work/${box%%:*}.log" "reboot: Power down" 60; done

say "summary"
cat <<SUMMARY
  shown: one image and one config on four boxes; each found its node by MAC,
         validated the config, came up as PID 1 (config partition, modules,
         supervisor, control socket, metrics), set its interface's address
         and sysctls from the config (the real servers: ARP silenced for the
         VIP, the VIP on lo) and powered off cleanly on ACPI shutdown, the
         director stopping its tasks in order.
  still to come: IPVS (issue 6), VRRP failover (issue 7), health checks
         (issue 8), and the rest of the network plane (tunnels, VLANs, bonds,
         routes: issue 5). With them this demo sends a client's requests
         through the VIP to both real servers, stops the master and sees the
         backup take over.
SUMMARY
