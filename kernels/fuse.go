package kernels

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// Element-wise fusion. After the matrix products, a training step's time
// goes to chains of element-wise ops (GELU, LayerNorm, softmax's and
// dropout's arithmetic, AdamW), each of which the pure-Go backend runs as a
// separate pass writing a fresh buffer. Compile gathers runs of such ops
// that share one index space (same element count, row-major) into a
// Program: a short register code over blocks of elements, which a kernel
// runs in one pass (simd.wat's interpreter, WGSL generated from it) and Go
// can always interpret (the fallback, and the tests' reference).

// Opcode is one instruction of a fused Program. The numbers (0, 1, 2, …
// in this order) are shared with kernels/simd/simd.wat.
type Opcode int32

const (
	OpLoad        Opcode = iota // Dst ← input (same index space)
	OpLoadScalar                // Dst ← input[0], broadcast
	OpLoadPattern               // Dst ← input[Pattern.index(i)] (a broadcast or a transpose)
	OpLoadBool                  // Dst ← input (bool) as 0 or 1
	OpConst                     // Dst ← Imm
	OpStore                     // output ← B
	OpStoreBool                 // output (bool) ← B ≠ 0
	OpAdd                       // Dst ← A + B
	OpSub
	OpMul
	OpDiv
	OpMin
	OpMax
	OpNeg // Dst ← -A
	OpAbs
	OpSqrt
	OpRsqrt
	OpExp
	OpErf
	OpSign
	OpGE // Dst ← A ≥ B ? 1 : 0
	OpGT
	OpLE
	OpLT
	OpEQ
	OpNE
	OpWhere // Dst ← A ≠ 0 ? B : C
	// Device extensions: fused only when a device runs the programs (the
	// SIMD interpreter lacks them; Go's runs them when a device is lost).
	OpLog
	OpLoadInt // Dst ← input (int32) as float32
)

var binaryOps = map[string]Opcode{"Add": OpAdd, "Sub": OpSub, "Mul": OpMul, "Div": OpDiv, "Min": OpMin, "Max": OpMax,
	"GreaterOrEqual": OpGE, "GreaterThan": OpGT, "LessOrEqual": OpLE, "LessThan": OpLT, "Equal": OpEQ, "NotEqual": OpNE}

var unaryOps = map[string]Opcode{"Neg": OpNeg, "Abs": OpAbs, "Sqrt": OpSqrt, "Rsqrt": OpRsqrt, "Exp": OpExp,
	"Erf": OpErf, "Sign": OpSign, "Log": OpLog}

// extended tells whether a program uses the device extensions.
func (p *Program) extended() bool {
	return slices.ContainsFunc(p.Code, func(in Instr) bool { return in.Op >= OpLog })
}

// Instr is one instruction. Registers hold float32 values for a block of
// the index space; booleans are 0 and 1.
type Instr struct {
	Op        Opcode
	Dst, A, B int
	C         int
	Imm       float32
	Pattern   Pattern // of OpLoadPattern
	Input     int     // OpLoad*: which input; OpStore*: which output
}

// Program is a fused run of element-wise ops.
type Program struct {
	Size    int            // elements in the index space
	Inputs  []shapes.Shape // the step's input buffers, in order
	Outputs []shapes.Shape // the step's output buffers, in order
	Code    []Instr
	Regs    int    // registers the code uses
	Key     string // the code as text: equal keys, equal programs (for caches)
}

func (p *Program) String() string { return p.Key }

// FusedKernel runs fused programs. Fused returns compute.ErrNotImplemented
// for a program it declines; Go's interpreter then runs it.
type FusedKernel interface {
	Fused(p *Program, inputs []compute.Buffer) ([]compute.Buffer, error)
}

// MinFusedSize is the smallest index space worth a fused step of its own;
// smaller element-wise ops stay in the pure-Go segments.
const MinFusedSize = 2048

// fusion gathers ops into one Program as Compile walks the graph.
type fusion struct {
	size    int
	ops     []*op
	members map[*node]bool
}

