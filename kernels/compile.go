package kernels

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// step is one unit of execution: a pure-Go segment, a matrix product or a
// fused element-wise program.
type step struct {
	name    string // "DotGeneral", "fused", an op name (when profiling ops) or "segment"
	inputs  []*node
	outputs []*node
	exe     compute.Executable // segment
	dot     *DotSpec           // matrix product
	fused   *Program           // element-wise program
	reduce  *Reduction         // row reduction (the device's or the kernel's; else exe runs it)
	ops     []string           // the recorded ops it runs (for HostSteps)
	// random: an RNGBitGenerator and its ConvertDType, which a device draws
	// itself (exe runs them on the host).
	random               *Random
	randomOp, randomConv *op
	layout               *Layout // a Slice, Pad, Reshape or Gather a device runs (exe on the host)
}

// Compile cuts the recorded ops at each float32 DotGeneral and, when the
// kernel fuses element-wise ops, around runs of them; the pieces between
// are compiled with the inner backend.
//
// The walk keeps one fusion group open at a time. Ops that cannot join it
// are set aside to run after it, and any op reading what they produce can
// no longer join (it starts a new group once the set-aside ops ran), so the
// steps stay in a valid order.
func (b *Builder) Compile() (compute.Executable, error) {
	f := b.main
	if !f.done {
		return nil, errors.New("Compile before Return")
	}
	ops := liveOps(f)
	consumers := map[*node][]*op{}
	for _, o := range ops {
		forNodes(o.args, func(n *node) { consumers[n] = append(consumers[n], o) })
	}
	graphOutputs := map[*node]bool{}
	for _, n := range f.outputs {
		graphOutputs[n] = true
	}
	_, fuses := b.backend.Kernel.(FusedKernel)
	_, reduces := b.backend.Kernel.(ReduceKernel)
	onDevice, maxBuffers := deviceOf(b.backend.Kernel) != nil, 0
	if onDevice {
		maxBuffers = deviceOf(b.backend.Kernel).MaxBuffers()
	}
	fuses = fuses || onDevice
	consts := scalarConstants(ops)
	minSize := b.backend.MinFusedSize
	if minSize == 0 {
		minSize = MinFusedSize
		if onDevice { // whatever the device leaves to the host costs a round trip
			minSize = 1
		}
	}

	var steps []*step
	flush := func(list []*op) error { // as pure-Go segment(s)
		if len(list) == 0 {
			return nil
		}
		pieces := [][]*op{list}
		if b.backend.ProfileOps { // one executable per op, so time can be told apart by op
			pieces = nil
			for _, o := range list {
				pieces = append(pieces, []*op{o})
			}
		}
		for _, piece := range pieces {
			s, err := b.segment(piece, consumers, graphOutputs, len(steps))
			if err != nil {
				return err
			}
			if s != nil {
				s.ops = opNames(piece)
				s.name = "segment"
				if len(piece) == 1 {
					s.name = piece[0].name
				}
				steps = append(steps, s)
			}
		}
		return nil
	}
	var pending, after []*op // pure-Go ops before the open group, and set aside after it
	var g *fusion
	blocked := map[*node]bool{} // produced by the ops set aside: the group may not read them
	// settle emits the open group and every pure-Go op waiting, so that a
	// product or a new group can follow.
	settle := func() error {
		if g != nil {
			steps = append(steps, g.steps(consumers, graphOutputs, consts, maxBuffers)...)
			g, pending, after, blocked = nil, after, nil, map[*node]bool{}
		}
		err := flush(pending)
		pending = nil
		return err
	}
	taken := map[*op]bool{} // ops already placed in an earlier step
	for _, o := range ops {
		if taken[o] {
			continue
		}
		conv, random, isRandom := randomOp(o, consumers)
		switch {
		case onDevice && isRandom:
			// The conversion reads only the bits: it moves up to the draw.
			if err := settle(); err != nil {
				return nil, err
			}
			s, err := b.segment([]*op{o, conv}, consumers, graphOutputs, len(steps))
			if err != nil {
				return nil, err
			}
			taken[conv] = true
			if s != nil {
				s.name, s.ops = "RNGBitGenerator", []string{o.name, conv.name}
				s.random, s.randomOp, s.randomConv = random, o, conv
				steps = append(steps, s)
			}
		case onDevice && isLayout(o, consts):
			if err := settle(); err != nil {
				return nil, err
			}
			s, err := b.segment([]*op{o}, consumers, graphOutputs, len(steps))
			if err != nil {
				return nil, err
			}
			if s != nil {
				s.name, s.ops = o.name, []string{o.name}
				s.layout, _ = layoutOp(o, consts)
				steps = append(steps, s)
			}
		case isKernelDot(o):
			if err := settle(); err != nil {
				return nil, err
			}
			steps = append(steps, dotStep(o))
		case (onDevice || reduces) && isReduction(o, onDevice):
			// A step of its own: the device or the kernel runs it, or the
			// host runs it as a one-op segment.
			if err := settle(); err != nil {
				return nil, err
			}
			s, err := b.segment([]*op{o}, consumers, graphOutputs, len(steps))
			if err != nil {
				return nil, err
			}
			if s != nil { // nil: nothing reads it
				s.ops = []string{o.name}
				s.name = o.name
				s.reduce, _ = reduction(o, onDevice)
				steps = append(steps, s)
			}
		case fuses && g != nil && fusible(o, g, blocked, consts, minSize, onDevice):
			g.add(o)
		case fuses && fusible(o, nil, nil, consts, minSize, onDevice):
			if err := settle(); err != nil {
				return nil, err
			}
			g = &fusion{size: o.outputs[0].shape.Size(), members: map[*node]bool{}}
			g.add(o)
		case g != nil:
			after = append(after, o)
			for _, n := range o.outputs {
				blocked[n] = true
			}
		default:
			pending = append(pending, o)
		}
	}
	if err := settle(); err != nil {
		return nil, err
	}
	lastRead := map[*node]int{}
	for i, s := range steps {
		for _, n := range s.inputs {
			lastRead[n] = i
		}
	}
	for _, n := range f.outputs {
		lastRead[n] = len(steps)
	}
	return &Executable{b: b.backend, fn: f, steps: steps, lastRead: lastRead,
		static: staticSteps(steps, graphOutputs), cache: map[*node]cached{}}, nil
}

