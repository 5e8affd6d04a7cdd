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

	"github.com/webtune/webtune/model/train"
	"github.com/webtune/webtune/wasm/api"
)

func main() {
	srv := api.New(api.Config{
		Backend: func() (compute.Backend, string, error) {
			b, err := train.NewCPUBackend()
			return b, "CPU · Go WebAssembly", err
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
