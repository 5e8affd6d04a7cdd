// Package safetensors reads and writes the safetensors format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header, then the raw little-endian tensor bytes.
//
// We keep our own small implementation rather than a third-party package
// because we need three things together that no maintained Go package offers
// and that build for GOOS=js: reading from an io.ReaderAt (a browser File or
// an in-memory ArrayBuffer, never a path), converting F16/BF16 to float32 on
// the fly, and writing byte-for-byte what Python's safetensors writes
// (sorted keys, space-padded 8-byte-aligned header, __metadata__).
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Tensor is a host tensor in float32, row-major.
type Tensor struct {
	Shape []int
	Data  []float32
}

// NumElements is the product of the shape.
func (t *Tensor) NumElements() int { return numElements(t.Shape) }

func numElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// elementsWithin is the product of a shape, checked dimension by
// dimension against limit (the elements the file's data could hold) so that
// a hostile shape can neither overflow nor ask for more memory than the file
// has bytes.
func elementsWithin(shape []int, limit int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d", d)
		}
		if d == 0 {
			return 0, nil
		}
		if int64(d) > limit/n {
			return 0, fmt.Errorf("more elements than the file's %d data elements could hold", limit)
		}
		n *= int64(d)
	}
	return n, nil
}

// Info describes one tensor of a file's header.
type Info struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// File is an opened safetensors file. Tensor data is read lazily from the
// underlying ReaderAt, so a large checkpoint is never held twice.
type File struct {
	Name     string // for error messages
	Metadata map[string]string
	Tensors  map[string]Info
	r        io.ReaderAt
	dataBase int64
}

// maxHeader guards against a corrupt length prefix asking for gigabytes.
const maxHeader = 100 << 20

var dtypeSize = map[string]int{"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}

// Open parses and validates the header of a safetensors file of the given size.
func Open(name string, r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("%s: not a safetensors file: %d bytes, expected at least an 8-byte header length", name, size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("%s: reading header length: %w", name, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader || int64(n) > size-8 {
		return nil, fmt.Errorf("%s: not a safetensors file or truncated: header length %d but file has %d bytes", name, n, size)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("%s: reading header: %w", name, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("%s: header is not valid JSON: %v", name, err)
	}
	f := &File{Name: name, Tensors: map[string]Info{}, r: r, dataBase: 8 + int64(n)}
	dataLen := size - f.dataBase
	for key, msg := range raw {
		if key == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("%s: __metadata__ must map strings to strings: %v", name, err)
			}
			continue
		}
		var info Info
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&info); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: bad header entry: %v", name, key, err)
		}
		es, ok := dtypeSize[info.DType]
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q: unknown dtype %q", name, key, info.DType)
		}
		begin, end := info.DataOffsets[0], info.DataOffsets[1]
		if begin < 0 || end < begin || end > dataLen {
			return nil, fmt.Errorf("%s: tensor %q: data offsets [%d, %d] outside the %d data bytes (file truncated?)", name, key, begin, end, dataLen)
		}
		elems, err := elementsWithin(info.Shape, dataLen/int64(es))
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: shape %v: %v", name, key, info.Shape, err)
		}
		if want := elems * int64(es); end-begin != want {
			return nil, fmt.Errorf("%s: tensor %q: %s %v needs %d bytes, header gives %d", name, key, info.DType, info.Shape, want, end-begin)
		}
		f.Tensors[key] = info
	}
	return f, nil
}

// OpenBytes opens a safetensors file held in memory.
func OpenBytes(name string, b []byte) (*File, error) {
	return Open(name, bytes.NewReader(b), int64(len(b)))
}

// Keys returns the tensor names in sorted order.
func (f *File) Keys() []string {
	keys := make([]string, 0, len(f.Tensors))
	for k := range f.Tensors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Float32 reads one tensor, converting F16, BF16 and F64 to float32.
func (f *File) Float32(key string) (*Tensor, error) {
	info, ok := f.Tensors[key]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q", f.Name, key)
	}
	raw := make([]byte, info.DataOffsets[1]-info.DataOffsets[0])
	if _, err := f.r.ReadAt(raw, f.dataBase+info.DataOffsets[0]); err != nil && !(err == io.EOF && len(raw) == 0) {
		return nil, fmt.Errorf("%s: tensor %q: reading data: %w", f.Name, key, err)
	}
	n := numElements(info.Shape)
	out := make([]float32, n)
	switch info.DType {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = F16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	default:
		return nil, fmt.Errorf("%s: tensor %q has dtype %s, expected a float type (F32, F16, BF16)", f.Name, key, info.DType)
	}
	// A NaN or an infinity in weights poisons every result after it:
	// refuse the file, naming where.
	for i, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%s: tensor %q: element %d is %v; the weights must be finite numbers", f.Name, key, i, v)
		}
	}
	return &Tensor{Shape: append([]int{}, info.Shape...), Data: out}, nil
}

// F16ToF32 converts IEEE 754 half precision bits to float32.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: renormalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// F32ToF16 converts float32 to IEEE 754 half precision, rounding to nearest even.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	if b&0x7fffffff >= 0x7f800000 { // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	if exp >= 0x1f {
		return sign | 0x7c00
	}
	if exp <= 0 {
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, which is the correct rounding
	}
	return sign | uint16(half)
}

// Write writes tensors in the layout Python's safetensors produces: keys sorted,
// header JSON padded with spaces to a multiple of 8 bytes, data contiguous.
// dtype is "F32" or "F16".
func Write(w io.Writer, tensors map[string]*Tensor, metadata map[string]string, dtype string) error {
	es, ok := map[string]int{"F32": 4, "F16": 2}[dtype]
	if !ok {
		return fmt.Errorf("safetensors: cannot write dtype %q, expected F32 or F16", dtype)
	}
	keys := make([]string, 0, len(tensors))
	for k := range tensors {
		if k == "__metadata__" {
			return fmt.Errorf("safetensors: %q is reserved", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var hdr strings.Builder
	hdr.WriteString("{")
	if len(metadata) > 0 {
		m, _ := json.Marshal(metadata)
		hdr.WriteString(`"__metadata__":`)
		hdr.Write(m)
	}
	var off int64
	for i, k := range keys {
		t := tensors[k]
		if t.NumElements() != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q: shape %v needs %d values, has %d", k, t.Shape, t.NumElements(), len(t.Data))
		}
		if i > 0 || len(metadata) > 0 {
			hdr.WriteString(",")
		}
		kj, _ := json.Marshal(k)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		sj, _ := json.Marshal(shape)
		n := int64(len(t.Data) * es)
		fmt.Fprintf(&hdr, `%s:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, kj, dtype, sj, off, off+n)
		off += n
	}
	hdr.WriteString("}")
	h := hdr.String()
	if pad := (8 - len(h)%8) % 8; pad > 0 {
		h += strings.Repeat(" ", pad)
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(h)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, h); err != nil {
		return err
	}
	for _, k := range keys {
		t := tensors[k]
		buf := make([]byte, len(t.Data)*es)
		for i, v := range t.Data {
			if es == 4 {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			} else {
				binary.LittleEndian.PutUint16(buf[2*i:], F32ToF16(v))
			}
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}
