#!/usr/bin/env bash
# Installs every Debian package Cairn needs to build, test and benchmark. Idempotent.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config ccache clang-format
  clang libclang-rt-14-dev  # libFuzzer and its sanitizers (ops/fuzz.sh)
  libssl-dev openssl libcpp-httplib-dev librocksdb-dev libplist-dev libcereal-dev rapidjson-dev
  libnghttp2-dev nghttp2-client librdkafka-dev kcat
  libgtest-dev libgmock-dev libbenchmark-dev libyaml-cpp-dev
  wrk curl gnuplot-nox
  chromium  # the web console's end-to-end tests drive it headless (tests/support/browser)
  certmonger  # its scep-submit is the SCEP client the tests check Cairn's SCEP server against
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
