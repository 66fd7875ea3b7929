#!/bin/sh
# Git cannot store hardlinks: make them at test time.
set -e
ln files/a files/b
ln files/a files/sub/c
