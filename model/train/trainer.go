// Package train fine-tunes DistilBERT with LoRA: one training loop, used by
// the CLI, the tests and the page alike.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/distilbert"
	"github.com/webtune/webtune/model/lora"
	"github.com/webtune/webtune/model/metrics"
	"github.com/webtune/webtune/model/peft"
	"github.com/webtune/webtune/model/safetensors"
)

// Options are the run's settings; Defaults gives the reference notebook's.
type Options struct {
	LoRA         lora.Config `json:"lora"`
	LR           float64     `json:"lr"`
	Epochs       int         `json:"epochs"`
	MaxSteps     int         `json:"max_steps"` // > 0 overrides Epochs
	Batch        int         `json:"batch"`
	MicroBatch   int         `json:"micro_batch,omitempty"` // rows per forward/backward pass; 0: from ActivationBudget
	MaxLen       int         `json:"max_len"`
	Seed         uint64      `json:"seed"`
	WarmupRatio  float64     `json:"warmup_ratio"`
	WeightDecay  float64     `json:"weight_decay"`
	MaxGradNorm  float64     `json:"max_grad_norm"`
	EvalEvery    int         `json:"eval_every"` // steps; 0: only at the end
	NoDropout    bool        `json:"no_dropout"` // all dropout off (parity checks)
	NumLabels    int         `json:"num_labels"`
	ShuffleTrain bool        `json:"shuffle"`
}

// Defaults are the reference notebook's settings.
func Defaults() Options {
	return Options{LoRA: lora.Default(), LR: 1e-3, Epochs: 1, Batch: 32, MaxLen: 64, Seed: 42,
		WarmupRatio: 0.06, WeightDecay: 0.01, MaxGradNorm: 1.0, NumLabels: 2, ShuffleTrain: true}
}

// Validate checks the settings.
func (o *Options) Validate() error {
	if err := o.LoRA.Validate(); err != nil {
		return err
	}
	switch {
	case !(o.LR > 0 && o.LR < 1):
		return fmt.Errorf("learning rate %g must be in (0, 1)", o.LR)
	case o.Epochs <= 0 && o.MaxSteps <= 0:
		return fmt.Errorf("set epochs or steps to a positive number")
	case o.Epochs < 0 || o.Epochs > 10_000:
		return fmt.Errorf("epochs %d must be in 0..10000", o.Epochs)
	case o.MaxSteps < 0 || o.MaxSteps > 10_000_000:
		return fmt.Errorf("max steps %d must be in 0..10000000", o.MaxSteps)
	case o.Batch <= 0 || o.Batch > 4096:
		return fmt.Errorf("batch size %d must be in 1..4096", o.Batch)
	case o.MicroBatch < 0 || o.MicroBatch > o.Batch:
		return fmt.Errorf("micro-batch %d must be 0 (automatic) or 1..%d (the batch)", o.MicroBatch, o.Batch)
	case o.MaxLen < 3 || o.MaxLen > 4096:
		return fmt.Errorf("max length %d must be in 3..4096 ([CLS] token [SEP] at least)", o.MaxLen)
	case o.WarmupRatio < 0 || o.WarmupRatio >= 1:
		return fmt.Errorf("warmup ratio %g must be in [0, 1)", o.WarmupRatio)
	case !(o.WeightDecay >= 0 && o.WeightDecay < 1):
		return fmt.Errorf("weight decay %g must be in [0, 1)", o.WeightDecay)
	case !(o.MaxGradNorm >= 0) || math.IsInf(o.MaxGradNorm, 0):
		return fmt.Errorf("max gradient norm %g must be 0 (no clipping) or positive", o.MaxGradNorm)
	case o.EvalEvery < 0:
		return fmt.Errorf("evaluate every %d steps: must be 0 (at the end) or positive", o.EvalEvery)
	case o.NumLabels < 2 || o.NumLabels > 1<<14:
		return fmt.Errorf("the number of labels %d must be in 2..16384", o.NumLabels)
	}
	return nil
}

