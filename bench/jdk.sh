#!/usr/bin/env bash
# The sidecar pair on JDK 17 against the same build on the newest JDK 21+ under /usr/lib/jvm (with the options the
# launcher gives it), side by side in one run: alternating wrk rounds through each pair, throughput and the two
# sidecars' CPU per request, then RSS.
#   bench/jdk.sh [ROUNDS=5] [SECONDS=10]
# Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rounds=${1:-5}
seconds=${2:-10}
. "$root/bench/common.sh"
[ $have_nginx = 1 ] || { echo "bench: jdk.sh needs nginx as the backend" >&2; exit 2; }
newest=$(newest_jdk)
[ -n "$newest" ] || { echo "bench: no JDK 21+ under /usr/lib/jvm" >&2; exit 2; }

mvn -B -q -DskipTests -pl sidecar,control-plane -am install >/dev/null
start_backend
start_control_plane
opts17=$sidecar_opts
optsnew="$opts17 -XX:+UseCompactObjectHeaders"
SIDECAR_JAVA_OPTS=$opts17 start_sidecar backenda 18000 127.0.0.21 18101 18106 18120 18102
SIDECAR_JAVA_OPTS=$opts17 start_sidecar loadgena 18999 127.0.0.22 18201 18206 18220 18202 --upstream backenda=18300
SIDECAR_JAVA=$newest SIDECAR_JAVA_OPTS=$optsnew start_sidecar backendb 18000 127.0.0.23 18111 18116 18121 18112
SIDECAR_JAVA=$newest SIDECAR_JAVA_OPTS=$optsnew start_sidecar loadgenb 18999 127.0.0.24 18211 18216 18221 18212 --upstream backendb=18301
wait_http http://127.0.0.1:18300/; wait_http http://127.0.0.1:18301/
idle_a=$(( $(rss_mib $backenda_pid) + $(rss_mib $loadgena_pid) )); idle_b=$(( $(rss_mib $backendb_pid) + $(rss_mib $loadgenb_pid) ))

for port in 18300 18301; do wrk -t2 -c32 -d30s "http://127.0.0.1:$port/" >/dev/null; done   # JIT warm-up
echo "round, JDK 17 req/s, µs/request, newest ($newest) req/s, µs/request"
: > "$work/figures"
for r in $(seq 1 "$rounds"); do
  a=$(wrk_round 18300 "$seconds" "$backenda_pid" "$loadgena_pid"); b=$(wrk_round 18301 "$seconds" "$backendb_pid" "$loadgenb_pid")
  echo "$r $a $b" | tee -a "$work/figures"
done
median() { cut -d' ' -f"$1" "$work/figures" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "median: JDK 17 $(median 2) req/s at $(median 3) µs; newest $(median 4) req/s at $(median 5) µs (both sidecars' CPU per request)"
echo "RSS of the pair, idle / loaded: JDK 17 $idle_a / $(( $(rss_mib $backenda_pid) + $(rss_mib $loadgena_pid) )) MiB;" \
     "newest $idle_b / $(( $(rss_mib $backendb_pid) + $(rss_mib $loadgenb_pid) )) MiB"
