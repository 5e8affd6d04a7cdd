package train

import (
	"runtime"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// NewCPUBackend returns GoMLX's pure-Go backend. In WebAssembly it must run
// without worker goroutines: the default configuration deadlocks there.
func NewCPUBackend() (compute.Backend, error) {
	if runtime.GOOS == "js" {
		return gobackend.New("parallelism=0")
	}
	return gobackend.New("")
}
