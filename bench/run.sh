#!/usr/bin/env bash
# rbuild vs BuildKit (docker 20.10), buildah and skopeo, side by side in one run (issue 8).
#
#   bench/run.sh [SCENARIO...]      (default: all; QUICK=1 for small sizes, a few minutes)
#
# Scenarios: small bigfiles manyfiles deep multistage transfer inspect.
# Everything is offline: a busybox rootfs from testdata/busybox/make-rootfs.sh is imported into
# rbuild and pushed to a local docker-registry, which the peers reach as docker.io (dockerd's
# registry-mirrors/insecure-registries, buildah's registries.conf). Each measurement is a
# hyperfine run (--warmup 1, $RUNS runs); cold runs reset state in hyperfine's --prepare.
# rbuild runs under /usr/bin/time to record peak RSS.
# Output: a table on stdout, bench/out/report.json (every figure), bench/RESULTS.md.
# The transfer scenario also times bench/wire.sh: the same blobs moved by curl, with no
# compression and no hashing, the floor of that registry on this machine (not a peer).
#
# Env: QUICK=1, RUNS (5; QUICK 3), BIG_MB (200; QUICK 40), MANY (50000; QUICK 5000),
#      DEEP (100; QUICK 20), XFER_MB (1000; QUICK 200), INSPECT_FILES (50000; QUICK 5000),
#      MANY_COOLDOWN (before each cold manyfiles run; default "sync; sleep 31", see lib.sh),
#      WORK (scratch, default /var/tmp/rbuild-bench, removed at the end unless KEEP=1),
#      RBUILD (binary; default: cargo build --release, then $CARGO_TARGET_DIR/release/rbuild),
#      OUT (the JSON exports, default bench/out), RESULTS (default bench/RESULTS.md): point
#      both elsewhere for a partial run that must not replace the full report.
# Needs (Debian): docker.io buildah skopeo docker-registry hyperfine time busybox-static python3.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
quick=${QUICK:-0}
q() { if [ "$quick" = 1 ]; then echo "$2"; else echo "$1"; fi; }
RUNS=${RUNS:-$(q 5 3)}
BIG_MB=${BIG_MB:-$(q 200 40)}
MANY=${MANY:-$(q 50000 5000)}
DEEP=${DEEP:-$(q 100 20)}
XFER_MB=${XFER_MB:-$(q 1000 200)}
INSPECT_FILES=${INSPECT_FILES:-$(q 50000 5000)}
WORK=${WORK:-/var/tmp/rbuild-bench}
OUT=${OUT:-$repo/bench/out}
RESULTS=${RESULTS:-$repo/bench/RESULTS.md}
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(small bigfiles manyfiles deep multistage transfer inspect)

for tool in /usr/bin/docker dockerd buildah skopeo docker-registry hyperfine /usr/bin/time python3 /bin/busybox; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool missing (apt-get install docker.io buildah skopeo docker-registry hyperfine time busybox-static)" >&2; exit 2; }
done
if [ -z "${RBUILD:-}" ]; then
  cargo build --release -q
  RBUILD=${CARGO_TARGET_DIR:-$repo/target}/release/rbuild
fi
RBUILD=$(realpath "$RBUILD")
source "$repo/bench/lib.sh"
VERSIONS=$(versions) # now, when the binary is built: edits during the run are not in it

rm -rf "$WORK" && mkdir -p "$WORK" "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.rss
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/docker/pid" ] && kill "$(cat "$WORK/docker/pid")" 2>/dev/null || true
  sleep 1
  [ "${KEEP:-0}" = 1 ] || { umount -R "$WORK"/buildah/root/overlay 2>/dev/null || true; rm -rf "$WORK"; }
}
trap cleanup EXIT

start_registry
prepare_base
start_dockerd
setup_buildah
for s in "${scenarios[@]}"; do
  echo "=== scenario $s" >&2
  "scenario_$s"
done
python3 "$repo/bench/report.py" "$OUT" "$RESULTS" "$VERSIONS" "$quick"
