// The Worker host: one long-lived Go instance serving webtune's API.
//
// syumai/workers' stock runtime starts a Go instance per request; we start
// one, keep it, and forward the page's fetch-style requests to the handler
// Go registered (binding.handleRequest), streaming response bodies back.
import "../build/wasm_exec.js";
import { initGPU } from "./gpu.mjs";

const binding = {};

async function start() {
  const go = new Go();
  let ready;
  const readyPromise = new Promise((resolve) => (ready = resolve));
  const imports = { ...go.importObject, workers: { ready: () => ready() } };
  const { instance } = await WebAssembly.instantiateStreaming(fetch(new URL("../build/app.wasm", import.meta.url)), imports);
  // The SIMD kernels (matrix product, fused element-wise programs) work in
  // place on Go's memory; Go finds them as globalThis.webtuneGemm and
  // webtuneFused. Without SIMD support Go keeps its own.
  try {
    const kernel = await WebAssembly.instantiateStreaming(fetch(new URL("../build/simd.wasm", import.meta.url)), { env: { memory: instance.exports.mem } });
    globalThis.webtuneGemm = kernel.instance.exports.gemm;
    globalThis.webtuneFused = kernel.instance.exports.fused;
  } catch (e) {
    console.warn("WebAssembly SIMD kernel unavailable, matrix products stay in Go:", e);
  }
  // WebGPU, if the browser has it: Go asks for a device with its WGSL.
  if (self.navigator?.gpu) globalThis.webtuneInitGPU = (wgsl) => initGPU(self.navigator.gpu, instance.exports.mem, wgsl);
  globalThis.webtuneCompute = new URL(self.location.href).searchParams.get("compute") ?? "auto";
  // syumai/workers reads globalThis.context.binding through wasm_exec.js's proxy.
  go.run(instance, { binding }).then(() => postMessage({ type: "fatal", message: "the Go program exited" }));
  await readyPromise;
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
  if (msg.type !== "request") return;
  try {
    await started;
    await forward(msg);
  } catch (err) {
    postMessage({ type: "error", id: msg.id, message: String(err?.message ?? err) });
  }
};
