//go:build js && wasm

package kernels

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"syscall/js"
	"time"
	"unsafe"
	"weak"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

//go:embed webgpu/matmul.wgsl
var matmulWGSL string

//go:embed webgpu/reduce.wgsl
var reduceWGSL string

//go:embed webgpu/matmul_tiled.wgsl
var matmulTiledWGSL string

//go:embed webgpu/matmul_tiled128.wgsl
var matmulTiled128WGSL string

//go:embed webgpu/random.wgsl
var randomWGSL string

//go:embed webgpu/window.wgsl
var windowWGSL string

//go:embed webgpu/gather.wgsl
var gatherWGSL string

// WebGPU runs products as WGSL compute shaders (kernels/webgpu/matmul.wgsl),
// fused element-wise programs as WGSL generated from them and row
// reductions (webgpu/reduce.wgsl), through js/gpu.mjs. It is a Device: values stay on the GPU between its steps and
// the executable's unchanging inputs (frozen weights) are uploaded once.
// Once the device is lost it declines everything, so the next kernel of a
// Chain (and the host) takes over.
type WebGPU struct {
	*device
	inner compute.Backend
}

// device is the one WebGPU device, shared by the kernels of every run.
type device struct {
	Adapter  string // the adapter's name
	Emulated bool   // a CPU-emulated adapter (SwiftShader): slower than SIMD
	Lost     error  // set when the device is lost
	// Tiled picks matmul_tiled.wgsl (workgroup memory, for real GPUs) over
	// matmul.wgsl (registers only, best on SwiftShader).
	Tiled      bool
	Tiles64    bool // Tiled with 64×64 blocks only (for comparison)
	gpu        js.Value
	maxBuffers int

	// SyncEach waits for the GPU after every dispatch and adds its time to
	// GPUTime by kind ("matmul", "fused", ...): a profile of where the GPU's
	// time goes (far slower; for the bench only).
	SyncEach bool
	GPUTime  map[string]time.Duration
	GPUCount map[string]int

	mu       sync.Mutex
	kept     map[weak.Pointer[buffer]]*gpuTensor // uploaded executable inputs, by host buffer
	programs map[string]int                      // pipelines: fused programs by Program.Key, the reduction shader by its source; -1: declined
	jumps    int                                 // the GPU buffer of JumpTable (0: not uploaded)
	kinds    map[int]string                      // pipeline number → what it runs (for GPUTime)
	Stats    GPUStats
}

// gpuTensor is a GPU buffer (js/gpu.mjs's number for it).
type gpuTensor struct {
	id   int
	kept bool // owned by the cache of uploaded inputs, not by one run
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
	d := &device{Adapter: gpu.Get("name").String(), Emulated: gpu.Get("emulated").Bool(), gpu: gpu,
		maxBuffers: gpu.Get("maxStorageBuffers").Int(), Tiled: !gpu.Get("emulated").Bool(), kept: map[weak.Pointer[buffer]]*gpuTensor{}, programs: map[string]int{}, kinds: map[int]string{}}
	return &WebGPU{device: d, inner: inner}, nil
}

func (g *WebGPU) Name() string { return "WebGPU (" + g.Adapter + ")" }

// call runs a synchronous gpu.mjs function, turning a thrown error (a lost
// device) into ErrDeviceLost.
func (d *device) call(name string, args ...any) (v js.Value, err error) {
	if d.Lost != nil {
		return js.Undefined(), d.Lost
	}
	defer func() {
		if r := recover(); r != nil {
			d.Lost = fmt.Errorf("%w: WebGPU: %v", ErrDeviceLost, r)
			err = d.Lost
		}
	}()
	switch name {
	case "matmul", "fused", "reduce", "run":
		d.mu.Lock()
		d.Stats.Dispatches++
		d.mu.Unlock()
		if d.SyncEach {
			return d.timedCall(name, args)
		}
	}
	return d.gpu.Call(name, args...), nil
}

