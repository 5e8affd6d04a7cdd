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
	}
	for _, c := range cases {
		seed := rng.Uint64()
		l, r := randTensor(rand.New(rand.NewPCG(seed, 0)), c.l...), randTensor(rand.New(rand.NewPCG(seed, 1)), c.r...)
		// A tensor lives on one backend: the same values again for the other.
		l2, r2 := randTensor(rand.New(rand.NewPCG(seed, 0)), c.l...), randTensor(rand.New(rand.NewPCG(seed, 1)), c.r...)
		graphFn := func(a, b *graph.Node) *graph.Node {
			// A pure-Go op on each side of the product, so segments are exercised.
			return graph.AddScalar(graph.DotGeneral(graph.Neg(graph.Neg(a)), c.lc, c.lb, b, c.rc, c.rb), 1)
		}
		want := graph.MustExecOnce(base, graphFn, l, r)
		got := graph.MustExecOnce(New(base, Reference{Inner: base}), graphFn, l2, r2)
		if rel := relErr(tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)); rel > 1e-5 {
			t.Errorf("%s: relative error %.2e", c.name, rel)
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
	for _, k := range []DotKernel{nil, Reference{Inner: base}} {
		got := run(New(base, k))
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-4*math.Abs(want[i]) {
				t.Errorf("kernel %v step %d: loss %v, pure Go %v", k, i+1, got[i], want[i])
			}
		}
	}
}
