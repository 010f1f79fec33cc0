#!/usr/bin/env bash
# Loopback benchmark of the mesh pair, side by side in one run:
#   direct:     load -> backend
#   mesh:       load -> client sidecar -> mTLS HTTP/2 -> server sidecar -> backend
#   nginx pair: load -> nginx -> mTLS HTTP/1.1 -> nginx -> backend          (when nginx is installed)
# Figures: throughput (wrk, closed loop), added p50/p99 latency at a fixed rate (FixedRate.java, open loop),
# CPU per request and RSS of the proxies (from /proc), and the sidecars' time to ready.
# Writes bench/results/latest.md; docs/performance.md quotes it. Not run by CI.
#   [WARMUP=30] bench/run.sh [DURATION_SECONDS=15] [RATE=400]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${1:-15}
rate=${2:-400}
warmup=${WARMUP:-30}
conns=32

for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null && [ -x /usr/sbin/$tool ]; then PATH=$PATH:/usr/sbin; fi
done
command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install wrk)" >&2; exit 2; }
have_nginx=1; command -v nginx >/dev/null || have_nginx=0

mvn -B -q -DskipTests -pl control-plane,sidecar -am install >/dev/null
. "$root/bench/common.sh"

# --- backend: nginx answering "ok" (a JDK HttpServer when nginx is missing) ---
mkdir -p "$work/nginx"
if [ $have_nginx = 1 ]; then
  cat > "$work/nginx/backend.conf" <<CONF
worker_processes 1; pid $work/nginx/backend.pid; error_log $work/nginx/backend.err;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:18000; keepalive_requests 1000000;
       location / { return 200 "ok\n"; } } }
CONF
  nginx -c "$work/nginx/backend.conf" -p "$work/nginx"; sleep 0.5; pids+=("$(cat "$work/nginx/backend.pid")")
else
  echo "bench: nginx not installed: backend is python's http.server (much slower; ratios still side by side)" >&2
  mkdir -p "$work/www"; echo ok > "$work/www/index.html"
  python3 -m http.server 18000 --bind 127.0.0.1 -d "$work/www" >/dev/null 2>&1 & pids+=($!)
fi
wait_http http://127.0.0.1:18000/

# --- control plane and the sidecar pair ---
start_control_plane
start_sidecar backend 18000 127.0.0.21 18101 18106 18120 18102
start_sidecar loadgen 18999 127.0.0.22 18201 18206 18220 18202 --upstream backend=18300
wait_http http://127.0.0.1:18300/
sleep 2
idle_rss_client=$(rss_mib "$loadgen_pid"); idle_rss_server=$(rss_mib "$backend_pid")

# --- nginx pair with mTLS (ECDSA P-256, TLS 1.3, keep-alive on both hops) ---
if [ $have_nginx = 1 ]; then
  cd "$work/nginx"
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
  openssl req -x509 -new -key ca.key -subj /CN=bench-ca -days 1 -out ca.pem 2>/dev/null
  for who in server client; do
    openssl ecparam -name prime256v1 -genkey -noout -out $who.key 2>/dev/null
    openssl req -new -key $who.key -subj /CN=$who -out $who.csr 2>/dev/null
    printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' "$who" > $who.ext
    openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile $who.ext -out $who.pem 2>/dev/null
  done
  chmod 600 ./*.key
  cat > pair.conf <<CONF
worker_processes 1; pid $work/nginx/pair.pid; error_log $work/nginx/pair.err;
events { worker_connections 4096; }
http {
  access_log off;
  upstream mtls_peer { server 127.0.0.1:18402; keepalive 64; }
  upstream backend { server 127.0.0.1:18000; keepalive 64; }
  server { listen 127.0.0.1:18401; keepalive_requests 1000000;
    location / { proxy_pass https://mtls_peer; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_certificate $work/nginx/client.pem; proxy_ssl_certificate_key $work/nginx/client.key;
      proxy_ssl_trusted_certificate $work/nginx/ca.pem; proxy_ssl_verify on; proxy_ssl_name server;
      proxy_ssl_session_reuse on; proxy_ssl_protocols TLSv1.3; } }
  server { listen 127.0.0.1:18402 ssl; keepalive_requests 1000000;
    ssl_certificate $work/nginx/server.pem; ssl_certificate_key $work/nginx/server.key; ssl_protocols TLSv1.3;
    ssl_client_certificate $work/nginx/ca.pem; ssl_verify_client on;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
CONF
  nginx -c "$work/nginx/pair.conf" -p "$work/nginx"; sleep 0.5
  pair_master=$(cat "$work/nginx/pair.pid"); pids+=("$pair_master")
  cd "$root"
  wait_http http://127.0.0.1:18401/
fi

nginx_pair_ticks() { local sum=0; for p in $(pgrep -P "$pair_master") "$pair_master"; do sum=$((sum + $(cpu_ticks "$p"))); done; echo $sum; }

if [ -n "${BENCH_KEEP:-}" ]; then echo "kept running in $work: ${pids[*]}"; exit 0; fi
# --- throughput (closed loop) ---
# Warm-up before each measured run: on 2 shared cores C2 needs ~20 s of load to finish compiling the proxy path.
warm() { wrk -t2 -c$conns -d"${warmup}s" "$1" >/dev/null 2>&1; }
throughput() {  # url -> "req/s requests"
  wrk -t2 -c$conns -d"${duration}s" "$1" | awk '/Requests\/sec/ {rps=$2} /requests in/ {n=$1} END {print rps, n}'
}
warm http://127.0.0.1:18000/
read -r direct_rps _ < <(throughput http://127.0.0.1:18000/)
warm http://127.0.0.1:18300/
c0=$(( $(cpu_ticks "$loadgen_pid") + $(cpu_ticks "$backend_pid") ))
read -r mesh_rps mesh_n < <(throughput http://127.0.0.1:18300/)
c1=$(( $(cpu_ticks "$loadgen_pid") + $(cpu_ticks "$backend_pid") ))
mesh_cpu_us=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v n="$mesh_n" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}')
load_rss_client=$(rss_mib "$loadgen_pid"); load_rss_server=$(rss_mib "$backend_pid")
if [ $have_nginx = 1 ]; then
  warm http://127.0.0.1:18401/
  n0=$(nginx_pair_ticks)
  read -r nginx_rps nginx_n < <(throughput http://127.0.0.1:18401/)
  n1=$(nginx_pair_ticks)
  nginx_cpu_us=$(awk -v t=$((n1 - n0)) -v hz="$hz" -v n="$nginx_n" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}')
  nginx_rss=0; for p in $(pgrep -P "$pair_master") "$pair_master"; do nginx_rss=$((nginx_rss + $(rss_mib "$p"))); done
fi

# --- latency at a fixed rate (open loop) ---
fixed() { java "$root/bench/FixedRate.java" "$1" "$rate" "$duration" 8; }
fixed http://127.0.0.1:18300/ >/dev/null   # warm-up
direct_lat=$(fixed http://127.0.0.1:18000/)
mesh_lat=$(fixed http://127.0.0.1:18300/)
[ $have_nginx = 1 ] && nginx_lat=$(fixed http://127.0.0.1:18401/)
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

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
  echo
  echo "Sidecar time to ready (process start to /healthz/ready = 200, certificate issued and first snapshot applied):" \
       "server $backend_ready_ms ms, client $loadgen_ready_ms ms. Errors at fixed rate: direct $(field "$direct_lat" errors)," \
       "mesh $(field "$mesh_lat" errors)$([ $have_nginx = 1 ] && echo ", nginx $(field "$nginx_lat" errors)")."
} | tee "$out/latest.md"