// TimeMatmul times a product with its operands resident on the GPU: reps
// dispatches, then a wait for the GPU (the bench's WebGPU matmul table).
func (g *WebGPU) TimeMatmul(p *Plan, lhs, rhs []float32, reps int) (time.Duration, error) {
	a, err := g.call("upload", addr(lhs, 0), len(lhs))
	if err != nil {
		return 0, err
	}
	defer g.call("release", a.Int())
	b, err := g.call("upload", addr(rhs, 0), len(rhs))
	if err != nil {
		return 0, err
	}
	defer g.call("release", b.Int())
	c, err := g.alloc(p.Batch * p.M * p.N)
	if err != nil {
		return 0, err
	}
	defer g.Release(c)
	if err := g.matmul(p, a.Int(), b.Int(), c.id); err != nil { // warm-up: pipelines compiled, uploads done
		return 0, err
	}
	if err := g.Sync(); err != nil {
		return 0, err
	}
	start := time.Now()
	for range reps {
		if err := g.matmul(p, a.Int(), b.Int(), c.id); err != nil {
			return 0, err
		}
	}
	err = g.Sync()
	return time.Since(start), err
}

// Sync waits until the GPU has done all the work submitted to it.
func (d *device) Sync() error {
	v, err := d.call("sync")
	if err != nil {
		return err
	}
	_, err = await(v)
	return err
}

// timedCall dispatches and waits for the GPU to finish (SyncEach).
func (d *device) timedCall(name string, args []any) (js.Value, error) {
	kind := name
	if name == "run" || name == "fused" {
		kind = d.kinds[args[0].(int)]
	}
	if _, err := await(d.gpu.Call("sync")); err != nil { // earlier work is not this dispatch's
		return js.Undefined(), err
	}
	start := time.Now()
	v := d.gpu.Call(name, args...)
	if _, err := await(d.gpu.Call("sync")); err != nil {
		return js.Undefined(), err
	}
	d.mu.Lock()
	if d.GPUTime == nil {
		d.GPUTime, d.GPUCount = map[string]time.Duration{}, map[string]int{}
	}
	d.GPUTime[kind] += time.Since(start)
	d.GPUCount[kind]++
	d.mu.Unlock()
	return v, nil
}

func (g *WebGPU) CanDot(s *DotSpec) bool {
	p, ok := NewPlan(s)
	return ok && g.Lost == nil && p.M*p.N*p.K > 0
}

// CanFuse compiles a program's pipeline the first time it sees it (and
// remembers a program it declines), so each run only dispatches.
func (g *WebGPU) CanFuse(p *Program) bool {
	return g.Lost == nil && g.program(p) >= 0
}

func (g *WebGPU) program(p *Program) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if id, ok := g.programs[p.Key]; ok {
		return id
	}
	id := -1
	if code, ok := p.WGSL(); ok && len(p.Inputs)+len(p.Outputs) <= g.maxBuffers {
		if v, err := g.call("compile", code); err == nil {
			id = v.Int()
		}
	}
	g.programs[p.Key] = id
	g.kinds[id] = "fused"
	return id
}

func (g *WebGPU) CanReduce(r *Reduction) bool { return g.Lost == nil && g.pipeline(reduceWGSL) >= 0 }

// pipeline is the number of a shader's pipeline (-1 if it did not compile),
// compiled on first use like the fused programs: a device probed and then
// left unused (an emulated adapter) never compiles it.
func (g *WebGPU) pipeline(code string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if id, ok := g.programs[code]; ok {
		return id
	}
	id := -1
	if v, err := g.call("compile", code); err == nil {
		id = v.Int()
	}
	g.programs[code] = id
	g.kinds[id] = map[string]string{reduceWGSL: "reduce", randomWGSL: "random", windowWGSL: "window (slice, pad)",
		gatherWGSL: "gather", matmulTiledWGSL: "matmul", matmulTiled128WGSL: "matmul"}[code]
	return id
}

