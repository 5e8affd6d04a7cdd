package kernels

import (
	"errors"
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
)

// node is a recorded value: the Value our Function hands to GoMLX.
type node struct {
	id     int
	shadow compute.Value // the same value in the shadow graph (for shapes)
	shape  shapes.Shape
	op     *op // nil for parameters
	param  int // parameter index, when op is nil
}

// op is one recorded call: a compute.Function method name and its
// arguments, with *node where the caller passed values.
type op struct {
	name    string
	args    []any
	outputs []*node
}

// Builder records one computation.
type Builder struct {
	backend *Backend
	name    string
	shadow  compute.Builder
	main    *Function
	nodes   []*node
}

func (b *Builder) Name() string           { return b.name }
func (b *Builder) Main() compute.Function { return b.main }

func (b *Builder) NewFunction(string) (compute.Function, error) {
	return nil, fmt.Errorf("%s backend: sub-functions: %w", BackendName, compute.ErrNotImplemented)
}

func (b *Builder) OpShape(v compute.Value) (shapes.Shape, error) {
	n, ok := v.(*node)
	if !ok {
		return shapes.Invalid(), fmt.Errorf("%s backend: value %T is not from this builder", BackendName, v)
	}
	return n.shape, nil
}

func (b *Builder) DistributedSPMD(int) error { return compute.ErrNotImplemented }
func (b *Builder) DistributedAutoSharding(...compute.Mesh) error {
	return compute.ErrNotImplemented
}
func (b *Builder) DeviceAssignment(devices ...compute.DeviceNum) error {
	if len(devices) == 1 && devices[0] == 0 {
		return nil
	}
	return compute.ErrNotImplemented
}

// Function records the main function's ops; every op is also applied to a
// shadow function of the inner backend, which validates it and infers shapes.
type Function struct {
	builder *Builder
	shadow  compute.Function
	ops     []*op
	params  []*node
	names   []string
	outputs []*node
	done    bool
}

func (f *Function) Name() string             { return compute.MainName }
func (f *Function) Builder() compute.Builder { return f.builder }
func (f *Function) Parent() compute.Function { return nil }
func (f *Function) Closure() (compute.Function, error) {
	return nil, fmt.Errorf("%s backend: closures: %w", BackendName, compute.ErrNotImplemented)
}

func (f *Function) newNode(shadow compute.Value, o *op) (*node, error) {
	shape, err := f.shadow.Shape(shadow)
	if err != nil {
		return nil, err
	}
	n := &node{id: len(f.builder.nodes), shadow: shadow, shape: shape, op: o, param: -1}
	f.builder.nodes = append(f.builder.nodes, n)
	return n, nil
}

func (f *Function) Parameter(name string, shape shapes.Shape, sharding *compute.ShardingSpec) (compute.Value, error) {
	if sharding != nil {
		return nil, compute.ErrNotImplemented
	}
	v, err := f.shadow.Parameter(name, shape, nil)
	if err != nil {
		return nil, err
	}
	n, err := f.newNode(v, nil)
	if err != nil {
		return nil, err
	}
	n.param = len(f.params)
	f.params = append(f.params, n)
	f.names = append(f.names, name)
	return n, nil
}

func (f *Function) Constant(flat any, dims ...int) (compute.Value, error) {
	r, err := f.record("Constant", flat, dims)
	if err != nil {
		return nil, err
	}
	return r[0].(compute.Value), nil
}

func (f *Function) Shape(v compute.Value) (shapes.Shape, error) { return f.builder.OpShape(v) }

func (f *Function) Return(outputs []compute.Value, shardings []*compute.ShardingSpec) error {
	if f.done {
		return errors.New("Return called twice")
	}
	for _, o := range outputs {
		n, ok := o.(*node)
		if !ok {
			return fmt.Errorf("%s backend: output %T is not from this builder", BackendName, o)
		}
		f.outputs = append(f.outputs, n)
	}
	f.done = true
	return nil
}

func (f *Function) Call(compute.Function, ...compute.Value) ([]compute.Value, error) {
	return nil, fmt.Errorf("%s backend: Call: %w", BackendName, compute.ErrNotImplemented)
}

func (f *Function) Sort(compute.Function, int, bool, ...compute.Value) ([]compute.Value, error) {
	return nil, fmt.Errorf("%s backend: Sort: %w", BackendName, compute.ErrNotImplemented)
}

func (f *Function) While(compute.Function, compute.Function, ...compute.Value) ([]compute.Value, error) {
	return nil, fmt.Errorf("%s backend: While: %w", BackendName, compute.ErrNotImplemented)
}

func (f *Function) If(compute.Value, compute.Function, compute.Function) ([]compute.Value, error) {
	return nil, fmt.Errorf("%s backend: If: %w", BackendName, compute.ErrNotImplemented)
}

// record applies a method to the shadow function (with shadow values in
// place of our nodes) and keeps the call for replay at Compile.
func (f *Function) record(name string, args ...any) ([]any, error) {
	if f.done {
		return nil, errors.New("function already returned")
	}
	o := &op{name: name, args: args}
	results, err := call(f.shadow, name, args, func(n *node) compute.Value { return n.shadow })
	if err != nil {
		return nil, err
	}
	out := make([]any, len(results))
	for i, r := range results {
		switch v := r.(type) {
		case []compute.Value:
			nodes := make([]compute.Value, len(v))
			for j, sv := range v {
				n, err := f.newNode(sv, o)
				if err != nil {
					return nil, err
				}
				o.outputs = append(o.outputs, n)
				nodes[j] = n
			}
			out[i] = nodes
		default:
			if r == nil {
				out[i] = nil
				continue
			}
			n, err := f.newNode(r, o)
			if err != nil {
				return nil, err
			}
			o.outputs = append(o.outputs, n)
			out[i] = compute.Value(n)
		}
	}
	f.ops = append(f.ops, o)
	return out, nil
}

// call invokes fn.<name>(args...) through the generated replays table,
// mapping each *node (also inside []compute.Value) through val. Results:
// every non-error result, with []compute.Value kept as a slice.
func call(fn compute.Function, name string, args []any, val func(*node) compute.Value) ([]any, error) {
	replay, ok := replays[name]
	if !ok {
		return nil, fmt.Errorf("%s backend: no replay for %s", BackendName, name)
	}
	mapped := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case *node:
			mapped[i] = val(v)
		case []compute.Value:
			vs := make([]compute.Value, len(v))
			for j, x := range v {
				if n, ok := x.(*node); ok {
					vs[j] = val(n)
				} else {
					vs[j] = x
				}
			}
			mapped[i] = vs
		default:
			mapped[i] = a
		}
	}
	return replay(fn, mapped)
}

// as converts a recorded argument back to its parameter type; a nil stands
// for the type's zero value.
func as[T any](x any) T {
	if x == nil {
		var zero T
		return zero
	}
	return x.(T)
}

func init() {
	replays["Constant"] = func(fn compute.Function, a []any) ([]any, error) {
		r, err := fn.Constant(a[0], as[[]int](a[1])...)
		return []any{r}, err
	}
}
