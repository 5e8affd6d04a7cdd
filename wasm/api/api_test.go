package api

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute"

	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/peft"
	"github.com/webtune/webtune/model/safetensors"
	"github.com/webtune/webtune/model/train"
)

func newServer(t *testing.T) *httptest.Server {
	return newServerYield(t, nil)
}

// newServerYield runs the API with a Yield hook, called after the start
// event and after every step.
func newServerYield(t *testing.T, yield func()) *httptest.Server {
	srv := New(Config{Backend: func() (compute.Backend, string, error) {
		b, err := train.NewCPUBackend()
		return b, "CPU (test)", err
	}, Yield: yield})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

func do(t *testing.T, ts *httptest.Server, method, path string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, body)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, b
}

func ok(t *testing.T, res *http.Response, b []byte) {
	t.Helper()
	if res.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, b)
	}
}

func loadBundled(t *testing.T, ts *httptest.Server) {
	dir := filepath.Join(testpaths.Root(), "public", "models", "distilbert-tiny")
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		res, body := do(t, ts, "PUT", "/api/model/files/"+f, bytes.NewReader(b))
		ok(t, res, body)
	}
	res, body := do(t, ts, "POST", "/api/model/load", strings.NewReader(`{"name":"distilbert-tiny"}`))
	ok(t, res, body)
}

func addFile(t *testing.T, ts *httptest.Server, path, name string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, body := do(t, ts, "POST", "/api/datasets?name="+name, bytes.NewReader(b))
	ok(t, res, body)
	return body
}

// events posts a training request and collects the NDJSON stream.
func events(t *testing.T, ts *httptest.Server, req string) []Event {
	t.Helper()
	res, err := http.Post(ts.URL+"/api/train", "application/json", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("train: %d %s", res.StatusCode, b)
	}
	var out []Event
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("bad NDJSON line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func TestSessionEndToEnd(t *testing.T) {
	ts := newServer(t)
	// Nothing loaded: clear errors.
	res, body := do(t, ts, "POST", "/api/train", strings.NewReader(`{"options":{}}`))
	if res.StatusCode != 400 || !strings.Contains(string(body), "load a base model first") {
		t.Fatalf("train without model: %d %s", res.StatusCode, body)
	}
	loadBundled(t, ts)
	view := addFile(t, ts, testpaths.Testdata("sst2/train-00000-of-00002.parquet"), "train-00000-of-00002.parquet")
	if !strings.Contains(string(view), `"rows":1000`) || !strings.Contains(string(view), `"length_histogram"`) {
		t.Fatalf("dataset view: %s", view)
	}
	addFile(t, ts, testpaths.Shared(t, "data/sst2/dev.tsv"), "dev.tsv")
	// A malformed file is reported with its line; what was loaded stays.
	res, body = do(t, ts, "POST", "/api/datasets?name=broken.tsv", strings.NewReader("sentence\tlabel\ngood\t1\nbad\tmaybe\n"))
	if res.StatusCode != 400 || !strings.Contains(string(body), `broken.tsv:3: label \"maybe\"`) {
		t.Fatalf("malformed: %d %s", res.StatusCode, body)
	}
	res, body = do(t, ts, "GET", "/api/status", nil)
	ok(t, res, body)
	var st Status
	_ = json.Unmarshal(body, &st)
	if len(st.Datasets) != 2 || st.Datasets[0].Role != "train" || st.Datasets[1].Role != "eval" {
		t.Fatalf("datasets: %s", body)
	}

	opts := train.Defaults()
	opts.MaxSteps, opts.Batch, opts.EvalEvery = 6, 8, 3
	reqJSON, _ := json.Marshal(TrainRequest{Options: opts, Eval: EvalSetup{Source: "files"}, CheckpointEvery: 2})
	evs := events(t, ts, string(reqJSON))
	types := map[string]int{}
	for _, e := range evs {
		types[e.Type]++
	}
	if types["start"] != 1 || types["done"] != 1 || types["checkpoint"] != 2 || types["eval"] < 3 {
		t.Fatalf("event types %v", types)
	}
	last := evs[len(evs)-1].Run
	if last.Step != 6 || last.After == nil || last.Before == nil || len(last.History) != 6 || last.Compute != "CPU (test)" {
		t.Fatalf("final run %+v", last)
	}

	// The adapter downloads as PEFT files that read back, plus a zip.
	_, cfg := do(t, ts, "GET", "/api/adapter/adapter_config.json", nil)
	_, weights := do(t, ts, "GET", "/api/adapter/adapter_model.safetensors", nil)
	if _, err := peft.Read(loadConfig(t), 2, cfg, bytes.NewReader(weights), int64(len(weights))); err != nil {
		t.Fatal(err)
	}
	_, zb := do(t, ts, "GET", "/api/adapter/adapter.zip", nil)
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil || len(zr.File) != 3 {
		t.Fatalf("zip: %v", err)
	}
	_, mj := do(t, ts, "GET", "/api/adapter/metrics.json", nil)
	var m map[string]any
	_ = json.Unmarshal(mj, &m)
	if m["eval_accuracy"] != last.After.Accuracy || m["train_steps"] != float64(6) {
		t.Fatalf("metrics.json %s", mj)
	}

	// Predict with both models.
	res, body = do(t, ts, "POST", "/api/predict", strings.NewReader(`{"text":"a gripping, beautifully shot film"}`))
	ok(t, res, body)
	var p Prediction
	_ = json.Unmarshal(body, &p)
	if len(p.Base) != 2 || len(p.Tuned) != 2 || p.Tokens[0] != "a" {
		t.Fatalf("prediction %s", body)
	}

	// Import the adapter back: its accuracy equals the trained one's.
	do(t, ts, "PUT", "/api/adapter/files/adapter_config.json", bytes.NewReader(cfg))
	do(t, ts, "PUT", "/api/adapter/files/adapter_model.safetensors", bytes.NewReader(weights))
	res, body = do(t, ts, "POST", "/api/adapter/import", strings.NewReader(`{"eval":{"source":"files"}}`))
	ok(t, res, body)
	var imp struct{ Run RunView }
	_ = json.Unmarshal(body, &imp)
	if imp.Run.After.Accuracy != last.After.Accuracy {
		t.Fatalf("imported accuracy %v, trained %v", imp.Run.After.Accuracy, last.After.Accuracy)
	}
	// A bad adapter is refused with the reason.
	do(t, ts, "PUT", "/api/adapter/files/adapter_config.json", strings.NewReader(`{"peft_type":"IA3"}`))
	do(t, ts, "PUT", "/api/adapter/files/adapter_model.safetensors", bytes.NewReader(weights))
	res, body = do(t, ts, "POST", "/api/adapter/import", strings.NewReader(`{}`))
	if res.StatusCode != 400 || !strings.Contains(string(body), `peft_type is \"IA3\"`) {
		t.Fatalf("bad adapter: %d %s", res.StatusCode, body)
	}
	// So is one whose weights hold a NaN, naming the tensor; the session
	// still answers.
	sf, err := safetensors.OpenBytes("adapter_model.safetensors", weights)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]*safetensors.Tensor{}
	for _, k := range sf.Keys() {
		if bad[k], err = sf.Float32(k); err != nil {
			t.Fatal(err)
		}
	}
	key := sf.Keys()[0]
	bad[key].Data[1] = float32(math.NaN())
	var nanWeights bytes.Buffer
	if err := safetensors.Write(&nanWeights, bad, map[string]string{"format": "pt"}, "F32"); err != nil {
		t.Fatal(err)
	}
	do(t, ts, "PUT", "/api/adapter/files/adapter_config.json", bytes.NewReader(cfg))
	do(t, ts, "PUT", "/api/adapter/files/adapter_model.safetensors", &nanWeights)
	res, body = do(t, ts, "POST", "/api/adapter/import", strings.NewReader(`{}`))
	if res.StatusCode != 400 || !strings.Contains(string(body), key) || !strings.Contains(string(body), "element 1 is NaN") {
		t.Fatalf("NaN adapter: %d %s", res.StatusCode, body)
	}
	res, body = do(t, ts, "GET", "/api/status", nil)
	ok(t, res, body)
	// The zip's entries carry the export's time, not the zip format's zero.
	for _, f := range zr.File {
		if f.Modified.Year() < 2024 {
			t.Errorf("zip entry %s dated %v", f.Name, f.Modified)
		}
	}
}

