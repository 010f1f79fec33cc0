#!/usr/bin/env bash
# The transport decision (docs/architecture.md), measured side by side in one run: the smallest sidecar pair on
# each HTTP engine candidate, next to the direct path, today's Trellis pair and the nginx mTLS pair.
#   direct:       load -> backend
#   Netty pair:   load -> bench/transport/NettyPair client -> mTLS HTTP/2 (BoringSSL) -> NettyPair server -> backend
#   Pekko pair:   load -> bench/transport/PekkoPair client -> mTLS HTTP/2 (JSSE)      -> PekkoPair server -> backend
#   Trellis pair: load -> client sidecar -> mTLS HTTP/2 -> server sidecar -> backend   (the whole pipeline, Pekko HTTP)
#   nginx pair:   load -> nginx -> mTLS HTTP/1.1 -> nginx -> backend
# Both candidates use the project's CA, key manager and trust managers, and the same JVM options as the sidecar.
# Figures: throughput and CPU per request (wrk), latency at a fixed rate, RSS, a 200 MB download and upload
# (without `Expect: 100-continue`, which the Netty prototype does not handle); then
# the hostile and third-party cases against each candidate: a strict h2c app (python3-h2) that refuses a missing
# :scheme/:authority and resets one stream among five, 1,100 requests abandoned by their callers, a Rapid Reset
# flood and a CONTINUATION flood. Writes bench/results/transport.md. Not run by CI.
#   [WARMUP=30] bench/transport.sh [DURATION_SECONDS=15] [RATE=400]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${1:-15}
rate=${2:-400}
warmup=${WARMUP:-30}
conns=32
py=/usr/bin/python3   # Debian's python: python3-h2 lives there
command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install wrk)" >&2; exit 2; }
$py -c 'import h2' 2>/dev/null || { echo "bench: needs python3-h2 (apt-get install python3-h2)" >&2; exit 2; }

mvn -B -q -DskipTests -pl control-plane,sidecar -am install >/dev/null
. "$root/bench/common.sh"
cp="$root/sidecar/target/classes:$root/certs/target/classes:$root/sidecar/target/lib/*"
java -cp "$cp" bench/transport/NettyPair.java init "$work/certs" 2>/dev/null

start_pair() {  # engine name client-port server-port app-port [h1|h2c]; sets <name>_client, <name>_server
  local engine=$1 name=$2 cport=$3 sport=$4 app=$5 proto=${6:-h1} class
  class=$([ "$engine" = netty ] && echo NettyPair || echo PekkoPair)
  java $sidecar_opts -cp "$cp" "bench/transport/$class.java" server "$work/certs" "$sport" "$app" "$proto" \
    > "$work/$name-server.log" 2>&1 & pids+=($!); eval "${name}_server=$!"
  java $sidecar_opts -cp "$cp" "bench/transport/$class.java" client "$work/certs" "$cport" "$sport" \
    > "$work/$name-client.log" 2>&1 & pids+=($!); eval "${name}_client=$!"
  for _ in $(seq 1 300); do grep -q ready "$work/$name-client.log" && grep -q ready "$work/$name-server.log" && return 0; sleep 0.1; done
  echo "timeout: $name pair" >&2; return 1
}
alive() { kill -0 "$1" 2>/dev/null && echo alive || echo "died ($(grep -m1 -o 'OutOfMemoryError[^,]*\|Java heap space' "$2" || echo exited))"; }

# --- the paths under load ---
start_backend
head -c 200000000 /dev/urandom > "$work/www/big.bin"; chmod 644 "$work/www/big.bin"
start_pair netty netty 18501 18502 18000
start_pair pekko pekko 18601 18602 18000
start_control_plane
start_sidecar backend 18000 127.0.0.21 18101 18106 18120 18102
start_sidecar loadgen 18999 127.0.0.22 18201 18206 18220 18202 --upstream backend=18300
[ $have_nginx = 1 ] && start_nginx_pair
for url in 18501 18601 18300; do wait_http "http://127.0.0.1:$url/"; done
sleep 2

