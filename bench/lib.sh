# Functions of bench/run.sh (sourced; uses its variables: WORK OUT RUNS RBUILD repo sizes).

# --- setup ---------------------------------------------------------------------------------

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_registry NAME: a docker-registry storing under $WORK/NAME; sets REG_<NAME>=127.0.0.1:PORT.
start_registry_named() {
  local name=$1 port; port=$(free_port)
  mkdir -p "$WORK/$name"
  cat >"$WORK/$name.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $WORK/$name/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port, secret: bench}
YML
  docker-registry serve "$WORK/$name.yml" >"$WORK/$name.log" 2>&1 &
  pids+=($!)
  until curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; do sleep 0.1; done
  printf -v "REG_$name" '%s' "127.0.0.1:$port"
}
start_registry() { start_registry_named base; start_registry_named xfer; REG=$REG_base; }

# The busybox base: imported into a template rbuild store (copied for every cold rbuild run)
# and pushed to the base registry as library/busybox:latest for the peers.
prepare_base() {
  "$repo/testdata/busybox/make-rootfs.sh" "$WORK/bb" >/dev/null
  TEMPLATE=$WORK/rb-template
  "$RBUILD" --root "$TEMPLATE" import "$WORK/bb/rootfs.tar" busybox:latest >/dev/null
  "$RBUILD" --root "$TEMPLATE" push -q --insecure-registry "$REG" busybox:latest "$REG/library/busybox:latest" >/dev/null
}

start_dockerd() {
  local d=$WORK/docker; mkdir -p "$d"
  printf '{"registry-mirrors":["http://%s"],"insecure-registries":["%s"]}\n' "$REG" "$REG" >"$d/daemon.json"
  dockerd --config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/pid" \
    --host "unix://$d/sock" --iptables=false --bridge=none >"$d/log" 2>&1 &
  export DOCKER_HOST=unix://$d/sock DOCKER_BUILDKIT=1
  local i; for i in $(seq 100); do /usr/bin/docker info >/dev/null 2>&1 && return; sleep 0.2; done
  echo "dockerd did not start: $d/log" >&2; exit 1
}

setup_buildah() {
  mkdir -p "$WORK/buildah"
  cat >"$WORK/buildah/registries.conf" <<EOF
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "docker.io"
location = "$REG"
insecure = true
[[registry]]
location = "$REG_xfer"
insecure = true
EOF
  export CONTAINERS_REGISTRIES_CONF=$WORK/buildah/registries.conf
  BH="buildah --root $WORK/buildah/root --runroot $WORK/buildah/run --storage-driver overlay"
}

versions() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/ {print $2}') GB RAM, kernel $(uname -r)"
  echo "rbuild: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null)$(git -C "$repo" diff --quiet 2>/dev/null || echo '+dirty') (release build)"
  echo "BuildKit: docker $(/usr/bin/docker version -f '{{.Server.Version}}' 2>/dev/null) (DOCKER_BUILDKIT=1, overlay2)"
  echo "buildah: $(buildah --version | awk '{print $3}') (overlay)"
  echo "skopeo: $(skopeo --version | awk '{print $3}')"
  echo "registry: $(docker-registry --version 2>/dev/null | awk '{print $3}')"
  echo "hyperfine: $(hyperfine --version | awk '{print $2}')"
}

# --- measuring -----------------------------------------------------------------------------

# measure ID TOOL PREPARE CMD: hyperfine (--warmup 1) into $OUT/ID.TOOL.json; PREPARE may be "".
# Every run starts after a `sync`: the writeback of what an earlier run (of any tool) wrote
# is not charged to the run that happens to follow it (an fsync then waits for all of it).
measure() {
  local id=$1 tool=$2 prep=$3 cmd=$4 args=(--warmup 1 --runs "$RUNS" --style none)
  args+=(--prepare "${prep:+$prep; }sync")
  hyperfine "${args[@]}" --export-json "$OUT/$id.$tool.json" "$cmd" >/dev/null
  python3 - "$OUT/$id.$tool.json" "$id" "$tool" <<'PY' >&2
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = sorted(r["times"])
print(f"  {sys.argv[2]:<24} {sys.argv[3]:<10} min {r['min']*1000:8.0f} ms  median {r['median']*1000:8.0f} ms")
PY
}

# rb ROOT: the rbuild command line for store ROOT, recording peak RSS into $OUT/$id.rss.
rb() { echo "/usr/bin/time -f %M -a -o $OUT/$2.rss $RBUILD --root $1"; }
rbuild_build() { echo "$(rb "$1" "$2") build -q --network none -t $3 $4"; }
docker_build() { echo "/usr/bin/docker build -q --network none -t $1 $2"; }
buildah_build() { echo "$BH build -q --layers --network none -t $1 $2"; }
rb_reset() { echo "rm -rf $1 && cp -a $TEMPLATE $1"; }
dk_reset() { echo "/usr/bin/docker builder prune -af >/dev/null; /usr/bin/docker rmi -f $1 >/dev/null 2>&1 || true"; }
bh_reset() { echo "$BH rmi -af >/dev/null 2>&1 || true"; }

