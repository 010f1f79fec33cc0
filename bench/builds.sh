#!/usr/bin/env bash
# Two builds of the sidecar pair side by side in one run, in alternating rounds (A, B, A, B...) so that the machine's
# drift hits both alike: wrk through each pair (requests per second and both sidecars' CPU per request), then a
# 200 MB download and upload with curl through each (MB/s).
#   bench/builds.sh BASELINE_CLASSES [ROUNDS=5] [WRK_SECONDS=10]
# BASELINE_CLASSES is another build's sidecar/target/classes (copy it aside before rebuilding); the other pair runs
# this tree's build. Both pairs reach the same nginx backend. WRK_SECONDS=0 skips the request rounds. Prints each
# round, then the median of each column. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
baseline=${1:?usage: bench/builds.sh BASELINE_CLASSES [ROUNDS] [WRK_SECONDS]}
rounds=${2:-5}
seconds=${3:-10}
. "$root/bench/common.sh"
[ $have_nginx = 1 ] || { echo "bench: builds.sh needs nginx as the backend" >&2; exit 2; }

start_backend
start_control_plane
SIDECAR_CLASSES=$baseline start_sidecar backenda 18000 127.0.0.21 18101 18106 18120 18102
SIDECAR_CLASSES=$baseline start_sidecar loadgena 18999 127.0.0.22 18201 18206 18220 18202 --upstream backenda=18300
start_sidecar backendb 18000 127.0.0.23 18111 18116 18121 18112
start_sidecar loadgenb 18999 127.0.0.24 18211 18216 18221 18212 --upstream backendb=18301
wait_http http://127.0.0.1:18300/; wait_http http://127.0.0.1:18301/
median() { cut -d' ' -f"$1" "$2" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

if [ "$seconds" -gt 0 ]; then
  for port in 18300 18301; do wrk -t2 -c32 -d30s "http://127.0.0.1:$port/" >/dev/null; done   # JIT warm-up
  echo "round, A req/s, A µs/request, B req/s, B µs/request"
  : > "$work/requests"
  for round in $(seq 1 "$rounds"); do
    echo "$round $(wrk_round 18300 "$seconds" "$backenda_pid" "$loadgena_pid") $(wrk_round 18301 "$seconds" "$backendb_pid" "$loadgenb_pid")" \
      | tee -a "$work/requests"
  done
  echo "median: A $(median 2 "$work/requests") req/s at $(median 3 "$work/requests") µs, B $(median 4 "$work/requests") req/s" \
       "at $(median 5 "$work/requests") µs (both sidecars' CPU per request)"
fi

head -c 200000000 /dev/urandom > "$work/www/big.bin"; chmod 644 "$work/www/big.bin"
download() { curl -s -o /dev/null --max-time 120 -w '%{speed_download}' "http://127.0.0.1:$1/files/big.bin" || echo 0; }
upload() { curl -s -o /dev/null --max-time 120 -w '%{speed_upload}' -H 'Expect:' \
             -H 'Content-Type: application/octet-stream' --data-binary @"$work/www/big.bin" "http://127.0.0.1:$1/upload" || echo 0; }
mbs() { awk -v b="$1" 'BEGIN {printf "%.0f", b / 1e6}'; }
for port in 18300 18301; do for _ in 1 2 3; do download $port >/dev/null; upload $port >/dev/null; done; done  # JIT warm-up
echo "round, A down, B down, A up, B up (MB/s)"
: > "$work/bulk"
for round in $(seq 1 "$rounds"); do
  ad=$(mbs "$(download 18300)"); bd=$(mbs "$(download 18301)"); au=$(mbs "$(upload 18300)"); bu=$(mbs "$(upload 18301)")
  echo "$round $ad $bd $au $bu" | tee -a "$work/bulk"
done
echo "median: A down $(median 2 "$work/bulk"), B down $(median 3 "$work/bulk"), A up $(median 4 "$work/bulk")," \
     "B up $(median 5 "$work/bulk") MB/s"
