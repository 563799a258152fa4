#!/usr/bin/env bash
# NormLab GPU check, for a GPU box with no package registry and no internet.
#
# Build it where the repo is (npm run build:gpu-check), copy the folder out/gpu-check/ to the box, and run
#   ./gpu-check.sh
# It needs only Node >= 20 on PATH, or a Node tarball (node-v*-linux-x64.tar.xz from nodejs.org) in this folder,
# which it unpacks next to itself (or in a temporary folder when this one is read-only) and uses. NODE=/path/to/node
# picks a node explicitly. No node_modules: gpu-check.mjs carries tfjs, the webgpu/wasm backends, NormLab's ops and
# models and the golden vectors; dist/linux-x64/dawn.node is Dawn's WebGPU binding.
#
# What it prints: the WebGPU adapter; the golden-vector check of the KN ops on it (PASS/FAIL per op, and whether
# any kernel fell back to the CPU); KNConv vs conv time; knresnet18 and resnet18_bn training img/s at batch 32 and
# 128 and their ratio against the target KN >= 0.6 x BN. Exit status 1 when a golden check fails, 2 when there is
# no adapter. The same figures go to gpu-check-results/<host>-<time>.txt and .json next to the bundle
# (bench-results/gpu-check/ when run as bench/gpu-check.sh in the repo; RESULTS_DIR=… elsewhere).
#
# Sizes, from the environment (or the same as flags: ./gpu-check.sh --width 0.5 --batches 32):
#   WIDTH=1 BATCHES=32,128 STEPS=3 REPS=5   the defaults; GOLDEN_ONLY=1 skips the timings; WASM=1 adds a wasm row
#
# The GPU is reached through Vulkan: it needs the GPU driver's Vulkan ICD (NVIDIA: nvidia_icd.json under
# /usr/share/vulkan/icd.d or /etc/vulkan/icd.d; in a container, NVIDIA_DRIVER_CAPABILITIES must include
# "graphics", or be "all") and the Vulkan loader libvulkan.so.1, which this folder carries in lib/ for boxes that
# lack it. With several GPUs Dawn opens its default one; NORMLAB_GPU_NAME=<part of an adapter's name> picks another.
#
# Software testing (no GPU): a software Vulkan driver, e.g. Chromium's SwiftShader, and small sizes:
#   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp \
#     WIDTH=0.125 BATCHES=4 STEPS=1 REPS=1 ./gpu-check.sh
# (the full sizes take hours there). This script sets neither variable itself.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ -f "$here/gpu-check.mjs" ]]; then
  bundle_dir="$here"
elif [[ -f "$here/../out/gpu-check/gpu-check.mjs" ]]; then
  bundle_dir="$(cd "$here/../out/gpu-check" && pwd)"
else
  echo "gpu-check: no gpu-check.mjs next to this script; in the repo run: npm run build:gpu-check, and copy out/gpu-check/" >&2
  exit 2
fi

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

node_bin="${NODE:-}"
if [[ -z "$node_bin" ]] && command -v node >/dev/null 2>&1 && (( $(node_major node) >= 20 )); then
  node_bin="$(command -v node)"
fi
if [[ -z "$node_bin" ]]; then
  tarball="$(find "$bundle_dir" "$here" -maxdepth 1 -name 'node-v*-linux-x64.tar.xz' 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -z "$tarball" ]]; then
    echo "gpu-check: needs Node >= 20: none on PATH${NODE:+ (NODE=$NODE)}, and no node-v*-linux-x64.tar.xz next to this script" >&2
    exit 2
  fi
  name="$(basename "$tarball" .tar.xz)"
  unpack_root="$bundle_dir/.node"
  if ! mkdir -p "$unpack_root" 2>/dev/null || [[ ! -w "$unpack_root" ]]; then
    unpack_root="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-node.XXXXXX")"
  fi
  if [[ ! -x "$unpack_root/$name/bin/node" ]]; then
    echo "gpu-check: unpacking $(basename "$tarball") into $unpack_root"
    tar -xJf "$tarball" -C "$unpack_root"
  fi
  node_bin="$unpack_root/$name/bin/node"
fi
if (( $(node_major "$node_bin") < 20 )); then
  echo "gpu-check: $node_bin is Node $("$node_bin" --version 2>/dev/null || echo '?'); needs >= 20" >&2
  exit 2
fi

# the Vulkan loader: the system's when it has one, else the copy in lib/
if ! { /sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null || true; } | grep -q 'libvulkan\.so\.1 '; then
  if [[ -f "$bundle_dir/lib/libvulkan.so.1" ]]; then
    echo "gpu-check: no libvulkan.so.1 on this system; using $bundle_dir/lib/libvulkan.so.1"
    export LD_LIBRARY_PATH="$bundle_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi
icds="$(ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d 2>/dev/null | grep '\.json$' | tr '\n' ' ' || true)"
echo "gpu-check: Vulkan drivers installed: ${icds:-none}${VK_ICD_FILENAMES:+ (VK_ICD_FILENAMES=$VK_ICD_FILENAMES)}"

# next to the bundle; run from the repo (bench/gpu-check.sh), in bench-results/ (git-ignored, kept by rebuilds)
if [[ "$bundle_dir" == "$here" ]]; then default_results="$here/gpu-check-results"; else default_results="$(cd "$here/.." && pwd)/bench-results/gpu-check"; fi
results="${RESULTS_DIR:-$default_results}"
if ! mkdir -p "$results" 2>/dev/null || [[ ! -w "$results" ]]; then
  results="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-results.XXXXXX")"
fi
stem="$results/$(hostname 2>/dev/null || echo host)-$(date +%Y%m%d-%H%M%S)"

status=0
"$node_bin" "$bundle_dir/gpu-check.mjs" --report "$stem.json" "$@" 2>&1 | tee "$stem.txt" || status=$?
echo "gpu-check: exit status $status; figures in $stem.txt and $stem.json"
exit "$status"
