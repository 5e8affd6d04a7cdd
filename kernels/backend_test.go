package kernels

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/train"
)

func inner(t *testing.T) compute.Backend {
	b, err := train.NewCPUBackend()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// Every DotGeneral layout that GoMLX produces in forward and backward passes,
// odd sizes and batches, through the segmenting backend with the float64
// reference kernel: equal to the pure-Go backend to float32 rounding.
func TestDotLayouts(t *testing.T) {
	base := inner(t)
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name   string
		l, r   []int
		lc, lb []int
		rc, rb []int
	}{
		{"matmul", []int{7, 13}, []int{13, 5}, []int{1}, nil, []int{0}, nil},
		{"x·Wᵀ (linear)", []int{3, 9, 17}, []int{11, 17}, []int{2}, nil, []int{1}, nil},
		{"grad wrt W", []int{3, 9, 11}, []int{3, 9, 17}, []int{0, 1}, nil, []int{0, 1}, nil},
		{"attention scores", []int{2, 3, 9, 8}, []int{2, 3, 9, 8}, []int{3}, []int{0, 1}, []int{3}, []int{0, 1}},
		{"attention context", []int{2, 3, 9, 9}, []int{2, 3, 9, 8}, []int{3}, []int{0, 1}, []int{2}, []int{0, 1}},
		{"transposed both", []int{13, 7}, []int{5, 13}, []int{0}, nil, []int{1}, nil},
		{"vector", []int{1, 1}, []int{1, 31}, []int{1}, nil, []int{0}, nil},
		{"free axes around the contracted one (not mergeable: falls back)", []int{4, 5, 6}, []int{5, 3}, []int{1}, nil, []int{0}, nil},
		{"batch not leading", []int{9, 2, 7}, []int{2, 7, 5}, []int{2}, []int{1}, []int{1}, []int{0}},
	}
	for _, c := range cases {
		seed := rng.Uint64()
		// A tensor lives on one backend: the same values afresh for each.
		operands := func() (*tensors.Tensor, *tensors.Tensor) {
			return randTensor(rand.New(rand.NewPCG(seed, 0)), c.l...), randTensor(rand.New(rand.NewPCG(seed, 1)), c.r...)
		}
		l, r := operands()
		graphFn := func(a, b *graph.Node) *graph.Node {
			// A pure-Go op on each side of the product, so segments are exercised.
			return graph.AddScalar(graph.DotGeneral(graph.Neg(graph.Neg(a)), c.lc, c.lb, b, c.rc, c.rb), 1)
		}
		want := tensors.MustCopyFlatData[float32](graph.MustExecOnce(base, graphFn, l, r))
		for _, k := range []DotKernel{Reference{Inner: base}, &GemmKernel{Label: "Go gemm", Gemm: GemmGo, Inner: base}} {
			l2, r2 := operands()
			got := graph.MustExecOnce(New(base, k), graphFn, l2, r2)
			if rel := relErr(tensors.MustCopyFlatData[float32](got), want); rel > 1e-5 {
				t.Errorf("%s, %s: relative error %.2e", c.name, k.Name(), rel)
			}
		}
	}
}

func relErr(a, b []float32) float64 {
	var d, s float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		s = math.Max(s, math.Abs(float64(b[i])))
	}
	return d / math.Max(s, 1e-30)
}

// A tiny-model LoRA training run through the segmenting backend takes the
// same steps as through the pure-Go backend.
func TestTrainingStepMatchesPureGo(t *testing.T) {
	m, err := checkpoint.Load(checkpoint.Dir(testpaths.TinyModel(t)), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	data := &train.Encoded{}
	for i := 0; i < 32; i++ {
		ids := []int32{101}
		for j := 0; j < 5+rng.IntN(20); j++ {
			ids = append(ids, int32(1000+rng.IntN(20000)))
		}
		data.IDs = append(data.IDs, append(ids, 102))
		data.Labels = append(data.Labels, rng.IntN(2))
	}
	opts := train.Defaults()
	opts.MaxSteps, opts.Batch = 3, 8
	run := func(b compute.Backend) []float64 {
		tr, err := train.New(b, m, opts)
		if err != nil {
			t.Fatal(err)
		}
		var losses []float64
		if err := tr.Train(context.Background(), data, nil, func(p train.Progress) { losses = append(losses, p.Loss) }); err != nil {
			t.Fatal(err)
		}
		return losses
	}
	base := inner(t)
	want := run(base)
	ks := []DotKernel{nil, Reference{Inner: base}, &GemmKernel{Label: "Go gemm", Gemm: GemmGo, Inner: base}}
	if g := SIMDGemm(); g != nil {
		ks = append(ks, &GemmKernel{Label: "WebAssembly SIMD", Gemm: g, Inner: base})
	}
	if team, _ := SIMDTeam(); team != nil { // every product split across threads
		ks = append(ks, &GemmKernel{Label: "WebAssembly SIMD team", Gemm: SIMDGemm(), Team: team, Inner: base})
	}
	if g := gpuKernel(base); g != nil {
		ks = append(ks, g)
	}
	for _, k := range ks {
		got := run(New(base, k))
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-4*math.Abs(want[i]) {
				t.Errorf("kernel %v step %d: loss %v, pure Go %v", k, i+1, got[i], want[i])
			}
		}
	}
	// Element-wise ops fused into programs (every size, so the small test
	// model fuses as much as DistilBERT-base would) take the same steps.
	for _, k := range fusedKernels(base) {
		kb := New(base, k)
		kb.MinFusedSize = 1
		got := run(kb)
		if kb.Profile.ByOp["fused"] == 0 {
			t.Errorf("%s: no fused programs ran", k.Name())
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-4*math.Abs(want[i]) {
				t.Errorf("%s, fused: step %d: loss %v, pure Go %v", k.Name(), i+1, got[i], want[i])
			}
		}
	}
	// Profiling op by op (one executable per op) computes the same.
	pb := New(base, nil)
	pb.ProfileOps = true
	got := run(pb)
	if len(pb.Profile.ByOp) < 10 || pb.Profile.ByOp["DotGeneral"] == 0 {
		t.Errorf("per-op profile %v", pb.Profile.ByOp)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-4*math.Abs(want[i]) {
			t.Errorf("per-op executables, step %d: loss %v, pure Go %v", i+1, got[i], want[i])
		}
	}
}

// Outputs that are inputs, or one node returned twice, come back as
// distinct buffers (each output tensor frees its own).
func TestPassThroughOutputs(t *testing.T) {
	base := inner(t)
	b := New(base, nil)
	exec := graph.MustNewExec(b, func(x, y *graph.Node) []*graph.Node {
		d := graph.DotGeneral(x, []int{1}, nil, y, []int{0}, nil)
		return []*graph.Node{x, d, d}
	})
	x := tensors.FromValue([][]float32{{1, 2}, {3, 4}})
	y := tensors.FromValue([][]float32{{1, 0}, {0, 1}})
	out := exec.MustExec(x, y)
	bx, _ := x.Buffer(b, 0)
	seen := map[compute.Buffer]bool{unwrap(bx): true}
	for i, o := range out {
		ob, err := o.Buffer(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		if seen[unwrap(ob)] {
			t.Fatalf("output %d shares a buffer", i)
		}
		seen[unwrap(ob)] = true
	}
	if got := tensors.MustCopyFlatData[float32](out[2]); got[3] != 4 {
		t.Fatalf("product %v", got)
	}
}
