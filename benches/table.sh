#!/bin/sh
# `make bench`'s one table: the `ROW figure | pharos | anchor | target |
# verdict` lines every bench printed into DIR (default benches/out), in
# the order of the benches, as Markdown for benches/RESULTS.md.
dir=${1:-benches/out}
echo "make bench, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r); the VM lab is QEMU TCG, 1 vCPU"
echo
echo "| figure | pharos | anchor | target | |"
echo "|---|---|---|---|---|"
for f in config_check check_scale boot vrrp_takeover vrrp_many ipvs_scale check_keepalived; do
  [ -f "$dir/$f.txt" ] && sed -n 's/^ROW \(.*\)$/| \1 |/p' "$dir/$f.txt"
done
