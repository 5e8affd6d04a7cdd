package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/webtune/webtune/model/safetensors"
)

// The training state is one safetensors file: every trainable tensor and
// both AdamW moments, plus (in __metadata__) the options, the step, the data
// position and the dropout RNG. Loading it into a trainer built on the same
// base model continues the run exactly where it stopped.

const stateVersion = "1"

type stateMeta struct {
	Version   string   `json:"version"`
	Options   Options  `json:"options"`
	Step      int      `json:"step"`
	Epoch     int      `json:"epoch"`
	BatchInEp int      `json:"batch_in_epoch"`
	RNG       []string `json:"rng"` // uint64 words as decimal strings (JSON numbers lose bits)
	BaseModel string   `json:"base_model"`
}

// SaveState writes the whole training state.
func (t *Trainer) SaveState(w io.Writer) error {
	ts := map[string]*safetensors.Tensor{}
	for i, k := range t.trainableKeys {
		ts["param/"+k] = hostTensor(t.params[i])
		ts["exp_avg/"+k] = hostTensor(t.m[i])
		ts["exp_avg_sq/"+k] = hostTensor(t.v[i])
	}
	meta := stateMeta{Version: stateVersion, Options: t.Opts, Step: t.Step, Epoch: t.Epoch, BatchInEp: t.BatchInEp, BaseModel: t.Base.Name}
	for _, x := range tensors.MustCopyFlatData[uint64](t.rng) {
		meta.RNG = append(meta.RNG, strconv.FormatUint(x, 10))
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return safetensors.Write(w, ts, map[string]string{"format": "pt", "webtune_state": string(mb)}, "F32")
}

// StateOptions reads just the options of a saved state, so a trainer with
// the same settings can be built before LoadState.
func StateOptions(b []byte) (Options, error) {
	f, err := safetensors.OpenBytes("training state", b)
	if err != nil {
		return Options{}, err
	}
	meta, err := readMeta(f)
	return meta.Options, err
}

func readMeta(f *safetensors.File) (stateMeta, error) {
	var meta stateMeta
	raw, ok := f.Metadata["webtune_state"]
	if !ok {
		return meta, fmt.Errorf("%s: not a webtune training state (no webtune_state metadata)", f.Name)
	}
	if err := json.Unmarshal([]byte(raw), &meta); err != nil {
		return meta, fmt.Errorf("%s: corrupt state metadata: %v", f.Name, err)
	}
	if meta.Version != stateVersion {
		return meta, fmt.Errorf("%s: state version %q, this build reads %q", f.Name, meta.Version, stateVersion)
	}
	return meta, nil
}

// LoadState restores a state saved by SaveState. The trainer must have been
// built with the same options and base model.
func (t *Trainer) LoadState(b []byte) error {
	f, err := safetensors.OpenBytes("training state", b)
	if err != nil {
		return err
	}
	meta, err := readMeta(f)
	if err != nil {
		return err
	}
	if meta.BaseModel != t.Base.Name {
		return fmt.Errorf("training state was made on base model %q, this one is %q", meta.BaseModel, t.Base.Name)
	}
	a, _ := json.Marshal(meta.Options)
	o, _ := json.Marshal(t.Opts)
	if !bytes.Equal(a, o) {
		return fmt.Errorf("training state was made with other settings: %s", a)
	}
	load := func(prefix string, dst []*tensors.Tensor) error {
		for i, k := range t.trainableKeys {
			x, err := f.Float32(prefix + k)
			if err != nil {
				return err
			}
			if want := t.params[i].Shape().Dimensions; !slices.Equal(x.Shape, want) {
				return fmt.Errorf("training state: %s%s has shape %v, expected %v", prefix, k, x.Shape, want)
			}
			dst[i] = tensors.FromFlatDataAndDimensions(x.Data, x.Shape...)
		}
		return nil
	}
	params, m, v := make([]*tensors.Tensor, len(t.params)), make([]*tensors.Tensor, len(t.params)), make([]*tensors.Tensor, len(t.params))
	for _, p := range []struct {
		prefix string
		dst    []*tensors.Tensor
	}{{"param/", params}, {"exp_avg/", m}, {"exp_avg_sq/", v}} {
		if err := load(p.prefix, p.dst); err != nil {
			return err
		}
	}
	rng := make([]uint64, len(meta.RNG))
	for i, s := range meta.RNG {
		if rng[i], err = strconv.ParseUint(s, 10, 64); err != nil {
			return fmt.Errorf("training state: bad RNG word %q", s)
		}
	}
	if len(rng) != t.rng.Shape().Size() {
		return fmt.Errorf("training state: RNG has %d words, expected %d", len(rng), t.rng.Shape().Size())
	}
	t.params, t.m, t.v = params, m, v
	t.rng = tensors.FromFlatDataAndDimensions(rng, t.rng.Shape().Dimensions...)
	t.Step, t.Epoch, t.BatchInEp = meta.Step, meta.Epoch, meta.BatchInEp
	return nil
}