names=(direct netty pekko trellis nginx)
declare -A url=([direct]=18000 [netty]=18501 [pekko]=18601 [trellis]=18300 [nginx]=18401)
declare -A procs=([direct]="" [netty]="$netty_client $netty_server" [pekko]="$pekko_client $pekko_server"
                  [trellis]="$loadgen_pid $backend_pid" [nginx]="")
[ $have_nginx = 1 ] || names=(direct netty pekko trellis)
ticks() { if [ "$1" = nginx ]; then nginx_pair_ticks; else local s=0; for p in ${procs[$1]}; do s=$((s + $(cpu_ticks "$p"))); done; echo $s; fi; }
rss() { if [ "$1" = nginx ]; then nginx_pair_rss; else local s=""; for p in ${procs[$1]}; do s="$s$(rss_mib "$p") "; done; echo "${s% }"; fi; }
declare -A idle_rss rps cpu_us load_rss lat dl ul
for n in "${names[@]}"; do [ "$n" = direct ] || idle_rss[$n]=$(rss "$n"); done

for n in "${names[@]}"; do
  wrk -t2 -c$conns -d"${warmup}s" "http://127.0.0.1:${url[$n]}/" >/dev/null 2>&1
  t0=$(ticks "$n")
  read -r r total < <(wrk -t2 -c$conns -d"${duration}s" "http://127.0.0.1:${url[$n]}/" | awk '/Requests\/sec/ {rps=$2} /requests in/ {n=$1} END {print rps, n}')
  t1=$(ticks "$n")
  rps[$n]=$r
  [ "$n" = direct ] || cpu_us[$n]=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$total" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}')
  [ "$n" = direct ] || load_rss[$n]=$(rss "$n")
done
for n in "${names[@]}"; do
  java "$root/bench/FixedRate.java" "http://127.0.0.1:${url[$n]}/" "$rate" 5 8 >/dev/null
  lat[$n]=$(java "$root/bench/FixedRate.java" "http://127.0.0.1:${url[$n]}/" "$rate" "$duration" 8)
done
mbs() { awk -v b="$1" 'BEGIN {printf "%.0f", b / 1e6}'; }
for n in "${names[@]}"; do
  best=0; for _ in 1 2 3; do s=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:${url[$n]}/files/big.bin"); best=$(awk -v a="$best" -v b="$s" 'BEGIN {print (b > a ? b : a)}'); done
  dl[$n]=$(mbs "$best")
  best=0; for _ in 1 2 3; do s=$(curl -s -o /dev/null -w '%{speed_upload}' -H 'Expect:' -H 'Content-Type: application/octet-stream' --data-binary @"$work/www/big.bin" "http://127.0.0.1:${url[$n]}/"); best=$(awk -v a="$best" -v b="$s" 'BEGIN {print (b > a ? b : a)}'); done
  ul[$n]=$(mbs "$best")
done

