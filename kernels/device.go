package kernels

import (
	"errors"
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// Device is a kernel with a memory of its own (WebGPU). Execute keeps the
// values that device steps pass each other there and moves a value between
// host and device only when a step on the other side reads it: a chain of
// products and fused programs runs without a round trip, and the
// executable's inputs that do not change between runs (frozen weights) are
// uploaded once.
type Device interface {
	DotKernel
	// CanDot and CanFuse tell, before any upload, whether the device runs
	// a product or a program; the rest runs on the host.
	CanDot(s *DotSpec) bool
	CanFuse(p *Program) bool
	CanReduce(r *Reduction) bool
	CanRandom() bool
	CanLayout(l *Layout) bool
	// MaxBuffers is the most buffers one program may bind.
	MaxBuffers() int
	// Upload copies a host value to the device. input marks one of the
	// executable's input buffers, which the device may keep for later runs
	// (GoMLX never writes into a buffer it passes to this backend).
	Upload(x compute.Buffer, sh shapes.Shape, input bool) (Tensor, error)
	// Download copies a device value into a new inner-backend buffer.
	Download(t Tensor, sh shapes.Shape) (compute.Buffer, error)
	Dot(s *DotSpec, lhs, rhs Tensor) (Tensor, error)
	Fused(p *Program, in []Tensor) ([]Tensor, error)
	Reduce(r *Reduction, x Tensor) (Tensor, error)
	// Random draws r's values from an RNGBitGenerator state, as float32.
	Random(r *Random, state []uint64) (Tensor, error)
	// Layout moves values: in is the operand (and, for a gather, the ids).
	Layout(l *Layout, in []Tensor) (Tensor, error)
	// Release frees a value the executable no longer reads.
	Release(t Tensor)
}

// Tensor is a value held by a Device.
type Tensor any

// ErrDeviceLost is returned (wrapped) by a Device that stopped working; the
// executable then runs again on the host, from its intact inputs.
var ErrDeviceLost = errors.New("device lost")

// deviceOf finds the device in a kernel (or a Chain), or nil.
func deviceOf(k DotKernel) Device {
	switch v := k.(type) {
	case Device:
		return v
	case Chain:
		for _, x := range v {
			if d := deviceOf(x); d != nil {
				return d
			}
		}
	}
	return nil
}

// values holds an execution's values: on the host, on the device, or both.
type values struct {
	dev    Device
	inner  compute.Backend // makes the host buffers of device steps' host outputs
	host   map[*node]compute.Buffer
	device map[*node]Tensor
	input  map[*node]bool // the executable's inputs
	// borrowed: inputs whose device value belongs to a deviceBuffer (an
	// earlier run's output); a run reads them but never releases them.
	borrowed map[*node]*deviceBuffer
	// pinned: an executable's static values (staticSteps), which outlive
	// the run.
	pinned map[*node]bool
}

// has tells whether every node has a value already.
func (v *values) has(nodes []*node) bool {
	for _, n := range nodes {
		_, h := v.host[n]
		_, d := v.device[n]
		if !h && !d {
			return false
		}
	}
	return true
}

// setInputs takes the executable's inputs: a device buffer's value is read
// where it is, downloaded only if a host step asks for it.
func (v *values) setInputs(params []*node, inputs []compute.Buffer) error {
	for i, p := range params {
		v.input[p] = true
		db, ok := inputs[i].(*deviceBuffer)
		if !ok {
			v.host[p] = inputs[i]
			continue
		}
		if t, here := db.tensor(v.dev); v.dev != nil && here {
			v.device[p], v.borrowed[p] = t, db
			continue
		}
		h, err := db.onHost()
		if err != nil {
			return err
		}
		v.host[p] = h
	}
	return nil
}

func (v *values) onHost(n *node) (compute.Buffer, error) {
	if b, ok := v.host[n]; ok {
		return b, nil
	}
	if db, ok := v.borrowed[n]; ok {
		b, err := db.onHost()
		if err != nil {
			return nil, err
		}
		v.host[n] = b
		return b, nil
	}
	t, ok := v.device[n]
	if !ok {
		return nil, fmt.Errorf("%s backend: value n%d was never computed", BackendName, n.id)
	}
	b, err := v.dev.Download(t, n.shape)
	if err != nil {
		return nil, err
	}
	v.host[n] = b
	return b, nil
}

func (v *values) onDevice(n *node) (Tensor, error) {
	if t, ok := v.device[n]; ok {
		return t, nil
	}
	t, err := v.dev.Upload(v.host[n], n.shape, v.input[n])
	if err != nil {
		return nil, err
	}
	v.device[n] = t
	return t, nil
}

// runOnDevice runs a product, program or reduction step on the device,
// reporting false when the device does not take it.
func (v *values) runOnDevice(s *step) (bool, error) {
	if v.dev == nil {
		return false, nil
	}
	if s.random != nil {
		return v.runRandom(s)
	}
	takes := s.dot != nil && v.dev.CanDot(s.dot) || s.fused != nil && v.dev.CanFuse(s.fused) || s.reduce != nil && v.dev.CanReduce(s.reduce) ||
		s.layout != nil && v.dev.CanLayout(s.layout)
	if !takes {
		return false, nil
	}
	reads := s.inputs
	if s.layout != nil { // the operand and a gather's ids; not a pad's fill value
		reads = reads[:min(len(reads), map[bool]int{false: 1, true: 2}[s.layout.Gather])]
	}
	in := make([]Tensor, len(reads))
	for i, n := range reads {
		var err error
		if in[i], err = v.onDevice(n); err != nil {
			return false, err
		}
	}
	var out []Tensor
	switch {
	case s.dot != nil:
		t, err := v.dev.Dot(s.dot, in[0], in[1])
		if err != nil {
			return false, err
		}
		out = []Tensor{t}
	case s.layout != nil:
		t, err := v.dev.Layout(s.layout, in)
		if err != nil {
			return false, err
		}
		out = []Tensor{t}
	case s.reduce != nil:
		t, err := v.dev.Reduce(s.reduce, in[0])
		if err != nil {
			return false, err
		}
		out = []Tensor{t}
	default:
		var err error
		if out, err = v.dev.Fused(s.fused, in); err != nil {
			return false, err
		}
	}
	for i, n := range s.outputs {
		v.device[n] = out[i]
	}
	return true, nil
}

// runRandom draws a Random step's floats on the device from the state on
// the host, and computes the new state on the host.
func (v *values) runRandom(s *step) (bool, error) {
	if !v.dev.CanRandom() {
		return false, nil
	}
	stateNode, next, floats := s.inputs[0], s.randomOp.outputs[0], s.randomConv.outputs[0]
	buf, err := v.onHost(stateNode)
	if err != nil {
		return false, err
	}
	state := make([]uint64, 3)
	if err := unwrap(buf).ToFlatData(state); err != nil {
		return false, err
	}
	t, err := v.dev.Random(s.random, state)
	if err != nil {
		return false, err
	}
	for _, n := range s.outputs {
		switch n {
		case floats:
			v.device[n] = t
		case next:
			if v.host[n], err = v.inner.BufferFromFlatData(0, s.random.NextState(state), n.shape); err != nil {
				return false, err
			}
		}
	}
	if _, read := v.device[floats]; !read {
		v.dev.Release(t)
	}
	return true, nil
}

// release frees the device copies of values no later step reads.
func (v *values) release(nodes []*node, last map[*node]int, step int) {
	for _, n := range nodes {
		if t, ok := v.device[n]; ok && last[n] <= step && v.borrowed[n] == nil && !v.pinned[n] {
			v.dev.Release(t)
			delete(v.device, n)
		}
	}
}

// dropHost forgets the host buffers that no later step reads (and outputs
// nothing reads at all), so that the collector can take them while the graph
// still runs: a backward pass holds only what it still needs, not every
// intermediate value of the step (at DistilBERT-base size, 100 MB a row
// instead of 30). The buffers are not finalized: one buffer may be the value
// of several nodes (an output passed through), and the collector knows when
// the last of them is gone.
func (v *values) dropHost(s *step, last map[*node]int, step int) {
	for _, n := range s.inputs {
		if l, ok := last[n]; ok && l <= step && !v.input[n] && !v.pinned[n] {
			delete(v.host, n)
		}
	}
	for _, n := range s.outputs {
		if _, read := last[n]; !read {
			delete(v.host, n)
		}
	}
}

func (v *values) releaseAll() {
	for n, t := range v.device {
		if v.borrowed[n] == nil && !v.pinned[n] {
			v.dev.Release(t)
		}
		delete(v.device, n)
	}
}

// GPUStats counts the traffic between host and GPU.
type GPUStats struct {
	Uploads, UploadedBytes     int
	Kept                       int // uploads avoided: the input was already on the GPU
	Downloads, DownloadedBytes int // each download waits for the GPU: a host sync
	Dispatches                 int // compute shaders run
}
