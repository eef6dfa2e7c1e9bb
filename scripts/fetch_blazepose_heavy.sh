#!/usr/bin/env bash
# Puts BlazePose heavy (pose_landmark_heavy.tflite, 27.7 MB, Apache-2.0) into openhmr's cache,
# from the npm registry package @mediapipe/pose. Only training `encoder=blazepose-heavy` from
# scratch needs it: trained openhmr checkpoints hold the whole network.
set -euo pipefail
dest="${OPENHMR_CACHE_DIR:-$HOME/.cache/openhmr}/blazepose"
if [ -f "$dest/pose_landmark_heavy.tflite" ]; then
    echo "openhmr: $dest/pose_landmark_heavy.tflite is already there"
    exit 0
fi
command -v npm >/dev/null || { echo "openhmr: npm is needed to fetch @mediapipe/pose (apt-get install npm)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @mediapipe/pose@0.5.1675469404 >/dev/null && tar xzf mediapipe-pose-*.tgz package/pose_landmark_heavy.tflite)
mkdir -p "$dest"
mv "$work/package/pose_landmark_heavy.tflite" "$dest/pose_landmark_heavy.tflite.tmp"
mv "$dest/pose_landmark_heavy.tflite.tmp" "$dest/pose_landmark_heavy.tflite"
echo "openhmr: BlazePose heavy is in $dest"
