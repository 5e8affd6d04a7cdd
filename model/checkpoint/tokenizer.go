package checkpoint

import (
	"encoding/json"
	"fmt"

	"github.com/webtune/webtune/model/tokenize"
)

// LoadTokenizer reads tokenizer.json, or else vocab.txt (lowercasing as
// tokenizer_config.json's do_lower_case says, true by default).
func LoadTokenizer(src Source) (*tokenize.Tokenizer, error) {
	if src.Has("tokenizer.json") {
		b, err := ReadAll(src, "tokenizer.json")
		if err != nil {
			return nil, err
		}
		return tokenize.FromJSON("tokenizer.json", b)
	}
	if !src.Has("vocab.txt") {
		return nil, fmt.Errorf("the model has neither tokenizer.json nor vocab.txt")
	}
	lower := true
	if src.Has("tokenizer_config.json") {
		b, err := ReadAll(src, "tokenizer_config.json")
		if err != nil {
			return nil, err
		}
		var tc struct {
			DoLowerCase *bool `json:"do_lower_case"`
		}
		if err := json.Unmarshal(b, &tc); err != nil {
			return nil, fmt.Errorf("tokenizer_config.json: %v", err)
		}
		if tc.DoLowerCase != nil {
			lower = *tc.DoLowerCase
		}
	}
	b, err := ReadAll(src, "vocab.txt")
	if err != nil {
		return nil, err
	}
	return tokenize.FromVocab("vocab.txt", b, lower)
}

// CheckTokenizer tells whether every id the tokenizer produces has a row
// in the model's word embedding: a larger vocabulary would index past it.
func (m *Model) CheckTokenizer(tok *tokenize.Tokenizer) error {
	if tok.VocabSize > m.Config.VocabSize {
		return fmt.Errorf("the tokenizer has %d tokens but the model's word embedding has %d rows (vocab_size in config.json): they do not belong together", tok.VocabSize, m.Config.VocabSize)
	}
	return nil
}
