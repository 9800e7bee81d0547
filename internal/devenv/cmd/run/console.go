package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// console prints whole lines to the terminal. CoreDNS's output arrives on its own
// goroutine, so every write takes the lock: lines interleave, characters never do.
type console struct {
	mu    sync.Mutex
	out   io.Writer
	step  int
	steps int
}

func newConsole(out io.Writer, steps int) *console { return &console{out: out, steps: steps} }

// Step starts the next numbered step with a title and a short explanation.
func (c *console) Step(title string, explain ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.step++
	fmt.Fprintf(c.out, "\n==> Step %d/%d: %s\n", c.step, c.steps, title)
	for _, l := range explain {
		fmt.Fprintf(c.out, "    %s\n", l)
	}
	fmt.Fprintln(c.out)
}

// Say prints a line of the demo's own commentary.
func (c *console) Say(format string, args ...any) {
	c.Lines("    ", fmt.Sprintf(format, args...))
}

// Lines prints text, each line behind prefix.
func (c *console) Lines(prefix, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for l := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintf(c.out, "%s%s\n", prefix, l)
	}
}

// Blank prints an empty line.
func (c *console) Blank() {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintln(c.out)
}
