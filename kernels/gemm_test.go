package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// layouts are DotGeneral layouts of DistilBERT's forward and backward passes
// and more, with odd sizes; mergeable says whether a Plan handles them.
var layouts = []struct {
	name      string
	l, r      []int
	lc, lb    []int
	rc, rb    []int
	mergeable bool
}{
	{"matmul", []int{37, 29}, []int{29, 45}, []int{1}, nil, []int{0}, nil, true},
	{"linear x·Wᵀ", []int{3, 11, 53}, []int{47, 53}, []int{2}, nil, []int{1}, nil, true},
	{"grad x: dy·W", []int{3, 11, 47}, []int{47, 53}, []int{2}, nil, []int{0}, nil, true},
	{"grad W: dyᵀ·x", []int{3, 11, 47}, []int{3, 11, 53}, []int{0, 1}, nil, []int{0, 1}, nil, true},
	{"attention scores", []int{2, 3, 13, 8}, []int{2, 3, 13, 8}, []int{3}, []int{0, 1}, []int{3}, []int{0, 1}, true},
	{"attention context", []int{2, 3, 13, 13}, []int{2, 3, 13, 8}, []int{3}, []int{0, 1}, []int{2}, []int{0, 1}, true},
	{"grad of context wrt weights", []int{2, 3, 13, 8}, []int{2, 3, 13, 8}, []int{3}, []int{0, 1}, []int{3}, []int{0, 1}, true},
	{"Aᵀ·Bᵀ", []int{29, 37}, []int{45, 29}, []int{0}, nil, []int{1}, nil, true},
	{"tiny", []int{1, 1}, []int{1, 1}, []int{1}, nil, []int{0}, nil, true},
	{"batch axis last, A strided both ways", []int{5, 7, 2}, []int{2, 5, 9}, []int{0}, []int{2}, []int{1}, []int{0}, true},
	{"several cache blocks", []int{2, 67, 300}, []int{300, 530}, []int{2}, nil, []int{0}, nil, true},
	{"rows of B 512 bytes apart (copied to padded rows)", []int{40, 130}, []int{130, 128}, []int{1}, nil, []int{0}, nil, true},
	{"interleaved free axes", []int{4, 5, 6}, []int{5, 3}, []int{1}, nil, []int{0}, nil, false},
}

func spec(l, r, lc, lb, rc, rb []int) *DotSpec {
	s := &DotSpec{LHS: shapes.Make(dtypes.Float32, l...), RHS: shapes.Make(dtypes.Float32, r...),
		LHSContracting: lc, LHSBatch: lb, RHSContracting: rc, RHSBatch: rb}
	var out []int
	for _, a := range lb {
		out = append(out, l[a])
	}
	for _, a := range freeAxes(len(l), lc, lb) {
		out = append(out, l[a])
	}
	for _, a := range freeAxes(len(r), rc, rb) {
		out = append(out, r[a])
	}
	s.Output = shapes.Make(dtypes.Float32, out...)
	return s
}

func randSlice(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) // never zeros
	}
	return x
}

// checkGemm runs every layout through a Gemm (per cache block, or whole
// products for a primitive that blocks them itself) and compares with the
// float64 reference: relative error (to the output's largest value) ≤ 1e-5,
// with the output poisoned with NaN beforehand.
func checkGemm(t *testing.T, name string, gemm Gemm, pack Pack, whole bool) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range layouts {
		s := spec(c.l, c.r, c.lc, c.lb, c.rc, c.rb)
		p, ok := NewPlan(s)
		if ok != c.mergeable {
			t.Fatalf("%s: plan ok=%v, want %v", c.name, ok, c.mergeable)
		}
		if !ok {
			continue
		}
		lhs, rhs := randSlice(rng, s.LHS.Size()), randSlice(rng, s.RHS.Size())
		want := ReferenceDot(s, lhs, rhs)
		out := make([]float32, s.Output.Size())
		for i := range out {
			out[i] = float32(math.NaN())
		}
		var scratch []float32
		if whole {
			p.RunWhole(gemm, pack, lhs, rhs, out, &scratch)
		} else {
			p.Run(gemm, pack, lhs, rhs, out, &scratch)
		}
		if rel := relErr(out, want); !(rel <= 1e-5) {
			t.Errorf("%s, %s: relative error %.2e", name, c.name, rel)
		}
	}
}

func TestGemmGo(t *testing.T) {
	checkGemm(t, "Go", GemmGo, nil, false)
	checkGemm(t, "Go, whole products", GemmGo, nil, true)
}
