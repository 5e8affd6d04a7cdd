// make bench: one table of GFLOP/s and step times, as ratios against
// baselines measured in the same run on this machine.
//   - TensorFlow.js's wasm backend (XNNPACK, SIMD, one thread) on the same
//     matrix shapes, in this Node process;
//   - webtune's SIMD kernel and GoMLX's pure-Go backend, and a
//     DistilBERT-base-shaped LoRA step per path, from tools/bench (Go
//     compiled to WebAssembly, run under Node with the SIMD kernel loaded).
//   - our WGSL matmul and TensorFlow.js's WebGPU tf.matMul in one page of
//     Debian's Chromium (webgpu.mjs), on the same adapter.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";

const ROOT = resolve(import.meta.dirname, "../..");
const require = createRequire(import.meta.url);
setWasmPaths(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm")) + "/");
setThreadsCount(1);
await tf.setBackend("wasm");
await tf.ready();

const shapes = [
  ["[2048×768]·[768×768]", 1, 2048, 768, 768, false],
  ["[2048×768]·[768×3072]", 1, 2048, 768, 3072, false],
  ["[2048×3072]·[3072×768]", 1, 2048, 3072, 768, false],
  ["x·Wᵀ [2048×768]·[768×768]ᵀ", 1, 2048, 768, 768, true],
  ["attention scores 384×[64×64]·[64×64]ᵀ", 384, 64, 64, 64, true],
  ["attention context 384×[64×64]·[64×64]", 384, 64, 64, 64, false],
];

async function timeIt(fn, minMs = 1000) {
  await fn();
  let n = 0;
  const t0 = performance.now();
  while (n < 2 || performance.now() - t0 < minMs) { await fn(); n++; }
  return (performance.now() - t0) / 1000 / n;
}

// BENCH_ONLY=webgpu skips the CPU half (for work on the shader).
const only = process.env.BENCH_ONLY;
const tfjs = {};
for (const [name, batch, M, K, N, tb] of only === "webgpu" ? [] : shapes) {
  const a = tf.randomNormal([batch, M, K]);
  const b = tf.randomNormal(tb ? [batch, N, K] : [batch, K, N]);
  const sec = await timeIt(async () => { const c = tf.matMul(a, b, false, tb); await c.data(); c.dispose(); });
  tfjs[name] = (2 * batch * M * N * K) / sec / 1e9;
  a.dispose(); b.dispose();
}

const wasm = join(ROOT, "test-output", "bench.wasm");
let out = "", plain = "";
if (only !== "webgpu") {
  execFileSync("go", ["build", "-o", wasm, "./tools/bench"], { cwd: ROOT, env: { ...process.env, GOOS: "js", GOARCH: "wasm" }, stdio: "inherit" });
  // V8 first runs WebAssembly in baseline code and optimizes hot functions
  // in the background; with both cores busy (the helper threads) that takes
  // Go's large program a minute or more, and steps timed meanwhile measure
  // the compiler. Every path is timed in optimized code instead. The runner
  // loads the SIMD build with fused multiply-adds (relaxed SIMD, as Chrome
  // has it); the plain SIMD build is timed too.
  const run = (args, env) => execFileSync(join(ROOT, "tools/wasmexec/go_js_wasm_exec"), [wasm, ...args], {
    cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 24, env: { ...process.env, WEBTUNE_NODE_FLAGS: "--no-wasm-dynamic-tiering", ...env },
  });
  out = run([]);
  plain = run(["-only-matmul", "-skip-pure-go-matmul"], { WEBTUNE_SIMD: "plain" });
}
const parse = (text) => text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
const rows = parse(out);
const plainRows = parse(plain).filter((r) => !r.fma && r.path === "webtune SIMD (wasm)");

const pad = (s, n) => String(s).padEnd(n);
const num = (v, d = 1) => (v === undefined ? "–" : v.toFixed(d));
const teamPath = rows.find((r) => r.kind === "matmul" && r.path.includes("threads"))?.path;
const fma = rows.some((r) => r.fma);
console.log(`\nMatrix products, GFLOP/s (one thread unless said, this machine)${fma ? "; webtune SIMD with fused multiply-adds (relaxed SIMD), and without" : ""}\n`);
console.log(`${pad("shape", 42)}${pad("webtune SIMD", 14)}${fma ? pad("without FMA", 13) : ""}${pad("TF.js wasm", 12)}${pad("pure Go wasm", 14)}${pad("SIMD/TF.js", 12)}${pad("SIMD/pure Go", 14)}${teamPath ? pad(teamPath.replace("webtune ", ""), 20) + "threads/one" : ""}`);
for (const [name] of shapes) {
  const find = (f) => rows.find((r) => r.kind === "matmul" && r.shape === name && f(r.path))?.gflops;
  const simd = find((p) => p === "webtune SIMD (wasm)");
  const noFMA = plainRows.find((r) => r.kind === "matmul" && r.shape === name)?.gflops;
  const pure = find((p) => p.startsWith("GoMLX"));
  const team = find((p) => p === teamPath);
  console.log(`${pad(name, 42)}${pad(num(simd), 14)}${fma ? pad(num(noFMA), 13) : ""}${pad(num(tfjs[name]), 12)}${pad(num(pure), 14)}${pad(simd ? num(simd / tfjs[name], 2) + "×" : "–", 12)}${pad(simd && pure ? num(simd / pure, 1) + "×" : "–", 14)}${team ? pad(num(team), 20) + num(team / simd, 2) + "×" : ""}`);
}
const steps = rows.filter((r) => r.kind === "step");
const pureStep = steps.find((r) => r.path.startsWith("GoMLX")) ?? { tokens: 0, seconds: 1 };
console.log(`\nDistilBERT-base-shaped LoRA training step (random weights, batch ${pureStep?.tokens / 64} × 64 tokens), WebAssembly; median of ${pureStep?.steps?.length ?? "?"} steps after 2 warm-up steps\n`);
console.log(`${pad("path", 36)}${pad("s/step", 10)}${pad("tokens/s", 10)}${pad("matmuls s", 11)}${pad("other ops s", 13)}speed-up`);
for (const r of steps) {
  const traffic = r.up_mb ? `   (per step: ${num(r.up_mb, 1)} MB up, ${num(r.down_mb, 1)} MB down, ${r.kept} uploads saved by resident inputs)` : "";
  console.log(`${pad(r.path, 36)}${pad(num(r.seconds, 2), 10)}${pad(num(r.tokens / r.seconds, 0), 10)}${pad(r.dot_seconds ? num(r.dot_seconds, 2) : "–", 11)}${pad(r.rest_seconds ? num(r.rest_seconds, 2) : "–", 13)}${num(pureStep.seconds / r.seconds, 1)}×${traffic}`);
}
// The real size: the notebook's batch 32 × 64 (every row 64 tokens), each
// path in a process of its own so that its peak memory is its own; the
// native row is the CLI's trainer (GoMLX's pure-Go backend with its AVX
// kernels where Go's SIMD experiment builds them).
if (only !== "webgpu") {
  const real = [];
  const one = (path, env = {}, steps = 2) => parse(run(["-only-step", "-webgpu-step=false", "-profile=false", "-step-batch", "32", "-warm", "1", "-steps", String(steps), "-path", path], env));
  real.push(...one("GoMLX", {}, 1), ...one("SIMD products + fused"), ...one("threads", { WEBTUNE_THREADS: "2" }));
  const native = join(ROOT, "test-output", "bench-native");
  execFileSync("go", ["build", "-o", native, "./tools/bench"], { cwd: ROOT, env: { ...process.env, GOEXPERIMENT: process.arch === "x64" ? "simd" : "" }, stdio: "inherit" });
  real.push(...parse(execFileSync(native, ["-only-step", "-webgpu-step=false", "-profile=false", "-step-batch", "32", "-warm", "1", "-steps", "2"], { encoding: "utf8" }))
    .map((r) => ({ ...r, path: `native CLI trainer (${r.path.replace(/ \(.*/, "")})` })));
  const pure = real.find((r) => r.path.startsWith("GoMLX")) ?? real[0];
  console.log(`\nThe real size: DistilBERT-base-shaped LoRA step at batch 32 × 64 (every row 64 tokens), after 1 warm-up step\n`);
  console.log(`${pad("path", 44)}${pad("s/step", 10)}${pad("tokens/s", 10)}${pad("passes", 8)}${pad("peak MB", 9)}${pad("SST-2 epoch", 13)}speed-up`);
  for (const r of real) {
    const epoch = (2105 * r.seconds) / 60;
    console.log(`${pad(r.path, 44)}${pad(num(r.seconds, 2), 10)}${pad(num(r.tokens / r.seconds, 0), 10)}${pad(Math.ceil(32 / r.micro_batch), 8)}${pad(num(r.memory_mb, 0), 9)}${pad(epoch >= 90 ? num(epoch / 60, 1) + " h" : num(epoch, 0) + " min", 13)}${num(pure.seconds / r.seconds, 1)}×`);
  }
}
const profiles = rows.filter((r) => r.kind === "profile");
if (profiles.length) {
  console.log("\nPer-op profile of that step (each op compiled alone, so the totals run higher), seconds and share\n");
  const total = (p) => Object.values(p.ops).reduce((a, b) => a + b, 0);
  const peak = {}; // each op's largest time on any path
  for (const p of profiles) for (const [n, t] of Object.entries(p.ops)) peak[n] = Math.max(peak[n] ?? 0, t);
  const names = Object.entries(peak).sort((a, b) => b[1] - a[1]).slice(0, 14).map(([n]) => n);
  console.log(`${pad("op", 22)}${profiles.map((p) => pad(p.path, 30)).join("")}`);
  for (const n of names) {
    console.log(`${pad(n, 22)}${profiles.map((p) => pad(`${num(p.ops[n] ?? 0, 3)} s  ${num((100 * (p.ops[n] ?? 0)) / total(p), 1)}%`, 30)).join("")}`);
  }
  console.log(`${pad("total", 22)}${profiles.map((p) => pad(`${num(total(p), 3)} s`, 30)).join("")}`);
}

// WebGPU: our WGSL matmul against TF.js's WebGPU backend, in the same page
// of Debian's Chromium, on the same adapter (here SwiftShader, CPU-emulated:
// the ratio is the figure that counts, not the GFLOP/s).
const { createServer } = await import("node:http");
const { readFileSync, mkdtempSync } = await import("node:fs");
const { tmpdir } = await import("node:os");
const { chromium } = await import("playwright-core");
const files = {
  "/": [join(ROOT, "tools/bench/webgpu.html"), "text/html"],
  "/bench/webgpu.mjs": [join(ROOT, "tools/bench/webgpu.mjs"), "text/javascript"],
  "/js/gpu.mjs": [join(ROOT, "js/gpu.mjs"), "text/javascript"],
  "/kernels/webgpu/matmul.wgsl": [join(ROOT, "kernels/webgpu/matmul.wgsl"), "text/plain"],
  "/tfjs/tf-core.min.js": [require.resolve("@tensorflow/tfjs-core/dist/tf-core.min.js"), "text/javascript"],
  "/tfjs/tf-backend-webgpu.min.js": [require.resolve("@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js"), "text/javascript"],
};
const server = createServer((req, res) => {
  const f = files[req.url];
  if (!f) { res.writeHead(404); return res.end(); }
  res.writeHead(200, { "Content-Type": f[1] });
  res.end(readFileSync(f[0]));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "webtune-bench-")), {
  executablePath: "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--enable-unsafe-webgpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const page = browser.pages()[0] ?? (await browser.newPage());
await page.goto(`http://127.0.0.1:${server.address().port}/`);
const gpu = await page.evaluate(() => window.benchResults, null, { timeout: 0 });
await browser.close();
server.close();
if (gpu.error) {
  console.log(`\nWebGPU: not measured (${gpu.error}).`);
} else {
  console.log(`\nMatrix products on WebGPU, GFLOP/s, same page and adapter (${gpu.adapter}); operands resident on the GPU, result read back, for both\n`);
  console.log(`${pad("shape", 42)}${pad("webtune WGSL", 14)}${pad("TF.js WebGPU", 14)}ratio`);
  for (const r of gpu.rows) console.log(`${pad(r.name, 42)}${pad(num(r.ours, 2), 14)}${pad(num(r.tfjs, 2), 14)}${num(r.ours / r.tfjs, 2)}×`);
}
