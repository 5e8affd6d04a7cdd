// Package api is webtune's HTTP API: the handler the WebAssembly program
// serves inside the browser's Worker (through syumai/workers), and that
// native tests drive with net/http/httptest. It owns one session: a base
// model, datasets, a trainer and the results; all work goes through the
// same trainer the CLI uses.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/compute"

	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/dataset"
	"github.com/webtune/webtune/model/metrics"
	"github.com/webtune/webtune/model/peft"
	"github.com/webtune/webtune/model/tokenize"
	"github.com/webtune/webtune/model/train"
)

// Config wires the API to its environment.
type Config struct {
	// Backend returns the compute backend and a description of the path
	// ("CPU (pure Go)", "WebGPU: <adapter>").
	Backend func() (compute.Backend, string, error)
	// Compute describes the compute path for the page's header.
	Compute string
	// Yield lets the host's event loop run between training steps (in the
	// browser, Go must hand control back to JavaScript for messages to flow).
	Yield func()
}

// Server is the API's state: one browser tab's session.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu       sync.Mutex
	staged   map[string][]byte // model files waiting for /api/model/load
	model    *checkpoint.Model
	tok      *tokenize.Tokenizer
	datasets []*Dataset
	nextID   int
	adapterF map[string][]byte // adapter files waiting for /api/adapter/import
	imported *peft.Adapter

	run *Run // the current or last training run
}

// Dataset is one loaded file.
type Dataset struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"` // "train" or "eval"
	Rows     int    `json:"rows"`
	Labels   []int  `json:"label_counts"`
	examples []dataset.Example
	// encoded caches the tokenized rows per max length: tokenize once per
	// dataset, however many runs follow. Cleared when the model changes.
	encoded map[int]*train.Encoded
}

func (d *Dataset) encode(tok *tokenize.Tokenizer, maxLen int) (*train.Encoded, error) {
	if e, ok := d.encoded[maxLen]; ok {
		return e, nil
	}
	e, err := train.Encode(tok, d.examples, maxLen)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", d.Name, err)
	}
	if d.encoded == nil {
		d.encoded = map[int]*train.Encoded{}
	}
	d.encoded[maxLen] = e
	return e, nil
}

// Run is a training run and what it produced.
type Run struct {
	Trainer *train.Trainer
	Base    *peft.Adapter // the adapter before training: "base" in comparisons
	Train   *train.Encoded
	Eval    *train.Encoded
	Before  *metrics.Metrics
	After   *metrics.Metrics
	History []train.Progress
	Running bool
	Stopped bool
	Err     string
	Compute string
	cancel  context.CancelFunc
	// state is the last snapshot of the training state, taken between
	// steps by the training goroutine itself.
	state     []byte
	stateStep int
}

// snapshot serialises the training state; call only between steps.
func (r *Run) snapshot() error {
	var buf bytes.Buffer
	if err := r.Trainer.SaveState(&buf); err != nil {
		return err
	}
	r.state, r.stateStep = buf.Bytes(), r.Trainer.Step
	return nil
}

