//go:build js && wasm

package kernels

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"

	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/train"
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
	if g.pipeline(matmulTiledWGSL) < 0 || g.pipeline(matmulTiled128WGSL) < 0 {
		t.Fatal("the tiled matmul shaders did not compile")
	}
	for _, c := range []struct{ tiled, only64 bool }{{false, false}, {true, true}, {true, false}} {
		g.Tiled, g.Tiles64 = c.tiled, c.only64
		testMatmulLayouts(t, g, rng)
	}
}

func testMatmulLayouts(t *testing.T, g *WebGPU, rng *rand.Rand) {
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
			t.Errorf("%s (tiled %v): relative error %.2e", c.name, g.Tiled, rel)
		}
	}
}

// Through the WebGPU device, a training run uploads the frozen weights once:
// from the second step on, every product reads them from the GPU (and the
// losses are those of the pure-Go backend: TestTrainingStepMatchesPureGo).
// Values passed between GPU steps stay there: fewer downloads than GPU steps.
func TestWebGPUKeepsWeights(t *testing.T) {
	base := inner(t)
	g, err := NewWebGPU(base)
	if err != nil {
		t.Skip("no WebGPU: ", err)
	}
	m, err := checkpoint.Load(checkpoint.Dir(testpaths.TinyModel(t)), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	frozen := 6 * m.Config.NLayers // q, k, v, out, lin1, lin2 of each layer
	data := &train.Encoded{}
	for i := range 24 {
		data.IDs = append(data.IDs, []int32{101, int32(2000 + i), int32(3000 + 7*i), 102})
		data.Labels = append(data.Labels, i%2)
	}
	kb := New(base, g)
	opts := train.Defaults()
	opts.MaxSteps, opts.Batch = 3, 8
	tr, err := train.New(kb, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	var stats []GPUStats
	var dots []int
	if err := tr.Train(context.Background(), data, nil, func(train.Progress) {
		stats = append(stats, g.Stats)
		dots = append(dots, kb.Profile.Dots)
	}); err != nil {
		t.Fatal(err)
	}
	for s := 1; s < len(stats); s++ {
		kept := stats[s].Kept - stats[s-1].Kept
		downloads := stats[s].Downloads - stats[s-1].Downloads
		products := dots[s] - dots[s-1]
		t.Logf("step %d: %d products on the GPU, %d uploads avoided, %d uploads (%d KB), %d downloads (%d KB)", s+1, products, kept,
			stats[s].Uploads-stats[s-1].Uploads, (stats[s].UploadedBytes-stats[s-1].UploadedBytes)/1024,
			downloads, (stats[s].DownloadedBytes-stats[s-1].DownloadedBytes)/1024)
		if kept < frozen {
			t.Errorf("step %d: %d inputs read from the GPU, want at least the %d frozen weight matrices", s+1, kept, frozen)
		}
		if products == 0 || downloads >= products {
			t.Errorf("step %d: %d downloads for %d products", s+1, downloads, products)
		}
		// Every op runs there, dropout's numbers are drawn there and the
		// weights, moments and gradients stay there between runs: a step
		// uploads its batch and a few scalars and reads back two scalars.
		if up := stats[s].UploadedBytes - stats[s-1].UploadedBytes; up > 64<<10 {
			t.Errorf("step %d uploaded %d bytes, want at most 64 KB", s+1, up)
		}
		if down := stats[s].DownloadedBytes - stats[s-1].DownloadedBytes; down > 4<<10 || downloads > 2 {
			t.Errorf("step %d read back %d bytes in %d read-backs, want at most 4 KB in 2 (the loss and the gradient norm)", s+1, down, downloads)
		}
	}
	t.Logf("steps left to the host: %v", kb.Profile.HostSteps)
}

// The GPU's dropout numbers are the pure-Go backend's bits (TestRandomMatchesPureGo
// checks Random.Bits against it), converted to float32 with Go's rounding.
func TestWebGPURandom(t *testing.T) {
	g, err := NewWebGPU(inner(t))
	if err != nil {
		t.Skip("no WebGPU: ", err)
	}
	state := []uint64{0x0123456789abcdef, 0xfedcba9876543210, 7}
	for _, n := range []int{1, 7, 513, 100003} {
		r := &Random{N: n}
		y, err := g.Random(r, state)
		if err != nil {
			t.Fatal(err)
		}
		buf, err := g.Download(y, shapes.Make(dtypes.Float32, n))
		if err != nil {
			t.Fatal(err)
		}
		g.Release(y)
		got := make([]float32, n)
		if err := buf.ToFlatData(got); err != nil {
			t.Fatal(err)
		}
		for i, b := range r.Bits(state) {
			if got[i] != float32(b) {
				t.Fatalf("n=%d: value %d is %v, want float32(%#x) = %v", n, i, got[i], b, float32(b))
			}
		}
		state = r.NextState(state)
	}
}
