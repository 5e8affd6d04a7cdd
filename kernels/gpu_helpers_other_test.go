//go:build !(js && wasm)

package kernels

import "github.com/gomlx/compute"

func gpuKernel(compute.Backend) DotKernel  { return nil }
func simdKernel(compute.Backend) DotKernel { return nil }