func (g *WebGPU) CanRandom() bool { return g.Lost == nil && g.pipeline(randomWGSL) >= 0 }

// randomPer is random.wgsl's PER: draws per invocation.
const randomPer = 4

// Random runs webgpu/random.wgsl: 64 invocations a workgroup, each making
// randomPer draws (two values each). The jump table is uploaded once.
func (g *WebGPU) Random(r *Random, state []uint64) (Tensor, error) {
	if g.jumps == 0 {
		table := JumpTable()
		id, err := g.call("upload", int(uintptr(unsafe.Pointer(unsafe.SliceData(table)))), len(table))
		runtime.KeepAlive(table)
		if err != nil {
			return nil, err
		}
		g.jumps = id.Int()
	}
	y, err := g.alloc(r.N)
	if err != nil {
		return nil, err
	}
	hi, lo := state[0], state[1]
	params := js.Global().Get("Array").New(uint32(lo), uint32(lo>>32), uint32(hi), uint32(hi>>32), r.N, 0, 0, 0)
	groups := ((r.N+1)/2 + 64*randomPer - 1) / (64 * randomPer)
	ids := js.ValueOf([]any{g.jumps, y.id})
	if _, err := g.call("run", g.pipeline(randomWGSL), ids, params, min(groups, 65535), (groups+65534)/65535); err != nil {
		return nil, err
	}
	return y, nil
}

func (g *WebGPU) Reduce(r *Reduction, x Tensor) (Tensor, error) {
	n := r.Rows
	switch r.Op {
	case RowSoftmax:
		n *= r.Cols
	case ColSum:
		n = r.Cols
	}
	y, err := g.alloc(n)
	if err != nil {
		return nil, err
	}
	if r.Op == ColSum {
		groups := (r.Cols + 63) / 64
		u := js.Global().Get("Array").New(r.Rows, r.Cols, int(r.Op), 0)
		if _, err := g.call("run", g.pipeline(reduceWGSL), js.ValueOf([]any{x.(*gpuTensor).id, y.id}), u, min(groups, 65535), (groups+65534)/65535); err != nil {
			return nil, err
		}
		return y, nil
	}
	if _, err := g.call("reduce", g.pipeline(reduceWGSL), x.(*gpuTensor).id, y.id, r.Rows, r.Cols, int(r.Op)); err != nil {
		return nil, err
	}
	return y, nil
}

func (g *WebGPU) MaxBuffers() int { return g.maxBuffers }

func (g *WebGPU) CanLayout(l *Layout) bool {
	code := windowWGSL
	if l.Gather {
		code = gatherWGSL
	}
	return g.Lost == nil && g.pipeline(code) >= 0
}

// Layout runs webgpu/window.wgsl or webgpu/gather.wgsl, 256 invocations a
// workgroup, one per output element.
func (g *WebGPU) Layout(l *Layout, in []Tensor) (Tensor, error) {
	y, err := g.alloc(l.Size)
	if err != nil {
		return nil, err
	}
	groups := (l.Size + 255) / 256
	var code string
	var ids, params []any
	if l.Gather {
		code = gatherWGSL
		ids = []any{in[0].(*gpuTensor).id, in[1].(*gpuTensor).id, y.id}
		params = []any{l.Size, l.Cols, l.TableRows, 0}
	} else {
		code = windowWGSL
		ids = []any{in[0].(*gpuTensor).id, y.id}
		params = []any{l.Size, len(l.Dims), math.Float32bits(l.Fill), 0}
		for _, a := range [][]int{l.Dims, l.Strides, l.Start, l.Step, l.InDims} {
			for k := range 2 * 4 {
				v := 0
				if k < len(a) {
					v = a[k]
				}
				params = append(params, uint32(int32(v)))
			}
		}
	}
	u := js.Global().Get("Array").New(params...)
	if _, err := g.call("run", g.pipeline(code), js.ValueOf(ids), u, min(groups, 65535), (groups+65534)/65535); err != nil {
		g.Release(y)
		return nil, err
	}
	return y, nil
}