// CheckFraction checks a held-out evaluation fraction (the CLI's
// -eval-split, the page's held-out percentage).
func CheckFraction(f float64) error {
	if !(f > 0 && f < 1) {
		return fmt.Errorf("held-out fraction %g must be between 0 and 1 (exclusive)", f)
	}
	return nil
}

// Progress is reported after every step and every evaluation.
type Progress struct {
	Step         int              `json:"step"`
	TotalSteps   int              `json:"total_steps"`
	Epoch        float64          `json:"epoch"`
	Loss         float64          `json:"loss"`
	LR           float64          `json:"lr"`
	GradNorm     float64          `json:"grad_norm"`
	TokensPerSec float64          `json:"tokens_per_sec"`        // real (unpadded) tokens
	PaddedPerSec float64          `json:"padded_tokens_per_sec"` // tokens computed, padding included
	Passes       int              `json:"passes,omitempty"`      // forward/backward passes of the step (micro-batches)
	MemoryMB     float64          `json:"memory_mb,omitempty"`   // memory the Go runtime holds from the system (in WebAssembly: the linear memory)
	ETASeconds   float64          `json:"eta_seconds"`
	Eval         *metrics.Metrics `json:"eval,omitempty"`
}

// Trainer holds a model being fine-tuned and its whole training state.
type Trainer struct {
	Opts    Options
	Base    *checkpoint.Model
	backend compute.Backend
	model   *distilbert.Model
	adamw   AdamW

	frozenKeys    []string // base weights, fed to every graph, never updated
	frozen        []*tensors.Tensor
	trainableKeys []string // LoRA A/B and head, sorted
	params, m, v  []*tensors.Tensor

	// Data position and RNG: together with the tensors, the whole state.
	Step       int // optimizer steps taken
	Epoch      int
	BatchInEp  int // batches done in the current epoch
	rng        *tensors.Tensor
	order      []int // cache of epochRows
	orderEpoch int

	stepExec, evalExec, gradExec *Exec
	accExec, updateExec          *Exec // micro-batched steps
	micro                        int   // rows per forward/backward pass
}

