#!/usr/bin/env bash
# Time to ready of one sidecar started by ./trellis sidecar under each JVM set-up, side by side in alternating rounds:
#   bench/startup.sh [ROUNDS=3]
# Set-ups: JDK 17 with and without its start-up cache (a CDS archive), the newest JDK 21+ under /usr/lib/jvm with and
# without its cache (JDK 25+: the AOT cache). Per round and set-up: a first start that enrols (fresh state dir, the
# control plane up), a restart from the state dir (control plane up), and a restart while the control plane is
# unreachable (it serves the saved certificate and snapshot). The figure is the sidecar's own "ready in N ms" (from
# JVM start), with the RSS when ready. Round 0 records the caches and is not counted. Not run by CI.
# BASELINE=DIR adds another build's launcher (a checkout built with mvn install) on JDK 17 with its cache, to compare
# two builds side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rounds=${1:-3}
. "$root/bench/common.sh"

mvn -B -q -DskipTests -pl sidecar,control-plane -am install >/dev/null
start_backend
start_control_plane
token web
newest=$(newest_jdk)
setups=("17 java off" "17+cache java on")
if [ -n "$newest" ]; then
  major=$("$newest" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  setups+=("$major $newest off" "$major+cache $newest on")
fi

[ -z "${BASELINE:-}" ] || setups=("baseline+cache java on $BASELINE/trellis" "${setups[@]}")

one() {  # java cache state-dir control-plane launcher -> "ms rss"
  TRELLIS_JAVA=$1 TRELLIS_STARTUP_CACHE=$2 "$5" sidecar --service web --app-port 18000 \
    --token-file "$work/web.token" --ca-bundle "$work/bundle.pem" --control-plane "$4" --bind-address 127.0.0.21 \
    --outbound-port 18101 --inbound-port 18106 --tunnel-port 18108 --admin-port 18120 --admin-address 127.0.0.1 \
    --api-port 18102 --state-dir "$3" > "$work/one.log" 2>&1 &
  local p=$!
  wait_http http://127.0.0.1:18120/healthz/ready
  local ms rss; ms=$(grep -o 'ready in [0-9]* ms' "$work/one.log" | grep -o '[0-9]*'); rss=$(rss_mib $p)
  kill $p; wait $p 2>/dev/null || true
  echo "$ms $rss"
}

echo "round, set-up: enrol ms (RSS MiB), restart ms, restart without control plane ms"
: > "$work/figures"
for round in $(seq 0 "$rounds"); do
  for setup in "${setups[@]}"; do
    read -r label java cache launcher <<< "$setup"
    launcher=${launcher:-$root/trellis}
    rm -rf "$work/state"
    read -r enrol rss <<< "$(one "$java" "$cache" "$work/state" 127.0.0.1:18010 "$launcher")"
    read -r restart _ <<< "$(one "$java" "$cache" "$work/state" 127.0.0.1:18010 "$launcher")"
    read -r outage _ <<< "$(one "$java" "$cache" "$work/state" 127.0.0.1:1 "$launcher")"
    echo "$round $label: $enrol ($rss), $restart, $outage"
    [ "$round" = 0 ] || echo "$label $enrol $rss $restart $outage" >> "$work/figures"
  done
done
median() { grep "^$1 " "$work/figures" | cut -d' ' -f"$2" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "medians over rounds 1-$rounds: set-up, enrol ms, RSS MiB, restart ms, restart without control plane ms"
for setup in "${setups[@]}"; do
  read -r label _ _ <<< "$setup"
  echo "$label $(median "$label" 2) $(median "$label" 3) $(median "$label" 4) $(median "$label" 5)"
done
