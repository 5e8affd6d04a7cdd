package kernels

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// Gemm is a single-precision matrix-product primitive on flat slices:
//
//	C[cOff + m*ldc + n] (= or +=) Σ_k A[aOff + m*ldar + k*ldac] · B[bOff + k*ldb + n]
//
// B must be contiguous along n. The SIMD kernel (gemm.wat) implements it on
// the Go program's own memory; GemmGo is the same in plain Go.
type Gemm func(a []float32, aOff int, b []float32, bOff int, c []float32, cOff int, M, N, K, ldar, ldac, ldb, ldc int, accumulate bool)

// GemmGo is Gemm in plain Go: the reference for the planner's tests and the
// kernel's semantics.
func GemmGo(a []float32, aOff int, b []float32, bOff int, c []float32, cOff int, M, N, K, ldar, ldac, ldb, ldc int, accumulate bool) {
	for m := range M {
		for n := range N {
			var s float32
			for k := range K {
				s += a[aOff+m*ldar+k*ldac] * b[bOff+k*ldb+n]
			}
			if accumulate {
				s += c[cOff+m*ldc+n]
			}
			c[cOff+m*ldc+n] = s
		}
	}
}

// Pack makes a B operand contiguous along n for Gemm, with rows ldd apart:
//
//	dst[k*ldd + n] = src[srcOff + k*sk + n*sn]
//
// The SIMD kernel's pack (simd.wat) transposes in 4×4 register tiles.
type Pack func(dst []float32, ldd int, src []float32, srcOff, K, N, sk, sn int)

// PackGo is Pack in plain Go.
func PackGo(dst []float32, ldd int, src []float32, srcOff, K, N, sk, sn int) {
	for k := range K {
		row := dst[k*ldd : k*ldd+N]
		at := srcOff + k*sk
		for n := range row {
			row[n] = src[at+n*sn]
		}
	}
}

// group is a set of axes merged into one: its size and element stride.
type group struct{ size, stride int }

// merge folds axes (in the given order) into one strided axis, when their
// strides allow it; size-1 axes never matter.
func merge(sh shapes.Shape, strides []int, axes []int) (group, bool) {
	g := group{size: 1, stride: 1}
	first := true
	for i := len(axes) - 1; i >= 0; i-- {
		a := axes[i]
		d := sh.Dimensions[a]
		if d == 1 {
			continue
		}
		if first {
			g = group{size: d, stride: strides[a]}
			first = false
			continue
		}
		if strides[a] != g.stride*g.size {
			return g, false
		}
		g.size *= d
	}
	return g, true
}

func rowMajorStrides(sh shapes.Shape) []int {
	st := make([]int, sh.Rank())
	acc := 1
	for a := sh.Rank() - 1; a >= 0; a-- {
		st[a] = acc
		acc *= sh.Dimensions[a]
	}
	return st
}

func freeAxes(rank int, contracting, batch []int) []int {
	var f []int
	for a := range rank {
		if !slices.Contains(contracting, a) && !slices.Contains(batch, a) {
			f = append(f, a)
		}
	}
	return f
}

// Plan is a DotGeneral reduced to a batch of strided matrix products.
type Plan struct {
	Batch, M, N, K     int
	aBatch, ldar, ldac int
	bBatch, bN, bK     int // B strides; bN != 1 means B is packed first
}

// NewPlan maps a float32 DotGeneral onto Gemm calls, or reports false for a
// layout whose axes cannot be merged (the pure-Go backend then runs it).
func NewPlan(s *DotSpec) (*Plan, bool) {
	if s.LHS.DType != dtypes.Float32 || s.RHS.DType != dtypes.Float32 || s.Output.DType != dtypes.Float32 {
		return nil, false
	}
	ls, rs := rowMajorStrides(s.LHS), rowMajorStrides(s.RHS)
	lb, ok1 := merge(s.LHS, ls, s.LHSBatch)
	rb, ok2 := merge(s.RHS, rs, s.RHSBatch)
	lm, ok3 := merge(s.LHS, ls, freeAxes(s.LHS.Rank(), s.LHSContracting, s.LHSBatch))
	rn, ok4 := merge(s.RHS, rs, freeAxes(s.RHS.Rank(), s.RHSContracting, s.RHSBatch))
	lk, ok5 := merge(s.LHS, ls, s.LHSContracting)
	rk, ok6 := merge(s.RHS, rs, s.RHSContracting)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || lb.size != rb.size || lk.size != rk.size {
		return nil, false
	}
	return &Plan{Batch: lb.size, M: lm.size, N: rn.size, K: lk.size,
		aBatch: lb.stride, ldar: lm.stride, ldac: lk.stride,
		bBatch: rb.stride, bN: rn.stride, bK: rk.stride}, true
}

