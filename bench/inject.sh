#!/usr/bin/env bash
# The admission webhook's cost: AdmissionReviews of a Deployment's pod (the shape the API server sends) POSTed to
# /inject by wrk, beside the cheapest call the same control plane answers (GET /api/v1/ca/bundle) in the same run.
# Prints req/s, latency percentiles and CPU per call of each. Not run by CI.
#   bench/inject.sh [SECONDS=10] [CONNECTIONS=4]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-10}
conns=${2:-4}
. "$root/bench/common.sh"
command -v wrk >/dev/null || { echo "bench: inject.sh needs wrk" >&2; exit 2; }

CONTROL_PLANE_OPTS=-Dtrellis.injector.enabled=true start_control_plane
cp_pid=${pids[-1]}
review="$root/control-plane/src/test/resources/admission/deployment-pod.json"
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$review", "rb"); wrk.body = f:read("*a"); f:close()
LUA
curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary @"$review" http://127.0.0.1:18080/inject
measure() {  # name url [wrk args...]
  local name=$1 url=$2; shift 2
  wrk -t1 -c"$conns" -d3s "$@" "$url" >/dev/null           # JIT warm-up
  local t0 out t1; t0=$(cpu_ticks "$cp_pid")
  out=$(wrk -t1 -c"$conns" -d"${seconds}s" --latency "$@" "$url")
  t1=$(cpu_ticks "$cp_pid")
  local n rps p50 p99
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  echo "$name: $rps req/s, p50 $p50, p99 $p99, $(per_request_us $((t1 - t0)) "$n") µs of control-plane CPU per call ($n calls)"
}
measure "POST /inject (a Deployment's pod)" http://127.0.0.1:18080/inject -s "$work/post.lua"
measure "GET /api/v1/ca/bundle" http://127.0.0.1:18080/api/v1/ca/bundle
