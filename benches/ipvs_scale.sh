# The IPVS scale benchmark's VM side (benches/ipvs_scale.rs): N services of
# 10 real servers applied in one go, then a 1% change, by pharos and by
# ipvsadm-restore, each in a fresh network namespace (its own IPVS table).
# Prints `BENCH key: value` lines. Times from /proc/uptime (10 ms steps);
# pharos's start-to-applied and reload-to-applied by its log lines' own
# timestamps (below).
export PATH=/usr/sbin:/sbin:/bin
# busybox sh prefers its own applets to PATH; iproute2's ip has netns.
ip() { /usr/sbin/ip "$@"; }
N=$(cat /config/n)
now() { cut -d' ' -f1 /proc/uptime; }
secs() { awk -v a=$1 -v b=$2 'BEGIN { printf "%.2f", b - a }'; }
# The wall clock to the microsecond (busybox's date has no %N), and the
# time from such a reading to the Nth log line of pharos's that matches a
# pattern, by that line's own timestamp (UTC, to the microsecond): what
# pharos took, without the bench's polling of a growing log (0.1 s sleeps,
# a grep of 1.3 MB under TCG each).
wall() { adjtimex | awk '/tv_sec/ {s = $2} /tv_usec/ {u = $2} END {printf "%d.%06d", s, u}'; }
# What pharos logs for each IPVS pass that changed something.
PASS='applied [0-9]* IPVS changes'
logged_since() { # wall-reading pattern N
  grep "$2" /tmp/p.log | sed -n "$3p" | cut -c12-26 | awk -v a=$1 '{
    split($1, t, ":"); d = t[1] * 3600 + t[2] * 60 + t[3] - (a % 86400)
    if (d < -43200) d += 86400
    printf "%.2f", d }'
}
addr() { echo "10.$((($1 / 65536) % 256 + 10)).$((($1 / 256) % 256)).$(($1 % 256))"; }
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) {
  a = sprintf("10.%d.%d.%d", int(i / 65536) % 256 + 10, int(i / 256) % 256, i % 256)
  printf "-A -t %s:80 -s wlc\n", a
  for (d = 1; d <= 10; d++) printf "-a -t %s:80 -r 10.250.%d.%d:80 -m -w 1\n", a, int(i / 256) % 256, d } }' > /tmp/restore.txt
awk -v n=$N 'BEGIN { for (i = 0; i < n; i += 10) {
  a = sprintf("10.%d.%d.%d", int(i / 65536) % 256 + 10, int(i / 256) % 256, i % 256)
  printf "-e -t %s:80 -r 10.250.%d.1:80 -m -w 2\n", a, int(i / 256) % 256 } }' > /tmp/edits.txt
