#!/usr/bin/env bash
# The test broker is a Kafka cluster to any client: kcat (Debian's, speaking the wire protocol)
# produces keyed records with a header to the topic the broker created and reads them back whole,
# from several partitions; the broker stops cleanly on SIGTERM.
set -euo pipefail
broker=$1
work=$(mktemp -d)
"$broker" --partitions 4 --bootstrap-file "$work/bootstrap" >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
servers=$(cat "$work/bootstrap")
grep -q "^bootstrap.servers=$servers\$" "$work/out"
[ "$(tr ',' '\n' <<<"$servers" | wc -l)" -eq 3 ] || { echo "expected 3 brokers: $servers"; exit 1; }

for i in $(seq 1 40); do echo "DEVICE-$i:{\"n\":$i}"; done |
  kcat -b "$servers" -P -t cairn.events.v1 -K: -H type=Test -X enable.idempotence=true
got=$(kcat -b "$servers" -C -t cairn.events.v1 -o beginning -e -q -f '%p %k %h %s\n' | sort -k2,2V)
[ "$(wc -l <<<"$got")" -eq 40 ] || { echo "expected 40 records, got: $got"; exit 1; }
grep -q '^[0-9] DEVICE-7 type=Test {"n":7}$' <<<"$got" || { echo "record 7 is wrong: $got"; exit 1; }
[ "$(cut -d' ' -f1 <<<"$got" | sort -u | wc -l)" -gt 1 ] || { echo "all in one partition"; exit 1; }

kill -TERM "$pid"
wait "$pid"  # exit status 0: a clean stop
trap 'rm -rf "$work"' EXIT
