# The debug boxes' side of the pair lab (`make run`, tests/vm_pair.rs):
# run by the debug image's PID 1 once pharos is ready (kernel command line
# `pharos.test=/config/box.sh`). A real server (host name rs*) starts its
# web server at once; then every box reads verbs from its serial console,
# one per line, which the lab types into QEMU's stdin:
#
#   web stop | web start         this real server's HTTP server (rs*)
#   requests HOST PORT EVERY     a GET every EVERY seconds, each on its own
#                                connection with a 1 s timeout, forever
#   stream HOST PORT PATH        one long-lived GET, its body read line by line
#   sh ID COMMAND...             COMMAND in a shell (a debug director's faults)
#
# What happens is printed as lines the lab reads, times from /proc/uptime:
#   LAB READY <name>
#   REQ <seq> <start> <end> <body's last line, or FAIL>
#   STREAM <t> <line>            STREAM-END <t>
#   WEB <stopped|started> <t>
#   SH <id> <a line of its output>   SH-END <id> <exit code>
export PATH=/usr/sbin:/sbin:/bin
name=$(hostname)

now() { read -r t _ < /proc/uptime; }

web() {
  case $1 in
    start)
      if ! { [ -s /tmp/httpd.pid ] && kill -0 "$(cat /tmp/httpd.pid)" 2>/dev/null; }; then
        httpd -f -p 80 -h /tmp/www & echo $! > /tmp/httpd.pid
      fi
      now; echo "WEB started $t" ;;
    stop)
      # The listener only: a connection it already forked goes on.
      [ -s /tmp/httpd.pid ] && kill "$(cat /tmp/httpd.pid)"
      rm -f /tmp/httpd.pid
      now; echo "WEB stopped $t" ;;
    *) echo "LAB ERROR web '$1': say start or stop" ;;
  esac
}

request() { # host port seq
  now; t0=$t
  body=$(printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" | timeout 1 nc "$1" "$2" 2>/dev/null | tail -n 1 | tr -d '\r')
  now; echo "REQ $3 $t0 $t ${body:-FAIL}"
}

requests() { # host port every
  i=0
  while :; do
    i=$((i + 1))
    request "$1" "$2" $i &
    sleep "$3"
  done
}

stream() { # host port path
  { printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$3" "$1"; sleep 100000; } | nc "$1" "$2" 2>/dev/null |
    while read -r line; do now; echo "STREAM $t $line" | tr -d '\r'; done
  now; echo "STREAM-END $t"
}

case $name in
  rs*)
    mkdir -p /tmp/www/cgi-bin
    echo "$name" > /tmp/www/index.html
    # A long-lived response: one numbered line a second, for as long as the
    # client keeps the connection.
    cat > /tmp/www/cgi-bin/stream <<CGI
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
i=0
while :; do i=\$((i + 1)); echo "$name \$i"; sleep 1; done
CGI
    chmod +x /tmp/www/cgi-bin/stream
    web start ;;
esac

stty -echo 2>/dev/null
echo "LAB READY $name"
while read -r verb args; do
  case $verb in
    web) web $args ;;
    requests) requests $args & ;;
    stream) stream $args & ;;
    sh)
      id=${args%% *}
      out=$(eval "${args#* }" 2>&1); rc=$?
      [ -n "$out" ] && printf '%s\n' "$out" | while IFS= read -r l; do echo "SH $id $l"; done
      echo "SH-END $id $rc" ;;
    "") ;;
    *) echo "LAB ERROR unknown verb '$verb'" ;;
  esac
done
