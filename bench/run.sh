#!/usr/bin/env bash
# Regenerates bench/RESULTS.md and bench/concurrency.png: micro benchmarks, a fleet scaling table
# (enrollment, disk, memory, round trips, replay) and a concurrency sweep, each against a real
# `cairn serve` (embedded log, TLS with client certificates) on loopback, driven by cairn-devsim.
# SIZES="1000 10000 100000" (default) sets the scaling rows, PUSH_DEVICES (10000) the push rows,
# DDM_DEVICES (10000) the declarative management row; the full run takes about 17 minutes.
# ONLY=ddm runs the declarative management section alone and prints it; ONLY=ade the Automated
# Device Enrollment section (ADE_DEVICES 10000 in Apple Business Manager, ADE_ENROLLED 1000 enroll).
# ONLY=peer the side-by-side section: Cairn's rows, and another server's with PEER_URL (below).
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh >&2  # stdout is for what a section prints (ONLY=ddm)
ops/build.sh build >&2
sizes=${SIZES:-1000 10000 100000}
push_devices=${PUSH_DEVICES:-10000}
cairn=build/cairn
devsim=build/bench/cairn-devsim
work=$(mktemp -d)
server_pid=""
cluster_pids=""
trap 'kill $server_pid $cluster_pids 2>/dev/null || true; rm -rf "$work"' EXIT