// fusible tells whether op o can join g (or, with g nil, start a group).
// blocked holds nodes that g may not read (produced after g was opened by
// ops outside it); consts are the graph's scalar float32 constants.
func fusible(o *op, g *fusion, blocked map[*node]bool, consts map[*node]float32, minSize int, ext bool) bool {
	if len(o.outputs) != 1 {
		return false
	}
	out := o.outputs[0].shape
	n := out.Size()
	if n < minSize || (g != nil && n != g.size) || (out.DType != dtypes.Float32 && out.DType != dtypes.Bool) {
		return false
	}
	inGroup := func(x *node) bool { return g != nil && g.members[x] }
	// readable: an operand the program can load or already holds.
	readable := func(x *node, bool_ bool) bool {
		if _, ok := consts[x]; ok {
			return !bool_
		}
		if inGroup(x) {
			return true
		}
		if blocked[x] {
			return false
		}
		switch {
		case bool_:
			return x.shape.DType == dtypes.Bool && x.shape.Size() == n
		case x.shape.DType != dtypes.Float32:
			return false
		case x.shape.Size() == n || x.shape.Size() == 1:
			return true
		default: // implicit broadcast of a same-rank operand with 1s
			_, ok := broadcastPattern(x.shape, out, identityAxes(x.shape.Rank()))
			return ok && x.shape.Rank() == out.Rank()
		}
	}
	args := nodeArgs(o)
	switch {
	case binaryOps[o.name] != 0:
		return readable(args[0], false) && readable(args[1], false) &&
			(out.DType == dtypes.Bool) == (binaryOps[o.name] >= OpGE)
	case o.name == "Log" && !ext:
		return false
	case unaryOps[o.name] != 0 || o.name == "Identity":
		return out.DType == dtypes.Float32 && readable(args[0], false)
	case o.name == "Where":
		return out.DType == dtypes.Float32 && readable(args[0], true) && readable(args[1], false) && readable(args[2], false)
	case o.name == "ConvertDType" && ext && args[0].shape.DType == dtypes.Int32:
		x := args[0]
		return out.DType == dtypes.Float32 && x.shape.Size() == n && !blocked[x] && !inGroup(x)
	case o.name == "ConvertDType":
		from := args[0].shape.DType
		return out.DType == dtypes.Float32 && (from == dtypes.Float32 || from == dtypes.Bool) && readable(args[0], from == dtypes.Bool)
	case o.name == "Reshape":
		return out.DType == dtypes.Float32 && args[0].shape.DType == dtypes.Float32 && readable(args[0], false)
	case o.name == "Transpose":
		x := args[0]
		if inGroup(x) || blocked[x] || x.shape.DType != dtypes.Float32 {
			return false
		}
		_, ok := transposePattern(x.shape, out, o.args[1].([]int))
		return ok
	case o.name == "BroadcastInDim":
		x := args[0]
		if _, ok := consts[x]; ok {
			return out.DType == dtypes.Float32
		}
		if inGroup(x) || blocked[x] || x.shape.DType != dtypes.Float32 || out.DType != dtypes.Float32 {
			return false
		}
		_, ok := broadcastPattern(x.shape, out, o.args[2].([]int))
		return ok
	}
	return false
}

func nodeArgs(o *op) []*node {
	var ns []*node
	forNodes(o.args, func(n *node) { ns = append(ns, n) })
	return ns
}

func identityAxes(rank int) []int {
	axes := make([]int, rank)
	for i := range axes {
		axes[i] = i
	}
	return axes
}

// Pattern is a load's index map over the program's flat index i: the sum
// over its four runs of ((i/div)%mod)*mul. One run per group of output axes
// that are consecutive in the operand too; a repeated (broadcast) axis has
// no run. Unused runs are {1, 1, 0}.
type Pattern [12]int

var noPattern = Pattern{1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0}

// index is the operand index that element i reads.
func (q *Pattern) index(i int) int {
	return ((i/q[0])%q[1])*q[2] + ((i/q[3])%q[4])*q[5] + ((i/q[6])%q[7])*q[8] + ((i/q[9])%q[10])*q[11]
}

// gatherPattern builds the pattern of a load where output axis a reads the
// operand with element stride mul[a] (0: repeated).
func gatherPattern(out shapes.Shape, mul []int) (Pattern, bool) {
	type run struct{ div, mod, mul int }
	var runs []run
	outSt := rowMajorStrides(out)
	for a := out.Rank() - 1; a >= 0; a-- {
		if mul[a] == 0 || out.Dimensions[a] == 1 {
			continue
		}
		if len(runs) > 0 {
			r := &runs[len(runs)-1]
			// Axis a continues the run when it is the next-outer axis of
			// both the output and the operand.
			if r.div*r.mod == outSt[a] && r.mul*r.mod == mul[a] {
				r.mod *= out.Dimensions[a]
				continue
			}
		}
		runs = append(runs, run{div: outSt[a], mod: out.Dimensions[a], mul: mul[a]})
	}
	pat := noPattern
	if len(runs) > 4 {
		return pat, false
	}
	for i, r := range runs {
		pat[3*i], pat[3*i+1], pat[3*i+2] = r.div, r.mod, r.mul
	}
	return pat, true
}