// staticSteps marks the host segments that read no input, directly or
// through other such steps, and return nothing: constants, iotas and what
// is computed from them. They give the same values every run, so a run
// with a device computes them once and keeps them, there and on the host.
func staticSteps(steps []*step, graphOutputs map[*node]bool) map[*step]bool {
	static := map[*step]bool{}
	fixed := map[*node]bool{}
	for _, s := range steps {
		if s.exe == nil || s.random != nil || s.reduce != nil || s.layout != nil {
			continue
		}
		ok := true
		for _, n := range s.inputs {
			ok = ok && fixed[n]
		}
		for _, n := range s.outputs {
			ok = ok && !graphOutputs[n]
		}
		if ok {
			static[s] = true
			for _, n := range s.outputs {
				fixed[n] = true
			}
		}
	}
	return static
}

func isLayout(o *op, consts map[*node]float32) bool {
	_, ok := layoutOp(o, consts)
	return ok
}

func opNames(ops []*op) []string {
	names := make([]string, len(ops))
	for i, o := range ops {
		names[i] = o.name
	}
	return names
}

// steps makes the group's program, split in halves (recursively) while it
// binds more buffers than a device allows (maxBuffers, 0 for no limit): the
// gradient clipping of every trainable tensor is one group of 50 buffers at
// DistilBERT-base size, and a program the device declines runs on the host.
func (g *fusion) steps(consumers map[*node][]*op, graphOutputs map[*node]bool, consts map[*node]float32, maxBuffers int) []*step {
	prog, in, out := g.program(consumers, graphOutputs, consts)
	if maxBuffers == 0 || len(in)+len(out) <= maxBuffers || len(g.ops) == 1 {
		return []*step{{name: "fused", inputs: in, outputs: out, fused: prog}}
	}
	var parts []*step
	h := len(g.ops) / 2
	for _, ops := range [][]*op{g.ops[:h], g.ops[h:]} {
		sub := &fusion{size: g.size, members: map[*node]bool{}}
		for _, o := range ops {
			sub.add(o)
		}
		parts = append(parts, sub.steps(consumers, graphOutputs, consts, maxBuffers)...)
	}
	return parts
}