// New builds a trainer for a base model. The LoRA A matrices are drawn with
// kaiming-uniform and the head (when the checkpoint has none) normal(0, 0.02),
// both from opts.Seed.
func New(backend compute.Backend, base *checkpoint.Model, opts Options) (*Trainer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxLen > base.Config.MaxPositionEmbeddings {
		return nil, fmt.Errorf("max length %d exceeds the model's %d positions", opts.MaxLen, base.Config.MaxPositionEmbeddings)
	}
	if opts.MicroBatch == 0 {
		if err := CheckFits(base.Config, &opts); err != nil {
			return nil, err
		}
	}
	t := &Trainer{Opts: opts, Base: base, backend: backend, adamw: DefaultAdamW()}
	t.adamw.WeightDecay = opts.WeightDecay
	lc := opts.LoRA
	t.model = &distilbert.Model{Config: base.Config, LoRA: &lc, NumLabels: opts.NumLabels}

	shapes := peft.ExpectedShapes(base.Config, &lc, opts.NumLabels)
	for k := range shapes {
		t.trainableKeys = append(t.trainableKeys, k)
	}
	sort.Strings(t.trainableKeys)
	for k := range checkpoint.BaseShapes(base.Config) {
		t.frozenKeys = append(t.frozenKeys, k)
	}
	sort.Strings(t.frozenKeys)
	for _, k := range t.frozenKeys {
		w := base.Weights[k]
		x := tensors.FromFlatDataAndDimensions(w.Data, w.Shape...)
		// One copy on the backend, none left on the host: the base model's
		// weights are the host copy.
		if err := x.ToDevice(backend, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		t.frozen = append(t.frozen, x)
	}
	t.micro = microBatch(base.Config, &opts)

	init := rand.New(rand.NewPCG(opts.Seed, 0x10aa))
	for _, k := range t.trainableKeys {
		shape := shapes[k]
		n := 1
		for _, d := range shape {
			n *= d
		}
		var data []float32
		switch {
		case strings.HasSuffix(k, ".lora_A.weight"):
			data = lora.InitA(init, shape[0], shape[1])
		case strings.HasSuffix(k, ".lora_B.weight"):
			data = make([]float32, n)
		case base.HasHead && opts.NumLabels == base.Config.NumLabels():
			data = slices.Clone(base.Weights[k].Data)
		case strings.HasSuffix(k, ".bias"):
			data = make([]float32, n)
		default: // head weights: normal(0, initializer_range)
			data = make([]float32, n)
			for i := range data {
				data[i] = float32(init.NormFloat64() * base.Config.InitializerRange)
			}
		}
		t.params = append(t.params, tensors.FromFlatDataAndDimensions(data, shape...))
		t.m = append(t.m, tensors.FromFlatDataAndDimensions(make([]float32, n), shape...))
		t.v = append(t.v, tensors.FromFlatDataAndDimensions(make([]float32, n), shape...))
	}
	var err error
	if t.rng, err = RNGStateFromSeed(int64(opts.Seed)); err != nil {
		return nil, err
	}
	if err := t.compile(); err != nil {
		return nil, err
	}
	return t, t.compileMicro()
}

// TrainableParams and TotalParams count parameters (total = base + trainable).
func (t *Trainer) TrainableParams() int { return countElems(t.params) }
func (t *Trainer) TotalParams() int     { return countElems(t.params) + countElems(t.frozen) }

func countElems(ts []*tensors.Tensor) int {
	n := 0
	for _, x := range ts {
		n += x.Shape().Size()
	}
	return n
}

func (t *Trainer) paramNodes(nodes []*Node, frozen, trainable int) distilbert.Params {
	p := distilbert.Params{}
	for i, k := range t.frozenKeys {
		p[k] = nodes[frozen+i]
	}
	for i, k := range t.trainableKeys {
		p[k] = nodes[trainable+i]
	}
	return p
}

// compile sets up the three graphs: train step, evaluation and gradients.
// Each is compiled per input shape on first use and cached.
func (t *Trainer) compile() error {
	nT, nF := len(t.trainableKeys), len(t.frozenKeys)
	var err error
	// Inputs: params, m, v (nT each), frozen (nF), ids, mask, labels, rng, lr, stepSize, bc2Sqrt.
	t.stepExec, err = NewExec(t.backend, func(in []*Node) []*Node {
		p := t.paramNodes(in, 3*nT, 0)
		ids, mask, labels, rng := in[3*nT+nF], in[3*nT+nF+1], in[3*nT+nF+2], in[3*nT+nF+3]
		lr, stepSize, bc2Sqrt := in[3*nT+nF+4], in[3*nT+nF+5], in[3*nT+nF+6]
		drop := &distilbert.Dropout{Train: !t.Opts.NoDropout, RNG: rng}
		logits := t.model.Forward(p, ids, mask, drop)
		loss := distilbert.CrossEntropy(logits, labels)
		out, norm := t.update(in[:nT], in[nT:2*nT], in[2*nT:3*nT], Gradient(loss, in[:nT]...), lr, stepSize, bc2Sqrt)
		return append(out, drop.RNG, loss, norm)
	})
	if err != nil {
		return err
	}
	t.stepExec.SetMaxCache(256)
	// Inputs: params (nT), frozen (nF), ids, mask -> logits.
	t.evalExec, err = NewExec(t.backend, func(in []*Node) []*Node {
		p := t.paramNodes(in, nT, 0)
		return []*Node{t.model.Forward(p, in[nT+nF], in[nT+nF+1], nil)}
	})
	if err != nil {
		return err
	}
	t.evalExec.SetMaxCache(256)
	// Inputs: params (nT), frozen (nF), ids, mask, labels -> loss, grads (dropout off).
	t.gradExec, err = NewExec(t.backend, func(in []*Node) []*Node {
		p := t.paramNodes(in, nT, 0)
		logits := t.model.Forward(p, in[nT+nF], in[nT+nF+1], nil)
		loss := distilbert.CrossEntropy(logits, in[nT+nF+2])
		return append([]*Node{loss}, Gradient(loss, in[:nT]...)...)
	})
	return err
}

// update is the optimizer step in a graph: gradients clipped by their global
// norm, then AdamW on every trainable tensor. It returns the new params, m
// and v (in that order, nT each) and the norm before clipping.
func (t *Trainer) update(params, m, v, grads []*Node, lr, stepSize, bc2Sqrt *Node) ([]*Node, *Node) {
	nT := len(params)
	grads, norm := clipByGlobalNorm(grads, t.Opts.MaxGradNorm)
	out := make([]*Node, 3*nT, 3*nT+3)
	for i, k := range t.trainableKeys {
		out[i], out[nT+i], out[2*nT+i] = t.adamw.update(k, params[i], grads[i], m[i], v[i], lr, stepSize, bc2Sqrt)
	}
	return out, norm
}

// TotalSteps is the number of optimizer steps the run takes.
func (t *Trainer) TotalSteps(trainRows int) int {
	if t.Opts.MaxSteps > 0 {
		return t.Opts.MaxSteps
	}
	return t.Opts.Epochs * t.stepsPerEpoch(trainRows)
}

func (t *Trainer) stepsPerEpoch(rows int) int { return (rows + t.Opts.Batch - 1) / t.Opts.Batch }

// WarmupSteps is ceil(ratio · total), as the HF Trainer computes it.
func (t *Trainer) WarmupSteps(total int) int {
	return int(math.Ceil(t.Opts.WarmupRatio * float64(total)))
}

// nextBatch returns the rows of the next batch and advances the data position.
func (t *Trainer) nextBatch(n int) []int {
	if t.BatchInEp >= t.stepsPerEpoch(n) {
		t.Epoch++
		t.BatchInEp = 0
	}
	lo := t.BatchInEp * t.Opts.Batch
	t.BatchInEp++
	return t.epochRows(n)[lo:min(lo+t.Opts.Batch, n)]
}

// epochRows is the current epoch's row order, computed once per epoch (it
// follows from the seed and the epoch, so a resumed run recomputes it).
func (t *Trainer) epochRows(n int) []int {
	if t.order == nil || t.orderEpoch != t.Epoch || len(t.order) != n {
		if t.Opts.ShuffleTrain {
			t.order = epochOrder(n, t.Opts.Seed, t.Epoch)
		} else {
			t.order = make([]int, n)
			for i := range t.order {
				t.order[i] = i
			}
		}
		t.orderEpoch = t.Epoch
	}
	return t.order
}

// ErrStopped is returned by Train when the context is cancelled; the state
// is consistent and can be saved and resumed.
var ErrStopped = errors.New("training stopped")

// Train runs optimizer steps until the planned total (or ctx is cancelled),
// evaluating every EvalEvery steps and at the end when eval is given.
func (t *Trainer) Train(ctx context.Context, train, eval *Encoded, report func(Progress)) error {
	if train.Len() == 0 {
		return fmt.Errorf("the training set is empty")
	}
	total := t.TotalSteps(train.Len())
	warmup := t.WarmupSteps(total)
	start := time.Now()
	startStep, tokens, padded := t.Step, 0, 0
	for t.Step < total {
		if err := ctx.Err(); err != nil {
			return ErrStopped
		}
		rows := t.nextBatch(train.Len())
		lr := t.Opts.LR * LinearSchedule(t.Step, warmup, total)
		stepSize, bc2 := t.adamw.biasCorrections(lr, t.Step+1)
		res, err := t.step(train, rows, lr, stepSize, bc2)
		if err != nil {
			return fmt.Errorf("step %d: %w", t.Step+1, err)
		}
		loss, norm := res.loss, res.norm
		if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
			return fmt.Errorf("step %d: the loss is %v and the gradient norm %v, not finite numbers: training diverged; lower the learning rate and resume from the last checkpoint", t.Step+1, loss, norm)
		}
		t.Step++
		tokens += res.realTokens
		padded += res.padded
		elapsed := time.Since(start).Seconds()
		done := t.Step - startStep
		p := Progress{Step: t.Step, TotalSteps: total, Loss: loss, LR: lr, GradNorm: norm,
			Epoch:        float64(t.Epoch) + float64(t.BatchInEp)/float64(t.stepsPerEpoch(train.Len())),
			TokensPerSec: float64(tokens) / elapsed, PaddedPerSec: float64(padded) / elapsed, Passes: res.passes,
			MemoryMB:   SystemMemoryMB(),
			ETASeconds: elapsed / float64(done) * float64(total-t.Step)}
		if eval != nil && eval.Len() > 0 && ((t.Opts.EvalEvery > 0 && t.Step%t.Opts.EvalEvery == 0) || t.Step == total) {
			m, err := t.EvaluateContext(ctx, eval)
			if err != nil {
				return err
			}
			p.Eval = &m
		}
		if report != nil {
			report(p)
		}
	}
	return nil
}

