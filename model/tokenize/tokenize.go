// Package tokenize wraps github.com/sugarme/tokenizer to produce the same
// input ids as Hugging Face's BERT tokenizers, from tokenizer.json or vocab.txt
// bytes (the browser has no filesystem, so nothing here reads paths).
package tokenize

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/pretrained"
)

// Tokenizer turns sentences into [CLS] ... [SEP] id sequences.
type Tokenizer struct {
	tk        *tokenizer.Tokenizer
	CLS, SEP  int
	Pad       int
	VocabSize int
}

// FromJSON loads a tokenizer.json (a WordPiece/BERT tokenizer).
func FromJSON(name string, b []byte) (*Tokenizer, error) {
	var head struct {
		Model struct {
			Type string `json:"type"`
		} `json:"model"`
		Normalizer map[string]any `json:"normalizer"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%s: not a valid tokenizer.json: %v", name, err)
	}
	if head.Model.Type != "WordPiece" {
		return nil, fmt.Errorf("%s: tokenizer model is %q, expected \"WordPiece\" (a BERT/DistilBERT tokenizer)", name, head.Model.Type)
	}
	tk, err := fromReaderSafe(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	t := &Tokenizer{tk: tk}
	if head.Normalizer != nil && head.Normalizer["type"] == "BertNormalizer" {
		// sugarme reads strip_accents: null as false. Hugging Face reads it as
		// "same as lowercase" and strips accents by NFD + removing marks.
		lower, _ := head.Normalizer["lowercase"].(bool)
		strip := lower
		if v, ok := head.Normalizer["strip_accents"].(bool); ok {
			strip = v
		}
		clean, _ := head.Normalizer["clean_text"].(bool)
		chinese, _ := head.Normalizer["handle_chinese_chars"].(bool)
		tk.WithNormalizer(bertNormalizer{clean: clean, chinese: chinese, strip: strip, lower: lower})
	}
	return t, t.resolveSpecials()
}

// fromReaderSafe turns panics inside the upstream loader into errors.
func fromReaderSafe(b []byte) (tk *tokenizer.Tokenizer, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot build tokenizer: %v", r)
		}
	}()
	return pretrained.FromReader(bytes.NewReader(b))
}

// FromVocab builds the standard BERT uncased (or cased) tokenizer from vocab.txt.
func FromVocab(name string, vocab []byte, lowercase bool) (*Tokenizer, error) {
	v := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(vocab))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		tok := strings.TrimRight(sc.Text(), "\r")
		if _, dup := v[tok]; !dup {
			v[tok] = len(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	for _, s := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]"} {
		if _, ok := v[s]; !ok {
			return nil, fmt.Errorf("%s: vocabulary has no %s token; expected a BERT vocab.txt, one token per line", name, s)
		}
	}
	var added []map[string]any
	for _, s := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
		if id, ok := v[s]; ok {
			added = append(added, map[string]any{"id": id, "content": s, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
		}
	}
	cfg := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added,
		"normalizer":     map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": nil, "lowercase": lowercase},
		"pre_tokenizer":  map[string]any{"type": "BertPreTokenizer"},
		"post_processor": map[string]any{"type": "BertProcessing", "sep": []any{"[SEP]", v["[SEP]"]}, "cls": []any{"[CLS]", v["[CLS]"]}},
		"decoder":        map[string]any{"type": "WordPiece", "prefix": "##", "cleanup": true},
		"model":          map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": v},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return FromJSON(name, b)
}

func (t *Tokenizer) resolveSpecials() error {
	ids := map[string]*int{"[CLS]": &t.CLS, "[SEP]": &t.SEP, "[PAD]": &t.Pad}
	for s, p := range ids {
		id, ok := t.tk.TokenToId(s)
		if !ok {
			return fmt.Errorf("tokenizer has no %s token", s)
		}
		*p = id
	}
	t.VocabSize = t.tk.GetVocabSize(true)
	return nil
}

// Encode returns [CLS] tokens [SEP], truncating the tokens (never [SEP]) so
// the whole fits maxLen, as Hugging Face's truncation=True, max_length does.
func (t *Tokenizer) Encode(text string, maxLen int) (ids []int32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tokenizer failed on %q: %v", truncateForMsg(text), r)
		}
	}()
	enc, err := t.tk.EncodeSingle(text, false)
	if err != nil {
		return nil, err
	}
	body := enc.Ids
	if maxLen > 2 && len(body) > maxLen-2 {
		body = body[:maxLen-2]
	}
	ids = make([]int32, 0, len(body)+2)
	ids = append(ids, int32(t.CLS))
	for _, id := range body {
		ids = append(ids, int32(id))
	}
	return append(ids, int32(t.SEP)), nil
}

// Tokens returns the word pieces of text (for display); none where the
// upstream tokenizer fails on it.
func (t *Tokenizer) Tokens(text string) (tokens []string) {
	defer func() {
		if recover() != nil {
			tokens = nil
		}
	}()
	enc, err := t.tk.EncodeSingle(text, false)
	if err != nil {
		return nil
	}
	return enc.Tokens
}

func truncateForMsg(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
