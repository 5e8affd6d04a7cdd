// Package checkpoint loads Hugging Face DistilBERT checkpoints (config.json,
// model.safetensors) from bytes or from a directory, and validates that the
// weights agree with the config.
package checkpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Config mirrors transformers' DistilBertConfig (the fields that shape the model).
type Config struct {
	VocabSize             int               `json:"vocab_size"`
	MaxPositionEmbeddings int               `json:"max_position_embeddings"`
	SinusoidalPosEmbds    bool              `json:"sinusoidal_pos_embds"`
	NLayers               int               `json:"n_layers"`
	NHeads                int               `json:"n_heads"`
	Dim                   int               `json:"dim"`
	HiddenDim             int               `json:"hidden_dim"`
	Dropout               float64           `json:"dropout"`
	AttentionDropout      float64           `json:"attention_dropout"`
	Activation            string            `json:"activation"`
	InitializerRange      float64           `json:"initializer_range"`
	SeqClassifDropout     float64           `json:"seq_classif_dropout"`
	PadTokenID            int               `json:"pad_token_id"`
	LayerNormEps          float64           `json:"layer_norm_eps"`
	ModelType             string            `json:"model_type"`
	Architectures         []string          `json:"architectures,omitempty"`
	ID2Label              map[string]string `json:"id2label,omitempty"`
	NumLabelsField        int               `json:"num_labels,omitempty"`
}

// DefaultLayerNormEps is what modeling_distilbert.py hard-codes (1e-12) when
// the config has no layer_norm_eps.
const DefaultLayerNormEps = 1e-12

// ParseConfig reads and validates config.json. Missing fields take
// DistilBertConfig's defaults, as transformers does.
func ParseConfig(name string, b []byte) (*Config, error) {
	c := &Config{
		VocabSize: 30522, MaxPositionEmbeddings: 512, NLayers: 6, NHeads: 12, Dim: 768, HiddenDim: 3072,
		Dropout: 0.1, AttentionDropout: 0.1, Activation: "gelu", InitializerRange: 0.02,
		SeqClassifDropout: 0.2, LayerNormEps: DefaultLayerNormEps,
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%s: not a valid DistilBERT config.json: %v", name, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return c, nil
}

// Validate checks the fields a DistilBERT graph relies on.
func (c *Config) Validate() error {
	if c.ModelType != "" && c.ModelType != "distilbert" {
		return fmt.Errorf("model_type is %q, expected \"distilbert\"", c.ModelType)
	}
	// Upper bounds far above any DistilBERT (distilbert-base: 6 layers, dim
	// 768, vocabulary 30,522) keep a hostile config from sizing work or
	// memory before the weights are even read.
	for _, f := range []struct {
		name   string
		v, max int
	}{{"vocab_size", c.VocabSize, 1 << 20}, {"max_position_embeddings", c.MaxPositionEmbeddings, 1 << 16}, {"n_layers", c.NLayers, 128},
		{"n_heads", c.NHeads, 512}, {"dim", c.Dim, 1 << 14}, {"hidden_dim", c.HiddenDim, 1 << 16}, {"num_labels", c.NumLabels(), 1 << 14}} {
		if f.v <= 0 || f.v > f.max {
			return fmt.Errorf("%s is %d, expected an integer from 1 to %d", f.name, f.v, f.max)
		}
	}
	if c.Dim%c.NHeads != 0 {
		return fmt.Errorf("dim %d is not divisible by n_heads %d", c.Dim, c.NHeads)
	}
	if c.Activation != "gelu" && c.Activation != "relu" {
		return fmt.Errorf("activation %q is not supported, expected \"gelu\" or \"relu\"", c.Activation)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"dropout", c.Dropout}, {"attention_dropout", c.AttentionDropout}, {"seq_classif_dropout", c.SeqClassifDropout}} {
		if f.v < 0 || f.v >= 1 {
			return fmt.Errorf("%s is %g, expected a probability in [0, 1)", f.name, f.v)
		}
	}
	if c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize {
		return fmt.Errorf("pad_token_id %d is outside the vocabulary of %d", c.PadTokenID, c.VocabSize)
	}
	if c.LayerNormEps <= 0 {
		c.LayerNormEps = DefaultLayerNormEps
	}
	return nil
}

// NumLabels is the classifier width: id2label's size, else num_labels, else 2.
func (c *Config) NumLabels() int {
	if len(c.ID2Label) > 0 {
		return len(c.ID2Label)
	}
	if c.NumLabelsField > 0 {
		return c.NumLabelsField
	}
	return 2
}

// Labels returns the label names in id order ("LABEL_0", ... when unnamed).
func (c *Config) Labels() []string {
	n := c.NumLabels()
	out := make([]string, n)
	for i := range out {
		out[i] = "LABEL_" + strconv.Itoa(i)
		if name, ok := c.ID2Label[strconv.Itoa(i)]; ok {
			out[i] = name
		}
	}
	return out
}

// JSON renders the config as a DistilBertForSequenceClassification config.json.
func (c *Config) JSON(labels []string) ([]byte, error) {
	cc := *c
	cc.ModelType = "distilbert"
	cc.Architectures = []string{"DistilBertForSequenceClassification"}
	cc.ID2Label = map[string]string{}
	for i, l := range labels {
		cc.ID2Label[strconv.Itoa(i)] = l
	}
	cc.NumLabelsField = 0
	m := map[string]any{}
	b, _ := json.Marshal(cc)
	_ = json.Unmarshal(b, &m)
	l2i := map[string]int{}
	for i, l := range labels {
		l2i[l] = i
	}
	m["label2id"] = l2i
	return json.MarshalIndent(m, "", "  ") // maps marshal with sorted keys
}
