#!/usr/bin/env bash
# A quick A/B of two `cairn` binaries on the round-trip path: a fresh `cairn serve` (embedded log,
# mTLS) on loopback, cairn-devsim with 250 devices x 20 commands, 32 at once. Prints round
# trips/s, server CPU µs per round trip, result latency p50/p99 (µs) and errors.
# Usage: bench/ab_quick.sh BINARY   (run it for each binary, alternating, a few times)
# AB_IDENTITY=signature: devices sign each request (Mdm-Signature) over plain HTTP (--no-tls), as
# behind a TLS-terminating proxy, instead of mTLS.
# AB_RESUME=0: every device session a new TLS session (default: a device resumes its last one).
# AB_DEVICES=N (250), AB_COMMANDS=N: commands per device (20); each device drains them in one
# session, so fewer commands make handshakes a larger share of the work.
set -euo pipefail
cairn=$1
devsim=$(dirname "$0")/../build/bench/cairn-devsim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=$work/d
mkdir -p "$data"
key=$("$cairn" apikey create --data-dir "$data" --name bench --role admin)
serve_args=() url=https://127.0.0.1:19600 identity=mtls
if [ "${AB_IDENTITY:-mtls}" = signature ]; then
  serve_args=(--no-tls) url=http://127.0.0.1:19600 identity=signature
fi
"$cairn" serve --data-dir "$data" --listen 127.0.0.1:19600 "${serve_args[@]}" >"$data.out" 2>"$data.err" &
pid=$!
for _ in $(seq 100); do grep -q "cairn serving" "$data.out" 2>/dev/null && break; sleep 0.2; done
pass=$("$cairn" pki passphrase --data-dir "$data")
"$devsim" --url "$url" --identity "$identity" --api-key "$key" --ca-cert "$data/pki/ca.crt" --ca-key "$data/pki/ca.key" --ca-key-pass "$pass" --server-pid "$pid" --devices "${AB_DEVICES:-250}" --commands "${AB_COMMANDS:-20}" --concurrency 32 --tls-resume "${AB_RESUME:-1}" 2>/dev/null | python3 -c "import json,sys; r=json.load(sys.stdin); print(round(r['round_trips_per_second']), 'rt/s', round(r['server_cpu_us_per_round_trip']), 'us/rt', 'p50', r['stats']['kinds'].get('result',{}).get('p50_us'), 'p99', r['stats']['kinds'].get('result',{}).get('p99_us'), 'errors', sum(r['stats']['errors'].values()), 'tls new/resumed', r['tls_handshakes']['new'], r['tls_handshakes']['resumed'])"
kill "$pid"
wait "$pid" || true
