//go:build !(js && wasm)

package kernels

// SIMDGemm is only available in WebAssembly.
func SIMDGemm() Gemm { return nil }
