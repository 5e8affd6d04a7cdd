// team.mjs: one matrix product split by columns across the calling thread
// and helper workers (team-helper.mjs), each running the same SIMD kernel.
//
// Go's linear memory cannot be shared with other threads (it is not a
// SharedArrayBuffer), so the caller copies what each helper reads into one
// shared WebAssembly.Memory: A once (compacted), each helper's columns of B,
// and its columns of C when accumulating. Helpers run simd-shared.wasm (the
// same code, importing a shared memory) on it; the caller computes its own
// columns in place on Go's memory meanwhile, then copies the helpers' columns
// of C back. The copies are O(MK + KN + MN) against the product's O(MNK).
//
// Works in a browser worker (needs cross-origin isolation for shared memory)
// and in Node (worker_threads); the caller supplies spawn() for its host.

// Cache blocking: a [BLOCK × BLOCK] block of B (256 KB) stays in L2 while
// the rows of A stream past it (kernels.Plan.Run does the same in Go).
export const BLOCK = 256;
// Control words per helper in the SharedArrayBuffer the threads sync on:
// [state, a, b, c, M, N, K, ldar, ldac, ldb, ldc, accumulate].
export const WORDS = 16;
export const IDLE = 0, WORK = 1, DONE = 2, FAILED = 3;
const MAX_PAGES = 16384; // 1 GiB of shared memory at most; larger products stay on one thread
const PAGE = 65536;

// blocked runs gemm (simd.wat's signature: byte addresses, element strides)
// over a whole product in cache blocks.
export function blocked(gemm, a, b, c, M, N, K, ldar, ldac, ldb, ldc, acc) {
  for (let n0 = 0; n0 < N; n0 += BLOCK) {
    const nc = Math.min(BLOCK, N - n0);
    for (let k0 = 0; k0 < K; k0 += BLOCK) {
      const kc = Math.min(BLOCK, K - k0);
      gemm(a + 4 * k0 * ldac, b + 4 * (k0 * ldb + n0), c + 4 * n0, M, nc, kc, ldar, ldac, ldb, ldc, acc || k0 > 0 ? 1 : 0);
    }
  }
}

// padded is kernels.PaddedStride: n rounded up to an odd multiple of 16
// floats, so that rows of B spread over every cache set.
function padded(n) {
  const ld = Math.ceil(n / 16) * 16;
  return (ld / 16) % 2 === 0 ? ld + 16 : ld;
}

// startTeam starts `helpers` workers and returns the team's gemm, with the
// signature of simd.wat's gemm, and its thread count as gemm.threads.
//   module:    compiled simd-shared.wasm (WebAssembly.Module)
//   kernel:    the caller's own instance exports of simd.wasm on Go's memory
//   goMemory:  Go's WebAssembly.Memory
//   spawn(init): starts one helper, posts it init, resolves once it is ready
export async function startTeam({ module, kernel, goMemory, helpers, spawn }) {
  const shared = new WebAssembly.Memory({ initial: 256, maximum: MAX_PAGES, shared: true });
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * WORDS * helpers));
  await Promise.all(Array.from({ length: helpers }, (_, index) => spawn({ module, memory: shared, ctrl: ctrl.buffer, index })));
  let go = new Float32Array(goMemory.buffer);
  let sh = new Float32Array(shared.buffer);

  let gone = false; // a helper stopped answering: the team is not used again
  function gemm(a, b, c, M, N, K, ldar, ldac, ldb, ldc, acc) {
    // Columns per thread, a multiple of the kernel's 8-wide tiles.
    const width = Math.ceil(N / (helpers + 1) / 8) * 8;
    const parts = gone ? 1 : Math.ceil(N / width);
    const ldw = padded(width);
    const need = M * K + (K * ldw + M * width) * (parts - 1);
    if (parts < 2 || need * 4 > MAX_PAGES * PAGE) return blocked(kernel.gemm, a, b, c, M, N, K, ldar, ldac, ldb, ldc, acc);
    if (go.buffer !== goMemory.buffer) go = new Float32Array(goMemory.buffer); // Go's memory grew
    if (need * 4 > shared.buffer.byteLength) {
      try {
        shared.grow(Math.ceil((need * 4 - shared.buffer.byteLength) / PAGE));
      } catch {
        return blocked(kernel.gemm, a, b, c, M, N, K, ldar, ldac, ldb, ldc, acc); // no memory for the copies
      }
      sh = new Float32Array(shared.buffer);
    }
    // A, compacted: row-major, or column-major when that is how it lies.
    const ai = a >>> 2; // Go passes addresses as numbers; >>> keeps those past 2 GiB positive
    let sr = K, sc = 1;
    if (ldac === 1) {
      if (ldar === K) sh.set(go.subarray(ai, ai + M * K), 0);
      else for (let m = 0; m < M; m++) sh.set(go.subarray(ai + m * ldar, ai + m * ldar + K), m * K);
    } else if (ldar === 1) {
      sr = 1; sc = M;
      for (let k = 0; k < K; k++) sh.set(go.subarray(ai + k * ldac, ai + k * ldac + M), k * M);
    } else {
      for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) sh[m * K + k] = go[ai + m * ldar + k * ldac];
    }
    // Each helper's columns of B (and of C when accumulating), then go.
    const bi = b >>> 2, ci = c >>> 2;
    let off = M * K;
    const jobs = [];
    for (let p = 1; p < parts; p++) {
      const n0 = p * width, w = Math.min(width, N - n0);
      const bOff = off, cOff = off + K * ldw;
      off = cOff + M * w;
      for (let k = 0; k < K; k++) sh.set(go.subarray(bi + k * ldb + n0, bi + k * ldb + n0 + w), bOff + k * ldw);
      if (acc) for (let m = 0; m < M; m++) sh.set(go.subarray(ci + m * ldc + n0, ci + m * ldc + n0 + w), cOff + m * w);
      const base = (p - 1) * WORDS;
      ctrl.set([IDLE, 0, 4 * bOff, 4 * cOff, M, w, K, sr, sc, ldw, w, acc], base); // A is at address 0
      Atomics.store(ctrl, base, WORK);
      Atomics.notify(ctrl, base);
      jobs.push({ base, n0, w, cOff });
    }
    blocked(kernel.gemm, a, b, c, M, width, K, ldar, ldac, ldb, ldc, acc);
    for (const { base, n0, w, cOff } of jobs) {
      // A helper's share takes well under a second; one silent for a minute
      // is gone (a browser may stop a worker), and its part is done here.
      const deadline = performance.now() + 60_000;
      while (Atomics.load(ctrl, base) === WORK && performance.now() < deadline) Atomics.wait(ctrl, base, WORK, 1000);
      const state = Atomics.load(ctrl, base);
      if (state === WORK) {
        gone = true;
        console.warn("webtune: a helper thread stopped answering; matrix products stay on one thread");
      }
      if (state !== DONE) {
        // The helper could not run (it says why on its console): do its part here.
        blocked(kernel.gemm, a, b + 4 * n0, c + 4 * n0, M, w, K, ldar, ldac, ldb, ldc, acc);
      } else {
        for (let m = 0; m < M; m++) go.set(sh.subarray(cOff + m * w, cOff + m * w + w), ci + m * ldc + n0);
      }
      if (!gone) Atomics.store(ctrl, base, IDLE);
    }
  }
  gemm.threads = helpers + 1;
  return gemm;
}
