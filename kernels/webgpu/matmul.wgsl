// matmul.wgsl: batched single-precision matrix product on WebGPU.
//
//   C[cOff + b*cBatch + m*ldc + n] = Σ_k A[aOff + b*aBatch + m*ldar + k*ldac]
//                                       · B[bOff + b*bBatch + k*bK + n*bN]
//
// Every operand takes its own strides, so the transposed operands of the
// backward pass are read in place: no transpose is ever materialised. Each
// invocation computes a 4×8 block of C in registers (no workgroup memory:
// on SwiftShader barriers cost more than they save); a workgroup of 8×8
// covers 32 rows × 64 columns (js/gpu.mjs dispatches accordingly), and z
// runs over the batch. Edge blocks clamp their reads and skip their stores.
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
  let n0 = gid.x * 8u;
  let m0 = gid.y * 4u;
  let b = gid.z;
  if (m0 >= p.M || n0 >= p.N || b >= p.batch) {
    return;
  }
  let aBase = p.aOff + b * p.aBatch;
  let bBase = p.bOff + b * p.bBatch;
  // Clamped row and column indices: reads stay in bounds at the edges.
  var r: array<u32, 4>;
  for (var i = 0u; i < 4u; i = i + 1u) {
    r[i] = aBase + min(m0 + i, p.M - 1u) * p.ldar;
  }
  var c: array<u32, 8>;
  for (var j = 0u; j < 8u; j = j + 1u) {
    c[j] = bBase + min(n0 + j, p.N - 1u) * p.bN;
  }
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var acc4 = vec4<f32>(0.0);
  var acc5 = vec4<f32>(0.0);
  var acc6 = vec4<f32>(0.0);
  var acc7 = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k = k + 1u) {
    let ka = k * p.ldac;
    let kb = k * p.bK;
    let lo = vec4<f32>(B[c[0] + kb], B[c[1] + kb], B[c[2] + kb], B[c[3] + kb]);
    let hi = vec4<f32>(B[c[4] + kb], B[c[5] + kb], B[c[6] + kb], B[c[7] + kb]);
    let a0 = A[r[0] + ka];
    let a1 = A[r[1] + ka];
    let a2 = A[r[2] + ka];
    let a3 = A[r[3] + ka];
    acc0 = acc0 + a0 * lo;
    acc1 = acc1 + a0 * hi;
    acc2 = acc2 + a1 * lo;
    acc3 = acc3 + a1 * hi;
    acc4 = acc4 + a2 * lo;
    acc5 = acc5 + a2 * hi;
    acc6 = acc6 + a3 * lo;
    acc7 = acc7 + a3 * hi;
  }
  let rows = array<vec4<f32>, 8>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7);
  let cBase = p.cOff + b * p.cBatch;
  for (var i = 0u; i < 4u; i = i + 1u) {
    let m = m0 + i;
    if (m >= p.M) {
      break;
    }
    for (var j = 0u; j < 8u; j = j + 1u) {
      let n = n0 + j;
      if (n < p.N) {
        C[cBase + m * p.ldc + n] = rows[2u * i + j / 4u][j % 4u];
      }
    }
  }
}
