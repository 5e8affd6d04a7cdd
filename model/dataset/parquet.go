package dataset

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// ReadParquet reads a Parquet file with a "sentence" (or "text") string
// column and a "label" column (integer or string), as the Hugging Face hub
// serves GLUE SST-2 (idx int32, sentence string, label int64). Rows are read
// a batch at a time.
func ReadParquet(name string, r io.ReaderAt, size int64, labels Labels) (out []Example, err error) {
	defer func() { // parquet-go can panic on corrupt input
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("%s: corrupt Parquet file: %v", name, p)
		}
	}()
	if err := checkParquet(r, size); err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %v", name, err)
	}
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %v", name, err)
	}
	var names []string
	for _, path := range f.Schema().Columns() {
		names = append(names, path[len(path)-1])
	}
	text, label, isHeader, err := columns(names)
	if err != nil || !isHeader {
		if err == nil {
			err = fmt.Errorf("columns %v have no \"sentence\" or \"label\"", names)
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	pr := parquet.NewReader(f)
	defer pr.Close()
	rows := make([]parquet.Row, 256)
	rowNum := 0
	for {
		n, err := pr.ReadRows(rows)
		for _, row := range rows[:n] {
			rowNum++
			var t, l parquet.Value
			for _, v := range row {
				switch v.Column() {
				case text:
					t = v
				case label:
					l = v
				}
			}
			if t.IsNull() || t.Kind() != parquet.ByteArray {
				return nil, fmt.Errorf("%s: row %d: %q must be a non-null string", name, rowNum, names[text])
			}
			if !utf8.Valid(t.ByteArray()) {
				return nil, fmt.Errorf("%s: row %d: %q is not valid UTF-8 text", name, rowNum, names[text])
			}
			var cell string
			switch {
			case l.IsNull():
				return nil, fmt.Errorf("%s: row %d: label is null", name, rowNum)
			case l.Kind() == parquet.ByteArray:
				cell = string(l.ByteArray())
			case l.Kind() == parquet.Int32 || l.Kind() == parquet.Int64:
				cell = strconv.FormatInt(l.Int64(), 10)
			default:
				return nil, fmt.Errorf("%s: row %d: label has Parquet type %v, expected an integer or a string", name, rowNum, l.Kind())
			}
			lab, err := labels.Parse(cell)
			if err != nil {
				return nil, fmt.Errorf("%s: row %d: %v", name, rowNum, err)
			}
			out = append(out, Example{Text: string(t.ByteArray()), Label: lab})
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: row %d: %v", name, rowNum+1, err)
		}
	}
	return out, nil
}