// SystemMemoryMB is the memory the Go runtime has taken from the system; in
// WebAssembly the size of the linear memory, which never shrinks: the peak.
func SystemMemoryMB() float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.Sys) / (1 << 20)
}

// evalBatch is the largest evaluation batch: no gradients, so larger than
// training's where the model is small.
const evalBatch = 64

// evalRows is the evaluation batch for this model and length: as many rows
// as fit the activation budget, a forward pass holding about half of what
// a training pass does (at distilbert-base size, max length 64: 21 rows;
// 64 rows of it would lift the page's peak memory past 1.5 GB).
func (t *Trainer) evalRows() int {
	perRow := ActivationBytes(t.Base.Config, 1, t.Opts.MaxLen) / 2
	return int(min(max(ActivationBudget/max(perRow, 1), 1), evalBatch))
}

// Logits runs the model in eval mode (no dropout) over every row.
func (t *Trainer) Logits(data *Encoded) ([][]float32, error) {
	return t.LogitsContext(context.Background(), data)
}

// LogitsContext is Logits, stopping (ErrStopped) between batches once ctx
// is done: a stop during an evaluation is honoured within one batch.
func (t *Trainer) LogitsContext(ctx context.Context, data *Encoded) ([][]float32, error) {
	// Sort by length so batches pad little; results go back in row order.
	order := make([]int, data.Len())
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(data.IDs[order[a]]) < len(data.IDs[order[b]]) })
	out := make([][]float32, data.Len())
	rowsPer := t.evalRows()
	for lo := 0; lo < len(order); lo += rowsPer {
		if ctx.Err() != nil {
			return nil, ErrStopped
		}
		rows := order[lo:min(lo+rowsPer, len(order))]
		ids, mask, _, _ := data.batch(rows, t.Opts.MaxLen)
		res, err := t.evalExec.Exec(append(t.weightArgs(), ids, mask)...)
		if err != nil {
			return nil, fmt.Errorf("evaluation: %w", err)
		}
		flat := tensors.MustCopyFlatData[float32](res[0])
		k := t.Opts.NumLabels
		for i, r := range rows {
			out[r] = flat[i*k : (i+1)*k]
		}
	}
	return out, nil
}

