// Package dataset reads labelled sentences for classification from GLUE TSV,
// CSV (RFC 4180), JSONL and Parquet (as the Hugging Face hub serves SST-2).
// Readers stream: a file is read row by row and only the sentences are kept.
// Every error names the file, the line (or row) and what was expected.
package dataset

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// Example is one labelled sentence.
type Example struct {
	Text  string
	Label int
}

// Labels is the ordered set of class names; a label is parsed as its index
// (0..n-1) or its name, case-insensitively.
type Labels []string

// SST2Labels are the names Hugging Face uses for SST-2.
var SST2Labels = Labels{"negative", "positive"}

// Parse maps a label cell to its index.
func (l Labels) Parse(s string) (int, error) {
	s = strings.TrimSpace(s)
	if i, err := strconv.Atoi(s); err == nil {
		if i >= 0 && i < len(l) {
			return i, nil
		}
		return 0, fmt.Errorf("label %d is outside 0..%d", i, len(l)-1)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int(f)) && int(f) >= 0 && int(f) < len(l) {
		return int(f), nil // "1.0", as pandas writes integer columns with missing values
	}
	for i, name := range l {
		if strings.EqualFold(s, name) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("label %q is not one of %s", truncate(s), l.expected())
}

func (l Labels) expected() string {
	var idx []string
	for i := range l {
		idx = append(idx, strconv.Itoa(i))
	}
	return strings.Join(idx, ", ") + " or " + strings.Join(l, ", ")
}

// Format is a dataset file format.
type Format string

const (
	TSV     Format = "tsv"
	CSV     Format = "csv"
	JSONL   Format = "jsonl"
	Parquet Format = "parquet"
)

// DetectFormat picks the format from the file name, and failing that from
// the first bytes (Parquet's magic, a JSON object, a tab).
func DetectFormat(name string, head []byte) (Format, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".tsv":
		return TSV, nil
	case ".csv":
		return CSV, nil
	case ".jsonl", ".ndjson", ".json":
		return JSONL, nil
	case ".parquet":
		return Parquet, nil
	}
	switch {
	case len(head) >= 4 && string(head[:4]) == "PAR1":
		return Parquet, nil
	case len(strings.TrimSpace(string(head))) > 0 && strings.TrimSpace(string(head))[0] == '{':
		return JSONL, nil
	case strings.Contains(firstLine(head), "\t"):
		return TSV, nil
	case strings.Contains(firstLine(head), ","):
		return CSV, nil
	}
	return "", fmt.Errorf("%s: unknown dataset format: expected a .tsv, .csv, .jsonl or .parquet file", name)
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Read reads one file of any supported format. r must support ReadAt for
// Parquet; size is the file size.
func Read(name string, r io.ReaderAt, size int64, labels Labels) ([]Example, error) {
	if size > MaxFileSize {
		return nil, fmt.Errorf("%s: %d MB: %v", name, size>>20, errFileTooLarge)
	}
	head := make([]byte, min(size, 512))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	f, err := DetectFormat(name, head)
	if err != nil {
		return nil, err
	}
	var ex []Example
	sr := io.NewSectionReader(r, 0, size)
	switch f {
	case TSV:
		ex, err = ReadTSV(name, sr, labels)
	case CSV:
		ex, err = ReadCSV(name, sr, labels)
	case JSONL:
		ex, err = ReadJSONL(name, sr, labels)
	case Parquet:
		ex, err = ReadParquet(name, r, size, labels)
	}
	if err != nil {
		return nil, err
	}
	if len(ex) == 0 {
		return nil, fmt.Errorf("%s: no labelled rows found; expected sentence and label columns", name)
	}
	return ex, nil
}

// Concat joins shards in order.
func Concat(shards ...[]Example) []Example {
	var n int
	for _, s := range shards {
		n += len(s)
	}
	out := make([]Example, 0, n)
	for _, s := range shards {
		out = append(out, s...)
	}
	return out
}

// Stats summarises a dataset for the preview.
type Stats struct {
	Rows        int   `json:"rows"`
	LabelCounts []int `json:"label_counts"`
}

// Summarize counts rows per label.
func Summarize(ex []Example, numLabels int) Stats {
	s := Stats{Rows: len(ex), LabelCounts: make([]int, numLabels)}
	for _, e := range ex {
		if e.Label >= 0 && e.Label < numLabels {
			s.LabelCounts[e.Label]++
		}
	}
	return s
}

func truncate(s string) string {
	if len([]rune(s)) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

// columns finds the text and label columns in a header. ok is false when the
// row does not look like a header at all.
func columns(header []string) (text, label int, ok bool, err error) {
	text, label = -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) {
		case "sentence", "text":
			if text < 0 {
				text = i
			}
		case "label":
			label = i
		}
	}
	if text < 0 && label < 0 {
		return 0, 0, false, nil
	}
	if text < 0 {
		return 0, 0, true, fmt.Errorf("header %q has no \"sentence\" or \"text\" column", strings.Join(header, ","))
	}
	if label < 0 {
		return 0, 0, true, fmt.Errorf("header %q has no \"label\" column (unlabelled data cannot be used for training or evaluation)", strings.Join(header, ","))
	}
	return text, label, true, nil
}
