#!/usr/bin/env bash
# Loopback benchmark of the mesh pair, side by side in one run:
#   direct:     load -> backend
#   mesh:       load -> client sidecar -> mTLS HTTP/2 -> server sidecar -> backend
#   nginx pair: load -> nginx -> mTLS HTTP/1.1 -> nginx -> backend          (when nginx is installed)
# Figures: throughput (wrk, closed loop), added p50/p99 latency at a fixed rate (FixedRate.java, open loop),
# CPU per request and RSS of the proxies (from /proc), a 200 MB download and upload (curl, best of three after one
# to warm up), the sidecars' RSS after a 1 GiB download, their time to ready (no start-up cache: bench/startup.sh measures that), and,
# when the machine has a JDK 21+ under /usr/lib/jvm, a second sidecar pair on it (throughput and CPU per request).
# Writes bench/results/latest.md; docs/performance.md quotes it. Not run by CI.
#   [WARMUP=30] bench/run.sh [DURATION_SECONDS=15] [RATE=400]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${1:-15}
rate=${2:-400}
warmup=${WARMUP:-30}
conns=32

command -v wrk >/dev/null || command -v /usr/bin/wrk >/dev/null || { echo "bench: needs wrk (apt-get install wrk)" >&2; exit 2; }
mvn -B -q -DskipTests -pl control-plane,sidecar -am install >/dev/null
. "$root/bench/common.sh"

# --- backend: nginx answering "ok" (python's http.server when nginx is missing) ---
start_backend

# --- control plane and the sidecar pair ---
start_control_plane
start_sidecar backend 18000 127.0.0.21 18101 18106 18120 18102
start_sidecar loadgen 18999 127.0.0.22 18201 18206 18220 18202 --upstream backend=18300
wait_http http://127.0.0.1:18300/
sleep 2
idle_rss_client=$(rss_mib "$loadgen_pid"); idle_rss_server=$(rss_mib "$backend_pid")

# --- the same pair on the newest JDK 21+, with compact object headers (bench/jdk.sh compares the two at length) ---
newest=$(newest_jdk)
if [ -n "$newest" ]; then
  newest_version=$("$newest" -version 2>&1 | head -1 | cut -d'"' -f2)
  newest_opts="${SIDECAR_JAVA_OPTS:-$sidecar_opts} -XX:+UseCompactObjectHeaders"
  SIDECAR_JAVA=$newest SIDECAR_JAVA_OPTS=$newest_opts start_sidecar backendn 18000 127.0.0.23 18111 18116 18121 18112
  SIDECAR_JAVA=$newest SIDECAR_JAVA_OPTS=$newest_opts start_sidecar loadgenn 18999 127.0.0.24 18211 18216 18221 18212 \
    --upstream backendn=18301
  wait_http http://127.0.0.1:18301/
fi

# --- nginx pair with mTLS (ECDSA P-256, TLS 1.3, keep-alive on both hops) on 18401 ---
[ $have_nginx = 1 ] && start_nginx_pair

