# The IPVS VM test (tests/vm_ipvs.rs), run by the debug image's pharos
# after it is ready. pharos (PID 1) is the director; network namespaces are
# the client (cl, routed through the director), the LAN client (lan, on
# the real servers' segment) and two real servers (rs1, rs2), each with a
# busybox httpd and its own pharos in the DR and TUN real-server roles.
# Prints `KEY: value` lines the test reads.
export PATH=/usr/sbin:/sbin:/bin
# busybox sh prefers its own applets to PATH; iproute2's ip has netns.
ip() { /usr/sbin/ip "$@"; }
# The kernel cannot load modules by itself here (no modprobe helper).
modprobe veth; modprobe bridge
mkdir -p /run/netns
for n in cl rs1 rs2 lan; do ip netns add $n; ip -n $n link set lo up; done

ip link add dc0 type veth peer name cl0 netns cl
ip addr add 10.100.0.254/24 dev dc0
ip addr add 10.100.0.1/24 dev dc0
ip -6 addr add 2001:db8:100::1/64 dev dc0 nodad
ip link set dc0 up
ip -n cl addr add 10.100.0.2/24 dev cl0
ip -n cl -6 addr add 2001:db8:100::2/64 dev cl0 nodad
ip -n cl link set cl0 up
ip -n cl route add default via 10.100.0.254
ip -n cl -6 route add default via 2001:db8:100::1

ip link add br1 type bridge
ip link set br1 up
ip addr add 10.101.0.254/24 dev br1
ip -6 addr add 2001:db8:101::1/64 dev br1 nodad
ip addr add 10.101.0.10/32 dev br1
ip addr add 10.101.0.20/32 dev br1
for n in 1 2; do
  ip link add b$n type veth peer name eth0 netns rs$n
  ip link set b$n master br1 up
  ip -n rs$n addr add 10.101.0.$((n + 1))/24 dev eth0
  ip -n rs$n -6 addr add 2001:db8:101::$((n + 1))/64 dev eth0 nodad
  ip -n rs$n link set eth0 up
  ip -n rs$n route add default via 10.101.0.254
  ip -n rs$n -6 route add default via 2001:db8:101::1
  mkdir -p /tmp/www$n
  echo rs$n > /tmp/www$n/index.html
  ip netns exec rs$n httpd -p 80 -h /tmp/www$n
  ip netns exec rs$n httpd -p [::]:80 -h /tmp/www$n 2>/dev/null
  printf '[realserver.dr]\nvips = ["10.101.0.10"]\narp_interfaces = ["eth0"]\n\n[realserver.tun]\nvips = ["10.101.0.20"]\n' > /tmp/rs$n.toml
  ip netns exec rs$n pharos run --config /tmp/rs$n.toml --state-dir /tmp/rs$n --socket /tmp/rs$n.sock > /tmp/rs$n.log 2>&1 &
done
ip link add b9 type veth peer name eth0 netns lan
ip link set b9 master br1 up
ip -n lan addr add 10.101.0.100/24 dev eth0
ip -n lan link set eth0 up

diagnose() {
  for f in /tmp/rs1.log /tmp/d2-first.log /tmp/d2-second.log /tmp/d3.log; do
    [ -f $f ] && { echo "--- $f"; tail -n 20 $f; }
  done
  echo "--- ipvsadm -Ln"; ipvsadm -Ln | head -n 30
  echo "--- ip -br addr"; ip -br addr
  echo "---"
}
wait_for() { # seconds, command...
  t=$1; shift; i=0
  while ! "$@" > /dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt $((t * 10)) ] && { echo "TIMEOUT: $*"; diagnose; return 1; }
    sleep 0.1
  done
}
has_vip() { ip -n $1 -o addr show dev $2 | grep -q " $3/32"; }
for n in 1 2; do
  wait_for 20 has_vip rs$n lo 10.101.0.10
  wait_for 20 has_vip rs$n tunl0 10.101.0.20
done
echo "RS1 SYSCTLS: $(ip netns exec rs1 cat /proc/sys/net/ipv4/conf/all/arp_ignore /proc/sys/net/ipv4/conf/all/arp_announce /proc/sys/net/ipv4/conf/tunl0/rp_filter | tr '\n' ' ')"
wait_for 20 sh -c 'ipvsadm -Ln -t 10.101.0.20:80 | grep -q 10.101.0.3'

