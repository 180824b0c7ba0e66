# The active-active VM test (tests/vm_bgp.rs), run by the debug image's
# pharos after it is ready. Network namespaces on one bridge (br0,
# 10.30.0.0/24): an upstream router (rt, BIRD 2 with BFD, ECMP over its
# BGP routes, L4 multipath hashing), three directors (d1..d3, each its own
# `pharos run` with [bgp], running its own BIRD) and two real servers (rs1,
# rs2, busybox httpd and an echo server, the VIPs on lo: DR); a client
# (cl, 10.40.0.2 and thirty more addresses) behind the router. Three VIPs:
# web (10.50.0.1, an HTTP check of a file per director), api (10.50.0.2)
# and echo (10.50.0.3), all mh. Prints `KEY: value` lines the test reads.
export PATH=/usr/sbin:/sbin:/bin
ip() { /usr/sbin/ip "$@"; }
modprobe veth; modprobe bridge
mkdir -p /run/netns
ns() { ip netns exec "$@"; }
for n in rt cl d1 d2 d3 rs1 rs2; do ip netns add $n; ip -n $n link set lo up; done

ip link add br0 type bridge
ip link set br0 up
port() { # namespace, address
  ip link add b-$1 type veth peer name eth0 netns $1
  ip link set b-$1 master br0 up
  ip -n $1 addr add $2/24 dev eth0
  ip -n $1 link set eth0 up
}
port rt 10.30.0.1
for n in 1 2 3; do port d$n 10.30.0.1$n; done
for n in 1 2; do port rs$n 10.30.0.2$n; done
ip link add rt-cl type veth peer name eth0 netns cl
ip link set rt-cl netns rt
ip -n rt addr add 10.40.0.1/24 dev rt-cl
ip -n rt link set rt-cl up
ip -n cl addr add 10.40.0.2/24 dev eth0
ip -n cl link set eth0 up
ip -n cl route add default via 10.40.0.1
# Thirty client addresses (busybox nc cannot choose its source address or
# port; a route's `src` chooses the address).
for a in $(seq 100 129); do ip -n cl addr add 10.40.0.$a/24 dev eth0; done
ns rt sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward; echo 1 > /proc/sys/net/ipv4/fib_multipath_hash_policy'

for n in 1 2; do
  ip -n rs$n route add default via 10.30.0.1
  ip -n rs$n addr add 10.50.0.1/32 dev lo
  ip -n rs$n addr add 10.50.0.2/32 dev lo
  ns rs$n sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/all/arp_announce'
  mkdir -p /tmp/www$n
  echo rs$n > /tmp/www$n/index.html
  for d in 1 2 3; do echo ok > /tmp/www$n/ok-d$d.html; done
  ns rs$n httpd -p 80 -h /tmp/www$n
  # An echo server: a connection that stays open across a failover.
  ip -n rs$n addr add 10.50.0.3/32 dev lo
  /usr/sbin/ip netns exec rs$n nc -ll -p 9000 -e /bin/cat &
done

mkdir -p /tmp/rt
cat > /tmp/rt/bird.conf <<'EOF'
router id 10.30.0.1;
protocol device {}
protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }
protocol kernel { ipv4 { export all; }; merge paths yes; }
template bgp dir { local as 65000; bfd on; ipv4 { import all; export none; }; }
protocol bgp d1 from dir { neighbor 10.30.0.11 as 65010; }
protocol bgp d2 from dir { neighbor 10.30.0.12 as 65010; }
protocol bgp d3 from dir { neighbor 10.30.0.13 as 65010; }
EOF
ns rt bird -c /tmp/rt/bird.conf -s /tmp/rt/bird.ctl -P /tmp/rt/bird.pid

