package kernels

import (
	"math/bits"

	"github.com/gomlx/compute/dtypes"
)

// Dropout's random numbers on a device.
//
// GoMLX draws them with RNGBitGenerator on a [3]uint64 state, and
// RandomUniform turns the uint32 bits into floats (ConvertDType, then
// element-wise ops). The pure-Go backend's RNGBitGenerator is Go's PCG
// (math/rand/v2: a 128-bit linear congruential generator with a DXSM
// output), seeded with state[0] and state[1], one Uint64 per 8 bytes drawn,
// and it writes the generator's MarshalBinary words (big-endian, read
// little-endian) back as the new state.
//
// An LCG can jump ahead: k steps are one affine map s → s·A_k + C_k, and the
// maps of powers of two compose. So a device computes value i directly from
// the state, each invocation jumping to its own index with at most 64 of
// those maps (a table, the same for every state), and the host computes the
// new state the same way in a few microseconds. The numbers are the pure-Go
// backend's to the bit: a run on the GPU drops the same units as on the CPU,
// and resumes the same.

// Random is an RNGBitGenerator of N uint32 values whose only reader
// converts them to float32: on a device the step yields those floats (and
// the new state on the host) without the bits ever crossing.
type Random struct {
	N int // uint32 values drawn
}

// u128 is an unsigned 128-bit integer, arithmetic modulo 2¹²⁸.
type u128 struct{ hi, lo uint64 }

func (a u128) mul(b u128) u128 {
	hi, lo := bits.Mul64(a.lo, b.lo)
	return u128{hi + a.hi*b.lo + a.lo*b.hi, lo}
}

func (a u128) add(b u128) u128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, _ := bits.Add64(a.hi, b.hi, c)
	return u128{hi, lo}
}

// Go's PCG step: state = state·pcgMul + pcgInc (math/rand/v2/pcg.go).
var (
	pcgMul = u128{2549297995355413924, 4865540595714422341}
	pcgInc = u128{6364136223846793005, 1442695040888963407}
)

// pcgJumps[b] is the map of 2^b steps: s → s·pcgJumps[b][0] + pcgJumps[b][1].
var pcgJumps = func() (t [64][2]u128) {
	m, c := pcgMul, pcgInc
	for b := range t {
		t[b] = [2]u128{m, c}
		c = c.mul(m).add(c) // two steps of the map: s·m² + (c·m + c)
		m = m.mul(m)
	}
	return t
}()

// pcgAdvance is the state k steps after s.
func pcgAdvance(s u128, k uint64) u128 {
	for b := 0; k > 0; b, k = b+1, k>>1 {
		if k&1 != 0 {
			s = s.mul(pcgJumps[b][0]).add(pcgJumps[b][1])
		}
	}
	return s
}

// pcgOutput is PCG's DXSM output of a state (math/rand/v2 PCG.Uint64).
func pcgOutput(s u128) uint64 {
	const cheapMul = 0xda942042e4dd58b5
	hi := s.hi
	hi ^= hi >> 32
	hi *= cheapMul
	hi ^= hi >> 48
	return hi * (s.lo | 1)
}

// draws is the number of Uint64s the pure-Go backend draws for N uint32s.
func (r *Random) draws() uint64 { return (uint64(r.N)*4 + 7) / 8 }

// NextState is the RNGBitGenerator state after r's draw from state.
func (r *Random) NextState(state []uint64) []uint64 {
	s := pcgAdvance(u128{state[0], state[1]}, r.draws())
	return []uint64{bits.ReverseBytes64(s.hi), bits.ReverseBytes64(s.lo), state[2]}
}

// Bits computes the draw in plain Go the way the device does, value by
// value from the state: the reference for the device kernels.
func (r *Random) Bits(state []uint64) []uint32 {
	s := u128{state[0], state[1]}
	out := make([]uint32, r.N)
	for i := range out {
		v := pcgOutput(pcgAdvance(s, uint64(i/2)+1))
		out[i] = uint32(v >> (32 * (i % 2))) // little-endian bytes: the low word first
	}
	return out
}

// JumpTable is pcgJumps as 32-bit words, least significant first: the
// multiplier then the increment of each power of two (what the WGSL kernel
// reads).
func JumpTable() []uint32 {
	var w []uint32
	for _, j := range pcgJumps {
		for _, x := range j {
			w = append(w, uint32(x.lo), uint32(x.lo>>32), uint32(x.hi), uint32(x.hi>>32))
		}
	}
	return w
}

// randomOp tells whether o is an RNGBitGenerator of uint32 bits read only
// by one ConvertDType to float32, and returns that conversion.
func randomOp(o *op, consumers map[*node][]*op) (*op, *Random, bool) {
	if o.name != "RNGBitGenerator" || len(o.outputs) != 2 || o.outputs[1].shape.DType != dtypes.Uint32 {
		return nil, nil, false
	}
	readers := consumers[o.outputs[1]]
	if len(readers) != 1 || readers[0].name != "ConvertDType" || readers[0].outputs[0].shape.DType != dtypes.Float32 {
		return nil, nil, false
	}
	return readers[0], &Random{N: o.outputs[1].shape.Size()}, true
}