// Evaluate computes accuracy, F1, confusion and mean loss on a dataset.
func (t *Trainer) Evaluate(data *Encoded) (metrics.Metrics, error) {
	return t.EvaluateContext(context.Background(), data)
}

// EvaluateContext is Evaluate, stopped within a batch once ctx is done.
func (t *Trainer) EvaluateContext(ctx context.Context, data *Encoded) (metrics.Metrics, error) {
	logits, err := t.LogitsContext(ctx, data)
	if err != nil {
		return metrics.Metrics{}, err
	}
	preds := make([]int, len(logits))
	var loss float64
	for i, l := range logits {
		preds[i] = argmax(l)
		loss += -logSoftmax(l)[data.Labels[i]]
	}
	return metrics.Compute(data.Labels, preds, t.Opts.NumLabels, loss/float64(max(1, len(logits)))), nil
}

// Gradients returns the loss and the gradient of every trainable tensor for
// one batch with dropout off (for checks against PyTorch).
func (t *Trainer) Gradients(data *Encoded, rows []int) (float64, map[string]*safetensors.Tensor, error) {
	ids, mask, labels, _ := data.batch(rows, t.Opts.MaxLen)
	res, err := t.gradExec.Exec(append(t.weightArgs(), ids, mask, labels)...)
	if err != nil {
		return 0, nil, err
	}
	grads := map[string]*safetensors.Tensor{}
	for i, k := range t.trainableKeys {
		grads[k] = hostTensor(res[i+1])
	}
	return float64(tensors.ToScalar[float32](res[0])), grads, nil
}