director() { # n
  cat > /tmp/d$1.toml <<EOF
# IPVS makes a connection of any packet, not only a SYN, so a flow the
# router moves here from another director goes on (mh picks the same
# real server).
[system]
sysctl = { "net.ipv4.vs.sloppy_tcp" = 1 }

[interfaces.lo]
addresses = ["10.50.0.1/32", "10.50.0.2/32", "10.50.0.3/32"]

[bgp]
local_as = 65010
router_id = "10.30.0.1$1"
bird_dir = "/tmp/d$1/bird"

[bgp.neighbors.rt]
address = "10.30.0.1"
as = 65000
bfd = true

[services.web]
address = "10.50.0.1:80"
forwarding = "dr"
scheduler = "mh"                        # by the client's address alone
announce = {}
# Lenient timing: a real server flapping under the emulated CPU's load
# would change the mh table for a moment.
check = { type = "http", path = "/ok-d$1.html", interval = "1s", timeout = "1s", retries = 0, rise = 1, fall = 3 }

[services.web.real_servers]
"10.30.0.21:80" = {}
"10.30.0.22:80" = {}

[services.api]
address = "10.50.0.2:80"
forwarding = "dr"
scheduler = "mh"
scheduler_flags = ["port"]
announce = {}
check = { type = "tcp", interval = "1s", timeout = "1s", retries = 0, rise = 1, fall = 3 }

[services.api.real_servers]
"10.30.0.21:80" = {}
"10.30.0.22:80" = {}

[services.echo]
address = "10.50.0.3:9000"
forwarding = "dr"
scheduler = "mh"
announce = {}
check = { type = "tcp", interval = "1s", timeout = "1s", retries = 0, rise = 1, fall = 3 }

[services.echo.real_servers]
"10.30.0.21:9000" = {}
"10.30.0.22:9000" = {}
EOF
  # iproute2 itself (not a shell function), so that $! is pharos's pid.
  /usr/sbin/ip netns exec d$1 pharos run --config /tmp/d$1.toml --state-dir /tmp/d$1 --socket /tmp/d$1.sock > /tmp/d$1.log 2>&1 &
  echo $! > /tmp/d$1.pid
}
for n in 1 2 3; do director $n; done

diagnose() {
  for n in 1 2 3; do echo "--- d$n"; tail -n 15 /tmp/d$n.log; done
  echo "--- rt"; birdcl -s /tmp/rt/bird.ctl show protocols; ip -n rt route
  echo "---"
}
wait_for() { # seconds, command...
  t=$1; shift; i=0
  while ! "$@" > /dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt $((t * 10)) ] && { echo "TIMEOUT: $*"; diagnose; return 1; }
    sleep 0.1
  done
}
now() { cut -d' ' -f1 /proc/uptime; }
hops() { ip -n rt route show $1 | grep -o 'via 10.30.0.1[0-9]' | wc -l; }
hops_are() { [ "$(hops $1)" = "$2" ]; }
via() { ip -n rt route show $1 | grep -o 'via 10.30.0.1[0-9]' | cut -d. -f4 | tr '\n' ' '; }
# One GET to VIP $1 from the client's address 10.40.0.$2; the body's last line.
get() {
  ip -n cl route replace $1/32 via 10.40.0.1 src 10.40.0.$2
  r=$(printf 'GET / HTTP/1.0\r\n\r\n' | ns cl nc -w 3 $1 80 2> /dev/null | tail -n 1)
  [ -n "$r" ] && echo "$r" || echo FAIL
}

wait_for 60 hops_are 10.50.0.1 3
wait_for 20 hops_are 10.50.0.2 3
echo "ECMP WEB: $(hops 10.50.0.1) via $(via 10.50.0.1)"
# The status is read from BIRD every 2 s: it may lag the route.
wait_for 10 sh -c 'pharos status --socket /tmp/d1.sock | grep -q Established'
echo "STATUS D1: $(pharos status --socket /tmp/d1.sock | grep -A 1 'BGP NEIGHBOUR' | tail -n 1 | tr -s ' ')"
echo "STATUS D1 PREFIXES: $(pharos status --socket /tmp/d1.sock | grep -A 2 'ANNOUNCED PREFIX' | tail -n 2 | tr -s ' ' | tr '\n' ';')"

# Thirty flows, each from its own address: the router spreads them over
# the directors (counted in each director's IPVS connection table), and
# mh picks each client's real server.
ports=$(seq 100 129)
before=""
for p in $ports; do before="$before $(get 10.50.0.1 $p)"; done
echo "ANSWERS BEFORE:$before"
spread=""
for n in 1 2 3; do spread="$spread d$n=$(ns d$n ipvsadm -Lnc | grep -c '10.40.0.1[0-2][0-9]:')"; done
echo "SPREAD:$spread"
for n in 1 2 3; do echo "TABLE D$n: $(ns d$n ipvsadm -Ln -t 10.50.0.1:80 | tail -n +4 | tr -s ' \n' ' ')"; done

# A long-lived connection (an echo session, a line every 0.1 s) that the
# router sends through d3: opened again until it lands there.
session() { # name: a line every 0.1 s for 90 s into /tmp/NAME.out, its pid in /tmp/NAME.pid
  (i=0; while [ $i -lt 900 ]; do echo "line $i"; i=$((i + 1)); sleep 0.1; done) |
    /usr/sbin/ip netns exec cl nc 10.50.0.3 9000 > /tmp/$1.out 2> /dev/null &
  echo $! > /tmp/$1.pid
  sleep 1
}
wait_for 20 hops_are 10.50.0.3 3
for try in $(seq 30); do
  session echo
  ns d3 ipvsadm -Lnc | grep ESTABLISHED | grep -q '10.50.0.3:9000' && break
  kill $(cat /tmp/echo.pid); sleep 0.2
