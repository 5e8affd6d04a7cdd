package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/webtune/webtune/model/train"
)

// bar draws a one-line progress bar on a terminal, or prints a line every
// few seconds when output is redirected.
type bar struct {
	w        io.Writer
	tty      bool
	last     time.Time
	lastLine string
}

func newBar(w *os.File) *bar {
	st, err := w.Stat()
	return &bar{w: w, tty: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

func (b *bar) update(p train.Progress) {
	const width = 30
	filled := width * p.Step / max(1, p.TotalSteps)
	s := fmt.Sprintf("[%s%s] %d/%d  epoch %.2f  loss %.4f  lr %.2e  %.0f tok/s  ETA %s",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.Step, p.TotalSteps, p.Epoch, p.Loss, p.LR,
		p.TokensPerSec, (time.Duration(p.ETASeconds) * time.Second).String())
	b.lastLine = s
	if b.tty {
		fmt.Fprintf(b.w, "\r%s\033[K", s)
		return
	}
	if time.Since(b.last) > 5*time.Second || p.Step == p.TotalSteps {
		fmt.Fprintln(b.w, s)
		b.last = time.Now()
	}
}

func (b *bar) line(s string) {
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s\n%s", s, b.lastLine)
		return
	}
	fmt.Fprintln(b.w, s)
}

func (b *bar) done() {
	if b.tty {
		fmt.Fprintln(b.w)
	}
}
