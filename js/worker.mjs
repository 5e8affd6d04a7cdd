// The Worker host: one long-lived Go instance serving webtune's API.
//
// syumai/workers' stock runtime starts a Go instance per request; we start
// one, keep it, and forward the page's fetch-style requests to the handler
// Go registered (binding.handleRequest), streaming response bodies back.
import "../build/wasm_exec.js";
import { initGPU } from "./gpu.mjs";
import { startTeam } from "./team.mjs";

const binding = {};

async function start() {
  const go = new Go();
  let ready;
  const readyPromise = new Promise((resolve) => (ready = resolve));
  const imports = { ...go.importObject, workers: { ready: () => ready() } };
  const { instance } = await WebAssembly.instantiateStreaming(fetch(new URL("../build/app.wasm", import.meta.url)), imports);
  // The SIMD kernels (matrix product, packing, fused element-wise programs,
  // row reductions) work in place on Go's memory; Go finds them as
  // globalThis.webtuneGemm, webtunePack, webtuneFused and webtuneRows.
  // Without SIMD support Go keeps its own.
  try {
    // The build with fused multiply-adds where the browser has relaxed SIMD.
    const fmaBytes = await (await fetch(new URL("../build/simd-fma.wasm", import.meta.url))).arrayBuffer();
    const fma = WebAssembly.validate(fmaBytes);
    const env = { env: { memory: instance.exports.mem } };
    const kernel = fma ? await WebAssembly.instantiate(fmaBytes, env)
      : await WebAssembly.instantiateStreaming(fetch(new URL("../build/simd.wasm", import.meta.url)), env);
    globalThis.webtuneGemm = kernel.instance.exports.gemm;
    globalThis.webtunePack = kernel.instance.exports.pack;
    globalThis.webtuneRows = kernel.instance.exports.rows;
    globalThis.webtuneFused = kernel.instance.exports.fused;
    globalThis.webtuneFMA = fma;
    globalThis.webtuneGemmTeam = await startHelpers(kernel.instance.exports, instance.exports.mem, fma ? "simd-fma-shared.wasm" : "simd-shared.wasm");
  } catch (e) {
    console.warn("WebAssembly SIMD kernel unavailable, matrix products stay in Go:", e);
  }
  // WebGPU, if the browser has it: Go asks for a device with its WGSL.
  if (self.navigator?.gpu) globalThis.webtuneInitGPU = (wgsl) => initGPU(self.navigator.gpu, instance.exports.mem, wgsl);
  globalThis.webtuneCompute = new URL(self.location.href).searchParams.get("compute") ?? "auto";
  // syumai/workers reads globalThis.context.binding through wasm_exec.js's proxy.
  // Go's runtime writes why it died (fatal error: out of memory, a panic)
  // through console.log a line at a time: the last lines go with the news.
  const log = console.log.bind(console);
  const last = [];
  console.log = (...a) => { last.push(a.join(" ")); if (last.length > 40) last.shift(); log(...a); };
  go.run(instance, { binding }).then(() => {
    const why = last.find((l) => /^(fatal error|panic|runtime: out of memory)/.test(l)) ?? "the Go program exited";
    postMessage({ type: "fatal", message: why });
  });
  await readyPromise;
}

// startHelpers starts the helper threads that take a share of each large
// matrix product (js/team.mjs): one per further core (at most 8 threads in
// all; ?threads=N sets the count). Shared memory needs cross-origin isolation
// (tools/serve sends COOP/COEP); without it products stay on this thread.
async function startHelpers(kernel, goMemory, sharedBuild) {
  const asked = Number(new URL(self.location.href).searchParams.get("threads"));
  const threads = asked > 0 ? Math.min(asked, 16) : Math.min(navigator.hardwareConcurrency || 1, 8);
  if (threads < 2 || !self.crossOriginIsolated) return undefined;
  try {
    const module = await WebAssembly.compileStreaming(fetch(new URL(`../build/${sharedBuild}`, import.meta.url)));
    return await startTeam({
      module, kernel, goMemory, helpers: threads - 1,
      spawn: (init) => new Promise((resolve, reject) => {
        const w = new Worker(new URL("./team-helper.mjs", import.meta.url), { type: "module" });
        w.onmessage = (e) => (e.data?.error ? reject(new Error(e.data.error)) : resolve());
        w.onerror = (e) => reject(new Error(e.message || "helper worker failed to start"));
        w.postMessage(init);
      }),
    });
  } catch (e) {
    console.warn("helper threads unavailable, matrix products stay on one thread:", e);
    return undefined;
  }
}

async function forward({ id, path, method, headers, body }) {
  const req = new Request(new URL(path, self.location.origin), {
    method, headers, body: body ?? undefined, duplex: body ? "half" : undefined,
  });
  const res = await binding.handleRequest(req);
  postMessage({ type: "response", id, status: res.status, headers: [...res.headers] });
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = value.slice(); // own buffer, so it can be transferred
      postMessage({ type: "chunk", id, chunk }, [chunk.buffer]);
    }
  }
  postMessage({ type: "end", id });
}

const started = start();
started.then(() => postMessage({ type: "ready" }), (e) => postMessage({ type: "fatal", message: String(e?.message ?? e) }));

self.onmessage = async (e) => {
  const msg = e.data;
  if (msg.type === "simulate-crash") return postMessage({ type: "fatal", message: "fatal error: out of memory (simulated)" });
  if (msg.type !== "request") return;
  try {
    await started;
    await forward(msg);
  } catch (err) {
    postMessage({ type: "error", id: msg.id, message: String(err?.message ?? err) });
  }
};
