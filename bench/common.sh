# Shared by the bench scripts (sourced): a scratch dir whose processes are stopped by PID on exit, /proc
# readers, and launchers for the control plane and sidecars on loopback.
work=$(mktemp -d /tmp/trellis-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
            for _ in $(seq 1 50); do alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
              [ $alive = 0 ] && break; sleep 0.1; done          # sidecars drain for up to a few seconds
            for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${BENCH_KEEP:-}" ] && trap - EXIT

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }      # utime+stime, in clock ticks
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
wait_http() { for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "timeout: $1" >&2; return 1; }
hz=$(getconf CLK_TCK)
wrk_run() { wrk -t2 -c"$2" -d"$3s" "$1" | awk '/Requests\/sec/ {rps=$2} /requests in/ {n=$1} END {print rps, n}'; }  # url conns seconds -> "req/s requests"
per_request_us() { awk -v t="$1" -v hz="$hz" -v n="$2" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}'; }  # ticks requests -> µs
wrk_round() {  # port seconds pid pid -> "req/s µs-per-request": wrk -c32 through a pair, and the two sidecars' CPU per request
  local c0 c1 rps n
  c0=$(( $(cpu_ticks "$3") + $(cpu_ticks "$4") ))
  read -r rps n < <(wrk_run "http://127.0.0.1:$1/" 32 "$2")
  c1=$(( $(cpu_ticks "$3") + $(cpu_ticks "$4") ))
  echo "$(printf '%.0f' "$rps") $(per_request_us $((c1 - c0)) "$n")"
}

start_control_plane() {  # on 127.0.0.1:18080 (API) and 18010 (gRPC); writes $work/bundle.pem; CONTROL_PLANE_OPTS adds JVM options
  # shellcheck disable=SC2086
  java -Xmx256m -XX:+UseSerialGC ${CONTROL_PLANE_OPTS:-} -cp "$root/control-plane/target/classes:$root/control-plane/target/lib/*" \
    io.trellis.controlplane.Main --data-dir "$work/cp" --api-host 127.0.0.1 --api-port 18080 --grpc-host 127.0.0.1 \
    --grpc-port 18010 > "$work/cp.log" 2>&1 & pids+=($!)
  wait_http http://127.0.0.1:18080/api/v1/ca/bundle
  curl -s http://127.0.0.1:18080/api/v1/ca/bundle > "$work/bundle.pem"
}
admin_token() { cat "$work/cp/admin-token"; }
apply_yaml() { curl -sf -X POST http://127.0.0.1:18080/api/v1/apply -H "Authorization: Bearer $(admin_token)" \
  -H 'Content-Type: application/yaml' --data-binary @- >/dev/null; }
token() { curl -s -X POST http://127.0.0.1:18080/api/v1/tokens -H "Authorization: Bearer $(admin_token)" \
  -H 'Content-Type: application/json' -d "{\"namespace\":\"default\",\"serviceAccount\":\"$1\"}" \
  | sed 's/.*"token":"\([^"]*\)".*/\1/' > "$work/$1.token"; }
# The launcher's measured defaults (sidecar/jvm.options and its malloc arenas).
sidecar_opts=${SIDECAR_JAVA_OPTS:-"$(grep -v '^#' "$root/sidecar/jvm.options" | tr '\n' ' ') -XX:MaxMetaspaceSize=96m"}
start_sidecar() {  # name app-port address outbound inbound admin api [extra...]; sets <name>_pid, <name>_ready_ms
  # SIDECAR_CLASSES picks another build's classes (bench/builds.sh compares two), SIDECAR_LIB another build's
  # dependency jars (a copy of its sidecar/target/lib), SIDECAR_JAVA another java (bench/jdk.sh), SIDECAR_JAVA_OPTS
  # other JVM options.
  local name=$1 app=$2 addr=$3 out=$4 in=$5 admin=$6 api=$7; shift 7
  token "$name"
  local t0; t0=$(date +%s%N)
  MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} ${SIDECAR_JAVA:-java} ${SIDECAR_JAVA_OPTS:-$sidecar_opts} -cp "${SIDECAR_CLASSES:-$root/sidecar/target/classes}:${SIDECAR_LIB:-$root/sidecar/target/lib}/*" io.trellis.sidecar.Main \
    --service "$name" --app-port "$app" --token-file "$work/$name.token" --ca-bundle "$work/bundle.pem" \
    --control-plane 127.0.0.1:18010 --bind-address "$addr" --outbound-port "$out" --inbound-port "$in" \
    --admin-port "$admin" --admin-address 127.0.0.1 --api-port "$api" --state-dir "$work/state-$name" "$@" \
    > "$work/$name.log" 2>&1 &
  pids+=($!); eval "${name}_pid=$!"
  wait_http "http://127.0.0.1:$admin/healthz/ready"
  eval "${name}_ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
}

