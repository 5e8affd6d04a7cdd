package kernels

import (
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// Reference is a DotKernel that computes in float64 on the host: slow, but
// it handles every DotGeneral layout directly from the axes, which makes it
// the oracle the fast kernels are tested against.
type Reference struct{ Inner compute.Backend }

func (r Reference) Name() string { return "float64 reference" }

func (r Reference) DotGeneral(s *DotSpec, lhsBuf, rhsBuf compute.Buffer) (compute.Buffer, error) {
	if s.LHS.DType != dtypes.Float32 || s.RHS.DType != dtypes.Float32 {
		return nil, compute.ErrNotImplemented
	}
	lhs := make([]float32, s.LHS.Size())
	rhs := make([]float32, s.RHS.Size())
	if err := lhsBuf.ToFlatData(lhs); err != nil {
		return nil, err
	}
	if err := rhsBuf.ToFlatData(rhs); err != nil {
		return nil, err
	}
	out := ReferenceDot(s, lhs, rhs)
	return r.Inner.BufferFromFlatData(0, out, shapes.Make(dtypes.Float32, s.Output.Dimensions...)) // inner: the executable wraps what it returns
}

// ReferenceDot computes DotGeneral in float64. The output's axes are the
// batch axes, then lhs's free axes, then rhs's free axes, in order.
func ReferenceDot(s *DotSpec, lhs, rhs []float32) []float32 {
	lFree, rFree := freeAxes(s.LHS.Rank(), s.LHSContracting, s.LHSBatch), freeAxes(s.RHS.Rank(), s.RHSContracting, s.RHSBatch)
	dims := func(sh shapes.Shape, axes []int) []int {
		d := make([]int, len(axes))
		for i, a := range axes {
			d[i] = sh.Dimensions[a]
		}
		return d
	}
	batchDims, contractDims := dims(s.LHS, s.LHSBatch), dims(s.LHS, s.LHSContracting)
	lFreeDims, rFreeDims := dims(s.LHS, lFree), dims(s.RHS, rFree)
	lSt, rSt := rowMajorStrides(s.LHS), rowMajorStrides(s.RHS)
	outDims := slices.Concat(batchDims, lFreeDims, rFreeDims)
	n := 1
	for _, d := range outDims {
		n *= d
	}
	out := make([]float32, n)
	idx := make([]int, len(outDims))
	cIdx := make([]int, len(contractDims))
	for o := range out {
		// Decompose o into the output index.
		rem := o
		for a := len(outDims) - 1; a >= 0; a-- {
			idx[a] = rem % outDims[a]
			rem /= outDims[a]
		}
		lBase, rBase := 0, 0
		for i := range batchDims {
			lBase += idx[i] * lSt[s.LHSBatch[i]]
			rBase += idx[i] * rSt[s.RHSBatch[i]]
		}
		for i, a := range lFree {
			lBase += idx[len(batchDims)+i] * lSt[a]
		}
		for i, a := range rFree {
			rBase += idx[len(batchDims)+len(lFree)+i] * rSt[a]
		}
		var sum float64
		for k := range cIdx {
			cIdx[k] = 0
		}
		for {
			lo, ro := lBase, rBase
			for k, c := range cIdx {
				lo += c * lSt[s.LHSContracting[k]]
				ro += c * rSt[s.RHSContracting[k]]
			}
			sum += float64(lhs[lo]) * float64(rhs[ro])
			k := len(cIdx) - 1
			for ; k >= 0; k-- {
				if cIdx[k]++; cIdx[k] < contractDims[k] {
					break
				}
				cIdx[k] = 0
			}
			if k < 0 {
				break
			}
		}
		out[o] = float32(sum)
	}
	return out
}
