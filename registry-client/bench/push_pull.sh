#!/usr/bin/env bash
# Push and pull a multi-layer image to a local registry with rbuild and with skopeo, in the
# same run, and print both times and their ratio.
#
#   registry-client/bench/push_pull.sh [SIZE_MB] [LAYERS]      (default 1024 MB in 4 layers)
#
# Needs: docker-registry, skopeo, umoci (Debian packages) and an rbuild binary
# ($RBUILD, default target/release/rbuild: `cargo build --release` first).
# The image is made with umoci from random data (incompressible, gzip layers), imported
# into a fresh rbuild store; both tools then push it to their own repository and pull it
# back into an empty destination (rbuild: a new store; skopeo: a new OCI layout dir).
set -euo pipefail
size_mb=${1:-1024}
layers=${2:-4}
rbuild=${RBUILD:-target/release/rbuild}
for tool in docker-registry skopeo umoci "$rbuild"; do
  command -v "$tool" >/dev/null || { echo "push_pull.sh: $tool not found" >&2; exit 2; }
done
work=$(mktemp -d /tmp/rbuild-bench.XXXXXX)
trap 'kill $reg_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port, secret: bench}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
until curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; do sleep 0.1; done

echo "making a ${size_mb} MB image in $layers layers..." >&2
umoci init --layout "$work/oci" && umoci new --image "$work/oci:bench"
per=$((size_mb / layers))
for i in $(seq 1 "$layers"); do
  mkdir -p "$work/src$i" && head -c "${per}M" /dev/urandom >"$work/src$i/data$i.bin"
  umoci insert --image "$work/oci:bench" "$work/src$i/data$i.bin" "/data$i.bin" >/dev/null
  rm -rf "$work/src$i"
done
RBUILD_ROOT="$work/store" "$rbuild" import "$work/oci" bench:1 >/dev/null

now() { date +%s.%N; }
time_it() { local t0; t0=$(now); "$@" >/dev/null 2>&1; echo "$(now) - $t0" | bc; }
reg=127.0.0.1:$port
rb_push=$(time_it env RBUILD_ROOT="$work/store" "$rbuild" push -q bench:1 "$reg/rbuild/bench:1")
sk_push=$(time_it skopeo copy --dest-tls-verify=false "oci:$work/oci:bench" "docker://$reg/skopeo/bench:1")
rb_pull=$(time_it env RBUILD_ROOT="$work/store2" "$rbuild" pull -q "$reg/rbuild/bench:1")
sk_pull=$(time_it skopeo copy --src-tls-verify=false "docker://$reg/skopeo/bench:1" "oci:$work/oci2:bench")
printf '%-6s %10s %10s %8s\n' op rbuild_s skopeo_s ratio
printf '%-6s %10.2f %10.2f %8.2f\n' push "$rb_push" "$sk_push" "$(echo "$rb_push / $sk_push" | bc -l)"
printf '%-6s %10.2f %10.2f %8.2f\n' pull "$rb_pull" "$sk_pull" "$(echo "$rb_pull / $sk_pull" | bc -l)"
