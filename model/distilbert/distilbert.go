// Package distilbert is DistilBertForSequenceClassification as a GoMLX graph,
// following transformers' modeling_distilbert.py line by line, with LoRA on
// the chosen linear layers. Parameters are graph nodes named by their
// checkpoint keys ("distilbert.transformer.layer.0.attention.q_lin.weight",
// "...q_lin.lora_A.weight", "classifier.bias"), so the code reads like the
// PyTorch module and the weights map one to one onto Hugging Face files.
package distilbert

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/lora"
)

// Params are the model's tensors as graph nodes, keyed by checkpoint key.
type Params map[string]*Node

func (p Params) get(key string) *Node {
	n, ok := p[key]
	if !ok {
		panic(fmt.Sprintf("distilbert: parameter %q not given to the graph", key))
	}
	return n
}

// Dropout carries the random state through the graph. With Train false (or
// a nil RNG) every dropout is the identity, as in model.eval().
type Dropout struct {
	Train bool
	RNG   *Node // random state; updated as masks are drawn
}

// apply is torch.nn.functional.dropout: zero with probability p, scale the rest by 1/(1-p).
func (d *Dropout) apply(x *Node, p float64) *Node {
	if d == nil || !d.Train || p == 0 {
		return x
	}
	var u *Node
	d.RNG, u = RandomUniform(d.RNG, x.Shape())
	keep := GreaterOrEqual(u, Scalar(x.Graph(), x.DType(), p))
	return Where(keep, MulScalar(x, 1/(1-p)), ZerosLike(x))
}

// Model holds what the graph needs besides parameters.
type Model struct {
	Config    *checkpoint.Config
	LoRA      *lora.Config // nil: no adapter
	NumLabels int
}

// Forward computes classification logits [batch, NumLabels] from input ids
// and an attention mask (1 for tokens, 0 for padding), both int32 [batch, seq].
func (m *Model) Forward(p Params, inputIDs, attentionMask *Node, drop *Dropout) *Node {
	c := m.Config
	x := m.embeddings(p, inputIDs, drop)
	// Additive mask: 0 where attended, the dtype's lowest value where padded,
	// broadcast over heads and query positions: [batch, 1, 1, seq].
	maskF := ConvertDType(attentionMask, dtypes.Float32)
	additive := MulScalar(OneMinus(maskF), -math.MaxFloat32)
	additive = InsertAxes(additive, 1, 1)
	for i := 0; i < c.NLayers; i++ {
		x = m.transformerBlock(p, fmt.Sprintf("distilbert.transformer.layer.%d.", i), x, additive, drop)
	}
	// Classification head on the first token ([CLS]).
	pooled := Squeeze(SliceAxis(x, 1, AxisRange(0, 1)), 1) // [batch, dim]
	pooled = linear(p, "pre_classifier", pooled)
	pooled = Max(pooled, ZerosLike(pooled)) // ReLU
	pooled = drop.apply(pooled, c.SeqClassifDropout)
	return linear(p, "classifier", pooled)
}

// embeddings: word + learned position embeddings, LayerNorm, dropout.
func (m *Model) embeddings(p Params, inputIDs *Node, drop *Dropout) *Node {
	batch, seq := inputIDs.Shape().Dim(0), inputIDs.Shape().Dim(1)
	words := Gather(p.get("distilbert.embeddings.word_embeddings.weight"), InsertAxes(inputIDs, -1)) // [b, s, d]
	pos := SliceAxis(p.get("distilbert.embeddings.position_embeddings.weight"), 0, AxisRange(0, seq))
	pos = BroadcastToDims(InsertAxes(pos, 0), batch, seq, m.Config.Dim)
	x := layerNorm(p, "distilbert.embeddings.LayerNorm", Add(words, pos), m.Config.LayerNormEps)
	return drop.apply(x, m.Config.Dropout)
}

// transformerBlock is DistilBERT's post-LN block:
// sa = LN(attn(x) + x); out = LN(dropout(lin2(gelu(lin1(sa)))) + sa).
func (m *Model) transformerBlock(p Params, prefix string, x, additiveMask *Node, drop *Dropout) *Node {
	c := m.Config
	sa := m.attention(p, prefix+"attention.", x, additiveMask, drop)
	sa = layerNorm(p, prefix+"sa_layer_norm", Add(sa, x), c.LayerNormEps)
	h := m.loraLinear(p, prefix, "ffn.lin1", sa, drop)
	if c.Activation == "gelu" {
		h = gelu(h)
	} else {
		h = Max(h, ZerosLike(h))
	}
	h = m.loraLinear(p, prefix, "ffn.lin2", h, drop)
	h = drop.apply(h, c.Dropout)
	return layerNorm(p, prefix+"output_layer_norm", Add(h, sa), c.LayerNormEps)
}