gen() { # weight of the changed servers
  awk -v n=$N -v w=$1 'BEGIN { print "[system]\nip_forward = true\n"; for (i = 0; i < n; i++) {
    a = sprintf("10.%d.%d.%d", int(i / 65536) % 256 + 10, int(i / 256) % 256, i % 256)
    printf "[services.s%d]\naddress = \"%s:80\"\nforwarding = \"nat\"\n\n[services.s%d.real_servers]\n", i, a, i
    for (d = 1; d <= 10; d++) printf "\"10.250.%d.%d:80\" = { weight = %d }\n", int(i / 256) % 256, d, (d == 1 && i % 10 == 0) ? w : 1
    print "" } }'
}
# The bench's own files are in the VM's RAM (its root is a tmpfs), beside
# pharos and the kernel's tables: each goes once used, and the changed
# config is made only when the reload needs it (together some 20 MB that,
# kept, crowded pharos out of a 256 MiB VM once the image carried BIRD).
gen 1 > /tmp/big.toml
echo "BENCH entries: $(wc -l < /tmp/restore.txt) ipvsadm lines, $(wc -l < /tmp/edits.txt) edits"
mkdir -p /run/netns
ip netns add a
ip -n a link set lo up  # IPVS accepts a real server only once the local table exists
# Every tool's exit code and complaints are shown: a restore whose every
# line failed (no scheduler module) once looked like a fast one.
echo "BENCH kernel.modprobe: $(cat /proc/sys/kernel/modprobe) ($([ -e "$(cat /proc/sys/kernel/modprobe)" ] && echo present || echo MISSING))"
t0=$(now); ip netns exec a ipvsadm -R < /tmp/restore.txt 2> /tmp/r.err; rc=$?; t1=$(now)
echo "BENCH ipvsadm-restore full: $(secs $t0 $t1) s (exit $rc, $(wc -l < /tmp/r.err) lines of errors$(head -c 200 /tmp/r.err | tr '\n' ';'))"
t0=$(now); ip netns exec a ipvsadm -R < /tmp/edits.txt 2> /tmp/r.err; rc=$?; t1=$(now)
echo "BENCH ipvsadm-restore 1%: $(secs $t0 $t1) s (exit $rc, $(wc -l < /tmp/r.err) lines of errors)"
ip netns exec a ipvsadm -Ln > /tmp/a.txt 2>&1
echo "BENCH ipvsadm table: $(grep -c '^TCP' /tmp/a.txt) services, $(grep -c 'Masq' /tmp/a.txt) real servers ($(head -c 300 /tmp/a.txt | tr '\n' ';'))"
rm -f /tmp/restore.txt /tmp/edits.txt /tmp/a.txt
ip netns del a
ip netns add p
ip -n p link set lo up
t0=$(now); pharos check /tmp/big.toml > /dev/null; rc=$?; t1=$(now)
echo "BENCH pharos check: $(secs $t0 $t1) s (exit $rc)"
t0=$(now); w0=$(wall)
/usr/sbin/ip netns exec p pharos run --config /tmp/big.toml --state-dir /tmp/p --socket /tmp/p.sock > /tmp/p.log 2>&1 &
pid=$!
while ! grep -q "$PASS" /tmp/p.log; do sleep 0.1; done
t1=$(now)
echo "BENCH pharos full (start to applied): $(logged_since $w0 "$PASS" 1) s (by the pass's log line; $(secs $t0 $t1) s polled)"
echo "BENCH pharos full pass: $(grep -o "$PASS.*" /tmp/p.log | sed -n 1p)"
echo "BENCH pharos memory after full: $(grep -e VmHWM -e VmRSS /proc/$pid/status | tr -s ' \n' ' ')"
# Steady: the most of 16 samples 0.5 s apart (the paced whole-table reads,
# one every 2 s after the last, fall among them).
most=0
for _ in $(seq 16); do
  sleep 0.5
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
  [ "$rss" -gt "$most" ] && most=$rss
done
echo "BENCH pharos memory steady: VmRSS: $most kB (the most of 16 samples over 8 s)"
# The peak from here on only (Linux: 5 resets VmHWM to the current RSS).
echo 5 > /proc/$pid/clear_refs
gen 2 > /tmp/big2.toml && mv /tmp/big2.toml /tmp/big.toml
t0=$(now); w0=$(wall); pharos reload --socket /tmp/p.sock > /dev/null 2>&1
t1=$(now)
while [ "$(grep -c "$PASS" /tmp/p.log)" -lt 2 ]; do sleep 0.1; done
t2=$(now)
echo "BENCH pharos 1% (reload to applied): $(logged_since $w0 "$PASS" 2) s (by the pass's log line; $(secs $t0 $t2) s polled; the reload command returned after $(secs $t0 $t1) s)"
echo "BENCH pharos 1% pass: $(grep -o "$PASS.*" /tmp/p.log | sed -n 2p)"
sleep 2
echo "BENCH pharos passes with changes after 2 s idle: $(grep -c "$PASS" /tmp/p.log) (2 expected: nothing re-applied)"
echo "BENCH pharos memory across the reload: $(grep -e VmHWM -e VmRSS /proc/$pid/status | tr -s ' \n' ' ')"
# Anything pharos said was wrong (none expected).
grep -i -e ERROR -e WARN -e panick -e restart /tmp/p.log | head -n 5 | sed 's/^/BENCH pharos said: /'
grep 'ipvs pass\|IPVS changes' /tmp/p.log | sed 's/^/BENCH pharos pass: /'
grep 'start:' /tmp/p.log | sed 's/^/BENCH pharos start: /'
grep 'reload:' /tmp/p.log | sed 's/^/BENCH pharos reload: /'
# Where the start-up's time goes: pharos's first lines, by their stamps.
head -n 12 /tmp/p.log | cut -c 1-200 | sed 's/^/BENCH pharos log: /'
echo "BENCH pharos table: $(ip netns exec p ipvsadm -Ln | grep -c '^TCP') services, $(ip netns exec p ipvsadm -Ln | grep -c 'Masq') real servers, $(ip netns exec p ipvsadm -Ln | grep -c 'Masq    2') at weight 2"
kill $pid
