//go:build js && wasm

// Command wasm is webtune's WebAssembly program. It runs once per page, in a
// module Web Worker (js/worker.mjs), and serves the API of package api
// through github.com/syumai/workers: the Worker hands it fetch-style Request
// objects and streams the Responses back to the page.
package main

import (
	"time"

	"github.com/gomlx/compute"
	"github.com/syumai/workers"

	"github.com/webtune/webtune/kernels"
	"github.com/webtune/webtune/model/train"
	"github.com/webtune/webtune/wasm/api"
)

func main() {
	// Matrix products run in the WebAssembly SIMD kernel when the Worker
	// loaded it; everything else, and any layout it declines, in pure Go.
	simd := kernels.SIMDGemm()
	desc := "CPU · Go WebAssembly"
	if simd != nil {
		desc = "CPU · WebAssembly SIMD"
	}
	srv := api.New(api.Config{
		Compute: desc,
		Backend: func() (compute.Backend, string, error) {
			cpu, err := train.NewCPUBackend()
			if err != nil || simd == nil {
				return cpu, desc, err
			}
			return kernels.New(cpu, &kernels.GemmKernel{Label: "WebAssembly SIMD", Gemm: simd, Inner: cpu}), desc, nil
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
