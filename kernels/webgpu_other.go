//go:build !(js && wasm)

package kernels

import (
	"errors"
	"time"

	"github.com/gomlx/compute"
)

// WebGPU exists in WebAssembly only (a browser, or Node with Dawn); natively
// NewWebGPU reports that there is none.
type WebGPU struct {
	Stats    GPUStats
	Tiled    bool
	Tiles64  bool
	Emulated bool
	SyncEach bool
	GPUTime  map[string]time.Duration
	GPUCount map[string]int
}

func (g *WebGPU) Sync() error { return nil }

func (g *WebGPU) TimeMatmul(*Plan, []float32, []float32, int) (time.Duration, error) {
	return 0, errors.New("no WebGPU outside WebAssembly")
}

func NewWebGPU(compute.Backend) (*WebGPU, error) {
	return nil, errors.New("no WebGPU outside WebAssembly")
}

func (g *WebGPU) With(compute.Backend) *WebGPU { return g }
func (g *WebGPU) Name() string                 { return "WebGPU (none)" }
func (g *WebGPU) DotGeneral(*DotSpec, compute.Buffer, compute.Buffer) (compute.Buffer, error) {
	return nil, compute.ErrNotImplemented
}