func (g *fusion) add(o *op) {
	g.ops = append(g.ops, o)
	for _, n := range o.outputs {
		g.members[n] = true
	}
}

// scalarConstants maps the graph's one-element float32 constants to their
// values: fused programs take them as immediates.
func scalarConstants(ops []*op) map[*node]float32 {
	c := map[*node]float32{}
	for _, o := range ops {
		if o.name != "Constant" || len(o.outputs) != 1 || o.outputs[0].shape.Size() != 1 {
			continue
		}
		if v, ok := o.args[0].([]float32); ok && len(v) == 1 {
			c[o.outputs[0]] = v[0]
		}
	}
	return c
}

// liveOps drops ops whose results no output depends on (autodiff leaves
// some): a segment must not take parameters that nothing reads.
func liveOps(f *Function) []*op {
	live := map[*node]bool{}
	for _, n := range f.outputs {
		live[n] = true
	}
	keep := make([]bool, len(f.ops))
	for i := len(f.ops) - 1; i >= 0; i-- {
		o := f.ops[i]
		if slices.ContainsFunc(o.outputs, func(n *node) bool { return live[n] }) {
			keep[i] = true
			forNodes(o.args, func(n *node) { live[n] = true })
		}
	}
	var ops []*op
	for i, o := range f.ops {
		if keep[i] {
			ops = append(ops, o)
		}
	}
	return ops
}

func forNodes(args []any, fn func(*node)) {
	for _, a := range args {
		switch v := a.(type) {
		case *node:
			fn(v)
		case []compute.Value:
			for _, x := range v {
				if n, ok := x.(*node); ok {
					fn(n)
				}
			}
		}
	}
}

// segment replays ops into a new inner computation whose parameters are the
// nodes the ops read from outside and whose outputs are the nodes read by
// other steps or returned.
func (b *Builder) segment(ops []*op, consumers map[*node][]*op, graphOutputs map[*node]bool, index int) (*step, error) {
	inner := b.backend.Backend.Builder(fmt.Sprintf("%s.segment%d", b.name, index))
	fn := inner.Main()
	produced := map[*node]bool{}
	for _, o := range ops {
		for _, n := range o.outputs {
			produced[n] = true
		}
	}
	s := &step{}
	vals := map[*node]compute.Value{}
	var err error
	for _, o := range ops {
		forNodes(o.args, func(n *node) {
			if err != nil || produced[n] || vals[n] != nil {
				return
			}
			var v compute.Value
			v, err = fn.Parameter(fmt.Sprintf("n%d", n.id), n.shape, nil)
			vals[n] = v
			s.inputs = append(s.inputs, n)
		})
		if err != nil {
			return nil, err
		}
		res, err := call(fn, o.name, o.args, func(n *node) compute.Value { return vals[n] })
		if err != nil {
			return nil, fmt.Errorf("replaying %s: %w", o.name, err)
		}
		k := 0
		for _, r := range res {
			if vs, ok := r.([]compute.Value); ok {
				for _, v := range vs {
					vals[o.outputs[k]] = v
					k++
				}
			} else if r != nil {
				vals[o.outputs[k]] = r
				k++
			}
		}
	}
	inSegment := map[*op]bool{}
	for _, o := range ops {
		inSegment[o] = true
	}
	var outs []compute.Value
	for _, o := range ops {
		for _, n := range o.outputs {
			if graphOutputs[n] || slices.ContainsFunc(consumers[n], func(c *op) bool { return !inSegment[c] }) {
				s.outputs = append(s.outputs, n)
				outs = append(outs, vals[n])
			}
		}
	}
	if len(outs) == 0 {
		return nil, nil // nothing it computes is used: no side effects to keep
	}
	if err := fn.Return(outs, nil); err != nil {
		return nil, err
	}
	if s.exe, err = inner.Compile(); err != nil {
		return nil, err
	}
	return s, nil
}

