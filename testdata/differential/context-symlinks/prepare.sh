#!/bin/sh
# Git keeps symlinks, but making them here keeps the fixture independent of checkout options.
set -e
ln -s target.txt tree/rel-link
ln -s /etc/passwd tree/abs-link
ln -s does-not-exist tree/dangling
ln -s real-dir tree/dir-link
ln -s real.txt link-to-file
ln -s realdir link-to-dir
