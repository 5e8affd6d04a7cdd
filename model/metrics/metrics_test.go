package metrics

import (
	"math"
	"testing"
)

// Values checked by hand (and equal to sklearn's accuracy_score, f1_score,
// precision_score, recall_score and confusion_matrix on the same lists).
func TestCompute(t *testing.T) {
	labels := []int{0, 0, 0, 1, 1, 1, 1, 0}
	preds := []int{0, 1, 0, 1, 0, 1, 1, 1}
	m := Compute(labels, preds, 2, 0.5)
	// tp=3 fp=2 fn=1 tn=2
	if m.Accuracy != 5.0/8 || m.Precision != 3.0/5 || m.Recall != 3.0/4 || math.Abs(m.F1-2*3.0/(6+2+1)) > 1e-15 {
		t.Fatalf("%+v", m)
	}
	if m.Confusion[0][0] != 2 || m.Confusion[0][1] != 2 || m.Confusion[1][0] != 1 || m.Confusion[1][1] != 3 || m.Loss != 0.5 {
		t.Fatalf("confusion %v", m.Confusion)
	}
	// No positive predictions and no positives: F1 is 0, not NaN.
	z := Compute([]int{0, 0}, []int{0, 0}, 2, 0)
	if z.F1 != 0 || z.Accuracy != 1 {
		t.Fatalf("%+v", z)
	}
	// Three classes: label 1 is positive, the others negative.
	three := Compute([]int{0, 1, 2, 1}, []int{2, 1, 1, 0}, 3, 0)
	if three.Accuracy != 0.25 || three.Precision != 0.5 || three.Recall != 0.5 {
		t.Fatalf("%+v", three)
	}
}
