#!/usr/bin/env bash
# Make a small busybox rootfs offline from Debian's busybox-static package.
#
#   testdata/busybox/make-rootfs.sh OUT_DIR
#
# Writes OUT_DIR/rootfs/ (a directory tree) and OUT_DIR/rootfs.tar (the same tree as a
# deterministic tar: sorted names, owner 0:0, fixed mtime), ready for `ADD rootfs.tar /`.
# The tree: /bin/busybox plus one symlink per applet, /etc/passwd (root, nobody 65534),
# /etc/group (root, nogroup 65534), /tmp (1777), /root, /home, /var, /usr/bin (empty).
# Needs: busybox-static (apt-get install -y busybox-static), GNU tar.
set -euo pipefail
out=${1:?usage: make-rootfs.sh OUT_DIR}
bb=/bin/busybox
[ -x "$bb" ] || { echo "make-rootfs.sh: $bb missing: apt-get install -y busybox-static" >&2; exit 2; }
file -b "$bb" 2>/dev/null | grep -q 'static' || ldd "$bb" 2>&1 | grep -q 'not a dynamic' \
  || { echo "make-rootfs.sh: $bb is not static: install busybox-static" >&2; exit 2; }
root="$out/rootfs"
rm -rf "$root"
mkdir -p "$root"/{bin,etc,tmp,root,home,var,usr/bin,dev,proc,sys}
cp "$bb" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] && continue
  ln -sf busybox "$root/bin/$applet"
done
cat >"$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$root/etc/group" <<'G'
root:x:0:
nogroup:x:65534:
G
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
find "$root" -exec touch -h -d '2024-01-01 00:00:00 UTC' {} +
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-01-01 00:00:00 UTC' \
  --format=gnu -C "$root" -cf "$out/rootfs.tar" .
echo "$out/rootfs.tar"
