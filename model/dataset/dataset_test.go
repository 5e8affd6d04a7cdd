package dataset

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/webtune/webtune/internal/testpaths"
)

func read(t *testing.T, name, content string) ([]Example, error) {
	t.Helper()
	r := strings.NewReader(content)
	return Read(name, r, int64(len(content)), SST2Labels)
}

func TestFormats(t *testing.T) {
	want := []Example{{"a fine film", 1}, {"dull , \"flat\"", 0}, {"naïve, charming", 1}}
	cases := map[string]string{
		"glue.tsv":      "sentence\tlabel\na fine film\t1\ndull , \"flat\"\t0\nnaïve, charming\t1\n",
		"swapped.tsv":   "idx\tlabel\tsentence\n0\t1\ta fine film\n1\t0\tdull , \"flat\"\n2\t1\tnaïve, charming\n",
		"noheader.tsv":  "a fine film\t1\r\ndull , \"flat\"\t0\r\nnaïve, charming\t1\r\n",
		"names.tsv":     "sentence\tlabel\na fine film\tPositive\ndull , \"flat\"\tNEGATIVE\nnaïve, charming\tpositive\n",
		"quoted.csv":    "text,label\na fine film,1\n\"dull , \"\"flat\"\"\",0\n\"naïve, charming\",1\n",
		"bom.csv":       "\ufeffsentence,label\na fine film,1\n\"dull , \"\"flat\"\"\",0\n\"naïve, charming\",1\n",
		"rows.jsonl":    `{"sentence":"a fine film","label":1}` + "\n" + `{"text":"dull , \"flat\"","label":"negative"}` + "\n\n" + `{"sentence":"naïve, charming","label":1,"idx":7}` + "\n",
		"nofileext":     "sentence\tlabel\na fine film\t1\ndull , \"flat\"\t0\nnaïve, charming\t1\n",
		"multiline.csv": "sentence,label\na fine film,1\n\"dull , \"\"flat\"\"\",0\n\"naïve, charming\",1.0\n",
	}
	for name, content := range cases {
		got, err := read(t, name, content)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v", name, got)
		}
	}
}

func TestErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ name, content, want string }{
		{"bad.tsv", "sentence\tlabel\nok\t1\nno label here\n", "bad.tsv:3: expected 2 tab-separated fields"},
		{"bad.tsv", "sentence\tlabel\nok\t1\nfine\t7\n", "bad.tsv:3: label 7 is outside 0..1"},
		{"bad.tsv", "sentence\tlabel\nok\tmaybe\n", `bad.tsv:2: label "maybe" is not one of 0, 1 or negative, positive`},
		{"bad.tsv", "sentence\tidx\nok\t1\n", `bad.tsv:1: header "sentence,idx" has no "label" column`},
		{"bad.csv", "sentence,label\n\"unterminated,1\n", "bad.csv:2: malformed CSV"},
		{"bad.jsonl", "{\"sentence\":\"a\",\"label\":1}\n{\"sentence\":\"b\"\n", "bad.jsonl:2: expected a JSON object per line"},
		{"bad.jsonl", "{\"sentence\":\"a\"}\n", `bad.jsonl:1: object has no "label" field`},
		{"bad.jsonl", "{\"label\":1}\n", `bad.jsonl:1: object has no "sentence" or "text" field`},
		{"empty.tsv", "", "empty.tsv: no labelled rows"},
		{"header-only.csv", "sentence,label\n", "header-only.csv: no labelled rows"},
		{"binary.tsv", "sentence\tlabel\n\xff\xfe\t1\n", "binary.tsv:2: not valid UTF-8"},
		{"notes.txt", "just some words", "notes.txt: unknown dataset format"},
		{"data.parquet", "PAR1 this is not really parquet", "data.parquet: not a readable Parquet file"},
	}
	for _, c := range cases {
		_, err := read(t, c.name, c.content)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: error %v, want %q", c.name, c.content, err, c.want)
		}
	}
}

// Parquet shards written by an independent implementation (hyparquet-writer,
// in the hub's SST-2 schema) read back the same rows as the TSV they came from.
func TestParquetShardsMatchTSV(t *testing.T) {
	tsvPath := testpaths.Testdata("sst2/train-2000.tsv")
	b, err := os.ReadFile(tsvPath)
	if err != nil {
		t.Fatal(err)
	}
	fromTSV, err := Read(tsvPath, bytes.NewReader(b), int64(len(b)), SST2Labels)
	if err != nil {
		t.Fatal(err)
	}
	shards, _ := filepath.Glob(testpaths.Testdata("sst2/train-*-of-*.parquet"))
	if len(shards) != 2 {
		t.Fatalf("expected 2 shards, found %v", shards)
	}
	var parts [][]Example
	for _, s := range shards {
		pb, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		ex, err := Read(s, bytes.NewReader(pb), int64(len(pb)), SST2Labels)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, ex)
	}
	all := Concat(parts...)
	if len(all) != 2000 || !slices.Equal(all, fromTSV) {
		t.Fatalf("parquet gave %d rows; first differs: %v", len(all), firstDiff(all, fromTSV))
	}
	st := Summarize(all, 2)
	if st.Rows != 2000 || st.LabelCounts[0]+st.LabelCounts[1] != 2000 {
		t.Fatalf("stats %+v", st)
	}
	// A truncated shard is an error that names the file.
	pb, _ := os.ReadFile(shards[0])
	if _, err := Read("cut.parquet", bytes.NewReader(pb[:len(pb)/2]), int64(len(pb)/2), SST2Labels); err == nil || !strings.Contains(err.Error(), "cut.parquet") {
		t.Fatalf("truncated parquet: %v", err)
	}
}

