package train

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/checkpoint/synthetic"
)

// A batch split into micro-batches (accumulated gradients, one update) gives
// the update of the unsplit batch: losses, gradient norms and the adapter
// after three steps agree to 1e-5, dropout off so both see the same function.
func TestMicroBatchesEqualOneBatch(t *testing.T) {
	base := loadTiny(t)
	data := sst2Sample(t, testpaths.TinyModel(t), 96)
	opts := Defaults()
	opts.Batch, opts.MaxSteps, opts.NoDropout = 32, 3, true
	whole := newTrainer(t, base, opts)
	if whole.MicroBatch() != 32 {
		t.Fatalf("the tiny model should fit batch 32 in one pass, got micro-batch %d", whole.MicroBatch())
	}
	var wantLoss, wantNorm []float64
	if err := whole.Train(t.Context(), data, nil, func(p Progress) {
		wantLoss, wantNorm = append(wantLoss, p.Loss), append(wantNorm, p.GradNorm)
		if p.Passes != 1 {
			t.Errorf("step %d: %d passes, want 1", p.Step, p.Passes)
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, micro := range []int{5, 16} {
		opts.MicroBatch = micro
		split := newTrainer(t, base, opts)
		i := 0
		if err := split.Train(t.Context(), data, nil, func(p Progress) {
			if want := (32 + micro - 1) / micro; p.Passes != want {
				t.Errorf("micro %d step %d: %d passes, want %d", micro, p.Step, p.Passes, want)
			}
			if rel(p.Loss, wantLoss[i]) > 1e-5 || rel(p.GradNorm, wantNorm[i]) > 1e-5 {
				t.Errorf("micro %d step %d: loss %.7f norm %.7f, one batch %.7f %.7f", micro, p.Step, p.Loss, p.GradNorm, wantLoss[i], wantNorm[i])
			}
			i++
		}); err != nil {
			t.Fatal(err)
		}
		a, b := whole.Adapter(), split.Adapter()
		for k, x := range a.Tensors {
			if d := maxRelDiff(x.Data, b.Tensors[k].Data); d > 1e-5 {
				t.Errorf("micro %d: %s differs by %.2e (relative to its largest value)", micro, k, d)
			}
		}
	}
}

// At distilbert-base-uncased's size the notebook's batch 32 × 64 is split so
// that its activations fit the budget, and 64 × 128 too.
func TestMicroBatchForBaseSize(t *testing.T) {
	cfg := synthetic.BaseConfig()
	for _, c := range []struct{ batch, seq int }{{32, 64}, {64, 128}} {
		m := MicroBatchFor(cfg, c.batch, c.seq)
		if m < 1 || m >= c.batch || ActivationBytes(cfg, m, c.seq) > ActivationBudget {
			t.Errorf("batch %d × %d: micro-batch %d (%d MB of activations)", c.batch, c.seq, m, ActivationBytes(cfg, m, c.seq)>>20)
		}
		passes := (c.batch + m - 1) / m
		if fewer := (c.batch + passes - 2) / (passes - 1); passes > 1 && ActivationBytes(cfg, fewer, c.seq) <= ActivationBudget {
			t.Errorf("batch %d × %d: %d passes of %d rows, but %d passes of %d fit too", c.batch, c.seq, passes, m, passes-1, fewer)
		}
	}
}

func rel(a, b float64) float64 { return math.Abs(a-b) / max(math.Abs(b), 1e-12) }

func maxRelDiff(a, b []float32) float64 {
	var d, m float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
		m = max(m, math.Abs(float64(a[i])))
	}
	return d / max(m, 1e-12)
}

// A length that cannot fit even one row a pass is refused before the run
// starts, with the longest length that fits; the notebook's settings pass.
func TestCheckFitsSuggestsALength(t *testing.T) {
	cfg := synthetic.BaseConfig()
	o := Defaults()
	if err := CheckFits(cfg, &o); err != nil {
		t.Fatalf("batch 32 × 64: %v", err)
	}
	o.MaxLen = 512
	err := CheckFits(cfg, &o)
	if err == nil || !strings.Contains(err.Error(), "use max length") {
		t.Fatalf("max length 512: %v", err)
	}
	var fits int
	fmt.Sscanf(err.Error()[strings.Index(err.Error(), "use max length")+len("use max length "):], "%d", &fits)
	if o.MaxLen = fits; fits < 64 || CheckFits(cfg, &o) != nil {
		t.Fatalf("suggested %d, which does not fit: %v", fits, CheckFits(cfg, &o))
	}
	if o.MaxLen = fits + 16; CheckFits(cfg, &o) == nil {
		t.Errorf("suggested %d, but %d fits too", fits, fits+16)
	}
}
