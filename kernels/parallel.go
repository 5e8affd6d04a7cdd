package kernels

import (
	"runtime"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// Parallel is the native CPU kernel: fused element-wise programs and row
// reductions split across every core, products declined so that the inner
// backend's own kernels (AVX2/AVX-512 with Go's SIMD experiment) run them.
// GoMLX's pure-Go backend runs each element-wise op on one core; at
// DistilBERT-base size those ops were half of a native step.
type Parallel struct {
	Inner    compute.Backend
	Workers  int // 0: GOMAXPROCS
	MinSplit int // the least elements worth a goroutine; 0: 32,768
}

func (k *Parallel) Name() string { return "native parallel programs" }

func (k *Parallel) DotGeneral(*DotSpec, compute.Buffer, compute.Buffer) (compute.Buffer, error) {
	return nil, compute.ErrNotImplemented
}

func (k *Parallel) workers() int {
	if k.Workers > 0 {
		return k.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// split runs fn over [0, n) in up to workers contiguous parts of at least
// MinSplit elements, aligned to align, at once.
func (k *Parallel) split(n, align int, fn func(lo, hi int)) {
	least := k.MinSplit
	if least <= 0 {
		least = 1 << 15
	}
	parts := min(k.workers(), max(1, n/least))
	if parts <= 1 {
		fn(0, n)
		return
	}
	step := (n/parts + align - 1) / align * align
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += step {
		wg.Go(func() { fn(lo, min(lo+step, n)) })
	}
	wg.Wait()
}

func (k *Parallel) Fused(p *Program, in []compute.Buffer) ([]compute.Buffer, error) {
	return interpretOn(k.Inner, p, in, func(p *Program, inputs, outputs []any) {
		k.split(p.Size, 256, func(lo, hi int) { p.InterpretRange(inputs, outputs, lo, hi) })
	})
}

// Reduce splits rows (column sums: columns) across the cores.
func (k *Parallel) Reduce(r *Reduction, x compute.Buffer) (compute.Buffer, error) {
	in, err := flat32(x, shapes.Make(dtypes.Float32, r.Rows*r.Cols))
	if err != nil {
		return nil, err
	}
	buf, flat, err := k.Inner.NewSharedBuffer(0, r.Output)
	if err != nil {
		return nil, err
	}
	out := flat.([]float32)[:r.Output.Size()]
	if r.Op == ColSum {
		r.Run(in, out)
		return buf, nil
	}
	perRow := r.Cols
	k.split(r.Rows*r.Cols, perRow, func(lo, hi int) {
		part := *r
		part.Rows = (hi - lo) / perRow
		y := out[lo/perRow : hi/perRow]
		if r.Op == RowSoftmax {
			y = out[lo:hi]
		}
		part.Run(in[lo:hi], y)
	})
	return buf, nil
}
