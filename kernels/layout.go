package kernels

import (
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
)

// Layout is an op that only moves values: a Slice, a Pad without interior
// padding, a Reshape of a value the fused programs do not take (integers),
// or a Gather of whole rows (the embedding lookup). On the host the pure-Go
// backend runs them; a device runs them where the values are, so that the
// token ids go up and nothing comes back: webgpu/window.wgsl and
// webgpu/gather.wgsl copy 32-bit words, so integers, floats and booleans
// (0/1 floats on the GPU) move alike.
type Layout struct {
	Size int // output elements

	// A window: output element o (row-major over Dims) reads input element
	// Σ_k (Start[k] + o_k·Step[k])·Strides[k], or is Fill where an index
	// falls outside InDims.
	Dims, Strides, Start, Step, InDims []int
	Fill                               float32

	// A row gather (Gather true): output row r is row ids[r] of a
	// [TableRows, Cols] table; ids out of range are clamped, as XLA does.
	Gather          bool
	Cols, TableRows int
}

// maxLayoutRank is what window.wgsl's uniform holds.
const maxLayoutRank = 8

// layoutOp describes o as a Layout, if it is one a device can run.
func layoutOp(o *op, consts map[*node]float32) (*Layout, bool) {
	if len(o.outputs) != 1 {
		return nil, false
	}
	args := nodeArgs(o)
	out := o.outputs[0].shape
	if !wordType(out.DType) || len(args) == 0 || !wordType(args[0].shape.DType) || out.Rank() > maxLayoutRank {
		return nil, false
	}
	x := args[0].shape
	switch o.name {
	case "Reshape":
		if out.DType == dtypes.Float32 {
			return nil, false // fused programs take these
		}
		return window([]int{x.Size()}, []int{1}, []int{0}, []int{1}, []int{x.Size()}, 0), true
	case "Slice":
		starts, strides := o.args[1].([]int), o.args[3].([]int)
		if len(strides) == 0 {
			strides = slices.Repeat([]int{1}, x.Rank())
		}
		return window(out.Dimensions, rowMajorStrides(x), starts, strides, x.Dimensions, 0), true
	case "Pad":
		fill, ok := consts[args[1]]
		pads := o.args[2].([]compute.PadAxis)
		if !ok || len(pads) != x.Rank() {
			return nil, false
		}
		start := make([]int, x.Rank())
		for k, p := range pads {
			if p.Interior != 0 {
				return nil, false
			}
			start[k] = -p.Start
		}
		return window(out.Dimensions, rowMajorStrides(x), start, slices.Repeat([]int{1}, x.Rank()), x.Dimensions, fill), true
	case "Gather":
		return rowGather(o, args)
	}
	return nil, false
}

func wordType(d dtypes.DType) bool {
	return d == dtypes.Float32 || d == dtypes.Int32 || d == dtypes.Uint32 || d == dtypes.Bool
}

func window(dims, strides, start, step, inDims []int, fill float32) *Layout {
	size := 1
	for _, d := range dims {
		size *= d
	}
	return &Layout{Size: size, Dims: dims, Strides: strides, Start: start, Step: step, InDims: inDims, Fill: fill}
}

// rowGather matches Gather(table [R, C], ids [..., 1]) → [..., C]: whole
// rows picked by the last axis of the indices (GoMLX's Gather of an
// embedding table).
func rowGather(o *op, args []*node) (*Layout, bool) {
	table, ids, out := args[0].shape, args[1].shape, o.outputs[0].shape
	indexAxis, offsetAxes, collapsed := o.args[2].(int), o.args[3].([]int), o.args[4].([]int)
	startMap, sizes := o.args[5].([]int), o.args[6].([]int)
	if table.Rank() != 2 || table.DType != dtypes.Float32 || (ids.DType != dtypes.Int32 && ids.DType != dtypes.Uint32) ||
		indexAxis != ids.Rank()-1 || ids.Dim(-1) != 1 || !slices.Equal(collapsed, []int{0}) || !slices.Equal(startMap, []int{0}) ||
		!slices.Equal(sizes, []int{1, table.Dim(1)}) || !slices.Equal(offsetAxes, []int{out.Rank() - 1}) {
		return nil, false
	}
	return &Layout{Size: out.Size(), Gather: true, Cols: table.Dim(1), TableRows: table.Dim(0)}, true
}

// Run is the layout in plain Go on 32-bit words: the reference for the
// device kernels.
func (l *Layout) Run(in [][]uint32, fill uint32) []uint32 {
	out := make([]uint32, l.Size)
	if l.Gather {
		for i := range out {
			id := min(max(int(int32(in[1][i/l.Cols])), 0), l.TableRows-1)
			out[i] = in[0][id*l.Cols+i%l.Cols]
		}
		return out
	}
	for i := range out {
		rem, src, inside := i, 0, true
		for k := len(l.Dims) - 1; k >= 0; k-- {
			j := l.Start[k] + (rem%l.Dims[k])*l.Step[k]
			rem /= l.Dims[k]
			inside = inside && j >= 0 && j < l.InDims[k]
			src += j * l.Strides[k]
		}
		if inside {
			out[i] = in[0][src]
		} else {
			out[i] = fill
		}
	}
	return out
}