func dotStep(o *op) *step {
	lhs, rhs := o.args[0].(*node), o.args[3].(*node)
	return &step{
		name:    "DotGeneral",
		inputs:  []*node{lhs, rhs},
		outputs: o.outputs,
		dot: &DotSpec{LHS: lhs.shape, RHS: rhs.shape, Output: o.outputs[0].shape,
			LHSContracting: o.args[1].([]int), LHSBatch: o.args[2].([]int),
			RHSContracting: o.args[4].([]int), RHSBatch: o.args[5].([]int), Config: o.args[6].(compute.DotGeneralConfig)},
	}
}

// Executable runs the steps in order.
type Executable struct {
	b        *Backend
	fn       *Function
	steps    []*step
	lastRead map[*node]int // the last step reading each value (the steps' count for outputs)

	static map[*step]bool // steps computed once (staticSteps)
	mu     sync.Mutex
	cache  map[*node]cached // their values, once computed
}

// cached is a static step's value: on the host, and on the device once a
// device step read it.
type cached struct {
	host   compute.Buffer
	dev    Device
	tensor Tensor
}

func (e *Executable) Finalize() {
	e.mu.Lock()
	for n, c := range e.cache {
		if c.tensor != nil {
			c.dev.Release(c.tensor)
		}
		delete(e.cache, n)
	}
	e.mu.Unlock()
	for _, s := range e.steps {
		if s.exe != nil {
			s.exe.Finalize()
		}
	}
}

func (e *Executable) Inputs() ([]string, []shapes.Shape) {
	var sh []shapes.Shape
	for _, p := range e.fn.params {
		sh = append(sh, p.shape)
	}
	return slices.Clone(e.fn.names), sh
}

func (e *Executable) Outputs() []shapes.Shape {
	var sh []shapes.Shape
	for _, n := range e.fn.outputs {
		sh = append(sh, n.shape)
	}
	return sh
}

// Execute runs every step, feeding each the values it reads. Inputs are
// never donated to the inner executables: later steps (and later runs, for
// values a device keeps) may read them. With a device, products and fused
// programs run there; if the device fails, the whole run starts again on
// the host.
func (e *Executable) Execute(inputs []compute.Buffer, _ []bool, device compute.DeviceNum) ([]compute.Buffer, error) {
	if len(inputs) != len(e.fn.params) {
		return nil, fmt.Errorf("%s backend: %d inputs for %d parameters", BackendName, len(inputs), len(e.fn.params))
	}
	if dev := deviceOf(e.b.Kernel); dev != nil {
		out, err := e.run(inputs, dev, device)
		if !errors.Is(err, ErrDeviceLost) {
			return out, err
		}
	}
	return e.run(inputs, nil, device)
}

