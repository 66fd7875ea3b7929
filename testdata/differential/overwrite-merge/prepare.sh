#!/bin/sh
# An empty directory (git cannot hold one), an escaping symlink kept as a symlink, and a tar
# whose entries overlap what the image has.
set -e
mkdir -p empty-dir t/keep
ln -s ../../etc/shadow escaping-link
echo new > t/over; echo new > t/keep/new
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1700000000 -C t -cf merge.tar .
rm -rf t
