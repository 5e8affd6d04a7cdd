// team-helper.mjs: a helper thread of team.mjs. It instantiates the SIMD
// kernel on the team's shared memory, says it is ready, then sleeps on its
// control word until the caller posts a product (its columns), runs it and
// wakes the caller. Runs as a browser module worker or a Node worker thread.
import { blocked, WORDS, WORK, DONE, FAILED } from "./team.mjs";

async function serve({ module, memory, ctrl, index }, post) {
  const { exports } = await WebAssembly.instantiate(module, { env: { memory } });
  post({ ready: true });
  const c = new Int32Array(ctrl);
  const base = index * WORDS;
  for (;;) {
    // Sleep until the caller posts work (a wait on a stale value returns at once).
    for (let s; (s = Atomics.load(c, base)) !== WORK; ) Atomics.wait(c, base, s);
    try {
      const [, a, b, cc, M, N, K, ldar, ldac, ldb, ldc, acc] = c.subarray(base, base + 12);
      blocked(exports.gemm, a, b, cc, M, N, K, ldar, ldac, ldb, ldc, acc);
      Atomics.store(c, base, DONE);
    } catch (e) {
      console.error("webtune team helper:", e);
      Atomics.store(c, base, FAILED);
    }
    Atomics.notify(c, base);
  }
}

if (globalThis.WorkerGlobalScope) {
  self.addEventListener("message", (e) => serve(e.data, (m) => self.postMessage(m)).catch((err) => self.postMessage({ error: String(err?.message ?? err) })), { once: true });
} else {
  const { parentPort } = await import("node:worker_threads");
  parentPort.once("message", (d) => serve(d, (m) => parentPort.postMessage(m)).catch((err) => parentPort.postMessage({ error: String(err?.message ?? err) })));
}
