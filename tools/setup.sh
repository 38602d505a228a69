#!/usr/bin/env bash
# Prepares a fresh Debian/Ubuntu machine: a Vulkan driver (Mesa's lavapipe runs Vulkan on the
# CPU where there is no GPU), Mesa's EGL and GLES (wgpu's GL back end, headless), Python's venv
# (the Python package's build: python/README.md), and the pretrained model (tools/fetch_model.sh).
# Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq mesa-vulkan-drivers >/dev/null
  echo "installed mesa-vulkan-drivers"
fi
if ! ldconfig -p | grep -q libEGL_mesa.so; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq libegl1 libegl-mesa0 libgles2 >/dev/null 2>&1 ||
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq libegl1 libegl-mesa0 libgles2 >/dev/null; }
  echo "installed Mesa's EGL and GLES (libegl1 libegl-mesa0 libgles2)"
fi
# The Python package (python/README.md) builds in a venv: Debian splits venv out of python3.
if command -v python3 >/dev/null && ! python3 -m venv --help >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq python3-venv >/dev/null 2>&1 ||
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-venv >/dev/null; }
  echo "installed python3-venv"
fi
"$root/tools/fetch_model.sh"
