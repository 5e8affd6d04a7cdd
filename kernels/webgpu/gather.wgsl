// A row gather (kernels.Layout with Gather): output row r is row ids[r] of
// a [tableRows, cols] table, ids clamped into range as XLA's Gather does.
// Words are copied as they are.

struct Params { size: u32, cols: u32, tableRows: u32, unused: u32 }

@group(0) @binding(0) var<storage, read> table: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= p.size) { return; }
  let row = u32(clamp(ids[i / p.cols], 0, i32(p.tableRows) - 1));
  y[i] = table[row * p.cols + i % p.cols];
}
