//go:build js && wasm

package kernels

import (
	"math"
	"runtime"
	"syscall/js"
	"unsafe"
)

// SIMDGemm returns the WebAssembly SIMD matrix kernel (gemm in
// kernels/simd/simd.wat) when the host instantiated it on this program's
// memory and published it as globalThis.webtuneGemm (js/worker.mjs does; so
// does tools/wasmexec for tests), or nil. The kernel reads and writes Go's
// slices in place: Go's heap lives in the same linear memory and its
// collector does not move objects, so a slice's address is valid for the
// duration of the call.
func SIMDGemm() Gemm {
	f := js.Global().Get("webtuneGemm")
	if f.Type() != js.TypeFunction {
		return nil
	}
	return jsGemm(f)
}

// jsGemm calls a JavaScript function with simd.wat's gemm signature on Go's
// slices.
func jsGemm(f js.Value) Gemm {
	return func(a []float32, aOff int, b []float32, bOff int, c []float32, cOff int, M, N, K, ldar, ldac, ldb, ldc int, accumulate bool) {
		acc := 0
		if accumulate {
			acc = 1
		}
		f.Invoke(addr(a, aOff), addr(b, bOff), addr(c, cOff), M, N, K, ldar, ldac, ldb, ldc, acc)
		runtime.KeepAlive(a)
		runtime.KeepAlive(b)
		runtime.KeepAlive(c)
	}
}

// SIMDPack returns the SIMD packing of B (pack in simd.wat, published as
// globalThis.webtunePack), or nil.
func SIMDPack() Pack {
	f := js.Global().Get("webtunePack")
	if f.Type() != js.TypeFunction {
		return nil
	}
	return func(dst []float32, ldd int, src []float32, srcOff, K, N, sk, sn int) {
		f.Invoke(addr(dst, 0), addr(src, srcOff), K, N, sk, sn, ldd)
		runtime.KeepAlive(dst)
		runtime.KeepAlive(src)
	}
}

// SIMDFMA reports whether the host loaded the SIMD kernels built with
// relaxed-SIMD fused multiply-adds (kernels/simd/build.mjs).
func SIMDFMA() bool {
	return js.Global().Get("webtuneFMA").Truthy()
}

// SIMDRows returns the SIMD row reductions (rows in simd.wat, published as
// globalThis.webtuneRows), or nil.
func SIMDRows() func(r *Reduction, x, y []float32) {
	f := js.Global().Get("webtuneRows")
	if f.Type() != js.TypeFunction {
		return nil
	}
	return func(r *Reduction, x, y []float32) {
		f.Invoke(addr(x, 0), addr(y, 0), r.Rows, r.Cols, int(r.Op))
		runtime.KeepAlive(x)
		runtime.KeepAlive(y)
	}
}

// SIMDTeam returns the SIMD matrix kernel split across threads (js/team.mjs,
// published as globalThis.webtuneGemmTeam by hosts that could start helper
// workers) and its thread count, or nil. It takes whole products and blocks
// them itself (Plan.RunWhole).
func SIMDTeam() (Gemm, int) {
	f := js.Global().Get("webtuneGemmTeam")
	if f.Type() != js.TypeFunction {
		return nil, 0
	}
	return jsGemm(f), f.Get("threads").Int()
}

// SIMDElementwise returns the SIMD interpreter of fused programs (fused in
// simd.wat, published as globalThis.webtuneFused), or nil. Like the matrix
// kernel it works on Go's slices in place.
func SIMDElementwise() func(p *Program, inputs, outputs []any) {
	f := js.Global().Get("webtuneFused")
	if f.Type() != js.TypeFunction {
		return nil
	}
	var regs []float32
	return func(p *Program, inputs, outputs []any) {
		if len(regs) < 256*p.Regs {
			regs = make([]float32, 256*p.Regs)
		}
		code := make([]int32, 18*len(p.Code))
		for i, in := range p.Code {
			w := code[18*i : 18*i+18]
			w[0], w[1], w[2], w[3], w[4] = int32(in.Op), int32(in.Dst), int32(in.A), int32(in.B), int32(in.C)
			switch in.Op {
			case OpLoad, OpLoadScalar, OpLoadPattern, OpLoadBool:
				w[5] = int32(sliceAddr(inputs[in.Input]))
			case OpStore, OpStoreBool:
				w[5] = int32(sliceAddr(outputs[in.Input]))
			case OpConst:
				w[5] = int32(math.Float32bits(in.Imm))
			}
			for j, v := range in.Pattern {
				w[6+j] = int32(v)
			}
		}
		f.Invoke(uintptr(unsafe.Pointer(unsafe.SliceData(code))), len(p.Code), addr(regs, 0), p.Size)
		runtime.KeepAlive(inputs)
		runtime.KeepAlive(outputs)
		runtime.KeepAlive(code)
	}
}

func addr(s []float32, off int) int {
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(s))) + uintptr(off)*4)
}

// sliceAddr is the address of a []float32's or []bool's first element.
func sliceAddr(s any) uintptr {
	switch v := s.(type) {
	case []float32:
		return uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	case []bool:
		return uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	}
	panic("sliceAddr: not a []float32 or []bool")
}
