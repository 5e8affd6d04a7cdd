package kernels

import (
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// pureGoDraw runs RNGBitGenerator of n uint32 on b (the pure-Go backend,
// the reference) and returns the new state and the bits.
func pureGoDraw(t *testing.T, b compute.Backend, state []uint64, n int) ([]uint64, []uint32) {
	t.Helper()
	bld := b.Builder("rng")
	fn := bld.Main()
	st, err := fn.Parameter("state", shapes.Make(dtypes.Uint64, 3), nil)
	if err != nil {
		t.Fatal(err)
	}
	next, vals, err := fn.RNGBitGenerator(st, shapes.Make(dtypes.Uint32, n))
	if err != nil {
		t.Fatal(err)
	}
	if err := fn.Return([]compute.Value{next, vals}, nil); err != nil {
		t.Fatal(err)
	}
	exe, err := bld.Compile()
	if err != nil {
		t.Fatal(err)
	}
	in, err := b.BufferFromFlatData(0, state, shapes.Make(dtypes.Uint64, 3))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exe.Execute([]compute.Buffer{in}, []bool{false}, 0)
	if err != nil {
		t.Fatal(err)
	}
	gotState, gotBits := make([]uint64, 3), make([]uint32, n)
	if err := out[0].ToFlatData(gotState); err != nil {
		t.Fatal(err)
	}
	if err := out[1].ToFlatData(gotBits); err != nil {
		t.Fatal(err)
	}
	return gotState, gotBits
}

// The jump-ahead draw equals the pure-Go backend's RNGBitGenerator bit for
// bit, odd and even counts, and its new state chains into the next draw.
func TestRandomMatchesPureGo(t *testing.T) {
	b := inner(t)
	state := []uint64{0x0123456789abcdef, 0xfedcba9876543210, 7}
	for _, n := range []int{1, 2, 7, 1000, 4097} {
		wantState, wantBits := pureGoDraw(t, b, state, n)
		r := &Random{N: n}
		got := r.Bits(state)
		for i := range got {
			if got[i] != wantBits[i] {
				t.Fatalf("n=%d: value %d is %#x, the pure-Go backend drew %#x", n, i, got[i], wantBits[i])
			}
		}
		next := r.NextState(state)
		if next[0] != wantState[0] || next[1] != wantState[1] {
			t.Fatalf("n=%d: new state %x, the pure-Go backend's %x", n, next[:2], wantState[:2])
		}
		state = next
	}
}
