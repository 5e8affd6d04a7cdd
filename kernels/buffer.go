package kernels

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// buffer is an inner-backend buffer that reports this backend as its owner,
// so GoMLX tensors made from our outputs can be fed back to us.
type buffer struct {
	compute.Buffer
	b *Backend
}

func (x *buffer) Backend() compute.Backend { return x.b }

func (x *buffer) CopyToDevice(d compute.DeviceNum) (compute.Buffer, error) {
	c, err := x.Buffer.CopyToDevice(d)
	if err != nil {
		return nil, err
	}
	return x.b.wrap(c), nil
}

func (b *Backend) wrap(inner compute.Buffer) compute.Buffer {
	if inner == nil {
		return nil
	}
	if w, ok := inner.(*buffer); ok {
		return w
	}
	return &buffer{Buffer: inner, b: b}
}

func unwrap(x compute.Buffer) compute.Buffer {
	if w, ok := x.(*buffer); ok {
		return w.Buffer
	}
	return x
}

func (b *Backend) BufferFromFlatData(d compute.DeviceNum, flat any, shape shapes.Shape) (compute.Buffer, error) {
	x, err := b.Backend.BufferFromFlatData(d, flat, shape)
	return b.wrap(x), err
}

func (b *Backend) NewSharedBuffer(d compute.DeviceNum, shape shapes.Shape) (compute.Buffer, any, error) {
	x, flat, err := b.Backend.NewSharedBuffer(d, shape)
	return b.wrap(x), flat, err
}
