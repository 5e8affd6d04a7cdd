//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/webtune/webtune/internal/testpaths"
	"github.com/webtune/webtune/model/safetensors"
)

// The CLI on hostile inputs (testdata/hostile, and some made here): each
// exits non-zero with a message naming the file or option, never a panic
// or a runtime fatal error, within a minute and under 1 GB of memory.
func TestHostileInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the CLI")
	}
	bin := filepath.Join(t.TempDir(), "webtune-train")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	root := testpaths.Root()
	tiny := filepath.Join(root, "public", "models", "distilbert-tiny")
	hostile := filepath.Join(root, "testdata", "hostile")
	train := filepath.Join(root, "testdata", "sst2", "train-2000.tsv")
	tmp := t.TempDir()

	// Made here rather than committed: a 30 MB CSV of one line.
	longCSV := filepath.Join(tmp, "one-line.csv")
	if err := os.WriteFile(longCSV, bytes.Repeat([]byte("word "), 6<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	nanAdapter := nanAdapter(t, bin, tiny, train, tmp)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"footer", []string{"-model", tiny, "-train", filepath.Join(hostile, "huge-footer.parquet")}, "huge-footer.parquet: not a readable Parquet file: the footer claims 3707764736 bytes"},
		{"thrift list", []string{"-model", tiny, "-train", filepath.Join(hostile, "huge-list.parquet")}, "huge-list.parquet: not a readable Parquet file: footer: a count of 2147483647"},
		{"label", []string{"-model", tiny, "-train", filepath.Join(hostile, "label-wrong.tsv")}, "label-wrong.tsv:4: label 2"},
		{"utf-8", []string{"-model", tiny, "-train", filepath.Join(hostile, "bad-utf8.tsv")}, "bad-utf8.tsv:3: not valid UTF-8"},
		{"quote", []string{"-model", tiny, "-train", filepath.Join(hostile, "unterminated.csv")}, "unterminated.csv:3: malformed CSV"},
		{"json", []string{"-model", tiny, "-train", filepath.Join(hostile, "not-json.jsonl")}, "not-json.jsonl:2: expected a JSON object"},
		{"long line", []string{"-model", tiny, "-train", longCSV}, "one-line.csv: the record after line 0: a record longer than 1048576 bytes"},
		{"shape overflow", []string{"-model", filepath.Join(hostile, "model-overflow"), "-train", train}, `model.safetensors: tensor "distilbert.embeddings.word_embeddings.weight": shape [2305843009213693952 2]: more elements than`},
		{"layers", []string{"-model", filepath.Join(hostile, "model-layers"), "-train", train}, "n_layers is 100000000, expected an integer from 1 to 128"},
		{"NaN adapter", []string{"-model", tiny, "-eval", train, "-adapter", nanAdapter, "-steps", "0"}, "element 1 is NaN"},
		{"eval split", []string{"-model", tiny, "-train", train, "-eval-split", "1.5"}, "-eval-split: held-out fraction 1.5 must be between 0 and 1"},
		{"rank", []string{"-model", tiny, "-train", train, "-r", "100000000"}, "LoRA rank r must be from 1 to 1024, got 100000000"},
		{"batch", []string{"-model", tiny, "-train", train, "-batch", "0"}, "batch size 0 must be in 1..4096"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append(c.args, "-out", filepath.Join(tmp, "out-"+c.name))...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || ctx.Err() != nil {
				t.Fatalf("want a non-zero exit, got %v (timed out: %v)\n%s", err, ctx.Err() != nil, stderr.String())
			}
			msg := stderr.String()
			if !strings.Contains(msg, c.want) || strings.Contains(msg, "panic:") || strings.Contains(msg, "fatal error") {
				t.Errorf("stderr %q\nwant it to contain %q (and no panic)", msg, c.want)
			}
			if rss := exit.SysUsage().(*syscall.Rusage).Maxrss; rss > 1<<20 { // KB
				t.Errorf("peak memory %d MB, want under 1 GB", rss>>10)
			}
		})
	}
}

// nanAdapter trains the bundled model one step, then sets one value of the
// adapter to NaN.
func nanAdapter(t *testing.T, bin, tiny, train, tmp string) string {
	dir := filepath.Join(tmp, "adapter")
	if out, err := exec.Command(bin, "-model", tiny, "-train", train, "-steps", "1", "-batch", "4", "-out", dir).CombinedOutput(); err != nil {
		t.Fatalf("training an adapter: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "adapter_model.safetensors")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.OpenBytes(path, b)
	if err != nil {
		t.Fatal(err)
	}
	tensors := map[string]*safetensors.Tensor{}
	for _, k := range f.Keys() {
		if tensors[k], err = f.Float32(k); err != nil {
			t.Fatal(err)
		}
	}
	tensors[f.Keys()[0]].Data[1] = float32(math.NaN())
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, tensors, f.Metadata, "F32"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