// broadcastPattern is the pattern of BroadcastInDim(x, out, axes): x's axis
// i becomes the output's axis axes[i].
func broadcastPattern(x, out shapes.Shape, axes []int) (Pattern, bool) {
	if len(axes) != x.Rank() {
		return noPattern, false
	}
	mul := make([]int, out.Rank())
	st := rowMajorStrides(x)
	for i, a := range axes {
		if a < 0 || a >= out.Rank() {
			return noPattern, false
		}
		if x.Dimensions[i] == out.Dimensions[a] && x.Dimensions[i] != 1 {
			mul[a] = st[i]
		} else if x.Dimensions[i] != 1 {
			return noPattern, false
		}
	}
	return gatherPattern(out, mul)
}

// transposePattern is the pattern of Transpose(x, perm): output axis a is
// x's axis perm[a].
func transposePattern(x, out shapes.Shape, perm []int) (Pattern, bool) {
	if len(perm) != x.Rank() || out.Rank() != x.Rank() {
		return noPattern, false
	}
	st := rowMajorStrides(x)
	mul := make([]int, out.Rank())
	for a, p := range perm {
		mul[a] = st[p]
	}
	return gatherPattern(out, mul)
}

// program compiles a group into code. Its inputs are the nodes it loads,
// its outputs the nodes read outside it (by ops not in the group, or as
// graph outputs).
func (g *fusion) program(consumers map[*node][]*op, graphOutputs map[*node]bool, consts map[*node]float32) (*Program, []*node, []*node) {
	inGroup := map[*op]bool{}
	for _, o := range g.ops {
		inGroup[o] = true
	}
	// The last op (index in the group) reading each node: its register is
	// reused after that.
	lastUse := map[*node]int{}
	for i, o := range g.ops {
		for _, n := range nodeArgs(o) {
			lastUse[n] = i
		}
	}
	p := &Program{Size: g.size}
	var inputs, outputs []*node
	reg := map[*node]int{}  // node -> register holding it
	owners := map[int]int{} // register -> nodes it holds (Reshape and Identity alias)
	var free []int
	setReg := func(n *node, r int) { reg[n] = r; owners[r]++ }
	release := func(n *node) {
		r := reg[n]
		delete(reg, n)
		if owners[r]--; owners[r] == 0 {
			free = append(free, r)
		}
	}
	alloc := func() int {
		if len(free) > 0 {
			r := free[len(free)-1]
			free = free[:len(free)-1]
			return r
		}
		p.Regs++
		return p.Regs - 1
	}
	emit := func(in Instr) int {
		in.Dst = alloc()
		p.Code = append(p.Code, in)
		return in.Dst
	}
	inputIndex := func(x *node) int {
		if i := slices.Index(inputs, x); i >= 0 {
			return i
		}
		inputs = append(inputs, x)
		p.Inputs = append(p.Inputs, x.shape)
		return len(inputs) - 1
	}
	// broadcast loads x along a pattern into a fresh register.
	broadcast := func(x *node, pat Pattern) int {
		if v, ok := consts[x]; ok {
			return emit(Instr{Op: OpConst, Imm: v})
		}
		switch pat {
		case Pattern{1, g.size, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0}:
			return emit(Instr{Op: OpLoad, Input: inputIndex(x)})
		case noPattern:
			return emit(Instr{Op: OpLoadScalar, Input: inputIndex(x)})
		}
		return emit(Instr{Op: OpLoadPattern, Input: inputIndex(x), Pattern: pat})
	}
	// operand returns the register holding x for an op of output shape
	// out, loading x when it comes from outside the group.
	operand := func(x *node, out shapes.Shape) int {
		if r, ok := reg[x]; ok {
			return r
		}
		var r int
		v, isConst := consts[x]
		switch {
		case isConst:
			r = emit(Instr{Op: OpConst, Imm: v})
		case x.shape.DType == dtypes.Bool:
			r = emit(Instr{Op: OpLoadBool, Input: inputIndex(x)})
		case x.shape.DType == dtypes.Int32:
			r = emit(Instr{Op: OpLoadInt, Input: inputIndex(x)})
		case x.shape.Size() == g.size:
			r = emit(Instr{Op: OpLoad, Input: inputIndex(x)})
		case x.shape.Size() == 1:
			r = emit(Instr{Op: OpLoadScalar, Input: inputIndex(x)})
		default: // implicit broadcast of a same-rank operand
			pat, _ := broadcastPattern(x.shape, out, identityAxes(x.shape.Rank()))
			return broadcast(x, pat) // not kept: another reader may differ in shape
		}
		setReg(x, r)
		return r
	}
	for i, o := range g.ops {
		out := o.outputs[0]
		args := nodeArgs(o)
		switch {
		case o.name == "BroadcastInDim":
			pat := noPattern
			if _, isConst := consts[args[0]]; !isConst {
				pat, _ = broadcastPattern(args[0].shape, out.shape, o.args[2].([]int))
			}
			setReg(out, broadcast(args[0], pat))
		case o.name == "Transpose":
			pat, _ := transposePattern(args[0].shape, out.shape, o.args[1].([]int))
			setReg(out, broadcast(args[0], pat))
		case o.name == "Reshape" || o.name == "Identity" || o.name == "ConvertDType":
			setReg(out, operand(args[0], out.shape)) // the same values
		default:
			var r []int
			for _, a := range args {
				r = append(r, operand(a, out.shape))
			}
			in := Instr{A: r[0]}
			if code, ok := binaryOps[o.name]; ok {
				in.Op, in.B = code, r[1]
			} else if code, ok := unaryOps[o.name]; ok {
				in.Op = code
			} else { // Where
				in.Op, in.B, in.C = OpWhere, r[1], r[2]
			}
			setReg(out, emit(in))
		}
		if graphOutputs[out] || slices.ContainsFunc(consumers[out], func(c *op) bool { return !inGroup[c] }) {
			outputs = append(outputs, out)
			p.Outputs = append(p.Outputs, out.shape)
			st := Instr{Op: OpStore, Input: len(outputs) - 1, B: reg[out]}
			if out.shape.DType == dtypes.Bool {
				st.Op = OpStoreBool
			}
			p.Code = append(p.Code, st)
		}
		for _, n := range append(args, out) {
			last, read := lastUse[n]
			if _, held := reg[n]; held && (!read || last <= i) {
				release(n)
			}
		}
	}
	var key strings.Builder
	fmt.Fprintf(&key, "size=%d regs=%d in=%v out=%v;", p.Size, p.Regs, p.Inputs, p.Outputs)
	for _, in := range p.Code {
		fmt.Fprintf(&key, "%d %d %d %d %d %g %v %d;", in.Op, in.Dst, in.A, in.B, in.C, in.Imm, in.Pattern, in.Input)
	}
	p.Key = key.String()
	return p, inputs, outputs
}

