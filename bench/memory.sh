#!/usr/bin/env bash
# The sidecar pair's memory under several JVM set-ups, side by side in one run (issue 13): every set-up's pair runs at
# once, idle, then through alternating wrk rounds (the CPU a set-up saves or costs, per request), then a 1 GiB
# download each (the heap bound for streams, and its speed), then idle again. RSS from /proc, per sidecar, as the mean of the pair.
#   bench/memory.sh [ROUNDS=3] [SECONDS=10]
# A set-up is "name|environment|JVM options[|lib]" (SETUPS, newline-separated, replaces the list below), where lib is
# another build's dependency jars (a copy of its sidecar/target/lib, to compare a change of dependencies). Not run by
# CI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rounds=${1:-3}
seconds=${2:-10}
. "$root/bench/common.sh"
[ $have_nginx = 1 ] || { echo "bench: memory.sh needs nginx as the backend" >&2; exit 2; }

# The options before issue 13's memory work, and the parts of today's defaults (sidecar/jvm.options) one by one.
before="-Xmx64m -Xss512k -XX:+UseSerialGC -XX:MaxMetaspaceSize=96m"
trim="-XX:+UnlockExperimentalVMOptions -XX:TrimNativeHeapInterval=5000"
SETUPS=${SETUPS:-"before||$before
arenas+trim|MALLOC_ARENA_MAX=2|$before $trim
default|MALLOC_ARENA_MAX=2|$sidecar_opts
default at -Xmx48m|MALLOC_ARENA_MAX=2|${sidecar_opts/-Xmx64m/-Xmx48m}"}

mvn -B -q -DskipTests -pl sidecar,control-plane -am install >/dev/null
start_backend
start_control_plane
truncate -s 1G "$work/www/huge.bin"; chmod 644 "$work/www/huge.bin"

names=(); i=0
while IFS='|' read -r name env opts lib; do
  [ -n "$name" ] || continue
  a=$((30 + 2 * i)); b=$((31 + 2 * i)); port=$((18300 + i))
  # The environment reaches the JVM through env(1) in front of java (no malloc-arena bound unless the set-up sets one).
  SIDECAR_LIB=$lib SIDECAR_JAVA="env -u MALLOC_ARENA_MAX $env java" SIDECAR_JAVA_OPTS=$opts start_sidecar "s$i" 18000 "127.0.0.$a" $((18100 + 10 * i)) \
    $((18101 + 10 * i)) $((18102 + 10 * i)) $((18103 + 10 * i))
  SIDECAR_LIB=$lib SIDECAR_JAVA="env -u MALLOC_ARENA_MAX $env java" SIDECAR_JAVA_OPTS=$opts start_sidecar "c$i" 18999 "127.0.0.$b" $((18500 + 10 * i)) \
    $((18501 + 10 * i)) $((18502 + 10 * i)) $((18503 + 10 * i)) --upstream "s$i=$port"
  wait_http "http://127.0.0.1:$port/"
  names+=("$name"); i=$((i + 1))
done <<< "$SETUPS"
n=${#names[@]}
pair_rss() { eval "echo \$(( (\$(rss_mib \$s$1_pid) + \$(rss_mib \$c$1_pid)) / 2 ))"; }

sleep 10
declare -A idle loaded gib after cpu speed
for j in $(seq 0 $((n - 1))); do idle[$j]=$(pair_rss "$j"); done
for j in $(seq 0 $((n - 1))); do wrk -t2 -c32 -d30s "http://127.0.0.1:$((18300 + j))/" >/dev/null; done   # JIT warm-up, as run.sh
: > "$work/figures"
# Each round starts at the next set-up (a set-up's place in a round showed a bias of its own), and the figures are
# written in set-up order.
declare -A figure
for r in $(seq 1 "$rounds"); do
  for k in $(seq 0 $((n - 1))); do
    j=$(( (k + r - 1) % n ))
    eval "figure[$j]=\$(wrk_round $((18300 + j)) $seconds \$s${j}_pid \$c${j}_pid)"
  done
  line=$r
  for j in $(seq 0 $((n - 1))); do line="$line ${figure[$j]}"; done
  echo "$line" | tee -a "$work/figures"
done
for j in $(seq 0 $((n - 1))); do
  loaded[$j]=$(pair_rss "$j")
  cpu[$j]=$(cut -d' ' -f$((3 + 2 * j)) "$work/figures" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
done
for j in $(seq 0 $((n - 1))); do
  speed[$j]=$(curl -s -o /dev/null --max-time 300 -w '%{speed_download}' "http://127.0.0.1:$((18300 + j))/files/huge.bin" \
    | awk '{printf "%.0f", $1 / 1e6}')
  gib[$j]=$(pair_rss "$j")
done
sleep 30
for j in $(seq 0 $((n - 1))); do after[$j]=$(pair_rss "$j"); done

echo
echo "Run: $(date -u +%Y-%m-%dT%H:%MZ), $rounds rounds of ${seconds} s; RSS per sidecar (mean of the pair), MiB"
echo
echo "| Set-up | idle | loaded | after 1 GiB | 30 s later | CPU per request (median) | 1 GiB download |"
echo "|---|---|---|---|---|---|---|"
for j in $(seq 0 $((n - 1))); do
  echo "| ${names[$j]} | ${idle[$j]} | ${loaded[$j]} | ${gib[$j]} | ${after[$j]} | ${cpu[$j]} µs | ${speed[$j]} MB/s |"
done
echo
echo "$SETUPS" | sed 's/^/    /'