# An HTTP GET with nc (busybox wget crashes in the image without NSS);
# prints the body's last line, FAIL when there is none.
get() {
  host=${2%:*}; port=${2##*:}
  case $2 in *]*) host=${2%]*}; host=${host#[}; port=${2##*]}; port=${port#:} ;; *:*) ;; *) host=$2; port= ;; esac
  r=$(printf 'GET / HTTP/1.0\r\n\r\n' | ip netns exec $1 nc -w 3 $host ${port:-80} 2> /tmp/wget.err | tail -n 1)
  [ -n "$r" ] && echo "$r" || echo FAIL
}
# The DR service's real servers are checked: in service after their first pass.
dr_weight() { ipvsadm -Ln -t 10.101.0.10:80 | awk -v rs="$1:80" '$2==rs {print $4}'; }
wait_for 20 sh -c '[ "$(ipvsadm -Ln -t 10.101.0.10:80 | grep -c "Route *1 ")" = 2 ]'
for n in lan cl rs1; do echo "NS $n: $(ip -n $n -br addr | tr -s ' \n' ' ') | $(ip -n $n route | tr '\n' ';')"; done
# The real servers answer directly (no IPVS in the way).
echo "DIRECT: $(get lan 10.101.0.2) $(get lan 10.101.0.3) $(cat /tmp/wget.err)"
for m in "cl 10.100.0.1 nat" "lan 10.101.0.10 dr" "lan 10.101.0.20 tun" "cl 10.100.0.1:81 sticky" "cl [2001:db8:100::1] v6"; do
  set -- $m
  r=""
  for i in 1 2 3 4 5 6; do r="$r $(get $1 $2)"; done
  echo "MODE $3:$r"
done

# Health checks: rs1's httpd stops; its weight goes to 0 and the client
# keeps being answered (a refused connection is retried once, as clients
# do, during the half second before the check notices); it starts again
# and its weight comes back.
ask() { r=$(get lan 10.101.0.10); [ "$r" = FAIL ] && r=$(get lan 10.101.0.10); echo "$r"; }
answers=""
kill $(ps | awk '/[h]ttpd -p 80 -h \/tmp\/www1/ {print $1}')
i=0; while [ "$(dr_weight 10.101.0.2)" != 0 ] && [ $i -lt 100 ]; do answers="$answers $(ask)"; i=$((i + 1)); done
echo "HEALTH DOWN WEIGHT: $(dr_weight 10.101.0.2)"
echo "HEALTH STATUS: $(pharos status --json | tr -d ' \n' | grep -o '"target":"rs:dr/10.101.0.2:80"[^}]*')"
echo "HEALTH PS: $(ps | grep -c '[h]ttpd -p 80 -h /tmp/www1')"
for i in 1 2 3 4; do answers="$answers $(ask)"; done
ip netns exec rs1 httpd -p 80 -h /tmp/www1
i=0; while [ "$(dr_weight 10.101.0.2)" != 1 ] && [ $i -lt 100 ]; do answers="$answers $(ask)"; i=$((i + 1)); done
echo "HEALTH UP WEIGHT: $(dr_weight 10.101.0.2)"
after=""; for i in 1 2 3 4; do after="$after $(ask)"; done
echo "HEALTH ANSWERS:$answers"
echo "HEALTH AFTER:$after"

# The connection-sync daemon: backup always; master too once VI_1 (alone
# on br1, no peer) has become VRRP master and holds its VIP.
wait_for 15 sh -c 'ipvsadm -L --daemon | grep -q backup'
wait_for 30 sh -c 'ipvsadm -L --daemon | grep -q master'
echo "SYNC: $(ipvsadm -L --daemon | sort | tr '\n' ';')"
echo "VRRP: $(pharos status --json | tr -d ' \n' | grep -o '"VI_1":{"state":"[a-z]*"')"
echo "VIP: $(ip -o addr show dev br1 | grep -c 10.101.0.30/24)"

