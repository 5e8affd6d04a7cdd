//go:build js && wasm

package kernels

import (
	"syscall/js"
	"unsafe"
)

// SIMDGemm returns the WebAssembly SIMD kernel (kernels/simd/gemm.wat) when
// the host instantiated it on this program's memory and published its gemm
// as globalThis.webtuneGemm (js/worker.mjs does; so does tools/wasmexec for
// tests), or nil. The kernel reads and writes Go's slices in place: Go's
// heap lives in the same linear memory and its collector does not move
// objects, so a slice's address is valid for the duration of the call.
func SIMDGemm() Gemm {
	f := js.Global().Get("webtuneGemm")
	if f.Type() != js.TypeFunction {
		return nil
	}
	return func(a []float32, aOff int, b []float32, bOff int, c []float32, cOff int, M, N, K, ldar, ldac, ldb, ldc int, accumulate bool) {
		acc := 0
		if accumulate {
			acc = 1
		}
		f.Invoke(addr(a, aOff), addr(b, bOff), addr(c, cOff), M, N, K, ldar, ldac, ldb, ldc, acc)
	}
}

func addr(s []float32, off int) int {
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(s))) + uintptr(off)*4)
}