// Interpret runs a program in Go over flat inputs ([]float32 or []bool)
// into flat outputs: the reference semantics, and the fallback of every
// kernel. Blocks of 256 elements keep the registers in cache.
func (p *Program) Interpret(inputs, outputs []any) { p.InterpretRange(inputs, outputs, 0, p.Size) }

// InterpretRange runs the program over elements [from, to) only: disjoint
// ranges may run at once (Parallel).
func (p *Program) InterpretRange(inputs, outputs []any, from, to int) {
	const block = 256
	regs := make([][]float32, p.Regs)
	for i := range regs {
		regs[i] = make([]float32, block)
	}
	for i0 := from; i0 < to; i0 += block {
		n := min(block, to-i0)
		for _, in := range p.Code {
			var d []float32
			if in.Op != OpStore && in.Op != OpStoreBool {
				d = regs[in.Dst][:n]
			}
			switch in.Op {
			case OpLoad:
				copy(d, inputs[in.Input].([]float32)[i0:i0+n])
			case OpLoadScalar:
				v := inputs[in.Input].([]float32)[0]
				for j := range d {
					d[j] = v
				}
			case OpLoadPattern:
				x := inputs[in.Input].([]float32)
				for j := range d {
					d[j] = x[in.Pattern.index(i0+j)]
				}
			case OpLoadInt:
				for j, v := range inputs[in.Input].([]int32)[i0 : i0+n] {
					d[j] = float32(v)
				}
			case OpLoadBool:
				for j, v := range inputs[in.Input].([]bool)[i0 : i0+n] {
					d[j] = b2f(v)
				}
			case OpConst:
				for j := range d {
					d[j] = in.Imm
				}
			case OpStore:
				copy(outputs[in.Input].([]float32)[i0:i0+n], regs[in.B][:n])
			case OpStoreBool:
				o := outputs[in.Input].([]bool)[i0 : i0+n]
				for j, v := range regs[in.B][:n] {
					o[j] = v != 0
				}
			case OpWhere:
				c, t, f := regs[in.A], regs[in.B], regs[in.C]
				for j := range d {
					if c[j] != 0 {
						d[j] = t[j]
					} else {
						d[j] = f[j]
					}
				}
			default:
				a, b := regs[in.A], regs[in.B]
				for j := range d {
					d[j] = apply(in.Op, a[j], b[j])
				}
			}
		}
	}
}