// attention is MultiHeadSelfAttention: scaled dot-product over n_heads.
func (m *Model) attention(p Params, prefix string, x, additiveMask *Node, drop *Dropout) *Node {
	c := m.Config
	layer := prefix[:len(prefix)-len("attention.")]
	batch, seq := x.Shape().Dim(0), x.Shape().Dim(1)
	heads, dh := c.NHeads, c.Dim/c.NHeads
	split := func(t *Node) *Node { // [b, s, d] -> [b, h, s, dh]
		return Transpose(Reshape(t, batch, seq, heads, dh), 1, 2)
	}
	q := split(m.loraLinear(p, layer, "attention.q_lin", x, drop))
	k := split(m.loraLinear(p, layer, "attention.k_lin", x, drop))
	v := split(m.loraLinear(p, layer, "attention.v_lin", x, drop))
	q = MulScalar(q, 1/math.Sqrt(float64(dh)))
	scores := DotGeneral(q, []int{3}, []int{0, 1}, k, []int{3}, []int{0, 1}) // [b, h, s_q, s_k]
	scores = Add(scores, BroadcastToDims(additiveMask, batch, heads, seq, seq))
	weights := Softmax(scores, -1)
	weights = drop.apply(weights, c.AttentionDropout)
	ctx := DotGeneral(weights, []int{3}, []int{0, 1}, v, []int{2}, []int{0, 1}) // [b, h, s_q, dh]
	ctx = Reshape(Transpose(ctx, 1, 2), batch, seq, c.Dim)
	return m.loraLinear(p, layer, "attention.out_lin", ctx, drop)
}

// loraLinear is nn.Linear, plus PEFT's LoRA branch when the module is targeted:
// y = x Wᵀ + b + scale · (dropout(x) Aᵀ) Bᵀ.
func (m *Model) loraLinear(p Params, layerPrefix, module string, x *Node, drop *Dropout) *Node {
	key := layerPrefix + module
	y := linear(p, key, x)
	if m.LoRA == nil || !m.LoRA.Targets(module) {
		return y
	}
	h := drop.apply(x, m.LoRA.Dropout)
	h = matmulT(h, p.get(key+".lora_A.weight"))
	h = matmulT(h, p.get(key+".lora_B.weight"))
	return Add(y, MulScalar(h, m.LoRA.Scale()))
}

// linear is nn.Linear: x Wᵀ + b, with W [out, in] as PyTorch stores it.
func linear(p Params, key string, x *Node) *Node {
	y := matmulT(x, p.get(key+".weight"))
	return Add(y, broadcastLast(p.get(key+".bias"), y))
}

// matmulT contracts x's last axis with w's second: x Wᵀ without a transpose.
func matmulT(x, w *Node) *Node {
	return DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{1}, nil)
}

// layerNorm normalises the last axis with biased variance, as nn.LayerNorm.
func layerNorm(p Params, key string, x *Node, eps float64) *Node {
	axis := x.Rank() - 1
	mean := ReduceAndKeep(x, ReduceMean, axis)
	centered := Sub(x, mean)
	variance := ReduceAndKeep(Square(centered), ReduceMean, axis)
	normed := Div(centered, Sqrt(AddScalar(variance, eps))) // Rsqrt has no gradient in GoMLX
	normed = Mul(normed, broadcastLast(p.get(key+".weight"), normed))
	return Add(normed, broadcastLast(p.get(key+".bias"), normed))
}

// gelu is the exact erf form: x · ½ · (1 + erf(x/√2)).
func gelu(x *Node) *Node {
	return Mul(x, MulScalar(AddScalar(Erf(MulScalar(x, 1/math.Sqrt2)), 1), 0.5))
}

// broadcastLast broadcasts a vector onto like's shape along the last axis.
func broadcastLast(v, like *Node) *Node {
	for v.Rank() < like.Rank() {
		v = InsertAxes(v, 0)
	}
	return BroadcastToDims(v, like.Shape().Dimensions...)
}

// CrossEntropy is the mean negative log-likelihood of labels (int32 [batch]).
func CrossEntropy(logits, labels *Node) *Node {
	logp := LogSoftmax(logits, -1)
	// One-hot labels by comparing floats (labels converted, classes a
	// constant iota) rather than integers: every op of the loss then runs
	// where the step runs (a GPU program reads integers but compares
	// floats); exact for any label count under 2²⁴.
	batch, classes := logits.Shape().Dim(0), logits.Shape().Dim(1)
	l := BroadcastToDims(Reshape(ConvertDType(labels, logits.DType()), batch, 1), batch, classes)
	c := BroadcastToDims(Iota(logits.Graph(), shapes.Make(logits.DType(), 1, classes), 1), batch, classes)
	onehot := ConvertDType(Equal(l, c), logits.DType())
	return Neg(DivScalar(ReduceAllSum(Mul(logp, onehot)), float64(logits.Shape().Dim(0))))
}
