package checkpoint

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/webtune/webtune/model/safetensors"
)

// Source gives access to a model's files by base name: a directory on disk,
// files dropped in the browser, or bytes downloaded from the hub.
type Source interface {
	Open(name string) (r io.ReaderAt, size int64, err error)
	Has(name string) bool
}

// Dir is a Source over a directory.
type Dir string

func (d Dir) Open(name string) (io.ReaderAt, int64, error) {
	f, err := os.Open(filepath.Join(string(d), name))
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	return f, st.Size(), nil
}

func (d Dir) Has(name string) bool {
	_, err := os.Stat(filepath.Join(string(d), name))
	return err == nil
}

// Files is a Source over in-memory files.
type Files map[string][]byte

func (m Files) Open(name string) (io.ReaderAt, int64, error) {
	b, ok := m[name]
	if !ok {
		return nil, 0, fmt.Errorf("%s: %w", name, os.ErrNotExist)
	}
	return bytes.NewReader(b), int64(len(b)), nil // no copy: a base model's file is 268 MB
}

func (m Files) Has(name string) bool { _, ok := m[name]; return ok }

// ReadAll reads a whole (small) file of a Source.
func ReadAll(src Source, name string) ([]byte, error) {
	r, n, err := src.Open(name)
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// Weights maps canonical checkpoint keys (as DistilBertForSequenceClassification
// names them: "distilbert.embeddings....", "pre_classifier.weight", ...) to tensors.
type Weights map[string]*safetensors.Tensor

// LayerKey is the checkpoint key of a per-layer tensor, e.g.
// LayerKey(0, "attention.q_lin.weight").
func LayerKey(layer int, rest string) string {
	return fmt.Sprintf("distilbert.transformer.layer.%d.%s", layer, rest)
}

// BaseShapes lists every tensor of the DistilBERT encoder with the shape the config implies.
func BaseShapes(c *Config) map[string][]int {
	d, h := c.Dim, c.HiddenDim
	s := map[string][]int{
		"distilbert.embeddings.word_embeddings.weight": {c.VocabSize, d},
		"distilbert.embeddings.LayerNorm.weight":       {d},
		"distilbert.embeddings.LayerNorm.bias":         {d},
		// Sinusoidal position embeddings are stored too: transformers only
		// initialises the same weight with sin/cos values.
		"distilbert.embeddings.position_embeddings.weight": {c.MaxPositionEmbeddings, d},
	}
	for i := 0; i < c.NLayers; i++ {
		for _, lin := range []string{"q_lin", "k_lin", "v_lin", "out_lin"} {
			s[LayerKey(i, "attention."+lin+".weight")] = []int{d, d}
			s[LayerKey(i, "attention."+lin+".bias")] = []int{d}
		}
		s[LayerKey(i, "ffn.lin1.weight")] = []int{h, d}
		s[LayerKey(i, "ffn.lin1.bias")] = []int{h}
		s[LayerKey(i, "ffn.lin2.weight")] = []int{d, h}
		s[LayerKey(i, "ffn.lin2.bias")] = []int{d}
		for _, ln := range []string{"sa_layer_norm", "output_layer_norm"} {
			s[LayerKey(i, ln+".weight")] = []int{d}
			s[LayerKey(i, ln+".bias")] = []int{d}
		}
	}
	return s
}

// HeadShapes lists the classification head's tensors for n labels.
func HeadShapes(c *Config, numLabels int) map[string][]int {
	return map[string][]int{
		"pre_classifier.weight": {c.Dim, c.Dim},
		"pre_classifier.bias":   {c.Dim},
		"classifier.weight":     {numLabels, c.Dim},
		"classifier.bias":       {numLabels},
	}
}

// ignoredPrefixes are heads of other DistilBERT tasks: present in hub
// checkpoints (the MLM head of distilbert-base-uncased) but not used here.
var ignoredPrefixes = []string{"vocab_transform.", "vocab_layer_norm.", "vocab_projector."}

// LoadWeights reads a safetensors checkpoint and checks it against the config.
// Keys may carry the "distilbert." prefix (ForMaskedLM / ForSequenceClassification)
// or not (a bare DistilBertModel). The head is returned when the file has one
// of numLabels width; hasHead tells whether it did.
func LoadWeights(c *Config, name string, r io.ReaderAt, size int64, numLabels int) (w Weights, hasHead bool, err error) {
	f, err := safetensors.Open(name, r, size)
	if err != nil {
		return nil, false, err
	}
	want := BaseShapes(c)
	head := HeadShapes(c, numLabels)
	w = Weights{}
	headSeen := 0
	for _, key := range f.Keys() {
		canon := key
		if strings.HasPrefix(key, "embeddings.") || strings.HasPrefix(key, "transformer.") {
			canon = "distilbert." + key // a bare DistilBertModel checkpoint
		}
		if slices.ContainsFunc(ignoredPrefixes, func(p string) bool { return strings.HasPrefix(canon, p) }) {
			continue
		}
		if canon == "distilbert.embeddings.position_ids" { // a buffer some old checkpoints saved
			continue
		}
		shape, ok := want[canon]
		isHead := false
		if !ok {
			shape, isHead = head[canon]
		}
		if !ok && !isHead {
			return nil, false, fmt.Errorf("%s: unexpected tensor %q: not part of a DistilBERT encoder or sequence-classification head", name, key)
		}
		info := f.Tensors[key]
		if !slices.Equal(info.Shape, shape) {
			return nil, false, fmt.Errorf("%s: tensor %q has shape %v, config.json implies %v", name, key, info.Shape, shape)
		}
		t, err := f.Float32(key)
		if err != nil {
			return nil, false, err
		}
		w[canon] = t
		if isHead {
			headSeen++
		}
	}
	var missing []string
	for k := range want {
		if _, ok := w[k]; !ok {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		more := ""
		if len(missing) > 3 {
			more = fmt.Sprintf(" and %d more", len(missing)-3)
			missing = missing[:3]
		}
		return nil, false, fmt.Errorf("%s: missing tensor(s) %s%s that config.json requires", name, strings.Join(missing, ", "), more)
	}
	if headSeen != 0 && headSeen != len(head) {
		return nil, false, fmt.Errorf("%s: incomplete classification head: found %d of pre_classifier/classifier weight and bias", name, headSeen)
	}
	return w, headSeen == len(head), nil
}

// Model is a loaded base model: config, encoder weights (and head, if the
// checkpoint had one) and the raw tokenizer files.
type Model struct {
	Config  *Config
	Weights Weights
	HasHead bool
	// Name is the hub repo id or folder name, written into adapters as
	// base_model_name_or_path.
	Name string
}

// Load reads config.json and model.safetensors from a Source.
func Load(src Source, name string) (*Model, error) {
	cfgBytes, err := ReadAll(src, "config.json")
	if err != nil {
		return nil, fmt.Errorf("model %s: config.json: %w", name, err)
	}
	cfg, err := ParseConfig("config.json", cfgBytes)
	if err != nil {
		return nil, err
	}
	if !src.Has("model.safetensors") {
		return nil, fmt.Errorf("model %s: no model.safetensors (only safetensors checkpoints are read; pytorch_model.bin is a pickle)", name)
	}
	r, size, err := src.Open("model.safetensors")
	if err != nil {
		return nil, err
	}
	w, hasHead, err := LoadWeights(cfg, "model.safetensors", r, size, cfg.NumLabels())
	if err != nil {
		return nil, err
	}
	return &Model{Config: cfg, Weights: w, HasHead: hasHead, Name: name}, nil
}
