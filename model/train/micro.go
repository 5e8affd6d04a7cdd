package train

import (
	"fmt"
	"runtime"
	"slices"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/distilbert"
)

// Micro-batching: a batch whose activations would not fit the memory budget
// runs as several forward/backward passes over slices of its rows, each
// adding its share of the gradient (rows/batch × the slice's mean-loss
// gradient) into one accumulator; one optimizer update then follows. The
// update equals the unsplit batch's up to float rounding. Each slice is
// padded to its own longest row, and rows are sorted by length first so that
// short rows share slices.

// ActivationBudget is the memory the saved activations of one forward and
// backward pass may take. It bounds the page's memory (WebAssembly has 4 GB
// of address space, and the page aims at 1.5 GB with the base model's 268 MB
// of weights held twice); natively it is used too, so that a run splits
// batches the same way, and so draws the same dropout masks, everywhere.
const ActivationBudget = 320 << 20

// ActivationBytes estimates the memory a forward and backward pass over
// rows × seq tokens holds at its peak: per layer and token the saved inputs
// of the linear layers, LayerNorms, GELU and dropout masks (dim- and
// hidden-wide) and the attention probabilities (heads × seq), as float32.
// The factors were measured on the pure-Go backend (see micro_test.go).
func ActivationBytes(c *checkpoint.Config, rows, seq int) int64 {
	perToken := int64(activationDimFactor*c.Dim + activationHiddenFactor*c.HiddenDim + activationAttnFactor*c.NHeads*seq)
	return 4 * int64(c.NLayers) * int64(rows) * int64(seq) * perToken
}

const (
	activationDimFactor    = 10
	activationHiddenFactor = 3
	activationAttnFactor   = 3
)

// MicroBatchFor is the number of rows per pass: the fewest passes whose
// activations fit ActivationBudget at the full sequence length, with the
// rows shared evenly among them (batch 32 in passes of at most 10 rows runs
// as 4 passes of 8, not 10+10+10+2).
func MicroBatchFor(c *checkpoint.Config, batch, maxLen int) int {
	largest := batch
	for largest > 1 && ActivationBytes(c, largest, maxLen) > ActivationBudget {
		largest--
	}
	passes := (batch + largest - 1) / largest
	return (batch + passes - 1) / passes
}

// microBatch is a run's rows per pass: the option, else MicroBatchFor.
func microBatch(c *checkpoint.Config, o *Options) int {
	if o.MicroBatch > 0 {
		return min(o.MicroBatch, o.Batch)
	}
	return MicroBatchFor(c, o.Batch, o.MaxLen)
}

// MicroBatch is the number of rows each forward/backward pass takes.
func (t *Trainer) MicroBatch() int { return t.micro }

// compileMicro sets up the two graphs of a split step: a pass that adds a
// weighted gradient into the accumulator, and the clipped AdamW update.
func (t *Trainer) compileMicro() error {
	nT, nF := len(t.trainableKeys), len(t.frozenKeys)
	var err error
	// Inputs: params, acc (nT each), frozen (nF), ids, mask, labels, rng, weight
	// -> acc + weight·grad (nT), rng, weight·loss.
	t.accExec, err = NewExec(t.backend, func(in []*Node) []*Node {
		p := t.paramNodes(in, 2*nT, 0)
		ids, mask, labels, rng, w := in[2*nT+nF], in[2*nT+nF+1], in[2*nT+nF+2], in[2*nT+nF+3], in[2*nT+nF+4]
		drop := &distilbert.Dropout{Train: !t.Opts.NoDropout, RNG: rng}
		loss := Mul(distilbert.CrossEntropy(t.model.Forward(p, ids, mask, drop), labels), w)
		grads := Gradient(loss, in[:nT]...)
		out := make([]*Node, nT, nT+2)
		for i := range grads {
			out[i] = Add(in[nT+i], grads[i])
		}
		return append(out, drop.RNG, loss)
	})
	if err != nil {
		return err
	}
	t.accExec.SetMaxCache(256)
	// Inputs: params, m, v, grads (nT each), lr, stepSize, bc2Sqrt -> params, m, v, norm.
	t.updateExec, err = NewExec(t.backend, func(in []*Node) []*Node {
		out, norm := t.update(in[:nT], in[nT:2*nT], in[2*nT:3*nT], in[3*nT:4*nT], in[4*nT], in[4*nT+1], in[4*nT+2])
		return append(out, norm)
	})
	return err
}

// stepResult is what one optimizer step reports.
type stepResult struct {
	loss, norm         float64
	realTokens, padded int
	passes             int
}

