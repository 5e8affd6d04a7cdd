package kernels

import (
	"fmt"

	"github.com/gomlx/compute"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
)

// Row reductions (LayerNorm's statistics, softmax, its decomposed form in
// the backward pass) run as steps of their own on each kernel (Go's, SIMD,
// WebGPU) and equal the pure-Go backend. On a Device, with boolean masks,
// they leave nothing for the host to compute: values go down only as the
// graph's outputs.
func TestReductions(t *testing.T) {
	base := inner(t)
	for _, k := range fusedKernels(base) {
		testReductions(t, base, k)
	}
}

func testReductions(t *testing.T, base compute.Backend, k DotKernel) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, dims := range [][]int{{3, 2, 5, 7}, {2, 3, 37, 100}} {
		x := randTensor(rng, dims...)
		// Sums of up to 22,200 float32 values in another order: to 2e-5.
		graphs := []struct {
			name string
			fn   func(x *graph.Node) []*graph.Node
		}{
			{"ReduceSum, last axis", func(x *graph.Node) []*graph.Node { return []*graph.Node{graph.ReduceSum(x, -1)} }},
			{"ReduceSum, last two axes", func(x *graph.Node) []*graph.Node { return []*graph.Node{graph.ReduceSum(x, 2, 3)} }},
			{"ReduceSum, all axes", func(x *graph.Node) []*graph.Node { return []*graph.Node{graph.ReduceAllSum(x)} }},
			{"ReduceSum of a row", func(x *graph.Node) []*graph.Node {
				return []*graph.Node{graph.ReduceSum(graph.Reshape(x, x.Shape().Size()), 0)}
			}},
			{"ReduceMax, last axis", func(x *graph.Node) []*graph.Node { return []*graph.Node{graph.ReduceMax(x, -1)} }},
			{"softmax", func(x *graph.Node) []*graph.Node { return []*graph.Node{graph.Softmax(x, -1)} }},
			{"layer norm", func(x *graph.Node) []*graph.Node {
				mean := graph.ReduceAndKeep(x, graph.ReduceMean, -1)
				c := graph.Sub(x, mean)
				v := graph.ReduceAndKeep(graph.Square(c), graph.ReduceMean, -1)
				return []*graph.Node{graph.Mul(c, graph.Rsqrt(graph.AddScalar(v, 1e-5)))}
			}},
			{"boolean mask through the device", func(x *graph.Node) []*graph.Node {
				keep := graph.GreaterOrEqual(x, graph.Scalar(x.Graph(), dtypes.Float32, 0.1))
				y := graph.Where(keep, graph.MulScalar(x, 2), graph.ZerosLike(x))
				return []*graph.Node{graph.ReduceSum(graph.Where(keep, y, graph.Neg(y)), -1), keep}
			}},
		}
		for _, c := range graphs {
			name := fmt.Sprintf("%s: %s, %v", k.Name(), c.name, dims)
			want := graph.MustNewExec(base, c.fn).MustExec(localCopy(x))
			kb := New(base, k)
			gpu, _ := k.(*WebGPU)
			var before GPUStats
			if gpu != nil {
				before = gpu.Stats
			}
			got := graph.MustNewExec(kb, c.fn).MustExec(localCopy(x))
			tol := 2e-6
			if strings.HasPrefix(c.name, "ReduceSum") {
				tol = 2e-5
			}
			for i := range want {
				compareTensors(t, name, i, got[i], want[i], tol)
			}
			if kb.Profile.ByOp["ReduceSum"]+kb.Profile.ByOp["ReduceMax"]+kb.Profile.ByOp["FusedSoftmax"] == 0 {
				t.Errorf("%s: no reduction step (%v)", name, kb.Profile.ByOp)
			}
			if gpu == nil {
				continue
			}
			if wait := kb.Profile.ByOp["GPU work and read-back"]; wait != 0 {
				t.Errorf("%s: a host step read values back from the GPU (%v)", name, kb.Profile.ByOp)
			}
			if d := gpu.Stats.Downloads - before.Downloads; d > len(want) {
				t.Errorf("%s: %d downloads for %d outputs", name, d, len(want))
			}
		}
	}
}
