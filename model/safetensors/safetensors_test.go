package safetensors

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/webtune/webtune/internal/testpaths"
)

// Re-writing a file that PyTorch/PEFT wrote reproduces it byte for byte.
func TestWriteMatchesPythonSafetensors(t *testing.T) {
	path := filepath.Join(testpaths.TinyModel(t), "reference", "adapter_model.safetensors")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := OpenBytes(path, orig)
	if err != nil {
		t.Fatal(err)
	}
	ts := map[string]*Tensor{}
	for _, k := range f.Keys() {
		if ts[k], err = f.Float32(k); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, ts, f.Metadata, "F32"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), orig) {
		n := 8 + int(orig[0]) + int(orig[1])<<8
		t.Fatalf("rewritten file differs from PEFT's\nours:   %.300s\npeft's: %.300s", buf.Bytes()[8:], orig[8:n])
	}
}

func TestHalfPrecision(t *testing.T) {
	cases := []struct {
		bits uint16
		f    float32
	}{{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.960464477539063e-08}, {0x3555, 0.33325195}, {0x0000, 0}, {0x8000, float32(math.Copysign(0, -1))}}
	for _, c := range cases {
		if got := F16ToF32(c.bits); got != c.f {
			t.Errorf("F16ToF32(%#04x) = %v, want %v", c.bits, got, c.f)
		}
		if got := F32ToF16(c.f); got != c.bits {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", c.f, got, c.bits)
		}
	}
	if !math.IsInf(float64(F16ToF32(0x7c00)), 1) || !math.IsNaN(float64(F16ToF32(0x7e00))) {
		t.Error("inf/nan")
	}
	// Every half value survives a round trip through float32.
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := F32ToF16(f); back != uint16(h) {
			t.Fatalf("round trip of %#04x gave %#04x", h, back)
		}
	}
}

func TestReadF16AndBF16(t *testing.T) {
	vals := []float32{1.5, -0.25, 3.140625, 0}
	var buf bytes.Buffer
	if err := Write(&buf, map[string]*Tensor{"x": {Shape: []int{2, 2}, Data: vals}}, nil, "F16"); err != nil {
		t.Fatal(err)
	}
	f, err := OpenBytes("h.safetensors", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	x, err := f.Float32("x")
	if err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		if x.Data[i] != vals[i] {
			t.Fatalf("F16 value %d: %v want %v", i, x.Data[i], vals[i])
		}
	}
	// A hand-built BF16 file: 1.0 = 0x3f80, -2.5 = 0xc020.
	hdr := `{"b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`
	raw := append([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}, hdr...)
	raw = append(raw, 0x80, 0x3f, 0x20, 0xc0)
	f, err = OpenBytes("b.safetensors", raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Float32("b")
	if err != nil {
		t.Fatal(err)
	}
	if b.Data[0] != 1 || b.Data[1] != -2.5 {
		t.Fatalf("BF16 = %v", b.Data)
	}
}

func TestBadFiles(t *testing.T) {
	var good bytes.Buffer
	if err := Write(&good, map[string]*Tensor{"w": {Shape: []int{4}, Data: []float32{1, 2, 3, 4}}}, nil, "F32"); err != nil {
		t.Fatal(err)
	}
	g := good.Bytes()
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":     {nil, "at least an 8-byte header"},
		"truncated": {g[:len(g)-3], "outside the"},
		"header":    {g[:20], "header length"},
		"not json":  {append([]byte{4, 0, 0, 0, 0, 0, 0, 0}, "abcd"...), "not valid JSON"},
		"bad shape": {rawFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}`, 16), "needs 12 bytes"},
		"dtype":     {rawFile(`{"w":{"dtype":"Q4","shape":[4],"data_offsets":[0,16]}}`, 16), "unknown dtype"},
		// 2^61 × 2 elements of F32 wrap to 0 bytes in 64-bit arithmetic.
		"overflow": {rawFile(`{"w":{"dtype":"F32","shape":[2305843009213693952,2],"data_offsets":[0,0]}}`, 0), "more elements than"},
		"huge":     {rawFile(`{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,16]}}`, 16), "more elements than"},
		"negative": {rawFile(`{"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}`, 16), "negative dimension"},
	}
	for name, c := range cases {
		_, err := OpenBytes("m.safetensors", c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "m.safetensors") {
			t.Errorf("%s: error %v, want one naming the file and containing %q", name, err, c.want)
		}
	}
}

func rawFile(header string, dataLen int) []byte {
	b := []byte{byte(len(header)), byte(len(header) >> 8), 0, 0, 0, 0, 0, 0}
	return append(append(b, header...), make([]byte, dataLen)...)
}

// Weights that are not finite numbers are refused, naming the tensor and
// the element.
func TestNonFiniteWeights(t *testing.T) {
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		var buf bytes.Buffer
		if err := Write(&buf, map[string]*Tensor{"w": {Shape: []int{3}, Data: []float32{1, v, 2}}}, nil, "F32"); err != nil {
			t.Fatal(err)
		}
		f, err := OpenBytes("nan.safetensors", buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Float32("w"); err == nil || !strings.Contains(err.Error(), `nan.safetensors: tensor "w": element 1 is`) {
			t.Errorf("%v: error %v", v, err)
		}
	}
}

// Whatever the bytes, opening and reading never panics nor allocates more
// than the file could hold.
func FuzzOpen(f *testing.F) {
	var good bytes.Buffer
	if err := Write(&good, map[string]*Tensor{"w": {Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}}, map[string]string{"format": "pt"}, "F16"); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(rawFile(`{"w":{"dtype":"F32","shape":[2305843009213693952,2],"data_offsets":[0,0]}}`, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := OpenBytes("fuzz.safetensors", b)
		if err != nil {
			return
		}
		for _, k := range sf.Keys() {
			if x, err := sf.Float32(k); err == nil && len(x.Data) > len(b) {
				t.Fatalf("%d values from %d bytes", len(x.Data), len(b))
			}
		}
	})
}