if [ -n "${BENCH_KEEP:-}" ]; then echo "kept running in $work: ${pids[*]}"; exit 0; fi
# --- throughput (closed loop) ---
# Warm-up before each measured run: on 2 shared cores C2 needs ~20 s of load to finish compiling the proxy path.
warm() { wrk -t2 -c$conns -d"${warmup}s" "$1" >/dev/null 2>&1; }
throughput() {  # url -> "req/s requests"
  wrk_run "$1" "$conns" "$duration"
}
warm http://127.0.0.1:18000/
read -r direct_rps _ < <(throughput http://127.0.0.1:18000/)
warm http://127.0.0.1:18300/
c0=$(( $(cpu_ticks "$loadgen_pid") + $(cpu_ticks "$backend_pid") ))
read -r mesh_rps mesh_n < <(throughput http://127.0.0.1:18300/)
c1=$(( $(cpu_ticks "$loadgen_pid") + $(cpu_ticks "$backend_pid") ))
mesh_cpu_us=$(per_request_us $((c1 - c0)) "$mesh_n")
load_rss_client=$(rss_mib "$loadgen_pid"); load_rss_server=$(rss_mib "$backend_pid")
if [ -n "$newest" ]; then
  warm http://127.0.0.1:18301/
  c0=$(( $(cpu_ticks "$loadgenn_pid") + $(cpu_ticks "$backendn_pid") ))
  read -r newest_rps newest_n < <(throughput http://127.0.0.1:18301/)
  c1=$(( $(cpu_ticks "$loadgenn_pid") + $(cpu_ticks "$backendn_pid") ))
  newest_cpu_us=$(per_request_us $((c1 - c0)) "$newest_n")
  newest_rss="client $(rss_mib "$loadgenn_pid") MiB, server $(rss_mib "$backendn_pid") MiB loaded"
  kill "$loadgenn_pid" "$backendn_pid"   # out of the way of the measurements below
fi
if [ $have_nginx = 1 ]; then
  warm http://127.0.0.1:18401/
  n0=$(nginx_pair_ticks)
  read -r nginx_rps nginx_n < <(throughput http://127.0.0.1:18401/)
  n1=$(nginx_pair_ticks)
  nginx_cpu_us=$(per_request_us $((n1 - n0)) "$nginx_n")
  nginx_rss=$(nginx_pair_rss)
fi

# --- latency at a fixed rate (open loop) ---
fixed() { java "$root/bench/FixedRate.java" "$1" "$rate" "$duration" 8; }
fixed http://127.0.0.1:18300/ >/dev/null   # warm-up
direct_lat=$(fixed http://127.0.0.1:18000/)
mesh_lat=$(fixed http://127.0.0.1:18300/)
[ $have_nginx = 1 ] && nginx_lat=$(fixed http://127.0.0.1:18401/)
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# --- bulk: a 200 MB download and upload, best of three each after one of each to warm up, with curl ---
head -c 200000000 /dev/urandom > "$work/www/big.bin"; chmod 644 "$work/www/big.bin"
best_of_three() {  # curl-speed-variable curl-args... -> MB/s, after one unmeasured (the body path's JIT warm-up, as for wrk)
  local what=$1 best=0 speed; shift
  curl -s -o /dev/null --max-time 120 "$@" || true
  for _ in 1 2 3; do
    speed=$(curl -s -o /dev/null --max-time 120 -w "%{$what}" "$@" || echo 0)
    best=$(awk -v a="$best" -v b="$speed" 'BEGIN {print (b > a ? b : a)}')
  done
  awk -v b="$best" 'BEGIN {printf "%.0f", b / 1e6}'
}
bulk() {  # port -> "download upload" in MB/s
  echo "$(best_of_three speed_download "http://127.0.0.1:$1/files/big.bin")" \
       "$(best_of_three speed_upload -H 'Expect:' -H 'Content-Type: application/octet-stream' --data-binary @"$work/www/big.bin" "http://127.0.0.1:$1/upload")"
}
read -r direct_dl direct_ul < <(bulk 18000)
read -r mesh_dl mesh_ul < <(bulk 18300)
[ $have_nginx = 1 ] && read -r nginx_dl nginx_ul < <(bulk 18401)

# --- memory after a 1 GiB stream through the pair (a sparse file: nginx sends it as it would any other) ---
truncate -s 1G "$work/www/huge.bin"; chmod 644 "$work/www/huge.bin"
gib_mbs=$(curl -s -o /dev/null --max-time 300 -w '%{speed_download}' "http://127.0.0.1:18300/files/huge.bin" || echo 0)
gib_rss="client $(rss_mib "$loadgen_pid") MiB, server $(rss_mib "$backend_pid") MiB (at $(awk -v b="$gib_mbs" 'BEGIN {printf "%.0f", b / 1e6}') MB/s)"

out="$root/bench/results"; mkdir -p "$out"
{
  echo "Run: $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uname -m)), JDK $(java -version 2>&1 | head -1 | cut -d'"' -f2);"
  echo "wrk -t2 -c$conns -d${duration}s after a ${warmup} s warm-up of each path; fixed rate $rate req/s over 8 connections for ${duration}s."
  echo "Load generator, proxies and backend share the machine; compare rows of the same run only."
  echo
  echo "| Path | Throughput (req/s) | vs direct | p50 at $rate req/s | p99 at $rate req/s | added p50 / p99 | proxy CPU per request | proxy RSS idle / loaded |"
  echo "|---|---|---|---|---|---|---|---|"
  echo "| direct | $direct_rps | 1.00 | $(field "$direct_lat" p50_us) µs | $(field "$direct_lat" p99_us) µs | - | - | - |"
  echo "| Trellis sidecar pair | $mesh_rps | $(awk -v a="$mesh_rps" -v b="$direct_rps" 'BEGIN {printf "%.2f", a/b}') |" \
       "$(field "$mesh_lat" p50_us) µs | $(field "$mesh_lat" p99_us) µs |" \
       "+$(( $(field "$mesh_lat" p50_us) - $(field "$direct_lat" p50_us) )) / +$(( $(field "$mesh_lat" p99_us) - $(field "$direct_lat" p99_us) )) µs |" \
       "$mesh_cpu_us µs (both sidecars) | client $idle_rss_client / $load_rss_client MiB, server $idle_rss_server / $load_rss_server MiB |"
  if [ $have_nginx = 1 ]; then
    echo "| nginx pair (mTLS) | $nginx_rps | $(awk -v a="$nginx_rps" -v b="$direct_rps" 'BEGIN {printf "%.2f", a/b}') |" \
         "$(field "$nginx_lat" p50_us) µs | $(field "$nginx_lat" p99_us) µs |" \
         "+$(( $(field "$nginx_lat" p50_us) - $(field "$direct_lat" p50_us) )) / +$(( $(field "$nginx_lat" p99_us) - $(field "$direct_lat" p99_us) )) µs |" \
         "$nginx_cpu_us µs (both nginx) | $nginx_rss MiB loaded (both) |"
  fi
  if [ -n "$newest" ]; then
    echo "| Trellis sidecar pair on JDK $newest_version (compact headers) | $newest_rps |" \
         "$(awk -v a="$newest_rps" -v b="$direct_rps" 'BEGIN {printf "%.2f", a/b}') | - | - | - |" \
         "$newest_cpu_us µs (both sidecars) | $newest_rss |"
  fi
  echo
  echo "| Path | 200 MB download | 200 MB upload |"
  echo "|---|---|---|"
  echo "| direct | $direct_dl MB/s | $direct_ul MB/s |"
  echo "| Trellis sidecar pair | $mesh_dl MB/s | $mesh_ul MB/s |"
  [ $have_nginx = 1 ] && echo "| nginx pair (mTLS) | $nginx_dl MB/s | $nginx_ul MB/s |"
  echo
  echo "Sidecar RSS after a 1 GiB download through the pair: $gib_rss."
  echo
  echo "Sidecar time to ready without the start-up cache (process start to /healthz/ready = 200, certificate issued and first snapshot applied):" \
       "server $backend_ready_ms ms, client $loadgen_ready_ms ms. Errors at fixed rate: direct $(field "$direct_lat" errors)," \
       "mesh $(field "$mesh_lat" errors)$([ $have_nginx = 1 ] && echo ", nginx $(field "$nginx_lat" errors)")."
} | tee "$out/latest.md"
