// matmul_tiled128.wgsl: the product of matmul.wgsl (same Params, same
// strides) for large products on real GPUs: a workgroup of 16×16
// invocations computes a 128×128 block of C, staging 128×8 of A and 8×128
// of B in workgroup memory per step of k; each invocation accumulates an
// 8×8 block (rows ty·4…+3 and 64+ty·4…+3, the same for columns, so that
// workgroup reads are whole vec4s). Reads outside the matrices load zeros;
// stores outside are skipped.
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

var<workgroup> As: array<vec4<f32>, 256>; // [k][m/4], 8 × 32
var<workgroup> Bs: array<vec4<f32>, 256>; // [k][n/4], 8 × 32

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wg.z;
  let m0 = wg.y * 128u;
  let n0 = wg.x * 128u;
  let t = lid.y * 16u + lid.x;
  let aBase = p.aOff + b * p.aBatch;
  let bBase = p.bOff + b * p.bBatch;
  var acc: array<vec4<f32>, 16>; // [half of rows][row in half][half of columns]: (2·4)×2 vec4s
  for (var k0 = 0u; k0 < p.K; k0 = k0 + 8u) {
    for (var q = 0u; q < 4u; q = q + 1u) {
      let e = t + 256u * q;
      let row = e / 8u;
      let ka = k0 + e % 8u;
      var va = 0.0;
      if (m0 + row < p.M && ka < p.K) { va = A[aBase + (m0 + row) * p.ldar + ka * p.ldac]; }
      As[(e % 8u) * 32u + row / 4u][row % 4u] = va;
      let col = e % 128u;
      let kb = k0 + e / 128u;
      var vb = 0.0;
      if (n0 + col < p.N && kb < p.K) { vb = B[bBase + kb * p.bK + (n0 + col) * p.bN]; }
      Bs[(e / 128u) * 32u + col / 4u][col % 4u] = vb;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 8u; kk = kk + 1u) {
      let a0 = As[kk * 32u + lid.y];
      let a1 = As[kk * 32u + 16u + lid.y];
      let b0 = Bs[kk * 32u + lid.x];
      let b1 = Bs[kk * 32u + 16u + lid.x];
      for (var i = 0u; i < 4u; i = i + 1u) {
        acc[i * 2u] = acc[i * 2u] + a0[i] * b0;
        acc[i * 2u + 1u] = acc[i * 2u + 1u] + a0[i] * b1;
        acc[8u + i * 2u] = acc[8u + i * 2u] + a1[i] * b0;
        acc[8u + i * 2u + 1u] = acc[8u + i * 2u + 1u] + a1[i] * b1;
      }
    }
    workgroupBarrier();
  }
  let cBase = p.cOff + b * p.cBatch;
  for (var h = 0u; h < 2u; h = h + 1u) {
    for (var i = 0u; i < 4u; i = i + 1u) {
      let m = m0 + h * 64u + lid.y * 4u + i;
      if (m >= p.M) { continue; }
      for (var g = 0u; g < 2u; g = g + 1u) {
        let v = acc[h * 8u + i * 2u + g];
        for (var j = 0u; j < 4u; j = j + 1u) {
          let n = n0 + g * 64u + lid.x * 4u + j;
          if (n < p.N) { C[cBase + m * p.ldc + n] = v[j]; }
        }
      }
    }
  }
}