// Stop, save the state, restore it in a new session: the resumed run ends
// with the same adapter as an uninterrupted one.
func TestStopAndResumeFromState(t *testing.T) {
	opts := train.Defaults()
	opts.MaxSteps, opts.Batch = 8, 8
	reqJSON, _ := json.Marshal(TrainRequest{Options: opts, Eval: EvalSetup{Source: "split", Fraction: 0.1, Seed: 1}, CheckpointEvery: 3})

	straight := newServer(t)
	loadBundled(t, straight)
	addFile(t, straight, testpaths.Testdata("sst2/train-2000.tsv"), "train-2000.tsv")
	events(t, straight, string(reqJSON))
	_, want := do(t, straight, "GET", "/api/adapter/adapter_model.safetensors", nil)

	// Interrupted: take the step-3 checkpoint as a crash would leave it. The
	// training goroutine waits after step 3 until the test has stopped it, so
	// the stop lands at the same step on any scheduler.
	release := make(chan struct{})
	yields := 0
	first := newServerYield(t, func() {
		if yields++; yields == 4 { // after "start" and steps 1..3
			<-release
		}
	})
	loadBundled(t, first)
	addFile(t, first, testpaths.Testdata("sst2/train-2000.tsv"), "train-2000.tsv")
	res, err := http.Post(first.URL+"/api/train", "application/json", strings.NewReader(string(reqJSON)))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(res.Body)
	var state []byte
	for sc.Scan() {
		var e Event
		_ = json.Unmarshal(sc.Bytes(), &e)
		if e.Type == "checkpoint" && state == nil {
			_, state = do(t, first, "GET", "/api/state", nil)
			r, b := do(t, first, "POST", "/api/stop", nil)
			ok(t, r, b)
			close(release)
		}
	}
	res.Body.Close()
	if state == nil {
		t.Fatal("no checkpoint")
	}

	second := newServer(t)
	loadBundled(t, second)
	addFile(t, second, testpaths.Testdata("sst2/train-2000.tsv"), "train-2000.tsv")
	resumeJSON, _ := json.Marshal(TrainRequest{State: state, Eval: EvalSetup{Source: "split", Fraction: 0.1, Seed: 1}})
	evs := events(t, second, string(resumeJSON))
	if evs[len(evs)-1].Type != "done" || evs[len(evs)-1].Run.Step != 8 {
		t.Fatalf("resumed run ended with %+v", evs[len(evs)-1])
	}
	_, got := do(t, second, "GET", "/api/adapter/adapter_model.safetensors", nil)
	if !bytes.Equal(got, want) {
		t.Fatal("resumed adapter differs from the uninterrupted run's")
	}
}
