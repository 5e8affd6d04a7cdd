package api

import (
	"encoding/json"
	"strings"
	"testing"
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