func (e *Executable) run(inputs []compute.Buffer, dev Device, device compute.DeviceNum) ([]compute.Buffer, error) {
	v := &values{dev: dev, inner: e.b.Backend, host: map[*node]compute.Buffer{}, device: map[*node]Tensor{},
		input: map[*node]bool{}, borrowed: map[*node]*deviceBuffer{}, pinned: map[*node]bool{}}
	if err := v.setInputs(e.fn.params, inputs); err != nil {
		return nil, err
	}
	if dev != nil {
		defer v.releaseAll()
	}
	if dev != nil {
		e.useCache(v)
	}
	for si, s := range e.steps {
		if dev != nil && e.static[s] && v.has(s.outputs) {
			continue
		}
		start := time.Now()
		done, err := v.runOnDevice(s)
		if err != nil {
			return nil, err
		}
		if done {
			if s.dot != nil {
				e.b.Profile.add(&e.b.Profile.Dot, s.name, start)
			} else {
				e.b.Profile.add(&e.b.Profile.Other, s.name, start)
			}
		} else {
			in := make([]compute.Buffer, len(s.inputs))
			downloads := false
			for i, n := range s.inputs {
				_, here := v.host[n]
				downloads = downloads || !here
				if in[i], err = v.onHost(n); err != nil {
					return nil, err
				}
				in[i] = unwrap(in[i])
			}
			if downloads { // the wait includes the queued GPU work these values came from
				e.b.Profile.add(&e.b.Profile.Other, "GPU work and read-back", start)
				start = time.Now()
			}
			if dev != nil {
				e.b.Profile.hostStep(s)
			}
			var out []compute.Buffer
			switch {
			case s.dot != nil:
				out, err = e.b.runDot(s.dot, in[0], in[1], device)
				e.b.Profile.add(&e.b.Profile.Dot, s.name, start)
			case s.fused != nil:
				out, err = e.b.runFused(s.fused, in)
				e.b.Profile.add(&e.b.Profile.Other, s.name, start)
			case s.reduce != nil:
				out, err = e.b.runReduce(s, in, device)
				e.b.Profile.add(&e.b.Profile.Other, s.name, start)
			default:
				out, err = s.exe.Execute(in, make([]bool, len(in)), device)
				e.b.Profile.add(&e.b.Profile.Other, s.name, start)
			}
			if err != nil {
				return nil, err
			}
			for i, n := range s.outputs {
				v.host[n] = out[i]
			}
		}
		if dev != nil {
			if e.static[s] {
				e.keep(v, s.outputs)
			}
			v.release(s.inputs, e.lastRead, si)
		}
		v.dropHost(s, e.lastRead, si)
	}
	if dev != nil {
		e.keepUploads(v)
	}
	return e.outputs(v, inputs)
}

// outputs hands out the executable's results. A value on the device stays
// there (a deviceBuffer) unless it is an input or returned twice; the rest
// become tensors that free their buffers, so an output that is an input, or
// the same node twice, gets a buffer of its own.
func (e *Executable) outputs(v *values, inputs []compute.Buffer) ([]compute.Buffer, error) {
	owned := map[compute.Buffer]bool{}
	for _, in := range inputs {
		owned[unwrap(in)] = true
	}
	for _, p := range e.fn.params {
		if h, ok := v.host[p]; ok {
			owned[unwrap(h)] = true
		}
	}
	times := map[*node]int{}
	for _, n := range e.fn.outputs {
		times[n]++
	}
	outs := make([]compute.Buffer, len(e.fn.outputs))
	for i, n := range e.fn.outputs {
		if t, ok := v.device[n]; ok && !v.input[n] && times[n] == 1 {
			var host compute.Buffer
			if h, ok := v.host[n]; ok {
				host = unwrap(h)
			}
			outs[i] = newDeviceBuffer(e.b, v.dev, t, n.shape, host)
			delete(v.device, n)
			continue
		}
		buf, err := v.onHost(n)
		if err != nil {
			return nil, err
		}
		buf = unwrap(buf)
		if owned[buf] {
			if buf, err = e.b.clone(buf, n.shape); err != nil {
				return nil, err
			}
		}
		owned[buf] = true
		outs[i] = e.b.wrap(buf)
	}
	return outs, nil
}

// useCache gives a run the static values computed before; they are pinned:
// the run neither releases nor drops them.
func (e *Executable) useCache(v *values) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for n, c := range e.cache {
		v.host[n] = c.host
		v.pinned[n] = true
		if c.tensor != nil && c.dev == v.dev {
			v.device[n] = c.tensor
		}
	}
}