// New creates the API server.
func New(cfg Config) *Server {
	if cfg.Yield == nil {
		cfg.Yield = func() {}
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), staged: map[string][]byte{}, adapterF: map[string][]byte{}}
	s.mux.HandleFunc("GET /api/status", s.status)
	s.mux.HandleFunc("PUT /api/model/files/{name}", s.stageModelFile)
	s.mux.HandleFunc("POST /api/model/load", s.loadModel)
	s.mux.HandleFunc("POST /api/datasets", s.addDataset)
	s.mux.HandleFunc("GET /api/datasets", s.listDatasets)
	s.mux.HandleFunc("PATCH /api/datasets/{id}", s.setRole)
	s.mux.HandleFunc("DELETE /api/datasets/{id}", s.deleteDataset)
	s.mux.HandleFunc("POST /api/train", s.train)
	s.mux.HandleFunc("POST /api/stop", s.stop)
	s.mux.HandleFunc("POST /api/evaluate", s.evaluate)
	s.mux.HandleFunc("POST /api/predict", s.predict)
	s.mux.HandleFunc("GET /api/adapter/{file}", s.downloadAdapter)
	s.mux.HandleFunc("PUT /api/adapter/files/{name}", s.stageAdapterFile)
	s.mux.HandleFunc("POST /api/adapter/import", s.importAdapter)
	s.mux.HandleFunc("GET /api/state", s.getState)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			writeErr(w, http.StatusInternalServerError, fmt.Errorf("internal error: %v", p))
		}
	}()
	if _, pattern := s.mux.Handler(r); pattern == "" {
		noRoute(s.mux, w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// noRoute answers a request no route takes in the API's JSON error format
// (the mux itself answers text): 405 with Allow for a known path and
// another method, else 404.
func noRoute(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	probe := &statusOnly{header: http.Header{}}
	mux.ServeHTTP(probe, r)
	if probe.code == http.StatusMethodNotAllowed {
		allow := probe.header.Get("Allow")
		w.Header().Set("Allow", allow)
		writeErr(w, http.StatusMethodNotAllowed, fmt.Errorf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow))
		return
	}
	writeErr(w, http.StatusNotFound, fmt.Errorf("no API route %s %s", r.Method, r.URL.Path))
}

// statusOnly keeps a response's status and headers and drops its body.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.code = code }

// maxUpload bounds one uploaded file (wasm32 has a 4 GB address space).
const maxUpload = 1 << 30

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxUpload+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxUpload {
		return nil, fmt.Errorf("file larger than %d MB", maxUpload>>20)
	}
	return b, nil
}

// writeJSON answers v as JSON; a value that cannot be encoded (a NaN
// metric) answers a 500 JSON error instead of an empty body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": fmt.Sprintf("the answer could not be encoded: %v", err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// ---- model ----

func (s *Server) stageModelFile(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.PathValue("name"))
	b, err := readBody(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("%s: %v", name, err))
		return
	}
	s.mu.Lock()
	s.staged[name] = b
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "bytes": len(b)})
}

// ModelInfo describes the loaded base model.
type ModelInfo struct {
	Name    string   `json:"name"`
	Layers  int      `json:"layers"`
	Dim     int      `json:"dim"`
	Heads   int      `json:"heads"`
	Vocab   int      `json:"vocab"`
	MaxLen  int      `json:"max_positions"`
	Params  int      `json:"params"`
	HasHead bool     `json:"has_head"`
	Labels  []string `json:"labels"`
}

func (s *Server) loadModel(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil && s.run.Running {
		writeErr(w, http.StatusConflict, errors.New("stop training before loading another model"))
		return
	}
	files := checkpoint.Files(s.staged)
	m, err := checkpoint.Load(files, req.Name)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	tok, err := checkpoint.LoadTokenizer(files)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	if err := m.CheckTokenizer(tok); err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	s.model, s.tok, s.staged = m, tok, map[string][]byte{}
	for _, d := range s.datasets {
		d.encoded = nil // another tokenizer
	}
	s.run, s.imported = nil, nil
	writeJSON(w, http.StatusOK, s.modelInfo())
}

func (s *Server) modelInfo() *ModelInfo {
	if s.model == nil {
		return nil
	}
	n := 0
	for _, t := range s.model.Weights {
		n += len(t.Data)
	}
	c := s.model.Config
	return &ModelInfo{Name: s.model.Name, Layers: c.NLayers, Dim: c.Dim, Heads: c.NHeads, Vocab: c.VocabSize, MaxLen: c.MaxPositionEmbeddings,
		Params: n, HasHead: s.model.HasHead, Labels: dataset.SST2Labels}
}

// ---- datasets ----

// DatasetView is a dataset as the page shows it.
type DatasetView struct {
	*Dataset
	Preview   []PreviewRow `json:"preview"`
	Histogram *Histogram   `json:"length_histogram,omitempty"`
}

