#!/usr/bin/env bash
# Regenerates bench/RESULTS.md: micro benchmarks, then command round trips against a real
# `cairn serve` (embedded log, TLS with client certificates) on loopback. Takes about 2 minutes.
# Usage: bench/run.sh   (builds first; writes bench/RESULTS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
ops/build.sh build
out=bench/RESULTS.md
work=$(mktemp -d)
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

micro=$(build/bench/cairn_micro_bench --benchmark_min_time=0.5 2>/dev/null | grep -E '^BM_')

port=19443
build/cairn serve --data-dir "$work/data" --listen 127.0.0.1:$port --threads 256 >"$work/out" 2>"$work/err" &
server_pid=$!
for _ in $(seq 50); do grep -q "cairn serving" "$work/out" 2>/dev/null && break; sleep 0.2; done
key=$(sed -n 2p "$work/out" | tr -d ' ')
load_rows=""
for devices in 1 16 64 128; do
  json=$(build/bench/cairn_roundtrip_load --data-dir "$work/data" --port $port --server-pid $server_pid \
         --api-key "$key" --devices $devices --commands 100)
  load_rows+="$json"$'\n'
done

{
  echo "# Cairn benchmark results"
  echo
  echo "Regenerate with \`bench/run.sh\` (builds, runs everything below, rewrites this file)."
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- Commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
  echo "- Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
  echo "- Build: RelWithDebInfo (-O2), GCC $(gcc -dumpversion), Debian packages of every library"
  echo
  echo "## Micro benchmarks"
  echo
  echo "\`build/bench/cairn_micro_bench --benchmark_min_time=0.5\`"
  echo
  echo '```'
  echo "$micro"
  echo '```'
  echo
  echo "## Command round trips over keep-alive mTLS, embedded durable log"
  echo
  echo "\`cairn serve --threads 256\` on loopback, then for each row"
  echo "\`build/bench/cairn_roundtrip_load --data-dir DIR --port P --server-pid PID --api-key KEY --devices N --commands 100\`."
  echo "Each device enrolls (Authenticate, TokenUpdate with a 2 KB UnlockToken), 100 commands are queued"
  echo "for every device through \`/v1/enqueue\`, then every device drains its queue:"
  echo "Idle → command → Acknowledged → … → empty 200. A round trip is one PUT: a durable (fdatasync)"
  echo "append, the wait for the projection to apply it, the queue read, and the durable"
  echo "CommandDelivered append. The load tool runs on the same 2 cores as the server."
  echo
  echo "| devices | round trips | round trips/s | p50 ms | p95 ms | p99 ms | max ms | server CPU µs/req | load tool CPU µs/req | server peak RSS MiB | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  while IFS= read -r j; do
    [ -n "$j" ] || continue
    python3 - "$j" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); l = r["latency_us"]
print(f"| {r['devices']} | {r['round_trips']} | {r['round_trips_per_second']:.0f} | {l['p50']/1000:.1f} | {l['p95']/1000:.1f} | {l['p99']/1000:.1f} | {l['max']/1000:.1f} | {r['server_cpu_us_per_request']:.0f} | {r['load_tool_cpu_us_per_request']:.0f} | {r['server_peak_rss_kib']/1024:.0f} | {r['errors']} |")
PY
  done <<<"$load_rows"
  echo
  cat bench/ANALYSIS.md
} >"$out"
echo "wrote $out"