func TestSharedSST2(t *testing.T) {
	for name, rows := range map[string]int{"train.tsv": 67349, "dev.tsv": 872} {
		p := testpaths.Shared(t, "data/sst2/"+name)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		ex, err := Read(p, f, st.Size(), SST2Labels)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(ex) != rows {
			t.Errorf("%s: %d rows, want %d", name, len(ex), rows)
		}
	}
}

func firstDiff(a, b []Example) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return strings.Join([]string{a[i].Text, b[i].Text}, " | ")
		}
	}
	return "lengths differ"
}

// Fuzz targets: no input makes a reader panic, and every error names the file.
func fuzzReader(f *testing.F, name string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ex, err := Read(name, bytes.NewReader(data), int64(len(data)), SST2Labels)
		if err != nil {
			if !strings.HasPrefix(err.Error(), name) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, e := range ex {
			if e.Label < 0 || e.Label > 1 {
				t.Fatalf("label %d out of range", e.Label)
			}
			if name != "f.jsonl" && !utf8.ValidString(e.Text) {
				t.Fatalf("invalid UTF-8 accepted: %q", e.Text)
			}
		}
	})
}

func FuzzTSV(f *testing.F) {
	fuzzReader(f, "f.tsv", "sentence\tlabel\nfine\t1\n", "a\t0\nb\t1", "idx\tlabel\tsentence\n0\tpositive\tx\n")
}

func FuzzCSV(f *testing.F) {
	fuzzReader(f, "f.csv", "sentence,label\n\"a, b\",1\n", "text,label\nx,negative\n", "\"\"\"\",0")
}

func FuzzJSONL(f *testing.F) {
	fuzzReader(f, "f.jsonl", `{"sentence":"a","label":1}`, `{"text":"b","label":"negative"}`+"\n", `{"label":1.0,"text":""}`)
}

// The Parquet reader on mutations of a real SST-2 shard (written by
// hyparquet-writer), a hostile footer length and a hostile list size:
// errors name the file, nothing panics, nothing allocates what the file
// only claims (go test fails a fuzz input that runs out of memory).
func FuzzParquet(f *testing.F) {
	shard, err := os.ReadFile(testpaths.Testdata("sst2/train-00000-of-00002.parquet"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(shard[:min(len(shard), 4096)])
	f.Add(shard)
	f.Add(hugeFooter())
	fuzzReader(f, "f.parquet")
}

// hugeFooter is a 2 KB file whose footer length claims 3.7 GB.
func hugeFooter() []byte {
	b := append([]byte("PAR1"), make([]byte, 2040)...)
	return append(b, 0x00, 0x00, 0x00, 0xdd, 'P', 'A', 'R', '1')
}

func TestHostileParquet(t *testing.T) {
	// A footer whose thrift list claims 2^31 row groups in a few bytes.
	footer := []byte{0x15, 0x02, 0x39, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07}
	list := append([]byte("PAR1"), footer...)
	list = binary.LittleEndian.AppendUint32(list, uint32(len(footer)))
	list = append(list, "PAR1"...)
	for name, data := range map[string][]byte{"huge-footer.parquet": hugeFooter(), "huge-list.parquet": list} {
		_, err := Read(name, bytes.NewReader(data), int64(len(data)), SST2Labels)
		if err == nil || !strings.HasPrefix(err.Error(), name+": not a readable Parquet file") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// endless is a reader of one repeated chunk, for files larger than any
// test should hold.
type endless struct{ chunk []byte }

func (e endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], e.chunk)
	}
	return n, nil
}

// Text files are read within bounded memory: a record can be at most 1 MB
// (a CSV line without end, an unterminated quote), a file at most
// MaxFileSize; the messages name the file and where.
func TestBoundedText(t *testing.T) {
	cases := []struct {
		name string
		r    io.Reader
		read func(string, io.Reader, Labels) ([]Example, error)
		want string
	}{
		{"one-line.csv", endless{[]byte("a,")}, ReadCSV, "one-line.csv: the record after line 0: a record longer than 1048576 bytes"},
		{"quote.csv", io.MultiReader(strings.NewReader("sentence,label\nfine,1\n\"open"), endless{[]byte("text\n")}), ReadCSV, "quote.csv: the record after line 2: a record longer than"},
		{"one-line.tsv", endless{[]byte("a ")}, ReadTSV, "one-line.tsv:1: line longer than 1048576 bytes"},
		{"one-line.jsonl", endless{[]byte("{ ")}, ReadJSONL, "one-line.jsonl:1: line longer than 1048576 bytes"},
	}
	for _, c := range cases {
		if _, err := c.read(c.name, c.r, SST2Labels); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	big := io.NewSectionReader(strings.NewReader(""), 0, MaxFileSize+1)
	if _, err := Read("big.tsv", big, MaxFileSize+1, SST2Labels); err == nil || !strings.Contains(err.Error(), "big.tsv: 256 MB: larger than 256 MB") {
		t.Errorf("big file: %v", err)
	}
}
