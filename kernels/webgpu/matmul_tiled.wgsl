// matmul_tiled.wgsl: the product of matmul.wgsl (same Params, same
// strides) for real GPUs: a workgroup of 16×16 invocations computes a
// 64×64 block of C, staging 64×16 of A and 16×64 of B in workgroup memory
// per step of k, each invocation accumulating a 4×4 block in registers.
// Reads outside the matrices load zeros; stores outside are skipped.
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

var<workgroup> As: array<f32, 1024>; // [k][m], 16 × 64
var<workgroup> Bs: array<f32, 1024>; // [k][n], 16 × 64

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wg.z;
  let m0 = wg.y * 64u;
  let n0 = wg.x * 64u;
  let t = lid.y * 16u + lid.x;
  let aBase = p.aOff + b * p.aBatch;
  let bBase = p.bOff + b * p.bBatch;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < p.K; k0 = k0 + 16u) {
    for (var q = 0u; q < 4u; q = q + 1u) {
      let e = t + 256u * q;
      // A: consecutive invocations walk k (contiguous for a row-major A).
      let row = e / 16u;
      let ka = k0 + e % 16u;
      var va = 0.0;
      if (m0 + row < p.M && ka < p.K) { va = A[aBase + (m0 + row) * p.ldar + ka * p.ldac]; }
      As[(e % 16u) * 64u + row] = va;
      // B: consecutive invocations walk n (contiguous for a row-major B).
      let col = e % 64u;
      let kb = k0 + e / 64u;
      var vb = 0.0;
      if (n0 + col < p.N && kb < p.K) { vb = B[bBase + kb * p.bK + (n0 + col) * p.bN]; }
      Bs[(e / 64u) * 64u + col] = vb;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk = kk + 1u) {
      let o = kk * 64u + lid.x * 4u;
      let bv = vec4<f32>(Bs[o], Bs[o + 1u], Bs[o + 2u], Bs[o + 3u]);
      let a = kk * 64u + lid.y * 4u;
      acc0 = acc0 + As[a] * bv;
      acc1 = acc1 + As[a + 1u] * bv;
      acc2 = acc2 + As[a + 2u] * bv;
      acc3 = acc3 + As[a + 3u] * bv;
    }
    workgroupBarrier();
  }
  let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  let cBase = p.cOff + b * p.cBatch;
  for (var i = 0u; i < 4u; i = i + 1u) {
    let m = m0 + lid.y * 4u + i;
    for (var j = 0u; j < 4u; j = j + 1u) {
      let n = n0 + lid.x * 4u + j;
      if (m < p.M && n < p.N) {
        C[cBase + m * p.ldc + n] = rows[i][j];
      }
    }
  }
}
