//go:build js && wasm

package kernels

import "github.com/gomlx/compute"

func gpuKernel(inner compute.Backend) DotKernel {
	if g, err := NewWebGPU(inner); err == nil {
		return g
	}
	return nil
}

func simdKernel(inner compute.Backend) DotKernel {
	if k := NewSIMD(inner); k != nil {
		return k
	}
	return nil
}