# Scheduler names as the kernel has them.
echo "SCHEDULERS: $(ipvsadm -Ln | awk '/^TCP|^UDP|^FWM/ {print $3}' | sort -u | tr '\n' ' ')"

# Entries pharos does not manage are left alone; and pharos's listing is
# ipvsadm's, byte for byte, for its own tables and ipvsadm-made ones.
ipvsadm -A -f 5 -s rr
ipvsadm -a -f 5 -r 10.101.0.3 -g -w 2
ipvsadm -A -f 6 -6 -s wlc -p 60
ipvsadm -A -u 10.100.0.1:53 -s sh -b sh-fallback -o
ipvsadm -a -u 10.100.0.1:53 -r 10.101.0.2:53 -m -x 50 -y 5
ipvsadm -A -t [2001:db8:100::1]:443 -s lc -p 120
ipvsadm -a -t [2001:db8:100::1]:443 -r [2001:db8:101::3]:443 -m
ipvsadm -A -t 10.100.0.1:443 -s lblc -p 300 -M 255.255.255.0
sleep 3
compare() { # name, ipvsadm args, pharos args
  name=$1; a=$2; p=$3; ok=0
  for try in 1 2 3; do
    ipvsadm $a > /tmp/want.txt 2>&1
    pharos ipvs $p > /tmp/got.txt 2>&1
    cmp -s /tmp/want.txt /tmp/got.txt && { ok=1; break; }
    sleep 1
  done
  if [ $ok = 1 ]; then echo "SAME $name"; else echo "DIFF $name"; diff /tmp/want.txt /tmp/got.txt; fi
}
compare list "-Ln" "list"
compare stats "-Ln --stats" "list --stats"
compare rate "-Ln --rate" "list --rate"
compare save "-Sn" "save"
pharos ipvs capture | sed 's/^/CAPTURE /'
echo "LEFT ALONE: $(ipvsadm -Ln | grep -c -e 'FWM  5' -e '10.100.0.1:53' -e 'FWM  6 IPv6' -e '\[2001:db8:100::1\]:443')"

# Tampering is undone.
ipvsadm -C
if wait_for 15 sh -c 'ipvsadm -Ln -t 10.101.0.20:80 | grep -q 10.101.0.3'; then echo "RESTORED: yes"; fi
ipvsadm -d -t 10.100.0.1:80 -r 10.101.0.3:80
if wait_for 15 sh -c 'ipvsadm -Ln -t 10.100.0.1:80 | grep -q 10.101.0.3'; then echo "RS RESTORED: yes"; fi

# `pharos plan` of a changed file against the live table: an addition, an
# edit and a removal, and nothing written.
cp /config/pharos.toml /tmp/plan.toml
sed -i '/^\[services.nat.real_servers\]/,/^$/ s/"10.101.0.3:80" = {}/"10.101.0.3:80" = { weight = 5 }/' /tmp/plan.toml
sed -i '/^\[services.tun.real_servers\]/,/^$/ { /"10.101.0.3:80"/d }' /tmp/plan.toml
printf '\n[services.extra]\naddress = "10.100.0.1:82"\nforwarding = "nat"\n\n[services.extra.real_servers]\n"10.101.0.2:80" = {}\n' >> /tmp/plan.toml
pharos plan /tmp/plan.toml | sed -n '/^ipvs$/,$p' | sed 's/^/PLAN: /'
if ipvsadm -Ln -t 10.100.0.1:82 > /dev/null 2>&1; then echo "PLAN WROTE: yes"; else echo "PLAN WROTE: nothing"; fi

# A reload while a client is busy with an unchanged service: no failure.
(fails=0; for i in $(seq 60); do [ "$(get cl 10.100.0.1)" = FAIL ] && fails=$((fails + 1)); done; echo "RELOAD FAILURES: $fails") &
loop=$!
sleep 0.5
sed -i 's/persistence = "5m"/persistence = "10m"/' /config/pharos.toml
echo "RELOAD: $(pharos reload 2>&1 | tail -1)"
wait $loop
echo "STICKY NOW: $(ipvsadm -Ln -t 10.100.0.1:81 | grep -o 'persistent [0-9]*')"