// FLOPs is the plan's multiply-add count times two.
func (p *Plan) FLOPs() int { return 2 * p.Batch * p.M * p.N * p.K }

// Run computes the product into out ([batch, M, N] row-major), calling gemm
// once per cache block. When B is not contiguous along n, each batch's B is
// first packed into scratch as [K, N] with rows PaddedStride apart (by pack;
// Go's loop when nil).
func (p *Plan) Run(gemm Gemm, pack Pack, lhs, rhs, out []float32, scratch *[]float32) {
	p.run(gemm, pack, true, lhs, rhs, out, scratch)
}

// RunWhole is Run for a primitive that blocks (and may split across threads)
// a whole matrix product itself: one call per batch entry.
func (p *Plan) RunWhole(gemm Gemm, pack Pack, lhs, rhs, out []float32, scratch *[]float32) {
	p.run(gemm, pack, false, lhs, rhs, out, scratch)
}

func (p *Plan) run(gemm Gemm, pack Pack, block bool, lhs, rhs, out []float32, scratch *[]float32) {
	if pack == nil {
		pack = PackGo
	}
	ld := PaddedStride(p.N)
	for bi := range p.Batch {
		b, bOff, ldb := rhs, bi*p.bBatch, p.bK
		switch {
		case p.bN != 1 && p.N > 1: // pack B, rows ld apart
			packed := grow(scratch, p.K*ld)
			pack(packed, ld, rhs, bOff, p.K, p.N, p.bK, p.bN)
			b, bOff, ldb = packed, 0, ld
		case p.K > 64 && p.M >= 16 && ldb%64 == 0:
			// Rows of B a multiple of 256 bytes apart fall into a few cache
			// sets: the kernel's column strip of B (one line per k) no longer
			// fits in L1, and throughput drops by a fifth. A copy with rows
			// ld apart costs K·N moves against the product's M·N·K.
			padded := grow(scratch, p.K*ld)
			for k := range p.K {
				copy(padded[k*ld:k*ld+p.N], rhs[bOff+k*ldb:bOff+k*ldb+p.N])
			}
			b, bOff, ldb = padded, 0, ld
		}
		if !block {
			gemm(lhs, bi*p.aBatch, b, bOff, out, bi*p.M*p.N, p.M, p.N, p.K, p.ldar, p.ldac, ldb, p.N, false)
			continue
		}
		// Cache blocking: a [kc × nc] block of B (256 KB) stays in L2 while
		// every row of A streams past it; later k blocks accumulate into C.
		for n0 := 0; n0 < p.N; n0 += blockN {
			nc := min(blockN, p.N-n0)
			for k0 := 0; k0 < p.K; k0 += blockK {
				kc := min(blockK, p.K-k0)
				gemm(lhs, bi*p.aBatch+k0*p.ldac, b, bOff+k0*ldb+n0, out, bi*p.M*p.N+n0,
					p.M, nc, kc, p.ldar, p.ldac, ldb, p.N, k0 > 0)
			}
		}
	}
}

// PaddedStride is the row stride Plan.Run gives the B it packs or copies:
// n rounded up to an odd multiple of 16 floats (64 bytes), so consecutive
// rows spread over every cache set.
func PaddedStride(n int) int {
	ld := (n + 15) / 16 * 16
	if ld/16%2 == 0 {
		ld += 16
	}
	return ld
}

func grow(s *[]float32, n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}

// Block sizes of Plan.Run: 256×256 float32 of B is 256 KB, within L2.
const blockN, blockK = 256, 256

// GemmKernel is the CPU kernel: matrix products through a Gemm primitive
// (and a team of threads), fused element-wise programs through an
// interpreter and row reductions, each in Go where no faster one is given.
type GemmKernel struct {
	Label string
	Gemm  Gemm
	// Team, when set, is a primitive that blocks a whole product itself and
	// splits it across threads (js/team.mjs); products of at least MinTeam
	// multiply-adds per batch entry go to it, smaller ones stay on Gemm.
	Team    Gemm
	MinTeam int
	// Pack makes B contiguous along n where a layout has it otherwise (Go's
	// loop when nil).
	Pack        Pack
	Elementwise func(p *Program, inputs, outputs []any)
	// Rows runs row reductions (Reduction.Run when nil).
	Rows    func(r *Reduction, x, y []float32)
	Inner   compute.Backend
	scratch []float32
}

