package train

import (
	"math"
	"strings"

	. "github.com/gomlx/gomlx/core/graph"
)

// AdamW hyper-parameters, as torch.optim.AdamW and the HF Trainer default them.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
}

// DefaultAdamW matches the HF Trainer (weight decay 0.01 as the notebook sets).
func DefaultAdamW() AdamW { return AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01} }

// decays says whether a parameter gets weight decay: the HF Trainer exempts
// biases and LayerNorm weights.
func decays(key string) bool {
	return !strings.HasSuffix(key, ".bias") && !strings.Contains(strings.ToLower(key), "layernorm") && !strings.Contains(key, "layer_norm")
}

// update is one torch.optim.AdamW step for one tensor. stepSize is
// lr/(1-β1^t) and bc2Sqrt is √(1-β2^t), both computed on the host in float64
// as PyTorch does.
func (o AdamW) update(key string, p, g, m, v, lr, stepSize, bc2Sqrt *Node) (newP, newM, newV *Node) {
	if decays(key) {
		p = Mul(p, OneMinus(MulScalar(lr, o.WeightDecay)))
	}
	newM = Add(MulScalar(m, o.Beta1), MulScalar(g, 1-o.Beta1))
	newV = Add(MulScalar(v, o.Beta2), MulScalar(Square(g), 1-o.Beta2))
	denom := AddScalar(Div(Sqrt(newV), bc2Sqrt), o.Eps)
	newP = Sub(p, Mul(stepSize, Div(newM, denom)))
	return
}

// biasCorrections returns lr/(1-β1^t) and √(1-β2^t) for step t (1-based).
func (o AdamW) biasCorrections(lr float64, t int) (stepSize, bc2Sqrt float64) {
	return lr / (1 - math.Pow(o.Beta1, float64(t))), math.Sqrt(1 - math.Pow(o.Beta2, float64(t)))
}

// clipByGlobalNorm is torch.nn.utils.clip_grad_norm_: scale all gradients by
// min(1, maxNorm/(‖g‖+1e-6)). It returns the clipped gradients and the norm.
func clipByGlobalNorm(grads []*Node, maxNorm float64) ([]*Node, *Node) {
	var sq *Node
	for _, g := range grads {
		s := ReduceAllSum(Square(g))
		if sq == nil {
			sq = s
		} else {
			sq = Add(sq, s)
		}
	}
	norm := Sqrt(sq)
	if maxNorm <= 0 {
		return grads, norm
	}
	coef := MinScalar(Div(ScalarOne(norm.Graph(), norm.DType()), DivScalar(AddScalar(norm, 1e-6), maxNorm)), 1.0)
	out := make([]*Node, len(grads))
	for i, g := range grads {
		out[i] = Mul(g, coef)
	}
	return out, norm
}

// LinearSchedule is transformers' get_linear_schedule_with_warmup as a
// LambdaLR: the factor for 0-based optimizer step s.
func LinearSchedule(s, warmup, total int) float64 {
	if s < warmup {
		return float64(s) / float64(max(1, warmup))
	}
	return max(0, float64(total-s)/float64(max(1, total-warmup)))
}
