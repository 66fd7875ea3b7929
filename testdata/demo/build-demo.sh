#!/usr/bin/env bash
# The README's first command: on a fresh machine (offline), build rbuild, make the busybox base
# image from Debian's busybox-static into the default store, and build testdata/demo as
# demo:0.0.1 — the equivalent of `docker build -t demo:0.0.1 .`, without a daemon.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! [ -x /bin/busybox ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
fi
cargo build --release --locked -q
rbuild=target/release/rbuild
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
testdata/busybox/make-rootfs.sh "$work" >/dev/null
"$rbuild" import "$work/rootfs.tar" busybox:latest
"$rbuild" build -t demo:0.0.1 testdata/demo
"$rbuild" images
