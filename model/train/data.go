package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/webtune/webtune/model/dataset"
	"github.com/webtune/webtune/model/tokenize"
)

// Encoded is a dataset tokenized once: ids per row ([CLS] ... [SEP]) and labels.
type Encoded struct {
	IDs    [][]int32
	Labels []int
	Tokens int // real tokens over all rows
}

// Encode tokenizes every example to at most maxLen ids.
func Encode(tok *tokenize.Tokenizer, ex []dataset.Example, maxLen int) (*Encoded, error) {
	e := &Encoded{IDs: make([][]int32, len(ex)), Labels: make([]int, len(ex))}
	for i, x := range ex {
		ids, err := tok.Encode(x.Text, maxLen)
		if err != nil {
			return nil, fmt.Errorf("row %d: %v", i+1, err)
		}
		e.IDs[i], e.Labels[i] = ids, x.Label
		e.Tokens += len(ids)
	}
	return e, nil
}

// Len is the number of rows.
func (e *Encoded) Len() int { return len(e.Labels) }

// Subset returns the rows at the given indices.
func (e *Encoded) Subset(idx []int) *Encoded {
	s := &Encoded{IDs: make([][]int32, len(idx)), Labels: make([]int, len(idx))}
	for i, j := range idx {
		s.IDs[i], s.Labels[i] = e.IDs[j], e.Labels[j]
		s.Tokens += len(e.IDs[j])
	}
	return s
}

// Split holds out a seeded fraction of rows for evaluation.
func (e *Encoded) Split(evalFraction float64, seed uint64) (train, eval *Encoded) {
	perm := rand.New(rand.NewPCG(seed, 0x5eed)).Perm(e.Len())
	nEval := int(float64(e.Len())*evalFraction + 0.5)
	return e.Subset(perm[nEval:]), e.Subset(perm[:nEval])
}

// padMultiple rounds each batch's length up to 16, 32, 48, 64, ... so that
// few distinct shapes (each compiled once) occur; the mask makes padding
// invisible. SST-2's rows average 13 tokens: most batches run at 32 or 48
// instead of the maximum 64.
const padMultiple = 16

// batch builds padded ids, mask and labels tensors for the given rows.
func (e *Encoded) batch(rows []int, maxLen int) (ids, mask, labels *tensors.Tensor, realTokens int) {
	seq := 0
	for _, r := range rows {
		seq = max(seq, len(e.IDs[r]))
	}
	seq = min((seq+padMultiple-1)/padMultiple*padMultiple, max(maxLen, seq))
	idData := make([]int32, len(rows)*seq)
	maskData := make([]int32, len(rows)*seq)
	labData := make([]int32, len(rows))
	for i, r := range rows {
		copy(idData[i*seq:], e.IDs[r])
		for j := range e.IDs[r] {
			maskData[i*seq+j] = 1
		}
		labData[i] = int32(e.Labels[r])
		realTokens += len(e.IDs[r])
	}
	return tensors.FromFlatDataAndDimensions(idData, len(rows), seq),
		tensors.FromFlatDataAndDimensions(maskData, len(rows), seq),
		tensors.FromFlatDataAndDimensions(labData, len(rows)), realTokens
}

// epochOrder is the seeded shuffle of an epoch: the same seed and epoch give
// the same order, which is what makes resumed runs identical.
func epochOrder(n int, seed uint64, epoch int) []int {
	return rand.New(rand.NewPCG(seed, uint64(epoch))).Perm(n)
}
