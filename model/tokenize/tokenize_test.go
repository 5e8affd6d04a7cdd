package tokenize

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/webtune/webtune/internal/testpaths"
)

type golden struct {
	Dev []struct {
		Text string
		IDs  []int32 `json:"ids"`
	} `json:"dev"`
	Edge []struct {
		Text string
		IDs  []int32 `json:"ids"`
	} `json:"edge"`
}

func loadGolden(t *testing.T) golden {
	var g golden
	b, err := os.ReadFile(testpaths.Testdata("tokenizer_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func fromDir(t testing.TB, file string) *Tokenizer {
	dir := testpaths.TinyModel(t)
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	var tk *Tokenizer
	if file == "vocab.txt" {
		tk, err = FromVocab(file, b, true)
	} else {
		tk, err = FromJSON(file, b)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// Ids equal Hugging Face's tokenizers.js on every SST-2 dev sentence and the
// edge cases, from tokenizer.json and from vocab.txt alike.
func TestMatchesHuggingFace(t *testing.T) {
	g := loadGolden(t)
	for _, file := range []string{"tokenizer.json", "vocab.txt"} {
		tk := fromDir(t, file)
		bad := 0
		for _, set := range [][]struct {
			Text string
			IDs  []int32 `json:"ids"`
		}{g.Dev, g.Edge} {
			for _, c := range set {
				got, err := tk.Encode(c.Text, 100000)
				if err != nil {
					t.Fatalf("%s: %q: %v", file, c.Text, err)
				}
				if !slices.Equal(got, c.IDs) {
					bad++
					if bad < 5 {
						t.Errorf("%s: %q\n got  %v\n want %v", file, c.Text, got, c.IDs)
					}
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d sentences differ from Hugging Face", file, bad, len(g.Dev)+len(g.Edge))
		}
	}
}

// Truncation keeps [SEP], as transformers' Python tokenizers do: checked on
// the input ids that transformers produced for the reference logits.
func TestTruncationMatchesTransformers(t *testing.T) {
	var ref struct {
		InputIDs [][]int32 `json:"input_ids"`
	}
	b, err := os.ReadFile(filepath.Join(testpaths.TinyModel(t), "reference", "dev_logits.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	g := loadGolden(t)
	tk := fromDir(t, "tokenizer.json")
	truncated := 0
	for i, c := range g.Dev {
		got, err := tk.Encode(c.Text, 64)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.IDs) > 64 {
			truncated++
		}
		if !slices.Equal(got, ref.InputIDs[i]) {
			t.Fatalf("row %d: %v\nwant %v", i, got, ref.InputIDs[i])
		}
	}
	long, _ := tk.Encode(g.Edge[len(g.Edge)-1].Text, 16)
	if len(long) != 16 || long[0] != int32(tk.CLS) || long[15] != int32(tk.SEP) {
		t.Fatalf("truncated long input: %v", long)
	}
	t.Logf("%d dev rows exceed 64 tokens and are truncated", truncated)
}

func TestBadTokenizerFiles(t *testing.T) {
	if _, err := FromJSON("tokenizer.json", []byte(`{"model":{"type":"BPE"}}`)); err == nil {
		t.Error("BPE accepted")
	}
	if _, err := FromJSON("tokenizer.json", []byte(`not json`)); err == nil {
		t.Error("garbage accepted")
	}
	if _, err := FromVocab("vocab.txt", []byte("a\nb\n"), true); err == nil {
		t.Error("vocab without specials accepted")
	}
}

// Any text encodes without a panic to [CLS] … [SEP] within maxLen, every id
// in the vocabulary; any vocab.txt either loads or is refused.
func FuzzEncode(f *testing.F) {
	tok := fromDir(f, "tokenizer.json")
	for _, s := range []string{"a gripping, beautifully shot film", "", "\x00\xff\xfe", "ﬁ Ǆ ß 東京", strings.Repeat("x", 500)} {
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, text string, maxLen int) {
		maxLen = 3 + abs(maxLen)%200
		ids, err := tok.Encode(text, maxLen)
		_ = tok.Tokens(text)
		if err != nil {
			return
		}
		if len(ids) < 2 || len(ids) > maxLen || ids[0] != int32(tok.CLS) || ids[len(ids)-1] != int32(tok.SEP) {
			t.Fatalf("%q → %v", text, ids)
		}
		for _, id := range ids {
			if id < 0 || int(id) >= tok.VocabSize {
				t.Fatalf("%q → id %d outside the vocabulary of %d", text, id, tok.VocabSize)
			}
		}
	})
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
