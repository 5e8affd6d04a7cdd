package train

import (
	"runtime"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// NewCPUBackend returns GoMLX's pure-Go backend.
//
// In WebAssembly it runs without worker goroutines ("parallelism=0"): there
// is one thread, and our kernels bring their own helper threads.
//
// Natively the ops of a graph run one after another ("ops_sequential") while
// each large op still fans out over every core. compute v0.1.3's default
// runs independent ops of a graph in pool workers too, and a matrix product
// inside such a worker calls the pool's Saturate: Saturate and the graph
// executor then wait on the same sync.Cond, which is woken with Signal, so a
// wake-up meant for one is taken by the other and both sleep forever (seen at
// DistilBERT-base size on 2 cores; see the README's known issues). With one
// op at a time there is only ever one waiter.
func NewCPUBackend() (compute.Backend, error) {
	if runtime.GOOS == "js" {
		return gobackend.New("parallelism=0")
	}
	return gobackend.New("ops_sequential")
}
