package tokenize

import (
	"strings"
	"unicode"

	"github.com/sugarme/tokenizer/normalizer"
	"golang.org/x/text/unicode/norm"
)

// bertNormalizer is Hugging Face tokenizers' BertNormalizer, computed as a
// plain string function. sugarme's own version treats only ASCII as
// whitespace (so a non-breaking space glues words together), keeps
// accents when strip_accents is null, and panics on some combining marks
// while tracking offsets; we need ids, not offsets, so we normalise the
// text here and hand sugarme a fresh string.
type bertNormalizer struct {
	clean, chinese, strip, lower bool
}

func (b bertNormalizer) Normalize(n *normalizer.NormalizedString) (*normalizer.NormalizedString, error) {
	return normalizer.NewNormalizedFrom(b.apply(n.GetNormalized())), nil
}

// apply runs the steps in Hugging Face's order: clean, CJK padding, accent
// stripping (NFD, drop non-spacing marks), lowercase.
func (b bertNormalizer) apply(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch {
		case b.clean && (r == 0 || r == 0xfffd || isControl(r)):
			continue
		case b.clean && isWhitespace(r):
			sb.WriteByte(' ')
		case b.chinese && isCJK(r):
			sb.WriteByte(' ')
			sb.WriteRune(r)
			sb.WriteByte(' ')
		default:
			sb.WriteRune(r)
		}
	}
	s = sb.String()
	if b.strip {
		s = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, norm.NFD.String(s))
	}
	if b.lower {
		s = strings.ToLower(s)
	}
	return s
}

// isWhitespace is Rust's char::is_whitespace (Unicode White_Space), as the
// Hugging Face normalizer uses.
func isWhitespace(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || unicode.Is(unicode.White_Space, r)
}

// isControl is Hugging Face's is_control: "other" categories except \t\n\r.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// isCJK matches the CJK Unified Ideograph blocks BERT pads with spaces.
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
