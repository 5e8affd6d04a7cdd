//go:build !(js && wasm)

package kernels

// SIMDGemm is only available in WebAssembly.
func SIMDGemm() Gemm { return nil }

// SIMDElementwise is only available in WebAssembly.
func SIMDElementwise() func(p *Program, inputs, outputs []any) { return nil }