// PreviewRow is one row of the preview table.
type PreviewRow struct {
	Text  string `json:"text"`
	Label int    `json:"label"`
}

// Histogram counts rows by token length in fixed-width bins.
type Histogram struct {
	BinWidth  int   `json:"bin_width"`
	Counts    []int `json:"counts"`
	Truncated int   `json:"truncated"` // rows longer than max_len
	MaxLen    int   `json:"max_len"`
}

func (s *Server) view(d *Dataset, maxLen int) DatasetView {
	v := DatasetView{Dataset: d}
	for _, e := range d.examples[:min(8, len(d.examples))] {
		v.Preview = append(v.Preview, PreviewRow{Text: e.Text, Label: e.Label})
	}
	if s.tok != nil {
		// Tokenizing every row of a large file for a preview would stall the
		// page: sample evenly up to 2,000 rows.
		h := &Histogram{BinWidth: 8, Counts: make([]int, 16), MaxLen: maxLen}
		step := max(1, len(d.examples)/2000)
		for i := 0; i < len(d.examples); i += step {
			ids, err := s.tok.Encode(d.examples[i].Text, 1<<20)
			if err != nil {
				continue
			}
			if len(ids) > maxLen {
				h.Truncated++
			}
			h.Counts[min(len(ids)/h.BinWidth, len(h.Counts)-1)]++
		}
		v.Histogram = h
	}
	return v
}

func (s *Server) addDataset(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Query().Get("name"))
	if name == "" || name == "." || name == "/" {
		writeErr(w, http.StatusBadRequest, errors.New("missing ?name= of the dataset file"))
		return
	}
	role := r.URL.Query().Get("role")
	if role == "" {
		role = guessRole(name)
	}
	if role != "train" && role != "eval" {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("role %q must be train or eval", role))
		return
	}
	ex, err := readDataset(name, r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	st := dataset.Summarize(ex, len(dataset.SST2Labels))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	d := &Dataset{ID: s.nextID, Name: name, Role: role, Rows: st.Rows, Labels: st.LabelCounts, examples: ex}
	s.datasets = append(s.datasets, d)
	writeJSON(w, http.StatusOK, s.view(d, maxLenParam(r)))
}

// readDataset parses an uploaded file. Text formats stream straight from the
// request body, so a large file is never held in memory as bytes and again
// as sentences; Parquet needs random access and is buffered.
func readDataset(name string, r *http.Request) ([]dataset.Example, error) {
	var ex []dataset.Example
	var err error
	switch format, _ := dataset.DetectFormat(name, nil); format {
	case dataset.TSV:
		ex, err = dataset.ReadTSV(name, r.Body, dataset.SST2Labels)
	case dataset.CSV:
		ex, err = dataset.ReadCSV(name, r.Body, dataset.SST2Labels)
	case dataset.JSONL:
		ex, err = dataset.ReadJSONL(name, r.Body, dataset.SST2Labels)
	default: // Parquet, or a name without a telling extension: sniff the bytes
		b, rerr := readBody(r)
		if rerr != nil {
			return nil, fmt.Errorf("%s: %v", name, rerr)
		}
		return dataset.Read(name, bytes.NewReader(b), int64(len(b)), dataset.SST2Labels)
	}
	if err == nil && len(ex) == 0 {
		err = fmt.Errorf("%s: no labelled rows found; expected sentence and label columns", name)
	}
	return ex, err
}

// guessRole puts dev/validation/test files in evaluation.
func guessRole(name string) string {
	n := strings.ToLower(name)
	for _, k := range []string{"dev", "valid", "test", "eval"} {
		if strings.Contains(n, k) {
			return "eval"
		}
	}
	return "train"
}

func maxLenParam(r *http.Request) int {
	if v, err := strconv.Atoi(r.URL.Query().Get("max_len")); err == nil && v > 2 {
		return v
	}
	return 64
}

