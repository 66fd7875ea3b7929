#!/usr/bin/env bash
# Benchmark of `rbuild layers --json` (issue 7) against `gzip -dc` of the same layers.
#
# Builds a ~1 GB image of 50,000 files in 4 gzip layers (the 4th overwrites 1,000
# files of the 1st and deletes 500 others, so there is waste to find), as an OCI layout
# imported with `rbuild import`; then measures wall time and peak RSS of
#   rbuild layers IMG --json >/dev/null        vs        gzip -dc <each layer blob> >/dev/null
# Target: rbuild <= 1.5 x gzip time, peak RSS < 300 MB.
#
# Usage: bench/inspect.sh [RBUILD_BINARY]   (default: target/release/rbuild)
# Env: WORK (scratch dir, default a mktemp dir, removed at the end), FILES (default 50000),
#      FILE_SIZE (bytes, default 20000).
set -euo pipefail

RBUILD=${1:-${CARGO_TARGET_DIR:-target}/release/rbuild}
FILES=${FILES:-50000}
FILE_SIZE=${FILE_SIZE:-20000}
WORK=${WORK:-$(mktemp -d /var/tmp/rbuild-inspect-bench.XXXXXX)}
trap 'rm -rf "$WORK"' EXIT
[ -x "$RBUILD" ] || { echo "no rbuild binary at $RBUILD (cargo build --release)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

per_layer=$((FILES / 4))
layout="$WORK/layout"
mkdir -p "$layout/blobs/sha256"

# fill DIR N: N files of FILE_SIZE compressible bytes (base64 of random data), 500 a directory.
fill() {
    local dir=$1 n=$2 d
    for ((d = 0; d < n / 500; d++)); do
        mkdir -p "$dir/d$d"
        head -c $((500 * FILE_SIZE * 3 / 4)) /dev/urandom | base64 -w 0 | split -b "$FILE_SIZE" -a 3 -d - "$dir/d$d/f"
    done
}

# blob DIR: tar DIR as a gzip layer; prints "digest diff_id size".
blob() {
    local dir=$1 tmp="$WORK/layer.tar"
    tar --sort=name --mtime=2024-01-01 --owner=0 --group=0 --numeric-owner -C "$dir" -cf "$tmp" .
    local diff_id; diff_id=$(sha256sum "$tmp" | cut -d' ' -f1)
    gzip -1 -n -c "$tmp" > "$WORK/layer.tgz"
    local digest; digest=$(sha256sum "$WORK/layer.tgz" | cut -d' ' -f1)
    mv "$WORK/layer.tgz" "$layout/blobs/sha256/$digest"
    rm -f "$tmp"
    echo "$digest $diff_id $(stat -c %s "$layout/blobs/sha256/$digest")"
}

echo "generating $FILES files of $FILE_SIZE bytes in 4 layers under $WORK ..."
layers=()
for i in 1 2 3; do
    fill "$WORK/l$i/data$i" "$per_layer"
    layers+=("$(blob "$WORK/l$i")")
    [ "$i" = 1 ] || rm -rf "$WORK/l$i"
done
fill "$WORK/l4/data4" "$per_layer"
# overwrite 1,000 files of layer 1 and delete 500 others
mkdir -p "$WORK/l4/data1"
find "$WORK/l1/data1" -type f | sort | sed -n '1,1000p' | while read -r f; do
    rel=${f#"$WORK/l1/"}; mkdir -p "$WORK/l4/$(dirname "$rel")"; head -c "$FILE_SIZE" /dev/urandom > "$WORK/l4/$rel"
done
find "$WORK/l1/data1" -type f | sort | sed -n '1001,1500p' | while read -r f; do
    rel=${f#"$WORK/l1/"}; mkdir -p "$WORK/l4/$(dirname "$rel")"; : > "$WORK/l4/$(dirname "$rel")/.wh.$(basename "$rel")"
done
layers+=("$(blob "$WORK/l4")")
rm -rf "$WORK/l1" "$WORK/l4"

diff_ids=$(printf '%s\n' "${layers[@]}" | awk '{printf "%s\"sha256:%s\"", (NR>1?",":""), $2}')
layer_descs=$(printf '%s\n' "${layers[@]}" | awk '{printf "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:%s\",\"size\":%s}", (NR>1?",":""), $1, $3}')
config="{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diff_ids]},\"history\":[{\"created_by\":\"l1\"},{\"created_by\":\"l2\"},{\"created_by\":\"l3\"},{\"created_by\":\"l4\"}]}"
cdigest=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
printf '%s' "$config" > "$layout/blobs/sha256/$cdigest"
manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cdigest\",\"size\":${#config}},\"layers\":[$layer_descs]}"
mdigest=$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)
printf '%s' "$manifest" > "$layout/blobs/sha256/$mdigest"
printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
    "$mdigest" "${#manifest}" > "$layout/index.json"

export RBUILD_ROOT="$WORK/store"
"$RBUILD" import "$layout" bench:latest
rm -rf "$layout"
blobs=$(printf '%s\n' "${layers[@]}" | awk -v r="$RBUILD_ROOT" '{print r "/blobs/sha256/" $1}')
echo "layer blobs: $(du -ch $blobs | tail -1 | cut -f1) compressed"

measure() { # prints "seconds peak_kb"
    /usr/bin/time -v "$@" 2> "$WORK/time.txt" >/dev/null
    awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=(n==3? t[1]*3600+t[2]*60+t[3] : t[1]*60+t[2])} /Maximum resident/ {kb=$2} END {print s, kb}' "$WORK/time.txt"
}
# warm the page cache so both read from memory
cat $blobs > /dev/null
read -r g_s g_kb < <(measure sh -c "for b in $(echo $blobs); do gzip -dc \$b; done")
"$RBUILD" layers bench --json >/dev/null  # fail loudly before measuring
read -r r_s r_kb < <(measure "$RBUILD" layers bench --json)
"$RBUILD" layers bench --ci --lowest-efficiency 0 --highest-user-wasted-percent disabled | grep -E 'efficiency|wastedBytes' || true
echo "gzip -dc of the layers:    ${g_s}s  peak RSS $((g_kb / 1024)) MB"
echo "rbuild layers --json:      ${r_s}s  peak RSS $((r_kb / 1024)) MB"
awk -v r="$r_s" -v g="$g_s" -v kb="$r_kb" 'BEGIN {
    ratio = r / g; ok = (ratio <= 1.5 && kb < 300 * 1024);
    printf "ratio rbuild/gzip = %.2f (target <= 1.50), RSS target < 300 MB: %s\n", ratio, ok ? "PASS" : "FAIL";
    exit ok ? 0 : 1 }'
