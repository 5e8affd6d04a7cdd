package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/safetensors"
)

func tinyFiles(t *testing.T) Files {
	dir := testpaths.TinyModel(t)
	fs := Files{}
	for _, n := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		fs[n] = b
	}
	return fs
}

func TestLoadTinyFromBytesAndDir(t *testing.T) {
	m, err := Load(tinyFiles(t), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(Dir(testpaths.TinyModel(t)), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Weights) != 36 || len(d.Weights) != 36 || m.HasHead {
		t.Fatalf("%d/%d weights, head %v; want 36 encoder tensors, no head", len(m.Weights), len(d.Weights), m.HasHead)
	}
	if m.Config.Dim != 128 || m.Config.NLayers != 2 || m.Config.LayerNormEps != 1e-12 || m.Config.NumLabels() != 2 {
		t.Fatalf("config %+v", m.Config)
	}
	if _, err := LoadTokenizer(tinyFiles(t)); err != nil {
		t.Fatal(err)
	}
}

// rewrite returns the tiny checkpoint with its tensors passed through edit.
func rewrite(t *testing.T, fs Files, dtype string, edit func(map[string]*safetensors.Tensor)) Files {
	f, err := safetensors.OpenBytes("model.safetensors", fs["model.safetensors"])
	if err != nil {
		t.Fatal(err)
	}
	ts := map[string]*safetensors.Tensor{}
	for _, k := range f.Keys() {
		ts[k], _ = f.Float32(k)
	}
	edit(ts)
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, map[string]string{"format": "pt"}, dtype); err != nil {
		t.Fatal(err)
	}
	out := Files{}
	for k, v := range fs {
		out[k] = v
	}
	out["model.safetensors"] = buf.Bytes()
	return out
}

func TestF16CheckpointAndHead(t *testing.T) {
	fs := rewrite(t, tinyFiles(t), "F16", func(ts map[string]*safetensors.Tensor) {
		ts["pre_classifier.weight"] = &safetensors.Tensor{Shape: []int{128, 128}, Data: make([]float32, 128*128)}
		ts["pre_classifier.bias"] = &safetensors.Tensor{Shape: []int{128}, Data: make([]float32, 128)}
		ts["classifier.weight"] = &safetensors.Tensor{Shape: []int{2, 128}, Data: make([]float32, 256)}
		ts["classifier.bias"] = &safetensors.Tensor{Shape: []int{2}, Data: []float32{0.5, -0.5}}
	})
	m, err := Load(fs, "f16")
	if err != nil {
		t.Fatal(err)
	}
	if !m.HasHead || m.Weights["classifier.bias"].Data[0] != 0.5 {
		t.Fatal("head not read")
	}
	full, _ := Load(tinyFiles(t), "f32")
	a, b := full.Weights["distilbert.embeddings.word_embeddings.weight"].Data, m.Weights["distilbert.embeddings.word_embeddings.weight"].Data
	for i := range a {
		if d := a[i] - b[i]; d > 1e-3*max(1, a[i]) || -d > 1e-3*max(1, -a[i]) {
			t.Fatalf("F16 weight %d: %v vs %v", i, b[i], a[i])
		}
	}
}

func TestBadCheckpoints(t *testing.T) {
	base := tinyFiles(t)
	cases := []struct {
		name string
		fs   Files
		want string
	}{
		{"missing", rewrite(t, base, "F32", func(ts map[string]*safetensors.Tensor) {
			delete(ts, "distilbert.transformer.layer.1.attention.q_lin.weight")
		}), `missing tensor(s) distilbert.transformer.layer.1.attention.q_lin.weight`},
		{"misshaped", rewrite(t, base, "F32", func(ts map[string]*safetensors.Tensor) {
			ts["distilbert.transformer.layer.0.ffn.lin1.bias"] = &safetensors.Tensor{Shape: []int{256}, Data: make([]float32, 256)}
		}), `tensor "distilbert.transformer.layer.0.ffn.lin1.bias" has shape [256], config.json implies [512]`},
		{"unexpected", rewrite(t, base, "F32", func(ts map[string]*safetensors.Tensor) {
			ts["qa_outputs.weight"] = &safetensors.Tensor{Shape: []int{2, 128}, Data: make([]float32, 256)}
		}), `unexpected tensor "qa_outputs.weight"`},
		{"half head", rewrite(t, base, "F32", func(ts map[string]*safetensors.Tensor) {
			ts["classifier.bias"] = &safetensors.Tensor{Shape: []int{2}, Data: make([]float32, 2)}
		}), `incomplete classification head`},
		{"contradicting config", func() Files {
			fs := Files{}
			for k, v := range base {
				fs[k] = v
			}
			fs["config.json"] = []byte(strings.Replace(string(base["config.json"]), `"dim": 128`, `"dim": 256`, 1))
			return fs
		}(), `tensor "distilbert.embeddings.LayerNorm.bias" has shape [128], config.json implies [256]`},
		{"truncated", func() Files {
			fs := Files{}
			for k, v := range base {
				fs[k] = v
			}
			fs["model.safetensors"] = base["model.safetensors"][:len(base["model.safetensors"])-100]
			return fs
		}(), `model.safetensors: tensor`},
		{"bad config", Files{"config.json": []byte(`{"dim": 130, "n_heads": 4}`)}, `dim 130 is not divisible by n_heads 4`},
		{"not distilbert", Files{"config.json": []byte(`{"model_type": "bert"}`)}, `model_type is "bert"`},
		{"no weights", Files{"config.json": base["config.json"]}, `no model.safetensors`},
	}
	for _, c := range cases {
		_, err := Load(c.fs, c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// Parsing config.json never panics, and what it accepts is within the
// bounds Validate promises.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"model_type":"distilbert","n_layers":6,"dim":768,"n_heads":12,"hidden_dim":3072,"vocab_size":30522}`))
	f.Add([]byte(`{"n_layers":100000000}`))
	f.Add([]byte(`{"id2label":{"0":"a","1":"b","7":"c"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig("config.json", b)
		if err != nil {
			return
		}
		if c.NLayers > 128 || c.Dim > 1<<14 || c.VocabSize > 1<<20 || c.NumLabels() > 1<<14 {
			t.Fatalf("accepted %+v", c)
		}
		_ = c.Labels()
	})
}
