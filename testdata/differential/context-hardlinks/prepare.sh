#!/bin/sh
# Git cannot store hardlinks: make them at test time.
set -e
mkdir -p files/sub
ln files/a files/b
ln files/a files/sub/c
