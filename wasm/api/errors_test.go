package api

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/train"
)

// Every answer is JSON, errors included: unknown routes (404), known paths
// with another method (405 and Allow), and bad input (4xx naming it).
func TestErrorsAreJSON(t *testing.T) {
	ts := newServer(t)
	for _, c := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/api/nothing", 404, "no API route GET /api/nothing"},
		{"DELETE", "/api/status", 405, "DELETE is not allowed on /api/status; allowed: GET"},
		{"GET", "/api/train", 405, "allowed: POST"},
		{"POST", "/api/predict", 400, `expected {"text": "a sentence"}`},
	} {
		res, body := do(t, ts, c.method, c.path, strings.NewReader("{}"))
		var e struct {
			Error string `json:"error"`
		}
		if res.StatusCode != c.code || res.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil ||
			e.Error == "" || !strings.Contains(e.Error, c.want) {
			t.Errorf("%s %s: %d %q %s", c.method, c.path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
}

// A stop that lands while the untrained adapter is being evaluated (before
// the first step) ends the run there: the evaluation checks the stop
// between batches instead of running to its end.
func TestStopDuringFirstEvaluation(t *testing.T) {
	var ts *httptest.Server
	stopped := false
	ts = newServerYield(t, func() {
		if !stopped { // right after the start event: the evaluation is next
			stopped = true
			res, body := do(t, ts, "POST", "/api/stop", nil)
			ok(t, res, body)
		}
	})
	loadBundled(t, ts)
	addFile(t, ts, testpaths.Testdata("sst2/train-2000.tsv"), "train-2000.tsv")
	opts := train.Defaults()
	opts.MaxSteps, opts.Batch = 20, 8
	req, _ := json.Marshal(TrainRequest{Options: opts, Eval: EvalSetup{Source: "split", Fraction: 0.5, Seed: 1}})
	evs := events(t, ts, string(req))
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if types[0] != "start" || types[len(types)-1] != "stopped" || slices.Contains(types, "eval") || slices.Contains(types, "step") {
		t.Fatalf("events %v: want start … stopped with no evaluation and no step", types)
	}
}

// The committed hostile corpus through the API: every file is refused with
// a 400 JSON error naming it, and the session keeps answering.
func TestHostileCorpus(t *testing.T) {
	ts := newServer(t)
	loadBundled(t, ts)
	dir := filepath.Join(testpaths.Root(), "testdata", "hostile")
	for name, want := range map[string]string{
		"huge-footer.parquet": "huge-footer.parquet: not a readable Parquet file",
		"huge-list.parquet":   "huge-list.parquet: not a readable Parquet file",
		"label-wrong.tsv":     "label-wrong.tsv:4: label 2",
		"bad-utf8.tsv":        "bad-utf8.tsv:3: not valid UTF-8",
		"unterminated.csv":    "unterminated.csv:3: malformed CSV",
		"not-json.jsonl":      "not-json.jsonl:2: expected a JSON object",
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		res, body := do(t, ts, "POST", "/api/datasets?name="+name, bytes.NewReader(b))
		if res.StatusCode != 400 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %s", name, res.StatusCode, body)
		}
	}
	for model, want := range map[string]string{
		"model-overflow": "more elements than",
		"model-layers":   "n_layers is 100000000",
	} {
		for _, f := range []string{"config.json", "model.safetensors"} {
			b, err := os.ReadFile(filepath.Join(dir, model, f))
			if err != nil {
				t.Fatal(err)
			}
			res, body := do(t, ts, "PUT", "/api/model/files/"+f, bytes.NewReader(b))
			ok(t, res, body)
		}
		res, body := do(t, ts, "POST", "/api/model/load", strings.NewReader(`{"name":"`+model+`"}`))
		if res.StatusCode != 400 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %s", model, res.StatusCode, body)
		}
	}
	res, body := do(t, ts, "GET", "/api/status", nil)
	ok(t, res, body)
	if !strings.Contains(string(body), `"distilbert-tiny"`) {
		t.Errorf("the loaded model is gone: %s", body)
	}
}