done
echo "ECHO ON D3: $(ns d3 ipvsadm -Lnc | grep ESTABLISHED | grep -c '10.50.0.3:9000') after $try tries"
# A second one, from another client address, through d1 or d2.
ip -n cl addr add 10.40.0.150/24 dev eth0
ip -n cl route replace 10.50.0.3/32 via 10.40.0.1 src 10.40.0.150
for try in $(seq 30); do
  session echo2
  # Only a live entry: a killed try's lingers (FIN_WAIT) where it went.
  ns d3 ipvsadm -Lnc | grep ESTABLISHED | grep -q '10.40.0.150:' || break
  kill $(cat /tmp/echo2.pid); sleep 0.2
done
ip -n cl route del 10.50.0.3/32
echo "ECHO2 NOT ON D3: $(ns d1 ipvsadm -Lnc | grep ESTABLISHED | grep -c '10.40.0.150:') $(ns d2 ipvsadm -Lnc | grep ESTABLISHED | grep -c '10.40.0.150:') after $try tries"

# d3 is killed (pharos and its BIRD at once, as a power cut): BFD tells
# the router within a second; the same clients, now through d1 and d2,
# reach the same real servers (every director's mh table is the same).
t0=$(now)
kill -9 $(cat /tmp/d3.pid) $(cat /tmp/d3/bird/bird.pid)
wait_for 10 hops_are 10.50.0.1 2
t1=$(now)
echo "KILL WITHDRAWN: $(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.2f", b - a }') s, via $(via 10.50.0.1)"
# The echo session goes on through d1 or d2, to the same real server.
e0=$(wc -l < /tmp/echo.out); f0=$(wc -l < /tmp/echo2.out); sleep 3
e1=$(wc -l < /tmp/echo.out); f1=$(wc -l < /tmp/echo2.out)
echo "ECHO AFTER KILL: $e0 then $e1 lines"
# The one through another director is untouched.
echo "ECHO2 AFTER KILL: $f0 then $f1 lines"
kill $(cat /tmp/echo.pid) $(cat /tmp/echo2.pid)
after=""
for p in $ports; do after="$after $(get 10.50.0.1 $p)"; done
echo "ANSWERS AFTER:$after"
for n in 1 2; do echo "TABLE AFTER D$n: $(ns d$n ipvsadm -Ln -t 10.50.0.1:80 | tail -n +4 | tr -s ' \n' ' ')"; done
echo "FLAPS: $(grep -c -e 'shutting down 10.30.0.2' /tmp/d1.log /tmp/d2.log /tmp/d3.log | tr '\n' ' ')"

# web's check fails on d2 alone (its file is gone from both real
# servers): d2 withdraws web's VIP and keeps api's.
rm /tmp/www1/ok-d2.html /tmp/www2/ok-d2.html
wait_for 30 hops_are 10.50.0.1 1
echo "UNHEALTHY WEB: $(hops 10.50.0.1) via $(via 10.50.0.1)"
echo "UNHEALTHY API: $(hops 10.50.0.2) via $(via 10.50.0.2)"
echo "UNHEALTHY D2 EVENT: $(grep -c 'withdrawing 10.50.0.1/32: web below quorum' /tmp/d2.log)"
echo ok > /tmp/www1/ok-d2.html; echo ok > /tmp/www2/ok-d2.html
wait_for 30 hops_are 10.50.0.1 2

# A planned stop of d2 (SIGTERM) while the client asks: d2 withdraws
# first; no request fails.
ip -n cl route del 10.50.0.1/32
ns cl sh -c 'i=0; while [ $i -lt 60 ]; do r=$(printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 10.50.0.1 80 2>/dev/null | tail -n 1); echo "${r:-FAIL}"; i=$((i + 1)); sleep 0.05; done' > /tmp/drain.txt &
loop=$!
sleep 1
kill $(cat /tmp/d2.pid)
wait $loop
echo "DRAIN: $(sort /tmp/drain.txt | uniq -c | tr -s ' \n' ' ')"
echo "DRAIN ROUTE: $(hops 10.50.0.1) via $(via 10.50.0.1)"
echo "DRAIN D2 ORDER: $(grep -n -e 'withdrawing 10.50.0.1/32: pharos is stopping' -e 'stopped ipvs' /tmp/d2.log | cut -d: -f1 | tr '\n' ' ')"
