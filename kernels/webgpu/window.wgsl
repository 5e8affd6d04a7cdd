// A window copy (kernels.Layout: Slice, Pad, Reshape): output element i,
// row-major over dims, reads input element Σ_k (start[k] + o_k·step[k])·
// strides[k], or is fill where an index falls outside inDims. Values are
// moved as 32-bit words, so floats, integers and 0/1 booleans alike.

struct Params {
  head: vec4<u32>, // size, rank, fill bits, unused
  dims: array<vec4<i32>, 2>,
  strides: array<vec4<i32>, 2>,
  start: array<vec4<i32>, 2>,
  step: array<vec4<i32>, 2>,
  inDims: array<vec4<i32>, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.head.x) { return; }
  var rem = i;
  var src = 0;
  var inside = true;
  for (var k = i32(p.head.y) - 1; k >= 0; k--) {
    let q = u32(k) / 4u; let r = u32(k) % 4u;
    let d = u32(p.dims[q][r]);
    let j = p.start[q][r] + i32(rem % d) * p.step[q][r];
    rem = rem / d;
    inside = inside && j >= 0 && j < p.inDims[q][r];
    src = src + j * p.strides[q][r];
  }
  if (inside) { y[i] = x[u32(src)]; } else { y[i] = p.head.z; }
}
