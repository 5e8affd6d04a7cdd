// Command bench measures webtune's compute paths and prints JSON lines:
// GFLOP/s of the matrix kernels on DistilBERT-base shapes, and a
// DistilBERT-base-shaped LoRA training step (random weights) per path with
// its time split. Built for GOOS=js and run under Node by tools/bench/bench.mjs
// (through tools/wasmexec, which loads the SIMD kernel); it also runs natively.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/webtune/webtune/kernels"
	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/checkpoint/synthetic"
	"github.com/webtune/webtune/model/train"
)

// Shape is one benchmark product: batch × [M×K]·[K×N].
type Shape struct {
	Name       string `json:"name"`
	Batch      int    `json:"batch"`
	M, K, N    int
	TransposeB bool `json:"transpose_b"` // B stored [N, K] (x·Wᵀ, as nn.Linear)
}

var matmuls = []Shape{
	{Name: "[2048×768]·[768×768]", Batch: 1, M: 2048, K: 768, N: 768},
	{Name: "[2048×768]·[768×3072]", Batch: 1, M: 2048, K: 768, N: 3072},
	{Name: "[2048×3072]·[3072×768]", Batch: 1, M: 2048, K: 3072, N: 768},
	{Name: "x·Wᵀ [2048×768]·[768×768]ᵀ", Batch: 1, M: 2048, K: 768, N: 768, TransposeB: true},
	{Name: "attention scores 384×[64×64]·[64×64]ᵀ", Batch: 384, M: 64, K: 64, N: 64, TransposeB: true},
	{Name: "attention context 384×[64×64]·[64×64]", Batch: 384, M: 64, K: 64, N: 64},
}

func (s Shape) spec() *kernels.DotSpec {
	f := dtypes.Float32
	d := &kernels.DotSpec{LHS: shapes.Make(f, s.Batch, s.M, s.K), Output: shapes.Make(f, s.Batch, s.M, s.N),
		LHSContracting: []int{2}, LHSBatch: []int{0}, RHSBatch: []int{0}}
	if s.TransposeB {
		d.RHS, d.RHSContracting = shapes.Make(f, s.Batch, s.N, s.K), []int{2}
	} else {
		d.RHS, d.RHSContracting = shapes.Make(f, s.Batch, s.K, s.N), []int{1}
	}
	return d
}

type result struct {
	Kind    string    `json:"kind"`          // "matmul" or "step"
	FMA     bool      `json:"fma,omitempty"` // the SIMD kernels with fused multiply-adds
	Shape   string    `json:"shape,omitempty"`
	Path    string    `json:"path"`
	GFLOPs  float64   `json:"gflops,omitempty"`
	Seconds float64   `json:"seconds"`
	DotSec  float64   `json:"dot_seconds,omitempty"`
	RestSec float64   `json:"rest_seconds,omitempty"`
	Tokens  int       `json:"tokens,omitempty"`
	Steps   []float64 `json:"steps,omitempty"` // each timed step's seconds
	// GPU traffic per step: uploads and read-backs, and the uploads that
	// resident inputs (frozen weights) saved.
	UpMB   float64 `json:"up_mb,omitempty"`
	DownMB float64 `json:"down_mb,omitempty"`
	Kept   int     `json:"kept,omitempty"`
	// Per step on the GPU: read-backs (each one a wait for the GPU),
	// dispatches, and steps left to the host (by their ops).
	Syncs      float64        `json:"syncs,omitempty"`
	Dispatches float64        `json:"dispatches,omitempty"`
	HostSteps  map[string]int `json:"host_steps,omitempty"`
	MicroBatch int            `json:"micro_batch,omitempty"`
	MemoryMB   float64        `json:"memory_mb,omitempty"` // memory the Go program took from the system by the end of the path (WebAssembly: its peak)
	// Host-side seconds per step by kind of step ("GPU work and read-back"
	// is the wait for the GPU at each read-back).
	ByOp map[string]float64 `json:"by_op,omitempty"`
}

