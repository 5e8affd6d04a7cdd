//go:build js && wasm

package main

import (
	_ "unsafe" // for go:linkname

	"github.com/syumai/workers"
)

// syumai/workers v0.32.0 is written for one request per Go instance: the
// end of every response body closes the package's done channel, so a
// second response panics with "close of closed channel". We serve many
// requests from one long-lived instance, so a watcher replaces the channel
// as soon as it is closed. Go's wasm scheduler runs a goroutine readied by a
// close next (runnext), before any other response can reach its end.
//
//go:linkname workersDone github.com/syumai/workers.doneCh
var workersDone chan struct{}

func renewWorkersDone() {
	for {
		<-workers.Done()
		workersDone = make(chan struct{})
	}
}
