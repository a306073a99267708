#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine to a running single-node Cairn:
# installs the Debian packages, builds, creates the development PKI in the data directory
# (CA, server certificate, an example device identity) and runs `cairn serve` on the embedded log.
# Extra arguments go to `cairn serve` (e.g. --listen 0.0.0.0:8443). Data: ${CAIRN_DATA:-./data}.
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
ops/build.sh build -DBUILD_TESTING=OFF -DCAIRN_BENCH=OFF
data_dir=${CAIRN_DATA:-data}
./build/cairn pki init --data-dir "$data_dir"
exec ./build/cairn serve --data-dir "$data_dir" "$@"