func emit(r result) {
	r.FMA = kernels.SIMDFMA()
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

// timeIt runs fn until minDur has passed (at least twice, after one warm-up).
func timeIt(minDur time.Duration, fn func()) float64 {
	fn()
	n := 0
	start := time.Now()
	for n < 2 || time.Since(start) < minDur {
		fn()
		n++
	}
	return time.Since(start).Seconds() / float64(n)
}

func randData(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func main() {
	skipPureGo := flag.Bool("skip-pure-go-matmul", false, "skip the (slow) pure-Go matmul rows")
	stepBatch := flag.Int("step-batch", 2, "batch of the DistilBERT-base training step")
	onlyMatmul := flag.Bool("only-matmul", false, "skip the training step")
	onlyStep := flag.Bool("only-step", false, "skip the matmul rows")
	webgpuStep := flag.Bool("webgpu-step", true, "also time the step with WebGPU (where the host offers it)")
	only := flag.String("path", "", "time only the step paths whose name contains this")
	profile := flag.Bool("profile", true, "also print each path's per-op profile (two more steps with every op compiled alone)")
	gpuMatmul := flag.String("gpu-matmul", "auto", "WebGPU matrix kernel: tiled (workgroup memory), plain (registers), auto (tiled on real adapters)")
	gpuProfile := flag.Bool("gpu-profile", false, "also run the WebGPU step waiting for the GPU after each dispatch, and print the GPU's time by kind")
	cpuMatmul := flag.Bool("cpu-matmul", true, "time the CPU matrix kernels (the matmul rows)")
	gpuTable := flag.Bool("gpu-matmul-table", false, "time the WebGPU matrix kernels (register-only, tiled 64, tiled 128) on the matmul shapes, operands on the GPU")
	micro := flag.Int("micro", 0, "rows per forward/backward pass (0: chosen from the memory budget)")
	warmFlag := flag.Int("warm", 2, "warm-up steps before the timed ones (the first compiles)")
	timed := flag.Int("steps", 3, "steps timed per path, after two warm-up steps (the first compiles; in the second the heap still grows)")
	flag.Parse()
	rng := rand.New(rand.NewPCG(1, 1))
	cpu, err := train.NewCPUBackend()
	if err != nil {
		panic(err)
	}
	simd := kernels.SIMDGemm()
	for _, s := range matmuls {
		if *onlyStep || !*cpuMatmul {
			break
		}
		spec := s.spec()
		lhs, rhs := randData(rng, spec.LHS.Size()), randData(rng, spec.RHS.Size())
		out := make([]float32, spec.Output.Size())
		flops := float64(2 * s.Batch * s.M * s.N * s.K)
		plan, _ := kernels.NewPlan(spec)
		var scratch []float32
		if simd != nil {
			sec := timeIt(time.Second, func() { plan.Run(simd, kernels.SIMDPack(), lhs, rhs, out, &scratch) })
			emit(result{Kind: "matmul", Shape: s.Name, Path: "webtune SIMD (wasm)", GFLOPs: flops / sec / 1e9, Seconds: sec})
		}
		if _, threads := kernels.SIMDTeam(); threads > 1 {
			// As the kernel runs products: small ones (per batch entry) stay on one thread.
			k := kernels.NewSIMD(cpu)
			sec := timeIt(time.Second, func() { k.Run(plan, lhs, rhs, out) })
			emit(result{Kind: "matmul", Shape: s.Name, Path: fmt.Sprintf("webtune SIMD, %d threads", threads), GFLOPs: flops / sec / 1e9, Seconds: sec})
		}
		if !*skipPureGo {
			exec := graph.MustNewExec(cpu, func(a, b *graph.Node) *graph.Node {
				return graph.DotGeneral(a, spec.LHSContracting, spec.LHSBatch, b, spec.RHSContracting, spec.RHSBatch)
			})
			a := tensors.FromFlatDataAndDimensions(lhs, spec.LHS.Dimensions...)
			b := tensors.FromFlatDataAndDimensions(rhs, spec.RHS.Dimensions...)
			sec := timeIt(time.Second, func() { exec.MustExec1(a, b).FinalizeAll() })
			emit(result{Kind: "matmul", Shape: s.Name, Path: "GoMLX pure Go (" + runtime.GOARCH + ")", GFLOPs: flops / sec / 1e9, Seconds: sec})
		}
	}

	if *gpuTable {
		gpuMatmulTable(cpu, rng)
	}
	if *onlyMatmul {
		return
	}
	// A DistilBERT-base-shaped LoRA step with random weights.
	base := synthetic.Base(1)
	data := &train.Encoded{}
	for range *stepBatch * 4 {
		ids := make([]int32, 64)
		for j := range ids {
			ids[j] = int32(1000 + rng.IntN(29000))
		}
		data.IDs = append(data.IDs, ids)
		data.Labels = append(data.Labels, rng.IntN(2))
	}
	// The paths: pure Go; SIMD products with the rest in pure Go; and SIMD
	// products with the element-wise runs fused and interpreted in SIMD.
	type path struct {
		name   string
		kernel func() kernels.DotKernel
	}
	paths := []path{{"GoMLX pure Go (" + runtime.GOARCH + ")", func() kernels.DotKernel { return nil }}}
	if simd != nil {
		oneThread := func() *kernels.GemmKernel { k := kernels.NewSIMD(cpu); k.Team = nil; return k }
		paths = append(paths,
			path{"webtune SIMD products", func() kernels.DotKernel { return dotOnly{oneThread()} }},
			path{"webtune SIMD products + fused", func() kernels.DotKernel { return oneThread() }})
		if _, threads := kernels.SIMDTeam(); threads > 1 {
			paths = append(paths, path{fmt.Sprintf("webtune SIMD + fused, %d threads", threads), func() kernels.DotKernel { return kernels.NewSIMD(cpu) }})
		}
	}
	var gpu *kernels.WebGPU
	if *webgpuStep {
		if g, err := kernels.NewWebGPU(cpu); err == nil {
			gpu = g
			if *gpuMatmul != "auto" {
				gpu.Tiled = *gpuMatmul == "tiled"
			}
			paths = append(paths, path{"webtune WebGPU + fused", func() kernels.DotKernel {
				if simd != nil {
					return kernels.Chain{gpu.With(cpu), kernels.NewSIMD(cpu)}
				}
				return gpu.With(cpu)
			}})
		}
	}
	paths = slices.DeleteFunc(paths, func(p path) bool { return !strings.Contains(p.name, *only) })
	warm := *warmFlag
	for _, p := range paths {
		k := p.kernel()
		kb := kernels.New(cpu, k)
		var backend compute.Backend = kb
		if k == nil {
			backend = cpu // the baseline is GoMLX's own backend, not ours around it
		}
		opts := train.Defaults()
		opts.Batch, opts.MaxSteps, opts.ShuffleTrain, opts.MicroBatch = *stepBatch, warm+*timed, false, *micro
		tr, err := train.New(backend, base, opts)
		if err != nil {
			panic(err)
		}
		var times []time.Duration
		var stats []kernels.GPUStats
		last := time.Now()
		err = tr.Train(context.Background(), data, nil, func(train.Progress) {
			times = append(times, time.Since(last))
			if len(times) == warm {
				kb.Profile.Reset()
			}
			if gpu != nil && len(times) >= warm {
				stats = append(stats, gpu.Stats)
			}
			last = time.Now()
		})
		if err != nil {
			panic(err)
		}
		// The median step: a step that first touches memory the heap grows
		// into runs far slower on this VM, whatever the path.
		timedSteps := slices.Clone(times[warm:])
		slices.Sort(timedSteps)
		n := float64(*timed)
		r := result{Kind: "step", Path: p.name, Seconds: timedSteps[len(timedSteps)/2].Seconds(), Tokens: *stepBatch * 64, MicroBatch: tr.MicroBatch(),
			MemoryMB: train.SystemMemoryMB()}
		if backend != cpu {
			r.DotSec, r.RestSec = kb.Profile.Dot.Seconds()/n, kb.Profile.Other.Seconds()/n
		}
		if last, first := len(stats)-1, 0; last > first && stats[last].Uploads > stats[first].Uploads {
			r.UpMB = float64(stats[last].UploadedBytes-stats[first].UploadedBytes) / n / 1e6
			r.DownMB = float64(stats[last].DownloadedBytes-stats[first].DownloadedBytes) / n / 1e6
			r.Kept = (stats[last].Kept - stats[first].Kept) / *timed
			r.Syncs = float64(stats[last].Downloads-stats[first].Downloads) / n
			r.Dispatches = float64(stats[last].Dispatches-stats[first].Dispatches) / n
			r.ByOp = map[string]float64{}
			for k, d := range kb.Profile.ByOp {
				if d.Seconds()/n >= 0.002 {
					r.ByOp[k] = d.Seconds() / n
				}
			}
			r.HostSteps = map[string]int{}
			for k, c := range kb.Profile.HostSteps {
				r.HostSteps[k] = c / *timed
			}
		}
		for _, t := range times[warm:] {
			r.Steps = append(r.Steps, t.Seconds())
		}
		emit(r)
	}
	if *gpuProfile && gpu != nil {
		gpuTimes(gpu, cpu, base, data, *stepBatch, *micro)
	}
	// Per-op profiles of the same step on each path: every op (and every
	// fused program) compiled alone, so time splits by op.
	for _, p := range paths {
		if !*profile {
			break
		}
		kb := kernels.New(cpu, p.kernel())
		kb.ProfileOps = true
		opts := train.Defaults()
		opts.Batch, opts.MaxSteps, opts.ShuffleTrain = *stepBatch, 2, false
		tr, err := train.New(kb, base, opts)
		if err != nil {
			panic(err)
		}
		steps := 0
		if err := tr.Train(context.Background(), data, nil, func(train.Progress) {
			if steps++; steps == 1 {
				kb.Profile.Reset() // after the compiling first step
			}
		}); err != nil {
			panic(err)
		}
		ops := map[string]float64{}
		for k, v := range kb.Profile.ByOp {
			ops[k] = v.Seconds()
		}
		b, _ := json.Marshal(map[string]any{"kind": "profile", "path": p.name, "ops": ops})
		fmt.Println(string(b))
	}
	os.Stdout.Sync()
}

// dotOnly hides a kernel's fused element-wise programs: products only.
type dotOnly struct{ kernels.DotKernel }

// gpuTimes runs the step on the GPU waiting after each dispatch, and prints
// the GPU's seconds per step by kind of dispatch, less the cost of a wait
// alone (timed first).
func gpuTimes(gpu *kernels.WebGPU, cpu compute.Backend, base *checkpoint.Model, data *train.Encoded, batch, micro int) {
	start := time.Now()
	for range 20 {
		if err := gpu.Sync(); err != nil {
			panic(err)
		}
	}
	wait := time.Since(start) / 20
	opts := train.Defaults()
	opts.Batch, opts.MaxSteps, opts.ShuffleTrain, opts.MicroBatch = batch, 3, false, micro
	tr, err := train.New(kernels.New(cpu, kernels.Chain{gpu.With(cpu), kernels.NewSIMD(cpu)}), base, opts)
	if err != nil {
		panic(err)
	}
	steps := 0
	err = tr.Train(context.Background(), data, nil, func(train.Progress) {
		if steps++; steps == 1 {
			gpu.SyncEach = true
			gpu.GPUTime, gpu.GPUCount = nil, nil
		}
	})
	gpu.SyncEach = false
	if err != nil {
		panic(err)
	}
	byKind := map[string]float64{}
	for k, d := range gpu.GPUTime {
		byKind[k] = (d.Seconds() - wait.Seconds()*float64(gpu.GPUCount[k])) / 2
	}
	b, _ := json.Marshal(map[string]any{"kind": "gpu-profile", "wait_alone_ms": wait.Seconds() * 1e3, "gpu_seconds_per_step": byKind, "dispatches": gpu.GPUCount})
	fmt.Println(string(b))
}

// gpuMatmulTable prints GFLOP/s of each WebGPU matrix kernel on the
// matmul shapes, the operands resident on the GPU (as in a training step).
func gpuMatmulTable(cpu compute.Backend, rng *rand.Rand) {
	g, err := kernels.NewWebGPU(cpu)
	if err != nil {
		return
	}
	for _, s := range matmuls {
		spec := s.spec()
		plan, _ := kernels.NewPlan(spec)
		lhs, rhs := randData(rng, spec.LHS.Size()), randData(rng, spec.RHS.Size())
		flops := float64(2 * s.Batch * s.M * s.N * s.K)
		for _, k := range []struct {
			name          string
			tiled, only64 bool
		}{{"WGSL registers only", false, false}, {"WGSL tiled 64", true, true}, {"WGSL tiled 128", true, false}} {
			g.Tiled, g.Tiles64 = k.tiled, k.only64
			reps := 20
			if g.Emulated {
				reps = 1
			}
			d, err := g.TimeMatmul(plan, lhs, rhs, reps)
			if err != nil {
				fmt.Fprintln(os.Stderr, "WebGPU matmul:", err)
				return
			}
			sec := d.Seconds() / float64(reps)
			emit(result{Kind: "matmul", Shape: s.Name, Path: "WebGPU " + k.name + " (" + g.Name() + ")", GFLOPs: flops / sec / 1e9, Seconds: sec})
		}
	}
}