func (s *Server) listDatasets(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []DatasetView{}
	for _, d := range s.datasets {
		out = append(out, s.view(d, maxLenParam(r)))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) findDataset(r *http.Request) (int, error) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	for i, d := range s.datasets {
		if d.ID == id {
			return i, nil
		}
	}
	return -1, fmt.Errorf("no dataset %q", r.PathValue("id"))
}

func (s *Server) setRole(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Role string `json:"role"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || (req.Role != "train" && req.Role != "eval") {
		writeErr(w, http.StatusBadRequest, errors.New(`expected {"role": "train"} or {"role": "eval"}`))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.findDataset(r)
	if err != nil {
		writeErr(w, http.StatusNotFound, err)
		return
	}
	s.datasets[i].Role = req.Role
	writeJSON(w, http.StatusOK, s.datasets[i])
}

func (s *Server) deleteDataset(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.findDataset(r)
	if err != nil {
		writeErr(w, http.StatusNotFound, err)
		return
	}
	s.datasets = append(s.datasets[:i], s.datasets[i+1:]...)
	writeJSON(w, http.StatusOK, map[string]bool{"deleted": true})
}

// ---- status ----

// Status is the whole session at a glance, for a page that (re)connects.
type Status struct {
	Model    *ModelInfo      `json:"model"`
	Datasets []*Dataset      `json:"datasets"`
	Run      *RunView        `json:"run"`
	Defaults train.Options   `json:"defaults"`
	Compute  string          `json:"compute"`
	Adapter  *AdapterSummary `json:"imported_adapter,omitempty"`
	MemoryMB float64         `json:"memory_mb"` // the WebAssembly memory the Go program holds (its peak: it never shrinks)
}

// AdapterSummary describes an imported adapter.
type AdapterSummary struct {
	R       int      `json:"r"`
	Alpha   float64  `json:"lora_alpha"`
	Targets []string `json:"target_modules"`
	Base    string   `json:"base_model_name_or_path"`
}

// RunView is a training run as the page shows it.
type RunView struct {
	Running         bool             `json:"running"`
	Stopped         bool             `json:"stopped"`
	Error           string           `json:"error,omitempty"`
	Step            int              `json:"step"`
	TotalSteps      int              `json:"total_steps"`
	Options         train.Options    `json:"options"`
	Compute         string           `json:"compute"`
	Before          *metrics.Metrics `json:"before,omitempty"`
	After           *metrics.Metrics `json:"after,omitempty"`
	History         []train.Progress `json:"history"`
	TrainableParams int              `json:"trainable_params"`
	TotalParams     int              `json:"total_params"`
	TrainRows       int              `json:"train_rows"`
	EvalRows        int              `json:"eval_rows"`
	MicroBatch      int              `json:"micro_batch"` // rows per forward/backward pass
	PeakEstimateMB  float64          `json:"peak_estimate_mb"`
}

func (s *Server) runView() *RunView {
	r := s.run
	if r == nil {
		return nil
	}
	v := &RunView{Running: r.Running, Stopped: r.Stopped, Error: r.Err, Step: r.Trainer.Step, Options: r.Trainer.Opts, Compute: r.Compute,
		Before: r.Before, After: r.After, History: r.History, TrainableParams: r.Trainer.TrainableParams(), TotalParams: r.Trainer.TotalParams(),
		TrainRows: r.Train.Len(), EvalRows: r.Eval.Len(), MicroBatch: r.Trainer.MicroBatch(),
		PeakEstimateMB: float64(train.PeakBytes(r.Trainer.Base.Config, &r.Trainer.Opts)) / (1 << 20)}
	v.TotalSteps = r.Trainer.TotalSteps(r.Train.Len())
	if v.History == nil {
		v.History = []train.Progress{}
	}
	return v
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Model: s.modelInfo(), Datasets: s.datasets, Run: s.runView(), Defaults: train.Defaults(), Compute: s.cfg.Compute,
		MemoryMB: train.SystemMemoryMB()}
	if st.Datasets == nil {
		st.Datasets = []*Dataset{}
	}
	if a := s.imported; a != nil {
		st.Adapter = &AdapterSummary{R: a.LoRA.R, Alpha: a.LoRA.Alpha, Targets: a.LoRA.TargetModules, Base: a.BaseModel}
	}
	writeJSON(w, http.StatusOK, st)
}

// ---- training ----

// EvalSetup says where evaluation rows come from.
type EvalSetup struct {
	Source   string  `json:"source"` // "files" (datasets with role eval) or "split"
	Fraction float64 `json:"fraction"`
	Seed     uint64  `json:"seed"`
}

// TrainRequest starts (or resumes) a run.
type TrainRequest struct {
	Options train.Options `json:"options"`
	Eval    EvalSetup     `json:"eval"`
	// Resume: continue the current run (after Stop), or with State set,
	// restore a saved training state (base64 in JSON) and continue it.
	Resume bool   `json:"resume"`
	State  []byte `json:"state,omitempty"`
	// FromAdapter starts from the imported adapter instead of a fresh one.
	FromAdapter bool `json:"from_adapter"`
	// CheckpointEvery snapshots the training state every N steps (and at
	// Stop) for GET /api/state; a "checkpoint" event announces each.
	CheckpointEvery int `json:"checkpoint_every"`
}

// MemoryBudget is what a run may need by train.PeakBytes: the page stays
// under 1.5 GB of WebAssembly memory (4 GB is the hard limit) with the
// collector's slack on top of the estimate.
const MemoryBudget = 1100 << 20

// Event is one NDJSON line of a training stream.
type Event struct {
	Type     string           `json:"type"` // start, step, eval, done, stopped, error
	Progress *train.Progress  `json:"progress,omitempty"`
	Run      *RunView         `json:"run,omitempty"`
	Metrics  *metrics.Metrics `json:"metrics,omitempty"`
	Error    string           `json:"error,omitempty"`
}

// encoded returns the tokenized rows of every dataset with the role, in order.
func (s *Server) encoded(role string, maxLen int) (*train.Encoded, error) {
	out := &train.Encoded{}
	for _, d := range s.datasets {
		if d.Role != role {
			continue
		}
		e, err := d.encode(s.tok, maxLen)
		if err != nil {
			return nil, err
		}
		out.IDs = append(out.IDs, e.IDs...)
		out.Labels = append(out.Labels, e.Labels...)
		out.Tokens += e.Tokens
	}
	return out, nil
}

// prepare builds the run for a request (under s.mu).
func (s *Server) prepare(req *TrainRequest, evalOnly bool) (*Run, error) {
	if s.model == nil {
		return nil, errors.New("load a base model first")
	}
	if s.run != nil && s.run.Running {
		return nil, errors.New("a training run is already in progress")
	}
	if req.Resume && req.State == nil {
		if s.run == nil || s.run.Trainer.Step >= s.run.Trainer.TotalSteps(s.run.Train.Len()) {
			return nil, errors.New("there is no stopped run to resume")
		}
		return s.run, nil
	}
	opts := req.Options
	if req.State != nil {
		var err error
		if opts, err = train.StateOptions(req.State); err != nil {
			return nil, err
		}
	}
	if req.FromAdapter {
		if s.imported == nil {
			return nil, errors.New("import an adapter first")
		}
		opts.LoRA = s.imported.LoRA
	}
	if opts.NumLabels == 0 {
		opts.NumLabels = len(dataset.SST2Labels)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	trainSet, err := s.encoded("train", opts.MaxLen)
	if err != nil {
		return nil, err
	}
	if trainSet.Len() == 0 && !(evalOnly && req.Eval.Source != "split") {
		return nil, errors.New("add a training dataset first")
	}
	var evalSet *train.Encoded
	switch req.Eval.Source {
	case "split":
		if err := train.CheckFraction(req.Eval.Fraction); err != nil {
			return nil, err
		}
		trainSet, evalSet = trainSet.Split(req.Eval.Fraction, req.Eval.Seed)
	default:
		if evalSet, err = s.encoded("eval", opts.MaxLen); err != nil {
			return nil, err
		}
		if evalSet.Len() == 0 {
			return nil, errors.New("add an evaluation file (or choose a held-out split)")
		}
	}
	if (trainSet.Len() == 0 && !evalOnly) || evalSet.Len() == 0 {
		return nil, errors.New("the split left no training or no evaluation rows")
	}
	if peak := train.PeakBytes(s.model.Config, &opts); peak > MemoryBudget {
		return nil, fmt.Errorf("this run would need about %d MB (the model's weights twice and one pass's activations), more than the page's %d MB: use a smaller model, or a lower micro-batch or max length",
			peak>>20, MemoryBudget>>20)
	}
	backend, desc, err := s.cfg.Backend()
	if err != nil {
		return nil, err
	}
	tr, err := train.New(backend, s.model, opts)
	if err != nil {
		return nil, err
	}
	if req.FromAdapter {
		if err := tr.SetAdapter(s.imported); err != nil {
			return nil, err
		}
	}
	run := &Run{Trainer: tr, Base: tr.Adapter(), Train: trainSet, Eval: evalSet, Compute: desc}
	if req.State != nil {
		if err := tr.LoadState(req.State); err != nil {
			return nil, err
		}
	}
	return run, nil
}

func (s *Server) train(w http.ResponseWriter, r *http.Request) {
	var req TrainRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("bad training request: %v", err))
		return
	}
	s.mu.Lock()
	run, err := s.prepare(&req, false)
	if err != nil {
		s.mu.Unlock()
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	// A client that goes away stops the run (which keeps its state, as a
	// stop does), so it cannot block the next one.
	ctx, cancel := context.WithCancel(r.Context())
	run.Running, run.Stopped, run.Err, run.cancel = true, false, "", cancel
	s.run = run
	s.mu.Unlock()
	defer cancel()

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	send := func(e Event) {
		_ = enc.Encode(e)
		if flusher != nil {
			flusher.Flush()
		}
	}
	s.mu.Lock()
	send(Event{Type: "start", Run: s.runView()})
	s.mu.Unlock()
	s.cfg.Yield()

	if run.Before == nil {
		// "Before" is always the untrained adapter, also when resuming a saved state.
		m, err := evaluateWith(ctx, run.Trainer, run.Base, run.Eval)
		if err != nil {
			s.finish(run, err, send)
			return
		}
		s.mu.Lock()
		run.Before = &m
		s.mu.Unlock()
		send(Event{Type: "eval", Metrics: &m, Progress: &train.Progress{Step: run.Trainer.Step}})
	}
	lastSend := time.Time{}
	err = run.Trainer.Train(ctx, run.Train, run.Eval, func(p train.Progress) {
		s.mu.Lock()
		run.History = append(run.History, p)
		s.mu.Unlock()
		// Every step goes into the history; the stream gets at most ~10
		// lines a second, and every evaluation.
		if req.CheckpointEvery > 0 && p.Step%req.CheckpointEvery == 0 && p.Step < p.TotalSteps {
			if err := run.snapshot(); err == nil {
				send(Event{Type: "checkpoint", Progress: &train.Progress{Step: p.Step, TotalSteps: p.TotalSteps}})
			}
		}
		if p.Eval != nil || time.Since(lastSend) > 100*time.Millisecond || p.Step == p.TotalSteps {
			typ := "step"
			if p.Eval != nil {
				typ = "eval"
			}
			pp := p
			send(Event{Type: typ, Progress: &pp, Metrics: p.Eval})
			lastSend = time.Now()
		}
		s.cfg.Yield()
	})
	s.finish(run, err, send)
}

// evaluateWith evaluates another adapter of the same shape, then restores
// the trainer's own parameters.
func evaluateWith(ctx context.Context, tr *train.Trainer, a *peft.Adapter, data *train.Encoded) (m metrics.Metrics, err error) {
	err = withParams(tr, a, func() (err error) {
		m, err = tr.EvaluateContext(ctx, data)
		return err
	})
	return m, err
}

// withParams runs fn with another adapter's tensors in the trainer, then
// puts the trainer's own back.
func withParams(tr *train.Trainer, a *peft.Adapter, fn func() error) error {
	current := tr.Adapter()
	if err := tr.SetParams(a); err != nil {
		return err
	}
	err := fn()
	if err2 := tr.SetParams(current); err == nil {
		err = err2
	}
	return err
}

func (s *Server) finish(run *Run, err error, send func(Event)) {
	s.mu.Lock()
	run.Running = false
	switch {
	case errors.Is(err, train.ErrStopped):
		run.Stopped = true
		if err := run.snapshot(); err == nil {
			send(Event{Type: "checkpoint", Progress: &train.Progress{Step: run.Trainer.Step}})
		}
		send(Event{Type: "stopped", Run: s.runView()})
	case err != nil:
		run.Err = err.Error()
		send(Event{Type: "error", Error: err.Error(), Run: s.runView()})
	default:
		if h := run.History; len(h) > 0 && h[len(h)-1].Eval != nil {
			run.After = h[len(h)-1].Eval
		}
		send(Event{Type: "done", Run: s.runView()})
	}
	s.mu.Unlock()
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil || !s.run.Running {
		writeErr(w, http.StatusConflict, errors.New("no training run in progress"))
		return
	}
	s.run.cancel()
	writeJSON(w, http.StatusOK, map[string]bool{"stopping": true})
}

// ---- evaluation and prediction ----

func (s *Server) idleRun() (*Run, error) {
	if s.run == nil {
		return nil, errors.New("no trained or imported adapter yet")
	}
	if s.run.Running {
		return nil, errors.New("wait for training to stop")
	}
	return s.run, nil
}

func (s *Server) evaluate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run, err := s.idleRun()
	if err != nil {
		writeErr(w, http.StatusConflict, err)
		return
	}
	m, err := run.Trainer.Evaluate(run.Eval)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	run.After = &m
	writeJSON(w, http.StatusOK, map[string]any{"before": run.Before, "after": m})
}

// Prediction is both models' view of one sentence.
type Prediction struct {
	Text   string    `json:"text"`
	Tokens []string  `json:"tokens"`
	Labels []string  `json:"labels"`
	Base   []float64 `json:"base"`
	Tuned  []float64 `json:"tuned"`
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || strings.TrimSpace(req.Text) == "" {
		writeErr(w, http.StatusBadRequest, errors.New(`expected {"text": "a sentence"}`))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	run, err := s.idleRun()
	if err != nil {
		writeErr(w, http.StatusConflict, err)
		return
	}
	ids, err := s.tok.Encode(req.Text, run.Trainer.Opts.MaxLen)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	one := &train.Encoded{IDs: [][]int32{ids}, Labels: []int{0}}
	tuned, err := run.Trainer.Logits(one)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	var base [][]float32
	err = withParams(run.Trainer, run.Base, func() (err error) {
		base, err = run.Trainer.Logits(one)
		return err
	})
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, Prediction{Text: req.Text, Tokens: s.tok.Tokens(req.Text), Labels: dataset.SST2Labels,
		Base: softmax(base[0]), Tuned: softmax(tuned[0])})
}

func softmax(l []float32) []float64 {
	out := make([]float64, len(l))
	mx := l[0]
	for _, v := range l {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range l {
		out[i] = math.Exp(float64(v - mx))
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// ---- adapter export and import ----

func (s *Server) downloadAdapter(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run, err := s.idleRun()
	if err != nil {
		writeErr(w, http.StatusConflict, err)
		return
	}
	a := run.Trainer.Adapter()
	cfg, weights, err := a.Write()
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	metricsJSON, _ := json.MarshalIndent(s.metricsFile(run), "", "  ")
	file := r.PathValue("file")
	var body []byte
	ctype := "application/octet-stream"
	switch file {
	case peft.ConfigFile:
		body, ctype = cfg, "application/json"
	case peft.WeightsFile:
		body = weights
	case "metrics.json":
		body, ctype = metricsJSON, "application/json"
	case "adapter.zip":
		if body, err = zipFiles(map[string][]byte{peft.ConfigFile: cfg, peft.WeightsFile: weights, "metrics.json": metricsJSON}); err != nil {
			writeErr(w, http.StatusInternalServerError, err)
			return
		}
		ctype = "application/zip"
	default:
		writeErr(w, http.StatusNotFound, fmt.Errorf("no file %q; expected %s, %s, metrics.json or adapter.zip", file, peft.ConfigFile, peft.WeightsFile))
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", file))
	_, _ = w.Write(body)
}

// metricsFile is metrics.json, with the same fields the CLI writes.
func (s *Server) metricsFile(run *Run) map[string]any {
	m := map[string]any{"train_steps": run.Trainer.Step, "trainable_params": run.Trainer.TrainableParams(),
		"total_params": run.Trainer.TotalParams(), "options": run.Trainer.Opts, "eval_rows": run.Eval.Len(),
		"base_model_name_or_path": s.model.Name, "compute": run.Compute}
	if b := run.Before; b != nil {
		m["eval_accuracy_before"], m["eval_f1_before"], m["eval_loss_before"] = b.Accuracy, b.F1, b.Loss
	}
	if a := run.After; a != nil {
		m["eval_accuracy"], m["eval_f1"], m["eval_loss"], m["eval_confusion"] = a.Accuracy, a.F1, a.Loss, a.Confusion
	}
	return m
}

func (s *Server) stageAdapterFile(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.PathValue("name"))
	if name != peft.ConfigFile && name != peft.WeightsFile {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("%s: an adapter is %s and %s", name, peft.ConfigFile, peft.WeightsFile))
		return
	}
	b, err := readBody(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	s.mu.Lock()
	s.adapterF[name] = b
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "bytes": len(b)})
}

// importAdapter validates staged adapter files against the loaded model and
// installs them in a run, so they can be evaluated, tried or trained further.
func (s *Server) importAdapter(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Eval    EvalSetup     `json:"eval"`
		Options train.Options `json:"options"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.model == nil {
		writeErr(w, http.StatusBadRequest, errors.New("load the base model the adapter was trained on first"))
		return
	}
	cfg, weights := s.adapterF[peft.ConfigFile], s.adapterF[peft.WeightsFile]
	if cfg == nil || weights == nil {
		writeErr(w, http.StatusBadRequest, fmt.Errorf("drop both %s and %s", peft.ConfigFile, peft.WeightsFile))
		return
	}
	a, err := peft.Read(s.model.Config, len(dataset.SST2Labels), cfg, bytes.NewReader(weights), int64(len(weights)))
	s.adapterF = map[string][]byte{}
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	s.imported = a
	opts := req.Options
	if opts.LR == 0 {
		opts = train.Defaults()
	}
	tr := &TrainRequest{Options: opts, Eval: req.Eval, FromAdapter: true}
	if tr.Eval.Source == "" {
		tr.Eval.Source = "files"
	}
	run, err := s.prepare(tr, true)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	s.run = run
	m, err := run.Trainer.Evaluate(run.Eval)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	run.After = &m
	writeJSON(w, http.StatusOK, map[string]any{"adapter": AdapterSummary{R: a.LoRA.R, Alpha: a.LoRA.Alpha, Targets: a.LoRA.TargetModules, Base: a.BaseModel}, "run": s.runView()})
}

// getState returns the last training-state snapshot (or, when no run is in
// progress, the current state), for the page to keep in OPFS.
func (s *Server) getState(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.run
	if run == nil {
		writeErr(w, http.StatusNotFound, errors.New("no training run"))
		return
	}
	if !run.Running {
		if err := run.snapshot(); err != nil {
			writeErr(w, http.StatusInternalServerError, err)
			return
		}
	}
	if run.state == nil {
		writeErr(w, http.StatusNotFound, errors.New("no checkpoint yet"))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Webtune-Step", strconv.Itoa(run.stateStep))
	_, _ = w.Write(run.state)
}
