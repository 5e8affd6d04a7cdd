// Package metrics computes classification metrics: accuracy, F1 of the
// positive class (label 1) and the confusion matrix.
package metrics

// Metrics summarise predictions against labels.
type Metrics struct {
	N         int     `json:"n"`
	Accuracy  float64 `json:"accuracy"`
	F1        float64 `json:"f1"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	Loss      float64 `json:"loss"`
	// Confusion[true][pred] counts rows.
	Confusion [][]int `json:"confusion"`
}

// Compute returns metrics for predictions; F1 treats label 1 as positive, as
// sklearn's f1_score does by default for binary labels. loss is the mean
// cross-entropy, passed through.
func Compute(labels, preds []int, numLabels int, loss float64) Metrics {
	m := Metrics{N: len(labels), Loss: loss, Confusion: make([][]int, numLabels)}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, numLabels)
	}
	correct := 0
	for i, l := range labels {
		m.Confusion[l][preds[i]]++
		if l == preds[i] {
			correct++
		}
	}
	if m.N == 0 {
		return m
	}
	m.Accuracy = float64(correct) / float64(m.N)
	if numLabels >= 2 {
		tp := m.Confusion[1][1]
		fp, fn := 0, 0
		for c := 0; c < numLabels; c++ {
			if c != 1 {
				fp += m.Confusion[c][1]
				fn += m.Confusion[1][c]
			}
		}
		if tp+fp > 0 {
			m.Precision = float64(tp) / float64(tp+fp)
		}
		if tp+fn > 0 {
			m.Recall = float64(tp) / float64(tp+fn)
		}
		if 2*tp+fp+fn > 0 {
			m.F1 = 2 * float64(tp) / float64(2*tp+fp+fn)
		}
	}
	return m
}