// keep caches a static step's host values.
func (e *Executable) keep(v *values, outs []*node) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range outs {
		if h, ok := v.host[n]; ok {
			e.cache[n] = cached{host: h}
			v.pinned[n] = true
		}
	}
}

// keepUploads caches the device copies of static values that device steps
// read: later runs upload nothing for them.
func (e *Executable) keepUploads(v *values) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for n, c := range e.cache {
		if t, ok := v.device[n]; ok && c.tensor == nil {
			c.dev, c.tensor = v.dev, t
			e.cache[n] = c
		}
	}
}

// runReduce runs a row reduction on the kernel, falling back to the step's
// one-op segment.
func (b *Backend) runReduce(s *step, in []compute.Buffer, device compute.DeviceNum) ([]compute.Buffer, error) {
	if k, ok := b.Kernel.(ReduceKernel); ok {
		out, err := k.Reduce(s.reduce, in[0])
		if err == nil {
			return []compute.Buffer{out}, nil
		}
		if !compute.IsNotImplemented(err) {
			return nil, fmt.Errorf("%s kernel: %w", b.Kernel.Name(), err)
		}
	}
	return s.exe.Execute(in, make([]bool, len(in)), device)
}

// runDot runs a product on the kernel, falling back to the inner backend.
func (b *Backend) runDot(spec *DotSpec, lhs, rhs compute.Buffer, device compute.DeviceNum) ([]compute.Buffer, error) {
	if b.Kernel != nil {
		out, err := b.Kernel.DotGeneral(spec, lhs, rhs)
		if err == nil {
			return []compute.Buffer{out}, nil
		}
		if !compute.IsNotImplemented(err) {
			return nil, fmt.Errorf("%s kernel: %w", b.Kernel.Name(), err)
		}
	}
	exe, err := b.dots.get(spec)
	if err != nil {
		return nil, err
	}
	return exe.Execute([]compute.Buffer{lhs, rhs}, []bool{false, false}, device)
}

// dotCache holds one-op pure-Go executables for products, by layout.
type dotCache struct {
	inner compute.Backend
	mu    sync.Mutex
	exes  map[string]compute.Executable
}

func newDotCache(inner compute.Backend) *dotCache {
	return &dotCache{inner: inner, exes: map[string]compute.Executable{}}
}

func (c *dotCache) get(s *DotSpec) (compute.Executable, error) {
	key := fmt.Sprint(s.LHS, s.RHS, s.LHSContracting, s.LHSBatch, s.RHSContracting, s.RHSBatch, s.Config)
	c.mu.Lock()
	defer c.mu.Unlock()
	if exe, ok := c.exes[key]; ok {
		return exe, nil
	}
	b := c.inner.Builder("dot:" + strings.ReplaceAll(key, " ", ""))
	fn := b.Main()
	l, err := fn.Parameter("lhs", s.LHS, nil)
	if err != nil {
		return nil, err
	}
	r, err := fn.Parameter("rhs", s.RHS, nil)
	if err != nil {
		return nil, err
	}
	out, err := fn.DotGeneral(l, s.LHSContracting, s.LHSBatch, r, s.RHSContracting, s.RHSBatch, s.Config)
	if err != nil {
		return nil, err
	}
	if err := fn.Return([]compute.Value{out}, nil); err != nil {
		return nil, err
	}
	exe, err := b.Compile()
	if err != nil {
		return nil, err
	}
	c.exes[key] = exe
	return exe, nil
}

// clone copies a buffer on the inner backend.
func (b *Backend) clone(x compute.Buffer, sh shapes.Shape) (compute.Buffer, error) {
	out, flat, err := b.Backend.NewSharedBuffer(0, sh)
	if err != nil {
		return nil, err
	}
	return out, x.ToFlatData(flat)
}