# three_way SCN CASE CTX PREPARE_SUFFIX COLD: times rbuild, BuildKit and buildah on one case.
# With COLD=1 each run starts without build cache; PREPARE_SUFFIX (e.g. an edit) runs after that.
three_way() {
  local scn=$1 case=$2 ctx=$3 extra=$4 cold=$5 id=$1.$2 root=$WORK/rb/$1
  local pr=$extra pd=$extra pb=$extra
  if [ "$cold" = 1 ]; then
    pr="$(rb_reset "$root")${extra:+; $extra}"
    pd="$(dk_reset "$scn")${extra:+; $extra}"
    pb="$(bh_reset)${extra:+; $extra}"
  fi
  [ -d "$root" ] || { mkdir -p "$WORK/rb"; cp -a "$TEMPLATE" "$root"; }
  measure "$id" rbuild "$pr" "$(rbuild_build "$root" "$id" "$scn" "$ctx")"
  measure "$id" buildkit "$pd" "$(docker_build "$scn" "$ctx")"
  measure "$id" buildah "$pb" "$(buildah_build "$scn" "$ctx")"
}

# cache_hit SCN CTX FILE: after touching FILE, does rbuild answer every step from the cache?
cache_hit() {
  local scn=$1 ctx=$2 root=$WORK/rb/$1 log=$OUT/$1.touch.log
  "$RBUILD" --root "$root" build --progress plain --network none -t "$scn" "$ctx" >/dev/null 2>&1
  touch "$ctx/$3"
  "$RBUILD" --root "$root" build --progress plain --network none -t "$scn" "$ctx" >"$log" 2>&1
  local steps cached
  steps=$(grep -cE '^#[0-9]+ \[' "$log" || true)
  cached=$(grep -c ' CACHED' "$log" || true)
  echo "{\"steps\": $steps, \"cached\": $cached}" >"$OUT/$1.touch.cachehit.json"
  echo "  touch-only: $cached of $steps step lines CACHED" >&2
}

# --- contexts ------------------------------------------------------------------------------

# text_file PATH BYTES: compressible text (decimal numbers).
text_file() { (set +o pipefail; head -c $(($2 / 3 + 64)) /dev/urandom | od -An -tu2 -w32 -v | head -c "$2" >"$1"); }
rand_file() { head -c "$2" /dev/urandom >"$1"; }
# mixed_dir DIR MB N: N files totalling MB, half random, half text.
mixed_dir() {
  local dir=$1 each=$(($2 * 1048576 / $3)) i; mkdir -p "$dir"
  for ((i = 0; i < $3; i++)); do
    if ((i % 2)); then text_file "$dir/t$i.txt" "$each"; else rand_file "$dir/r$i.bin" "$each"; fi
  done
}
# small_files DIR N: N files of ~500 bytes, 1000 per directory.
small_files() {
  local dir=$1 n=$2 d
  for ((d = 0; d * 1000 < n; d++)); do
    local k=$((n - d * 1000 < 1000 ? n - d * 1000 : 1000))
    mkdir -p "$dir/d$d"
    head -c $((k * 375)) /dev/urandom | base64 -w0 | split -b 500 -a 4 -d - "$dir/d$d/f" || true
  done
}

# --- scenarios -----------------------------------------------------------------------------