# The java of the newest JDK of 21 or later under /usr/lib/jvm, or nothing.
newest_jdk() {
  for r in /usr/lib/jvm/*/release; do
    m=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$r")
    [ -n "$m" ] && [ "$m" -ge 21 ] && echo "$m ${r%/release}/bin/java"
  done | sort -n | tail -1 | cut -d' ' -f2
}

for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null && [ -x /usr/sbin/$tool ]; then PATH=$PATH:/usr/sbin; fi
done
have_nginx=1; command -v nginx >/dev/null || have_nginx=0

start_backend() {  # on 127.0.0.1:18000: "ok" at /, the files of $work/www under /files/, POST /upload read in full
  mkdir -p "$work/nginx" "$work/www"; echo ok > "$work/www/index.html"
  chmod 711 "$work"; chmod 755 "$work/www"   # nginx's workers (www-data) serve the files; keys stay in 0700 dirs
  if [ $have_nginx = 1 ]; then
    cat > "$work/nginx/backend.conf" <<CONF
worker_processes 1; pid $work/nginx/backend.pid; error_log $work/nginx/backend.err;
events { worker_connections 1024; }
http { access_log off; client_max_body_size 0; server { listen 127.0.0.1:18000; keepalive_requests 1000000;
       location / { return 200 "ok\n"; } location /files/ { alias $work/www/; }
       # Uploads are read in full before the answer (a bare return answers first and drops the body as it comes).
       location = /upload { client_body_buffer_size 256m; proxy_pass http://127.0.0.1:18000/; } } }
CONF
    nginx -c "$work/nginx/backend.conf" -p "$work/nginx"; sleep 0.5; pids+=("$(cat "$work/nginx/backend.pid")")
  else
    echo "bench: nginx not installed: backend is python's http.server (much slower; ratios still side by side)" >&2
    mkdir -p "$work/www/files"; cp "$work/www/index.html" "$work/www/files/"
    python3 -m http.server 18000 --bind 127.0.0.1 -d "$work/www" >/dev/null 2>&1 & pids+=($!)
  fi
  wait_http http://127.0.0.1:18000/
}

start_nginx_pair() {  # load -> 18401 -> mTLS HTTP/1.1 (ECDSA P-256, TLS 1.3, keep-alive) -> 18402 -> backend; sets pair_master
  ( cd "$work/nginx"
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -subj /CN=bench-ca -days 1 -out ca.pem 2>/dev/null
    for who in server client; do
      openssl ecparam -name prime256v1 -genkey -noout -out $who.key 2>/dev/null
      openssl req -new -key $who.key -subj /CN=$who -out $who.csr 2>/dev/null
      printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' "$who" > $who.ext
      openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile $who.ext -out $who.pem 2>/dev/null
    done
    chmod 600 ./*.key )
  cat > "$work/nginx/pair.conf" <<CONF
worker_processes 1; pid $work/nginx/pair.pid; error_log $work/nginx/pair.err;
events { worker_connections 4096; }
http {
  access_log off; client_max_body_size 0; proxy_request_buffering off;
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
  wait_http http://127.0.0.1:18401/
}
nginx_pair_ticks() { local sum=0; for p in $(pgrep -P "$pair_master") "$pair_master"; do sum=$((sum + $(cpu_ticks "$p"))); done; echo $sum; }
nginx_pair_rss() { local sum=0; for p in $(pgrep -P "$pair_master") "$pair_master"; do sum=$((sum + $(rss_mib "$p"))); done; echo $sum; }
