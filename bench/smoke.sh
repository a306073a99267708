#!/usr/bin/env bash
# The benchmarks still run and still produce their figures (a ctest test, Bench.Smoke; nothing is
# timed): every micro benchmark once, briefly, and cairn-devsim against a fresh node with more
# than 250 devices (two enqueue calls per command, each with its own CommandUUID) queued with
# ?nopush=1, which must finish every command without an error.
# Usage: bench/smoke.sh CAIRN_BINARY DEVSIM_BINARY MICRO_BENCH_BINARY
set -euo pipefail
cairn=$1 devsim=$2 micro=$3
"$micro" --benchmark_min_time=0.001 --benchmark_format=json >/dev/null
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
data=$work/d
mkdir -p "$data"
key=$("$cairn" apikey create --data-dir "$data" --name bench --role admin)
"$cairn" serve --data-dir "$data" --listen 127.0.0.1:0 >"$work/out" 2>"$work/err" &
pid=$!
port=""
for _ in $(seq 150); do
  port=$(grep -o '"port":"[0-9]*"' "$work/err" 2>/dev/null | grep -o '[0-9]*' || true)
  [ -n "$port" ] && break
  sleep 0.2
done
[ -n "$port" ] || { echo "cairn serve did not start" >&2; cat "$work/err" >&2; exit 1; }
pass=$("$cairn" pki passphrase --data-dir "$data")
"$devsim" --url "https://127.0.0.1:$port" --api-key "$key" --ca-cert "$data/pki/ca.crt" \
  --ca-key "$data/pki/ca.key" --ca-key-pass "$pass" --server-pid "$pid" --devices 260 \
  --commands 2 --concurrency 8 --no-push 1 2>"$work/devsim.err" >"$work/devsim.json" ||
  { cat "$work/devsim.err" >&2; exit 1; }
python3 - "$work/devsim.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
errors = sum(r["stats"]["errors"].values())
assert errors == 0, f"devsim saw errors: {r['stats']['errors']}"
assert r["round_trips_per_second"] > 0, "no round trips measured"
assert r["server_cpu_us_per_round_trip"] > 0, "no server CPU measured"
print(round(r["round_trips_per_second"]), "round trips/s (not a measurement: a smoke run)")
PY
