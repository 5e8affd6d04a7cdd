package peft

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/safetensors"
)

func reference(t *testing.T) (*checkpoint.Model, []byte, []byte) {
	dir := testpaths.TinyModel(t)
	m, err := checkpoint.Load(checkpoint.Dir(dir), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "reference", ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile(filepath.Join(dir, "reference", WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	return m, cfg, w
}

// An adapter PEFT wrote is read, and written back byte for byte.
func TestRoundTripPEFTAdapter(t *testing.T) {
	m, cfg, w := reference(t)
	a, err := Read(m.Config, 2, cfg, bytes.NewReader(w), int64(len(w)))
	if err != nil {
		t.Fatal(err)
	}
	if a.LoRA.R != 8 || a.LoRA.Alpha != 32 || !slices.Equal(a.LoRA.TargetModules, []string{"q_lin", "v_lin"}) || len(a.Tensors) != 12 {
		t.Fatalf("read %+v with %d tensors", a.LoRA, len(a.Tensors))
	}
	cfgOut, wOut, err := a.Write()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wOut, w) {
		t.Fatal("adapter_model.safetensors differs from the file PEFT wrote")
	}
	var got map[string]any
	if err := json.Unmarshal(cfgOut, &got); err != nil {
		t.Fatal(err)
	}
	// Every field PEFT wrote is present with the same meaning.
	var peft map[string]any
	_ = json.Unmarshal(cfg, &peft)
	for k, v := range peft {
		gv, ok := got[k]
		if !ok {
			t.Errorf("field %q missing", k)
			continue
		}
		switch k {
		case "modules_to_save", "base_model_name_or_path":
			continue // ours is PEFT's SEQ_CLS default; the name is the base model's
		}
		if a, b := mustJSON(gv), mustJSON(v); a != b {
			t.Errorf("field %q: ours %s, PEFT's %s", k, a, b)
		}
	}
	if mustJSON(got["modules_to_save"]) != `["classifier","score"]` || got["task_type"] != "SEQ_CLS" || got["peft_type"] != "LORA" {
		t.Errorf("config: %s", cfgOut)
	}
	// And it reads back.
	if _, err := Read(m.Config, 2, cfgOut, bytes.NewReader(wOut), int64(len(wOut))); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestBadAdapters(t *testing.T) {
	m, cfg, w := reference(t)
	a, err := Read(m.Config, 2, cfg, bytes.NewReader(w), int64(len(w)))
	if err != nil {
		t.Fatal(err)
	}
	withTensors := func(edit func(map[string]*safetensors.Tensor)) []byte {
		ts := map[string]*safetensors.Tensor{}
		for k, v := range a.Tensors {
			ts[KeyPrefix+k] = v
		}
		edit(ts)
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, ts, map[string]string{"format": "pt"}, "F32"); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	cases := []struct {
		name   string
		cfg, w []byte
		want   string
		labels int
	}{
		{"prefix", cfg, withTensors(func(ts map[string]*safetensors.Tensor) {
			ts["classifier.bias"] = ts[KeyPrefix+"classifier.bias"]
			delete(ts, KeyPrefix+"classifier.bias")
		}), `key "classifier.bias" lacks PEFT's`, 2},
		{"missing", cfg, withTensors(func(ts map[string]*safetensors.Tensor) {
			delete(ts, KeyPrefix+"pre_classifier.weight")
		}), "missing tensor(s): base_model.model.pre_classifier.weight", 2},
		{"shape", cfg, withTensors(func(ts map[string]*safetensors.Tensor) {
			ts[KeyPrefix+"distilbert.transformer.layer.0.attention.q_lin.lora_A.weight"] = &safetensors.Tensor{Shape: []int{4, 128}, Data: make([]float32, 512)}
		}), `has shape [4 128], expected [8 128]`, 2},
		{"labels", cfg, w, `tensor "base_model.model.classifier.bias" has shape [2], expected [3]`, 3},
		{"type", []byte(strings.Replace(string(cfg), `"LORA"`, `"IA3"`, 1)), w, `peft_type is "IA3"`, 2},
		{"task", []byte(strings.Replace(string(cfg), `"SEQ_CLS"`, `"CAUSAL_LM"`, 1)), w, `task_type is "CAUSAL_LM"`, 2},
		{"module", []byte(strings.Replace(string(cfg), `"v_lin"`, `"value"`, 1)), w, `unknown LoRA target module "value"`, 2},
		{"json", []byte("{"), w, "adapter_config.json: not valid JSON", 2},
		{"truncated", cfg, w[:len(w)-10], "adapter_model.safetensors", 2},
	}
	for _, c := range cases {
		_, err := Read(m.Config, c.labels, c.cfg, bytes.NewReader(c.w), int64(len(c.w)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// Merge gives W + (alpha/r)·B·A, checked against a float64 product.
func TestMerge(t *testing.T) {
	m, cfg, w := reference(t)
	a, err := Read(m.Config, 2, cfg, bytes.NewReader(w), int64(len(w)))
	if err != nil {
		t.Fatal(err)
	}
	merged := Merge(m.Weights, a)
	key := "distilbert.transformer.layer.1.attention.v_lin"
	W, A, B, M := m.Weights[key+".weight"], a.Tensors[key+".lora_A.weight"], a.Tensors[key+".lora_B.weight"], merged[key+".weight"]
	worst := 0.0
	for o := 0; o < 128; o++ {
		for i := 0; i < 128; i++ {
			want := float64(W.Data[o*128+i])
			for j := 0; j < 8; j++ {
				want += 4 * float64(B.Data[o*8+j]) * float64(A.Data[j*128+i])
			}
			worst = math.Max(worst, math.Abs(want-float64(M.Data[o*128+i])))
		}
	}
	if worst > 1e-5 {
		t.Fatalf("merged weight off by %g", worst)
	}
	if merged["classifier.weight"] == nil || merged["distilbert.transformer.layer.0.attention.k_lin.weight"] != m.Weights["distilbert.transformer.layer.0.attention.k_lin.weight"] {
		t.Fatal("head missing or untargeted weight changed")
	}
}

// Reading an adapter never panics, whatever its config or weights (from
// the PEFT-written reference, mutated).
func FuzzRead(f *testing.F) {
	dir := testpaths.Root() + "/../shared/models/distilbert-tiny"
	m, err := checkpoint.Load(checkpoint.Dir(dir), "tiny")
	if err != nil {
		f.Skip("no shared tiny model: ", err)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "reference", ConfigFile))
	w, _ := os.ReadFile(filepath.Join(dir, "reference", WeightsFile))
	f.Add(cfg, w)
	f.Add([]byte(`{"peft_type":"LORA","r":36028797018963968,"lora_alpha":16,"target_modules":["q_lin"]}`), w)
	f.Fuzz(func(t *testing.T, cfg, w []byte) {
		_, _ = Read(m.Config, 2, cfg, bytes.NewReader(w), int64(len(w)))
	})
}
