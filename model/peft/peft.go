// Package peft writes and reads LoRA adapters exactly as Hugging Face PEFT
// does for DistilBertForSequenceClassification: adapter_config.json and
// adapter_model.safetensors with keys under "base_model.model.".
package peft

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/lora"
	"github.com/webtune/webtune/model/safetensors"
)

// KeyPrefix is what PeftModel prepends to the wrapped model's parameter names.
const KeyPrefix = "base_model.model."

// File names PEFT uses.
const (
	ConfigFile  = "adapter_config.json"
	WeightsFile = "adapter_model.safetensors"
)

// Adapter is a LoRA adapter plus the trained classification head, keyed by
// the model's own parameter names (without KeyPrefix).
type Adapter struct {
	LoRA      lora.Config
	BaseModel string
	Tensors   map[string]*safetensors.Tensor
}

// ExpectedShapes lists every tensor an adapter holds for this model.
func ExpectedShapes(c *checkpoint.Config, lc *lora.Config, numLabels int) map[string][]int {
	base := checkpoint.BaseShapes(c)
	s := checkpoint.HeadShapes(c, numLabels)
	for i := 0; i < c.NLayers; i++ {
		for _, m := range lc.TargetModules {
			key := checkpoint.LayerKey(i, lora.Modules[m])
			w := base[key+".weight"] // [out, in]
			s[key+".lora_A.weight"] = []int{lc.R, w[1]}
			s[key+".lora_B.weight"] = []int{w[0], lc.R}
		}
	}
	return s
}

// configJSON is the field set PEFT 0.20 writes for a LoraConfig.
func (a *Adapter) configJSON() ([]byte, error) {
	m := map[string]any{
		"alora_invocation_tokens": nil,
		"alpha_pattern":           map[string]any{},
		"arrow_config":            nil,
		"auto_mapping":            nil,
		"base_model_name_or_path": a.BaseModel,
		"bias":                    "none",
		"corda_config":            nil,
		"ensure_weight_tying":     false,
		"eva_config":              nil,
		"exclude_modules":         nil,
		"fan_in_fan_out":          false,
		"inference_mode":          true,
		"init_lora_weights":       true,
		"layer_replication":       nil,
		"layers_pattern":          nil,
		"layers_to_transform":     nil,
		"loftq_config":            map[string]any{},
		"lora_alpha":              a.LoRA.Alpha,
		"lora_bias":               false,
		"lora_dropout":            a.LoRA.Dropout,
		"lora_ga_config":          nil,
		"megatron_config":         nil,
		"megatron_core":           "megatron.core",
		// PEFT's SEQ_CLS default; "classifier" also matches "pre_classifier"
		// by suffix, which is why both heads are saved.
		"modules_to_save":         []string{"classifier", "score"},
		"peft_type":               "LORA",
		"peft_version":            "0.20.0",
		"qalora_group_size":       16,
		"r":                       a.LoRA.R,
		"rank_pattern":            map[string]any{},
		"revision":                nil,
		"target_modules":          a.LoRA.TargetModules,
		"target_parameters":       nil,
		"task_type":               "SEQ_CLS",
		"trainable_token_indices": nil,
		"use_bdlora":              nil,
		"use_dora":                false,
		"use_qalora":              false,
		"use_rslora":              a.LoRA.UseRSLoRA,
	}
	return json.MarshalIndent(m, "", "  ")
}

// Write produces the two files PEFT's save_pretrained writes.
func (a *Adapter) Write() (config, weights []byte, err error) {
	config, err = a.configJSON()
	if err != nil {
		return nil, nil, err
	}
	prefixed := map[string]*safetensors.Tensor{}
	for k, t := range a.Tensors {
		prefixed[KeyPrefix+k] = t
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, prefixed, map[string]string{"format": "pt"}, "F32"); err != nil {
		return nil, nil, err
	}
	return config, buf.Bytes(), nil
}

// peftConfig is what Read takes from adapter_config.json.
type peftConfig struct {
	PeftType      string          `json:"peft_type"`
	TaskType      *string         `json:"task_type"`
	R             int             `json:"r"`
	Alpha         float64         `json:"lora_alpha"`
	Dropout       float64         `json:"lora_dropout"`
	TargetModules json.RawMessage `json:"target_modules"`
	UseRSLoRA     bool            `json:"use_rslora"`
	UseDoRA       bool            `json:"use_dora"`
	Bias          string          `json:"bias"`
	FanInFanOut   bool            `json:"fan_in_fan_out"`
	BaseModel     *string         `json:"base_model_name_or_path"`
	RankPattern   map[string]any  `json:"rank_pattern"`
	AlphaPattern  map[string]any  `json:"alpha_pattern"`
	LayersToXform json.RawMessage `json:"layers_to_transform"`
}

