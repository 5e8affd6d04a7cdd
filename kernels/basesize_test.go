package kernels

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/gomlx/compute"

	"github.com/webtune/webtune/internal/sample"
	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/checkpoint/synthetic"
	"github.com/webtune/webtune/model/train"
)

// baseLosses is where the native run leaves its losses for the WebAssembly
// run to compare against: make test runs them in that order.
var baseLosses = filepath.Join(testpaths.Root(), "test-output", "base-losses.json")

type baseRun struct {
	Losses     []float64 `json:"losses"`
	MicroBatch int       `json:"micro_batch"`
	PeakMB     float64   `json:"peak_mb"`
}

// At distilbert-base-uncased's size (a seeded random checkpoint with its
// config), three steps at the notebook's batch 32 × max length 64, dropout
// on, on SST-2 rows: the run finishes (natively on every core, where GoMLX's
// default executor deadlocked; in WebAssembly within the page's memory
// budget, where it ran out of memory) in micro-batches, and natively and in
// WebAssembly the losses agree to 1e-4.
func TestBaseSizeTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("base size: -short")
	}
	if runtime.GOOS == "js" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(train.MemoryLimit)) // as the page does
	}
	base := synthetic.Base(1)
	data := sst2Rows(t, 96)
	opts := train.Defaults()
	opts.MaxSteps = 3
	cpu, err := train.NewCPUBackend()
	if err != nil {
		t.Fatal(err)
	}
	var backend compute.Backend = cpu
	if g := SIMDGemm(); g != nil {
		backend = New(cpu, NewSIMD(cpu))
	}
	tr, err := train.New(backend, base, opts)
	if err != nil {
		t.Fatal(err)
	}
	if tr.MicroBatch() >= opts.Batch {
		t.Fatalf("batch %d × %d at base size should be split into micro-batches, got %d rows a pass", opts.Batch, opts.MaxLen, tr.MicroBatch())
	}
	var got baseRun
	got.MicroBatch = tr.MicroBatch()
	err = tr.Train(context.Background(), data, nil, func(p train.Progress) {
		got.Losses = append(got.Losses, p.Loss)
		got.PeakMB = max(got.PeakMB, p.MemoryMB)
		t.Logf("step %d: loss %.6f, %d passes, %.0f real / %.0f padded tokens/s, %.0f MB from the system",
			p.Step, p.Loss, p.Passes, p.TokensPerSec, p.PaddedPerSec, p.MemoryMB)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range got.Losses {
		if math.IsNaN(l) || l < 0.1 || l > 5 {
			t.Fatalf("implausible losses %v", got.Losses)
		}
	}
	if runtime.GOOS != "js" {
		b, _ := json.Marshal(got)
		if err := os.MkdirAll(filepath.Dir(baseLosses), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(baseLosses, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got.PeakMB > 1536 {
		t.Errorf("WebAssembly memory reached %.0f MB, the budget is 1536", got.PeakMB)
	}
	b, err := os.ReadFile(baseLosses)
	if err != nil {
		t.Fatalf("%v: run the native tests first (make test-go), they write the losses to compare with", err)
	}
	var want baseRun
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if want.MicroBatch != got.MicroBatch || len(want.Losses) != len(got.Losses) {
		t.Fatalf("native run: micro-batch %d, %d steps; here %d, %d", want.MicroBatch, len(want.Losses), got.MicroBatch, len(got.Losses))
	}
	for i := range got.Losses {
		if d := math.Abs(got.Losses[i]-want.Losses[i]) / want.Losses[i]; d > 1e-4 {
			t.Errorf("step %d: loss %.7f, native %.7f (relative difference %.1e)", i+1, got.Losses[i], want.Losses[i], d)
		}
	}
}

// sst2Rows are the first n rows of the committed SST-2 sample, tokenized
// with the bundled model's bert-base-uncased tokenizer.
func sst2Rows(t *testing.T, n int) *train.Encoded {
	t.Helper()
	tok := sample.Tokenizer(t, filepath.Join(testpaths.Root(), "public", "models", "distilbert-tiny"))
	enc, err := train.Encode(tok, sample.SST2(t, n), 64)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}
