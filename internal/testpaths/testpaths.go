// Package testpaths locates the repository's shared test material.
package testpaths

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Shared returns ../shared/<rel>, skipping the test when it is absent.
func Shared(t testing.TB, rel string) string {
	p := filepath.Join(Root(), "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared material %s not found", p)
	}
	return p
}

// TinyModel is the shared pretrained tiny DistilBERT.
func TinyModel(t testing.TB) string { return Shared(t, "models/distilbert-tiny") }

// Testdata returns testdata/<rel> in the repository.
func Testdata(rel string) string { return filepath.Join(Root(), "testdata", rel) }