# A reload that changes one real server's weight: one IPVS change, the edit
# of that real server, and nothing more over the next reconcile passes.
pharos events --json > /tmp/weight-events.txt 2>&1 &
ev=$!
sleep 0.5
sed -i '/^\[services.nat.real_servers\]/,/^$/ s/"10.101.0.3:80" = {}/"10.101.0.3:80" = { weight = 5 }/' /config/pharos.toml
echo "WEIGHT RELOAD: $(pharos reload 2>&1 | tail -1)"
wait_for 10 sh -c "ipvsadm -Ln -t 10.100.0.1:80 | awk '\$2 == \"10.101.0.3:80\" {print \$4}' | grep -qx 5"
sleep 5
kill $ev
echo "WEIGHT IPVS EVENTS: $(grep -c '"kind":"ipvs"' /tmp/weight-events.txt)"
grep '"kind":"ipvs"' /tmp/weight-events.txt | sed 's/^/WEIGHT EVENT: /'

# A restart adopts the kernel's table: nothing deleted and added again.
ip netns add d2
ip -n d2 link set lo up
printf '[services.a]\naddress = "10.200.0.1:80"\nforwarding = "dr"\n\n[services.a.real_servers]\n"10.200.0.2:80" = {}\n' > /tmp/d2.toml
d2() { ip netns exec d2 pharos run --config /tmp/d2.toml --state-dir /tmp/d2 --socket /tmp/d2.sock > /tmp/d2-$1.log 2>&1 & }
d2 first
pid=$!
wait_for 20 sh -c '/usr/sbin/ip netns exec d2 ipvsadm -Ln | grep -q 10.200.0.2'
kill $pid; wait $pid
d2 second
pid=$!
wait_for 20 pharos status --socket /tmp/d2.sock
sleep 3
# Each IPVS change is one event, logged once with kind=ipvs.
echo "D2 FIRST: $(grep 'kind=ipvs' /tmp/d2-first.log | grep -c ': added ') SECOND: $(grep 'kind=ipvs' /tmp/d2-second.log | grep -c -e ': added ' -e ': removed ')"
kill $pid; wait $pid

# Changes the kernel refuses among changes it takes, all in one send (pharos
# sends a pass's changes many to a system call, and hears back only the
# refusals): a real server at the broadcast address of a subnet on the box
# (10.210.0.255 with 10.210.0.1/24 on lo; the kernel takes only local or
# unicast addresses: EINVAL), between two that are fine, and a service after.
ip netns add d3
ip -n d3 link set lo up
ip -n d3 addr add 10.210.0.1/24 dev lo
printf '[services.b]\naddress = "10.200.0.1:80"\nforwarding = "dr"\n\n[services.b.real_servers]\n"10.200.0.2:80" = {}\n"10.210.0.255:80" = {}\n"10.200.0.3:80" = {}\n\n[services.c]\naddress = "10.200.0.5:80"\nforwarding = "dr"\n\n[services.c.real_servers]\n"10.200.0.4:80" = {}\n' > /tmp/d3.toml
ip netns exec d3 pharos run --config /tmp/d3.toml --state-dir /tmp/d3 --socket /tmp/d3.sock > /tmp/d3.log 2>&1 &
pid=$!
wait_for 20 grep -q 'was refused by the kernel' /tmp/d3.log
echo "REFUSED: $(grep -o 'adding real server .*was refused by the kernel: .*' /tmp/d3.log | sed -n '1s/ kind=.*//p')"
echo "REFUSED PASS: $(grep -o 'applied [0-9]* IPVS changes ([0-9]* refused)' /tmp/d3.log | sed -n 1p)"
echo "REFUSED TABLE: $(/usr/sbin/ip netns exec d3 ipvsadm -Ln | grep -o -e 'TCP  [0-9.:]*' -e '10.2[0-9.]*:80 ' | tr -s ' \n' ' ')"
kill $pid; wait $pid
ip netns del d3

# /metrics with the kernel's figures after the traffic above, kept on the
# config partition for the test to read (a console can interleave it with
# log lines).
printf 'GET /metrics HTTP/1.0\r\n\r\n' | nc -w 3 127.0.0.1 9412 | tr -d '\r' | sed '1,/^$/d' > /config/metrics.txt
sync
echo "METRICS: $(wc -l < /config/metrics.txt) lines"
