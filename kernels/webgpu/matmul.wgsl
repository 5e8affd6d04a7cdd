// matmul.wgsl: batched single-precision matrix product on WebGPU.
//
//   C[cOff + b*cBatch + m*ldc + n] = Σ_k A[aOff + b*aBatch + m*ldar + k*ldac]
//                                       · B[bOff + b*bBatch + k*bK + n*bN]
//
// Every operand takes its own strides, so the transposed operands of the
// backward pass are read in place: no transpose is ever materialised. Each
// invocation computes a 4×4 block of C in registers (no workgroup memory:
// on SwiftShader barriers cost more than they save); a workgroup of 8×8
// covers 32×32, and z runs over the batch. Edge blocks clamp their reads and
// skip their stores.
struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  aOff: u32, ldar: u32, ldac: u32, aBatch: u32,
  bOff: u32, bK: u32, bN: u32, bBatch: u32,
  cOff: u32, ldc: u32, cBatch: u32, pad: u32,
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n0 = gid.x * 4u;
  let m0 = gid.y * 4u;
  let b = gid.z;
  if (m0 >= p.M || n0 >= p.N || b >= p.batch) {
    return;
  }
  let aBase = p.aOff + b * p.aBatch;
  let bBase = p.bOff + b * p.bBatch;
  // Clamped row and column indices: reads stay in bounds at the edges.
  let r0 = aBase + min(m0, p.M - 1u) * p.ldar;
  let r1 = aBase + min(m0 + 1u, p.M - 1u) * p.ldar;
  let r2 = aBase + min(m0 + 2u, p.M - 1u) * p.ldar;
  let r3 = aBase + min(m0 + 3u, p.M - 1u) * p.ldar;
  let c0 = bBase + min(n0, p.N - 1u) * p.bN;
  let c1 = bBase + min(n0 + 1u, p.N - 1u) * p.bN;
  let c2 = bBase + min(n0 + 2u, p.N - 1u) * p.bN;
  let c3 = bBase + min(n0 + 3u, p.N - 1u) * p.bN;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k = k + 1u) {
    let ka = k * p.ldac;
    let kb = k * p.bK;
    let bv = vec4<f32>(B[c0 + kb], B[c1 + kb], B[c2 + kb], B[c3 + kb]);
    acc0 = acc0 + A[r0 + ka] * bv;
    acc1 = acc1 + A[r1 + ka] * bv;
    acc2 = acc2 + A[r2 + ka] * bv;
    acc3 = acc3 + A[r3 + ka] * bv;
  }
  let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  let cBase = p.cOff + b * p.cBatch;
  for (var i = 0u; i < 4u; i = i + 1u) {
    let m = m0 + i;
    if (m >= p.M) {
      break;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
      let n = n0 + j;
      if (n < p.N) {
        C[cBase + m * p.ldc + n] = rows[i][j];
      }
    }
  }
}
