// Package sample gives tests the committed SST-2 sample and a model
// folder's tokenizer, without a dependency on the trainer (whose own tests
// use it too).
package sample

import (
	"bytes"
	"os"
	"testing"

	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/checkpoint"
	"github.com/webtune/webtune/model/dataset"
	"github.com/webtune/webtune/model/tokenize"
)

// SST2 returns the first n rows of testdata/sst2/train-2000.tsv.
func SST2(t testing.TB, n int) []dataset.Example {
	t.Helper()
	b, err := os.ReadFile(testpaths.Testdata("sst2/train-2000.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := dataset.Read("train-2000.tsv", bytes.NewReader(b), int64(len(b)), dataset.SST2Labels)
	if err != nil {
		t.Fatal(err)
	}
	return ex[:n]
}

// Tokenizer loads the tokenizer of a model folder.
func Tokenizer(t testing.TB, dir string) *tokenize.Tokenizer {
	t.Helper()
	tok, err := checkpoint.LoadTokenizer(checkpoint.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
