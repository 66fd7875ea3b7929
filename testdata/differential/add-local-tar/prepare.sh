#!/bin/sh
# Archives are made at test time from a small tree, with fixed owners, modes and mtimes.
set -e
mkdir -p t/pkg/bin t/pkg/etc
echo '#!/bin/sh' > t/pkg/bin/tool; chmod 0755 t/pkg/bin/tool
echo conf > t/pkg/etc/tool.conf; chmod 0600 t/pkg/etc/tool.conf
ln -s bin/tool t/pkg/tool-link
ln t/pkg/bin/tool t/pkg/bin/tool-hard
pack() { tar --sort=name --owner="$1" --group="$2" --numeric-owner --mtime=@1700000000 -C "$3" -c "$4"; }
pack 1000 2000 t pkg | gzip -n > archive.tar.gz
pack 0 0 t pkg | bzip2 > archive.tar.bz2
pack 3 4 t pkg | xz > archive.tar.xz
pack 0 0 t/pkg etc > plain.tar
rm -rf t
