package dataset

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// maxLine bounds one row; SST-2 rows are under 300 bytes.
const maxLine = 1 << 20

// MaxFileSize bounds one dataset file (SST-2's training set is 4 MB): the
// rows read are held in memory, and in the page that memory is the
// WebAssembly program's.
const MaxFileSize = 256 << 20

var (
	errFileTooLarge   = fmt.Errorf("larger than %d MB, the most a dataset file may have", MaxFileSize>>20)
	errRecordTooLarge = fmt.Errorf("a record longer than %d bytes (an unterminated quote?)", maxLine)
)

// guard counts what a text reader reads: the whole file against
// MaxFileSize and, for CSV, each record against maxLine (the csv package
// has no bound of its own: an unterminated quote would gather the rest of
// the file into one field).
type guard struct {
	r             io.Reader
	total, record int64
}

func (g *guard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.total += int64(n)
	g.record += int64(n)
	switch {
	case g.total > MaxFileSize:
		return n, errFileTooLarge
	case g.record > maxLine+64<<10: // the csv package reads ahead 4 KB
		return n, errRecordTooLarge
	}
	return n, err
}

// ReadTSV reads GLUE TSV: an optional header naming "sentence" and "label"
// in either order ("idx" and other columns ignored), else rows of
// sentence<TAB>label. GLUE files are unquoted, so tabs split fields exactly.
func ReadTSV(name string, r io.Reader, labels Labels) ([]Example, error) {
	g := &guard{r: r}
	sc := bufio.NewScanner(g)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var out []Example
	text, label := 0, 1
	line := 0
	for sc.Scan() {
		line++
		g.record = 0
		s := strings.TrimSuffix(sc.Text(), "\r")
		if line == 1 {
			s = strings.TrimPrefix(s, "\ufeff")
		}
		if strings.TrimSpace(s) == "" {
			continue
		}
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("%s:%d: not valid UTF-8 text", name, line)
		}
		fields := strings.Split(s, "\t")
		if line == 1 {
			t, l, isHeader, err := columns(fields)
			if err != nil {
				return nil, fmt.Errorf("%s:1: %v", name, err)
			}
			if isHeader {
				text, label = t, l
				continue
			}
		}
		if len(fields) <= max(text, label) {
			return nil, fmt.Errorf("%s:%d: expected %d tab-separated fields (sentence, label), found %d", name, line, max(text, label)+1, len(fields))
		}
		lab, err := labels.Parse(fields[label])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		out = append(out, Example{Text: fields[text], Label: lab})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) || errors.Is(err, errRecordTooLarge) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes; is this really a TSV file?", name, line+1, maxLine)
		}
		return nil, fmt.Errorf("%s:%d: %v", name, line+1, err)
	}
	return out, nil
}

// ReadCSV reads RFC 4180 CSV with a header naming "sentence" (or "text") and
// "label"; without a header, rows are sentence,label.
func ReadCSV(name string, r io.Reader, labels Labels) ([]Example, error) {
	g := &guard{r: r}
	cr := csv.NewReader(g)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var out []Example
	text, label := 0, 1
	lastLine := 0
	for row := 0; ; row++ {
		g.record = 0
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if errors.Is(err, errFileTooLarge) || errors.Is(err, errRecordTooLarge) {
			return nil, fmt.Errorf("%s: the record after line %d: %v", name, lastLine, err)
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s:%d: malformed CSV: %v", name, pe.StartLine, pe.Err)
			}
			return nil, fmt.Errorf("%s: row %d: %v", name, row+1, err)
		}
		line, _ := cr.FieldPos(0)
		lastLine = line
		if row == 0 {
			rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
			t, l, isHeader, err := columns(rec)
			if err != nil {
				return nil, fmt.Errorf("%s:1: %v", name, err)
			}
			if isHeader {
				text, label = t, l
				continue
			}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) <= max(text, label) {
			return nil, fmt.Errorf("%s:%d: expected %d comma-separated fields (sentence, label), found %d", name, line, max(text, label)+1, len(rec))
		}
		if !utf8.ValidString(rec[text]) {
			return nil, fmt.Errorf("%s:%d: not valid UTF-8 text", name, line)
		}
		lab, err := labels.Parse(rec[label])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		out = append(out, Example{Text: strings.Clone(rec[text]), Label: lab})
	}
	return out, nil
}

// ReadJSONL reads one JSON object per line with "sentence" or "text" and
// "label" (a number or a name).
func ReadJSONL(name string, r io.Reader, labels Labels) ([]Example, error) {
	g := &guard{r: r}
	sc := bufio.NewScanner(g)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var out []Example
	line := 0
	for sc.Scan() {
		line++
		g.record = 0
		b := sc.Bytes()
		if line == 1 {
			b = []byte(strings.TrimPrefix(string(b), "\ufeff"))
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, fmt.Errorf("%s:%d: expected a JSON object per line: %v", name, line, err)
		}
		raw, ok := obj["sentence"]
		if !ok {
			raw, ok = obj["text"]
		}
		if !ok {
			return nil, fmt.Errorf("%s:%d: object has no \"sentence\" or \"text\" field", name, line)
		}
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, fmt.Errorf("%s:%d: \"sentence\"/\"text\" must be a string", name, line)
		}
		rawLabel, ok := obj["label"]
		if !ok {
			return nil, fmt.Errorf("%s:%d: object has no \"label\" field", name, line)
		}
		var cell string
		var num json.Number
		if err := json.Unmarshal(rawLabel, &cell); err != nil {
			if err := json.Unmarshal(rawLabel, &num); err != nil {
				return nil, fmt.Errorf("%s:%d: \"label\" must be a number or a string, got %s", name, line, truncate(string(rawLabel)))
			}
			cell = num.String()
		}
		lab, err := labels.Parse(cell)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		out = append(out, Example{Text: text, Label: lab})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) || errors.Is(err, errRecordTooLarge) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, maxLine)
		}
		return nil, fmt.Errorf("%s:%d: %v", name, line+1, err)
	}
	return out, nil
}
