package kernels

import (
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// deviceBuffer is an executable's output left on the device. GoMLX holds it
// like any buffer; when it comes back as an input (the trainable weights
// and optimizer moments of the next step, the gradient accumulator of the
// next pass) the device reads it where it is, and its values cross to the
// host only when something asks for them (a loss, a checkpoint, an export).
type deviceBuffer struct {
	b     *Backend
	shape shapes.Shape
	h     *deviceHandle
}

// deviceHandle owns the device tensor: freed by Finalize or, if the buffer
// is dropped without one, by a cleanup after the collector takes it.
type deviceHandle struct {
	mu   sync.Mutex
	dev  Device
	t    Tensor
	host compute.Buffer // the values, once downloaded
}

func (h *deviceHandle) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.t != nil {
		h.dev.Release(h.t)
		h.t = nil
	}
	h.host = nil
}

var errFinalized = errors.New("buffer used after Finalize")

func newDeviceBuffer(b *Backend, dev Device, t Tensor, sh shapes.Shape, host compute.Buffer) *deviceBuffer {
	x := &deviceBuffer{b: b, shape: sh, h: &deviceHandle{dev: dev, t: t, host: host}}
	runtime.AddCleanup(x, (*deviceHandle).release, x.h)
	return x
}

// tensor is the device value, if it is still there.
func (x *deviceBuffer) tensor(dev Device) (Tensor, bool) {
	x.h.mu.Lock()
	defer x.h.mu.Unlock()
	return x.h.t, x.h.t != nil && x.h.dev == dev
}

// onHost downloads the values once (an inner-backend buffer).
func (x *deviceBuffer) onHost() (compute.Buffer, error) {
	x.h.mu.Lock()
	defer x.h.mu.Unlock()
	if x.h.host == nil {
		if x.h.t == nil {
			return nil, errFinalized
		}
		start := time.Now()
		b, err := x.h.dev.Download(x.h.t, x.shape)
		x.b.Profile.add(&x.b.Profile.Other, "GPU work and read-back (results)", start)
		if err != nil {
			return nil, err
		}
		x.h.host = unwrap(b)
	}
	return x.h.host, nil
}

func (x *deviceBuffer) Backend() compute.Backend              { return x.b }
func (x *deviceBuffer) Shape() (shapes.Shape, error)          { return x.shape, nil }
func (x *deviceBuffer) DeviceNum() (compute.DeviceNum, error) { return 0, nil }
func (x *deviceBuffer) Finalize() error                       { x.h.release(); return nil }

func (x *deviceBuffer) ToFlatData(flat any) error {
	h, err := x.onHost()
	if err != nil {
		return err
	}
	return h.ToFlatData(flat)
}

func (x *deviceBuffer) Data() (any, error) {
	h, err := x.onHost()
	if err != nil {
		return nil, err
	}
	return h.Data()
}

func (x *deviceBuffer) CopyToDevice(d compute.DeviceNum) (compute.Buffer, error) {
	h, err := x.onHost()
	if err != nil {
		return nil, err
	}
	c, err := h.CopyToDevice(d)
	if err != nil {
		return nil, err
	}
	return x.b.wrap(c), nil
}

// hostBuffer is an input's inner-backend buffer, downloading a device
// buffer's values.
func hostBuffer(x compute.Buffer) (compute.Buffer, error) {
	if d, ok := x.(*deviceBuffer); ok {
		return d.onHost()
	}
	return unwrap(x), nil
}
