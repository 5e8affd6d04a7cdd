package api

import (
	"encoding/json"
	"net/http/httptest"
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