start_node() {  # role, data dir, port, more options; sets node_pid (and key, pass when new)
  role=$1
  data=$2
  port=$3
  shift 3
  local new=0
  if [ ! -e "$data/api_keys" ]; then
    key=$("$cairn" apikey create --data-dir "$data" --name bench --role admin)
    new=1
  fi
  "$cairn" "$role" --data-dir "$data" --listen "127.0.0.1:$port" "$@" >"$data.out" 2>"$data.err" &
  node_pid=$!
  for _ in $(seq 100); do grep -q "cairn serving" "$data.out" 2>/dev/null && break; sleep 0.2; done
  if [ "$new" = 1 ]; then pass=$("$cairn" pki passphrase --data-dir "$data"); fi
}
start_server() {  # data dir, port, more `cairn serve` options
  start_node serve "$@"
  server_pid=$node_pid
}
stop_server() {
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}
devsim() {
  "$devsim" --url "https://127.0.0.1:$port" --api-key "$key" --ca-cert "$data/pki/ca.crt" \
    --ca-key "$data/pki/ca.key" --ca-key-pass "$pass" --server-pid "$server_pid" "$@" 2>/dev/null
}
replay_data() {  # replays $data's log into a fresh projection; sets events and replay_s
  local replay_start
  replay_start=$(date +%s.%N)
  events=$("$cairn" replay --data-dir "$data" 2>/dev/null | awk '/^events/{print $2}')
  replay_s=$(python3 -c "import time; print(round(time.time() - $replay_start, 2))")
}
field() { python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(eval(sys.argv[2]))" "$1" "$2"; }

# Declarative management: a fresh server; 10,000 devices are given a set of 5 declarations (one
# /v1/enrollment-sets call each, as KMFDDM's scripts make them), each syncs it in its next session,
# then each sends a status report on its own; then a replay of the log. Prints its section.
ddm_section() {
  local n=${DDM_DEVICES:-10000}
  start_server "$work/ddm" 19509
  local json
  json=$(devsim --devices "$n" --commands 0 --concurrency 64 --ddm 1)
  stop_server
  replay_data
  echo "## Declarative management (DDM)"
  echo
  echo "A fresh \`cairn serve\`; \`cairn-devsim --devices $n --commands 0 --concurrency 64 --ddm 1\`:"
  echo "devsim stores 5 declarations (an activation naming a passcode policy, a software update"
  echo "enforcement, a status subscription and a test configuration) and a set holding the activation,"
  echo "gives the set to each device with its own \`PUT /v1/enrollment-sets/{id}?set=\` (64 at a time,"
  echo "each queueing that device's DeclarativeManagement command), then every device runs one session:"
  echo "a new TLS connection, Idle, the command, its result, and the sync it asks for (tokens,"
  echo "declaration-items, the 5 declarations, a status report). A sync is counted when its report is"
  echo "answered, which is after the projection applied it (check-ins wait for their event to be"
  echo "applied). Server CPU per sync is that whole session's. Then every device's user removes its"
  echo "passcode and the device sends a status report of the change (passcode.is-present and"
  echo "is-compliant: two values and their filter entries change) on a new connection. Then"
  echo "\`cairn replay\` of the log."
  echo
  echo "| devices | declarations | assigned/s | syncs/s | sync p50 ms | sync p99 ms | requests per session | server CPU µs/sync | status reports/s | report p99 ms | server CPU µs/report | server peak RSS MiB | events | replay s | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  field "$json" "f\"| {r['devices']} | {r['ddm']['declarations']} | {r['ddm']['assigned_per_second']:.0f} | {r['ddm']['syncs_per_second']:.0f} | {r['stats']['kinds']['ddm_sync']['p50_us']/1000:.1f} | {r['stats']['kinds']['ddm_sync']['p99_us']/1000:.1f} | {r['round_trips']/max(r['ddm']['syncs'],1):.1f} | {r['ddm']['server_cpu_us_per_sync']:.0f} | {r['ddm']['status_reports_per_second']:.0f} | {r['stats']['kinds']['ddm_status']['p99_us']/1000:.1f} | {r['ddm']['server_cpu_us_per_status_report']:.0f} | {r['server_peak_rss_kib']/1024:.0f} | $events | $replay_s | {sum(r['stats']['errors'].values())} |\""
}
# Automated Device Enrollment: a fresh server whose ADE service is devsim's simulator. 10,000
# devices appear in Apple Business Manager; the server fetches them and assigns them a profile;
# 1,000 of them enroll at first boot and drain two commands after DeviceConfigured; then a replay.
ade_section() {
  local n=${ADE_DEVICES:-10000} enrolled=${ADE_ENROLLED:-1000}
  mkdir -p "$work/ade"
  start_server "$work/ade" 19511 --ade-url https://127.0.0.1:19512 \
    --ade-ca-file "$work/ade/pki/ca.crt" --ade-device-ca "$work/ade/pki/ca.crt"
  local json
  json=$(devsim --devices "$enrolled" --commands 2 --concurrency 32 --ade "$n" \
    --ade-sim 127.0.0.1:19512)
  stop_server
  replay_data
  echo "## Automated Device Enrollment (ADE)"
  echo
  echo "A fresh \`cairn serve --ade-url <devsim's ADE simulator> --ade-ca-file <CA> --ade-device-ca <CA>\`;"
  echo "\`cairn-devsim --ade $n --devices $enrolled --commands 2 --concurrency 32\`: devsim makes the"
  echo "token certificate and uploads the token file the simulator encrypts to it, stores a profile"
  echo "(await_device_configured) as the token's default, makes $n devices appear in the simulator"
  echo "and asks for a sync. *Sync* is from there until the simulator has assigned every device: a"
  echo "session (OAuth 1.0a), the fetch (pages of 1,000, recorded 100 devices per event), the profile"
  echo "defined, assignments of 1,000 per call. Then $enrolled devices boot: each POSTs its MachineInfo"
  echo "(CMS-signed by a device identity) on a new connection, gets the signed enrollment profile,"
  echo "makes an RSA-2048 key and gets its identity by SCEP (GetCACert, PKIOperation: a connection"
  echo "each), then Authenticate and TokenUpdate (AwaitingConfiguration) over mTLS, 32 devices at"
  echo "a time. devsim's key generation shares the 2 cores with the server and bounds enrollments/s;"
  echo "server CPU per enrollment is the server's whole share of one. Then each device's session:"
  echo "DeviceConfigured and two commands. Then \`cairn replay\` of the log."
  echo
  echo "| devices in ABM | sync s | ADE calls (sessions, fetch, sync) | enrolled | enrollments/s | first boot p50 ms | p99 ms | server CPU ms/enrollment | round trips after | server peak RSS MiB | events | replay s | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  field "$json" "f\"| {r['ade']['devices']} | {r['ade']['sync_seconds']:.2f} | {r['ade']['sessions']}, {r['ade']['fetch_calls']}, {r['ade']['sync_calls']} | {r['ade']['enrolled']} | {r['ade']['enrollments_per_second']:.1f} | {r['stats']['kinds']['ade_first_boot']['p50_us']/1000:.0f} | {r['stats']['kinds']['ade_first_boot']['p99_us']/1000:.0f} | {r['ade']['server_cpu_us_per_enrollment']/1000:.1f} | {r['round_trips']} | {r['server_peak_rss_kib']/1024:.0f} | $events | $replay_s | {sum(r['stats']['errors'].values())} |\""
}
# Side by side: Cairn and another MDM server (NanoMDM or any server speaking the protocol and
# NanoMDM's /v1/enqueue), each driven by the same cairn-devsim load: PEER_DEVICES (250) devices x
# 20 commands, 32 at once, a new connection per device session. The peer is started beforehand,
# trusting PEER_CA_CERT for device identities (devsim issues them with PEER_CA_KEY, unencrypted
# PEM); it is reached at PEER_URL with Mdm-Signature, its API with PEER_KEY (Basic auth as
# PEER_API_USER, nanomdm); PEER_PID gives its CPU; PEER_CHECKIN_PATH (/checkin; NanoMDM without
# -checkin: /mdm), PEER_NAME (peer), PEER_PUSH=1 if it has a push certificate. Prints its section.
peer_section() {
  local n=${PEER_DEVICES:-250} rows="" json
  local load=(--devices "$n" --commands 20 --concurrency 32)
  summary() {  # label, devsim json
    field "$2" "f\"| $1 | {r['round_trips_per_second']:.0f} | {r.get('server_cpu_us_per_round_trip', float('nan')):.0f} | {r['stats']['kinds']['result']['p50_us']/1000:.1f} | {r['stats']['kinds']['result']['p99_us']/1000:.1f} | {r['tls_handshakes']['resumed']} of {r['tls_handshakes']['new'] + r['tls_handshakes']['resumed']} | {sum(r['stats']['errors'].values())} |\""
  }
  start_server "$work/peer-signature" 19510 --no-tls
  json=$("$devsim" --url http://127.0.0.1:19510 --identity signature --api-key "$key" \
    --ca-cert "$data/pki/ca.crt" --ca-key "$data/pki/ca.key" --ca-key-pass "$pass" \
    --server-pid "$server_pid" "${load[@]}" --prefix sig 2>/dev/null)
  stop_server
  rows+=$(summary "Cairn, embedded log, HTTP + Mdm-Signature" "$json")$'\n'
  for resume in 1 0; do
    start_server "$work/peer-mtls-$resume" 19511
    json=$(devsim "${load[@]}" --tls-resume "$resume" --prefix mtls)
    stop_server
    rows+=$(summary "Cairn, embedded log, TLS + mTLS$([ "$resume" = 1 ] && echo ', sessions resumed' || echo ', every session new')" "$json")$'\n'
  done
  if [ -n "${PEER_URL:-}" ]; then
    json=$("$devsim" --url "$PEER_URL" --identity signature --api-key "${PEER_KEY:?PEER_KEY}" \
      --api-user "${PEER_API_USER:-nanomdm}" --checkin-path "${PEER_CHECKIN_PATH:-/checkin}" \
      --ca-cert "${PEER_CA_CERT:?PEER_CA_CERT}" --ca-key "${PEER_CA_KEY:?PEER_CA_KEY}" \
      --no-push "$([ "${PEER_PUSH:-0}" = 1 ] && echo 0 || echo 1)" \
      ${PEER_PID:+--server-pid "$PEER_PID"} "${load[@]}" --prefix "peer$$" 2>/dev/null)
    rows+=$(summary "${PEER_NAME:-peer}, HTTP + Mdm-Signature" "$json")$'\n'
  fi
  echo "## Side by side"
  echo
  echo "One load, \`cairn-devsim --devices $n --commands 20 --concurrency 32\` (a new connection per"
  echo "device session; with TLS a device resumes its last session unless \`--tls-resume 0\`), against"
  echo "fresh Cairn nodes and, when \`PEER_URL\` is set, another server (\`bench/run.sh\` header)."
  echo "Server CPU per round trip from /proc (nan: the peer's PID was not given)."
  echo
  echo "| server | round trips/s | server CPU µs/rt | result p50 ms | result p99 ms | TLS sessions resumed | errors |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s' "$rows"
}

if [ "${ONLY:-}" = ddm ]; then  # this section alone, printed (RESULTS.md is left as it is)
  ddm_section
  exit 0
fi
if [ "${ONLY:-}" = ade ]; then
  ade_section
  exit 0
fi
if [ "${ONLY:-}" = peer ]; then
  peer_section
  exit 0
fi

micro=$(build/bench/cairn_micro_bench --benchmark_min_time=0.5 2>/dev/null | grep -E '^BM_')

scaling_rows=""
for n in $sizes; do
  start_server "$work/scale-$n" 19500
  json=$(devsim --devices "$n" --commands 2 --concurrency 64)
  stop_server
  log_mib=$(du -sm "$data/log" | cut -f1)
  projection_mib=$(du -sm "$data/projection" | cut -f1)
  replay_start=$(date +%s.%N)
  events=$("$cairn" replay --data-dir "$data" 2>/dev/null | awk '/^events/{print $2}')
  replay_s=$(python3 -c "import time; print(round(time.time() - $replay_start, 2))")
  scaling_rows+=$(field "$json" "f\"| {r['devices']} | {r['seconds']['enroll']:.1f} | {r['enrollments_per_second']:.0f} | {r['round_trips_per_second']:.0f} | {r['stats']['kinds']['result']['p99_us']/1000:.1f} | {r['server_peak_rss_kib']/1024:.0f} | $log_mib | $projection_mib | $events | $replay_s | {$events/$replay_s:.0f} | {r['stats'].get('errors') or 0} |\"")
  scaling_rows+=$'\n'
  rm -rf "$data"
done

# The whole loop with pushes: devsim hosts the APNs simulator, devices poll only when pushed.
start_server "$work/push" 19502 --apns-url https://127.0.0.1:19503 --apns-ca-file "$work/push/pki/ca.crt"
json=$(devsim --devices "$push_devices" --commands 2 --concurrency 64 --apns-sim 127.0.0.1:19503)
stop_server
push_row=$(field "$json" "f\"| {r['devices']} | {r['commands_completed']} | {r['pushes']} | {r['apns_connections']} | {r['seconds']['drain']:.1f} | {r['pushes_per_second']:.0f} | {r['round_trips_per_second']:.0f} | {r['stats']['kinds']['enqueue_to_push']['p50_us']/1000:.0f} | {r['stats']['kinds']['enqueue_to_push']['p99_us']/1000:.0f} | {r['stats']['kinds']['push_to_poll']['p50_us']/1000:.0f} | {r['stats']['kinds']['push_to_poll']['p99_us']/1000:.0f} | {r['server_cpu_us_per_round_trip']:.0f} | {sum(r['stats']['errors'].values())} |\"")
# An APNs outage: nothing listens where pushes go, devices never poll; every push waits in the
# dispatcher's outbox. What one waiting push costs.
start_server "$work/outage" 19504 --apns-url https://127.0.0.1:19505 --apns-ca-file "$work/outage/pki/ca.crt"
devsim --devices "$push_devices" --commands 0 --concurrency 64 --prefix outage >/dev/null
rss_before=$(awk '/VmRSS/{print $2}' "/proc/$server_pid/status")  # enrolled, nothing queued
devsim --devices "$push_devices" --commands 1 --concurrency 64 --prefix outage --silent 1 --enroll 0 >/dev/null
for _ in $(seq 50); do
  waiting=$(curl -sk -u "nanomdm:$key" https://127.0.0.1:19504/metrics | awk '/^cairn_dispatcher_outbox_pushes/{print $2}')
  [ "${waiting:-0}" -ge "$push_devices" ] && break
  sleep 0.2
done
rss_after=$(awk '/VmRSS/{print $2}' "/proc/$server_pid/status")
stop_server
outbox_kib=$(du -sk "$data/dispatcher" | cut -f1)
outage_row="| $push_devices | $waiting | $((outbox_kib * 1024 / waiting)) | $(((rss_after - rss_before) * 1024 / waiting)) |"

# Through Kafka: two ingest nodes (each with its projector replica) on the Kafka test broker (in
# memory, on these same 2 cores), devices spread over both; then `cairn replay` from the broker.
# Sized to stay under the test broker's 5 MiB per partition.
"build/cairn-kafka-test-broker" --partitions 8 --bootstrap-file "$work/kafka.bootstrap" >/dev/null &
broker_pid=$!
cluster_pids=$broker_pid
for _ in $(seq 100); do [ -s "$work/kafka.bootstrap" ] && break; sleep 0.1; done
brokers=$(cat "$work/kafka.bootstrap")
on_kafka=(--kafka-brokers "$brokers" --kafka-fetch-wait-ms 2)
start_node ingest "$work/ingest-a" 19506 "${on_kafka[@]}"
ingest_a=$node_pid
mkdir -p "$work/ingest-b"  # one deployment: the same CA, keyring and admin keys
cp -r "$work/ingest-a/pki" "$work/ingest-a/secrets" "$work/ingest-a/api_keys" "$work/ingest-b/"
start_node ingest "$work/ingest-b" 19507 "${on_kafka[@]}"
ingest_b=$node_pid
cluster_pids="$broker_pid $ingest_a $ingest_b"
data=$work/ingest-a
kafka_json=$("$devsim" --url https://127.0.0.1:19506,https://127.0.0.1:19507 --api-key "$key" \
  --ca-cert "$data/pki/ca.crt" --ca-key "$data/pki/ca.key" --ca-key-pass "$pass" \
  --server-pid "$ingest_a,$ingest_b" --devices 1000 --commands 5 --concurrency 32 2>/dev/null)
# Produce -> applied: each node's histogram of event time -> applied in its replica (both nodes'
# events), merged; percentiles interpolated within buckets as Prometheus's histogram_quantile.
apply_delay=$(for p in 19506 19507; do
  curl -sk -u "nanomdm:$key" "https://127.0.0.1:$p/metrics" | grep '^cairn_projection_apply_delay_seconds_bucket'
done | python3 -c '
import re, sys
buckets = {}
for line in sys.stdin:
    le, n = re.match(r".*le=\"([^\"]+)\"\} (\S+)", line).groups()
    buckets[float(le)] = buckets.get(float(le), 0) + float(n)
bounds = sorted(buckets)
def quantile(q):
    rank, below, lower = q * buckets[bounds[-1]], 0, 0
    for b in bounds:
        if buckets[b] >= rank:
            if b == float("inf"): return lower
            return lower + (b - lower) * (rank - below) / max(buckets[b] - below, 1)
        below, lower = buckets[b], b
print(f"{quantile(0.5)*1000:.1f} | {quantile(0.99)*1000:.1f}")')
kill "$ingest_a" "$ingest_b"
wait "$ingest_a" "$ingest_b" || true
replay_start=$(date +%s.%N)
kafka_events=$("$cairn" replay "${on_kafka[@]}" 2>/dev/null | awk '/^events/{print $2}')
kafka_replay_s=$(python3 -c "import time; print(round(time.time() - $replay_start, 2))")
kill "$broker_pid"
wait "$broker_pid" || true
cluster_pids=""
kafka_row=$(field "$kafka_json" "f\"| Kafka test broker, 8 partitions, 2 ingest nodes | {r['round_trips_per_second']:.0f} | {r['stats']['kinds']['result']['p50_us']/1000:.1f} | {r['stats']['kinds']['result']['p99_us']/1000:.1f} | $apply_delay | {r['server_cpu_us_per_round_trip']:.0f} | $kafka_events | $kafka_replay_s | {$kafka_events/$kafka_replay_s:.0f} | {sum(r['stats']['errors'].values())} |\"")

ddm_section >"$work/ddm.md"  # not in a subshell: the EXIT trap must see its server
ddm=$(cat "$work/ddm.md")
ade_section >"$work/ade.md"
ade=$(cat "$work/ade.md")
peer_section >"$work/peer.md"
peer=$(cat "$work/peer.md")

# Slow clients: the same load with and without a stranger holding 1,000 slow connections from
# four other addresses (250 each, within the per-address limit), half silent before the TLS
# handshake, half stopped in the middle of a request's head, each replaced as soon as the node
# cuts it off at its deadline (bench/slow_clients.py).
start_server "$work/slow" 19508
slow_row() {  # label, devsim json
  field "$2" "f\"| $1 | {r['round_trips_per_second']:.0f} | {r['stats']['kinds']['result']['p50_us']/1000:.1f} | {r['stats']['kinds']['result']['p99_us']/1000:.1f} | {r['server_peak_rss_kib']/1024:.0f} | {sum(r['stats']['errors'].values())} |\""
}
slow_rows=$(slow_row "none" "$(devsim --devices 1000 --commands 5 --concurrency 32 --prefix calm)")$'\n'
python3 bench/slow_clients.py --port 19508 --connections 1000 \
  --sources 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 >"$work/slow.out" &
attacker_pid=$!
sleep 5  # all open
slow_rows+=$(slow_row "1,000 from 127.0.0.2-5" \
  "$(devsim --devices 1000 --commands 5 --concurrency 32 --prefix attacked)")$'\n'
kill "$attacker_pid"
wait "$attacker_pid" || true
slow_cut=$(curl -sk -u "nanomdm:$key" https://127.0.0.1:19508/metrics | awk '/^cairn_http_requests_cut_off_total/{print $2}')
slow_attacker=$(cat "$work/slow.out")
stop_server

start_server "$work/sweep" 19501
: >"$work/sweep.dat"
sweep_rows=""
for c in 1 2 4 8 16 32 64 128; do
  devices=$((c * 8 > 64 ? c * 8 : 64))
  json=$(devsim --devices "$devices" --commands 10 --concurrency "$c" --prefix "sweep$c")
  line=$(field "$json" "f\"{r['concurrency']} {r['round_trips_per_second']:.0f} {r['stats']['kinds']['result']['p99_us']/1000:.1f} {r['stats']['kinds']['result']['p50_us']/1000:.1f} {r['server_cpu_us_per_round_trip']:.0f} {r['own_cpu_us_per_round_trip']:.0f}\"")
  echo "$line" >>"$work/sweep.dat"
  read -r cc rps p99 p50 scpu ocpu <<<"$line"
  sweep_rows+="| $cc | $devices | $rps | $p50 | $p99 | $scpu | $ocpu |"$'\n'
done
stop_server
gnuplot <<GP
set terminal pngcairo size 900,500
set output "bench/concurrency.png"
set title "Cairn command round trips (embedded log, mTLS, 2 cores shared with the load generator)"
set xlabel "concurrent devices"
set logscale x 2
set ylabel "round trips/s"
set y2label "p99 latency of a result (ms)"
set ytics nomirror
set y2tics
set key left top
set grid
plot "$work/sweep.dat" using 1:2 with linespoints title "round trips/s" axes x1y1, \
     "$work/sweep.dat" using 1:3 with linespoints title "p99 ms" axes x1y2
GP

{
  echo "# Cairn benchmark results"
  echo
  echo "Regenerate with \`bench/run.sh\`: it builds, runs everything below, and rewrites this file and"
  echo "\`bench/concurrency.png\`. \`SIZES=\"1000 10000\" bench/run.sh\` for a shorter run."
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench/RESULTS.md' ':!bench/concurrency.png' || echo ' (with uncommitted changes)')"
  echo "- Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
  echo "- Build: RelWithDebInfo (-O2), GCC $(gcc -dumpversion), Debian's packages of every library"
  echo "- The load generator runs on the same 2 cores as the server: its own CPU is reported."
  echo
  echo "## Fleet scaling"
  echo
  echo "A fresh \`cairn serve\` per row; then \`cairn-devsim --devices N --commands 2 --concurrency 64\`"
  echo "(each device: its own key and certificate from the dev CA, Authenticate + TokenUpdate with a"
  echo "2 KB UnlockToken over mTLS; two commands queued for every device through \`/v1/enqueue\`; one"
  echo "session per device: new TLS connection, Idle, results until an empty answer); then the server"
  echo "is stopped, the data directory measured (\`du -sm\`) and \`cairn replay\` timed on it."
  echo
  echo "| devices | enroll s | enrollments/s | round trips/s | result p99 ms | server peak RSS MiB | log MiB | projection MiB | events | replay s | replay events/s | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s' "$scaling_rows"
  echo
  echo "## Concurrency"
  echo
  echo "One server; for each row \`cairn-devsim --devices max(8C,64) --commands 10 --concurrency C\`."
  echo "A round trip is one device request (Idle or a result). Every device session opens its own TLS"
  echo "connection, as real devices do."
  echo
  echo "![round trips/s and p99 against concurrency](concurrency.png)"
  echo
  echo "| concurrency | devices | round trips/s | result p50 ms | result p99 ms | server CPU µs/rt | devsim CPU µs/rt |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s' "$sweep_rows"
  echo
  echo "## Pushes"
  echo
  echo "The whole loop: \`cairn serve --apns-url https://127.0.0.1:19503 --apns-ca-file <data>/pki/ca.crt\`"
  echo "and \`cairn-devsim --devices $push_devices --commands 2 --concurrency 64 --apns-sim 127.0.0.1:19503\`:"
  echo "devsim hosts the APNs simulator and uploads a push certificate; commands are queued through the"
  echo "API while devices poll only when a push for their token reaches the simulator. Pushes are paced"
  echo "by the queueing (one per device while it is outstanding), not the dispatcher's ceiling: that is"
  echo "\`BM_ApnsPushes\` below (one client, batches of 1,000 pushes on at most 2 HTTP/2 connections, the"
  echo "simulator in the same process). enqueue→push: from sending the \`/v1/enqueue\` request (250"
  echo "devices per request) to the simulator accepting the device's first push: the server's dispatch"
  echo "latency. push→poll: from that to the device's session starting, which is mostly the wait for one"
  echo "of devsim's 64 device workers (the load generator's queue, not the server's). Server CPU per"
  echo "round trip here includes enqueueing, pushing and recording every push outcome."
  echo
  echo "| devices | commands completed | pushes | APNs connections | seconds | pushes/s | round trips/s | enqueue→push p50 ms | enqueue→push p99 ms | push→poll p50 ms | push→poll p99 ms | server CPU µs/rt | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  echo "$push_row"
  echo
  echo "An APNs outage: the same server pointed at a port nobody listens on, one command queued for each"
  echo "of $push_devices devices that never poll; every push waits in the dispatcher's outbox (RocksDB)."
  echo "Disk: the dispatcher's store (push targets, outbox, WAL) per waiting push. Memory: the server's"
  echo "RSS growth from after enrolling the devices to after queueing the commands (\`--enroll 0\`):"
  echo "the log's, projection's and dispatcher's RocksDB memtables included, so an upper bound."
  echo
  echo "| devices | pushes waiting | dispatcher store bytes per push | server RSS growth bytes per push |"
  echo "|---|---|---|---|"
  echo "$outage_row"
  echo
  echo "## Through Kafka"
  echo
  echo "Two \`cairn ingest --kafka-brokers <test broker> --kafka-fetch-wait-ms 2\` nodes (same CA and"
  echo "keyring), \`cairn-devsim --url <node A>,<node B> --devices 1000 --commands 5 --concurrency 32\`"
  echo "(devices alternate between the nodes), then \`cairn replay --kafka-brokers …\`. Produce → applied:"
  echo "both nodes' \`cairn_projection_apply_delay_seconds\` histograms merged (event time, set by the"
  echo "writing node, to applied in a node's replica; every event counted once per node), percentiles"
  echo "interpolated within buckets; event times have millisecond precision."
  echo "The broker is \`cairn-kafka-test-broker\` (librdkafka's mock cluster: in memory, nothing"
  echo "replicated, on the same 2 cores), so this is Cairn's own cost of the Kafka path, not a real"
  echo "cluster's latency. Compare with the concurrency-32 row above (embedded log)."
  echo
  echo "| log | round trips/s | result p50 ms | result p99 ms | produce → applied p50 ms | p99 ms | servers' CPU µs/rt | events | replay s | replay events/s | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  echo "$kafka_row"
  echo
  echo "$ddm"
  echo
  echo "$ade"
  echo
  echo "$peer"
  echo
  echo "## Slow clients"
  echo
  echo "One \`cairn serve\` (defaults: 256 request threads, handshake and head deadlines 10 s, 512"
  echo "connections per address); \`cairn-devsim --devices 1000 --commands 5 --concurrency 32\`, first"
  echo "alone, then while \`bench/slow_clients.py --connections 1000\` holds 1,000 connections open from"
  echo "127.0.0.2-5 (half silent before the TLS handshake, half stopped in the middle of a request's head),"
  echo "opening a new one each time the node cuts one off. The attacker: $slow_attacker; the node counted"
  echo "$slow_cut cut off (\`cairn_http_requests_cut_off_total\`)."
  echo
  echo "| slow connections | round trips/s | result p50 ms | result p99 ms | server peak RSS MiB | errors |"
  echo "|---|---|---|---|---|---|"
  printf '%s' "$slow_rows"
  echo
  echo "## Micro benchmarks"
  echo
  echo "\`build/bench/cairn_micro_bench --benchmark_min_time=0.5\`"
  echo
  echo '```'
  echo "$micro"
  echo '```'
  echo
  echo "### Webhooks"
  echo
  echo "\`BM_WebhookDelivery\` above: 2,000 command results appended to an embedded log, read by the"
  echo "webhook deliverer into its outbox (RocksDB) and POSTed, signed, one at a time over a kept-alive"
  echo "connection to a receiver in the same process that parses each body: deliveries/s for one"
  echo "endpoint (items_per_second); \`BM_WebhookBody\` is one body and its signature."
  echo
  echo "Where the time goes, what was changed, and what is next: [ANALYSIS.md](ANALYSIS.md)."
} >bench/RESULTS.md
echo "wrote bench/RESULTS.md and bench/concurrency.png"