// Booleans live on the GPU as 0 or 1 in f32 (a GPU buffer holds no bytes):
// Upload and Download convert them.

func (g *WebGPU) Upload(x compute.Buffer, sh shapes.Shape, input bool) (Tensor, error) {
	w, isOurs := x.(*buffer)
	keep := input && isOurs
	if keep {
		g.mu.Lock()
		t := g.kept[weak.Make(w)]
		if t != nil {
			g.Stats.Kept++
		}
		g.mu.Unlock()
		if t != nil {
			return t, nil
		}
	}
	flat, err := asFloats(x, sh)
	if err != nil {
		return nil, err
	}
	id, err := g.call("upload", addr(flat, 0), len(flat))
	if err != nil {
		return nil, err
	}
	t := &gpuTensor{id: id.Int(), kept: keep}
	g.mu.Lock()
	g.Stats.Uploads++
	g.Stats.UploadedBytes += 4 * len(flat)
	if keep {
		key := weak.Make(w)
		g.kept[key] = t
		// When the host buffer is gone, so is the reason to keep the copy.
		runtime.AddCleanup(w, func(id int) {
			g.mu.Lock()
			delete(g.kept, key)
			g.mu.Unlock()
			g.call("release", id)
		}, t.id)
	}
	g.mu.Unlock()
	return t, nil
}

func (g *WebGPU) Download(t Tensor, sh shapes.Shape) (compute.Buffer, error) {
	buf, flat, err := g.inner.NewSharedBuffer(0, sh)
	if err != nil {
		return nil, err
	}
	bools, isBool := flat.([]bool)
	var out []float32
	switch f := flat.(type) {
	case []bool:
		out = make([]float32, sh.Size())
	case []float32:
		out = f[:sh.Size()]
	case []int32:
		out = unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(f))), sh.Size())
	case []uint32:
		out = unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(f))), sh.Size())
	default:
		return nil, fmt.Errorf("WebGPU: cannot hold %s", sh.DType)
	}
	p, err := g.call("download", t.(*gpuTensor).id, addr(out, 0), len(out))
	if err != nil {
		return nil, err
	}
	if _, err := await(p); err != nil {
		g.Lost = fmt.Errorf("%w: %v", ErrDeviceLost, err)
		return nil, g.Lost
	}
	if isBool {
		for i, v := range out {
			bools[i] = v != 0
		}
	}
	g.mu.Lock()
	g.Stats.Downloads++
	g.Stats.DownloadedBytes += 4 * len(out)
	g.mu.Unlock()
	return buf, nil
}

// asFloats is a buffer's values as float32: its own for float32, 0 or 1
// for booleans, the bits of 32-bit integers (only layout kernels read those).
func asFloats(x compute.Buffer, sh shapes.Shape) ([]float32, error) {
	switch sh.DType {
	case dtypes.Int32, dtypes.Uint32:
		w := make([]float32, sh.Size())
		words := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(w))), len(w))
		if sh.DType == dtypes.Int32 {
			return w, x.ToFlatData(unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(w))), len(w)))
		}
		return w, x.ToFlatData(words)
	case dtypes.Float32:
		return flat32(x, sh)
	case dtypes.Bool:
	default:
		return nil, fmt.Errorf("WebGPU: cannot hold %s", sh.DType)
	}
	b := make([]bool, sh.Size())
	if err := x.ToFlatData(b); err != nil {
		return nil, err
	}
	f := make([]float32, len(b))
	for i, v := range b {
		if v {
			f[i] = 1
		}
	}
	return f, nil
}

func (g *WebGPU) Release(t Tensor) {
	if gt := t.(*gpuTensor); !gt.kept {
		g.call("release", gt.id)
	}
}

func (g *WebGPU) alloc(floats int) (*gpuTensor, error) {
	id, err := g.call("alloc", floats)
	if err != nil {
		return nil, err
	}
	return &gpuTensor{id: id.Int()}, nil
}

