package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// row is one line of the table. met is "yes", "no", or empty for a figure without a
// target.
type row struct {
	measure, off, on, ratio, target, met string
}

type table struct{ rows []row }

func (t *table) add(r row) { t.rows = append(t.rows, r) }

// check fills in met from whether a target was met.
func check(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// print writes the table as Markdown, columns aligned.
func (t *table) print(w io.Writer) {
	head := row{"measure", "plugin off", "plugin on", "ratio or delta", "target", "met?"}
	all := append([]row{head}, t.rows...)
	width := make([]int, 6)
	for _, r := range all {
		for i, c := range r.cells() {
			width[i] = max(width[i], len(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range cells {
			fmt.Fprintf(&b, " %-*s |", width[i], c)
		}
		fmt.Fprintln(w, b.String())
	}
	line(head.cells())
	sep := make([]string, 6)
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range t.rows {
		line(r.cells())
	}
}

func (r row) cells() []string {
	dash := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
	return []string{r.measure, dash(r.off), dash(r.on), dash(r.ratio), dash(r.target), dash(r.met)}
}

// Formatting of figures.

func fmtNs(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e4:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	case ns < 10:
		return fmt.Sprintf("%.1f ns", ns)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}

func fmtDeltaNs(ns float64) string {
	if ns >= 0 {
		return "+" + fmtNs(ns)
	}
	return "−" + fmtNs(-ns)
}

func fmtDur(d time.Duration) string { return fmtNs(float64(d.Nanoseconds())) }

func fmtRatio(r float64) string { return fmt.Sprintf("×%.3f", r) }

func fmtMiB(b float64) string { return fmt.Sprintf("%.2f MiB", b) }

func fmtCount(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	// Thousands separators.
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
