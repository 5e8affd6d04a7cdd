//go:build js && wasm

package kernels

import (
	_ "embed"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/gomlx/compute"
)

//go:embed webgpu/matmul.wgsl
var matmulWGSL string

// WebGPU is a DotKernel that runs products as WGSL compute shaders
// (kernels/webgpu/matmul.wgsl) through js/gpu.mjs. Once the device is lost
// it declines every product, so they fall to the next kernel of a Chain.
type WebGPU struct {
	*device
	inner compute.Backend
}

// device is the one WebGPU device, shared by the kernels of every run.
type device struct {
	Adapter  string // the adapter's name
	Emulated bool   // a CPU-emulated adapter (SwiftShader): slower than SIMD
	Lost     error  // set when the device is lost
	gpu      js.Value
}

// With returns the kernel for another inner backend, on the same device.
func (g *WebGPU) With(inner compute.Backend) *WebGPU { return &WebGPU{device: g.device, inner: inner} }

// NewWebGPU asks the host for a WebGPU device (globalThis.webtuneInitGPU,
// set by js/worker.mjs and tools/wasmexec). It must run on a goroutine
// that may block: it awaits JavaScript Promises.
func NewWebGPU(inner compute.Backend) (*WebGPU, error) {
	init := js.Global().Get("webtuneInitGPU")
	if init.Type() != js.TypeFunction {
		return nil, errors.New("no WebGPU in this environment")
	}
	gpu, err := await(init.Invoke(matmulWGSL))
	if err != nil {
		return nil, err
	}
	return &WebGPU{device: &device{Adapter: gpu.Get("name").String(), Emulated: gpu.Get("emulated").Bool(), gpu: gpu}, inner: inner}, nil
}

func (g *WebGPU) Name() string { return "WebGPU (" + g.Adapter + ")" }

func (g *WebGPU) DotGeneral(s *DotSpec, lhsBuf, rhsBuf compute.Buffer) (compute.Buffer, error) {
	if g.Lost != nil {
		return nil, compute.ErrNotImplemented
	}
	op, err := prepare(g.inner, s, lhsBuf, rhsBuf)
	if err != nil {
		return nil, err
	}
	if err := g.Run(op.plan, op.lhs, op.rhs, op.out); err != nil {
		g.Lost = err
		return nil, fmt.Errorf("%w: %v", compute.ErrNotImplemented, err) // the next kernel takes over
	}
	return op.buf, nil
}

// Run computes a plan on the GPU into out ([batch, M, N]), reading and
// writing the slices in place in the Go program's memory.
func (g *WebGPU) Run(p *Plan, lhs, rhs, out []float32) error {
	params := []any{p.M, p.N, p.K, p.Batch,
		0, p.ldar, p.ldac, p.aBatch,
		0, p.bK, p.bN, p.bBatch,
		0, p.N, p.M * p.N, 0}
	arr := js.Global().Get("Array").New(params...)
	_, err := await(g.gpu.Call("matmul", addr(lhs, 0), len(lhs), addr(rhs, 0), len(rhs), addr(out, 0), len(out), arr))
	return err
}

// await blocks the calling goroutine (never a js.FuncOf handler) until a
// Promise settles; meanwhile Go hands control back to the event loop.
func await(p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- result{v: v}
		return nil
	})
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "promise rejected"
		if len(args) > 0 {
			msg = args[0].Call("toString").String()
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	p.Call("then", then, catch)
	r := <-ch
	then.Release()
	catch.Release()
	return r.v, r.err
}
