// Package synthetic generates DistilBERT checkpoints with a real
// configuration and seeded random weights, so that tests and benchmarks run
// at distilbert-base-uncased's size without downloading it.
package synthetic

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/safetensors"
)

// BaseConfig is distilbert-base-uncased's config.json: 6 layers, dim 768,
// 12 heads, hidden 3072, vocabulary 30,522, 512 positions.
func BaseConfig() *checkpoint.Config {
	return &checkpoint.Config{VocabSize: 30522, MaxPositionEmbeddings: 512, NLayers: 6, NHeads: 12, Dim: 768,
		HiddenDim: 3072, Dropout: 0.1, AttentionDropout: 0.1, Activation: "gelu", InitializerRange: 0.02,
		SeqClassifDropout: 0.2, LayerNormEps: 1e-12, ModelType: "distilbert",
		Architectures: []string{"DistilBertForMaskedLM"}}
}

// Weights draws every encoder tensor of cfg from the seed: matrices and
// embeddings normal(0, initializer_range), LayerNorm weights 1 and biases 0,
// as transformers' _init_weights does; linear biases small, so that no value
// of the graph is trivially zero.
func Weights(cfg *checkpoint.Config, seed uint64) checkpoint.Weights {
	rng := rand.New(rand.NewPCG(seed, 0xba5e))
	shapes := checkpoint.BaseShapes(cfg)
	w := checkpoint.Weights{}
	// Draw in a fixed key order so the seed alone decides every value.
	for _, k := range sortedKeys(shapes) {
		sh := shapes[k]
		n := 1
		for _, d := range sh {
			n *= d
		}
		data := make([]float32, n)
		switch {
		case isLayerNorm(k) && strings.HasSuffix(k, ".weight"):
			for i := range data {
				data[i] = 1
			}
		case isLayerNorm(k):
		case len(sh) == 1: // linear biases
			for i := range data {
				data[i] = float32(rng.NormFloat64() * 0.01)
			}
		default:
			for i := range data {
				data[i] = float32(rng.NormFloat64() * cfg.InitializerRange)
			}
		}
		w[k] = &safetensors.Tensor{Shape: sh, Data: data}
	}
	return w
}

// Base is a distilbert-base-uncased-shaped model with seeded random weights.
func Base(seed uint64) *checkpoint.Model {
	cfg := BaseConfig()
	return &checkpoint.Model{Config: cfg, Weights: Weights(cfg, seed), Name: "distilbert-base-shaped"}
}

// WriteDir writes a model folder the page and the CLI load: config.json,
// model.safetensors (F32) and the tokenizer files copied from tokenizerDir
// (those of vocab.txt, tokenizer.json and tokenizer_config.json it has; one
// of the first two is needed).
func WriteDir(dir string, m *checkpoint.Model, tokenizerDir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg, err := json.MarshalIndent(m.Config, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = safetensors.Write(bw, m.Weights, map[string]string{"format": "pt"}, "F32")
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	copied := 0
	for _, name := range []string{"vocab.txt", "tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(tokenizerDir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("tokenizer: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
		if name != "tokenizer_config.json" {
			copied++
		}
	}
	if copied == 0 {
		return fmt.Errorf("tokenizer: %s has neither vocab.txt nor tokenizer.json", tokenizerDir)
	}
	return nil
}

func isLayerNorm(k string) bool {
	return strings.Contains(k, "LayerNorm") || strings.Contains(k, "layer_norm")
}

func sortedKeys(m map[string][]int) []string {
	return slices.Sorted(maps.Keys(m))
}
