package kernels

import "testing"

// The SIMD kernel, when the test runs in WebAssembly with it loaded
// (make test-wasm runs tests through tools/wasmexec, which loads it).
func TestGemmSIMD(t *testing.T) {
	g := SIMDGemm()
	if g == nil {
		t.Skip("no WebAssembly SIMD kernel in this environment")
	}
	checkGemm(t, "SIMD", g)
}
