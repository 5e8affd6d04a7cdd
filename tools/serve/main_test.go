package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The dev server serves files and the page's folder, never a listing of a
// folder; an absurdly long address gets 414, not a 500.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"index.html": "<!doctype html>page", "build/app.wasm": "wasm", "build/x.js": "x"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewServer(Handler(dir, nil))
	defer ts.Close()
	for _, c := range []struct {
		path string
		code int
	}{
		{"/", 200}, {"/build/app.wasm", 200}, {"/build/", 404}, {"/build", 404},
		{"/" + strings.Repeat("a", 200<<10), 414},
	} {
		res, err := http.Get(ts.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.code {
			t.Errorf("GET %.40s: %d, want %d", c.path, res.StatusCode, c.code)
		}
		if res.Header.Get("Content-Security-Policy") == "" && c.code == 200 {
			t.Errorf("GET %s: no CSP", c.path)
		}
	}
}
