package train

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/peft"
	"github.com/webtune/webtune/model/safetensors"
)

func loadTiny(t *testing.T) *checkpoint.Model {
	t.Helper()
	m, err := checkpoint.Load(checkpoint.Dir(testpaths.TinyModel(t)), "distilbert-tiny")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readAdapter(t *testing.T, base *checkpoint.Model, dir string) *peft.Adapter {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join(dir, peft.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile(filepath.Join(dir, peft.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	a, err := peft.Read(base.Config, 2, cfg, bytesReaderAt(w), int64(len(w)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type devLogits struct {
	Labels   []int       `json:"labels"`
	Logits   [][]float64 `json:"logits"`
	InputIDs [][]int32   `json:"input_ids"`
	DevAcc   float64     `json:"dev_acc"`
	DevF1    float64     `json:"dev_f1"`
}

// loadDevLogits reads the shared transformers/PEFT reference outputs.
func loadDevLogits(t *testing.T) *devLogits {
	t.Helper()
	ref := &devLogits{}
	b, err := os.ReadFile(filepath.Join(testpaths.TinyModel(t), "reference", "dev_logits.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// referenceTrainer is the shared tiny model with the PyTorch/PEFT adapter,
// and that adapter's reference outputs.
func referenceTrainer(t *testing.T) (*devLogits, *Trainer) {
	t.Helper()
	base := loadTiny(t)
	tr := newTrainer(t, base, Defaults())
	if err := tr.SetAdapter(readAdapter(t, base, filepath.Join(testpaths.TinyModel(t), "reference"))); err != nil {
		t.Fatal(err)
	}
	return loadDevLogits(t), tr
}

func newTrainer(t *testing.T, base *checkpoint.Model, opts Options) *Trainer {
	t.Helper()
	be, err := NewCPUBackend()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(be, base, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// (a) Our logits for the shared model + PyTorch-trained adapter match
// transformers + PEFT's to 1e-4, on all 872 dev rows.
func TestLogitsMatchPyTorch(t *testing.T) {
	ref, tr := referenceTrainer(t)
	data := &Encoded{IDs: ref.InputIDs, Labels: ref.Labels}
	logits, err := tr.Logits(data)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range logits {
		for j := range logits[i] {
			worst = math.Max(worst, math.Abs(float64(logits[i][j])-ref.Logits[i][j]))
		}
	}
	t.Logf("max abs logit difference vs PyTorch over %d rows: %.2e", len(logits), worst)
	if worst > 1e-4 {
		t.Fatalf("logits differ from PyTorch by %g > 1e-4", worst)
	}
	m, err := tr.Evaluate(data)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.Accuracy-ref.DevAcc) > 1e-9 || math.Abs(m.F1-ref.DevF1) > 1e-9 {
		t.Fatalf("accuracy/F1 %v/%v, PyTorch reported %v/%v", m.Accuracy, m.F1, ref.DevAcc, ref.DevF1)
	}
}

// (c) One batch's gradients for every trainable tensor agree with PyTorch's.
func TestGradientsMatchPyTorch(t *testing.T) {
	ref, tr := referenceTrainer(t)
	data := &Encoded{IDs: ref.InputIDs, Labels: ref.Labels}
	rows := make([]int, 32)
	for i := range rows {
		rows[i] = i
	}
	loss, grads, err := tr.Gradients(data, rows)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Loss float64 }
	mb, _ := os.ReadFile(testpaths.Testdata("torch/grads.json"))
	_ = json.Unmarshal(mb, &meta)
	if rel := math.Abs(loss-meta.Loss) / math.Abs(meta.Loss); rel > 1e-5 {
		t.Errorf("loss %v vs PyTorch %v (rel %g)", loss, meta.Loss, rel)
	}
	want := readTensors(t, testpaths.Testdata("torch/grads.safetensors"))
	if len(want) != len(grads) {
		t.Fatalf("%d gradient tensors, PyTorch has %d", len(grads), len(want))
	}
	for k, g := range grads {
		w := want[peft.KeyPrefix+k]
		if w == nil {
			t.Fatalf("PyTorch has no gradient for %s", k)
		}
		if rel := relErr(g.Data, w.Data); rel > 1e-4 {
			t.Errorf("gradient of %s: relative error %.2e > 1e-4", k, rel)
		} else {
			t.Logf("gradient of %-60s rel err %.2e", k, rel)
		}
	}
}

// (b) 20 AdamW steps from a given adapter, fixed batches, dropout off: losses
// and final tensors within 1e-4 relative of PyTorch's.
func TestTrainingStepsMatchPyTorch(t *testing.T) {
	base := loadTiny(t)
	ref := loadDevLogits(t)
	var steps struct {
		LR     float64 `json:"lr"`
		Steps  int     `json:"steps"`
		Batch  int     `json:"batch"`
		Warmup int     `json:"warmup"`
		Log    []struct {
			Loss     float64 `json:"loss"`
			LR       float64 `json:"lr"`
			GradNorm float64 `json:"grad_norm"`
		} `json:"log"`
	}
	sb, err := os.ReadFile(testpaths.Testdata("torch/train_steps.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sb, &steps); err != nil {
		t.Fatal(err)
	}
	opts := Defaults()
	opts.LR, opts.MaxSteps, opts.Batch, opts.NoDropout, opts.ShuffleTrain = steps.LR, steps.Steps, steps.Batch, true, false
	opts.WarmupRatio = float64(steps.Warmup) / float64(steps.Steps)
	tr := newTrainer(t, base, opts)
	if got := tr.WarmupSteps(steps.Steps); got != steps.Warmup {
		t.Fatalf("warmup %d, want %d", got, steps.Warmup)
	}
	if err := tr.SetAdapter(readAdapter(t, base, testpaths.Testdata("torch/init_adapter"))); err != nil {
		t.Fatal(err)
	}
	data := &Encoded{IDs: ref.InputIDs[:steps.Steps*steps.Batch], Labels: ref.Labels[:steps.Steps*steps.Batch]}
	var losses []float64
	err = tr.Train(t.Context(), data, nil, func(p Progress) {
		losses = append(losses, p.Loss)
		want := steps.Log[p.Step-1]
		if rel := math.Abs(p.Loss-want.Loss) / want.Loss; rel > 1e-4 {
			t.Errorf("step %d: loss %.7f, PyTorch %.7f (rel %.1e)", p.Step, p.Loss, want.Loss, rel)
		}
		if math.Abs(p.LR-want.LR) > 1e-12 {
			t.Errorf("step %d: lr %g, PyTorch %g", p.Step, p.LR, want.LR)
		}
		if rel := math.Abs(p.GradNorm-want.GradNorm) / want.GradNorm; rel > 1e-4 {
			t.Errorf("step %d: grad norm %g, PyTorch %g", p.Step, p.GradNorm, want.GradNorm)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(losses) != steps.Steps {
		t.Fatalf("%d steps taken, want %d", len(losses), steps.Steps)
	}
	want := readTensors(t, testpaths.Testdata("torch/final_adapter.safetensors"))
	for k, got := range tr.Adapter().Tensors {
		if rel := relErr(got.Data, want[peft.KeyPrefix+k].Data); rel > 1e-4 {
			t.Errorf("final %s: relative error %.2e > 1e-4", k, rel)
		}
	}
}

func readTensors(t *testing.T, path string) map[string]*safetensors.Tensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.OpenBytes(path, b)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*safetensors.Tensor{}
	for _, k := range f.Keys() {
		if out[k], err = f.Float32(k); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// relErr is ‖a-b‖∞ / ‖b‖∞: relative to the tensor's scale, so entries near
// zero do not dominate.
func relErr(a, b []float32) float64 {
	var diff, scale float64
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	if scale == 0 {
		return diff
	}
	return diff / scale
}

// A merged checkpoint (W + scale·B·A, head included) loaded as a plain
// DistilBertForSequenceClassification gives PyTorch's adapter logits: a fresh
// LoRA (B = 0) on top changes nothing, and the head comes from the file.
func TestMergedModelMatchesPyTorch(t *testing.T) {
	base := loadTiny(t)
	ref := loadDevLogits(t)
	merged := peft.Merge(base.Weights, readAdapter(t, base, filepath.Join(testpaths.TinyModel(t), "reference")))
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, merged, map[string]string{"format": "pt"}, "F32"); err != nil {
		t.Fatal(err)
	}
	cfg, err := base.Config.JSON([]string{"negative", "positive"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := checkpoint.Load(checkpoint.Files{"config.json": cfg, "model.safetensors": buf.Bytes()}, "merged")
	if err != nil {
		t.Fatal(err)
	}
	if !m.HasHead {
		t.Fatal("merged checkpoint has no head")
	}
	tr := newTrainer(t, m, Defaults())
	n := 200
	logits, err := tr.Logits(&Encoded{IDs: ref.InputIDs[:n], Labels: ref.Labels[:n]})
	if err != nil {
		t.Fatal(err)
	}
	for i := range logits {
		for j := range logits[i] {
			if d := math.Abs(float64(logits[i][j]) - ref.Logits[i][j]); d > 1e-4 {
				t.Fatalf("row %d: merged logit differs by %g", i, d)
			}
		}
	}
}
