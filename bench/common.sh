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

start_control_plane() {  # on 127.0.0.1:18080 (API) and 18010 (gRPC); writes $work/bundle.pem
  java -Xmx256m -XX:+UseSerialGC -cp "$root/control-plane/target/classes:$root/control-plane/target/lib/*" \
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
sidecar_opts=${SIDECAR_JAVA_OPTS:-"-Xmx64m -Xss512k -XX:+UseSerialGC"}
start_sidecar() {  # name app-port address outbound inbound admin api [extra...]; sets <name>_pid, <name>_ready_ms
  local name=$1 app=$2 addr=$3 out=$4 in=$5 admin=$6 api=$7; shift 7
  token "$name"
  local t0; t0=$(date +%s%N)
  java $sidecar_opts -cp "$root/sidecar/target/classes:$root/sidecar/target/lib/*" io.trellis.sidecar.Main \
    --service "$name" --app-port "$app" --token-file "$work/$name.token" --ca-bundle "$work/bundle.pem" \
    --control-plane 127.0.0.1:18010 --bind-address "$addr" --outbound-port "$out" --inbound-port "$in" \
    --admin-port "$admin" --admin-address 127.0.0.1 --api-port "$api" --state-dir "$work/state-$name" "$@" \
    > "$work/$name.log" 2>&1 &
  pids+=($!); eval "${name}_pid=$!"
  wait_http "http://127.0.0.1:$admin/healthz/ready"
  eval "${name}_ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
}
