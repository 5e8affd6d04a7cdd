package train

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/webtune/webtune/internal/sample"
	"github.com/webtune/webtune/internal/testpaths"
)

func sst2Sample(t *testing.T, tokPath string, n int) *Encoded {
	t.Helper()
	enc, err := Encode(sample.Tokenizer(t, tokPath), sample.SST2(t, n), 64)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// A run stopped, saved, restored into a fresh trainer and continued ends
// with exactly the weights of an uninterrupted run: dropout on, shuffling on,
// across an epoch boundary.
func TestResumeIsExact(t *testing.T) {
	base := loadTiny(t)
	data := sst2Sample(t, testpaths.TinyModel(t), 40)
	opts := Defaults()
	opts.Batch, opts.MaxSteps = 8, 12 // 5 batches an epoch: the run crosses two epoch boundaries

	straight := newTrainer(t, base, opts)
	if err := straight.Train(t.Context(), data, nil, nil); err != nil {
		t.Fatal(err)
	}

	first := newTrainer(t, base, opts)
	ctx, cancel := context.WithCancel(t.Context())
	err := first.Train(ctx, data, nil, func(p Progress) {
		if p.Step == 7 {
			cancel()
		}
	})
	if !errors.Is(err, ErrStopped) || first.Step != 7 {
		t.Fatalf("stop: err %v at step %d", err, first.Step)
	}
	var state bytes.Buffer
	if err := first.SaveState(&state); err != nil {
		t.Fatal(err)
	}
	restoredOpts, err := StateOptions(state.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	second := newTrainer(t, base, restoredOpts)
	if err := second.LoadState(state.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := second.Train(t.Context(), data, nil, nil); err != nil {
		t.Fatal(err)
	}
	if second.Step != 12 {
		t.Fatalf("resumed run ended at step %d", second.Step)
	}
	want, got := straight.Adapter().Tensors, second.Adapter().Tensors
	for k := range want {
		if !slices.Equal(want[k].Data, got[k].Data) {
			t.Errorf("%s differs after resume", k)
		}
	}
	// And training did move the weights (B starts at zero).
	if slices.Equal(want["distilbert.transformer.layer.0.attention.q_lin.lora_B.weight"].Data, make([]float32, 128*8)) {
		t.Fatal("lora_B did not train")
	}
}

func TestBadState(t *testing.T) {
	base := loadTiny(t)
	tr := newTrainer(t, base, Defaults())
	if err := tr.LoadState([]byte("garbage")); err == nil {
		t.Fatal("garbage accepted")
	}
	var st bytes.Buffer
	if err := tr.SaveState(&st); err != nil {
		t.Fatal(err)
	}
	other := Defaults()
	other.LR = 5e-4
	tr2 := newTrainer(t, base, other)
	if err := tr2.LoadState(st.Bytes()); err == nil {
		t.Fatal("state with other settings accepted")
	}
}
