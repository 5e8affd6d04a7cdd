//go:build js && wasm

// Command wasm is webtune's WebAssembly program. It runs once per page, in a
// module Web Worker (js/worker.mjs), and serves the API of package api
// through github.com/syumai/workers: the Worker hands it fetch-style Request
// objects and streams the Responses back to the page.
package main

import (
	"fmt"
	"runtime/debug"
	"syscall/js"
	"time"

	"github.com/gomlx/compute"
	"github.com/syumai/workers"

	"github.com/webtune/webtune/kernels"
	"github.com/webtune/webtune/model/train"
	"github.com/webtune/webtune/wasm/api"
)

func main() {
	// Collect before the heap doubles: at the base model's size the default
	// (grow to twice the live data) passes WebAssembly's 4 GB.
	debug.SetMemoryLimit(train.MemoryLimit)
	kernel, desc := chooseKernels()
	srv := api.New(api.Config{
		Compute: desc,
		Backend: func() (compute.Backend, string, error) {
			cpu, err := train.NewCPUBackend()
			if err != nil || kernel == nil {
				return cpu, desc, err
			}
			return kernels.New(cpu, kernel(cpu)), desc, nil
		},
		// Go's wasm scheduler only returns to the JavaScript event loop when
		// every goroutine is blocked: sleep briefly between steps so that Stop
		// requests and streamed progress get through.
		Yield: func() { time.Sleep(time.Millisecond) },
	})
	go renewWorkersDone()
	workers.ServeNonBlock(srv)
	workers.Ready()
	select {}
}

// chooseKernels picks where matrix products run: WebGPU on a real GPU, the
// WebAssembly SIMD kernel otherwise (a CPU-emulated adapter such as
// SwiftShader is slower than SIMD), pure Go when neither exists. The page's
// ?compute=webgpu or ?compute=cpu overrides the choice. Whatever a kernel
// declines (or all of it, once a GPU device is lost) runs on the next one.
func chooseKernels() (func(cpu compute.Backend) kernels.DotKernel, string) {
	pref := js.Global().Get("webtuneCompute")
	want := "auto"
	if pref.Type() == js.TypeString {
		want = pref.String()
	}
	simd := kernels.SIMDGemm() != nil
	var gpu *kernels.WebGPU
	if want != "cpu" {
		if probe, err := train.NewCPUBackend(); err == nil {
			if g, err := kernels.NewWebGPU(probe); err == nil && (!g.Emulated || want == "webgpu") {
				gpu = g
			}
		}
	}
	switch {
	case gpu != nil:
		return func(cpu compute.Backend) kernels.DotKernel {
			chain := kernels.Chain{gpu.With(cpu)}
			if simd {
				chain = append(chain, kernels.NewSIMD(cpu))
			}
			return chain
		}, "WebGPU · " + gpu.Adapter
	case simd:
		label := "CPU · WebAssembly SIMD"
		if _, threads := kernels.SIMDTeam(); threads > 1 {
			label += fmt.Sprintf(" · %d threads", threads)
		}
		return func(cpu compute.Backend) kernels.DotKernel { return kernels.NewSIMD(cpu) }, label
	}
	return nil, "CPU · Go WebAssembly"
}
