package lora

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestConfig(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil || c.Scale() != 4 {
		t.Fatalf("default: %v scale %v", err, c.Scale())
	}
	c.UseRSLoRA = true
	if math.Abs(c.Scale()-32/math.Sqrt(8)) > 1e-12 {
		t.Fatal("rsLoRA scale")
	}
	if !c.Targets("attention.q_lin") || c.Targets("ffn.lin1") {
		t.Fatal("targets")
	}
	for _, bad := range []Config{{R: 0, Alpha: 1, TargetModules: []string{"q_lin"}}, {R: 8, Alpha: 32, Dropout: 1, TargetModules: []string{"q_lin"}},
		{R: 8, Alpha: 32}, {R: 8, Alpha: 32, TargetModules: []string{"query"}}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	d := Config{R: 4, Alpha: 8, TargetModules: []string{"v_lin", "q_lin", "v_lin"}}
	if err := d.Validate(); err != nil || len(d.TargetModules) != 2 || d.TargetModules[0] != "q_lin" {
		t.Fatalf("normalised targets %v", d.TargetModules)
	}
}

// kaiming_uniform_(a=√5) on [r, in] is U(-1/√in, 1/√in): check the bound
// and the variance (bound²/3).
func TestInitA(t *testing.T) {
	a := InitA(rand.New(rand.NewPCG(1, 2)), 64, 768)
	bound := 1 / math.Sqrt(768)
	var sum, sq float64
	for _, v := range a {
		if math.Abs(float64(v)) > bound {
			t.Fatalf("%v outside ±%v", v, bound)
		}
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(a))
	if mean, variance := sum/n, sq/n; math.Abs(mean) > 0.01*bound || math.Abs(variance-bound*bound/3) > 0.02*bound*bound {
		t.Fatalf("mean %v variance %v, want 0 and %v", mean, variance, bound*bound/3)
	}
}
