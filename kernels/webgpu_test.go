//go:build js && wasm

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The WGSL matmul on every layout, outputs poisoned first, against the
// float64 reference: relative error ≤ 1e-5. Runs where WebGPU is available
// (make test-wasm: Dawn for Node on SwiftShader).
func TestWebGPUMatmul(t *testing.T) {
	g, err := NewWebGPU(inner(t))
	if err != nil {
		t.Skip("no WebGPU: ", err)
	}
	t.Logf("adapter: %s (emulated %v)", g.Adapter, g.Emulated)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range layouts {
		s := spec(c.l, c.r, c.lc, c.lb, c.rc, c.rb)
		p, ok := NewPlan(s)
		if !ok {
			continue
		}
		lhs, rhs := randSlice(rng, s.LHS.Size()), randSlice(rng, s.RHS.Size())
		out := make([]float32, s.Output.Size())
		for i := range out {
			out[i] = float32(math.NaN())
		}
		if err := g.Run(p, lhs, rhs, out); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if rel := relErr(out, ReferenceDot(s, lhs, rhs)); !(rel <= 1e-5) {
			t.Errorf("%s: relative error %.2e", c.name, rel)
		}
	}
}
