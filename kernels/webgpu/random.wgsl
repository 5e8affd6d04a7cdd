// Dropout's random numbers (kernels/random.go): value i of GoMLX's
// RNGBitGenerator on the pure-Go backend (Go's PCG, DXSM output) converted
// to f32 as ConvertDType does, computed from the state by jumping ahead.
// WGSL has no 64-bit integers: 128-bit values are four u32 limbs, least
// significant first. Each invocation makes PER consecutive Uint64 draws
// (2·PER values): one jump to its first draw, then PER plain steps.

const PER = 4u;

struct Params { s0: vec4<u32>, n: u32, pad0: u32, pad1: u32, pad2: u32 }

// jumps[2b], jumps[2b+1]: the multiplier and increment of 2^b steps.
@group(0) @binding(0) var<storage, read> jumps: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

// mulw is the 64-bit product of two u32: (low word, high word).
fn mulw(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2<u32>((p00 & 0xffffu) | (mid << 16u), p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}

// mul128 is a·b modulo 2¹²⁸ (schoolbook; each column's sum fits 64 bits).
fn mul128(a: vec4<u32>, b: vec4<u32>) -> vec4<u32> {
  var r = array<u32, 4>(0u, 0u, 0u, 0u);
  for (var i = 0u; i < 4u; i++) {
    var carry = 0u;
    for (var j = 0u; i + j < 4u; j++) {
      let w = mulw(a[i], b[j]);
      let s1 = r[i + j] + w.x;
      let c1 = select(0u, 1u, s1 < w.x);
      let s2 = s1 + carry;
      let c2 = select(0u, 1u, s2 < carry);
      r[i + j] = s2;
      carry = w.y + c1 + c2;
    }
  }
  return vec4<u32>(r[0], r[1], r[2], r[3]);
}

fn add128(a: vec4<u32>, b: vec4<u32>) -> vec4<u32> {
  var r: vec4<u32>;
  var carry = 0u;
  for (var i = 0u; i < 4u; i++) {
    let s1 = a[i] + b[i];
    let c1 = select(0u, 1u, s1 < a[i]);
    let s2 = s1 + carry;
    let c2 = select(0u, 1u, s2 < carry);
    r[i] = s2;
    carry = c1 + c2;
  }
  return r;
}

// mul64 is a·b modulo 2⁶⁴, each a (low, high) pair.
fn mul64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let w = mulw(a.x, b.x);
  return vec2<u32>(w.x, w.y + a.x * b.y + a.y * b.x);
}

// output is PCG's DXSM of a state: hi ^= hi>>32; hi *= cheapMul; hi ^= hi>>48; hi *= lo|1.
fn output(s: vec4<u32>) -> vec2<u32> {
  var hi = vec2<u32>(s.z ^ s.w, s.w);
  hi = mul64(hi, vec2<u32>(0xe4dd58b5u, 0xda942042u));
  hi = vec2<u32>(hi.x ^ (hi.y >> 16u), hi.y);
  return mul64(hi, vec2<u32>(s.x | 1u, s.y));
}

// tof32 is u32 → f32 rounded to nearest, ties to even (as Go converts):
// WGSL leaves the rounding of an inexact conversion to the implementation.
fn tof32(u: u32) -> f32 {
  if (u < 0x1000000u) { return f32(u); }
  let shift = 8u - countLeadingZeros(u); // bits below a 24-bit mantissa
  var m = u >> shift;
  let rest = u & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (m & 1u) == 1u)) { m = m + 1u; }
  return f32(m) * f32(1u << shift);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let id = gid.x + gid.y * nw.x * 64u;
  let first = id * PER; // the first draw of this invocation
  if (2u * first >= p.n) { return; }
  var s = p.s0;
  var k = first;
  for (var b = 0u; k > 0u; b++) {
    if ((k & 1u) == 1u) { s = add128(mul128(s, jumps[2u * b]), jumps[2u * b + 1u]); }
    k = k >> 1u;
  }
  for (var d = 0u; d < PER; d++) {
    s = add128(mul128(s, jumps[0]), jumps[1]); // one step: the draw's state
    let v = output(s);
    let i = 2u * (first + d);
    if (i < p.n) { y[i] = tof32(v.x); }
    if (i + 1u < p.n) { y[i + 1u] = tof32(v.y); }
  }
}