// DefaultMinTeam is the smallest product (M·N·K) worth splitting across
// threads: about 0.15 ms on one, well above the cost of waking a helper and
// copying its operands.
const DefaultMinTeam = 1 << 21

func (g *GemmKernel) Fused(p *Program, in []compute.Buffer) ([]compute.Buffer, error) {
	run := g.Elementwise
	if run == nil || p.extended() {
		run = (*Program).Interpret
	}
	return interpretOn(g.Inner, p, in, run)
}

func (g *GemmKernel) Name() string { return g.Label }

// Reduce runs a row reduction into a new buffer of the inner backend.
func (g *GemmKernel) Reduce(r *Reduction, x compute.Buffer) (compute.Buffer, error) {
	in, err := flat32(x, shapes.Make(dtypes.Float32, r.Rows*r.Cols))
	if err != nil {
		return nil, err
	}
	buf, flat, err := g.Inner.NewSharedBuffer(0, r.Output)
	if err != nil {
		return nil, err
	}
	out := flat.([]float32)[:r.Output.Size()]
	if g.Rows != nil && r.Op != ColSum {
		g.Rows(r, in, out)
	} else {
		r.Run(in, out)
	}
	return buf, nil
}

func (g *GemmKernel) DotGeneral(s *DotSpec, lhsBuf, rhsBuf compute.Buffer) (compute.Buffer, error) {
	op, err := prepare(g.Inner, s, lhsBuf, rhsBuf)
	if err != nil {
		return nil, err
	}
	g.Run(op.plan, op.lhs, op.rhs, op.out)
	return op.buf, nil
}

// Run computes a planned product on flat values: on the team of threads
// when there is one and the product is large enough, on this thread
// otherwise.
func (g *GemmKernel) Run(p *Plan, lhs, rhs, out []float32) {
	if g.Team != nil && p.M*p.N*p.K >= g.MinTeam {
		p.RunWhole(g.Team, g.Pack, lhs, rhs, out, &g.scratch)
	} else {
		p.Run(g.Gemm, g.Pack, lhs, rhs, out, &g.scratch)
	}
}

// product is a DotGeneral ready for a kernel: its plan, the operands' values
// and the output buffer with its values, all in the inner backend's memory.
type product struct {
	plan          *Plan
	lhs, rhs, out []float32
	buf           compute.Buffer
}

// prepare plans a product (ErrNotImplemented for layouts a Plan cannot
// express) and allocates its output on the inner backend.
func prepare(inner compute.Backend, s *DotSpec, lhsBuf, rhsBuf compute.Buffer) (*product, error) {
	p, ok := NewPlan(s)
	if !ok || p.M*p.N*p.K == 0 {
		return nil, compute.ErrNotImplemented
	}
	lhs, err := flat32(lhsBuf, s.LHS)
	if err != nil {
		return nil, err
	}
	rhs, err := flat32(rhsBuf, s.RHS)
	if err != nil {
		return nil, err
	}
	buf, flat, err := inner.NewSharedBuffer(0, s.Output)
	if err != nil {
		return nil, err
	}
	return &product{plan: p, lhs: lhs, rhs: rhs, out: flat.([]float32)[:s.Output.Size()], buf: buf}, nil
}

// flat32 returns a buffer's float32 values without copying when the backend
// shares its memory (the pure-Go backend does).
func flat32(b compute.Buffer, sh shapes.Shape) ([]float32, error) {
	if d, err := b.Data(); err == nil {
		if f, ok := d.([]float32); ok && len(f) == sh.Size() {
			return f, nil
		}
	}
	f := make([]float32, sh.Size())
	return f, b.ToFlatData(f)
}

// NewSIMD is the CPU kernel on the WebAssembly SIMD primitives (matrix
// products, split across threads where the host started helpers, and fused
// element-wise programs), or nil where they are absent.
func NewSIMD(inner compute.Backend) *GemmKernel {
	g := SIMDGemm()
	if g == nil {
		return nil
	}
	k := &GemmKernel{Label: "WebAssembly SIMD", Gemm: g, Pack: SIMDPack(), Elementwise: SIMDElementwise(), Rows: SIMDRows(), Inner: inner}
	if SIMDFMA() {
		k.Label += " (FMA)"
	}
	if team, threads := SIMDTeam(); team != nil {
		k.Team, k.MinTeam = team, DefaultMinTeam
		k.Label = fmt.Sprintf("WebAssembly SIMD, %d threads", threads)
	}
	return k
}
