#!/usr/bin/env bash
# Kafka through the sidecar against a plain Kafka client doing the same work, side by side in one run, on one
# local KRaft broker (LocalKafkaBroker):
#   publish: N events of SIZE bytes from C concurrent callers, each waiting for its acknowledgement
#            (sidecar: POST /v1/publish -> 204; client: producer.send().get(), acks=all, idempotent)
#   deliver: a backlog of N events in 4 partitions POSTed to the same local app, partitions in parallel and each
#            in order, offsets committed after delivery (sidecar: a Subscription with maxInFlight 4;
#            client: KafkaConsumer + HttpClient)
# Also the sidecar's CPU per event (from /proc). Writes bench/results/kafka.md. Not run by CI.
#   bench/kafka.sh [EVENTS=20000] [CONCURRENCY=16] [SIZE=1024]
#   SIDECAR_JAVA_OPTS=... / PUBLISHER_JAVA_OPTS=... (the publisher only, e.g. to profile it with JFR)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
events=${1:-20000}
concurrency=${2:-16}
size=${3:-1024}

mvn -B -q -DskipTests -pl control-plane,sidecar,sample-apps -am install >/dev/null
. "$root/bench/common.sh"
cp="$root/sample-apps/target/classes:$root/sample-apps/target/lib/*"   # Kafka clients, and a quiet logback.xml
bench() { java -Xmx256m -cp "$cp" "$root/bench/KafkaBench.java" "$@"; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# --- broker, control plane, a publisher sidecar and a subscriber sidecar in front of the bench app ---
java -Xmx512m -XX:+UseSerialGC -cp "$cp" io.trellis.samples.broker.LocalKafkaBroker \
  --port 18092 --controller-port 18093 --data-dir "$work/kafka" > "$work/kafka.log" 2>&1 & pids+=($!)
for _ in $(seq 1 300); do (echo > /dev/tcp/127.0.0.1/18092) 2>/dev/null && break; sleep 0.2; done
start_control_plane
apply_yaml <<YAML
kind: MeshConfig
metadata: {name: default}
spec: {kafka: {bootstrapServers: "127.0.0.1:18092"}}
YAML
java -Xmx256m -cp "$cp" "$root/bench/KafkaBench.java" app 18500 & pids+=($!)
wait_http http://127.0.0.1:18500/count
sidecar_opts=${PUBLISHER_JAVA_OPTS:-$sidecar_opts} start_sidecar publisher 18999 127.0.0.31 18301 18306 18320 18302
start_sidecar subscriber 18500 127.0.0.32 18401 18406 18420 18402

threads_started() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^jvm_threads_started_threads_total/ {printf "%d", $2}'; }
publish_run() {  # topic -> the sidecar's figures, and CPU ticks and threads started by the publisher sidecar
  local c0 t0; c0=$(cpu_ticks "$publisher_pid"); t0=$(threads_started 18320)
  publish_out=$(bench publish-sidecar 18302 "$1" "$events" "$concurrency" "$size")
  publish_ticks=$(( $(cpu_ticks "$publisher_pid") - c0 )); publish_threads=$(( $(threads_started 18320) - t0 ))
}
# Warm-up of both paths (JIT, topic creation, connections), then the measured runs.
bench publish-sidecar 18302 warm "$events" "$concurrency" "$size" >/dev/null
bench publish-client 127.0.0.1:18092 warm "$events" "$concurrency" "$size" >/dev/null
publish_run published
client_publish=$(bench publish-client 127.0.0.1:18092 published-client "$events" "$concurrency" "$size")
sidecar_publish=$publish_out
publish_cpu_us=$(awk -v t="$publish_ticks" -v hz="$hz" -v n="$events" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}')

# Delivery: the same backlog in two topics of 4 partitions, one per path; the app counts what arrives.
for topic in warm-client warm-sidecar backlog-client backlog-sidecar; do
  bench topic 127.0.0.1:18092 "$topic" 4
done
bench fill 127.0.0.1:18092 warm-client 5000 "$size"
bench fill 127.0.0.1:18092 warm-sidecar 5000 "$size"
bench fill 127.0.0.1:18092 backlog-client "$events" "$size"
bench fill 127.0.0.1:18092 backlog-sidecar "$events" "$size"
subscribe() {  # name topic
  apply_yaml <<YAML
kind: Subscription
metadata: {name: $1, namespace: default}
spec: {service: subscriber, topics: [$2], path: /events, maxInFlight: 4}
YAML
}
curl -sf -o /dev/null http://127.0.0.1:18500/reset
bench deliver-client 127.0.0.1:18092 warm-client 5000 18500 >/dev/null
curl -sf -o /dev/null http://127.0.0.1:18500/reset
subscribe warm warm-sidecar
bench await 18500 5000 >/dev/null
sleep 2   # let the warm-up subscription's last commits land before counting again

curl -sf -o /dev/null http://127.0.0.1:18500/reset
client_deliver=$(bench deliver-client 127.0.0.1:18092 backlog-client "$events" 18500 >/dev/null; bench await 18500 "$events")
curl -sf -o /dev/null http://127.0.0.1:18500/reset
c0=$(cpu_ticks "$subscriber_pid"); t0=$(threads_started 18420)
subscribe measured backlog-sidecar
sidecar_deliver=$(bench await 18500 "$events")
deliver_threads=$(( $(threads_started 18420) - t0 ))
deliver_cpu_us=$(awk -v t=$(( $(cpu_ticks "$subscriber_pid") - c0 )) -v hz="$hz" -v n="$events" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}')
rss_publisher=$(rss_mib "$publisher_pid"); rss_subscriber=$(rss_mib "$subscriber_pid")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
out="$root/bench/results"; mkdir -p "$out"
{
  echo "Run: $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uname -m)), JDK $(java -version 2>&1 | head -1 | cut -d'"' -f2);"
  echo "$events events of $size bytes, one local KRaft broker; broker, sidecars, app and load share the machine."
  echo
  echo "| Work | plain Kafka client (events/s) | through the sidecar (events/s) | sidecar / client | sidecar CPU per event | failed |"
  echo "|---|---|---|---|---|---|"
  echo "| publish, $concurrency callers each awaiting its ack | $(field "$client_publish" events_per_s) | $(field "$sidecar_publish" events_per_s) |" \
       "$(ratio "$(field "$sidecar_publish" events_per_s)" "$(field "$client_publish" events_per_s)") | $publish_cpu_us µs |" \
       "client $(field "$client_publish" failed), sidecar $(field "$sidecar_publish" failed) |"
  echo "| deliver a backlog to an HTTP app, 4 partitions in parallel | $(field "$client_deliver" events_per_s) | $(field "$sidecar_deliver" events_per_s) |" \
       "$(ratio "$(field "$sidecar_deliver" events_per_s)" "$(field "$client_deliver" events_per_s)") | $deliver_cpu_us µs | - |"
  echo
  echo "Sidecar RSS after the runs: publisher $rss_publisher MiB, subscriber $rss_subscriber MiB (heap -Xmx64m)." \
       "Threads started during the measured runs: publisher $publish_threads, subscriber $deliver_threads."
} | tee "$out/kafka.md"
