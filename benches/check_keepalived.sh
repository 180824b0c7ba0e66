# The VM side of benches/check_keepalived.rs: pharos's check task and
# keepalived's checker (copied from the host onto the config partition) do
# the same work, N real servers TCP-checked every second, each in a network
# namespace of its own (its own IPVS table). Every 127.x address is local
# and nothing listens on 8080, so every check is connect → RST → down: the
# same work for both. Prints `BENCH` lines: checks/s achieved (TCP active
# opens), CPU % of the one vCPU, and memory.
export PATH=/usr/sbin:/sbin:/bin
ip() { /usr/sbin/ip "$@"; }
modprobe ip_vs
mkdir -p /run/netns /tmp/ka
xzcat /config/ka/ka.txz | tar -x -C /tmp/ka && chmod +x /tmp/ka/*
SECS=$(cat /config/secs)
# PHAROS_BENCH_BIN's pharos, when the bench was given one.
[ -x /tmp/ka/pharos ] && pharos() { /tmp/ka/pharos "$@"; }
PHAROS=$(command -v pharos); [ -x /tmp/ka/pharos ] && PHAROS=/tmp/ka/pharos
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }
opens() { ip netns exec $1 awk '/^Tcp:/ && $6 ~ /^[0-9]+$/ {print $6}' /proc/net/snmp; }
rss() { awk '/^VmRSS/ {print $2 " kB"}' /proc/$1/status; }
threads() { for p in "$@"; do for t in /proc/$p/task/*; do echo "${t##*/} $(cat $t/comm) $(awk '{print $14 + $15}' $t/stat)"; done; done; }
rsaddr() { echo "127.$((1 + $1 / 62500)).$((($1 / 250) % 250)).$(($1 % 250 + 1))"; }
measure() { # name, netns, pids...
  name=$1; ns=$2; shift 2
  sleep 15
  c0=0; for p in "$@"; do c0=$((c0 + $(cpu $p))); done; o0=$(opens $ns)
  threads "$@" > /tmp/t0
  sleep $SECS
  c1=0; for p in "$@"; do c1=$((c1 + $(cpu $p))); done; o1=$(opens $ns)
  m=""; for p in "$@"; do m="$m $(rss $p)"; done
  # Where the CPU went, by thread (pharos: the check thread beside the
  # runtime's workers, which run the IPVS pass and the status).
  threads "$@" > /tmp/t1
  echo "BENCH $name threads: CPU % of the vCPU by thread:$(awk -v s=$SECS 'NR == FNR {t0[$1] = $3; next} {c[$2] += $3 - t0[$1]} END {for (k in c) if (c[k] > 0) printf " %s %.1f", k, c[k] / s}' /tmp/t0 /tmp/t1)"
  echo "BENCH $name: $(( (o1 - o0) / SECS )) checks/s, CPU $(( (c1 - c0) * 100 / (SECS * 100) ))% of the vCPU, $(awk -v c=$((c1 - c0)) -v n=$((o1 - o0)) 'BEGIN { if (n > 0) printf "%.0f", c * 10000 / n; else print "-" }') µs CPU per check, RSS$m"
}
for N in $(cat /config/sizes); do
  # pharos: services of 100 real servers each.
  {
    echo "[system]"; echo "ip_forward = true"
    i=0; s=0
    while [ $i -lt $N ]; do
      echo; echo "[services.s$s]"; echo "address = \"10.200.$((s / 250)).$((s % 250 + 1)):80\""; echo 'forwarding = "nat"'
      echo 'check = { type = "tcp", port = 8080, interval = "1s", timeout = "1s", retries = 0 }'
      echo "[services.s$s.real_servers]"
      k=0; while [ $k -lt 100 ] && [ $i -lt $N ]; do echo "\"$(rsaddr $i):8080\" = {}"; i=$((i + 1)); k=$((k + 1)); done
      s=$((s + 1))
    done
  } > /tmp/p.toml
  {
    i=0; s=0
    while [ $i -lt $N ]; do
      echo "virtual_server 10.200.$((s / 250)).$((s % 250 + 1)) 80 {"; echo " delay_loop 1"; echo " lb_algo wlc"; echo " lb_kind NAT"; echo " protocol TCP"
      k=0; while [ $k -lt 100 ] && [ $i -lt $N ]; do echo " real_server $(rsaddr $i) 8080 { TCP_CHECK { connect_timeout 1 retry 0 } }"; i=$((i + 1)); k=$((k + 1)); done
      echo "}"; s=$((s + 1))
    done
  } > /tmp/k.conf
  ip netns add p$N; ip -n p$N link set lo up
  # iproute2 itself (not the ip() function), so that $! is the program's pid.
  /usr/sbin/ip netns exec p$N $PHAROS run --config /tmp/p.toml --state-dir /tmp/ps$N --socket /tmp/p$N.sock > /tmp/p$N.log 2>&1 &
  pp=$!
  measure "pharos $N" p$N $pp
  echo "BENCH pharos $N late: $(pharos status --json --socket /tmp/p$N.sock | tr -d ' \n' | grep -o '"schedule":{[^}]*}')"
  # Why the checks failed (nothing listens: "connection refused" expected,
  # anything else is pharos's own trouble, such as running out of fds).
  pharos status --json --socket /tmp/p$N.sock | grep -o '"last": *"[^"]*"' | sort | uniq -c | sort -rn | head -n 3 | sed "s/^/BENCH pharos $N reasons: /"
  kill $pp; wait $pp 2>/dev/null
  ip netns add k$N; ip -n k$N link set lo up
  /usr/sbin/ip netns exec k$N /tmp/ka/ld-linux-x86-64.so.2 --library-path /tmp/ka /tmp/ka/keepalived -n -C -f /tmp/k.conf -p /tmp/k$N.pid -c /tmp/kc$N.pid > /tmp/k$N.log 2>&1 &
  kp=$!
  sleep 2
  kids=$(awk -v p=$kp '$4 == p {print $1}' /proc/[0-9]*/stat 2>/dev/null | tr '\n' ' ')
  [ -z "$kids" ] && { echo "BENCH keepalived $N: did not start"; tail -n 20 /tmp/k$N.log; }
  measure "keepalived $N" k$N $kp $kids
  kill $kp; sleep 2
done