func (g *WebGPU) Dot(s *DotSpec, lhs, rhs Tensor) (Tensor, error) {
	p, _ := NewPlan(s)
	c, err := g.alloc(p.Batch * p.M * p.N)
	if err != nil {
		return nil, err
	}
	if err := g.matmul(p, lhs.(*gpuTensor).id, rhs.(*gpuTensor).id, c.id); err != nil {
		return nil, err
	}
	return c, nil
}

// matmul dispatches a product: c ← a·b on GPU buffers.
func (g *WebGPU) matmul(p *Plan, a, b, c int) error {
	if g.Tiled {
		// 128×128 blocks where a product fills them, 64×64 elsewhere (the
		// attention products are 64×64 a head).
		code, tile := matmulTiledWGSL, 64
		if p.M >= 128 && p.N >= 128 && !g.Tiles64 {
			code, tile = matmulTiled128WGSL, 128
		}
		if prog := g.pipeline(code); prog >= 0 {
			_, err := g.call("run", prog, js.ValueOf([]any{a, b, c}), matmulParams(p), (p.N+tile-1)/tile, (p.M+tile-1)/tile, p.Batch)
			return err
		}
	}
	_, err := g.call("matmul", a, b, c, matmulParams(p))
	return err
}

func (g *WebGPU) Fused(p *Program, in []Tensor) ([]Tensor, error) {
	ins := make([]any, len(in))
	for i, t := range in {
		ins[i] = t.(*gpuTensor).id
	}
	outs := make([]Tensor, len(p.Outputs))
	outIDs := make([]any, len(p.Outputs))
	for i, sh := range p.Outputs {
		t, err := g.alloc(sh.Size())
		if err != nil {
			return nil, err
		}
		outs[i], outIDs[i] = t, t.id
	}
	if _, err := g.call("fused", g.program(p), js.ValueOf(ins), js.ValueOf(outIDs), p.Size); err != nil {
		return nil, err
	}
	return outs, nil
}

func matmulParams(p *Plan) js.Value {
	return js.Global().Get("Array").New(p.M, p.N, p.K, p.Batch,
		0, p.ldar, p.ldac, p.aBatch,
		0, p.bK, p.bN, p.bBatch,
		0, p.N, p.M*p.N, 0)
}

// DotGeneral runs one product with a round trip (upload, dispatch,
// download): for callers outside an executable's device steps.
func (g *WebGPU) DotGeneral(s *DotSpec, lhsBuf, rhsBuf compute.Buffer) (compute.Buffer, error) {
	if !g.CanDot(s) {
		return nil, compute.ErrNotImplemented
	}
	op, err := prepare(g.inner, s, lhsBuf, rhsBuf)
	if err != nil {
		return nil, err
	}
	if err := g.Run(op.plan, op.lhs, op.rhs, op.out); err != nil {
		return nil, fmt.Errorf("%w: %v", compute.ErrNotImplemented, err) // the next kernel takes over
	}
	return op.buf, nil
}

// Run computes a plan on the GPU into out ([batch, M, N]), reading and
// writing the slices in the Go program's memory.
func (g *WebGPU) Run(p *Plan, lhs, rhs, out []float32) error {
	a, err := g.call("upload", addr(lhs, 0), len(lhs))
	if err != nil {
		return err
	}
	defer g.call("release", a.Int())
	b, err := g.call("upload", addr(rhs, 0), len(rhs))
	if err != nil {
		return err
	}
	defer g.call("release", b.Int())
	c, err := g.alloc(len(out))
	if err != nil {
		return err
	}
	defer g.Release(c)
	if err := g.matmul(p, a.Int(), b.Int(), c.id); err != nil {
		return err
	}
	pr, err := g.call("download", c.id, addr(out, 0), len(out))
	if err != nil {
		return err
	}
	if _, err := await(pr); err != nil {
		g.Lost = fmt.Errorf("%w: %v", ErrDeviceLost, err)
		return g.Lost
	}
	return nil
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
