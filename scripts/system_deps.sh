#!/usr/bin/env bash
# Installs the system libraries openhmr needs (OSMesa for offscreen rendering).
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail
if ldconfig -p 2>/dev/null | grep -q 'libOSMesa\.so'; then
    exit 0
fi
cmd="apt-get update && apt-get install -y libosmesa6"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "openhmr: installing OSMesa (offscreen rendering): $cmd"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libosmesa6
else
    echo "openhmr: OSMesa (offscreen rendering) is missing. Install it with: sudo sh -c '$cmd'" >&2
    exit 1
fi
