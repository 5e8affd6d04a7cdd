//go:build !(js && wasm)

package kernels

// SIMDGemm is only available in WebAssembly.
func SIMDGemm() Gemm { return nil }

// SIMDElementwise is only available in WebAssembly.
func SIMDElementwise() func(p *Program, inputs, outputs []any) { return nil }

// SIMDTeam is only available in WebAssembly.
func SIMDTeam() (Gemm, int) { return nil, 0 }

// SIMDPack is only available in WebAssembly.
func SIMDPack() Pack { return nil }

// SIMDRows is only available in WebAssembly.
func SIMDRows() func(r *Reduction, x, y []float32) { return nil }

// SIMDFMA is only available in WebAssembly.
func SIMDFMA() bool { return false }
