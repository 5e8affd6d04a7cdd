// Runs a GOOS=js test binary under Node like Go's wasm_exec_node.js, and
// first instantiates kernels/simd/simd.wasm on the Go instance's memory,
// publishing its gemm, pack, rows and fused as globalThis.webtuneGemm,
// webtunePack, webtuneRows and webtuneFused,
// starts the team of helper threads that split large products
// (js/team.mjs; WEBTUNE_THREADS threads in all, default the machine's cores
// but at least 2 so tests always cross threads) as webtuneGemmTeam,
// and offers WebGPU through
// Dawn for Node (npm webgpu; on this machine the SwiftShader Vulkan driver)
// as globalThis.webtuneInitGPU, as js/worker.mjs does in the browser.
"use strict";
const fs = require("fs");
const path = require("path");
globalThis.require = require;
globalThis.fs = fs;
globalThis.path = path;
globalThis.TextEncoder = require("util").TextEncoder;
globalThis.TextDecoder = require("util").TextDecoder;
globalThis.performance ??= require("perf_hooks").performance;
globalThis.crypto ??= require("crypto");

const [wasmExec, binary, ...args] = process.argv.slice(2);
require(wasmExec);
// The FMA build where this Node validates it (relaxed SIMD: Node 20 needs
// --experimental-wasm-relaxed-simd), unless WEBTUNE_SIMD=plain asks for the
// plain one; the helpers get the same build on their shared memory.
const simdDir = path.join(__dirname, "../../kernels/simd");
const fmaFile = path.join(simdDir, "simd-fma.wasm");
const fma = process.env.WEBTUNE_SIMD !== "plain" && fs.existsSync(fmaFile) && WebAssembly.validate(fs.readFileSync(fmaFile));
const kernel = path.join(simdDir, fma ? "simd-fma.wasm" : "simd.wasm");
const sharedKernel = path.join(simdDir, fma ? "simd-fma-shared.wasm" : "simd-shared.wasm");

(async () => {
  const go = new Go();
  go.argv = [binary, ...args];
  go.env = Object.assign({ TMPDIR: require("os").tmpdir() }, process.env);
  go.exit = process.exit;
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(binary), go.importObject);
  if (fs.existsSync(kernel)) {
    const k = await WebAssembly.instantiate(fs.readFileSync(kernel), { env: { memory: instance.exports.mem } });
    globalThis.webtuneGemm = k.instance.exports.gemm;
    globalThis.webtuneFused = k.instance.exports.fused;
    globalThis.webtuneFMA = fma;
    globalThis.webtunePack = k.instance.exports.pack;
    globalThis.webtuneRows = k.instance.exports.rows;
    const threads = Number(process.env.WEBTUNE_THREADS || Math.max(2, require("os").availableParallelism()));
    if (threads > 1 && fs.existsSync(sharedKernel)) {
      const { Worker } = require("worker_threads");
      const { startTeam } = await import(path.join(__dirname, "../../js/team.mjs"));
      const helper = path.join(__dirname, "../../js/team-helper.mjs");
      globalThis.webtuneGemmTeam = await startTeam({
        module: await WebAssembly.compile(fs.readFileSync(sharedKernel)),
        kernel: k.instance.exports,
        goMemory: instance.exports.mem,
        helpers: threads - 1,
        spawn: (init) => new Promise((resolve, reject) => {
          const w = new Worker(helper);
          w.unref(); // helpers never keep the process alive
          w.once("message", (m) => (m.error ? reject(new Error(m.error)) : resolve()));
          w.once("error", reject);
          w.postMessage(init);
        }),
      });
    }
  }
  try {
    const webgpu = require("webgpu");
    Object.assign(globalThis, webgpu.globals);
    const gpu = webgpu.create([]);
    const { initGPU } = await import(path.join(__dirname, "../../js/gpu.mjs"));
    globalThis.webtuneInitGPU = (wgsl) => initGPU(gpu, instance.exports.mem, wgsl);
  } catch (e) {
    // No Dawn here: WebGPU tests skip.
  }
  process.on("exit", (code) => {
    if (code === 0 && !go.exited) {
      go._pendingEvent = { id: 0 };
      go._resume();
    }
  });
  await go.run(instance);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