// step runs one optimizer step on the given rows: one fused graph when the
// batch fits in one pass, else accumulated passes and an update.
func (t *Trainer) step(data *Encoded, rows []int, lr, stepSize, bc2 float64) (stepResult, error) {
	if len(rows) <= t.micro {
		return t.fusedStep(data, rows, lr, stepSize, bc2)
	}
	nT := len(t.params)
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b int) int { return len(data.IDs[a]) - len(data.IDs[b]) })
	acc := make([]*tensors.Tensor, nT)
	for i, p := range t.params {
		acc[i] = tensors.FromShape(p.Shape()) // zeros
	}
	var res stepResult
	for lo := 0; lo < len(rows); lo += t.micro {
		part := rows[lo:min(lo+t.micro, len(rows))]
		ids, mask, labels, real := data.batch(part, t.Opts.MaxLen)
		args := make([]any, 0, 2*nT+len(t.frozen)+5)
		args = appendTensors(args, t.params, acc, t.frozen)
		args = append(args, ids, mask, labels, t.rng, float32(len(part))/float32(len(rows)))
		out, err := t.accExec.Exec(args...)
		if err != nil {
			return res, err
		}
		acc, t.rng = out[:nT], out[nT]
		res.loss += float64(tensors.ToScalar[float32](out[nT+1]))
		collect()
		res.realTokens += real
		res.padded += ids.Shape().Size()
		res.passes++
	}
	args := make([]any, 0, 4*nT+3)
	args = appendTensors(args, t.params, t.m, t.v, acc)
	out, err := t.updateExec.Exec(append(args, float32(lr), float32(stepSize), float32(bc2))...)
	if err != nil {
		return res, err
	}
	t.params, t.m, t.v = out[:nT], out[nT:2*nT], out[2*nT:3*nT]
	res.norm = float64(tensors.ToScalar[float32](out[3*nT]))
	return res, nil
}

// collect runs the collector after each pass in WebAssembly. There a pass's
// garbage (its intermediate values, hundreds of MB at base size) piles up
// faster than the background collector, which shares the one thread with
// the pass, reclaims it: seen at 2.7 GB in use for 1.1 GB live, with
// MemoryLimit set. A collection of a heap of large pointer-free buffers takes
// milliseconds. It also frees the GPU memory of the values a step replaced
// (kernels' device buffers are released when collected).
func collect() {
	if runtime.GOOS == "js" {
		runtime.GC()
	}
}

// fusedStep is forward, backward, clipping and AdamW in one graph.
func (t *Trainer) fusedStep(data *Encoded, rows []int, lr, stepSize, bc2 float64) (stepResult, error) {
	ids, mask, labels, real := data.batch(rows, t.Opts.MaxLen)
	args := make([]any, 0, 3*len(t.params)+len(t.frozen)+7)
	args = appendTensors(args, t.params, t.m, t.v, t.frozen)
	args = append(args, ids, mask, labels, t.rng, float32(lr), float32(stepSize), float32(bc2))
	out, err := t.stepExec.Exec(args...)
	if err != nil {
		return stepResult{}, err
	}
	nT := len(t.params)
	t.params, t.m, t.v = out[:nT], out[nT:2*nT], out[2*nT:3*nT]
	t.rng = out[3*nT]
	collect()
	return stepResult{loss: float64(tensors.ToScalar[float32](out[3*nT+1])), norm: float64(tensors.ToScalar[float32](out[3*nT+2])),
		realTokens: real, padded: ids.Shape().Size(), passes: 1}, nil
}

func appendTensors(args []any, groups ...[]*tensors.Tensor) []any {
	for _, g := range groups {
		for _, x := range g {
			args = append(args, x)
		}
	}
	return args
}

// CheckFits says why a run cannot fit the activation budget even one row a
// pass, with the longest max length that would.
func CheckFits(c *checkpoint.Config, o *Options) error {
	if ActivationBytes(c, 1, o.MaxLen) <= ActivationBudget {
		return nil
	}
	fits := 16
	for ActivationBytes(c, 1, fits+16) <= ActivationBudget && fits+16 < o.MaxLen {
		fits += 16
	}
	return fmt.Errorf("max length %d needs about %d MB of activations for a single row on this model, over the %d MB budget; use max length %d or less",
		o.MaxLen, ActivationBytes(c, 1, o.MaxLen)>>20, ActivationBudget>>20, fits)
}

// PeakBytes estimates a run's peak memory: the frozen weights twice (the
// loaded model's copy and the backend's) and one pass's activations.
func PeakBytes(c *checkpoint.Config, o *Options) int64 {
	var weights int64
	for _, sh := range checkpoint.BaseShapes(c) {
		n := int64(4)
		for _, d := range sh {
			n *= int64(d)
		}
		weights += n
	}
	return 2*weights + ActivationBytes(c, microBatch(c, o), o.MaxLen)
}

// MemoryLimit is the Go heap's soft limit in WebAssembly (runtime/debug's
// SetMemoryLimit): the collector works harder as the heap nears it instead of
// letting it grow to twice the live data, which at the base model's size
// (268 MB of weights on the host and again on the backend, the activations of
// a pass) would pass WebAssembly's 4 GB before a collection.
const MemoryLimit = 1200 << 20
