package kernels

import (
	"math"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// ReduceOp is what a row reduction computes.
type ReduceOp int

const (
	RowSum     ReduceOp = iota // y[r] = Σ_c x[r, c]
	RowMax                     // y[r] = max_c x[r, c]
	RowSoftmax                 // y[r, c] = exp(x[r, c] − max) / Σ exp(x[r, ·] − max)
	ColSum                     // y[c] = Σ_r x[r, c]: a ReduceSum over leading axes (devices only)
)

// Reduction is a float32 ReduceSum or ReduceMax over an operand's trailing
// axes, or a FusedSoftmax over its last axis: the operand seen as a
// row-major [Rows, Cols] matrix, reduced (or normalized) along its rows.
// LayerNorm's statistics and attention's softmax are all of this form; on a
// Device they keep activations where they are instead of sending them to
// the host.
type Reduction struct {
	Op         ReduceOp
	Rows, Cols int
	Output     shapes.Shape
}

// ReduceKernel is a kernel that runs row reductions on the host (the SIMD
// kernel). Reduce returns compute.ErrNotImplemented for one it declines; the
// pure-Go backend then runs it.
type ReduceKernel interface {
	Reduce(r *Reduction, x compute.Buffer) (compute.Buffer, error)
}

// Run is the reduction in plain Go: the reference, and the fallback of a
// kernel without a faster one.
func (r *Reduction) Run(x, y []float32) {
	if r.Op == ColSum {
		clear(y[:r.Cols])
		for i := range r.Rows {
			for c, v := range x[i*r.Cols : (i+1)*r.Cols] {
				y[c] += v
			}
		}
		return
	}
	for i := range r.Rows {
		row := x[i*r.Cols : (i+1)*r.Cols]
		switch r.Op {
		case RowSum:
			var s float32
			for _, v := range row {
				s += v
			}
			y[i] = s
		case RowMax:
			m := float32(math.Inf(-1))
			for _, v := range row {
				m = max(m, v)
			}
			y[i] = m
		case RowSoftmax:
			m := float32(math.Inf(-1))
			for _, v := range row {
				m = max(m, v)
			}
			out := y[i*r.Cols : (i+1)*r.Cols]
			var s float32
			for c, v := range row {
				out[c] = float32(math.Exp(float64(v - m)))
				s += out[c]
			}
			for c := range out {
				out[c] /= s
			}
		}
	}
}

// rowReduction recognizes a recorded op as a Reduction.
func rowReduction(o *op) (*Reduction, bool) {
	args := nodeArgs(o)
	if len(args) != 1 || len(o.outputs) != 1 || args[0].shape.DType != dtypes.Float32 {
		return nil, false
	}
	x := args[0].shape
	r := x.Rank()
	kept := r
	switch o.name {
	case "ReduceSum", "ReduceMax":
		axes := slices.Sorted(slices.Values(o.args[1].([]int)))
		if len(axes) == 0 && o.outputs[0].shape.Rank() == 0 { // no axes: all of them
			axes = identityAxes(r)
		}
		for i, a := range axes { // exactly the last len(axes) axes
			if a != r-len(axes)+i {
				return nil, false
			}
		}
		kept = r - len(axes)
	case "FusedSoftmax":
		if axis := o.args[1].(int); axis != r-1 && axis != -1 {
			return nil, false
		}
		kept = r - 1
	default:
		return nil, false
	}
	red := &Reduction{Rows: 1, Cols: 1, Output: o.outputs[0].shape}
	for a, d := range x.Dimensions {
		if a < kept {
			red.Rows *= d
		} else {
			red.Cols *= d
		}
	}
	red.Op = map[string]ReduceOp{"ReduceSum": RowSum, "ReduceMax": RowMax, "FusedSoftmax": RowSoftmax}[o.name]
	want := red.Rows
	if red.Op == RowSoftmax {
		want *= red.Cols
	}
	if red.Rows*red.Cols == 0 || o.outputs[0].shape.Size() != want || o.outputs[0].shape.DType != dtypes.Float32 {
		return nil, false
	}
	return red, true
}

// reduction is o as a row reduction or, for a device, a column sum.
func reduction(o *op, device bool) (*Reduction, bool) {
	if r, ok := rowReduction(o); ok {
		return r, true
	}
	if device {
		return colSum(o)
	}
	return nil, false
}

// colSum matches a float32 ReduceSum over an operand's leading axes (a
// bias gradient's sum over the batch): the operand as [Rows, Cols], summed
// down its columns.
func colSum(o *op) (*Reduction, bool) {
	args := nodeArgs(o)
	if o.name != "ReduceSum" || len(args) != 1 || len(o.outputs) != 1 || args[0].shape.DType != dtypes.Float32 {
		return nil, false
	}
	x := args[0].shape
	axes := slices.Sorted(slices.Values(o.args[1].([]int)))
	if len(axes) == 0 || len(axes) == x.Rank() {
		return nil, false
	}
	red := &Reduction{Op: ColSum, Rows: 1, Cols: 1, Output: o.outputs[0].shape}
	for a, d := range x.Dimensions {
		if a < len(axes) {
			if axes[a] != a {
				return nil, false
			}
			red.Rows *= d
		} else {
			red.Cols *= d
		}
	}
	if red.Rows*red.Cols == 0 || o.outputs[0].shape.Size() != red.Cols {
		return nil, false
	}
	return red, true
}

func isReduction(o *op, device bool) bool {
	_, ok := reduction(o, device)
	return ok
}
