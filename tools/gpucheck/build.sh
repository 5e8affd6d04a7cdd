#!/usr/bin/env bash
# make gpu-check: builds out/gpucheck, a self-contained folder (under 60 MiB)
# that run.sh runs on a machine with a Vulkan GPU and Python with torch,
# transformers and peft (the device tool's H200). Everything is compressed
# with xz; run.sh unpacks with Python's lzma (no xz needed there).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/out/gpucheck
GO=${GO:-go}
rm -rf "$OUT"; mkdir -p "$OUT/bin" "$OUT/simd" "$OUT/node_modules/webgpu/dist/linux-x64"
cd "$ROOT"
GOEXPERIMENT=simd GOOS=linux GOARCH=amd64 $GO build -trimpath -ldflags="-s -w" -o "$OUT/bin/webtune-train" ./tools/train
GOOS=linux GOARCH=amd64 $GO build -trimpath -ldflags="-s -w" -o "$OUT/bin/genbase" ./tools/genbase
GOOS=js GOARCH=wasm $GO build -trimpath -ldflags="-s -w" -o "$OUT/bin/bench.wasm" ./tools/bench
cp kernels/simd/*.wasm "$OUT/simd/"
cp "$($GO env GOROOT)/lib/wasm/wasm_exec.js" "$OUT/"
cp "$(command -v node)" "$OUT/bin/node"
W=tools/wasmexec/node_modules/webgpu
cp $W/package.json $W/index.js "$OUT/node_modules/webgpu/"
cp $W/dist/linux-x64/dawn.node "$OUT/node_modules/webgpu/dist/linux-x64/"
cp tools/gpucheck/run.sh tools/gpucheck/peft_check.py tools/gpucheck/torch_step.py tools/gpucheck/common.py "$OUT/"
xz -T0 -6 "$OUT/bin/webtune-train" "$OUT/bin/genbase" "$OUT/bin/bench.wasm" "$OUT/bin/node" "$OUT/node_modules/webgpu/dist/linux-x64/dawn.node"
du -sh "$OUT"
