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
	if g := SIMDGemm(); g != nil {
		return &GemmKernel{Label: "WebAssembly SIMD", Gemm: g, Elementwise: SIMDElementwise(), Inner: inner}
	}
	return nil
}
