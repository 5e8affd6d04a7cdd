// Row reductions for kernels.Reduction: x is a row-major [rows, cols]
// matrix; one workgroup of 64 invocations per row. op 0: y[r] = Σ x[r, ·];
// op 1: y[r] = max x[r, ·]; op 2: y[r, ·] = softmax(x[r, ·]); op 3: y[c] = Σ_r x[r, c]
// (one invocation a column, 64 columns a workgroup). Each
// invocation folds a strided slice of the row, then the workgroup combines
// the 64 partial results in a tree in workgroup memory.

struct Params { rows: u32, cols: u32, op: u32, pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> part: array<f32, 64>;

// combine folds the 64 partial values into part[0]: sums, or maxima.
fn combine(li: u32, isMax: bool) -> f32 {
  for (var s = 32u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (li < s) {
      let a = part[li];
      let b = part[li + s];
      part[li] = select(a + b, max(a, b), isMax);
    }
  }
  workgroupBarrier();
  let r = part[0];
  workgroupBarrier(); // everyone has read it before part is reused
  return r;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row = wg.x + wg.y * nw.x; // rows past 65535 spill into a second dimension
  if (p.op == 3u) { // column sums: each invocation sums a column down the rows
    let c = row * 64u + li;
    if (c < p.cols) {
      var s = 0.0;
      for (var r = 0u; r < p.rows; r = r + 1u) { s = s + x[r * p.cols + c]; }
      y[c] = s;
    }
    return;
  }
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let negInf = bitcast<f32>(p.pad | 0xff800000u); // −∞ (p.pad is 0; a constant −∞ is not valid WGSL)
  if (p.op == 0u) {
    var s = 0.0;
    for (var c = li; c < p.cols; c = c + 64u) { s = s + x[base + c]; }
    part[li] = s;
    let total = combine(li, false);
    if (li == 0u) { y[row] = total; }
    return;
  }
  var m = negInf;
  for (var c = li; c < p.cols; c = c + 64u) { m = max(m, x[base + c]); }
  part[li] = m;
  let rowMax = combine(li, true);
  if (p.op == 1u) {
    if (li == 0u) { y[row] = rowMax; }
    return;
  }
  var s = 0.0;
  for (var c = li; c < p.cols; c = c + 64u) { s = s + exp(x[base + c] - rowMax); }
  part[li] = s;
  let total = combine(li, false);
  for (var c = li; c < p.cols; c = c + 64u) { y[base + c] = exp(x[base + c] - rowMax) / total; }
}
