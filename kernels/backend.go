// Package kernels is webtune's compute backend: a decorator over GoMLX's
// pure-Go backend that runs the float32 matrix products (DotGeneral), runs
// of element-wise ops and row reductions through kernels of ours (WebAssembly
// SIMD, WebGPU) and everything else through the pure-Go backend.
//
// The pure-Go backend compiles a whole graph into one executable, with no
// hook for foreign kernels. So this backend records the graph as it is
// built (gen_ops.go: one method per compute op, generated), and at Compile
// cuts it into steps (compile.go): products, fused element-wise programs
// (fuse.go), row reductions (reduce.go), and segments of the ops between
// them, replayed into their own pure-Go executables. Without a kernel of ours
// (or for what a kernel declines), a product runs as a one-op pure-Go
// executable and a program in Go's interpreter: the pure-Go backend is
// always the fallback, with results equal to float32 rounding.
package kernels

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// BackendName is the name this backend registers under.
const BackendName = "webtune"

// DotSpec is one DotGeneral: operand shapes and axes, as compute describes them.
type DotSpec struct {
	LHS, RHS                 shapes.Shape
	LHSContracting, LHSBatch []int
	RHSContracting, RHSBatch []int
	Output                   shapes.Shape
	Config                   compute.DotGeneralConfig
}

// DotKernel runs float32 DotGeneral on the inner backend's buffers. It
// returns compute.ErrNotImplemented for a layout it does not handle.
type DotKernel interface {
	Name() string
	DotGeneral(spec *DotSpec, lhs, rhs compute.Buffer) (compute.Buffer, error)
}

// Backend decorates an inner backend (the pure-Go one).
type Backend struct {
	compute.Backend // buffers, devices and capabilities are the inner backend's
	Kernel          DotKernel
	dots            *dotCache
	// Profile accumulates where execution time goes.
	Profile Profile
	// ProfileOps compiles every op as its own executable so that Profile.ByOp
	// tells the ops apart (slower: for profiling only).
	ProfileOps bool
	// MinFusedSize overrides the package's MinFusedSize (tests fuse small
	// graphs with it).
	MinFusedSize int
}

// Profile splits execution time between the matrix products and the
// pure-Go segments between them.
type Profile struct {
	mu         sync.Mutex
	Dot, Other time.Duration
	Dots       int
	ByOp       map[string]time.Duration // by op name, "DotGeneral" or "segment"
	// HostSteps counts, with a device, the steps it left to the host, by
	// their ops: what still costs a round trip.
	HostSteps map[string]int
}

func (p *Profile) hostStep(s *step) {
	key := s.name
	if s.fused != nil {
		key = "fused " + fmt.Sprint(s.fused.Inputs, "→", s.fused.Outputs)
	}
	if len(s.ops) > 0 {
		key = strings.Join(s.ops, " ")
	}
	p.mu.Lock()
	if p.HostSteps == nil {
		p.HostSteps = map[string]int{}
	}
	p.HostSteps[key]++
	p.mu.Unlock()
}

func (p *Profile) add(d *time.Duration, name string, start time.Time) {
	el := time.Since(start)
	p.mu.Lock()
	*d += el
	if d == &p.Dot {
		p.Dots++
	}
	if p.ByOp == nil {
		p.ByOp = map[string]time.Duration{}
	}
	p.ByOp[name] += el
	p.mu.Unlock()
}

// Reset clears the counters.
func (p *Profile) Reset() {
	p.mu.Lock()
	p.Dot, p.Other, p.Dots, p.ByOp, p.HostSteps = 0, 0, 0, nil, nil
	p.mu.Unlock()
}

// New wraps inner; kernel may be nil (every product then runs on inner).
func New(inner compute.Backend, kernel DotKernel) *Backend {
	return &Backend{Backend: inner, Kernel: kernel, dots: newDotCache(inner)}
}

func (b *Backend) Name() string   { return BackendName }
func (b *Backend) String() string { return BackendName }

func (b *Backend) Description() string {
	k := "pure Go"
	if b.Kernel != nil {
		k = b.Kernel.Name()
	}
	return fmt.Sprintf("webtune: matrix products on %s, other ops on %s", k, b.Backend.Description())
}

// HasSharedBuffers is false when a device may keep copies of input
// buffers between runs: GoMLX then never writes into a buffer in place.
func (b *Backend) HasSharedBuffers() bool {
	return deviceOf(b.Kernel) == nil && b.Backend.HasSharedBuffers()
}

// Builder starts recording a computation.
func (b *Backend) Builder(name string) compute.Builder {
	shadow := b.Backend.Builder(name + ".shadow")
	rb := &Builder{backend: b, name: name, shadow: shadow}
	rb.main = &Function{builder: rb, shadow: shadow.Main()}
	return rb
}

// isKernelDot tells whether an op is a float32 DotGeneral, the ops that
// segments are cut at.
func isKernelDot(op *op) bool {
	return op.name == "DotGeneral" && len(op.outputs) == 1 && op.outputs[0].shape.DType == dtypes.Float32
}

//go:generate go run ../tools/genops

// Chain tries kernels in order: the first that does not decline a product
// runs it (WebGPU, then SIMD, say).
type Chain []DotKernel

func (c Chain) Name() string {
	var names []string
	for _, k := range c {
		names = append(names, k.Name())
	}
	return strings.Join(names, ", then ")
}

// Fused runs a program on the first kernel that takes it.
func (c Chain) Fused(p *Program, in []compute.Buffer) ([]compute.Buffer, error) {
	return firstTaker(c, func(k FusedKernel) ([]compute.Buffer, error) { return k.Fused(p, in) })
}

// firstTaker runs on the first kernel of c with the capability K that does
// not decline (compute.ErrNotImplemented).
func firstTaker[K any, R any](c Chain, run func(K) (R, error)) (R, error) {
	for _, k := range c {
		if kk, ok := k.(K); ok {
			out, err := run(kk)
			if err == nil || !compute.IsNotImplemented(err) {
				return out, err
			}
		}
	}
	var none R
	return none, compute.ErrNotImplemented
}

// Reduce runs a row reduction on the first kernel that takes it.
func (c Chain) Reduce(r *Reduction, x compute.Buffer) (compute.Buffer, error) {
	return firstTaker(c, func(k ReduceKernel) (compute.Buffer, error) { return k.Reduce(r, x) })
}

func (c Chain) DotGeneral(s *DotSpec, lhs, rhs compute.Buffer) (compute.Buffer, error) {
	return firstTaker(c, func(k DotKernel) (compute.Buffer, error) { return k.DotGeneral(s, lhs, rhs) })
}
