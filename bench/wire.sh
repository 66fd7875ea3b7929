#!/bin/bash
# wire.sh REG STORE ALGO SCRATCH: the wire floor of the transfer scenario. curl uploads the
# compressed layer blobs that rbuild's push left in STORE's (diff_id, ALGO) cache to the
# registry REG (POST, one PATCH with the whole blob, PUT ?digest=), all layers at once, then
# downloads them into SCRATCH, all at once. Nothing is compressed or hashed by the client:
# this is what moving the same bytes through this registry costs on this machine, the time
# no client can go under. Exit status: non-zero when any request failed.
set -euo pipefail
reg=$1 store=$2 algo=$3 scratch=$4
repo=wire/floor
digests=$(for f in "$store/registry/compressed/$algo"/*; do sed 's/^sha256://' "$f"; echo; done)
[ -n "$digests" ] || { echo "wire.sh: no $algo blobs cached in $store" >&2; exit 2; }
rm -rf "$scratch"; mkdir -p "$scratch"

# location HEADERS_FILE: the Location header, made absolute.
location() {
  local loc; loc=$(tr -d '\r' <"$1" | awk -F': ' 'tolower($1) == "location" { print $2 }')
  case $loc in http*) echo "$loc" ;; *) echo "http://$reg$loc" ;; esac
}

upload() {
  local hex=$1 h=$scratch/$1.h url
  curl -sSf -X POST -D "$h" -o /dev/null "http://$reg/v2/$repo/blobs/uploads/"
  url=$(location "$h")
  curl -sSf -X PATCH -H 'Content-Type: application/octet-stream' \
    --data-binary "@$store/blobs/sha256/$hex" -D "$h" -o /dev/null "$url"
  url=$(location "$h")
  case $url in *\?*) url="$url&" ;; *) url="$url?" ;; esac
  curl -sSf -X PUT -o /dev/null "${url}digest=sha256:$hex"
}

pids=()
for d in $digests; do upload "$d" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
pids=()
for d in $digests; do
  curl -sSf -o "$scratch/$d" "http://$reg/v2/$repo/blobs/sha256:$d" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