// Read validates adapter files (ours or PEFT's) against a base model and
// returns the adapter. Every problem names the file and the key.
func Read(c *checkpoint.Config, numLabels int, configJSON []byte, weights io.ReaderAt, weightsSize int64) (*Adapter, error) {
	var pc peftConfig
	if err := json.Unmarshal(configJSON, &pc); err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %v", ConfigFile, err)
	}
	if pc.PeftType != "LORA" {
		return nil, fmt.Errorf("%s: peft_type is %q, expected \"LORA\"", ConfigFile, pc.PeftType)
	}
	if pc.TaskType != nil && *pc.TaskType != "SEQ_CLS" {
		return nil, fmt.Errorf("%s: task_type is %q, expected \"SEQ_CLS\" (sequence classification)", ConfigFile, *pc.TaskType)
	}
	if pc.UseDoRA {
		return nil, fmt.Errorf("%s: use_dora is true; DoRA adapters are not supported", ConfigFile)
	}
	if pc.Bias != "" && pc.Bias != "none" {
		return nil, fmt.Errorf("%s: bias is %q; only \"none\" is supported", ConfigFile, pc.Bias)
	}
	if pc.FanInFanOut {
		return nil, fmt.Errorf("%s: fan_in_fan_out is true; DistilBERT's Linear layers expect false", ConfigFile)
	}
	if len(pc.RankPattern) > 0 || len(pc.AlphaPattern) > 0 {
		return nil, fmt.Errorf("%s: rank_pattern/alpha_pattern are not supported", ConfigFile)
	}
	if len(pc.LayersToXform) > 0 && string(pc.LayersToXform) != "null" {
		return nil, fmt.Errorf("%s: layers_to_transform is not supported", ConfigFile)
	}
	lc := lora.Config{R: pc.R, Alpha: pc.Alpha, Dropout: pc.Dropout, UseRSLoRA: pc.UseRSLoRA}
	if err := json.Unmarshal(pc.TargetModules, &lc.TargetModules); err != nil {
		var one string
		if json.Unmarshal(pc.TargetModules, &one) == nil {
			return nil, fmt.Errorf("%s: target_modules is the regex %q; expected a list of module names", ConfigFile, one)
		}
		return nil, fmt.Errorf("%s: target_modules must be a list of module names", ConfigFile)
	}
	if err := lc.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", ConfigFile, err)
	}
	a := &Adapter{LoRA: lc, Tensors: map[string]*safetensors.Tensor{}}
	if pc.BaseModel != nil {
		a.BaseModel = *pc.BaseModel
	}
	f, err := safetensors.Open(WeightsFile, weights, weightsSize)
	if err != nil {
		return nil, err
	}
	want := ExpectedShapes(c, &lc, numLabels)
	for _, key := range f.Keys() {
		name, ok := strings.CutPrefix(key, KeyPrefix)
		if !ok {
			return nil, fmt.Errorf("%s: key %q lacks PEFT's %q prefix", WeightsFile, key, KeyPrefix)
		}
		// Older PEFT versions kept the adapter name in saved keys.
		name = strings.Replace(name, ".lora_A.default.weight", ".lora_A.weight", 1)
		name = strings.Replace(name, ".lora_B.default.weight", ".lora_B.weight", 1)
		shape, ok := want[name]
		if !ok {
			return nil, fmt.Errorf("%s: unexpected tensor %q for r=%d on %v of a %d-layer model with %d labels", WeightsFile, key, lc.R, lc.TargetModules, c.NLayers, numLabels)
		}
		if info := f.Tensors[key]; !slices.Equal(info.Shape, shape) {
			return nil, fmt.Errorf("%s: tensor %q has shape %v, expected %v", WeightsFile, key, info.Shape, shape)
		}
		t, err := f.Float32(key)
		if err != nil {
			return nil, err
		}
		a.Tensors[name] = t
	}
	var missing []string
	for k := range want {
		if _, ok := a.Tensors[k]; !ok {
			missing = append(missing, KeyPrefix+k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing tensor(s): %s", WeightsFile, strings.Join(missing[:min(3, len(missing))], ", "))
	}
	return a, nil
}

// Merge folds the adapter into the base weights (W + scale·B·A) and adds the
// head, giving a DistilBertForSequenceClassification state dict.
func Merge(base checkpoint.Weights, a *Adapter) checkpoint.Weights {
	out := checkpoint.Weights{}
	for k, t := range base {
		out[k] = t
	}
	for k, t := range a.Tensors {
		if !strings.Contains(k, ".lora_") {
			out[k] = t
		}
	}
	scale := float32(a.LoRA.Scale())
	for k, A := range a.Tensors {
		mod, ok := strings.CutSuffix(k, ".lora_A.weight")
		if !ok {
			continue
		}
		B := a.Tensors[mod+".lora_B.weight"]
		W := base[mod+".weight"]
		r, in, outDim := A.Shape[0], A.Shape[1], B.Shape[0]
		merged := &safetensors.Tensor{Shape: []int{outDim, in}, Data: slices.Clone(W.Data)}
		for o := 0; o < outDim; o++ {
			row := merged.Data[o*in : (o+1)*in]
			for j := 0; j < r; j++ {
				b := scale * B.Data[o*r+j]
				arow := A.Data[j*in : (j+1)*in]
				for i := range row {
					row[i] += b * arow[i]
				}
			}
		}
		out[mod+".weight"] = merged
	}
	return out
}
