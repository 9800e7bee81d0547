package devenv

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// reloadAck is the line CoreDNS prints as soon as it receives SIGUSR1.
const reloadAck = "[INFO] SIGUSR1: Reloading"

// reloadResend is how long Reload waits for reloadAck before it signals again, while
// CoreDNS has not yet acknowledged any SIGUSR1.
const reloadResend = time.Second

// Reload replaces the Corefile and has CoreDNS reload it now with SIGUSR1, as an
// operator would. It returns once CoreDNS has acknowledged the signal, not once the
// reload is done.
//
// CoreDNS starts listening for SIGUSR1 from a goroutine of its own, which a busy machine
// may run only after the start-up banner; until then the Go runtime drops the signal. So
// until CoreDNS has acknowledged a first SIGUSR1, Reload sends it again every
// reloadResend. After that none is lost, and Reload sends one. It counts the
// acknowledgements in Lines, so it needs CoreDNSOptions.KeepLines 0.
func (c *CoreDNS) Reload(ctx context.Context, corefile string) error {
	acked := func() int {
		n := 0
		for _, l := range c.Lines() {
			if strings.HasPrefix(l, reloadAck) {
				n++
			}
		}
		return n
	}
	before := acked()
	if err := c.WriteCorefile(corefile); err != nil {
		return err
	}
	for {
		if err := c.Signal(syscall.SIGUSR1); err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		wait, cancel := ctx, context.CancelFunc(func() {})
		if before == 0 {
			wait, cancel = context.WithTimeout(ctx, reloadResend)
		}
		err := c.WaitOutput(wait, "the reload's "+reloadAck, func([]string) bool { return acked() > before })
		cancel()
		if err == nil || ctx.Err() != nil || wait.Err() == nil {
			return err // acknowledged, out of time, or CoreDNS exited
		}
	}
}
