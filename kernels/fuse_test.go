package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// fusedKernels are the kernels that run fused programs here: Go's
// interpreter always, the SIMD interpreter and WebGPU where available.
func fusedKernels(base compute.Backend) []DotKernel {
	// Parallel with 3 workers and programs large enough to split, whatever
	// the machine's cores.
	ks := []DotKernel{&GemmKernel{Label: "Go", Gemm: GemmGo, Inner: base}, &Parallel{Inner: base, Workers: 3, MinSplit: 256}}
	if k := simdKernel(base); k != nil {
		ks = append(ks, k)
	}
	if g := gpuKernel(base); g != nil {
		ks = append(ks, g)
	}
	return ks
}

// Graphs of every element-wise op a program takes, with the broadcasts
// GoMLX emits (bias rows, LayerNorm's per-row statistics, attention's
// [batch, 1, 1, keys] mask, scalars, same-rank implicit broadcasts),
// comparisons feeding Where, a boolean output and reshapes: through each
// fusing kernel equal to the pure-Go backend (exp and erf to 2e-6). Two
// sizes: runs shorter than 8 (loaded one element at a time) and longer ones
// (loaded as copied, strided or repeated segments that cross the
// interpreters' 256-element blocks).
func TestFusedOps(t *testing.T) {
	for _, dims := range [][4]int{{3, 2, 5, 7}, {2, 3, 37, 40}} {
		testFusedOps(t, dims[0], dims[1], dims[2], dims[3])
	}
}

func testFusedOps(t *testing.T, B, H, T, D int) {
	base := inner(t)
	rng := rand.New(rand.NewPCG(5, 6))
	x := randTensor(rng, B, H, T, D)
	row := randTensor(rng, D)
	stat := randTensor(rng, B, H, T, 1)
	mask := randTensor(rng, B, 1, 1, D)
	graphs := []struct {
		name string
		fn   func(x, row, stat, mask *graph.Node) []*graph.Node
	}{
		{"arithmetic with scalars", func(x, _, _, _ *graph.Node) []*graph.Node {
			return []*graph.Node{graph.Div(graph.Sub(graph.Mul(graph.Add(x, graph.Scalar(x.Graph(), dtypes.Float32, 0.5)), x), graph.Neg(x)), graph.Add(graph.Abs(x), graph.Scalar(x.Graph(), dtypes.Float32, 1)))}
		}},
		{"bias row (BroadcastInDim, trailing axis)", func(x, row, _, _ *graph.Node) []*graph.Node {
			return []*graph.Node{graph.Mul(graph.Add(x, graph.BroadcastPrefix(row, B, H, T)), x)}
		}},
		{"per-row statistic (implicit broadcast)", func(x, _, stat, _ *graph.Node) []*graph.Node {
			return []*graph.Node{graph.Mul(graph.Sub(x, stat), graph.Rsqrt(graph.Add(graph.Mul(stat, stat), graph.Scalar(x.Graph(), dtypes.Float32, 1e-5))))}
		}},
		{"attention mask (two runs)", func(x, _, _, mask *graph.Node) []*graph.Node {
			return []*graph.Node{graph.Add(x, graph.BroadcastToDims(mask, B, H, T, D))}
		}},
		{"GELU and its derivative", func(x, _, _, _ *graph.Node) []*graph.Node {
			g := x.Graph()
			c := graph.Scalar(g, dtypes.Float32, 1/math.Sqrt2)
			cdf := graph.MulScalar(graph.OnePlus(graph.Erf(graph.Mul(x, c))), 0.5)
			pdf := graph.MulScalar(graph.Exp(graph.MulScalar(graph.Mul(x, x), -0.5)), 1/math.Sqrt(2*math.Pi))
			return []*graph.Node{graph.Mul(x, cdf), graph.Add(cdf, graph.Mul(x, pdf))}
		}},
		{"dropout-style Where, boolean output, min/max/sign/sqrt", func(x, _, stat, _ *graph.Node) []*graph.Node {
			g := x.Graph()
			keep := graph.GreaterOrEqual(x, graph.Scalar(g, dtypes.Float32, -0.2))
			y := graph.Where(keep, graph.Div(x, graph.Scalar(g, dtypes.Float32, 0.9)), graph.ZerosLike(x))
			z := graph.Add(graph.Max(y, graph.Neg(x)), graph.Min(graph.Sign(x), graph.Sqrt(graph.Abs(x))))
			return []*graph.Node{y, z, graph.LessThan(x, stat), graph.ConvertDType(keep, dtypes.Float32)}
		}},
		{"attention transposes", func(x, _, _, _ *graph.Node) []*graph.Node {
			y := graph.Mul(graph.TransposeAllDims(x, 0, 2, 1, 3), graph.Scalar(x.Graph(), dtypes.Float32, 0.125))
			return []*graph.Node{graph.Add(y, graph.TransposeAllDims(graph.Exp(x), 0, 2, 1, 3)), graph.TransposeAllDims(x, 3, 1, 0, 2)}
		}},
		{"reshape inside a run", func(x, row, _, _ *graph.Node) []*graph.Node {
			y := graph.Reshape(graph.Mul(x, x), B*H, T*D)
			return []*graph.Node{graph.Add(y, graph.Reshape(graph.Exp(x), B*H, T*D)), graph.Reshape(graph.Add(y, y), B, H*T, D)}
		}},
	}
	for _, k := range fusedKernels(base) {
		for _, c := range graphs {
			clones := func() []any { return []any{localCopy(x), localCopy(row), localCopy(stat), localCopy(mask)} }
			want := graph.MustNewExec(base, c.fn).MustExec(clones()...)
			kb := New(base, k)
			kb.MinFusedSize = 1
			got := graph.MustNewExec(kb, c.fn).MustExec(clones()...)
			if kb.Profile.ByOp["fused"] == 0 {
				t.Errorf("%s, %s, %v: nothing fused (%v)", k.Name(), c.name, x.Shape(), kb.Profile.ByOp)
			}
			for i := range want {
				compareTensors(t, fmt.Sprintf("%s, %s, %v", k.Name(), c.name, x.Shape()), i, got[i], want[i], 2e-6)
			}
		}
	}
}