// weightArgs are the trainable then the frozen tensors, as the eval and
// gradient graphs take them.
func (t *Trainer) weightArgs() []any {
	return appendTensors(make([]any, 0, len(t.params)+len(t.frozen)+3), t.params, t.frozen)
}

// Adapter returns the current adapter and head as PEFT tensors.
func (t *Trainer) Adapter() *peft.Adapter {
	a := &peft.Adapter{LoRA: t.Opts.LoRA, BaseModel: t.Base.Name, Tensors: map[string]*safetensors.Tensor{}}
	for i, k := range t.trainableKeys {
		a.Tensors[k] = hostTensor(t.params[i])
	}
	return a
}

// SetAdapter replaces the trainable tensors with an imported adapter's and
// resets the optimizer moments (the adapter files carry none).
func (t *Trainer) SetAdapter(a *peft.Adapter) error {
	if err := t.SetParams(a); err != nil {
		return err
	}
	for i, p := range t.params {
		dims := p.Shape().Dimensions
		t.m[i] = tensors.FromFlatDataAndDimensions(make([]float32, p.Shape().Size()), dims...)
		t.v[i] = tensors.FromFlatDataAndDimensions(make([]float32, p.Shape().Size()), dims...)
	}
	return nil
}

// SetParams replaces the trainable tensors only (to evaluate another adapter
// of the same shape, e.g. the pre-training one, and switch back).
func (t *Trainer) SetParams(a *peft.Adapter) error {
	if !slices.Equal(a.LoRA.TargetModules, t.Opts.LoRA.TargetModules) || a.LoRA.R != t.Opts.LoRA.R {
		return fmt.Errorf("adapter has r=%d on %v, the trainer was set up for r=%d on %v", a.LoRA.R, a.LoRA.TargetModules, t.Opts.LoRA.R, t.Opts.LoRA.TargetModules)
	}
	params := make([]*tensors.Tensor, len(t.params))
	for i, k := range t.trainableKeys {
		src, ok := a.Tensors[k]
		if !ok {
			return fmt.Errorf("adapter lacks %s", k)
		}
		if !slices.Equal(src.Shape, t.params[i].Shape().Dimensions) {
			return fmt.Errorf("adapter tensor %s has shape %v, expected %v", k, src.Shape, t.params[i].Shape().Dimensions)
		}
		params[i] = tensors.FromFlatDataAndDimensions(slices.Clone(src.Data), src.Shape...)
	}
	t.params = params
	return nil
}

func hostTensor(x *tensors.Tensor) *safetensors.Tensor {
	if x.DType() != dtypes.Float32 {
		panic(fmt.Sprintf("expected float32 tensor, got %s", x.DType()))
	}
	return &safetensors.Tensor{Shape: slices.Clone(x.Shape().Dimensions), Data: tensors.MustCopyFlatData[float32](x)}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func logSoftmax(v []float32) []float64 {
	mx := float64(v[argmax(v)])
	var s float64
	for _, x := range v {
		s += math.Exp(float64(x) - mx)
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x) - mx - math.Log(s)
	}
	return out
}
