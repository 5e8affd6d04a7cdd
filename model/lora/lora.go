// Package lora holds LoRA's configuration and initialisation with PEFT's
// semantics: for a frozen Linear W (out×in), y = W x + b + scale·B(A(dropout(x))),
// A [r, in] kaiming-uniform(a=√5), B [out, r] zeros, scale = alpha/r
// (alpha/√r with rsLoRA).
package lora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Modules that LoRA may target in a DistilBERT layer, and where they live.
var Modules = map[string]string{
	"q_lin": "attention.q_lin", "k_lin": "attention.k_lin", "v_lin": "attention.v_lin",
	"out_lin": "attention.out_lin", "lin1": "ffn.lin1", "lin2": "ffn.lin2",
}

// Config is the subset of PEFT's LoraConfig that shapes training.
type Config struct {
	R             int      `json:"r"`
	Alpha         float64  `json:"lora_alpha"`
	Dropout       float64  `json:"lora_dropout"`
	TargetModules []string `json:"target_modules"`
	UseRSLoRA     bool     `json:"use_rslora"`
}

// Default is the reference notebook's configuration.
func Default() Config {
	return Config{R: 8, Alpha: 32, Dropout: 0.1, TargetModules: []string{"q_lin", "v_lin"}}
}

// Validate checks the values and normalises the target list (sorted, unique).
// MaxRank bounds r: a rank above the layer's width adds nothing, and a
// hostile one would size gigabytes of matrices.
const MaxRank = 1024

func (c *Config) Validate() error {
	if c.R <= 0 || c.R > MaxRank {
		return fmt.Errorf("LoRA rank r must be from 1 to %d, got %d", MaxRank, c.R)
	}
	if !(c.Alpha > 0 && c.Alpha <= 1e6) {
		return fmt.Errorf("lora_alpha must be positive (and at most 1e6), got %g", c.Alpha)
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		return fmt.Errorf("lora_dropout must be in [0, 1), got %g", c.Dropout)
	}
	if len(c.TargetModules) == 0 {
		return fmt.Errorf("no LoRA target modules; choose from %s", strings.Join(ModuleNames(), ", "))
	}
	for _, m := range c.TargetModules {
		if _, ok := Modules[m]; !ok {
			return fmt.Errorf("unknown LoRA target module %q; choose from %s", m, strings.Join(ModuleNames(), ", "))
		}
	}
	slices.Sort(c.TargetModules)
	c.TargetModules = slices.Compact(c.TargetModules)
	return nil
}

// ModuleNames lists the targetable module names, sorted.
func ModuleNames() []string {
	var names []string
	for k := range Modules {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Scale is alpha/r, or alpha/√r with rsLoRA.
func (c *Config) Scale() float64 {
	if c.UseRSLoRA {
		return c.Alpha / math.Sqrt(float64(c.R))
	}
	return c.Alpha / float64(c.R)
}

// Targets reports whether a module (e.g. "attention.q_lin") carries LoRA.
func (c *Config) Targets(module string) bool {
	for _, m := range c.TargetModules {
		if Modules[m] == module {
			return true
		}
	}
	return false
}

// InitA draws A [r, in] as torch.nn.init.kaiming_uniform_(a=√5) does:
// bound = gain·√(3/fan_in) with gain = √(2/(1+a²)), i.e. bound = 1/√in.
func InitA(rng *rand.Rand, r, in int) []float32 {
	bound := 1 / math.Sqrt(float64(in))
	a := make([]float32, r*in)
	for i := range a {
		a[i] = float32((rng.Float64()*2 - 1) * bound)
	}
	return a
}
