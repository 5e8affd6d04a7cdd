#!/usr/bin/env bash
# The real-GPU check, run from the repository root on the device machine:
#   bash out/gpucheck/run.sh [OUTDIR]
# It prints (and writes to OUTDIR/log) the machine, the native CLI at
# distilbert-base size on every core, PEFT loading our adapters (tiny and
# base-shaped) with logits compared to ours, our WebGPU path through Dawn on
# the GPU's Vulkan driver, and PyTorch's own LoRA step on the GPU.
# GPUCHECK_ONLY=webgpu runs only the GPU sections (machine, PyTorch's step,
# our WebGPU steps): for a session whose native code did not change.
set -uo pipefail
G=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$G/../.." && pwd)
R=${1:-/tmp/gpucheck-out}
mkdir -p "$R"
exec > >(tee "$R/log") 2>&1
cd "$ROOT"
python3 - "$G" <<'PY'
import lzma, os, pathlib, sys
for p in pathlib.Path(sys.argv[1]).rglob("*.xz"):
    out = p.with_suffix("")
    out.write_bytes(lzma.decompress(p.read_bytes())); os.chmod(out, 0o755); p.unlink()
PY
cp "$G"/simd/*.wasm kernels/simd/
export PATH="$G/bin:$PATH" NODE_PATH="$G/node_modules"
section() { echo; echo "=== $* ($(date +%T))"; }

section machine
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) × $(nproc)"
node --version; python3 -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)'

section data
head -1 testdata/sst2/train-2000.tsv > /tmp/eval.tsv; sed -n '1802,2001p' testdata/sst2/train-2000.tsv >> /tmp/eval.tsv
head -65 /tmp/eval.tsv > /tmp/eval64.tsv
head -1801 testdata/sst2/train-2000.tsv > /tmp/train.tsv
wc -l /tmp/train.tsv /tmp/eval.tsv
genbase -out /tmp/base -tokenizer public/models/distilbert-tiny && ls -la /tmp/base

ONLY=${GPUCHECK_ONLY:-}
if [ "$ONLY" != webgpu ]; then
section "native CLI, bundled tiny model, $(nproc) cores"
timeout 60 webtune-train -model public/models/distilbert-tiny -train /tmp/train.tsv -eval /tmp/eval.tsv -steps 56 -out /tmp/tiny-run -predictions /tmp/tiny-run/predictions.json 2>/dev/null | tail -9
section "native CLI, base-shaped (distilbert-base-uncased config), batch 32 × 64, $(nproc) cores"
# 5 steps and 64 evaluation rows: on the H200's 16-vCPU host a step took 21.5 s
# (2026-12-04), and 12 steps with 200 rows ran past 150 s.
timeout 200 webtune-train -model /tmp/base -train /tmp/train.tsv -eval /tmp/eval64.tsv -steps 5 -out /tmp/base-run -predictions /tmp/base-run/predictions.json 2>/dev/null | tail -9
python3 -c 'import json,sys; m=json.load(open("/tmp/base-run/metrics.json")); print("base-shaped: %.2f s/step, %d rows a pass, %.0f real tokens/s, %.0f padded tokens/s; projected SST-2 epoch (2,105 steps): %.1f min" % (m["train_seconds_per_step"], m["micro_batch"], m["train_tokens_per_sec"], m["train_padded_tokens_per_sec"], m["train_seconds_per_step"]*2105/60))'
cp /tmp/base-run/metrics.json "$R/base-metrics.json"; cp /tmp/tiny-run/metrics.json "$R/tiny-metrics.json"

section "PEFT loads our adapters; logits against ours"
python3 "$G/peft_check.py" public/models/distilbert-tiny /tmp/tiny-run "$R/peft-tiny.json"
python3 "$G/peft_check.py" /tmp/base /tmp/base-run "$R/peft-base.json"
fi

section "PyTorch + PEFT LoRA step on the GPU, base-shaped, batch 32 × 64"
timeout 90 python3 "$G/torch_step.py" /tmp/base

section "WebGPU through Dawn on this GPU (Vulkan): base-shaped LoRA step, batch 32 × 64"
VK=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$VK" ] && export VK_DRIVER_FILES=$VK VK_ICD_FILENAMES=$VK
node -e 'const w=require("webgpu"); Object.assign(globalThis,w.globals); w.create([]).requestAdapter({powerPreference:"high-performance"}).then(async a=>{const i=a.info??await a.requestAdapterInfo(); console.log("adapter:", i.vendor, i.architecture, i.device, i.description); process.exit(0)}).catch(e=>{console.log("no adapter:", e.message); process.exit(0)})'
step() { timeout "$1" node --experimental-wasm-relaxed-simd tools/wasmexec/run.cjs "$G/wasm_exec.js" "$G/bin/bench.wasm" -only-step "${@:2}" -profile=false 2>&1 | grep -v '^Go backend' | tail -5; }
echo "-- matrix products, operands on the GPU: GFLOP/s of each WGSL kernel"
timeout 120 node --experimental-wasm-relaxed-simd tools/wasmexec/run.cjs "$G/wasm_exec.js" "$G/bin/bench.wasm" -only-matmul -cpu-matmul=false -gpu-matmul-table 2>&1 | grep -v '^Go backend' | python3 -c '
import json, sys
for line in sys.stdin:
    try: r = json.loads(line)
    except ValueError: print(line, end=""); continue
    print("%-42s %-28s %8.0f GFLOP/s" % (r["shape"], r["path"].split(" (")[0], r["gflops"]))'
echo "-- batch 32 in one pass, tiled matmul (workgroup memory); then the GPU's time by kind of dispatch"
step 150 -path WebGPU -step-batch 32 -steps 3 -micro 32 -gpu-matmul tiled -gpu-profile
echo "-- batch 32 in one pass, register-only matmul (the SwiftShader kernel)"
step 150 -path WebGPU -step-batch 32 -steps 3 -micro 32 -gpu-matmul plain -gpu-profile
echo "-- batch 32 in passes chosen by the memory budget, tiled matmul"
step 150 -path WebGPU -step-batch 32 -steps 3 -gpu-matmul tiled
if [ "$ONLY" != webgpu ]; then
section "WebAssembly SIMD on $(nproc) threads, same step"
WEBTUNE_THREADS=$(nproc) step 100 -path threads -step-batch 32 -steps 2 -webgpu-step=false
fi
section done