scenario_small() {
  local ctx=$WORK/ctx/small; mkdir -p "$ctx/src"
  printf '#!/bin/sh\necho hello\n' >"$ctx/app.sh"
  local i; for i in $(seq 20); do text_file "$ctx/src/m$i.txt" 4000; done
  cat >"$ctx/Dockerfile" <<'EOF'
FROM busybox
ENV APP=/app
COPY app.sh /app/app.sh
COPY src/ /app/src/
RUN wc -c /app/src/* > /app/sizes
ENV MODE=prod
WORKDIR /app
EOF
  three_way small cold "$ctx" "" 1
  three_way small noop "$ctx" "" 0
  three_way small touch "$ctx" "touch $ctx/app.sh" 0
  three_way small edit "$ctx" "echo \"# \$(date +%N)\" >> $ctx/app.sh" 0
  cache_hit small "$ctx" app.sh
}

scenario_bigfiles() {
  local ctx=$WORK/ctx/bigfiles
  mixed_dir "$ctx/data" "$BIG_MB" 20
  printf 'FROM busybox\nCOPY data/ /data/\n' >"$ctx/Dockerfile"
  three_way bigfiles cold "$ctx" "" 1
  three_way bigfiles noop "$ctx" "" 0
  three_way bigfiles edit "$ctx" "echo \"\$(date +%N)\" >> $ctx/data/t1.txt" 0
}

scenario_manyfiles() {
  local ctx=$WORK/ctx/manyfiles
  small_files "$ctx/data" "$MANY"
  printf 'FROM busybox\nCOPY data/ /data/\n' >"$ctx/Dockerfile"
  # The reset before a cold run frees the last run's $MANY inodes. On an ext4 without a
  # journal (these machines), every inode allocated in the next 30 s is checked against
  # recently freed ones, which made each tool's next build 5-10x slower (bench/NOTES.md):
  # each cold run waits those 30 s out first.
  three_way manyfiles cold "$ctx" "${MANY_COOLDOWN:-sync; sleep 31}" 1
  three_way manyfiles noop "$ctx" "" 0
}

scenario_deep() {
  local ctx=$WORK/ctx/deep i; mkdir -p "$ctx"
  { echo "FROM busybox"; for ((i = 1; i <= DEEP; i++)); do echo "RUN echo $i > /f$i"; done; } >"$ctx/Dockerfile"
  three_way deep cold "$ctx" "" 1
  three_way deep noop "$ctx" "" 0
}

scenario_multistage() {
  local ctx=$WORK/ctx/multistage
  mixed_dir "$ctx/a" 8 4
  mixed_dir "$ctx/b" 8 4
  cat >"$ctx/Dockerfile" <<'EOF'
FROM busybox AS a
COPY a/ /src/
RUN cat /src/* | md5sum > /a.sum
FROM busybox AS b
COPY b/ /src/
RUN cat /src/* | md5sum > /b.sum
FROM busybox
COPY --from=a /a.sum /a.sum
COPY --from=b /b.sum /b.sum
EOF
  three_way multistage cold "$ctx" "" 1
  three_way multistage noop "$ctx" "" 0
}

scenario_transfer() {
  local x=$WORK/xfer ctx=$WORK/ctx/transfer i c; mkdir -p "$x"
  for i in 1 2 3 4 5; do mixed_dir "$ctx/l$i" $((XFER_MB / 5)) 4; done
  { echo "FROM busybox"; for i in 1 2 3 4 5; do echo "COPY l$i/ /l$i/"; done; } >"$ctx/Dockerfile"
  cp -a "$TEMPLATE" "$x/rb-src"
  "$RBUILD" --root "$x/rb-src" build -q --network none -t xfer:1 "$ctx" >/dev/null
  rm -rf "$ctx"
  "$RBUILD" --root "$x/rb-src" export --compression none xfer:1 "$x/oci"  # uncompressed, as rbuild stores it
  $BH pull -q "oci:$x/oci" >/dev/null
  $BH tag "$($BH images -q --noheading | head -1)" localhost/xfer:1
  local wipe="rm -rf $WORK/xfer/data"
  for c in gzip zstd; do
    local id=transfer.$c r=$REG_xfer
    measure "$id" rbuild "$wipe; rm -rf $x/rb-run $x/rb-dst; cp -a $x/rb-src $x/rb-run" \
      "$(rb "$x/rb-run" "$id") push -q --insecure-registry $r --compression $c xfer:1 $r/rb/xfer:1 && $(rb "$x/rb-dst" "$id") pull -q --insecure-registry $r $r/rb/xfer:1"
    # The wire floor: the same compressed blobs (left in rb-run's cache by the last run) moved
    # through the registry by curl, with no compression and no hashing (bench/wire.sh).
    measure "$id" wire "$wipe" "bash $repo/bench/wire.sh $r $x/rb-run $c $x/wire"
    measure "$id" skopeo "$wipe; rm -rf $x/sk-dst" \
      "skopeo copy -q --dest-tls-verify=false --dest-compress --dest-compress-format $c oci:$x/oci docker://$r/sk/xfer:1 && skopeo copy -q --src-tls-verify=false docker://$r/sk/xfer:1 oci:$x/sk-dst:1"
    rm -rf "$x/wire"
    local BH2="buildah --root $x/bh-dst --runroot $x/bh-dst-run --storage-driver overlay"
    measure "$id" buildah "$wipe; $BH2 rmi -af >/dev/null 2>&1 || true" \
      "$BH push -q --tls-verify=false --compression-format $c localhost/xfer:1 docker://$r/bh/xfer:1 && $BH2 pull -q --tls-verify=false $r/bh/xfer:1"
  done
}

scenario_inspect() {
  local img
  for img in bigfiles manyfiles; do
    [ -d "$WORK/rb/$img" ] || { echo "  inspect: skipped $img (run the $img scenario first)" >&2; continue; }
    measure "inspect.$img" rbuild "" "$(rb "$WORK/rb/$img" "inspect.$img") layers $img --json"
  done
  FILES=$INSPECT_FILES WORK=$WORK/inspect bash "$repo/bench/inspect.sh" "$RBUILD" >"$OUT/inspect.txt" 2>&1 || true
  tail -3 "$OUT/inspect.txt" >&2
}
