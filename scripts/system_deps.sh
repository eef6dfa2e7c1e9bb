#!/usr/bin/env bash
# Installs the system libraries openhmr needs: OSMesa (pyrender's offscreen rendering) and
# Mesa's EGL with its software rasteriser (moderngl, the synthetic images' renderer).
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail
have() { ldconfig -p 2>/dev/null | grep -q "$1"; }
if have 'libOSMesa\.so' && have 'libEGL_mesa\.so' && [ -e /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so -o -n "$(ls /usr/lib/*/dri/swrast_dri.so 2>/dev/null)" ]; then
    exit 0
fi
packages="libosmesa6 libegl1 libegl-mesa0 libgl1-mesa-dri"
cmd="apt-get update && apt-get install -y $packages"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "openhmr: installing OSMesa and Mesa's EGL (offscreen rendering): $cmd"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages
else
    echo "openhmr: OSMesa or Mesa's EGL (offscreen rendering) is missing. Install them with: sudo sh -c '$cmd'" >&2
    exit 1
fi