# --- hostile and third-party cases, against each candidate ---
$py bench/transport/slow_http_app.py 18700 > "$work/slow-netty.log" 2>&1 & pids+=($!); slow_a=$!
$py bench/transport/slow_http_app.py 18710 > "$work/slow-pekko.log" 2>&1 & pids+=($!); slow_b=$!
$py e2e/peers/strict_h2_app.py 18701 > "$work/strict.log" 2>&1 & pids+=($!)
sleep 1
declare -A strict aborts cancelled rapid rapid_app continuation after
for engine in netty pekko; do
  base=$([ $engine = netty ] && echo 185 || echo 186); slow=$([ $engine = netty ] && echo 18700 || echo 18710)
  start_pair $engine ${engine}_strict ${base}21 ${base}22 18701 h2c
  strict[$engine]=$($py bench/transport/http1_clients.py neighbours 127.0.0.1 ${base}21 | sed 's/^neighbours: //')
  start_pair $engine ${engine}_slow ${base}11 ${base}12 $slow
  aborts[$engine]=$(timeout 120 $py bench/transport/http1_clients.py aborts 127.0.0.1 ${base}11 1100 | sed 's/^aborts: //')
  sleep 1; cancelled[$engine]="$(grep -c cancelled "$work/slow-$engine.log" || true) of $(grep -c 'started /slow' "$work/slow-$engine.log" || true)"
  before=$(grep -c started "$work/slow-$engine.log" || true)
  rapid[$engine]=$(timeout 60 $py e2e/peers/h2_floods.py rapid-reset 127.0.0.1 ${base}12 "$work/certs" 20000 | sed 's/^rapid-reset: //')
  sleep 2; rapid_app[$engine]=$(( $(grep -c started "$work/slow-$engine.log" || true) - before ))
  # Two connections at once, as in the report that crashed a sidecar.
  continuation[$engine]=$( (timeout 60 $py e2e/peers/h2_floods.py continuation 127.0.0.1 ${base}02 "$work/certs" 25 &
                            timeout 60 $py e2e/peers/h2_floods.py continuation 127.0.0.1 ${base}02 "$work/certs" 25; wait) \
                          | sed 's/^continuation: //' | paste -sd ';' -)
  sleep 2; server_pid=${engine}_server; after[$engine]=$(alive "${!server_pid}" "$work/$engine-server.log")
done

out="$root/bench/results"; mkdir -p "$out"
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
{
  echo "Run: $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uname -m)), JDK $(java -version 2>&1 | head -1 | cut -d'"' -f2), proxies with \`$sidecar_opts\`;"
  echo "wrk -t2 -c$conns -d${duration}s after a ${warmup} s warm-up of each path; fixed rate $rate req/s over 8 connections for ${duration}s;"
  echo "best of three 200 MB transfers with curl. Everything shares the machine; compare rows of this run only."
  echo
  echo "| Path | Throughput (req/s) | vs direct | proxy CPU per request | p50 / p99 at $rate req/s | added p50 / p99 | download / upload 200 MB | RSS idle / loaded (MiB) |"
  echo "|---|---|---|---|---|---|---|---|"
  d50=$(field "${lat[direct]}" p50_us); d99=$(field "${lat[direct]}" p99_us)
  for n in "${names[@]}"; do
    p50=$(field "${lat[$n]}" p50_us); p99=$(field "${lat[$n]}" p99_us)
    echo "| $n | ${rps[$n]} | $(awk -v a="${rps[$n]}" -v b="${rps[direct]}" 'BEGIN {printf "%.2f", a/b}') |" \
         "$([ "$n" = direct ] && echo - || echo "${cpu_us[$n]} µs") | $p50 / $p99 µs |" \
         "$([ "$n" = direct ] && echo - || echo "+$((p50 - d50)) / +$((p99 - d99)) µs") | ${dl[$n]} / ${ul[$n]} MB/s |" \
         "$([ "$n" = direct ] && echo - || echo "${idle_rss[$n]} / ${load_rss[$n]}") |"
  done
  echo
  echo "| Case (third-party peer) | Netty pair | Pekko pair |"
  echo "|---|---|---|"
  echo "| strict h2c app (python3-h2): 5 calls, a 6th reset by the app, then one more | ${strict[netty]} | ${strict[pekko]} |"
  echo "| 1,100 requests abandoned by their callers (Python sockets), then one more | ${aborts[netty]} | ${aborts[pekko]} |"
  echo "| ... the app saw the caller go away (cancelled of started) | ${cancelled[netty]} | ${cancelled[pekko]} |"
  echo "| Rapid Reset (python3-h2 with a valid certificate) | ${rapid[netty]}; ${rapid_app[netty]} reached the app | ${rapid[pekko]}; ${rapid_app[pekko]} reached the app |"
  echo "| CONTINUATION flood, 2 connections x 25 MiB | ${continuation[netty]} | ${continuation[pekko]} |"
  echo "| server process afterwards | ${after[netty]} | ${after[pekko]} |"
} | tee "$out/transport.md"