// apply is one arithmetic instruction on one element, as the pure-Go
// backend computes it (float64 for the transcendental functions).
func apply(op Opcode, a, b float32) float32 {
	switch op {
	case OpAdd:
		return a + b
	case OpSub:
		return a - b
	case OpMul:
		return a * b
	case OpDiv:
		return a / b
	case OpMin:
		return min(a, b)
	case OpMax:
		return max(a, b)
	case OpNeg:
		return -a
	case OpAbs:
		return float32(math.Abs(float64(a)))
	case OpSqrt:
		return float32(math.Sqrt(float64(a)))
	case OpRsqrt:
		return float32(1 / math.Sqrt(float64(a)))
	case OpExp:
		return float32(math.Exp(float64(a)))
	case OpErf:
		return float32(math.Erf(float64(a)))
	case OpLog:
		return float32(math.Log(float64(a)))
	case OpSign:
		switch {
		case a > 0:
			return 1
		case a < 0:
			return -1
		}
		return a
	case OpGE:
		return b2f(a >= b)
	case OpGT:
		return b2f(a > b)
	case OpLE:
		return b2f(a <= b)
	case OpLT:
		return b2f(a < b)
	case OpEQ:
		return b2f(a == b)
	case OpNE:
		return b2f(a != b)
	}
	panic(fmt.Sprintf("opcode %d", op))
}

func b2f(v bool) float32 {
	if v {
		return 1
	}
	return 0
}

// runFused runs a program on the kernel, falling back to Go's interpreter.
func (b *Backend) runFused(p *Program, in []compute.Buffer) ([]compute.Buffer, error) {
	if k, ok := b.Kernel.(FusedKernel); ok {
		out, err := k.Fused(p, in)
		if err == nil {
			return out, nil
		}
		if !compute.IsNotImplemented(err) {
			return nil, fmt.Errorf("%s kernel: %w", b.Kernel.Name(), err)
		}
	}
	return interpretOn(b.Backend, p, in, (*Program).Interpret)
}

// interpretOn runs a program with run (Go's or the SIMD interpreter) on the
// flat values of the inner backend's buffers, into new buffers.
func interpretOn(inner compute.Backend, p *Program, in []compute.Buffer, run func(*Program, []any, []any)) ([]compute.Buffer, error) {
	inputs := make([]any, len(in))
	for i, buf := range in {
		var err error
		if inputs[i], err = flatValues(buf, p.Inputs[i]); err != nil {
			return nil, err
		}
	}
	bufs := make([]compute.Buffer, len(p.Outputs))
	outputs := make([]any, len(p.Outputs))
	for i, sh := range p.Outputs {
		var err error
		if bufs[i], outputs[i], err = inner.NewSharedBuffer(0, sh); err != nil {
			return nil, err
		}
	}
	run(p, inputs, outputs)
	return bufs, nil
}

// flatValues returns a buffer's []float32 or []bool values, without copying
// when the backend shares its memory.
func flatValues(b compute.Buffer, sh shapes.Shape) (any, error) {
	switch sh.DType {
	case dtypes.Float32:
		return flat32(b, sh)
	case dtypes.Int32:
		f := make([]int32, sh.Size())
		return f, b.ToFlatData(f)
	}
	if d, err := b.Data(); err == nil {
		if f, ok := d.([]bool); ok && len(f) == sh.Size() {
			return f, nil
		}
	}
	f := make([]bool, sh.Size())
	return f, b.ToFlatData(f)
}
