//go:build js && wasm

package kernels

import (
	"bytes"
	"context"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/webtune/webtune/internal/sample"
	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/train"
)

// Fifty steps of the tiny model on SST-2 rows with dropout on: on the GPU
// (every op there, the weights kept there between steps) the losses are
// the pure-Go backend's to 1e-4 at every step; and the state saved at step
// 40 of that run, restored into a fresh trainer and continued on the GPU,
// ends with the weights of the uninterrupted run.
func TestWebGPUFiftyStepsAndResume(t *testing.T) {
	if os.Getenv("WEBTUNE_SIMD") == "plain" {
		t.Skip("the GPU path does not use the SIMD build (make test-wasm runs it once)")
	}
	base := inner(t)
	g, err := NewWebGPU(base)
	if err != nil {
		t.Skip("no WebGPU: ", err)
	}
	m, err := checkpoint.Load(checkpoint.Dir(testpaths.TinyModel(t)), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	data, err := train.Encode(sample.Tokenizer(t, testpaths.TinyModel(t)), sample.SST2(t, 96), 16)
	if err != nil {
		t.Fatal(err)
	}
	opts := train.Defaults()
	opts.Batch, opts.MaxSteps, opts.MaxLen = 8, 50, 16
	run := func(b *Backend, o train.Options, state []byte, saveAt int) (*train.Trainer, []float64, []byte) {
		tr, err := train.New(b, m, o)
		if err != nil {
			t.Fatal(err)
		}
		if state != nil {
			if err := tr.LoadState(state); err != nil {
				t.Fatal(err)
			}
		}
		var losses []float64
		var saved bytes.Buffer
		if err := tr.Train(context.Background(), data, nil, func(p train.Progress) {
			losses = append(losses, p.Loss)
			if p.Step == saveAt {
				if err := tr.SaveState(&saved); err != nil {
					t.Fatal(err)
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		return tr, losses, saved.Bytes()
	}
	_, want, _ := run(New(base, nil), opts, nil, 0)
	straight, got, state := run(New(base, g), opts, nil, 40)
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-4*math.Abs(want[i]) {
			t.Errorf("step %d: GPU loss %v, pure Go %v", i+1, got[i], want[i])
		}
	}
	restored, err := train.StateOptions(state)
	if err != nil {
		t.Fatal(err)
	}
	resumed, _, _ := run(New(base, g), restored, state, 0)
	if resumed.Step != 50 {
		t.Fatalf("the resumed run ended at step %d", resumed.Step)
	}
	for k, w := range straight.Adapter().Tensors {
		if !slices.Equal(w.Data, resumed.Adapter().Tensors[k].Data) {
			t.Errorf("%s differs after resume on the GPU", k)
		}
	}
}