func compareTensors(t *testing.T, name string, i int, got, want *tensors.Tensor, tol float64) {
	t.Helper()
	if !got.Shape().Equal(want.Shape()) {
		t.Errorf("%s: output %d shape %s, want %s", name, i, got.Shape(), want.Shape())
		return
	}
	if want.DType() == dtypes.Bool {
		g, w := tensors.MustCopyFlatData[bool](got), tensors.MustCopyFlatData[bool](want)
		for j := range w {
			if g[j] != w[j] {
				t.Errorf("%s: output %d [%d] = %v, want %v", name, i, j, g[j], w[j])
				return
			}
		}
		return
	}
	g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)
	for j := range w {
		if d := math.Abs(float64(g[j] - w[j])); !(d <= tol*math.Max(1, math.Abs(float64(w[j])))) {
			t.Errorf("%s: output %d [%d] = %v, want %v", name, i, j, g[j], w[j])
			return
		}
	}
}

// broadcastPattern against BroadcastInDim's definition, index by index.
func TestBroadcastPattern(t *testing.T) {
	cases := []struct {
		in, out, axes []int
		ok            bool
	}{
		{[]int{7}, []int{3, 5, 7}, []int{2}, true},
		{[]int{3, 5, 1}, []int{3, 5, 7}, []int{0, 1, 2}, true},
		{[]int{3, 1, 1, 7}, []int{3, 2, 5, 7}, []int{0, 1, 2, 3}, true},
		{[]int{1, 1, 7}, []int{3, 5, 7}, []int{0, 1, 2}, true},
		{[]int{5}, []int{3, 5, 7}, []int{1}, true},
		{[]int{3, 7}, []int{3, 5, 7}, []int{0, 2}, true},
		{[]int{}, []int{4, 4}, []int{}, true},
		{[]int{2, 3, 4}, []int{2, 5, 3, 6, 4}, []int{0, 2, 4}, true},                          // three runs
		{[]int{2, 3, 4, 5, 6}, []int{2, 7, 3, 7, 4, 7, 5, 7, 6}, []int{0, 2, 4, 6, 8}, false}, // five runs
	}
	for _, c := range cases {
		in, out := shapesOf(c.in), shapesOf(c.out)
		pat, ok := broadcastPattern(in, out, c.axes)
		if ok != c.ok {
			t.Errorf("%v -> %v: ok %v", c.in, c.out, ok)
			continue
		}
		if !ok {
			continue
		}
		inSt, outSt := rowMajorStrides(in), rowMajorStrides(out)
		for i := range out.Size() {
			want := 0
			for k, a := range c.axes {
				if in.Dimensions[k] != 1 {
					want += (i / outSt[a] % out.Dimensions[a]) * inSt[k]
				}
			}
			if got := pat.index(i); got != want {
				t.Fatalf("%v -> %v axes %v: index %d reads %d, want %d (pattern %v)", c.in, c.out, c.axes, i, got, want, pat)
			}
		}
	}
}

func shapesOf(dims []int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }

// localCopy is a fresh tensor with t's values (a tensor serves one backend).
func localCopy(t *tensors.Tensor) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](t), t.Shape().Dimensions...)
}
