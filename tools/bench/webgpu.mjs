// Browser half of `make bench`: our WGSL matmul (js/gpu.mjs, the code the
// page runs) and TensorFlow.js's WebGPU tf.matMul on the same adapter, in
// the same page. Results go to window.benchResults.
import { initGPU } from "/js/gpu.mjs";

// The DistilBERT-base shapes of issue #3 (SwiftShader takes seconds per
// call on them: one warm-up and one timed call each), then smaller ones.
const shapes = [
  ["[2048×768]·[768×768]", 1, 2048, 768, 768, false],
  ["[2048×768]·[768×3072]", 1, 2048, 768, 3072, false],
  ["[2048×3072]·[3072×768]", 1, 2048, 3072, 768, false],
  ["attention scores 384×[64×64]·[64×64]ᵀ", 384, 64, 64, 64, true],
  ["attention context 384×[64×64]·[64×64]", 384, 64, 64, 64, false],
  ["x·Wᵀ [512×768]·[768×768]ᵀ", 1, 512, 768, 768, true],
];

async function timeIt(fn, minMs = 1500) {
  await fn();
  let n = 0;
  const t0 = performance.now();
  while (n < 1 || performance.now() - t0 < minMs) { await fn(); n++; }
  return (performance.now() - t0) / 1000 / n;
}

async function run() {
  const wgsl = await (await fetch("/kernels/webgpu/matmul.wgsl")).text();
  // A stand-in for the Go program's memory: the kernel reads and writes it in place.
  const memory = new WebAssembly.Memory({ initial: 4096 });
  const gpu = await initGPU(navigator.gpu, memory, wgsl);
  await tf.setBackend("webgpu");
  await tf.ready();
  const out = { adapter: gpu.name, rows: [] };
  for (const [name, batch, M, K, N, tb] of shapes) {
    const f = new Float32Array(memory.buffer);
    const aLen = batch * M * K, bLen = batch * K * N, cLen = batch * M * N;
    for (let i = 0; i < aLen + bLen; i++) f[i] = Math.random() - 0.5;
    const aAddr = 0, bAddr = aLen * 4, cAddr = (aLen + bLen) * 4;
    // Params as in matmul.wgsl; B is [K, N] or, transposed, [N, K].
    const params = [M, N, K, batch, 0, K, 1, M * K, 0, tb ? 1 : N, tb ? K : 1, K * N, 0, N, M * N, 0];
    // As the product runs them: operands already on the GPU (a frozen
    // weight, an activation left by the previous step), the result read back.
    const a0 = gpu.upload(aAddr, aLen), b0 = gpu.upload(bAddr, bLen), c0 = gpu.alloc(cLen);
    const ours = await timeIt(async () => { gpu.matmul(a0, b0, c0, params); await gpu.download(c0, cAddr, cLen); }, 1);
    for (const id of [a0, b0, c0]) gpu.release(id);
    const a = tf.tensor3d(f.slice(0, aLen), [batch, M, K]);
    const b = tf.tensor3d(f.slice(aLen, aLen + bLen), tb ? [batch, N, K] : [batch, K, N]);
    const theirs = await timeIt(async () => { const c = tf.matMul(a, b, false, tb); await c.data(); c.dispose(); }, 1);
    a.dispose(); b.dispose();
    const flops = 2 * batch * M * N * K;
    out.rows.push({ name, ours: flops / ours / 1e9, tfjs: flops / theirs / 1e9 });
  }
  return out;
}

window.benchResults = run().catch((e) => ({ error: String(e?.message ?? e) }));
